"""Check code of lesson 02, notebooks/02_squared_error_from_primitives.py.

Six exercises, ten graded cells (11 points) -- each part is one graded test cell, ``exN.check("part")``,
whose hidden block re-runs it with a seed (other sizes, other random inputs, other weights):

* ex1 ``sum_of_means``          rule        NNC's loss: the mean of every terminal output, summed (1)
* ex2 ``network_C_settings``    settings    one Mean over concatenated outputs of different sizes (2)
* ex3 ``weighted_bce``          bce, weighted   a weighted binary cross-entropy from primitives (1 + 1)
* ex4 ``huber_loss``, ``huber_gradient``   loss, gradient   Huber from primitives, slope by hand (1 + 1)
* ex5 ``modelLoss``             loss, gradients   the autoencoder's model loss function (1 + 1)
* ex6 ``runtimeNetwork``        output, batchstat   NNC's Runtime network by hand (1 + 1)

Every check is self-contained: it builds its own inputs (small networks, random parameters and statistics)
and compares with references computed independently (float64 hand formulas, NNC's built-in layers through
``dlgradient``), so a learner's notebook variables cannot break or fool it. Tolerances: float32 results of
a few operations against float64 references use rtol 1e-5 (float32 carries ~7 digits; each value is a
handful of roundings); values passed through exp/log chains and matrix products of the networks use 1e-4;
the Huber checks scale atol with delta (the float32 rounding of delta (2|d| - delta) is relative to delta).

The solutions shown by ``exN.solution()`` are sealed (not readable in this file); the instructor notebook has them,
and ``python -c "from dlteach.exercises.lesson02 import ex2; from dlteach.checks import unseal;
print(unseal(ex2.solution_text))"`` prints one.
"""

from __future__ import annotations

import numpy as np

from .. import nnc
from ..checks import Exercise, Sealed, ____  # noqa: F401  (____ is re-exported for the notebook)
from ..dlarray import dlarray, extractdata
from ..errors import NotTracedError

F32 = dict(rtol=1e-5, atol=1e-7)     # a few float32 operations against a float64 reference
NET = dict(rtol=1e-4, atol=1e-6)     # float32 network outputs (matrix products, exp) against float64


def _np(x):
    return np.asarray(extractdata(x)) if type(x).__name__ == "dlarray" else np.asarray(x)


def _close(a, b, tol):
    a, b = _np(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a.astype(np.float64), b, **tol))


def _traced(c, label, fun, *inputs):
    """dlfeval(fun, *inputs) with the learner's code inside; errors become verdicts."""
    from ..autodiff import dlfeval
    try:
        return dlfeval(fun, *inputs)
    except NotImplementedError:
        c.not_attempted(f"{label} still raises NotImplementedError: replace the stub with your code.")
    except NotTracedError as err:
        c.fail(f"{label}: dlgradient cannot follow your computation.", str(err))
    except Exception as err:  # noqa: BLE001 - the learner's code
        c.fail(f"{label} raised {type(err).__name__}: {err}")


def _grad_of_mean(c, label, fn, x0, x1):
    """d mean(fn(x0, x1)) / d x0 through dlgradient."""
    from ..autodiff import dlgradient

    def lossAndGradient(a, b):
        loss = nnc.nnc_loss(fn(a, b))
        return loss, dlgradient(loss, a)
    return _traced(c, label, lossAndGradient, x0, x1)[1]


class _Spy:
    """Counts calls of nnc.<name> while the learner's function runs (a built-in it must not use)."""

    def __init__(self, name):
        self.name, self.calls = name, 0

    def __enter__(self):
        self.original = getattr(nnc, self.name)

        def spy(*args, **kwargs):
            self.calls += 1
            return self.original(*args, **kwargs)
        setattr(nnc, self.name, spy)
        return self

    def __exit__(self, *exc):
        setattr(nnc, self.name, self.original)
        return False


# ================================================================================================ ex1
ex1 = Exercise(
    "ex1", "sum_of_means: the loss NNC minimises",
    hints=[
        "NNC reduces each terminal output on its own: one mean per output, then one sum over the outputs. "
        "Inside dlfeval the result must stay a dlarray, so that dlgradient can follow every operation back "
        "to the inputs.",
        "np.mean(y) on a dlarray returns a 1 x 1 dlarray, and + between dlarrays is recorded. Network B "
        "above does the same with nnc.Mean and nnc.Add2 for exactly two outputs; your function must work "
        "for any number of them.",
        "loss = 0\nfor y in terminals:\n    loss = loss + ____\nreturn loss",
    ],
    solution=Sealed("eNpLSU1TKC7Njc9Pi89NTcwr1ihJLcrNzEvMKda04lIAgpz84mIFWwUDMCctv0ihUiEzTwGuCqIISSGY0lbIK9ADmadRqQmUUlYA6svLS9bzhQhZg6zUQFKCaa6mQnl+UXaxQkl+PtiGotSS0qI8sOkAokM4oA=="),
)


