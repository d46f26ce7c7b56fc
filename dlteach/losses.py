"""Loss functions with MATLAB's semantics: ``crossentropy``, ``mse``, ``l1loss``, ``l2loss``, ``huber``.

MATLAB counterparts: ``crossentropy``, ``mse``, ``l1loss``, ``l2loss``, ``huber`` (Deep Learning Toolbox,
dlarray functions). ``Y`` is a formatted dlarray ("CB", "SSCB", "CBT", ...) or an unformatted array with
``DataFormat="CB"`` etc. A reduced loss is an *unformatted scalar dlarray*; everything is differentiable
inside :func:`dlteach.dlfeval` (second order too) and float32 ("single") stays float32.

The key teaching point is the **normalisation**. With the defaults (``Reduction="sum"``,
``NormalizationFactor="batch-size"``) every loss here is::

    loss = (1/N) * sum_j  m_j * w_j * l_j        N = number of observations (size of the 'B' dimension)

i.e. the loss *per observation*, summed over classes / responses / pixels / time steps. ``mse`` is the
exception: it is HALF of that for squared errors (``mse == 0.5 * l2loss``).

Targets (all functions):

* unformatted targets (NumPy arrays, unformatted dlarrays) are read in Y's layout (MATLAB's C x B, not
  PyTorch's N x C); formatted targets must have exactly Y's format; sizes must then match.
* logical (bool) targets are rejected as in MATLAB (``deep:dlarray:LogicalsNotSupported``); convert them
  with ``T.astype(np.float32)`` (MATLAB: ``single(T)``). Integer arrays are converted to floating point.

Decisions where MATLAB's documentation is silent (tested in tests/test_losses.py):

* No 'B' dimension: "batch-size" normalisation divides by 1.
* ``NormalizationFactor="all-elements"`` divides by ``numel(Y)`` - except in crossentropy's single-label
  mode, where it divides by ``numel(Y) / size(Y, 'C')``, the number of predicted distributions (so the
  result is the mean loss per prediction, as for ``indexcrossentropy``).
* ``NormalizationFactor="mask-included"`` divides by the number of nonzero elements of the Mask after it is
  broadcast to the size of Y (divided by size(Y,'C') in single-label crossentropy). Without a Mask it is
  the same as "all-elements". A mask with no nonzero element gives N = 1 (loss 0, not NaN).
* ``Reduction="none"`` returns the element-wise loss ``m .* w .* l`` with Y's size (formatted like Y; for an
  unformatted Y in Y's original layout).
* Unformatted ``weights`` must have Y's size; for class / observation weights give them a format
  (``dlarray(w, 'C')``) or pass ``WeightsFormat='C'`` / ``'B'``. A Mask may be smaller than Y: a formatted
  Mask is matched to Y by labels, an unformatted one by position (MATLAB implicit expansion), and each of
  its dimensions must equal Y's or be 1.
"""

from __future__ import annotations

import itertools
import numbers

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from . import _recording
from . import validate as _v
from .dlarray import dlarray
from .errors import FormatError, LossArgumentError, ProbabilityError, SizeMismatchError
from .formats import LABEL_ORDER, apply_format, data_of, fmt_of, parse_format, size_text, to_single, wrap, wrap_like
from .primitives import is_softmax_output, maximum, minimum, neg_xlog_clamped, scaled_sum, untraced

__all__ = ["crossentropy", "indexcrossentropy", "mse", "l1loss", "l2loss", "huber", "LossArgumentError"]

#: tolerance of the "is this a probability?" checks in crossentropy
PROBABILITY_TOLERANCE = 1e-4
#: relative tolerance of the "do the classes sum to one?" check (single-label crossentropy)
SUM_TOLERANCE = 1e-3


# -------------------------------------------------------------------------------------------------
# preparing Y, targets, weights and masks

def _as_array(x):
    """Raw data of x: keeps autograd boxes, turns everything else into an ndarray."""
    x = data_of(x)
    return x if isbox(x) else np.asarray(x)


def _dtype(x):
    v = getval(x)
    d = getattr(v, "dtype", None)
    return d if d is not None else np.asarray(v).dtype


class _Prepared:
    """Y in MATLAB order plus what is needed to give 'none' results back in the caller's layout."""

    __slots__ = ("data", "fmt", "formatted", "perm", "orig_shape", "layout")

    def restore(self, out):
        if self.formatted:
            return wrap(out, self.fmt)
        out = anp.transpose(out, tuple(int(i) for i in np.argsort(self.perm)))
        return wrap(anp.reshape(out, self.orig_shape), "")

    def layout_shape(self):
        """Size of Y in the caller's layout (DataFormat order for unformatted Y)."""
        yshape = np.shape(getval(self.data))
        if self.formatted:
            return yshape
        out = [0] * len(yshape)
        for j, i in enumerate(self.perm):
            out[i] = yshape[j]
        return tuple(out)

    def describe(self):
        return size_text(self.layout_shape(), self.layout)

    def to_canonical(self, raw):
        """Put an unformatted array given in the caller's layout into Y's (MATLAB) order."""
        return apply_format(raw, self.layout)[0]


