"""What a person reads when an input file is wrong: one plain line naming the file.

Each test covers a message an audit found unclear or missing: a folder given as
the model, and malformed architectures in a model file.  The command-line
tests run ``python main.py`` in a subprocess through ``test_faults_cli``'s
``cli`` fixture and check its ``error_line`` rule: exit status 2, exactly one
line on stderr, no traceback.
"""
import json

import numpy as np
import pytest

from cnn_core import paths
from cnn_core.errors import ModelFileError
from cnn_core.model_files import METADATA_KEY, load_model
from cnn_core.network import default_architecture
from tests.core.test_faults_cli import REPO, cli, data_dir, error_line  # noqa: F401 (fixtures)


# --- 1. a folder given as the model --------------------------------------------------

def test_a_folder_given_as_the_model_is_called_a_folder(cli, tmp_path):
    folder = tmp_path / "some_folder.npz"
    folder.mkdir()
    line = error_line(cli("evaluate", "--model", folder))
    assert line == f"error: {folder}: is a folder, not a model file"
    # "." has no name of its own: the message shows where it is.
    assert error_line(cli("evaluate", "--model", ".")) == \
        f"error: {REPO}: is a folder, not a model file"
    with pytest.raises(ModelFileError, match="nope.npz: no such model file"):
        load_model(tmp_path / "nope.npz")


# --- 5. malformed architectures in a model file ---------------------------------------

def _layers(edit):
    layers = default_architecture()
    edit(layers)
    return layers


def _set(index, **fields):
    return lambda layers: layers[index].update(fields)


def _drop(index, key):
    return lambda layers: layers[index].pop(key)


def _replace(index, value):
    return lambda layers: layers.__setitem__(index, value)


MISSING = object()
WHERE = "layer 0 (conv1) of the architecture"
ARCHITECTURES = {  # name: (architecture, the message after "model.npz: ")
    "missing": (MISSING, "the metadata has no architecture (the list of layers)"),
    "null": (None, "the metadata has no architecture (the list of layers)"),
    "empty": ([], "the architecture lists no layers"),
    "a string": ("conv", 'the architecture is not a list of layers but the text "conv"'),
    "a table": ({"type": "conv"}, "the architecture is not a list of layers but a table of settings"),
    "a number": (3, "the architecture is not a list of layers but the number 3"),
    "entry a string": (_layers(_replace(0, "conv")),
                       'layer 0 of the architecture is not a table of settings but the text "conv"'),
    "entry a list": (_layers(_replace(0, [["type", "conv"]])),
                     "layer 0 of the architecture is not a table of settings but a list"),
    "entry null": (_layers(_replace(1, None)),
                   "layer 1 of the architecture is not a table of settings but null"),
    "unknown type": (_layers(_set(0, type="conv3d")),
                     'layer 0 of the architecture has type "conv3d", '
                     "not one of conv, dense, flatten, maxpool, relu"),
    "type a list": (_layers(_set(0, type=["conv"])),
                    'layer 0 of the architecture has type ["conv"], '
                    "not one of conv, dense, flatten, maxpool, relu"),
    "no type": (_layers(_drop(0, "type")),
                "layer 0 of the architecture has no type (one of conv, dense, flatten, maxpool, relu)"),
    "no name": (_layers(_drop(0, "name")),
                'layer 0 of the architecture (conv) has no name; it needs a name such as "conv1"'),
    "name a number": (_layers(_set(0, name=5)),
                      'layer 0 of the architecture (conv) has the name 5; '
                      'it needs a name such as "conv1"'),
    "two layers one name": (_layers(_set(3, name="relu1")),
                            "layer 3 (relu1) of the architecture has the same name as layer 1"),
    "missing size": (_layers(_drop(0, "in_channels")), f"{WHERE} is missing in_channels"),
    "missing sizes": (_layers(lambda layers: [layers[-1].pop(k) for k in ("in_features", "out_features")]),
                      "layer 13 (fc2) of the architecture is missing in_features and out_features"),
    "unknown setting": (_layers(_set(0, kernel=5)),
                        f"{WHERE} has unknown setting kernel "
                        f"(a conv layer takes in_channels and out_channels)"),
    "setting on a relu": (_layers(_set(1, size=3)),
                          "layer 1 (relu1) of the architecture has unknown setting size "
                          "(a relu layer takes only a type and a name)"),
    "size as text": (_layers(_set(0, out_channels="8")),
                     f'{WHERE}: out_channels must be a whole number of at least 1, not the text "8"'),
    "size a fraction": (_layers(_set(0, out_channels=8.5)),
                        f"{WHERE}: out_channels must be a whole number of at least 1, "
                        f"not the number 8.5"),
    "size true": (_layers(_set(0, in_channels=True)),
                  f"{WHERE}: in_channels must be a whole number of at least 1, "
                  f"not the truth value true"),
    "size negative": (_layers(_set(0, out_channels=-8)),
                      f"{WHERE}: out_channels must be a whole number of at least 1, "
                      f"not the number -8"),
    "size null": (_layers(_set(-1, in_features=None)),
                  "layer 13 (fc2) of the architecture: in_features must be a whole number "
                  "of at least 1, not null"),
}
#: Words of Python's own exceptions, which the person reading the message has no use for.
JARGON = ["dictionary update", "__init__", "object", "NoneType", "positional argument",
          "keyword argument", "unhashable", "iterable", "interpreted as an integer"]


def _model_with(path, architecture):
    with np.load(paths.SHIPPED_MODEL) as raw:
        arrays = {key: raw[key] for key in raw.files}
    meta = json.loads(str(arrays[METADATA_KEY]))
    if architecture is MISSING:
        del meta["architecture"]
    else:
        meta["architecture"] = architecture
    arrays[METADATA_KEY] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


@pytest.mark.parametrize("kind", ARCHITECTURES)
def test_a_malformed_architecture_is_described_plainly(kind, tmp_path):
    architecture, says = ARCHITECTURES[kind]
    path = _model_with(tmp_path / "model.npz", architecture)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message == f"model.npz: {says}"
    assert not any(word in message for word in JARGON), message


@pytest.mark.parametrize("kind", ["a string", "entry a string", "no name", "size as text"])
def test_a_malformed_architecture_on_the_command_line(kind, cli, tmp_path):
    architecture, says = ARCHITECTURES[kind]
    path = _model_with(tmp_path / "model.npz", architecture)
    assert error_line(cli("evaluate", "--model", path)) == f"error: model.npz: {says}"


def test_the_shipped_architecture_still_loads(tmp_path):
    network, _ = load_model(_model_with(tmp_path / "model.npz", default_architecture()))
    assert network.architecture == default_architecture()