def _untraced(fn, xs):
    """Why sum_of_means cut the gradient, told from what it returns outside dlfeval."""
    lines = ["sum_of_means gives the right number, but dlgradient cannot differentiate it: inside dlfeval "
             "its result is no longer a dlarray, so the recording of the operations is cut."]
    try:
        out = fn(list(xs))
    except Exception:  # noqa: BLE001
        out = None
    if isinstance(out, float):
        lines.append("It returns a Python float: remove float(...) and keep the dlarray that np.mean returns.")
    elif isinstance(out, (np.ndarray, np.generic)):
        lines.append(f"It returns a NumPy {type(out).__name__}: a NumPy function received a Python LIST of "
                     "dlarrays (np.sum([...]), np.mean([...]) and np.array([...]) first copy the list into a "
                     "plain NumPy array), or extractdata(...) was used.")
    lines.append("Add the means with + (in a loop, or with Python's built-in sum(...)): the result then stays "
                 "a dlarray.")
    return lines


@ex1.part("rule", "the mean of every terminal output, summed; differentiable")
def _ex1_rule(c):
    from ..autodiff import dlfeval, dlgradient
    f = c.get("sum_of_means", "function")
    if not c.hidden:
        a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)      # mean 3.5
        b = np.array([[10.0], [0.0]], np.float32)                         # mean 5.0
        got = float(_np(c.call("sum_of_means([a, b])", f, [a, b])))
        if np.isclose(got, 31 / 8):
            c.fail(f"sum_of_means([a, b]) = {got:.6g} for a = [[1, 2, 3], [4, 5, 6]] and b = [[10], [0]]: that "
                   "is the mean of all 8 numbers together.",
                   "NNC averages each terminal output on its own, then adds the averages.")
        if np.isclose(got, 31.0):
            c.fail(f"sum_of_means([a, b]) = {got:.6g}: that is the sum of all the numbers. NNC takes the MEAN "
                   "of each output.")
        c.close("sum_of_means([a, b]) for a = [[1, 2, 3], [4, 5, 6]], b = [[10], [0]]", got, 8.5,
                rtol=1e-6, atol=0, why="exact small numbers")
        c.close("sum_of_means([a]) (one terminal output)", float(_np(c.call("sum_of_means([a])", f, [a]))),
                3.5, rtol=1e-6, atol=0, why="exact small numbers")
        shapes = [(2, 3), (4, 1)]
    else:
        shapes = [tuple(int(n) for n in c.rng.integers(1, 7, size=2)) for _ in range(3)] + [(1, 1)]
    xs = [dlarray(c.rng.normal(size=s).astype(np.float32)) for s in shapes]
    weights = [float(k + 2) for k in range(len(xs))]

    def lossAndGradients(*xs):
        loss = f([w * x ** 2 for w, x in zip(weights, xs)])      # terminal output k: w_k x_k^2
        return loss, dlgradient(loss, *xs)
    try:
        loss, grads = dlfeval(lossAndGradients, *xs)
    except NotImplementedError:
        c.not_attempted("sum_of_means still raises NotImplementedError: replace the stub with your code.")
    except NotTracedError:
        c.fail(*_untraced(f, xs))
    except Exception as err:  # noqa: BLE001
        c.fail(f"inside dlfeval, dlgradient could not differentiate sum_of_means(...): "
               f"{type(err).__name__}: {err}",
               "The result must be a scalar dlarray computed from the inputs.")
    if not isinstance(grads, tuple):
        grads = (grads,)
    ref = sum(w * float(np.mean(_np(x).astype(np.float64) ** 2)) for w, x in zip(weights, xs))
    c.close(f"the loss of {len(xs)} terminal outputs of sizes {shapes} (inside dlfeval)", loss, ref,
            rtol=1e-5, atol=1e-7, dtype=np.float32, why="float32 means of a few numbers; float32 stays float32")
    for k, (w, x, g) in enumerate(zip(weights, xs, grads)):
        expected = 2 * w * _np(x).astype(np.float64) / _np(x).size     # d mean(w x^2) / dx = 2 w x / n
        c.close(f"dlgradient through sum_of_means, terminal output {k + 1}", g, expected, rtol=1e-5, atol=1e-7,
                why="2 w x / n by hand")