def _prepare_Y(Y, DataFormat, fname):
    p = _Prepared()
    if type(Y) is not dlarray or type(data_of(Y)) is not np.ndarray and not isbox(data_of(Y)):
        # None, text, tuples, objects: a named error
        _v.array(fname, "Y", Y, "fiub", cls=LossArgumentError, expected="a numeric array (a dlarray or NumPy array)")
    yfmt = fmt_of(Y)
    if yfmt:
        if DataFormat is not None:
            raise FormatError(
                f"{fname}: Y is already a formatted dlarray ({yfmt!r}); do not also pass DataFormat. "
                "DataFormat is only for unformatted data."
            )
        p.data, p.fmt, p.formatted, p.perm, p.orig_shape = data_of(Y), yfmt, True, None, None
        p.layout = p.fmt
    else:
        if DataFormat is None:
            raise FormatError(
                f"{fname} needs to know which dimension holds the classes/responses ('C') and which the "
                f"observations ('B'). Pass a formatted dlarray, e.g. Y = dlarray(Y, 'CB') (classes x "
                f"observations) or dlarray(Y, 'SSCB') for images, or say how the unformatted data is laid "
                f"out: {fname}(Y, T, DataFormat='CB')."
            )
        raw = _as_array(Y)
        if not isbox(raw) and raw.dtype.kind in "iub":
            raw = raw.astype(np.float64)
        fmt_in = parse_format(DataFormat)
        p.orig_shape = np.shape(getval(raw))
        p.data, p.fmt = apply_format(raw, fmt_in)
        p.perm = sorted(range(len(fmt_in)), key=lambda i: (LABEL_ORDER[fmt_in[i]], i))
        p.formatted = False
        p.layout = fmt_in
    if _dtype(p.data).kind != "f":
        raise LossArgumentError(f"{fname}: Y must be floating-point (single or double), not {_dtype(p.data)}.")
    return p


def _suggest_format(shape, fmt, yshape):
    """A format whose labels, applied to an array of `shape`, would give Y's layout (or None)."""
    if len(shape) != len(fmt):
        return None
    for perm in itertools.permutations(range(len(fmt))):
        if all(shape[i] == yshape[perm[i]] for i in range(len(fmt))):
            cand = "".join(fmt[perm[i]] for i in range(len(fmt)))
            if cand != fmt:
                return cand
    return None


def _prepare_targets(targets, p, fname):
    if type(targets) is not np.ndarray and type(targets) is not dlarray:
        _v.array(fname, "targets", targets, "fiub", cls=LossArgumentError,
                 expected="a numeric array (a dlarray or NumPy array)")
    yshape = getval(p.data).shape
    tfmt = fmt_of(targets)
    raw = _as_array(targets)
    dt = _dtype(raw)
    if tfmt == p.fmt and dt.kind == "f" and getval(raw).shape == yshape:  # the common case: nothing to check
        return raw
    if dt.kind == "b":
        raise LossArgumentError(
            f"{fname}: the targets are logical (bool). MATLAB's {fname} does not accept logical targets "
            "(error deep:dlarray:LogicalsNotSupported), and neither does dlteach: convert them to numbers "
            "first, T = T.astype(np.float32) (MATLAB: T = single(T))."
        )
    if dt.kind == "c":
        raise LossArgumentError(f"{fname}: the targets are complex; losses need real targets.")
    if dt.kind in "iu" and not isbox(raw):
        raw = raw.astype(_dtype(p.data))
    if dt.kind not in "fiu":
        raise LossArgumentError(f"{fname}: the targets must be numeric arrays, not {dt}.")
    given_shape = np.shape(getval(raw))
    if tfmt:
        if tfmt != p.fmt:
            raise FormatError(
                f"{fname}: the targets have format {tfmt!r} but Y has format {p.fmt!r}. Formatted targets must "
                f"have the same format as Y (MATLAB: deep:dlarray:LossDescriptorMismatch). Give them Y's "
                f"labels, dlarray(T, {p.fmt!r}) (in whatever order matches T's dimensions, e.g. 'BC' for an "
                "observations x classes array), or pass T unformatted in Y's layout."
            )
    else:
        try:
            raw = p.to_canonical(raw)
        except FormatError:
            raw = None
    if raw is None or np.shape(getval(raw)) != yshape:
        tdesc = size_text(targets) if tfmt else size_text(given_shape)
        msg = (
            f"{fname}: the targets and Y have different sizes: targets are {tdesc}, Y is {p.describe()} "
            f"(format {p.fmt!r}). "
        )
        sugg = None if tfmt else _suggest_format(given_shape, p.layout, p.layout_shape())
        if sugg is not None:
            labels = " x ".join(sugg)
            how = "transpose them (T.T) or " if len(sugg) == 2 else "permute them or "
            msg += (
                f"Unformatted targets are read in Y's layout ({' x '.join(p.layout)}), but these look like "
                f"{labels} (e.g. observations x classes, PyTorch's layout): {how}say so with "
                f"dlarray(T, {sugg!r})."
            )
        else:
            msg += (
                "The targets need one value per element of Y, e.g. a one-hot matrix of classes x observations "
                "for a 'CB' Y (onehotencode(labels, 1, ClassNames=...))."
            )
        raise SizeMismatchError(msg)
    return raw


