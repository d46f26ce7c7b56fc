"""Autograd primitives with hand-written, dtype-preserving VJPs.

HIPS autograd's own VJPs for ``maximum``/``minimum`` (and ``mean``, ``max``, ``where``) build float64
masks, so a float32 network would silently compute its backward pass in float64 (slower, and the
gradients come back as float64). The primitives here keep the dtype of the upstream gradient, and
their VJPs are written with autograd-traceable operations, so higher derivatives still work.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as onp
from autograd.extend import defvjp, primitive
from autograd.numpy.numpy_vjps import unbroadcast_f
from autograd.tracer import getval


def _mask(cond, g):
    return onp.asarray(cond, dtype=getattr(getval(g), "dtype", onp.float64))


@primitive
def maximum(a, b):
    """Elementwise maximum. Gradient: to ``a`` where a > b, to ``b`` where b > a, split 1/2 on ties."""
    return onp.maximum(a, b)


@primitive
def minimum(a, b):
    """Elementwise minimum. Gradient: to ``a`` where a < b, to ``b`` where b < a, split 1/2 on ties."""
    return onp.minimum(a, b)


def _share(a, b, greater):
    a_, b_ = onp.asarray(getval(a)), onp.asarray(getval(b))
    win = (a_ > b_) if greater else (a_ < b_)
    return win + 0.5 * (a_ == b_)


defvjp(
    maximum,
    lambda ans, a, b: unbroadcast_f(a, lambda g: g * _mask(_share(a, b, True), g)),
    lambda ans, a, b: unbroadcast_f(b, lambda g: g * _mask(_share(b, a, True), g)),
)
defvjp(
    minimum,
    lambda ans, a, b: unbroadcast_f(a, lambda g: g * _mask(_share(a, b, False), g)),
    lambda ans, a, b: unbroadcast_f(b, lambda g: g * _mask(_share(b, a, False), g)),
)