# ================================================================================================ ex2
ex2 = Exercise(
    "ex2", "network C: one Mean over outputs of different sizes",
    hints=[
        "Write both losses with the same two numbers: m1 = mean(SquaredError), over its P*N elements, and "
        "m2 = mean(|h|), over its K*N elements. NNC's loss of network A is m1 + lam * m2.",
        "One Mean over the concatenated output divides the sum of ALL its (P + K) * N numbers by (P + K) * N. "
        "The sum of the P*N reconstruction errors is P * N * m1; what is the sum of the K*N penalty values "
        "lamC * |h|?",
        "loss_C = (P * m1 + K * lamC * m2) / (P + K). Choose c so that c * loss_C has the factor 1 in front of "
        "m1, then lamC so that the factor in front of m2 is lam:\n"
        "c = ____\nlamC = ____\nreturn c, lamC",
    ],
    solution=Sealed("eNpNz0EKwyAQBdB9T/GhG7UBSZeFdONSCHODEIwtpYkBtfT6nWigcaV/Hn9w8g8En79rfA9mSD7nV3gmQQ1sg3lc5O0EPmfMa0qDQQdBqldLiwssX5gYtVwlNISgLZSql5Xt6Eiq2Csd1L+2YKYsge4OOEV69zxugTFMW1oLDyN+lkJXttZUg0q20Up4F3FsSxx9/sQAV75ofsgmP3o="),
)


@ex2.part("settings", "c and lamC for any sizes P, K and weight lam")
def _ex2_settings(c):
    f = c.get("network_C_settings", "function")
    if c.hidden:
        cases = [(int(c.rng.integers(50, 900)), int(c.rng.integers(2, 400)), float(c.rng.uniform(1e-3, 3)))
                 for _ in range(3)] + [(1, 1, 1.0)]
    else:
        cases = [(784, 32, 0.01), (10, 5, 0.5)]
    for P, K, lam in cases:
        label = f"network_C_settings({P}, {K}, {lam:g})"
        out = c.call(label, f, P, K, lam)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            c.fail(f"{label} should return two numbers, (c, lamC); got {out!r}.")
        try:
            cc, lamC = (float(_np(v)) for v in out)
        except (TypeError, ValueError):
            c.fail(f"{label} should return two numbers, (c, lamC); got {out!r}.")
        # c * loss_C = wE * m1 + wH * m2 must equal loss_A = 1 * m1 + lam * m2 for every batch
        wE, wH = cc * P / (P + K), cc * K * lamC / (P + K)
        for _ in range(2):                      # two random batches: both weights must match, not one sum
            N = int(c.rng.integers(1, 9))
            E = c.rng.random((P, N)) ** 2
            H = c.rng.random((K, N))
            lossA = E.mean() + lam * H.mean()
            lossC = (E.sum() + lamC * H.sum()) / ((P + K) * N)
            if not np.isclose(cc * lossC, lossA, rtol=1e-6, atol=0):
                c.fail(f"for P = {P}, K = {K}, lam = {lam:g} you return c = {cc:.6g}, lamC = {lamC:.6g}.",
                       f"Then c * loss_C = {wE:.6g} * m1 + {wH:.6g} * m2, but NNC's loss of network A is "
                       f"1 * m1 + {lam:g} * m2 (m1 = mean of the squared errors, m2 = mean of |h|).",
                       "Both factors must match, whatever the values in the batch.")
        c.passed(f"{label}: c * loss_C = loss_A on random batches (rtol 1e-6, float64 arithmetic)")


# ================================================================================================ ex3
ex3 = Exercise(
    "ex3", "weighted_bce: a weighted binary cross-entropy from primitives",
    hints=[
        "Per element there are two terms: the ink term t * ln(x), multiplied by w, and the background term "
        "(1 - t) * ln(1 - x). The loss is MINUS their sum. Nothing is averaged inside the layer.",
        "Building blocks that work on dlarrays and are recorded for dlgradient: nnc.Log or np.log, "
        "nnc.RSubScalar(x, 1) or 1 - x, nnc.Mul2 / nnc.MulScalar or *, nnc.Add2 or +. The section 'Other "
        "losses' builds the absolute error the same way.",
        "ink = w * t * ____\nbackground = (1 - t) * ____\nreturn -(ink + background)",
    ],
    solution=Sealed("eNptkMEOgjAMhu8+xZ94WRGIcCTx4F0v8gAG2AQiGWSOsMe3TBRj7GVru35//0l1w6TaurFKXstKCRfChpgOSbynbAOOVt9xgNZVfB67vCq6woglSwW/ne+nvhaOiAcJ/2OLCRadhvPQsqjutelHLVd26rGXfCwXFYYntAr8dN3cJfJskUSWmM6nIy9glB2N/rP2UcpUsKfwawcWiZLXHO/Z2gb9oExhe/PI3qRITAjYQgA9xJ33ix0LIwJLf6pzzj/xBBJfYd4="),
)


