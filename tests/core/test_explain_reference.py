"""Every explanation method against its published formula, computed independently.

The hand-built cases in ``test_explain_methods.py`` are ones where all four
CAMs agree, so a wrong alpha, an absolute gradient or LayerCAM made equal to
Grad-CAM passed them all.  Here the network has random weights (float64), so
the gradients at the CAM layer have both signs and the methods' maps differ
(asserted, so the cases keep their power), and each method is recomputed in
NumPy from its paper:

* the feature maps ``A`` from a forward pass written out below from the
  state dict (checked against ``Network.forward``), and their gradients
  ``g = dS/dA`` by finite differences through the rest of that forward;
* pixel gradients by finite differences of ``Network.forward``;
* where PyTorch is installed, the same weights in ``torch`` and autograd.

The network is piecewise linear, so finite differences with a small step are
exact up to rounding unless a step crosses a kink.  The inputs are random (no
flat background), so no max-pool window holds equal positive values; a
window of rectified zeros stays zero under a step of the pixels, but not
under a step of the zeros themselves, so differences are taken only at CAM
layers that feed a conv or a dense layer (a CAM at a layer that feeds a pool
is checked against torch, whose max-pool breaks ties as ours does).
Conventions matched (cam.py, attribution.py, passes.py): the score ``S`` is
the target's logit, or ``logit[target] - logit[contrast]``; a conv layer
followed by a ReLU is explained on the ReLU's output; a CAM's ``raw`` map is
at the layer's resolution, its ``heatmap`` upsampled bilinearly with
half-pixel centres and divided by its maximum; a pixel method's heatmap is
the normalised positive part of what it shows as evidence.
"""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cnn_core.data import load_sample
from cnn_core.explain import (Explainer, explain, integrated_gradients, occlusion, saliency,
                              smooth_grad)
from cnn_core.network import Network, default_architecture

CAMS = ("gradcam", "gradcam++", "hirescam", "layercam")
SIDE = 28
#: Finite-difference step: small enough that no ReLU or max-pool kink is
#: crossed for these inputs, large enough that rounding stays near 1e-9.
STEP = 1e-6


def conv(name, c_in, c_out):
    return {"type": "conv", "name": name, "in_channels": c_in, "out_channels": c_out}


#: A small network whose CAM layers conv1 and conv3 feed a conv and a dense layer,
#: where finite differences are exact (conv2 feeds a max-pool: see above).
SMALL = [conv("conv1", 1, 3), {"type": "relu", "name": "relu1"},
         conv("conv2", 3, 4), {"type": "relu", "name": "relu2"},
         {"type": "maxpool", "name": "pool1"},
         conv("conv3", 4, 4), {"type": "relu", "name": "relu3"},
         {"type": "flatten", "name": "flatten"},
         {"type": "dense", "name": "fc", "in_features": 4 * 14 * 14, "out_features": 10}]

#: (target, contrast): the predicted class, a chosen class, a class against another.
CHOICES = [(None, None), (2, None), (2, 5)]


# --- an independent forward pass and differences ---------------------------------------

