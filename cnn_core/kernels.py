"""Conv kernels as pictures: one tiled mosaic per layer, and how far weights have moved."""
import numpy as np

GAP = 1  # pixels of background between tiles


def kernel_mosaic(weight, gap=GAP):
    """Tile a conv weight ``(F, C, kh, kw)`` into one 2-D image.

    Row ``f`` of tiles holds output channel ``f``; column ``c`` holds input
    channel ``c``.  Gaps are NaN so a viewer can draw them as background.

    Returns
    -------
    mosaic : ndarray, float32 (F*(kh+gap)-gap, C*(kw+gap)-gap)
    limit : float
        ``max |weight|``: show the mosaic with levels ``(-limit, limit)`` so
        zero sits in the middle of a diverging colour map and sign reads true.
    """
    weight = np.asarray(weight, np.float32)
    f, c, kh, kw = weight.shape
    mosaic = np.full((f * (kh + gap) - gap, c * (kw + gap) - gap), np.nan, np.float32)
    for row in range(f):
        top = row * (kh + gap)
        for col in range(c):
            left = col * (kw + gap)
            mosaic[top:top + kh, left:left + kw] = weight[row, col]
    limit = float(np.abs(weight).max()) if weight.size else 0.0
    return mosaic, limit or 1.0


def weight_drift(state, initial):
    """Relative distance ``‖W − W₀‖ / ‖W₀‖`` per layer, from two state dicts.

    Keys are layer names (``"conv1"``), weight and bias taken together.
    """
    drift = {}
    for name in state:
        layer = name.split(".")[0]
        moved, base = drift.get(layer, (0.0, 0.0))
        delta = state[name].astype(np.float64) - initial[name]
        drift[layer] = (moved + float(np.vdot(delta, delta)),
                        base + float(np.vdot(initial[name], initial[name]).astype(np.float64)))
    return {layer: float(np.sqrt(m / b)) if b > 0 else float(np.sqrt(m)) for layer, (m, b) in drift.items()}