def _align(arr, arr_fmt_opt, p, what, fname, strict):
    """Raw data of weights / mask with one dimension per dimension of Y (each equal to Y's or 1)."""
    yshape = np.shape(getval(p.data))
    afmt = fmt_of(arr)
    raw = _as_array(arr)
    if _dtype(raw).kind not in "fiub":
        raise LossArgumentError(f"{fname}: {what} must be numeric or logical, not {_dtype(raw)}.")
    if not isbox(raw) and raw.dtype.kind != "f":
        raw = raw.astype(_dtype(p.data))
    if arr_fmt_opt is not None:
        if afmt:
            raise FormatError(f"{fname}: {what} is already formatted ({afmt!r}); do not also pass its format option.")
        raw, afmt = apply_format(raw, parse_format(arr_fmt_opt))
    ashape = np.shape(getval(raw))
    if afmt:
        newshape, j = [], 0
        for lab in p.fmt:
            if j < len(afmt) and afmt[j] == lab:
                newshape.append(ashape[j])
                j += 1
            else:
                newshape.append(1)
        if j < len(afmt):
            raise FormatError(
                f"{fname}: {what} has format {afmt!r} but Y has format {p.fmt!r}: every label of {what} must be "
                "a dimension of Y."
            )
    else:
        nd = len(p.fmt)
        if len(ashape) > nd and any(n != 1 for n in ashape[nd:]):
            raise SizeMismatchError(
                f"{fname}: {what} has {len(ashape)} dimensions ({size_text(ashape)}) but Y has {nd} "
                f"({p.describe()})."
            )
        padded = tuple(ashape[:nd]) + (1,) * (nd - len(ashape))
        if strict and padded != p.layout_shape():
            raise FormatError(
                f"{fname}: unformatted {what} of size {size_text(ashape)} do not have Y's size "
                f"({p.describe()}). Say which dimensions they weight: WeightsFormat='C' for class/response "
                "weights, 'B' for observation weights (or give a formatted dlarray, dlarray(w, 'C'))."
            )
        if padded != ashape:
            raw = anp.reshape(raw, padded)
        raw = p.to_canonical(raw)
        ashape = np.shape(getval(raw))
        newshape = list(ashape)
    for n, ny, lab in zip(newshape, yshape, p.fmt):
        if n not in (1, ny):
            raise SizeMismatchError(
                f"{fname}: {what} of size {size_text(ashape)}{' (' + afmt + ')' if afmt else ''} does not fit Y "
                f"({p.describe()}): its {lab!r} dimension has {n} entries where Y has {ny} (must be {ny} or 1)."
            )
    return anp.reshape(raw, tuple(newshape)) if tuple(newshape) != ashape else raw


def _abs(x):
    """|x| as x * sign(x) with a constant sign: gradient sign(x) (0 at 0), keeps float32 at every order."""
    return x * _recording.derived(lambda v: np.sign(v).astype(v.dtype, copy=False), x)


def _cast(x, dtype):
    if _dtype(x) == dtype:
        return x
    if isbox(x):
        return anp.astype(x, dtype) if dtype == np.float32 else x
    return np.asarray(x, dtype=dtype)


def _option(value, allowed, name, fname):
    if not isinstance(value, str) or value.lower() not in allowed:
        raise LossArgumentError(
            f"{fname}: {name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}."
        )
    return value.lower()


_NORMALIZATIONS = ("batch-size", "all-elements", "mask-included", "none")


def _check_normalization(NormalizationFactor, fname):
    if isinstance(NormalizationFactor, numbers.Real) and not isinstance(NormalizationFactor, bool):
        if not NormalizationFactor > 0:
            raise LossArgumentError(f"{fname}: a numeric NormalizationFactor must be positive; got {NormalizationFactor}.")
        return float(NormalizationFactor)
    return _option(NormalizationFactor, _NORMALIZATIONS, "NormalizationFactor", fname)


def _reduce(loss, p, mask, Reduction, NormalizationFactor, per_class=1):
    """Apply the MATLAB reduction scheme to an element-wise loss (already weighted and masked)."""
    if Reduction == "none":
        return p.restore(loss)
    yshape = np.shape(getval(p.data))
    if isinstance(NormalizationFactor, float):
        N = NormalizationFactor
    elif NormalizationFactor == "batch-size":
        N = yshape[p.fmt.index("B")] if "B" in p.fmt else 1
    elif NormalizationFactor == "none":
        N = 1
    elif NormalizationFactor == "all-elements" or mask is None:
        N = int(np.prod(yshape)) / per_class
    else:  # mask-included
        _recording.note_if_traced(mask, "float")  # a count of a traced mask's values: frozen in a dlaccelerate recording
        N = np.count_nonzero(np.broadcast_to(getval(mask), yshape)) / per_class
    if N == 0:
        N = 1
    return wrap(scaled_sum(loss, 1.0 / float(N)), "")


