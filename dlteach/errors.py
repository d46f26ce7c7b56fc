"""Errors that teach.

Every exception dlteach raises for a learner's mistake is a :class:`DLTeachError`. Its message says
what went wrong, why, and how to fix it, and where MATLAB has an equivalent error it names it, so the
learner can look it up in MATLAB's documentation too.
"""

from __future__ import annotations


class DLTeachError(Exception):
    """Base class of dlteach's teaching errors."""


class NotTracedError(DLTeachError, RuntimeError):
    """`dlgradient` was asked to differentiate something that is not being traced."""


class NonScalarLossError(DLTeachError, TypeError):
    """The value given to `dlgradient` is not a real scalar."""


class FormatError(DLTeachError, ValueError):
    """A dlarray format (S, C, B, T, U labels) is invalid or missing."""


class SizeMismatchError(DLTeachError, ValueError):
    """Two arrays that must have the same size do not."""


class StructureMismatchError(DLTeachError, ValueError):
    """Two containers (dict / list / table / network) that must match do not."""


class UpdaterArgumentError(DLTeachError, ValueError):
    """A bad argument to adamupdate / rmspropupdate / sgdmupdate / dlupdate."""


class ReadOnlyPropertyError(DLTeachError, AttributeError):
    """A read-only property (e.g. of lbfgsState) was assigned; the message says how to get the value you want."""


class ProbabilityError(DLTeachError, ValueError):
    """A loss that expects probabilities (crossentropy) received something else, e.g. logits."""


class NetworkError(DLTeachError, ValueError):
    """A dlnetwork is used in a way that cannot work (wrong input size, unknown layer, ...)."""


class FileFormatError(DLTeachError, ValueError):
    """A saved dlteach file is corrupt, truncated or not a dlteach file."""


class LossArgumentError(DLTeachError, ValueError):
    """A bad option or argument of a loss function (unknown Reduction, logical targets, ...)."""


class MiniBatchQueueError(DLTeachError, ValueError):
    """A minibatchqueue was created or used with a bad option."""


class NoDataError(MiniBatchQueueError):
    """``next`` was called on a minibatchqueue that has no mini-batch left."""


class MonitorError(DLTeachError, ValueError):
    """A trainingProgressMonitor was used the wrong way (the message names the fix)."""


class ArgumentError(DLTeachError, TypeError, ValueError):
    """A public function received an argument of the wrong kind, dtype, size, format or range.

    Raised by :mod:`dlteach.validate`; the message names the function, the argument, what was expected
    and what was given. It is both a TypeError and a ValueError, so code written against NumPy's
    conventions catches it too.
    """


class SpatialArgumentError(ArgumentError):
    """A bad argument to a convolution or pooling operation (shape, stride, padding, ...).

    An :class:`ArgumentError` like every other bad pair / padding argument (one parser: dlteach.validate).
    """


class NoneArgumentError(ArgumentError):
    """An argument is None where a value is needed (usually: a function that forgot ``return``)."""


class AccelerationCheckError(DLTeachError, RuntimeError):
    """``dlaccelerate`` with ``CheckMode="tolerance"``: the replayed recording and the function itself disagree
    (the function has data-dependent control flow, random numbers or side effects, or was edited)."""


class DLTeachWarning(UserWarning):
    """Base class of dlteach's teaching warnings (something is probably, not certainly, wrong)."""


class StateNotUpdatedWarning(DLTeachWarning):
    """``predict`` runs a trained network whose batch-normalization State was never stored
    (the learner probably forgot ``net.State = state`` after ``dlfeval``)."""


class DebugError(DLTeachError, ValueError):
    """A debugging helper (dlteach.debug) was called the wrong way (the message names the fix)."""


class GradientCheckWarning(DLTeachWarning):
    """The gradient check's result may be meaningless (randomness, float32 inside the loss, ...)."""


class DisconnectedGradientWarning(DLTeachWarning):
    """``dlgradient`` was asked for the gradient of a value the loss does not depend on (zeros returned)."""


class NonFiniteGradientWarning(DLTeachWarning):
    """An updater received a gradient with NaN or Inf values (the update is made, as in MATLAB)."""


class AccelerationWarning(DLTeachWarning):
    """``dlaccelerate`` cannot cache a recording of the function for these inputs (data-dependent control flow,
    random numbers, values taken out of the trace ...): the function is called without acceleration."""
