"""The hooks that let ``dlaccelerate`` record a function safely (internal).

``dlaccelerate`` (dlteach/accelerate.py) records the operations a function applies to its inputs and
later replays them on new inputs without running the Python function. That is only correct when every
value that depends on the inputs is computed by a *recorded* operation. Three things live here so that
low-level modules (dlarray, ops, losses, autodiff) can take part without importing accelerate.py:

* :data:`RECORDERS` - the recordings in progress (at most one: an accelerated function called while
  another one records is simply part of that recording);
* :func:`note` - "this recording cannot be replayed": a traced value was turned into a Python value
  (``if X > 0:``, ``float(loss)``, ``extractdata(X)``), random numbers were drawn (dropout), ...
  The function's result is still right (it really ran); the recording is just not cached;
* :func:`derived` - a value computed from traced data that is a *constant for the gradient* (the slope
  mask of leakyrelu, the running statistics of batchnorm): an ordinary NumPy computation on the values
  when nothing records (no cost), a recorded non-differentiable operation while ``dlaccelerate``
  records, so that a replay recomputes it from the new inputs instead of reusing a stale constant.

:data:`NONDIFF` lists the recorded operations that carry no gradient (comparisons and the other
functions autograd never records, ``derived``, the gradients a recorded ``dlgradient`` returned): the
reverse pass (autodiff._backward) does not go through them.
"""

from __future__ import annotations

import numpy as np
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import Box, getval, isbox

from .primitives import primitive

#: the recordings in progress (accelerate._Recorder objects); empty almost always
RECORDERS: list = []

#: recorded functions that have no gradient: the reverse pass treats them as constants
NONDIFF: set = set()


def note(reason: str) -> None:
    """Mark the recording in progress (if any) as not replayable, with the reason (see accelerate.py)."""
    if RECORDERS:
        RECORDERS[-1].leak(reason)


def note_if_traced(x, reason: str) -> None:
    """:func:`note` when ``x`` (raw data or box) is traced while a recording is in progress."""
    if RECORDERS and isbox(x):
        RECORDERS[-1].leak(reason)


@primitive
def _derived(f, *args):
    return f(*args)


NONDIFF.add(_derived)


def derived(f, *args):
    """``f(*values of args)``: a value computed from (possibly traced) data that is a constant for the gradient.

    Outside a dlaccelerate recording this is just ``f`` on the untraced values. While a function is being
    recorded, it is a recorded, non-differentiable operation, so that a replay recomputes it.
    """
    if RECORDERS:
        for a in args:
            if isbox(a):
                return _derived(f, *args)
    return f(*[getval(a) for a in args])


# While recording, comparisons are recorded: a whole-array test (np.any(X > 0)) gives a NumPy bool scalar,
# which must be boxable like the other NumPy scalars (outside a recording these functions are never recorded).
ArrayBox.register(np.bool_)

# A Python `if` / `while` on an autograd box (bool(box)) decides control flow from a traced value.
_box_bool = Box.__bool__


def _recorded_bool(self):
    if RECORDERS:
        RECORDERS[-1].leak("bool")
    return _box_bool(self)


Box.__bool__ = _recorded_bool
Box.__nonzero__ = _recorded_bool