def _check_not_empty(p, fname):
    yshape = np.shape(getval(p.data))
    if 0 in yshape:
        n = yshape[p.fmt.index("B")] if "B" in p.fmt else None
        if n == 0:
            what = f"the batch has 0 observations (Y is empty: {p.describe()})"
        else:
            what = f"Y is empty ({p.describe()})"
        raise LossArgumentError(
            f"{fname}: {what}, so there is no loss to compute (a mean over 0 observations is undefined). "
            "Usual causes: a mini-batch index past the end of the data (X[:, i:i + batchSize] with i >= N), "
            "a boolean mask that selected nothing, or an empty data set."
        )


#: format -> True when its labels are already in MATLAB order (unformatted targets are then read as they are)
_CANONICAL: dict = {}


def _canonical(fmt):
    ok = _CANONICAL.get(fmt)
    if ok is None:
        ok = _CANONICAL[fmt] = list(fmt) == sorted(fmt, key=LABEL_ORDER.__getitem__)
    return ok


def _fast_inputs(Y, targets):
    """``(y, T, fmt, single)`` for the common call, or None (then :func:`_common` checks and explains).

    The common call: Y a formatted, non-empty float32 / float64 dlarray, the targets of Y's size and a
    floating dtype - a dlarray of Y's format or an unformatted NumPy array in Y's layout. Everything
    :func:`_common` would check then holds, and y, T, single are the values it would return (float32 wins),
    found with a few type tests instead of its general preparation. Callers check the options themselves
    (defaults only: no weights, Mask, DataFormat, Reduction "sum", NormalizationFactor "batch-size").
    """
    if type(Y) is not dlarray:
        return None
    fmt = fmt_of(Y)
    y = data_of(Y)
    yv = untraced(y)
    if not fmt or type(yv) is not np.ndarray:
        return None
    ydt, yshape = yv.dtype, yv.shape
    if ydt is not _FLOAT32 and ydt is not _F64 or 0 in yshape:
        return None
    if type(targets) is dlarray:
        if fmt_of(targets) != fmt:
            return None
        t = data_of(targets)
    elif type(targets) is np.ndarray and len(fmt) == len(yshape) and _canonical(fmt):
        t = targets
    else:
        return None
    tv = untraced(t)
    if type(tv) is not np.ndarray or tv.shape != yshape:
        return None
    tdt = tv.dtype
    if tdt is ydt:
        return y, t, fmt, ydt is _FLOAT32
    if tdt is not _FLOAT32 and tdt is not _F64:
        return None
    if ydt is _F64:  # single wins
        return _cast(y, _FLOAT32), t, fmt, True
    return y, _cast(t, _FLOAT32), fmt, True


def _default_options(weights, Mask, Reduction, NormalizationFactor, DataFormat, WeightsFormat):
    """True for the defaults (no weights / Mask / DataFormat / WeightsFormat, "sum", "batch-size")."""
    return (weights is None and Mask is None and DataFormat is None and WeightsFormat is None
            and type(Reduction) is str and Reduction == "sum"
            and type(NormalizationFactor) is str and NormalizationFactor == "batch-size")


def _batch_mean(loss, yshape, fmt, single):
    """``sum(loss) / N`` (N = size of 'B', 1 without one) as an unformatted scalar: :func:`_finish` with the
    default options for a non-empty Y."""
    b = fmt.find("B")
    out = scaled_sum(loss, 1.0 / yshape[b] if b >= 0 else 1.0)  # (the int converts exactly: 1.0 / float(N))
    if single and getattr(untraced(out), "dtype", None) is not _FLOAT32:  # (scaled_sum's value is a NumPy scalar;
        out = to_single(out)  # an equal float32 dtype that is another object: to_single leaves it unchanged)
    return wrap(out, "")


def _common(Y, targets, weights, Mask, DataFormat, WeightsFormat, Reduction, NormalizationFactor, fname):
    p = _prepare_Y(Y, DataFormat, fname)
    _check_not_empty(p, fname)
    T = _prepare_targets(targets, p, fname)
    Reduction = _option(Reduction, ("sum", "none"), "Reduction", fname)
    NormalizationFactor = _check_normalization(NormalizationFactor, fname)
    if WeightsFormat is not None and weights is None:
        raise LossArgumentError(f"{fname}: WeightsFormat was given but no weights.")
    w = None if weights is None else _align(weights, WeightsFormat, p, "the weights", fname, strict=True)
    m = None if Mask is None else _align(Mask, None, p, "the Mask", fname, strict=False)
    ydt, tdt = _dtype(p.data), _dtype(T)
    single = np.float32 in (ydt, tdt) or any(_dtype(v) == np.float32 for v in (w, m) if v is not None)
    dtype = _FLOAT32 if single else ydt
    if ydt != dtype:
        p.data = _cast(p.data, dtype)
    if tdt != dtype:
        T = _cast(T, dtype)
    w = None if w is None else _cast(w, dtype)
    m = None if m is None else _cast(m, dtype)
    return p, T, w, m, Reduction, NormalizationFactor, single


