"""Explaining never changes the model being trained, even from another thread."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cnn_core.data import load_sample
from cnn_core.explain import Explainer, explain
from cnn_core.network import Network
from cnn_core.trainer import TrainConfig, Trainer


def train(explain_meanwhile):
    """Train a fresh network on a small subset; optionally explain in a loop alongside.

    Returns the final weights and how many explanation rounds ran during training.
    """
    train_split, val_split = load_sample()
    images, labels = train_split.as_float()[:384], train_split.labels[:384]
    config = TrainConfig(epochs=2, batch_size=32, train_size=384, augment=True, seed=7)
    network = Network(seed=config.seed)
    trainer = Trainer(network, images, labels, val_split.as_float()[:100], val_split.labels[:100],
                      config)
    digit = val_split.as_float()[0, 0]
    done, rounds = threading.Event(), []

    def explain_in_a_loop():
        while not done.is_set():
            # As the GUI does: a fresh frozen copy of whatever the weights are now.
            explainer = Explainer(network)
            explainer.analyse(digit)
            explainer.explain(digit, "saliency")
            explainer.explain(digit, "integrated-gradients", steps=8)
            explain(network, digit, "occlusion", patch=7, stride=7)
            rounds.append(1)

    worker = threading.Thread(target=explain_in_a_loop) if explain_meanwhile else None
    if worker:
        worker.start()
    try:
        result = trainer.run()
    finally:
        done.set()
        if worker:
            worker.join()
    assert result.status == "finished"
    return network.state_dict(), len(rounds)


def test_training_result_is_bit_identical_with_explanations_running_alongside():
    alone, _ = train(explain_meanwhile=False)
    beside, rounds = train(explain_meanwhile=True)
    assert rounds >= 3, "the explaining thread hardly ran during training"
    assert alone.keys() == beside.keys()
    for name in alone:
        np.testing.assert_array_equal(alone[name], beside[name], err_msg=name)


def test_one_explainer_serves_several_threads_at_once():
    """No lock and no shared caches: each call gets what it would get alone."""
    _, val_split = load_sample()
    digits = val_split.as_float()[:4, 0]
    explainer = Explainer(Network(seed=3))
    calls = [(digit, method) for digit in digits
             for method in ("gradcam", "hirescam", "saliency", "smoothgrad")]

    def run(call):
        digit, method = call
        options = {"samples": 6} if method == "smoothgrad" else {}
        return explainer.explain(digit, method, **options).raw, explainer.analyse(digit).cams

    alone = [run(call) for call in calls]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, calls * 2))
    for index, (raw, cams) in enumerate(together):
        expected_raw, expected_cams = alone[index % len(calls)]
        np.testing.assert_array_equal(raw, expected_raw)
        for layer, (cam, heatmap) in expected_cams.items():
            np.testing.assert_array_equal(cams[layer][0], cam, err_msg=layer)
            np.testing.assert_array_equal(cams[layer][1], heatmap, err_msg=layer)


def test_new_weights_reach_later_calls_only():
    image = load_sample()[1].as_float()[0, 0]
    before, after = Network(seed=3), Network(seed=4)
    explainer = Explainer(before)
    explainer.set_weights(after.state_dict())
    np.testing.assert_array_equal(explainer.explain(image, "saliency").raw,
                                  explain(after, image, "saliency").raw)
    assert not np.array_equal(explainer.explain(image, "saliency").raw,
                              explain(before, image, "saliency").raw)