def _bce_inputs(c):
    if not c.hidden:
        x = np.array([[0.1, 0.5, 0.9], [0.3, 0.8, 0.6]], np.float32)
        t = np.array([[0.0, 1.0, 1.0], [0.25, 0.0, 1.0]], np.float32)
        return dlarray(x, "CB"), dlarray(t, "CB")
    shape = (int(c.rng.integers(2, 5)), int(c.rng.integers(2, 5)), 1, int(c.rng.integers(1, 4)))
    x = c.rng.uniform(0.02, 0.98, size=shape).astype(np.float32)
    t = np.where(c.rng.random(shape) < 0.4, c.rng.random(shape), c.rng.integers(0, 2, shape))
    return dlarray(x, "SSCB"), dlarray(t.astype(np.float32), "SSCB")


def _bce_ref(x, t, w):
    x, t = _np(x).astype(np.float64), _np(t).astype(np.float64)
    value = -(w * t * np.log(x) + (1 - t) * np.log(1 - x))
    slope = (-w * t / x + (1 - t) / (1 - x)) / x.size                  # d mean(value) / dx
    return value, slope


def _check_bce(c, f, x, t, w):
    label = "weighted_bce(x, t)" if w is None else f"weighted_bce(x, t, {w:g})"
    args = (x, t) if w is None else (x, t, w)
    w = 1.0 if w is None else w
    with _Spy("BinaryCrossEntropy") as spy:
        y = c.call(label, f, *args)
    if spy.calls:
        c.fail("weighted_bce calls nnc.BinaryCrossEntropy: build it from primitives (Log, Mul2, ...).")
    value, slope = _bce_ref(x, t, w)
    if type(y).__name__ != "dlarray":
        c.fail(f"{label} returned {type(y).__name__}; it should return a dlarray: work on the dlarrays with "
               "NumPy functions, operators or nnc layers (no extractdata).")
    if tuple(y.shape) != value.shape:
        c.fail(f"{label} has size {tuple(y.shape)}, but the inputs have size {value.shape}.",
               "A loss layer is element-wise: no mean or sum inside (NNC averages later).")
    if not _close(y, value, F32):
        if _close(y, -value, F32):
            c.fail(f"{label} has the wrong sign: the loss is MINUS (w t ln x + (1 - t) ln(1 - x)).")
        if w != 1 and _close(y, w * _bce_ref(x, t, 1.0)[0], F32):
            c.fail(f"{label}: you multiplied BOTH terms by w; only the t ln(x) term is weighted.")
        if w != 1 and _close(y, _bce_ref(x, t, 1.0)[0], F32):
            c.fail(f"{label} does not depend on w.")
    c.close(label, y, value, dtype=np.float32, why="a few float32 operations", **F32)
    g = _grad_of_mean(c, f"dlgradient of mean({label})", f if len(args) == 2 else
                      (lambda a, b: f(a, b, w)), x, t)
    c.close(f"dlgradient of mean({label}) with respect to x", g, slope, why="(-w t / x + (1 - t)/(1 - x)) / n",
            **F32)


@ex3.part("bce", "w = 1: NNC's BinaryCrossEntropy, element-wise, float32, differentiable")
def _ex3_bce(c):
    f = c.get("weighted_bce", "function")
    x, t = _bce_inputs(c)
    _check_bce(c, f, x, t, None)


@ex3.part("weighted", "a weight w on the ink term only")
def _ex3_weighted(c):
    f = c.get("weighted_bce", "function")
    x, t = _bce_inputs(c)
    for w in ((float(c.rng.uniform(0.2, 0.9)), float(c.rng.uniform(2, 12))) if c.hidden else (3.0,)):
        _check_bce(c, f, x, t, w)


# ================================================================================================ ex4
ex4 = Exercise(
    "ex4", "Huber loss from primitives, and its slope by hand",
    hints=[
        "Loss: a Python if cannot choose per element - compute the condition |d| < delta as an array and let "
        "NumPy choose. Slope: differentiate each piece with respect to x0; with d = x0 - x1, dd/dx0 = 1, and "
        "the derivative of |d| is the sign of d.",
        "np.where(condition, A, B) takes A where the condition holds and B elsewhere; it works on dlarrays and "
        "NumPy arrays, and dlgradient passes through it (np.minimum too). np.sign(d) is +1 or -1. At "
        "|d| = delta both pieces of the loss (and of the slope) must give the same value: check yours there.",
        "d = x0 - x1\ninside = np.abs(d) < delta\n"
        "loss:  return np.where(inside, ____, delta * (2 * np.abs(d) - delta))\n"
        "slope: return np.where(inside, ____, ____)",
    ],
    solution=Sealed("eNp1kEEOgjAQRfecYhI3LSIBlioLz+AeU5wqTaBoSyMLDu9gi1ETJ2k6Td78+b8oL9C4WppT21vLxiyBMU8AZTuIMk8zvo2ASkAJWp/TQ23ZfB9dXQSY8xdxn4lb2imtOtcxETQ4/NQKJpxAaatQBgZ6N8zPl46RgzOa5OIYCljTiQMVAxOwgTtfhLAqgtDOI5Uf8Dib92wWF8uKKMJ34qsRqKQe/qZGyjRmJDLmn94o5qORRjJqBH0Ictj72cTbTb5cE2XVVRPGn8C7ZzE="),
)