def forward_from(architecture, state, x, start=0):
    """Run layers ``start..`` of ``architecture`` on ``x``, recording each output.

    Parameters
    ----------
    x : ndarray, (M, C, H, W) or (M, F)
        The input of layer ``start``.

    Returns
    -------
    logits : ndarray, (M, 10)
    outputs : dict of name -> ndarray, (M, C, H, W) or (M, F)
    """
    outputs = {}
    for spec in architecture[start:]:
        kind, name = spec["type"], spec["name"]
        if kind == "conv":
            w, b = state[name + ".weight"], state[name + ".bias"]
            padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
            windows = sliding_window_view(padded, (3, 3), axis=(2, 3))   # (M, C, H, W, 3, 3)
            x = np.einsum("mchwij,fcij->mfhw", windows, w, optimize=True) + b[:, None, None]
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind == "maxpool":
            m, c, h, w_ = x.shape
            x = x.reshape(m, c, h // 2, 2, w_ // 2, 2).max(axis=(3, 5))
        elif kind == "flatten":
            x = x.reshape(len(x), -1)
        else:
            x = x @ state[name + ".weight"].T + state[name + ".bias"]
        outputs[name] = x
    return x, outputs


def score_vector(target, contrast):
    """Weights of the explained score on the logits, ``(10,)``."""
    seed = np.zeros(10)
    seed[target] = 1
    if contrast is not None:
        seed[contrast] = -1
    return seed


def differences(score, x, chunk=512):
    """Gradient of ``score`` (batch ``(M, *x.shape)`` -> ``(M,)``) at ``x``, by forward
    differences: exact up to rounding where ``score`` is linear within ``STEP``."""
    flat = x.ravel()
    here = score(x[None])[0]
    grads = np.empty(flat.size)
    for begin in range(0, flat.size, chunk):
        index = np.arange(begin, min(begin + chunk, flat.size))
        moved = np.repeat(flat[None], len(index), axis=0)
        moved[np.arange(len(index)), index] += STEP
        grads[index] = (score(moved.reshape(-1, *x.shape)) - here) / STEP
    return grads.reshape(x.shape)


def pixel_gradient(network, image, seed):
    """``dS/dx (28, 28)`` of one image ``(28, 28)`` by differences of ``Network.forward``."""
    return differences(lambda x: network.forward(x[:, None]).logits @ seed, image)


def feature_maps_and_gradient(network, architecture, image, layer, seed):
    """``A`` and ``dS/dA``, ``(C, h, w)`` each, at the rectified output of conv ``layer``."""
    names = [spec["name"] for spec in architecture]
    at = names.index(layer) + 1            # the ReLU after the conv
    state = network.state_dict()
    _, outputs = forward_from(architecture, state, image[None, None])
    maps = outputs[names[at]][0]
    gradient = differences(
        lambda a: forward_from(architecture, state, a, at + 1)[0] @ seed, maps)
    return maps, gradient


def resolve(network, image, target, contrast):
    """The explained score's weights for ``image``: the predicted class by default."""
    if target is None:
        target = int(network.forward(image[None, None]).logits.argmax())
    return score_vector(target, contrast)


# --- the published formulas -------------------------------------------------------------

def grad_cam(a, g):
    """Selvaraju et al. 2017: channel weights are the spatial mean of ``g``.
    ``a``, ``g`` : (C, h, w); returns (h, w)."""
    return np.maximum(np.einsum("c,chw->hw", g.mean(axis=(1, 2)), a), 0)


def grad_cam_plus_plus(a, g):
    """Chattopadhay et al. 2018, eq. 19 with ``Y = exp(S)``: then the second and third
    derivatives of ``Y`` are ``exp(S) g**2`` and ``exp(S) g**3``, and

        alpha = g**2 / (2 g**2 + sum_ab(A) g**3) = 1 / (2 + sum_ab(A) g)   (g != 0)
        w_c   = sum_ij alpha relu(dY/dA) = exp(S) * sum_{g > 0} g / (2 + sum_ab(A) g).

    The common factor ``exp(S)`` is dropped (as pytorch-grad-cam does).  Only
    ``g > 0`` enters, where ``A >= 0`` keeps the denominator above 2.
    """
    total = a.sum(axis=(1, 2), keepdims=True)
    positive = np.maximum(g, 0)
    weights = (positive / (2 + total * positive)).sum(axis=(1, 2))
    return np.maximum(np.einsum("c,chw->hw", weights, a), 0)


def hires_cam(a, g):
    """Draelos & Carin 2020: the signed gradient times the maps, summed over channels."""
    return np.maximum((g * a).sum(axis=0), 0)


def layer_cam(a, g):
    """Jiang et al. 2021: the positive part of the gradient times the maps."""
    return np.maximum((np.maximum(g, 0) * a).sum(axis=0), 0)


FORMULAS = {"gradcam": grad_cam, "gradcam++": grad_cam_plus_plus, "hirescam": hires_cam,
            "layercam": layer_cam}


def bilinear(m, side=SIDE):
    """Resize ``m (h, w)`` to ``(side, side)``, half-pixel centres, edges clamped."""
    def weights(n):
        matrix = np.zeros((side, n))
        for i in range(side):
            source = min(max((i + 0.5) * n / side - 0.5, 0), n - 1)
            low = int(np.floor(source))
            high = min(low + 1, n - 1)
            matrix[i, low] += 1 - (source - low)
            matrix[i, high] += source - low
        return matrix
    h, w = m.shape
    return weights(h) @ m @ weights(w).T


def scaled(m):
    """``max(m, 0)`` divided by its maximum (all-zero stays zero)."""
    m = np.maximum(m, 0)
    return m / m.max() if m.max() > 0 else m


def symmetric(m):
    """``m`` divided by its largest magnitude: signed, in [-1, 1] (all-zero stays zero)."""
    peak = np.abs(m).max()
    return m / peak if peak > 0 else m


def occlusion_reference(network, image, seed, patch, stride, fill):
    """Zeiler & Fergus 2014: the score drop when a patch is painted ``fill``, per pixel
    averaged over the patches covering it; patch corners every ``stride`` and at the
    far edge."""
    starts = sorted(set(range(0, SIDE - patch + 1, stride)) | {SIDE - patch})
    corners = [(y, x) for y in starts for x in starts]
    copies = np.repeat(image[None], len(corners), axis=0)
    for k, (y, x) in enumerate(corners):
        copies[k, y:y + patch, x:x + patch] = fill
    drops = network.forward(image[None, None]).logits @ seed - network.forward(copies[:, None]).logits @ seed
    total, count = np.zeros((SIDE, SIDE)), np.zeros((SIDE, SIDE))
    for (y, x), drop in zip(corners, drops):
        total[y:y + patch, x:x + patch] += drop
        count[y:y + patch, x:x + patch] += 1
    return total / count


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    """The small network with random weights, float64, and two random images ``(2, 28, 28)``."""
    network = Network(SMALL, seed=11).copy(np.float64)
    images = np.random.default_rng(5).random((2, SIDE, SIDE))
    return network, images


@pytest.fixture(scope="module")
def cam_inputs(small):
    """``get(layer, image index, target, contrast) -> (A, dS/dA)``, each computed once:
    the differences at conv1 take a second or two."""
    network, images = small
    memo = {}

    def get(layer, index, target, contrast):
        seed = resolve(network, images[index], target, contrast)
        key = (layer, index, tuple(seed))
        if key not in memo:
            memo[key] = feature_maps_and_gradient(network, SMALL, images[index], layer, seed)
        return memo[key]
    return get


def assert_close(actual, expected, what, rtol=1e-5):
    """Equal up to ``rtol`` of the expected map's largest magnitude (maps are float32)."""
    expected = np.asarray(expected, np.float64)
    scale = max(np.abs(expected).max(), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale, err_msg=what)


# --- the cases are ones where the methods differ ------------------------------------------

def test_the_independent_forward_is_the_networks_forward(small):
    network, images = small
    logits, _ = forward_from(SMALL, network.state_dict(), images[:, None])
    np.testing.assert_allclose(logits, network.forward(images[:, None]).logits, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer", ["conv1", "conv3"])
def test_the_cam_gradients_have_both_signs_and_the_four_maps_differ(layer, cam_inputs):
    for index in range(2):
        a, g = cam_inputs(layer, index, None, None)
        assert 0.2 < (g > 0).mean() < 0.8, "the gradients must have both signs"
        maps = {m: scaled(bilinear(FORMULAS[m](a, g))) for m in CAMS}
        for i, first in enumerate(CAMS):
            assert maps[first].mean() > 0.05, f"{first} is (nearly) empty"
            for second in CAMS[i + 1:]:
                assert np.abs(maps[first] - maps[second]).max() > 0.1, (first, second)


# --- class activation maps ------------------------------------------------------------------

@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("layer", ["conv1", "conv3"])
@pytest.mark.parametrize("method", CAMS)
def test_cam_is_its_published_formula(method, layer, choice, small, cam_inputs):
    network, images = small
    target, contrast = choice
    for index, image in enumerate(images):
        a, g = cam_inputs(layer, index, target, contrast)
        expected = FORMULAS[method](a, g)
        got = explain(network, image, method, layer, target, contrast)
        assert got.raw.shape == a.shape[1:]
        assert_close(got.raw, expected, f"{method} raw at {layer}")
        assert_close(got.heatmap, scaled(bilinear(expected)), f"{method} heatmap at {layer}")
        # The Draw & Explain view's path: every conv layer's map from one pass.
        raw, heatmap = Explainer(network).analyse(image, target, contrast, method).cams[layer]
        assert_close(raw, expected, f"{method} raw at {layer} from analyse")
        assert_close(heatmap, scaled(bilinear(expected)), f"{method} heatmap from analyse")


# --- pixel attributions --------------------------------------------------------------------

@pytest.mark.parametrize("choice", CHOICES)
def test_saliency_is_the_signed_pixel_gradient(choice, small):
    network, images = small
    target, contrast = choice
    result = saliency(network, images[:, None], target, contrast)
    for raw, heat, signed, image in zip(result.raw, result.heatmap, result.signed, images):
        gradient = pixel_gradient(network, image, resolve(network, image, target, contrast))
        assert (gradient > 0).any() and (gradient < 0).any()
        assert_close(raw, gradient, "saliency raw")
        assert_close(heat, scaled(np.abs(gradient)), "saliency heatmap")
        assert_close(signed, symmetric(gradient), "saliency signed")


@pytest.mark.parametrize("choice", CHOICES[1:])
def test_smoothgrad_is_the_mean_gradient_over_the_same_noisy_copies(choice, small):
    network, images = small
    target, contrast = choice
    samples, noise, seed = 4, 0.3, 7
    result = smooth_grad(network, images[:, None], target, contrast, samples, noise, seed)
    rng = np.random.default_rng(seed)      # the same draws, image after image
    for raw, heat, signed, image in zip(result.raw, result.heatmap, result.signed, images):
        score = resolve(network, image, target, contrast)
        noisy = image + rng.normal(0.0, noise, (samples, 1, SIDE, SIDE))[:, 0]
        grads = np.stack([pixel_gradient(network, copy, score) for copy in noisy])
        assert_close(raw, grads.mean(axis=0), "smoothgrad raw")
        assert_close(heat, scaled(np.abs(grads).mean(axis=0)), "smoothgrad heatmap")
        assert_close(signed, symmetric(grads.mean(axis=0)), "smoothgrad signed")


@pytest.mark.parametrize("baseline", ["black", "gray"])
@pytest.mark.parametrize("choice", CHOICES[::2])
def test_integrated_gradients_is_the_midpoint_sum_along_the_straight_path(choice, baseline,
                                                                          small):
    network, images = small
    target, contrast = choice
    steps = 5
    base = np.zeros((SIDE, SIDE)) if baseline == "black" else np.full((SIDE, SIDE), 0.4)
    result = integrated_gradients(network, images[:, None], target, contrast, steps,
                                  None if baseline == "black" else base)
    for raw, heat, signed, image in zip(result.raw, result.heatmap, result.signed, images):
        score = resolve(network, image, target, contrast)
        path = [base + (k + 0.5) / steps * (image - base) for k in range(steps)]
        grads = np.mean([pixel_gradient(network, point, score) for point in path], axis=0)
        expected = (image - base) * grads
        assert (expected > 0).any() and (expected < 0).any()
        assert_close(raw, expected, "integrated gradients raw")
        assert_close(heat, scaled(expected), "integrated gradients heatmap")
        assert_close(signed, symmetric(expected), "integrated gradients signed")
        assert signed.min() < 0 < signed.max()


@pytest.mark.parametrize("options", [dict(patch=4, stride=2, fill=0.0),
                                     dict(patch=5, stride=3, fill=0.7)])
@pytest.mark.parametrize("choice", CHOICES[::2])
def test_occlusion_is_the_score_drop_per_patch(choice, options, small):
    network, images = small
    target, contrast = choice
    result = occlusion(network, images[:, None], target, contrast, **options)
    for raw, heat, signed, image in zip(result.raw, result.heatmap, result.signed, images):
        expected = occlusion_reference(network, image, resolve(network, image, target, contrast),
                                       **options)
        assert (expected > 0).any() and (expected < 0).any()
        assert_close(raw, expected, "occlusion raw")
        assert_close(heat, scaled(expected), "occlusion heatmap")
        assert_close(signed, symmetric(expected), "occlusion signed")


@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "integrated-gradients",
                                    "occlusion"])
