"""The independent reference of the gradient tests: central finite differences in float64."""

import numpy as np


def numeric_grad(f, x, h=1e-6):
    """Central finite differences (f(x + h e_i) - f(x - h e_i)) / 2h of a scalar function of an array."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g
