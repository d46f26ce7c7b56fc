"""``lbfgsupdate`` and ``lbfgsState``: the limited-memory BFGS solver of MATLAB's custom training loops.

MATLAB counterpart (R2023a)::

    solverState = lbfgsState;                                   % or lbfgsState(HistorySize=20)
    lossFcn = @(net) dlfeval(@modelLoss, net, X, T);
    for i = 1:maxIterations
        [net, solverState] = lbfgsupdate(net, lossFcn, solverState);
        if solverState.GradientsNorm < 1e-5 || solverState.LineSearchStatus == "failed"
            break
        end
    end

Python::

    solverState = lbfgsState()                                  # or lbfgsState(HistorySize=20)
    lossFcn = lambda net: dlfeval(modelLoss, net, X, T)         # returns (loss, gradients)
    for i in range(maxIterations):
        net, solverState = lbfgsupdate(net, lossFcn, solverState)
        if solverState.GradientsNorm < 1e-5 or solverState.LineSearchStatus == "failed":
            break

Unlike ``adamupdate``, L-BFGS does not take gradients: its line search evaluates the loss (and the
gradients) at several trial points per update, so it needs the *function* ``lossFcn``. Use it for small
networks and data sets that fit in one batch (full-batch training, e.g. physics-informed networks).

The algorithm (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithms 7.4 and 3.5-3.6).
All learnables are concatenated into one vector ``x`` (``dlteach.tree.flatten``, row order of
``net.Learnables`` / tree order of a dict); ``g`` is the gradient vector. One update::

    p   = -H g                          # search direction, H ~ inverse Hessian (two-loop recursion)
    eta = line search along p           # first trial eta = 1
    s   = x_new - x,  y = g_new - g     # stored in the history (the newest HistorySize pairs)

Two-loop recursion, with the pairs ``(s_i, y_i)`` oldest to newest and ``rho_i = 1 / (y_i' s_i)``::

    q = g
    for i = newest ... oldest:  a_i = rho_i s_i' q;   q = q - a_i y_i
    r = lambda_k q                                       # H_0 = lambda_k I
    for i = oldest ... newest:  b = rho_i y_i' r;     r = r + (a_i - b) s_i
    p = -r

which equals ``p = -H g`` for the dense BFGS matrix built from ``H_0 = lambda_k I`` by
``H <- (I - rho s y') H (I - rho y s') + rho s s'`` over the stored pairs. The initial inverse Hessian
factor (``InverseHessianFactor``) is::

    lambda_0 = InitialInverseHessianFactor                        (no history yet: first update)
    lambda_k = s_{k-1}' y_{k-1} / (y_{k-1}' y_{k-1})              (the newest stored pair)

Line searches (``LineSearchMethod``), with ``phi(eta) = loss(x + eta p)``, ``c1 = 1e-4``, ``c2 = 0.9``:

* ``"weak-wolfe"`` (default): ``phi(eta) <= phi(0) + c1 eta phi'(0)`` (sufficient decrease, Armijo) and
  ``phi'(eta) >= c2 phi'(0)`` (curvature); bracketing by doubling / bisection.
* ``"strong-wolfe"``: sufficient decrease and ``|phi'(eta)| <= c2 |phi'(0)|``; bracketing and zoom with
  safeguarded cubic interpolation (Nocedal & Wright Algorithms 3.5 and 3.6).
* ``"backtracking"``: sufficient decrease only; ``eta = 1, 1/2, 1/4, ...``.

The Wolfe curvature condition guarantees ``s' y > 0`` and hence a positive definite ``H``.

Decisions (MATLAB's documentation does not settle these; dlteach's choices, tested in tests/test_lbfgs.py):

* ``c1 = 1e-4`` and ``c2 = 0.9`` (the textbook values for quasi-Newton methods); the first trial step is
  ``eta = 1``; ``MaxNumLineSearchIterations`` counts the loss evaluations of the line search.
* A pair with ``s' y <= 0`` (negative curvature along the step; possible with ``"backtracking"`` only) is
  not stored and the history is cleared: the next direction is ``-lambda_0 g`` and the history is
  rebuilt. So ``H`` stays positive definite and ``p`` a descent direction. (Merely skipping the pair
  left ``H`` unchanged and the iterates crawled along a stale direction: 500 iterations on Rosenbrock
  without converging; with the restart, 40.)
* If the line search fails (no step satisfies its conditions within ``MaxNumLineSearchIterations``
  evaluations), the parameters are returned unchanged, ``LineSearchStatus`` is ``"failed"``,
  ``StepNorm`` is 0 and the history is kept: stop the loop (MATLAB's examples do).
* The first call evaluates ``lossFcn`` once at the given parameters before the line search; later
  calls reuse the loss and gradients stored in the state. If the parameters passed in are not the ones
  the previous call returned (changed by hand), the loss is evaluated again at them - never a stale gradient.
* ``HistoryIndices`` lists the slots of ``StepHistory`` / ``GradientsDifferenceHistory`` from the
  oldest pair to the newest (0-based, Python indices): the history is a circular buffer of HistorySize
  slots, a new pair overwrites the oldest one.
* Computation is in the learnables' precision: float32 learnables give a float32 parameter vector,
  float32 history and float32 norms (single wins); the line search's scalar arithmetic is in float64.
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np
from autograd.tracer import isbox

from . import tree
from . import validate as _v
from .dlarray import isdlarray
from .errors import (
    NonScalarLossError,
    ReadOnlyPropertyError,
    StructureMismatchError,
    UpdaterArgumentError,
)
from .formats import data_of, size_text, value_of
from .network import dlnetwork, with_learnables
from .updaters import kind_text, pack_like, param_array

__all__ = ["lbfgsState", "lbfgsupdate"]

_METHODS = ("weak-wolfe", "strong-wolfe", "backtracking")
_C1 = 1e-4
_C2 = 0.9

_EXAMPLE = ("    solverState = lbfgsState()\n"
            "    lossFcn = lambda net: dlfeval(modelLoss, net, X, T)\n"
            "    net, solverState = lbfgsupdate(net, lossFcn, solverState)")


# -------------------------------------------------------------------------------------------------
# the state object

class lbfgsState:
    """State of the L-BFGS solver (MATLAB ``lbfgsState``, R2023a): ``lbfgsState(HistorySize=10,
    InitialInverseHessianFactor=1)``.

    Create it once before the loop and pass back what :func:`lbfgsupdate` returns. Every property is
    read-only (MATLAB's too): HistorySize and InitialInverseHessianFactor are set when the state is
    created, the others by ``lbfgsupdate``.

    L-BFGS state:
      HistorySize                  number of (s, y) pairs kept (3 to 20 suit most tasks)
      InitialInverseHessianFactor  lambda_0: H_0 = lambda_0 I before any pair is stored
      InverseHessianFactor         lambda_k = s' y / (y' y) of the newest pair (lambda_0 without history)
      StepHistory                  list of steps s = x_new - x, each with the structure of the parameters
      GradientsDifferenceHistory   list of y = g_new - g, same structure
      HistoryIndices               slots of the two lists from the oldest pair to the newest (0-based)
    Iteration information (of the last update; None / "" / 0 before the first):
      Loss, Gradients, ExtraOutputs   lossFcn's outputs at the returned parameters
      StepNorm, GradientsNorm         ||s|| of the last step, ||g|| at the returned parameters
      LineSearchStatus                "completed" or "failed"
      LineSearchMethod, MaxNumLineSearchIterations   the options the last update used
    """

    _SETTABLE_AT_CREATION = ("HistorySize", "InitialInverseHessianFactor")
    _PROPERTIES = ("HistorySize", "InitialInverseHessianFactor", "InverseHessianFactor", "StepHistory",
                   "GradientsDifferenceHistory", "HistoryIndices", "Loss", "Gradients", "ExtraOutputs",
                   "StepNorm", "GradientsNorm", "LineSearchStatus", "LineSearchMethod",
                   "MaxNumLineSearchIterations")

    def __init__(self, *args, HistorySize=10, InitialInverseHessianFactor=1):
        if args:
            raise UpdaterArgumentError(
                f"lbfgsState: the options are name-value arguments; got {len(args)} positional value(s). Write "
                "lbfgsState(HistorySize=20, InitialInverseHessianFactor=1) (MATLAB: lbfgsState(HistorySize=20)).")
        d = self.__dict__
        d["_m"] = _v.integer("lbfgsState", "HistorySize", HistorySize, minimum=1, maximum=10**6,
                             hint="It is the number of (step, gradient difference) pairs kept; 3 to 20 suit most tasks.")
        d["_lambda0"] = _v.real("lbfgsState", "InitialInverseHessianFactor", InitialInverseHessianFactor, low=0,
                                low_open=True, hint="It scales the first step: H_0 = factor * I (default 1).")
        d["_S"] = []          # flat steps (circular buffer)
        d["_Y"] = []          # flat gradient differences
        d["_rho"] = []        # 1 / (y' s), float64
        d["_order"] = []      # slots from oldest to newest
        d["_sig"] = None      # (treedef, shapes, dtype) of the parameters the history belongs to
        d["_rebuild"] = None  # flat vector -> container like the learnables (for the history properties)
        d["_x"] = None        # flat parameter vector at which Loss / Gradients hold
        d["_g"] = None        # flat gradient vector there
        d["_f"] = None        # the loss there, float
        d["Loss"] = None
        d["Gradients"] = None
        d["ExtraOutputs"] = None
        d["StepNorm"] = None
        d["GradientsNorm"] = None
        d["LineSearchStatus"] = ""
        d["LineSearchMethod"] = ""
        d["MaxNumLineSearchIterations"] = 0
        d["_evaluations"] = 0

    # -- read-only properties --------------------------------------------------------------------
    @property
    def HistorySize(self):
        return self._m

    @property
    def InitialInverseHessianFactor(self):
        return self._lambda0

    @property
    def InverseHessianFactor(self):
        if not self._order:
            return self._lambda0
        j = self._order[-1]
        s, y = self._S[j], self._Y[j]
        s, y = s.astype(np.float64), y.astype(np.float64)
        return float(np.dot(s, y) / np.dot(y, y))

    @property
    def StepHistory(self):
        return [self._rebuild(v) for v in self._S]

    @property
    def GradientsDifferenceHistory(self):
        return [self._rebuild(v) for v in self._Y]

    @property
    def HistoryIndices(self):
        return np.array(self._order, dtype=np.int64)

    @property
    def num_loss_evaluations(self):
        """How many times the last update called lossFcn (no MATLAB counterpart; for teaching and benchmarks)."""
        return self._evaluations

    def __setattr__(self, name, value):
        if name in self._PROPERTIES or name == "num_loss_evaluations":
            how = (f"Create a new state instead: solverState = lbfgsState({name}={value!r})"
                   if name in self._SETTABLE_AT_CREATION else
                   "It is set by lbfgsupdate; pass the state back unchanged: net, solverState = "
                   "lbfgsupdate(net, lossFcn, solverState)")
            raise ReadOnlyPropertyError(
                f"lbfgsState: {name} is read-only (as in MATLAB). {how}.")
        raise ReadOnlyPropertyError(
            f"lbfgsState has no property {name!r}, and its properties are read-only. Its properties: "
            + ", ".join(self._PROPERTIES) + ".")

    def __delattr__(self, name):
        raise ReadOnlyPropertyError(f"lbfgsState: {name} cannot be deleted (the state's properties are read-only).")

    def __repr__(self):
        def show(v):
            if v is None:
                return "[]"
            if isinstance(v, str):
                return f'"{v}"'
            if isinstance(v, list):
                return f"{{1x{len(v)} cell}}" if v else "{}"
            if isinstance(v, np.ndarray):
                return "[" + " ".join(str(int(i)) for i in v) + "]"
            if isdlarray(v) or isinstance(v, np.ndarray):
                return f"{float(np.asarray(value_of(v)).reshape(-1)[0]):.6g} ({size_text(v)})"
            if isinstance(v, numbers.Number):
                return f"{float(v):.6g}"
            return type(v).__name__
        lines = ["lbfgsState with properties:", ""]
        for name in self._PROPERTIES:
            v = getattr(self, name)
            if name in ("StepHistory", "GradientsDifferenceHistory"):
                v = [None] * len(self._S)
            if name == "Gradients" and v is not None:
                v = type(v).__name__
                lines.append(f"    {name:>28}: [{v}]")
                continue
            lines.append(f"    {name:>28}: {show(v)}")
        return "\n".join(lines)


# -------------------------------------------------------------------------------------------------
# parameters <-> one vector

class _Problem:
    """The parameters as one flat vector, and lossFcn as phi(x) -> (f, g, outputs)."""

    def __init__(self, params, lossFcn, nout):
        self.network = params if isinstance(params, dlnetwork) else None
        if self.network is not None:
            container = self.network.Learnables
            if any(v is None for v in container.Value):
                raise UpdaterArgumentError(
                    "lbfgsupdate: the network is not initialized (created with Initialize=False, its learnables "
                    "are still empty []). Initialize it first: net = initialize(net).")
            prefix = "net.Learnables"
        else:
            container = params
            prefix = "params"
        leaves, treedef = tree.flatten(container)
        if not leaves:
            raise UpdaterArgumentError(f"lbfgsupdate: there are no learnable parameters in {kind_text(params)}.")
        arrays = []
        for i, leaf in enumerate(leaves):
            raw = data_of(leaf)
            if isbox(raw):
                raise UpdaterArgumentError(
                    "lbfgsupdate: the parameters are being traced by dlfeval. Call lbfgsupdate in the training "
                    "loop, not inside the model loss function; lbfgsupdate calls lossFcn (and so dlfeval) itself.")
            arrays.append(param_array("lbfgsupdate", leaf, i, container, prefix))
        self.container, self.leaves, self.treedef, self.prefix = container, leaves, treedef, prefix
        self.shapes = [a.shape for a in arrays]
        self.dtypes = [a.dtype for a in arrays]
        self.sizes = [a.size for a in arrays]
        self.offsets = np.cumsum([0] + self.sizes)
        # single wins: any float32 learnable makes the vector float32
        self.dtype = np.dtype(np.float32) if any(d == np.float32 for d in self.dtypes) else np.dtype(np.float64)
        self.x0 = np.concatenate([a.reshape(-1) for a in arrays]).astype(self.dtype, copy=False)
        self.signature = (treedef, tuple(self.shapes), self.dtype)
        self.lossFcn = lossFcn
        self.nout = nout
        self.evaluations = 0

    def unflatten(self, x):
        """A container like the learnables (Table / dict / ...) holding the values of x."""
        out = []
        for leaf, shape, dtype, a, b in zip(self.leaves, self.shapes, self.dtypes, self.offsets[:-1], self.offsets[1:]):
            v = x[a:b].reshape(shape)
            if v.dtype != dtype:
                v = v.astype(dtype)
            else:
                v = v.copy()  # never share memory between the parameters and the solver's vectors
            out.append(pack_like(leaf, v))
        return self.treedef.unflatten(out)

    def params_at(self, x):
        values = self.unflatten(x)
        return with_learnables(self.network, values) if self.network is not None else values

    def flatten_gradients(self, grads):
        """The gradients returned by lossFcn as one vector (checked against the parameters)."""
        if grads is None:
            _v.fail("lbfgsupdate", "the gradients returned by lossFcn (its second output)",
                    "the gradients that dlgradient returned, with the structure of the parameters", None,
                    cls=UpdaterArgumentError)
        leaves, treedef = tree.flatten(grads)
        if treedef != self.treedef:
            collected = []
            try:
                tree.tree_map(lambda p, o: collected.append(o), self.container, grads)
            except StructureMismatchError as e:
                what = "net.Learnables" if self.network is not None else "the parameters"
                raise StructureMismatchError(
                    f"lbfgsupdate: the gradients returned by lossFcn do not match {what}. {e} The model loss "
                    f"function must return the gradients of the loss with respect to {what}: gradients = "
                    f"dlgradient(loss, {'net.Learnables' if self.network is not None else 'parameters'}), "
                    "and return loss, gradients in that order.") from None
            leaves = collected
        parts = []
        for i, (leaf, shape) in enumerate(zip(leaves, self.shapes)):
            raw = value_of(leaf) if leaf is not None else None
            arr = raw if isinstance(raw, np.ndarray) else (None if raw is None else np.asarray(raw))
            where = tree.leaf_paths(grads, "gradients")[i] if arr is None or arr.shape != shape else ""
            if arr is None:
                _v.fail("lbfgsupdate", where, "a gradient array", None, cls=UpdaterArgumentError)
            if arr.dtype.kind not in "fiu":
                raise UpdaterArgumentError(f"lbfgsupdate: {where or 'a gradient'} is {_v.describe(leaf)}; "
                                           "gradients must be real numeric arrays.")
            if arr.shape != shape:
                raise UpdaterArgumentError(
                    f"lbfgsupdate: {where} has size {size_text(arr)} but its parameter has size "
                    f"{'x'.join(map(str, shape))}. Return dlgradient(loss, <the parameters>) from the loss function.")
            parts.append(arr.reshape(-1))
        return np.concatenate(parts).astype(self.dtype, copy=False)

    def evaluate(self, x):
        """phi(x): (loss as float, gradient vector, loss object, gradients object, extra outputs)."""
        self.evaluations += 1
        out = self.lossFcn(self.params_at(x))
        loss, grads, extras = _check_outputs(out, self.nout)
        f = float(_loss_value(loss))
        return f, self.flatten_gradients(grads), loss, grads, extras


def _loss_value(loss):
    if isinstance(loss, (bool, np.bool_)) or loss is None:
        raise UpdaterArgumentError(f"lbfgsupdate: the loss returned by lossFcn is {_v.describe(loss)}; expected a "
                                   "real scalar.")
    raw = value_of(loss)
    if isbox(raw):
        raise UpdaterArgumentError(
            "lbfgsupdate: lossFcn returned a traced loss. Call the model loss function through dlfeval inside "
            "lossFcn:\n\n" + _EXAMPLE)
    try:
        arr = np.asarray(raw)
    except Exception:  # pragma: no cover - exotic objects
        arr = np.asarray(None)
    if arr.dtype.kind not in "fiu":
        hint = (" Its first output looks like the gradients: return loss, gradients (in that order)."
                if tree.is_container(loss) else "")
        raise UpdaterArgumentError(
            f"lbfgsupdate: the loss returned by lossFcn (its first output) is {_v.describe(loss)}; expected a real "
            f"scalar.{hint}")
    if arr.size != 1:
        raise NonScalarLossError(
            f"lbfgsupdate: the loss returned by lossFcn has size {size_text(loss)}; L-BFGS minimizes one number. "
            "Reduce it to a scalar in the model loss function (e.g. l2loss / mse / crossentropy return the mean, "
            "or use sum(...)/mean(...)).")
    return arr.reshape(())


def _check_outputs(out, nout):
    if not isinstance(out, (tuple, list)):
        raise UpdaterArgumentError(
            f"lbfgsupdate: lossFcn must return the loss AND the gradients, (loss, gradients); it returned only "
            f"{_v.describe(out)}. L-BFGS needs the gradients at every trial point of its line search. Return "
            "both from the model loss function:\n\n    def modelLoss(net, X, T):\n        ...\n        gradients = "
            "dlgradient(loss, net.Learnables)\n        return loss, gradients\n\n" + _EXAMPLE)
    n = len(out)
    if n != nout:
        if n < 2:
            raise UpdaterArgumentError(
                f"lbfgsupdate: lossFcn returned {n} value(s); it must return (loss, gradients). " + _EXAMPLE)
        raise UpdaterArgumentError(
            f"lbfgsupdate: lossFcn returned {n} values but NumLossFunctionOutputs is {nout}. If the extra outputs "
            f"are wanted (e.g. the network state), pass NumLossFunctionOutputs={n}: lbfgsupdate stores them in "
            "solverState.ExtraOutputs (MATLAB: lbfgsupdate(net, lossFcn, solverState, NumLossFunctionOutputs="
            f"{n})). Otherwise return just (loss, gradients).")
    return out[0], out[1], list(out[2:])


# -------------------------------------------------------------------------------------------------
# two-loop recursion

def _two_loop(g, S, Y, rho, order, lam):
    """r = H g for the L-BFGS matrix H of the pairs (S[j], Y[j]), j in ``order`` (oldest first), H_0 = lam I."""
    q = g.astype(np.float64)
    alphas = []
    for j in reversed(order):
        a = rho[j] * np.dot(S[j], q)
        q -= a * Y[j]
        alphas.append(a)
    r = lam * q
    for j, a in zip(order, reversed(alphas)):
        b = rho[j] * np.dot(Y[j], r)
        r += (a - b) * S[j]
    return r


# -------------------------------------------------------------------------------------------------
# line searches: phi(eta) -> (f, dphi, payload); each returns (eta, f, payload) or None

def _backtracking(phi, f0, d0, max_evals):
    eta = 1.0
    for _ in range(max_evals):
        f, _d, pay = phi(eta)
        if math.isfinite(f) and f <= f0 + _C1 * eta * d0:
            return eta, pay
        eta *= 0.5
    return None


def _weak_wolfe(phi, f0, d0, max_evals):
    lo, hi, eta = 0.0, math.inf, 1.0
    for _ in range(max_evals):
        f, d, pay = phi(eta)
        if not math.isfinite(f) or f > f0 + _C1 * eta * d0:
            hi = eta
        elif d < _C2 * d0:
            lo = eta
        else:
            return eta, pay
        eta = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * lo
    return None


def _cubic_min(a, fa, da, b, fb, db):
    """Minimizer of the cubic interpolating (a, fa, da), (b, fb, db), clamped to [min(a,b), max(a,b)]."""
    lo, hi = min(a, b), max(a, b)
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    sq = d1 * d1 - da * db
    if sq >= 0 and math.isfinite(sq):
        d2 = math.copysign(math.sqrt(sq), b - a)
        denom = db - da + 2.0 * d2
        if denom != 0 and math.isfinite(denom):
            t = b - (b - a) * (db + d2 - d1) / denom
            if math.isfinite(t):
                return min(max(t, lo), hi)
    return 0.5 * (lo + hi)


def _strong_wolfe(phi, f0, d0, max_evals):
    evals = 0
    prev = (0.0, f0, d0)
    eta = 1.0
    while evals < max_evals:
        f, d, pay = phi(eta)
        evals += 1
        if not math.isfinite(f) or f > f0 + _C1 * eta * d0 or (evals > 1 and f >= prev[1]):
            return _zoom(phi, f0, d0, prev, (eta, f, d), max_evals - evals)
        if abs(d) <= -_C2 * d0:
            return eta, pay
        if d >= 0:
            return _zoom(phi, f0, d0, (eta, f, d), prev, max_evals - evals)
        prev = (eta, f, d)
        eta = 2.0 * eta  # still descending steeply: try a longer step
    return None


def _zoom(phi, f0, d0, lo, hi, max_evals):
    """Nocedal & Wright Algorithm 3.6: lo satisfies sufficient decrease and has the lower loss."""
    for _ in range(max_evals):
        a, b = lo[0], hi[0]
        if not math.isfinite(hi[1]):
            eta = 0.5 * (a + b)
        else:
            eta = _cubic_min(a, lo[1], lo[2], b, hi[1], hi[2])
        width = abs(b - a)
        if width == 0:
            return None
        # safeguard: stay at least 10 % of the interval away from its ends
        left, right = min(a, b), max(a, b)
        if eta < left + 0.1 * width or eta > right - 0.1 * width:
            eta = 0.5 * (a + b)
        f, d, pay = phi(eta)
        if not math.isfinite(f) or f > f0 + _C1 * eta * d0 or f >= lo[1]:
            hi = (eta, f, d)
        else:
            if abs(d) <= -_C2 * d0:
                return eta, pay
            if d * (b - a) >= 0:
                hi = lo
            lo = (eta, f, d)
    return None


_SEARCHES = {"weak-wolfe": _weak_wolfe, "strong-wolfe": _strong_wolfe, "backtracking": _backtracking}


# -------------------------------------------------------------------------------------------------
# the update

def _check_lossfcn(lossFcn, params):
    if callable(lossFcn) and not isinstance(lossFcn, dlnetwork):
        try:
            sig = inspect.signature(lossFcn)
        except (TypeError, ValueError):  # builtins without a signature
            return
        try:
            sig.bind(params)
        except TypeError:
            raise UpdaterArgumentError(
                f"lbfgsupdate: lossFcn must accept one argument, the network (or parameters) to evaluate; "
                f"{getattr(lossFcn, '__name__', 'it')}{sig} does not. lbfgsupdate calls lossFcn(net) at every trial "
                "point of its line search. Wrap the model loss function:\n\n" + _EXAMPLE) from None
        return
    if isinstance(lossFcn, tuple) and len(lossFcn) >= 2:
        hint = ("This looks like the result of dlfeval, (loss, gradients): pass the function that computes it, "
                "not its result. L-BFGS evaluates the loss at several points per update (line search).")
    elif tree.is_container(lossFcn) or isdlarray(lossFcn) or isinstance(lossFcn, np.ndarray):
        hint = ("These look like gradients. Unlike adamupdate, lbfgsupdate takes a FUNCTION that returns (loss, "
                "gradients): L-BFGS evaluates the loss at several points per update (line search).")
    else:
        hint = "lbfgsupdate calls lossFcn(net) and expects (loss, gradients) back."
    _v.fail("lbfgsupdate", "lossFcn (the second argument)", "a function of the network that returns (loss, "
            "gradients), e.g. lambda net: dlfeval(modelLoss, net, X, T)", lossFcn,
            hint=hint + "\n\n" + _EXAMPLE, cls=UpdaterArgumentError)


def _check_state(solverState):
    if isinstance(solverState, lbfgsState):
        return
    if solverState is None:
        raise UpdaterArgumentError(
            "lbfgsupdate: solverState is None. Unlike adamupdate's state, the L-BFGS state is an object: create "
            "it once before the loop with solverState = lbfgsState() (MATLAB: solverState = lbfgsState;) and "
            "afterwards pass back the solverState that lbfgsupdate returned.")
    hint = ""
    if isinstance(solverState, tuple):
        hint = (" A tuple: lbfgsupdate returns two values; unpack them: net, solverState = "
                "lbfgsupdate(net, lossFcn, solverState).")
    _v.fail("lbfgsupdate", "solverState (the third argument)", "an lbfgsState object (create it with "
            "solverState = lbfgsState())", solverState, hint=hint.strip(), cls=UpdaterArgumentError)


def _new_state(old, **changes):
    new = lbfgsState.__new__(lbfgsState)
    new.__dict__.update(old.__dict__)
    for k in ("_S", "_Y", "_rho", "_order"):
        new.__dict__[k] = list(old.__dict__[k])
    new.__dict__.update(changes)
    return new


def lbfgsupdate(net, lossFcn, solverState, *, LineSearchMethod="weak-wolfe", MaxNumLineSearchIterations=20,
                NumLossFunctionOutputs=2):
    """One L-BFGS update (MATLAB ``lbfgsupdate``, R2023a) -> ``(net, solverState)``.

    ``net, solverState = lbfgsupdate(net, lossFcn, solverState)`` updates the learnables of a dlnetwork
    (or of a parameter container: dict / list / Table / array, the model-function style) with one
    quasi-Newton step ``x_new = x - eta H g`` (H: the L-BFGS inverse-Hessian approximation by the
    two-loop recursion with H_0 = lambda_k I, lambda_k = s'y / y'y of the newest pair, lambda_0 =
    InitialInverseHessianFactor; eta: the line search's step, first trial 1). See the module docstring
    for the formulas and the decisions.

    ``lossFcn(net) -> (loss, gradients)`` (MATLAB ``@(net) dlfeval(@modelLoss, net, X, T)``): the loss a
    real scalar, the gradients with the structure of ``net.Learnables`` (or of the parameters).
    ``solverState``: ``lbfgsState()`` on the first call, afterwards what lbfgsupdate returned.

    Options (MATLAB's name-value arguments): ``LineSearchMethod`` "weak-wolfe" (default), "strong-wolfe"
    or "backtracking"; ``MaxNumLineSearchIterations`` (default 20) loss evaluations per line search;
    ``NumLossFunctionOutputs`` (default 2): with more, lossFcn's extra outputs (e.g. the network state)
    are stored in ``solverState.ExtraOutputs``.
    """
    method = _v.option("lbfgsupdate", "LineSearchMethod", LineSearchMethod, _METHODS)
    max_evals = _v.integer("lbfgsupdate", "MaxNumLineSearchIterations", MaxNumLineSearchIterations, minimum=1,
                           maximum=10**6)
    nout = _v.integer("lbfgsupdate", "NumLossFunctionOutputs", NumLossFunctionOutputs, minimum=2, maximum=1000,
                      hint="lossFcn returns at least (loss, gradients).")
    if net is None:
        _v.fail("lbfgsupdate", "net (the first argument)", "a dlnetwork or the learnable parameters (a dict / "
                "list of arrays)", None, cls=UpdaterArgumentError)
    if isinstance(net, lbfgsState):
        raise UpdaterArgumentError("lbfgsupdate: the first argument is the solver state; the order is "
                                   "lbfgsupdate(net, lossFcn, solverState).")
    _check_state(solverState)
    _check_lossfcn(lossFcn, net)
    prob = _Problem(net, lossFcn, nout)
    state = solverState
    if state._sig is not None and state._sig != prob.signature:
        raise StructureMismatchError(
            "lbfgsupdate: solverState belongs to other parameters (a different set of learnables or sizes: its "
            f"history was built for {_describe_sig(state._sig)}, these are {_describe_sig(prob.signature)}). "
            "Each network (or parameter set) needs its own state: create one with solverState = lbfgsState() "
            "when you start training a new model.")

    x = prob.x0
    if state._x is not None and state._x.shape == x.shape and np.array_equal(state._x, x):
        f, g, loss, grads, extras = state._f, state._g, state.Loss, state.Gradients, state.ExtraOutputs
    else:  # first call, or parameters changed by hand since the last call
        f, g, loss, grads, extras = prob.evaluate(x)
        if not math.isfinite(f):
            raise UpdaterArgumentError(
                f"lbfgsupdate: the loss at the given parameters is {f}; L-BFGS needs a finite starting loss. Check "
                "the data and the initial parameters (NaN in X, log(0) in the loss).")

    lam = state.InverseHessianFactor
    r = _two_loop(g, state._S, state._Y, state._rho, state._order, lam)
    d0 = -float(np.dot(g.astype(np.float64), r))
    if not d0 < 0:  # not a descent direction (numerically degenerate history): steepest descent
        r = lam * g.astype(np.float64)
        d0 = -float(np.dot(g.astype(np.float64), r))
    p = (-r).astype(prob.dtype)

    def phi(eta):
        xt = x + np.asarray(eta, dtype=prob.dtype) * p
        ft, gt, *rest = prob.evaluate(xt)
        return ft, float(np.dot(gt.astype(np.float64), p.astype(np.float64))), (xt, ft, gt, *rest)

    gnorm = np.sqrt(np.dot(g, g)) if g.size else g.dtype.type(0)
    if d0 == 0.0:  # zero gradient: already at a stationary point, nothing to search
        result = None
    else:
        result = _SEARCHES[method](phi, f, d0, max_evals)

    common = dict(_sig=prob.signature, _rebuild=prob.unflatten, LineSearchMethod=method,
                  MaxNumLineSearchIterations=max_evals, _evaluations=prob.evaluations)
    if result is None:
        status = "completed" if d0 == 0.0 else "failed"
        new = _new_state(state, _x=x, _g=g, _f=f, Loss=loss, Gradients=grads, ExtraOutputs=extras or None,
                         StepNorm=prob.dtype.type(0), GradientsNorm=prob.dtype.type(gnorm),
                         LineSearchStatus=status, **common)
        return net, new

    _eta, (xn, fn, gn, loss_n, grads_n, extras_n) = result
    s = xn - x
    y = gn - g
    sy = float(np.dot(s.astype(np.float64), y.astype(np.float64)))
    new = _new_state(state, _x=xn, _g=gn, _f=fn, Loss=loss_n, Gradients=grads_n, ExtraOutputs=extras_n or None,
                     StepNorm=prob.dtype.type(np.sqrt(np.dot(s, s))), GradientsNorm=prob.dtype.type(np.sqrt(np.dot(gn, gn))),
                     LineSearchStatus="completed", **common)
    d = new.__dict__
    if not (sy > 0 and math.isfinite(sy)):  # negative curvature along s (backtracking only): restart the history
        d["_S"], d["_Y"], d["_rho"], d["_order"] = [], [], [], []
    else:
        if len(d["_order"]) < state._m:
            slot = len(d["_order"])
            d["_S"].append(s)
            d["_Y"].append(y)
            d["_rho"].append(1.0 / sy)
        else:
            slot = d["_order"].pop(0)
            d["_S"][slot], d["_Y"][slot], d["_rho"][slot] = s, y, 1.0 / sy
        d["_order"].append(slot)
    return prob.params_at(xn), new


def _describe_sig(sig):
    treedef, shapes, dtype = sig
    n = sum(int(np.prod(s)) for s in shapes)
    return f"{len(shapes)} arrays, {n} {dtype} values"