def _finish(loss, p, w, m, Reduction, NormalizationFactor, fname, single, per_class=1):
    if w is not None:
        loss = loss * w
    if m is not None:
        loss = loss * m
    out = _reduce(loss, p, m, Reduction, NormalizationFactor, per_class)
    if single:
        out = wrap_like(to_single(data_of(out)), out)
    return out


# -------------------------------------------------------------------------------------------------
# crossentropy

_FLOAT32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_EPS32, _EPS64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)
_EPS = {_FLOAT32: _EPS32, _F64: _EPS64}
#: per float dtype: (unsigned integer dtype of its size, bit pattern of 1.0): as unsigned integers, the values
#: +0.0 ... 1.0 are exactly the bit patterns 0 ... that of 1.0 (negative values, -0.0 included, and NaN are larger)
_BITS32 = (np.dtype(np.uint32), np.uint32(0x3F800000))  # (dtype objects and scalars of that dtype: no conversions)
_BITS64 = (np.dtype(np.uint64), np.uint64(0x3FF0000000000000))


def _in_unit_interval(v):
    """True if ``v`` is an ndarray whose values are all in [+0, 1] (no NaN): one integer reduction instead of
    a min and a max. False means "look closer" (the exact check decides, with its tolerances)."""
    if type(v) is not np.ndarray or v.size == 0:
        return False
    dt = v.dtype  # (identity tests: cheaper than hashing the dtype; another equal dtype object only looks closer)
    bits = _BITS32 if dt is _FLOAT32 else _BITS64 if dt is _F64 else None
    return bits is not None and np.maximum.reduce(v.view(bits[0]), axis=None) <= bits[1]  # = .max(), no Python layer


def _check_probabilities(y, c, multilabel, fname):
    """Y must hold probabilities (and, single-label, sum to 1 along its 'C' axis ``c``)."""
    v = np.asarray(getval(y))
    if v.size == 0:
        return
    if not _in_unit_interval(v):  # values in [0, 1] (the common case) are within the tolerance
        lo, hi = float(np.fmin.reduce(v, axis=None)), float(np.fmax.reduce(v, axis=None))  # NaN-ignoring
        if lo < -PROBABILITY_TOLERANCE or hi > 1.0 + PROBABILITY_TOLERANCE:
            act = "sigmoid" if multilabel else "softmax"
            raise ProbabilityError(
                f"{fname} expects probabilities (values between 0 and 1), but Y has values from {lo:.4g} to "
                f"{hi:.4g}: these look like logits (raw scores of the last fully connected layer). MATLAB's "
                f"{fname} does not apply an activation for you - apply {act} first: loss = {fname}({act}(Y), T"
                + (", ClassificationMode='multilabel')." if multilabel else ").")
            )
    if not multilabel:
        s = v.sum(axis=c, dtype=np.float64)
        s_lo, s_hi = np.fmin.reduce(s, axis=None), np.fmax.reduce(s, axis=None)  # NaN sums are not flagged
        if s_hi - 1.0 > SUM_TOLERANCE or 1.0 - s_lo > SUM_TOLERANCE:
            bad = np.abs(s - 1.0) > SUM_TOLERANCE
            hint = (
                " Y has a single channel: for a binary classifier with one sigmoid output use "
                "ClassificationMode='multilabel' (binary cross-entropy)."
                if v.shape[c] == 1
                else " If each class is an independent yes/no decision (sigmoid outputs), use "
                "ClassificationMode='multilabel' instead."
            )
            raise ProbabilityError(
                f"{fname} (single-label mode) expects one probability distribution per prediction: the values of "
                f"Y along its 'C' dimension must sum to 1, but {int(np.count_nonzero(bad))} of {bad.size} sum to "
                f"between {float(s_lo):.4g} and {float(s_hi):.4g}. Apply softmax first: "
                f"loss = {fname}(softmax(Y), T).{hint}"
            )


def _check_targets(T, multilabel, fname):
    """Targets of crossentropy are probabilities too: values in [0, 1] (one-hot or soft labels)."""
    v = untraced(T)
    if v.size == 0 or _in_unit_interval(v):  # one-hot or soft labels: nothing to report
        return
    lo, hi = float(np.fmin.reduce(v, axis=None)), float(np.fmax.reduce(v, axis=None))
    if lo != lo or hi != hi or lo < -PROBABILITY_TOLERANCE or hi > 1.0 + PROBABILITY_TOLERANCE:
        has_nan = bool(np.isnan(v).any())
        rng = "NaN" if has_nan and lo != lo else f"values from {lo + 0.0:.4g} to {hi + 0.0:.4g}"
        raise LossArgumentError(
            f"{fname}: the targets must be probabilities (values between 0 and 1, e.g. one-hot vectors), but they "
            f"have {rng}{' and NaN' if has_nan and lo == lo else ''}. A cross-entropy with such targets is not a "
            f"loss (it can be negative). Class labels must be one-hot encoded first: "
            f"T = onehotencode(labels, 1, ClassNames=...)"
            + (" (multilabel: 0/1 per class)." if multilabel else ".")
        )