def _huber_ref(d, delta):
    d = np.asarray(d, np.float64)
    a = np.abs(d)
    value = np.where(a < delta, d ** 2, delta * (2 * a - delta))
    slope = np.where(a < delta, 2 * d, 2 * delta * np.sign(d))            # d value / d x0
    return value, slope


@ex4.part("loss", "huber_loss: both pieces, any delta, element-wise, float32, differentiable")
def _ex4_loss(c):
    f = c.get("huber_loss", "function")
    if not c.hidden:
        x0 = dlarray(np.array([[0.0, 0.5, 2.0, -3.0]], np.float32), "CB")
        x1 = dlarray(np.zeros((1, 4), np.float32), "CB")
        a = dlarray(c.rng.normal(size=(5, 6)).astype(np.float32), "CB")
        b = dlarray(c.rng.normal(size=(5, 6)).astype(np.float32), "CB")
        cases = [(x0, x1, None), (x0, x1, 2.5), (a, b, 0.3)]
    else:
        shape = (int(c.rng.integers(2, 4)), int(c.rng.integers(2, 5)), 1, int(c.rng.integers(1, 4)))
        a = dlarray(c.rng.normal(scale=2.0, size=shape).astype(np.float32), "SSCB")
        b = dlarray(c.rng.normal(size=shape).astype(np.float32), "SSCB")
        cases = [(a, b, float(c.rng.uniform(0.2, 0.8))), (a, b, None), (a, b, float(c.rng.uniform(2, 4)))]
    for x0, x1, delta in cases:
        dl = 1.0 if delta is None else delta
        label = "huber_loss(x0, x1)" if delta is None else f"huber_loss(x0, x1, {delta:g})"
        with _Spy("HuberLoss") as spy:
            y = c.call(label, f, *((x0, x1) if delta is None else (x0, x1, delta)))
        if spy.calls:
            c.fail("huber_loss calls nnc.HuberLoss: build it from primitives (Sub2, Abs, np.where, ...).")
        if type(y).__name__ != "dlarray":
            c.fail(f"{label} returned {type(y).__name__}; it should return a dlarray.")
        d = _np(x0).astype(np.float64) - _np(x1).astype(np.float64)
        value, slope = _huber_ref(d, dl)
        if tuple(y.shape) != value.shape:
            c.fail(f"{label} has size {tuple(y.shape)}, but the inputs have size {value.shape}: the loss layer "
                   "is element-wise (no mean or sum).")
        if _close(y, value / 2, F32) and not _close(y, value, F32):
            c.fail(f"{label} gives the textbook Huber values (1/2 d^2 inside); NNC's HuberLoss is twice that.")
        # float32 rounding of d = x0 - x1 and of delta (2|d| - delta) is relative to max(1, delta), not to y
        scale = max(1.0, dl)
        c.close(f"{label} (delta = {dl:g})", y, value, dtype=np.float32, rtol=1e-5, atol=1e-6 * scale ** 2,
                why="float32 rounding relative to delta")
        g = _grad_of_mean(c, f"dlgradient of mean({label})", lambda p, q, dl=dl: f(p, q, dl), x0, x1)
        c.close(f"dlgradient of mean({label})", g, slope / d.size, rtol=1e-5, atol=2e-6 * scale / d.size,
                why="NNC's HuberLoss slope / n; float32 rounding relative to delta")