def test_an_explanation_carries_its_pixel_methods_signed_map(method, small):
    """What Draw & Explain draws on its diverging map: the raw attribution on one
    symmetric scale, evidence against the class kept (negative)."""
    network, images = small
    got = explain(network, images[0], method)
    assert got.signed.shape == (SIDE, SIDE)
    assert_close(got.signed, symmetric(got.raw), f"{method} signed")
    assert got.signed.min() < 0 < got.signed.max()
    assert np.abs(got.signed).max() == pytest.approx(1.0)


def test_a_cam_has_no_signed_map(small):
    network, images = small
    assert explain(network, images[0], "gradcam").signed is None


# --- the same weights in PyTorch ----------------------------------------------------------

def torch_pass(torch, architecture, state, images, seeds):
    """Forward and backward ``images (M, 28, 28)`` in torch, the score of row ``i`` being
    ``logits[i] @ seeds[i]``.

    Returns
    -------
    logits : ndarray, (M, 10)
    pixel_grads : ndarray, (M, 28, 28)
    layers : dict of name -> (output (M, ...), its gradient (M, ...))
    """
    functional = torch.nn.functional
    x = torch.tensor(images[:, None], dtype=torch.float64, requires_grad=True)
    h, outputs = x, {}
    for spec in architecture:
        kind, name = spec["type"], spec["name"]
        weight, bias = (torch.from_numpy(state[f"{name}.{key}"]) if f"{name}.{key}" in state
                        else None for key in ("weight", "bias"))
        if kind == "conv":
            h = functional.conv2d(h, weight, bias, padding=1)
        elif kind == "relu":
            h = torch.relu(h)
        elif kind == "maxpool":
            h = functional.max_pool2d(h, 2)
        elif kind == "flatten":
            h = h.flatten(1)
        else:
            h = functional.linear(h, weight, bias)
        h.retain_grad()
        outputs[name] = h
    (h * torch.from_numpy(np.asarray(seeds, np.float64))).sum().backward()
    return (h.detach().numpy(), x.grad.numpy()[:, 0],
            {name: (out.detach().numpy(), out.grad.numpy()) for name, out in outputs.items()})