def crossentropy(Y, targets, weights=None, *, ClassificationMode=None, TargetCategories=None, Mask=None,
                 Reduction="sum", NormalizationFactor="batch-size", DataFormat=None, WeightsFormat=None):
    """Cross-entropy loss of predicted *probabilities* (MATLAB ``crossentropy``).

    ``Y`` must already be probabilities: apply ``softmax`` (single-label) or ``sigmoid`` (multilabel)
    first - crossentropy does not, and raises :class:`~dlteach.errors.ProbabilityError` when it is handed
    logits (values outside [0, 1], or, in single-label mode, channels that do not sum to 1).

    * ``ClassificationMode="single-label"`` (default; old spelling ``TargetCategories="exclusive"``):
      ``l = -T .* ln(Y)``
    * ``ClassificationMode="multilabel"`` (``TargetCategories="independent"``), binary cross-entropy:
      ``l = -(T .* ln(Y) + (1-T) .* ln(1-Y))``

    ``loss = (1/N) * sum(m .* w .* l)`` over all elements (classes, pixels, time steps), N = number of
    observations by default (``NormalizationFactor``: "batch-size" | "all-elements" | "mask-included" |
    "none" | a positive number; ``Reduction="none"`` returns ``m .* w .* l``). Probabilities are clamped
    at ``eps`` of their class before the log (``eps('single')`` = 2^-23 ≈ 1.19e-7 for float32, 2^-52 for
    float64), as MathWorks' loss code does, so a confident wrong answer costs at most ≈ 15.9 (single).
    ``weights``: class weights ``dlarray(w, 'C')``, observation weights ``dlarray(w, 'B')``, or Y's size.

    Example (MATLAB doc): softmax of 10 x 12 random scores ('CB') against one-hot targets gives ≈ 2.33,
    close to ln 10: an untrained classifier is about as good as guessing one class in ten.
    """
    fname = "crossentropy"
    if (TargetCategories is None and (ClassificationMode is None or type(ClassificationMode) is str and ClassificationMode == "single-label")
            and _default_options(weights, Mask, Reduction, NormalizationFactor, DataFormat, WeightsFormat)):
        fast = _fast_inputs(Y, targets)
        if fast is not None and "C" in fast[2]:  # the common call: the checks and the formula, nothing else
            y, T, fmt, single = fast
            c = fmt.index("C")
            if not is_softmax_output(y, c):  # softmax's output needs no scan
                _check_probabilities(y, c, False, fname)
            tv = untraced(T)  # a non-empty ndarray of Y's shape (_fast_inputs); Y is float32 exactly when single
            dt = tv.dtype  # _check_targets' unit-interval test inline; anything else (a value outside [+0, 1],
            bits = _BITS32 if dt is _FLOAT32 else _BITS64 if dt is _F64 else None  # NaN, -0.0) gets the full check
            if bits is None or not np.maximum.reduce(tv.view(bits[0]), axis=None) <= bits[1]:
                _check_targets(tv, False, fname)
            return _batch_mean(neg_xlog_clamped(T, y, _EPS32 if single else _EPS64), tv.shape, fmt, single)
    if ClassificationMode is not None and TargetCategories is not None:
        raise LossArgumentError(
            "crossentropy: give either ClassificationMode (current name) or TargetCategories (old name), not both. "
            "ClassificationMode='single-label' is the old TargetCategories='exclusive', 'multilabel' is 'independent'."
        )
    if TargetCategories is not None:
        mode = _option(TargetCategories, ("exclusive", "independent"), "TargetCategories", fname)
        multilabel = mode == "independent"
    else:
        mode = _option("single-label" if ClassificationMode is None else ClassificationMode,
                       ("single-label", "multilabel"), "ClassificationMode", fname)
        multilabel = mode == "multilabel"
    p, T, w, m, Reduction, NormalizationFactor, single = _common(
        Y, targets, weights, Mask, DataFormat, WeightsFormat, Reduction, NormalizationFactor, fname)
    if not multilabel and "C" not in p.fmt:
        raise FormatError(
            f"crossentropy (single-label) needs a 'C' (class) dimension, but Y has format {p.fmt!r}. Label the "
            "class dimension 'C', e.g. dlarray(Y, 'CB')."
        )
    y = p.data
    if multilabel or not is_softmax_output(y, p.fmt.index("C")):  # softmax's output needs no scan
        _check_probabilities(y, p.fmt.index("C") if not multilabel else None, multilabel, fname)
    _check_targets(T, multilabel, fname)
    dt = _dtype(y)
    eps = _EPS.get(dt) or float(np.finfo(dt).eps)
    loss = neg_xlog_clamped(T, y, eps)  # -(T .* log(max(Y, eps))) as one recorded operation
    if multilabel:
        loss = loss - (1.0 - T) * anp.log(maximum(1.0 - y, eps))
    per_class = 1 if multilabel else np.shape(getval(y))[p.fmt.index("C")]
    return _finish(loss, p, w, m, Reduction, NormalizationFactor, fname, single, per_class)