@ex4.part("gradient", "huber_gradient: the slope derived by hand, both pieces, any delta")
def _ex4_gradient(c):
    from ..autodiff import dlfeval, dlgradient
    f = c.get("huber_gradient", "function")
    if not c.hidden:
        x0 = np.array([[0.0, 0.5, 2.0, -3.0, 1.0]], np.float32)
        x1 = np.zeros((1, 5), np.float32)
        a, b = c.rng.normal(size=(4, 6)).astype(np.float32), c.rng.normal(size=(4, 6)).astype(np.float32)
        cases = [(x0, x1, None), (x0, x1, 2.5), (a, b, 0.3)]
    else:
        shape = (int(c.rng.integers(2, 5)), int(c.rng.integers(3, 8)))
        a = c.rng.normal(scale=2, size=shape).astype(np.float32)
        b = c.rng.normal(size=shape).astype(np.float32)
        cases = [(a, b, float(c.rng.uniform(0.3, 0.9))), (a, b, None), (b, a, float(c.rng.uniform(2, 5)))]
    for x0, x1, delta in cases:
        dl = 1.0 if delta is None else delta
        label = "huber_gradient(x0, x1)" if delta is None else f"huber_gradient(x0, x1, {delta:g})"
        g = c.call(label, f, *((x0, x1) if delta is None else (x0, x1, delta)))

        def lossAndGradient(p, q, dl=dl):                    # the reference: NNC's layer through dlgradient
            loss = nnc.Sum(nnc.HuberLoss(p, q, dl))
            return loss, dlgradient(loss, p)
        reference = _np(dlfeval(lossAndGradient, dlarray(x0), dlarray(x1))[1]).astype(np.float64)
        # float32 x0 - x1 is rounded by about 6e-8 * max|x| (so 2d by twice that): atol 2e-6 covers |x| < 15
        tol = dict(rtol=1e-5, atol=2e-6 * max(1.0, dl))
        if g is not None and np.shape(_np(g)) == reference.shape and not _close(g, reference, tol):
            if _close(g, reference / 2, tol):
                c.fail(f"{label}: these are the slopes of the textbook Huber loss (1/2 d^2); NNC's is twice that.")
            if np.allclose(np.abs(_np(g).astype(np.float64)), np.abs(reference), **tol):
                c.fail(f"{label}: the sizes are right but some signs are wrong. Which way does the loss grow "
                       "when x0 moves above x1, and which way when it moves below?")
        c.close(f"{label} against dlgradient of NNC's HuberLoss", g, reference,
                why="float32 rounding of x0 - x1", **tol)


# ================================================================================================ ex5
ex5 = Exercise(
    "ex5", "modelLoss of the autoencoder",
    hints=[
        "A model loss function runs the network in training mode (batch statistics on), builds the loss from "
        "its output, differentiates the loss with respect to the learnables and hands the new state back to "
        "the loop. For an autoencoder the target is the input itself.",
        "Lesson 01's modelLoss with state, and the MATLAB column of the table: [Y,state] = forward(net,X) is "
        "forward(net, X, return_state=True) in Python. NNC's loss of one terminal output is "
        "nnc.nnc_loss(...) (or your sum_of_means([...])).",
        "Y, state = forward(net, X, return_state=True)\n"
        "loss = nnc.nnc_loss(nnc.PowScalar(____, 2))\n"
        "gradients = dlgradient(loss, ____)\nreturn loss, gradients, state",
    ],
    solution=Sealed("eNpNkDFrAzEMhff+igddznBkyHiQqWsIhXRopqA76xKDTw6yTP5+fb60VKDhIel7kjzPWJLneEw5d8LW49sNb6hx6ZGNjHHAnPRJ6l/1HspWVK6tfPjSwg7/4h2mFCTIraEHjGTTvcFCtjDlho/VsKJFpl3Na2z+VXym53miSNrUuYz77rIu1WPv3IY/nT4GLEyCNMPuDGNdglBEKvYo1vg3JR9YbDXx8Vd1q0+PesjuyKRCY+Ts2sB2FLaGv+nXE34AXKpfpQ=="),
)


def _ex5_case(c):
    from ..layers import batchNormalizationLayer, featureInputLayer, fullyConnectedLayer, reluLayer, sigmoidLayer
    from ..network import dlnetwork
    if c.hidden:
        P, K, N = int(c.rng.integers(15, 40)), int(c.rng.integers(3, 9)), int(c.rng.integers(5, 20))
    else:
        P, K, N = 20, 5, 16
    saved = np.random.get_state()              # dlnetwork draws from NumPy's global generator: restore it
    try:
        np.random.seed(int(c.rng.integers(0, 2**31)))
        net = dlnetwork([featureInputLayer(P), fullyConnectedLayer(K, Name="fc1"),
                         batchNormalizationLayer(Name="bn1"), reluLayer(Name="relu1"),
                         fullyConnectedLayer(P, Name="fc2"), sigmoidLayer(Name="sigmoid")])
    finally:
        np.random.set_state(saved)
    X = dlarray(c.rng.random((P, N)).astype(np.float32), "CB")
    return net, X


def _ex5_run(c, net, X):
    from ..autodiff import dlfeval
    f = c.get("modelLoss", "function")
    state0 = [_np(v).copy() for v in net.State.Value]
    out = c.call("dlfeval(modelLoss, net, X)", dlfeval, f, net, X)
    if not (isinstance(out, tuple) and len(out) == 3):
        n = len(out) if isinstance(out, tuple) else 1
        c.fail(f"modelLoss returned {n} value(s); it should return three: loss, gradients, state.")
    if any(not np.array_equal(_np(v), s) for v, s in zip(net.State.Value, state0)):
        c.fail("modelLoss changed net.State. A model loss function returns the new state; the training loop "
               "stores it.")
    return out