@pytest.fixture(scope="module")
def torch_case():
    """torch, the seed's architecture with random weights in float64, and three
    validation digits (black backgrounds: max-pool windows of equal zeros)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # small passes: threads only contend on a shared machine
    network = Network(seed=3).copy(np.float64)
    images = load_sample()[1].as_float()[:3, 0].astype(np.float64)
    yield torch, network, images
    torch.set_num_threads(threads)


def torch_score(torch_case, image, target, contrast):
    """The explained score's weights for ``image``, the default target from torch's logits."""
    torch, network, _ = torch_case
    logits = torch_pass(torch, default_architecture(), network.state_dict(), image[None],
                        np.zeros((1, 10)))[0]
    return score_vector(int(logits.argmax()) if target is None else target, contrast)


@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("method", CAMS)
def test_cam_matches_pytorch_autograd_at_every_conv_layer(method, choice, torch_case):
    torch, network, images = torch_case
    target, contrast = choice
    differ = 0
    for image in images:
        seed = torch_score(torch_case, image, target, contrast)
        _, _, layers = torch_pass(torch, default_architecture(), network.state_dict(),
                                  image[None], seed[None])
        for conv_layer, relu in (("conv1", "relu1"), ("conv2", "relu2"), ("conv3", "relu3"),
                                 ("conv4", "relu4")):
            a, g = layers[relu][0][0], layers[relu][1][0]
            expected = FORMULAS[method](a, g)
            upsampled = torch.nn.functional.interpolate(
                torch.from_numpy(expected)[None, None], size=(SIDE, SIDE), mode="bilinear",
                align_corners=False)[0, 0].numpy()
            got = explain(network, image, method, conv_layer, target, contrast)
            assert_close(got.raw, expected, f"{method} raw at {conv_layer}")
            assert_close(got.heatmap, scaled(upsampled), f"{method} heatmap at {conv_layer}")
            others = [FORMULAS[m](a, g) for m in CAMS if m != method]
            differ += all(np.abs(scaled(expected) - scaled(o)).max() > 0.1 for o in others)
    assert differ >= 6, "too few cases where this method differs from the other three"


@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "integrated-gradients"])
def test_gradient_methods_match_pytorch_autograd(method, choice, torch_case):
    torch, network, images = torch_case
    target, contrast = choice
    for image in images:
        seed = torch_score(torch_case, image, target, contrast)
        if method == "saliency":
            inputs, weights = image[None], np.ones(1)
        elif method == "smoothgrad":       # the defaults: 25 samples, noise 0.15, seed 0
            inputs = image + np.random.default_rng(0).normal(0.0, 0.15, (25, 1, SIDE, SIDE))[:, 0]
            weights = np.full(25, 1 / 25)
        else:                              # 64 midpoints on the path from black
            inputs = ((np.arange(64) + 0.5) / 64)[:, None, None] * image
            weights = np.full(64, 1 / 64)
        grads = torch_pass(torch, default_architecture(), network.state_dict(), inputs,
                           np.repeat(seed[None], len(inputs), axis=0))[1]
        mean = np.einsum("m,mhw->hw", weights, grads)
        raw = image * mean if method == "integrated-gradients" else mean
        heat = {"saliency": np.abs(raw), "smoothgrad": np.abs(grads).mean(axis=0),
                "integrated-gradients": raw}[method]
        got = explain(network, image, method, None, target, contrast)
        assert (raw > 0).any() and (raw < 0).any()
        assert_close(got.raw, raw, f"{method} raw")
        assert_close(got.heatmap, scaled(heat), f"{method} heatmap")


@pytest.mark.parametrize("choice", CHOICES)
def test_occlusion_matches_pytorch(choice, torch_case):
    torch, network, images = torch_case
    target, contrast = choice
    starts = range(0, SIDE - 3, 2)           # the defaults: 4-pixel patches every 2 pixels
    for image in images:
        seed = torch_score(torch_case, image, target, contrast)
        copies = np.repeat(image[None], len(starts) ** 2 + 1, axis=0)
        total, count = np.zeros((SIDE, SIDE)), np.zeros((SIDE, SIDE))
        corners = [(y, x) for y in starts for x in starts]
        for k, (y, x) in enumerate(corners, start=1):
            copies[k, y:y + 4, x:x + 4] = 0
        scores = torch_pass(torch, default_architecture(), network.state_dict(), copies,
                            np.zeros((len(copies), 10)))[0] @ seed
        for (y, x), score in zip(corners, scores[1:]):
            total[y:y + 4, x:x + 4] += scores[0] - score
            count[y:y + 4, x:x + 4] += 1
        got = explain(network, image, "occlusion", None, target, contrast)
        assert (total > 0).any() and (total < 0).any()
        assert_close(got.raw, total / count, "occlusion raw")
        assert_close(got.heatmap, scaled(total / count), "occlusion heatmap")