def _class_indices(targets, p, K, fname):
    """Integer class indices (0-based) in Y's layout without its C dimension."""
    c = p.fmt.index("C")
    yshape = np.shape(getval(p.data))
    want = tuple(n for i, n in enumerate(yshape) if i != c)
    rest_fmt = p.fmt.replace("C", "")
    if targets is None:
        raise LossArgumentError(f"{fname}: targets is None (a function that forgot `return`?). Give the class "
                                "index of every observation, e.g. labels = np.array([3, 0, 7, ...]).")
    tfmt = fmt_of(targets)
    raw = np.asarray(getval(data_of(targets)))
    if raw.dtype.kind not in "iuf" or raw.dtype.kind == "b":
        raise LossArgumentError(f"{fname}: targets must be integer class indices, not {raw.dtype} values.")
    if tfmt:
        if "C" in tfmt:
            if raw.shape[tfmt.index("C")] != 1:
                raise SizeMismatchError(
                    f"{fname}: the targets hold one class INDEX per prediction, so their 'C' dimension must have "
                    f"size 1; it has {raw.shape[tfmt.index('C')]}. For one-hot targets use crossentropy instead.")
            raw = raw.reshape([n for i, n in enumerate(raw.shape) if i != tfmt.index("C")])
            tfmt = tfmt.replace("C", "")
        if sorted(tfmt) != sorted(rest_fmt):
            raise FormatError(f"{fname}: the targets have format {fmt_of(targets)!r} but Y ({p.fmt!r}) needs targets "
                              f"labelled {rest_fmt!r} (Y's labels without 'C').")
        raw = apply_format(raw, tfmt)[0] if tfmt else raw
    if raw.size != int(np.prod(want)) or (tfmt and raw.shape != want):
        raise SizeMismatchError(
            f"{fname}: Y ({p.describe()}) makes {int(np.prod(want))} predictions, so the targets need one class "
            f"index each ({size_text(want)}); got {raw.size} values ({size_text(raw.shape)}).")
    raw = raw.reshape(want)
    if raw.dtype.kind == "f":
        if not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
            raise LossArgumentError(f"{fname}: targets must be integer class indices; got non-integer values.")
    idx = raw.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= K):
        hint = ""
        if idx.max() == K and idx.min() >= 1:
            hint = (" The indices look 1-based (MATLAB counts classes from 1): in dlteach class indices count from "
                    "0, as Python's do - use targets - 1.")
        raise LossArgumentError(
            f"{fname}: class indices must be from 0 to {K - 1} (Y has {K} classes along 'C'); the targets range "
            f"from {idx.min()} to {idx.max()}.{hint}")
    return idx, c


def indexcrossentropy(Y, targets, weights=None, *, Mask=None, Reduction="sum", NormalizationFactor="batch-size",
                      DataFormat=None, WeightsFormat=None):
    """Cross-entropy against integer class indices (MATLAB ``indexcrossentropy``, R2024b).

    ``loss = -(1/N) * sum_j w_j * ln(Y[t_j, j])``: for every prediction j (observation, time step,
    pixel) the log of the probability Y gives to its target class t_j, N = number of observations.
    The same value as ``crossentropy(Y, onehotencode(t, 1))``, without building the one-hot targets.
    Y must be probabilities (apply ``softmax`` first) with a 'C' dimension; ``targets`` hold one class
    index per prediction: size(Y) without 'C', e.g. N indices for a 'CB' Y (a formatted dlarray may
    carry a 'C' of size 1).

    *Decision:* class indices count from **0** (Python's convention: 0..numClasses-1); MATLAB's count
    from 1. Indices out of range are refused, with a hint when they look 1-based. Options as
    crossentropy's (``weights``: class weights ``dlarray(w, 'C')`` or per-observation 'B'; ``Mask``,
    ``Reduction``, ``NormalizationFactor`` - "all-elements" divides by the number of predictions);
    ``Reduction="none"`` returns one loss per prediction (Y's format without 'C').
    """
    fname = "indexcrossentropy"
    p = _prepare_Y(Y, DataFormat, fname)
    if "C" not in p.fmt:
        raise FormatError(f"{fname} needs a 'C' (class) dimension in Y; Y has format {p.fmt!r}. Use e.g. 'CB'.")
    yshape = np.shape(getval(p.data))
    K = yshape[p.fmt.index("C")]
    idx, c = _class_indices(targets, p, K, fname)
    onehot = np.zeros(yshape, dtype=_dtype(p.data))
    np.put_along_axis(onehot, np.expand_dims(idx, c), 1, axis=c)
    Yf = wrap(p.data, p.fmt)
    loss = crossentropy(Yf, wrap(onehot, p.fmt), weights, Mask=Mask, Reduction=Reduction,
                        NormalizationFactor=NormalizationFactor, WeightsFormat=WeightsFormat)
    if str(Reduction).lower() == "none":
        out = anp.sum(data_of(loss), axis=c)
        return wrap(out, p.fmt.replace("C", "") if p.formatted else "")
    return loss


