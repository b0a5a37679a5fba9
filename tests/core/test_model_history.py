"""Nothing lost in the engine: a model file's history read back, a session resumed from it
going on at the next epoch, and a file that may not be read said so."""
import dataclasses

import numpy as np
import pytest

from cnn_core.errors import ModelFileError
from cnn_core.model_files import load_model, save_model, training_history
from cnn_core.network import Network
from cnn_core.trainer import EpochRecord

from .test_session import config, make_session, tiny_data  # noqa: F401 (a fixture)


def trained_session(tiny_data, epochs):
    session = make_session(tiny_data)
    session.run(config(epochs=epochs))
    return session


def test_a_saved_model_carries_its_history_and_settings(tiny_data, tmp_path):
    session = trained_session(tiny_data, 2)
    save_model(tmp_path / "m.npz", session.network, session.metadata())
    _, meta = load_model(tmp_path / "m.npz")
    history, settings = training_history(meta)
    assert history == session.epoch_history and [r.epoch for r in history] == [1, 2]
    assert settings == session.config


@pytest.mark.parametrize("history", [
    [{"epoch": 1}],                                             # fields missing
    [{**dataclasses.asdict(EpochRecord(2, 1, .5, 1, .5, 1, .1))}],   # starts at epoch 2
    [{**dataclasses.asdict(EpochRecord(1, 1, .5, 1, .5, 1, .1)), "lr": "fast"}],
    "not a list of epochs",
])
def test_a_history_that_makes_no_sense_is_left_out(history):
    assert training_history({"history": history, "training": {"epochs": -1}}) == ([], None)


def test_a_resumed_session_trains_on_at_the_next_epoch_with_its_past(tiny_data):
    first = trained_session(tiny_data, 2)
    kept = {epoch: first.snapshots[epoch] for epoch in first.snapshots}
    weights = Network(first.network.architecture)
    weights.load_state_dict(first.network.state_dict())

    again = make_session(tiny_data, seed=5)
    again.resume(weights, "kept", first.epoch_history, kept, first.config)
    assert again.epoch == 2 and again.epoch_history == first.epoch_history
    assert again.first_epoch == 0 and again.config == first.config
    again.run(config(epochs=3))
    assert [r.epoch for r in again.epoch_history] == [1, 2, 3]
    assert again.epoch_history[:2] == first.epoch_history
    for epoch in (0, 1, 2):     # the kept snapshots came through the new trainer's start
        for name, value in kept[epoch].items():
            np.testing.assert_array_equal(again.snapshots[epoch][name], value)
    assert 3 in again.snapshots


def test_a_saved_models_session_keeps_only_its_own_epoch(tiny_data):
    first = trained_session(tiny_data, 3)
    session = make_session(tiny_data)
    session.resume(first.network, "file", first.epoch_history,
                   {3: first.network.state_dict()}, None)
    assert session.epoch == 3 and session.first_epoch == 3


def test_a_file_that_may_not_be_read_says_so(tmp_path, monkeypatch):
    path = tmp_path / "locked.npz"
    save_model(path, Network(seed=0))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(np, "load", refuse)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value) == "locked.npz: cannot be read (permission denied)"