@ex5.part("loss", "NNC's loss of Sub2 + PowScalar on forward's output, as a scalar dlarray")
def _ex5_loss(c):
    from ..network import forward, predict
    net, X = _ex5_case(c)
    loss, _, _ = _ex5_run(c, net, X)
    x = _np(X).astype(np.float64)
    ref = float(np.mean((_np(forward(net, X)).astype(np.float64) - x) ** 2))
    if type(loss).__name__ != "dlarray" or _np(loss).size != 1:
        c.fail(f"the loss should be a scalar dlarray, got {type(loss).__name__} of shape {np.shape(_np(loss))}.")
    got = float(_np(loss))
    P = x.shape[0]
    if np.isclose(got, P * ref, rtol=1e-5):
        c.fail(f"the loss is {P} times too large ({P} = values per image): that is MATLAB's l2loss scale (sum "
               "over the features). NNC averages over ALL elements.")
    if np.isclose(got, P * ref / 2, rtol=1e-5):
        c.fail("the loss is MATLAB's mse (half of l2loss), not NNC's mean of the squared error.")
    if np.isclose(got, np.mean((_np(predict(net, X)).astype(np.float64) - x) ** 2), rtol=1e-5):
        c.fail("the loss is computed from predict's output. Training uses forward (batch statistics on).")
    c.close(f"the loss for a {x.shape[0]} x {x.shape[1]} batch", loss, ref, rtol=1e-5, atol=1e-8,
            why="float32 mean of a few hundred squares")


@ex5.part("gradients", "the gradients of all learnables and the updated state")
def _ex5_gradients(c):
    from ..autodiff import dlfeval, dlgradient
    from ..network import forward
    net, X = _ex5_case(c)
    _, gradients, state = _ex5_run(c, net, X)

    def reference(net, X):
        Y, s = forward(net, X, return_state=True)
        loss = nnc.nnc_loss(nnc.SquaredError(Y, X))
        return loss, dlgradient(loss, net.Learnables), s
    _, gRef, sRef = dlfeval(reference, net, X)
    if getattr(gradients, "keys", None) is None or list(gradients.keys()) != list(net.Learnables.keys()):
        c.fail("the gradients should be a table with one row per learnable, like net.Learnables: "
               "dlgradient(loss, net.Learnables).")
    for (layer, name), g, r in zip(gRef.keys(), gradients.Value, gRef.Value):
        c.close(f"the gradient of {layer}/{name}", g, _np(r), dtype=np.float32, why="float32 back-propagation",
                **NET)
    if getattr(state, "keys", None) is None or list(state.keys()) != list(net.State.keys()):
        c.fail("the third output should be the state table that forward(net, X, return_state=True) returns.")
    for (layer, name), s, r in zip(sRef.keys(), state.Value, sRef.Value):
        if np.array_equal(_np(s), _np(net.State.value(layer, name))) and not _close(s, _np(r), F32):
            c.fail(f"the returned state's {layer}/{name} is the network's OLD state (net.State). Return the state "
                   "that forward(net, X, return_state=True) gives you.")
        c.close(f"the returned state's {layer}/{name}", s, _np(r), why="forward's running statistics", **F32)


# ================================================================================================ ex6
ex6 = Exercise(
    "ex6", "runtimeNetwork: NNC's Runtime network by hand",
    hints=[
        "Follow NNC's recipe on the code of mainNetwork: copy it, delete what computes the loss, and switch "
        "BatchStat off. The runtime network has no target and stores no state: it returns the "
        "reconstruction only.",
        "BatchStat False means: normalise with state's TrainedMean and TrainedVariance. "
        "batchnorm(X, offset, scale, trainedMean, trainedVariance, training=False) does that and returns Y "
        "alone (help(batchnorm)).",
        "Copy mainNetwork's first line, then\n"
        "H = batchnorm(H, ____, ____, ____, ____, training=False)\n"
        "H = relu(H)\nreturn sigmoid(fullyconnect(H, ____, ____))",
    ],
    solution=Sealed("eNp1kLFqw0AMhvc+hSCDz+ClHgNZMhQvTQsubSBkkM+yffSsK3cypm9f+1zchCYapY9P0l9TA35gMT0dSEbnP9UXeuxDBkFQKINjun2AqQrYQTNY+60dM2lRxwwW9JQ0+jE5n5IPMm0nITn/m+wNTu10FVUoumPne1X8sRVH9qVpAsml5HdQarQ09aPluuKtK/jm0TDVz4Q8a24O39EbZH3HJzNkuN09oQ2Uwu3awH7+o5z8EMHttMt5quNKE8TosL7syQ6qWCLwJINnCKbtnanVVazFZXj53Vjzi1gX6QakI7AuhBkTUOVQ5Rm8unEODn0KyHVkmMYlFEBP0DqmH7aYnjw="),
)