# -------------------------------------------------------------------------------------------------
# regression losses

def mse(Y, targets, DataFormat=None):
    """HALF mean squared error (MATLAB ``mse``): ``loss = sum((Y - T).^2) / (2N)``, N = number of observations.

    The sum runs over every response of every observation (all elements); N is the size of the 'B'
    dimension (1 if Y has none). Teaching point: MATLAB's ``mse`` is *half* the usual mean squared error
    (the 1/2 makes the gradient simply ``(Y - T)/N``), so ``mse(Y, T) == 0.5 * l2loss(Y, T)``; multiply
    by 2 for the textbook MSE per observation. MATLAB now recommends ``l2loss``.

    Example (MATLAB doc): a 6x6 'SSCB' image of rand values against ones gives ≈ 6 on average
    (36 pixels x E[(u-1)^2] = 1/3, halved); the doc's draw prints 5.2061.
    """
    fast = _fast_inputs(Y, targets) if DataFormat is None else None
    if fast is not None:  # the common call
        y, T, fmt, single = fast
    else:
        p, T, w, m, Reduction, Norm, single = _common(Y, targets, None, None, DataFormat, None, "sum", "batch-size",
                                                      "mse")
        y, fmt = p.data, p.fmt
    e = y - T
    N = np.shape(getval(y))[fmt.index("B")] if "B" in fmt else 1
    out = scaled_sum(e * e, 0.5 / N)  # the same sum times 0.5 / N, as one recorded operation
    return wrap(to_single(out) if single else out, "")


def l2loss(Y, targets, weights=None, *, Mask=None, Reduction="sum", NormalizationFactor="batch-size",
           DataFormat=None, WeightsFormat=None):
    """L2 loss (MATLAB ``l2loss``): element loss ``l = (Y - T).^2`` (NOT halved), ``loss = sum(m.*w.*l) / N``.

    With the defaults (Reduction "sum", NormalizationFactor "batch-size") this is the mean squared error
    per observation, i.e. twice ``mse``. ``NormalizationFactor="all-elements"`` gives the plain mean of
    all squared errors (PyTorch's ``mse_loss``).
    """
    fname = "l2loss"
    if _default_options(weights, Mask, Reduction, NormalizationFactor, DataFormat, WeightsFormat):
        fast = _fast_inputs(Y, targets)
        if fast is not None:  # the common call
            y, T, fmt, single = fast
            e = y - T
            return _batch_mean(e * e, getval(y).shape, fmt, single)
    p, T, w, m, Reduction, Norm, single = _common(
        Y, targets, weights, Mask, DataFormat, WeightsFormat, Reduction, NormalizationFactor, fname)
    e = p.data - T
    return _finish(e * e, p, w, m, Reduction, Norm, fname, single)


def l1loss(Y, targets, weights=None, *, Mask=None, Reduction="sum", NormalizationFactor="batch-size",
           DataFormat=None, WeightsFormat=None):
    """L1 loss (MATLAB ``l1loss``): element loss ``l = |Y - T|``, ``loss = sum(m.*w.*l) / N``.

    With the defaults this is the mean absolute error per observation; "all-elements" gives the plain
    mean (PyTorch's ``l1_loss``). Gradient: sign(Y - T) (0 where Y == T).
    """
    fname = "l1loss"
    p, T, w, m, Reduction, Norm, single = _common(
        Y, targets, weights, Mask, DataFormat, WeightsFormat, Reduction, NormalizationFactor, fname)
    return _finish(_abs(p.data - T), p, w, m, Reduction, Norm, fname, single)


def huber(Y, targets, weights=None, *, TransitionPoint=1, Mask=None, Reduction="sum",
          NormalizationFactor="batch-size", DataFormat=None, WeightsFormat=None):
    """Huber loss (MATLAB ``huber``), δ = ``TransitionPoint`` (default 1, "smooth L1").

    Element loss, e = Y - T: ``0.5 e^2`` if ``|e| <= δ``, else ``δ|e| - 0.5 δ^2`` (quadratic near 0, linear
    beyond δ, so outliers pull with a bounded force δ); ``loss = sum(m.*w.*l) / N``. Computed as
    ``0.5 q^2 + δ(|e| - q)`` with ``q = min(|e|, δ)``. (NNC's HuberLoss is twice this.)
    """
    fname = "huber"
    delta = TransitionPoint
    delta = _v.real(fname, "TransitionPoint", delta, low=0.0, low_open=True, cls=LossArgumentError)
    p, T, w, m, Reduction, Norm, single = _common(
        Y, targets, weights, Mask, DataFormat, WeightsFormat, Reduction, NormalizationFactor, fname)
    a = _abs(p.data - T)
    q = minimum(a, delta)
    loss = 0.5 * (q * q) + delta * (a - q)
    return _finish(loss, p, w, m, Reduction, Norm, fname, single)