def _ex6_case(c):
    if c.hidden:
        P, K, N = int(c.rng.integers(15, 40)), int(c.rng.integers(3, 9)), int(c.rng.integers(6, 15))
    else:
        P, K, N = 12, 5, 8
    f32, r = np.float32, c.rng
    params = {"fc1": {"Weights": dlarray(r.normal(scale=0.5, size=(K, P)).astype(f32)),
                      "Bias": dlarray(r.normal(size=(K, 1)).astype(f32))},
              "bn1": {"Offset": dlarray(r.normal(size=(K, 1)).astype(f32)),
                      "Scale": dlarray(r.uniform(0.5, 2, size=(K, 1)).astype(f32))},
              "fc2": {"Weights": dlarray(r.normal(scale=0.5, size=(P, K)).astype(f32)),
                      "Bias": dlarray(r.normal(size=(P, 1)).astype(f32))}}
    state = {"bn1": {"TrainedMean": dlarray(r.normal(size=(K, 1)).astype(f32)),
                     "TrainedVariance": dlarray(r.uniform(0.5, 3, size=(K, 1)).astype(f32))}}
    return params, state, r.random((P, N)).astype(f32)


def _ex6_refs(params, state, X):
    """float64 by hand: (output with the stored statistics, output with the batch's statistics)."""
    p = {k: {n: _np(v).astype(np.float64) for n, v in d.items()} for k, d in params.items()}
    s = {n: _np(v).astype(np.float64) for n, v in state["bn1"].items()}
    z = p["fc1"]["Weights"] @ X.astype(np.float64) + p["fc1"]["Bias"]

    def rest(zhat):
        h = np.maximum(p["bn1"]["Scale"] * zhat + p["bn1"]["Offset"], 0)
        return 1 / (1 + np.exp(-(p["fc2"]["Weights"] @ h + p["fc2"]["Bias"])))
    stored = rest((z - s["TrainedMean"]) / np.sqrt(s["TrainedVariance"] + 1e-5))
    batch = rest((z - z.mean(axis=1, keepdims=True)) / np.sqrt(z.var(axis=1, keepdims=True) + 1e-5))
    return stored, batch


def _ex6_call(c, params, state, X, what):
    f = c.get("runtimeNetwork", "function")
    Y = c.call(f"runtimeNetwork(params, state, X) on {what}", f, params, state, dlarray(X, "CB"))
    if isinstance(Y, tuple):
        c.fail("runtimeNetwork returned a tuple. The runtime network has one output, the reconstruction (the "
               "Identity output y'), and returns no state.")
    if Y is None:
        c.fail("runtimeNetwork returned None: did you forget `return`?")
    return Y


@ex6.part("output", "no loss part: one reconstruction per image")
def _ex6_output(c):
    params, state, X = _ex6_case(c)
    Y = _ex6_call(c, params, state, X, f"{X.shape[1]} images")
    stored, batch = _ex6_refs(params, state, X)
    if np.size(_np(Y)) == 1:
        c.fail("runtimeNetwork returns a single number: that is a loss. The runtime network has no loss part: "
               "delete Sub2, PowScalar (and any mean) and return the Sigmoid's output.")
    c.shape(f"runtimeNetwork's output for {X.shape[1]} images of {X.shape[0]} values", _np(Y), X.shape)
    if _close(Y, (stored - X) ** 2, NET) or _close(Y, (batch - X) ** 2, NET):
        c.fail("runtimeNetwork returns the squared error (Sub2, PowScalar): that is Main's loss part. Delete it "
               "and return the reconstruction.")
    if not (_close(Y, stored, NET) or _close(Y, batch, NET)):
        c.close("runtimeNetwork's output against Main's reconstruction x(0)", Y, stored,
                why="float32 network against float64", **NET)
    c.passed("the output is Main's reconstruction x(0), not the loss "
             f"(rtol {NET['rtol']:g}, atol {NET['atol']:g}: float32 network against float64)")


@ex6.part("batchstat", "BatchStat False: the stored statistics, for a batch and a single image")
def _ex6_batchstat(c):
    params, state, X = _ex6_case(c)
    stored, _ = _ex6_refs(params, state, X)
    k = int(c.rng.integers(0, X.shape[1]))
    for cols, what in ((slice(None), f"{X.shape[1]} images"), (slice(k, k + 1), "a single image"),
                       (slice(0, 5), "five images")):
        Y = _ex6_call(c, params, state, X[:, cols], what)
        _, batchRef = _ex6_refs(params, state, X[:, cols])
        if not _close(Y, stored[:, cols], NET) and _close(Y, batchRef, NET):
            c.fail(f"runtimeNetwork on {what} normalises with the statistics of the batch (BatchStat True).",
                   "Set BatchStat to False: use state's TrainedMean and TrainedVariance.")
        c.close(f"runtimeNetwork on {what} against inference with the stored statistics", Y, stored[:, cols],
                why="float32 network against float64", **NET)
