"""Check code of lesson 05, "Training options in a custom loop" (notebooks/05_training_options.py).

The notebook's setup cell imports the exercises; each graded test cell is one line plus nbgrader's
hidden block, which runs the same requirements on other inputs (another seed: other schedules,
gradients, networks, loss sequences, checkpoints)::

    from dlteach.exercises.lesson05 import ex1, ex2, ex3, ex4, ex5, ex6, ____

    ex1.check("a")          # test cell ex1_a
    ### BEGIN HIDDEN TESTS
    ex1.check("a", seed=51)
    ### END HIDDEN TESTS

Every reference is built here, from the shipped digits and this module's own copy of the lesson's
network and loop, so that a learner who redefines ``net`` or ``modelLoss`` in the notebook is still
compared with the right values. Tolerances are documented at each comparison.

Exercises (graded cells; the lesson adds 3 manually graded written questions):

=============================  =====================================================================  ======
part (test cell)               requirement                                                            points
=============================  =====================================================================  ======
ex1 "a" (cell ex1_a)           piecewiseLearnRate: the learn rate the loop uses at an iteration           2
ex1 "b" (cell ex1_b)           decayToMatch: time-based decay that meets the piecewise schedule         1
ex2 "a" (cell ex2_weights)     regularizeGradients: lambda * W added to the weights, input unchanged      1
ex2 "b" (cell ex2_factors)     regularizeGradients: every row with its own L2Factor                        1
ex2 "c" (cell ex2_candidates)  the candidates equivalent to the page's L2 recipe (hashed)                 2
ex3 "a" (cell ex3_l2norm)      clipGradients, "l2norm": per-parameter norm                                1
ex3 "b" (cell ex3_global)      clipGradients, "global-l2norm": one norm over all the gradients            1
ex3 "c" (cell ex3_absolute)    clipGradients, "absolute-value": every entry clamped                       1
ex3 "d" (cell ex3_rows)        which rows each method changes (hashed)                                    1
ex4 "a" (cell ex4_a)           stopsAtValidation: the validation at which patience stops training         1
ex4 "b" (cell ex4_b)           stopsAtValidation: ties, never, Inf patience                               1
ex5 "a" (cell ex5_net)         checkpoint: the network comes back                                          1
ex5 "b" (cell ex5_averages)    checkpoint: Adam's moving averages come back                               1
ex5 "c" (cell ex5_resume)      checkpoint: training resumed from it continues exactly                     1
ex6 "a" (cell ex6_losses)      trainLBFGS: the losses after each update and the stopping rule             1
ex6 "b" (cell ex6_evaluations) trainLBFGS: how many times lossFcn was called                              1
=============================  =====================================================================  ======
"""

from __future__ import annotations

import copy
import math
import os
import tempfile

import numpy as np

from ..checks import Exercise, Sealed, ____, digest  # noqa: F401  (____ is re-exported for the notebook)
from ._common import digit_batch, model_loss_with_state, train_digits

__all__ = ["ex1", "ex2", "ex3", "ex4", "ex5", "ex6", "____"]

# the lesson's settings (Section 1 of the notebook)
NUM_TRAIN, MINI_BATCH, VALIDATION = 500, 100, (3000, 3500)
NUM_ITERATIONS_PER_EPOCH = NUM_TRAIN // MINI_BATCH
SCHEDULE = dict(initialLearnRate=0.01, learnRateDropPeriod=10, learnRateDropFactor=0.5)


# ---------------------------------------------------------------------------------------------------
# The lesson's objects, rebuilt here (independent of what the learner's notebook holds now)
# ---------------------------------------------------------------------------------------------------
def _dl():
    import dlteach

    return dlteach


def _layers(kind="lesson"):
    d = _dl()
    if kind == "lesson":
        return [d.imageInputLayer([28, 28, 1], Normalization="none"), d.fullyConnectedLayer(64),
                d.batchNormalizationLayer(), d.reluLayer(), d.fullyConnectedLayer(10), d.softmaxLayer()]
    if kind == "factors":  # every kind of L2Factor: 0.5, 2, 0 (and batchnorm's default 1)
        return [d.imageInputLayer([28, 28, 1], Normalization="none"),
                d.fullyConnectedLayer(32, WeightL2Factor=0.5, BiasL2Factor=2),
                d.batchNormalizationLayer(ScaleL2Factor=0), d.reluLayer(),
                d.fullyConnectedLayer(16), d.reluLayer(), d.fullyConnectedLayer(10), d.softmaxLayer()]
    raise ValueError(kind)


def _net(seed=0, kind="lesson"):
    """The lesson's dlnetwork (np.random.seed(seed) first, as the notebook does)."""
    np.random.seed(seed)
    return _dl().dlnetwork(_layers(kind))


_digits = train_digits
_batch = digit_batch
_modelLoss = model_loss_with_state


def _gradients(seed=0, kind="lesson", start=0, n=MINI_BATCH):
    net = _net(seed, kind)
    X, T = _batch(start, n)
    _loss, grads, _state = _dl().dlfeval(_modelLoss, net, X, T)
    return net, grads


def _arr(x):
    return np.asarray(_dl().extractdata(x)) if type(x).__name__ == "dlarray" else np.asarray(x)


def _is_table(x):
    return type(x).__name__ == "Table"


def _rows(table):
    return [f"{lay}/{par}" for lay, par in zip(table.Layer, table.Parameter)]


def _snap_table(t):
    return [None if v is None else _arr(v).copy() for v in t.Value]


def _table_changed(t, snap):
    return len(t.Value) != len(snap) or any(
        (s is None) != (v is None) or (s is not None and not np.array_equal(_arr(v), s, equal_nan=True))
        for v, s in zip(t.Value, snap))


def _is_number(v):
    return (not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer, np.floating))
            or (isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf"))


def _hashed(c, variable, canonical_fn, digests, what):
    """The learner's ``variable``, normalised by ``canonical_fn``, must hash to one of ``digests``."""
    value = c.get(variable)
    try:
        canonical = canonical_fn(value)
    except ValueError as err:
        c.fail(f"`{variable}` = {value!r}: {err}")
    if digest(c.exercise.name + "." + variable, canonical) not in digests:
        c.fail(f"`{variable}` = {value!r} is not the right {what}.")
    c.passed(f"`{variable}` is the right {what}")
    return canonical


def _letters(value, allowed):
    """Canonical form of an answer made of letters: upper case, sorted, no repeats."""
    if not isinstance(value, str):
        raise ValueError(f"write the letters as one string, e.g. {allowed[:2]!r}.")
    letters = [ch for ch in value.upper() if not ch.isspace() and ch not in ",;+/&-"]
    bad = sorted({ch for ch in letters if ch not in allowed})
    if bad:
        raise ValueError(f"use only the letters {', '.join(allowed)} (found {', '.join(map(repr, bad))}).")
    if not letters:
        raise ValueError("the string holds no letter.")
    return "".join(sorted(set(letters)))


# ---------------------------------------------------------------------------------------------------
# Exercise 1 -- learn-rate schedules
# ---------------------------------------------------------------------------------------------------
def _piecewise(iteration, initialLearnRate, dropPeriod, dropFactor, numIterationsPerEpoch):
    """The loop of Section 2: the rate is multiplied by dropFactor after every dropPeriod-th epoch."""
    epoch = (iteration - 1) // numIterationsPerEpoch + 1
    return initialLearnRate * dropFactor ** ((epoch - 1) // dropPeriod)


ex1 = Exercise(
    "ex1", "learn-rate schedules",
    hints=[
        # the idea
        "(a) First find the epoch that iteration k belongs to (iterations are counted from 1 and go on across "
        "epochs), then count how many drops have happened BEFORE that epoch: the loop multiplies the rate at "
        "the END of an epoch whose number is a multiple of the drop period. (b) Solve "
        "initialLearnRate / (1 + decayToMatch * 200) = (the piecewise rate at iteration 200) for decayToMatch.",
        # where to look
        "(a) The loop of Section 2 and its printed table of learn rates (which iteration is the first one with the "
        "dropped rate?). Try your function on iterations 1, 5, 6, 50, 51 of the lesson's schedule. (b) Your "
        "piecewiseLearnRate(200, ...) with the lesson's settings gives the target rate.",
        # partial code
        "(a)\n"
        "epoch = ____                       # 1 for iterations 1..numIterationsPerEpoch, 2 for the next ones, ...\n"
        "numDrops = (epoch - 1) // ____\n"
        "return initialLearnRate * learnRateDropFactor ** numDrops\n"
        "(b)\n"
        "target = piecewiseLearnRate(200, 0.01, 10, 0.5, 5)\n"
        "decayToMatch = (0.01 / target - 1) / ____",
    ],
    solution=Sealed("eNqFUt1OwjAUvt9TfAk32xzQgUQDwSswMVFDjC9Q4CANY13aIuHtPe3YkEjirtae7++c0w5imUA5MtIpXWKHJRW6/LJwGlTp1RbxDl3kCfp9lIf9SwO1CzLzALhDPoHbEgqtK+wPhVNVociGOwYTpAv/8/dZ1IH/9Ab0TeZ0tjhutSWvviQDZSEbFfJIT10blq7IKL3OYJtohIO98tlwOsTUBq4ZgW2jNW1QKVrRUVl6JWnKDybFbfMZVKmckkVby1A0vzOWWJz9ry6f5cppk92eTTKOfLt12ikuXv+PNBC56j2s59YiDe9GsMAw5A6m/NMJ0lupkaatRcSriZe/38JACL+MsFlpXVhayHAvxhjWQ+XnE2YeCha5yJiWYSiSrF6J6ImczUVvlKZDboPPIh+MJueHEMp9xDm3vKaVPDGWfZMLEug+Ab7u86Rn1BSPdaE5PrAKA6Jw/tRv0oWJs8hw9APbeeax"),  # EX1
)


def _check_schedule(c, fn, lr0, period, factor, nipe, iterations):
    label = f"piecewiseLearnRate(k, {lr0:g}, {period}, {factor:g}, {nipe})"
    for k in iterations:
        got = c.call(label.replace("k,", f"{k},"), fn, k, lr0, period, factor, nipe)
        if not _is_number(got) and not (type(got).__name__ == "dlarray" and np.size(_arr(got)) == 1):
            c.fail(f"{label.replace('k,', f'{k},')} returned {got!r}; it should return the learn rate, a number.")
        want = _piecewise(k, lr0, period, factor, nipe)
        # Python floats: lr0 * factor**n computed in another order differs by a few ulp
        if not math.isclose(float(_arr(got)), want, rel_tol=1e-9, abs_tol=0.0):
            epoch = (k - 1) // nipe + 1
            where = (f"iteration {k} is iteration {(k - 1) % nipe + 1} of {nipe} in epoch {epoch}")
            c.fail(f"{label.replace('k,', f'{k},')} returned {float(_arr(got)):.6g}, but the loop uses "
                   f"{want:.6g} there ({where}).",
                   "Which epoch does the iteration belong to, and how many drops happened before that epoch?")
    c.passed(f"{label} for k = {iterations[0]} ... {iterations[-1]} (rel. tolerance 1e-9: Python floats)")


@ex1.part("a", "piecewiseLearnRate: the learn rate at an iteration")
def _ex1a(c):
    fn = c.get("piecewiseLearnRate", "function")
    if not c.hidden:
        _check_schedule(c, fn, 0.01, 10, 0.5, 5, list(range(1, 201)))
        _check_schedule(c, fn, 0.1, 3, 0.1, 7, list(range(1, 71)))
    else:
        for _ in range(3):
            lr0 = float(c.rng.choice([0.001, 0.003, 0.02, 0.05]))
            period, nipe = int(c.rng.integers(1, 6)), int(c.rng.integers(1, 10))
            factor = float(c.rng.choice([0.1, 0.2, 0.5, 0.9]))
            _check_schedule(c, fn, lr0, period, factor, nipe, list(range(1, nipe * period * 4 + 2)))


@ex1.part("b", "decayToMatch: the time-based schedule meets the piecewise one", other_inputs=False)
def _ex1b(c):
    d = c.get("decayToMatch")
    if not _is_number(d):
        c.fail(f"`decayToMatch` should be a number, got {d!r}.")
    d = float(d)
    if not (np.isfinite(d) and d > 0):
        c.fail(f"`decayToMatch` = {d!r}: a decay is a positive number.")
    lr0 = SCHEDULE["initialLearnRate"]
    got = lr0 / (1 + d * 200)
    want = _piecewise(200, lr0, SCHEDULE["learnRateDropPeriod"], SCHEDULE["learnRateDropFactor"], NUM_ITERATIONS_PER_EPOCH)
    # the decay is a short decimal the learner computed; 1e-6 relative leaves room for rounding it to 6 digits
    if not math.isclose(got, want, rel_tol=1e-6):
        c.fail(f"with decayToMatch = {d:g} the time-based rate at iteration 200 is {got:.6g}; that is not the rate "
               f"the piecewise schedule uses at iteration 200 (it uses a {'smaller' if want < got else 'larger'} one).")
    c.passed("the time-based rate at iteration 200 equals the piecewise schedule's (rel. tolerance 1e-6)")


# ---------------------------------------------------------------------------------------------------
# Exercise 2 -- L2 regularization
# ---------------------------------------------------------------------------------------------------
ex2 = Exercise(
    "ex2", "L2 regularization with the layers' L2 factors",
    hints=[
        # the idea
        "(a, b) The regularized loss adds l2Regularization/2 * L2Factor * sum(W**2) per learnable, so the gradient "
        "of every row gains l2Regularization * L2Factor * W -- each row with the factor of ITS layer and parameter "
        "(0 for biases: those rows stay as they were). Work on a copy: `gradients[idx, :] = ...` changes the table "
        "it is applied to. (c) Compare each candidate with the recipe: which rows change, by how much, and "
        "does the updater see the change the same way?",
        # where to look
        "(a, b) getL2Factor(net, layerName, parameterName) gives a row's factor; the Layer and Parameter columns "
        "give the names; gradients[:, :] is a new Table with the same rows. (c) Run one step of each candidate "
        "and of stepRecipe from the same network and compare the learnables (the cell under the candidates "
        "shows how).",
        # partial code
        "(a, b)\n"
        "out = gradients[:, :]                         # a new table: the caller's stays as it is\n"
        "for i, (layer, parameter) in enumerate(zip(out.Layer, out.Parameter)):\n"
        "    factor = getL2Factor(net, layer, parameter)\n"
        "    if factor != 0:\n"
        "        out.Value[i] = ____\n"
        "return out",
    ],
    solution=Sealed("eNqNVD1z2zAM3f0r0Hgo5Spuz92Uy5A0TZYMvfYuSy4DLEIWrxSpkJR1zq8vSH04Hx7KRRT18AC8B3EJAnPYZgtJFTjadRqdeqE7h1KRCV7spl0OhkIOevN7QmFQ1mTFAnjZLsAlzODHIofiCf5jLQGZuIeAW00FhJqgRK3JffbgAx48oAcVQPmUp7IOVA5C44FcDi06bCiQy0AZINM15DCQeFGt4JLW9wMsbn/N0LHkRIdlYEaunML95ja9iaHP9wnmGFVNYZ8u4duRa5Rh/YC6o0f1xKxvXr980A5WE9Mqiru+J3Qm6uDnqMTuKHTORLbFYgmizOB6UGrSG2z1gfzrhll914h+tdqwPP5U+h7OzxOT5y6P9oHgwIYki8oJx4XGMtKBdZJcAZW2GL5vwNnOSGV2YI0+ZBcj/rY40qKUKuVjJ+Oho1K1lHNkD9tDegh2uKzR7GiApGkAqecGBwlI5tDXqqxjOzW6hqXiDTnK1mPiq4LDulbyFLB53jPhPMPs6qRwVkCvQp2SGS6Sh63Hto0tcyW2abvAZzP8tHkT75T7R3EKdfSgHgWYu4oWnXKFxetVSaNar79OqW4KoD25QT0WoyWDWvkoEGpvU+RWYWwfjYQtBhbNWNdEVGLi/8tWlaeQAJ5/OprIf7KGVNqu1axHT2pXh3iAh1G0K4lNDr52yvyNzsdkA8zHWnhOXpnvk/+MOjl+wR4H7I00IiYBqfZK0jvVeGb8swtin2UXaerSrdBq5Cvgz93NMEC9ZRuVKTl8vaDnTu25QRMvqbPr27N/HDecbg=="),  # EX2
)


def _l2_factor(net, layer, param):
    return _dl().getL2Factor(net, layer, param)


def _check_regularize(c, fn, net, grads, lam, label, rows_to_check):
    gsnap, lsnap = _snap_table(grads), _snap_table(net.Learnables)
    out = c.call(label, fn, grads, net, lam)
    if _table_changed(grads, gsnap):
        c.fail(f"{label} changed the table `gradients` it was given (`gradients[idx, :] = ...` or "
               "`gradients.Value[i] = ...` changes that table).",
               "Work on a copy, out = gradients[:, :], and return it: the caller's gradients must stay as they were.")
    if _table_changed(net.Learnables, lsnap):
        c.fail(f"{label} changed the network's learnables.")
    if out is None:
        c.fail(f"{label} returned None: did you forget `return`?")
    if not _is_table(out):
        c.fail(f"{label} should return a Table like `gradients`, got {type(out).__name__}.")
    if _rows(out) != _rows(grads):
        c.fail(f"{label} returned a table with the rows {_rows(out)}, expected {_rows(grads)}.")
    c.passed(f"{label} returns a new Table with the rows of `gradients`, which stays unchanged")
    for name, g, w, o, lay, par in zip(_rows(grads), grads.Value, net.Learnables.Value, out.Value,
                                       grads.Layer, grads.Parameter):
        if name not in rows_to_check:
            continue
        f = _l2_factor(net, lay, par)
        want = (_arr(g).astype(np.float64) + lam * f * _arr(w).astype(np.float64))
        got = _arr(o)
        if got.dtype != np.float32:
            c.fail(f"the row {name} of the result has dtype {got.dtype}; gradients stay float32.")
        # float32 result of g + lambda*f*w: a few float32 ulp of the larger term
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-8):
            if got.shape == want.shape and np.allclose(got, _arr(g), rtol=1e-6, atol=0) and f != 0:
                c.fail(f"the row {name} is the plain gradient: it should gain l2Regularization * {f:g} * W "
                       f"(its L2Factor is {f:g}).")
            if got.shape == want.shape and f == 0:
                c.fail(f"the row {name} changed, but its L2Factor is 0: it must stay the plain gradient.")
            if got.shape == want.shape and np.allclose(got, _arr(g) + lam * _arr(w), rtol=1e-5, atol=1e-8):
                c.fail(f"the row {name} gained l2Regularization * W, but its L2Factor is {f:g}: multiply by the "
                       "factor of this layer and parameter (getL2Factor).")
            c.fail(f"the row {name} is not gradient + l2Regularization * L2Factor * W (L2Factor {f:g}).")
    c.passed(f"the rows {', '.join(rows_to_check)}: gradient + l2Regularization * L2Factor * W, float32 "
             "(rtol 1e-5, atol 1e-8: float32 sums)")


@ex2.part("a", "regularizeGradients: the weights of the lesson's network")
def _ex2a(c):
    fn = c.get("regularizeGradients", "function")
    seed = 0 if c.seed is None else c.seed
    lam = 0.01 if c.seed is None else float(c.rng.choice([0.003, 0.05]))
    net, grads = _gradients(seed, "lesson", start=0 if c.seed is None else 200 + 10 * (seed % 20))
    weights = [r for r, p in zip(_rows(grads), grads.Parameter) if p == "Weights"]
    _check_regularize(c, fn, net, grads, lam, f"regularizeGradients(gradients, net, {lam:g})", weights)


@ex2.part("b", "regularizeGradients: every row with its own L2Factor")
def _ex2b(c):
    fn = c.get("regularizeGradients", "function")
    seed = 1 if c.seed is None else c.seed
    lam = 0.01 if c.seed is None else float(c.rng.choice([0.002, 0.02]))
    net, grads = _gradients(seed, "factors", start=100 if c.seed is None else 700 + 10 * (seed % 20))
    _check_regularize(c, fn, net, grads, lam, f"regularizeGradients(gradients, otherNet, {lam:g})", _rows(grads))


@ex2.part("c", "the candidates equivalent to the page's L2 recipe", other_inputs=False)
def _ex2c(c):
    _hashed(c, "equivalent", lambda v: _letters(v, "ABCDEF"), {"ed701484122af0db8ca54895"}, "set of candidates")


# ---------------------------------------------------------------------------------------------------
# Exercise 3 -- gradient clipping
# ---------------------------------------------------------------------------------------------------
ex3 = Exercise(
    "ex3", "gradient clipping: three methods",
    hints=[
        # the idea
        "\"l2norm\": each row on its own -- if the L2 norm of that gradient array exceeds the threshold, scale the "
        "array to norm = threshold. \"global-l2norm\": ONE norm over all rows together, and if it exceeds the "
        "threshold, every row is scaled by the same factor. \"absolute-value\": every entry above the threshold "
        "becomes the threshold, every entry below -threshold becomes -threshold. (d) A row changes when its "
        "own test (norm, largest absolute entry, or the global norm) exceeds the threshold.",
        # where to look
        "thresholdL2Norm in Section 4 (and lesson 03, Exercise 7, for the global norm); dlupdate(fun, gradients) "
        "applies a per-array function to every row and returns a new Table; np.clip or np.minimum/np.maximum "
        "for the absolute value. (d) the printed table of norms and largest absolute values.",
        # partial code
        "if method == \"l2norm\":\n"
        "    return dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradients)\n"
        "if method == \"global-l2norm\":\n"
        "    globalNorm = np.sqrt(sum(____ for g in gradients.Value))\n"
        "    ...\n"
        "if method == \"absolute-value\":\n"
        "    return dlupdate(lambda g: ____, gradients)",
    ],
    solution=Sealed("eNqVU02P0zAQvedXPNJLXKUtLeKSVZFAQntBcADBYbVCTuJ8CMcutrPlQ/x3xvloU7VLFx8SezJv5r3xywwRj5HGyFiQiwKZrHe3hue1UM5G5biLMW4/VUbYSss8RiNcpXOWBKBVF8MZ2y1CuVHaNGGCq2sGwbMKUnCjeCoFtELtLPReBWOOEa41Crlsdzl3IpK8SXOOMoEb2bzbvKeGUXmBKDvGLLvAtZQ65XLxBMozIifg06AfhAGX8kicZuS/ZrppSELBM6fNQUHfw1PEFoXU3EVqt7TfjYts23R7eokfzhCONPKoZJjPsWEotEGJWh1FLD9z2QrG2KE8CZp0eHU+gySY6rAZp0Fvz9OwmtQ5gTx+BSXmfcGzMU9why93SYzk/sIt8NRq2TqxePDi/nUN5Bga/k9QOXr+l11ozt7g3iaLC4Z+gnUMr61AdwFvjdEmKsJWfVPUfhTzu38/M39CFgQzRDlD7y08X25ees8KGL232FfaDnaqLXhKnupSbnA6DAqup7DaVeBq0D/C1t4iI47a+tWjoyL7ul59EXVZ0aAqTq0guSmH1mnraDNEuprsBif/xIR3H++BEbUm7At2YD+09ekxrB7uiUj7jM4jORYLH1ZdtYjLRluHX8JohrQmarqAp7sMsoqrUgz/NXn1LpzKCGP48+bs/IaKhPcj+vUwjxF/Lf+2l/dIt3WfTYeUu6zyQ1h9KAor3Gnso1d6heFfHaC0Yw=="),  # EX3
)


def _clip_reference(values, tau, method):
    vals = [_arr(v).astype(np.float64) for v in values]
    if method == "l2norm":
        return [v * (tau / np.linalg.norm(v)) if np.linalg.norm(v) > tau else v for v in vals]
    if method == "global-l2norm":
        norm = math.sqrt(sum(float(np.sum(v ** 2)) for v in vals))
        return [v * (tau / norm) for v in vals] if norm > tau else vals
    return [np.clip(v, -tau, tau) for v in vals]


def _check_clip(c, fn, grads, tau, method):
    label = f'clipGradients(gradients, {tau:g}, "{method}")'
    snap = _snap_table(grads)
    out = c.call(label, fn, grads, tau, method)
    if _table_changed(grads, snap):
        c.fail(f"{label} changed the table `gradients` it was given.",
               "Return a new table (dlupdate returns one; or work on gradients[:, :]).")
    if out is None:
        c.fail(f"{label} returned None: did you forget `return`? (or a method is not handled)")
    if not _is_table(out) or _rows(out) != _rows(grads):
        c.fail(f"{label} should return a Table with the rows of `gradients`, got "
               f"{type(out).__name__ if not _is_table(out) else _rows(out)}.")
    want = _clip_reference(grads.Value, tau, method)
    for name, o, w, g in zip(_rows(grads), out.Value, want, grads.Value):
        got = _arr(o)
        if got.dtype != np.float32:
            c.fail(f"the row {name} of the result has dtype {got.dtype}; gradients stay float32.",
                   "A NumPy float64 scalar times a float32 NumPy array gives float64: use a Python float, or "
                   "np.float32(...).")
        # float32 rescaling of a float32 array (factor from a float32 sum of up to 50 000 squares): 1e-5 relative
        if got.shape != w.shape or not np.allclose(got, w, rtol=1e-5, atol=1e-9):
            changed = not np.allclose(got, _arr(g), rtol=1e-7, atol=0)
            should = not np.allclose(w, _arr(g), rtol=1e-7, atol=0)
            gd = _arr(g).astype(np.float64)
            why = {"l2norm": f"its L2 norm is {np.linalg.norm(gd):.4g}",
                   "global-l2norm": "the global L2 norm is "
                                    f"{math.sqrt(sum(float(np.sum(_arr(v).astype(np.float64) ** 2)) for v in grads.Value)):.4g}",
                   "absolute-value": f"its largest absolute entry is {np.max(np.abs(gd)):.4g}"}[method]
            if should and not changed:
                c.fail(f"{label}: the row {name} came back unchanged, but this method changes it ({why}, the "
                       f"threshold {tau:g}).")
            if changed and not should:
                c.fail(f"{label}: the row {name} changed, but this method leaves it as it is ({why}, the "
                       f"threshold {tau:g}).")
            if method == "absolute-value" and got.shape == w.shape:
                if np.any(got < -tau * (1 + 1e-6)):
                    c.fail(f"{label}: the row {name} still has entries below -{tau:g}: they must become -{tau:g}.")
                if np.any(got > tau * (1 + 1e-6)):
                    c.fail(f"{label}: the row {name} still has entries above {tau:g}: they must become {tau:g}.")
            c.fail(f"{label}: the row {name} is not what the method gives ({why}, the threshold {tau:g}).")
    c.passed(f"{label}: every row, float32, input unchanged (rtol 1e-5: float32 rescaling)")


def _clip_inputs(c):
    if c.seed is None:
        return _gradients(0, "lesson", start=0)[1]
    return _gradients(c.seed, "factors" if c.seed % 2 else "lesson", start=300 + 10 * (c.seed % 30))[1]


@ex3.part("a", "clipGradients, \"l2norm\"")
def _ex3a(c):
    fn = c.get("clipGradients", "function")
    grads = _clip_inputs(c)
    for tau in ((0.25, 1.0) if c.seed is None else (float(c.rng.uniform(0.05, 0.5)),)):
        _check_clip(c, fn, grads, tau, "l2norm")


@ex3.part("b", "clipGradients, \"global-l2norm\"")
def _ex3b(c):
    fn = c.get("clipGradients", "function")
    grads = _clip_inputs(c)
    for tau in ((0.25, 10.0) if c.seed is None else (float(c.rng.uniform(0.1, 1.0)), 50.0)):
        _check_clip(c, fn, grads, tau, "global-l2norm")


@ex3.part("c", "clipGradients, \"absolute-value\"")
def _ex3c(c):
    fn = c.get("clipGradients", "function")
    grads = _clip_inputs(c)
    for tau in ((0.1, 1.0) if c.seed is None else (float(c.rng.uniform(0.01, 0.1)),)):
        _check_clip(c, fn, grads, tau, "absolute-value")


def _row_set(value):
    if isinstance(value, str):
        value = [value] if value.strip() else []
    if not isinstance(value, (list, tuple, set)):
        raise ValueError('write a list of row names such as ["fc_1/Weights", "fc_2/Bias"] (or [] for none).')
    names = []
    for v in value:
        if not isinstance(v, str) or "/" not in v:
            raise ValueError(f'each entry is a row name "layer/Parameter" such as "fc_1/Weights"; got {v!r}.')
        names.append("/".join(part.strip().lower() for part in v.split("/", 1)))
    return ",".join(sorted(set(names)))


@ex3.part("d", "which rows each method changes", other_inputs=False)
def _ex3d(c):
    _hashed(c, "changedL2Norm", _row_set, {"65871f72a2796ccf47c2c259"}, "set of rows for \"l2norm\"")
    _hashed(c, "changedAbsolute", _row_set, {"3e24a5cd06b2149740e4e7a7"}, "set of rows for \"absolute-value\"")
    _hashed(c, "changedGlobal", _row_set, {"8fc73c2f2186bf3260e48422"}, "set of rows for \"global-l2norm\"")


# ---------------------------------------------------------------------------------------------------
# Exercise 4 -- validation patience
# ---------------------------------------------------------------------------------------------------
ex4 = Exercise(
    "ex4", "validation patience",
    hints=[
        # the idea
        "Go through the losses in order and keep the smallest loss seen BEFORE the current one. A loss that is "
        "not smaller than it (equal counts as not smaller) adds one to a counter; a smaller one resets the "
        "counter to 0. Training stops at the validation where the counter reaches the patience.",
        # where to look
        "Section 5: MATLAB's rule in words, and the loop's sliding window of the last patience + 1 losses (the "
        "two give the same answer). The printed run: at which validation did it stop, and where was its best loss?",
        # partial code
        "smallest, count = np.inf, 0\n"
        "for k, loss in enumerate(validationLosses, start=1):\n"
        "    if loss < smallest:\n"
        "        smallest, count = ____\n"
        "    else:\n"
        "        count = ____\n"
        "    if count >= validationPatience:\n"
        "        return k\n"
        "return None",
    ],
    solution=Sealed("eNqNUU1vwjAMvfMrnsRl0yo0rt06iUnlhPYlbfesuCwiOMhx4O8vNKgUrYe9Q5TY8XvP9ppaBPX7sNAv4+zaqPV8c+ivKx8ChQKXyFs6iRu6LSdICDvjHAUt0PjIigq8n1luC9zjD6bQH+pL4BI5nuvl60fdJZooQonDMz10SQpgr/gm54+wCsswEH/slFsv2BaZJCWI447EKI24D2pEq/nZ8gm2zYWPvZtLbryt0/fUVP+LXKAS/8AUzsiGBMlv/f65WJXnplRJrkSz1F2F+dBnjj5VIzsohypMhySiEqkbTV7DFb+QRmFsJ4PHSxr2L9Silmw="),  # EX4
)


def _stops_at(losses, patience):
    """MATLAB's rule: stop when the loss was >= the smallest earlier loss `patience` times in a row."""
    smallest, count = np.inf, 0
    for k, loss in enumerate(losses, start=1):
        if loss < smallest:
            smallest, count = loss, 0
        else:
            count += 1
        if count >= patience:
            return k
    return None


def _check_patience(c, fn, losses, patience):
    shown = ", ".join(f"{v:g}" for v in losses[:8]) + (", ..." if len(losses) > 8 else "")
    label = f"stopsAtValidation([{shown}], {patience:g})"
    out = c.call(label, fn, list(losses), patience)
    want = _stops_at(losses, patience)
    if want is None:
        if out is not None:
            c.fail(f"{label} returned {out!r}; training never stops on these losses: return None.")
    else:
        if out is None:
            c.fail(f"{label} returned None, but training stops at validation {want}.",
                   "A loss EQUAL to the smallest earlier one does not count as better.")
        if isinstance(out, (bool, np.bool_)) or not isinstance(out, (int, np.integer)):
            c.fail(f"{label} returned {out!r}; it should return the number of the validation (an int, counted "
                   "from 1) at which training stops.")
        if int(out) != want:
            c.fail(f"{label} returned {int(out)}, but training stops at validation {want}.",
                   "Count from 1; a loss EQUAL to the smallest earlier one does not count as better.")
    return want


def _random_losses(rng, n, ties):
    """A validation curve: falls, then rises with noise (rounded to 2 decimals when ties are wanted)."""
    t = np.arange(n)
    curve = 1.5 * np.exp(-t / rng.uniform(3, 8)) + 0.4 + rng.uniform(0.002, 0.01) * t
    curve = curve + rng.normal(0, 0.02, n)
    return [round(float(v), 2 if ties else 6) for v in curve]


@ex4.part("a", "the validation at which patience stops training")
def _ex4a(c):
    fn = c.get("stopsAtValidation", "function")
    if c.seed is None:
        cases = [([0.9, 0.7, 0.6, 0.65, 0.62, 0.55, 0.58, 0.57, 0.59, 0.61], 3),
                 ([0.9, 0.7, 0.6, 0.65, 0.62, 0.55, 0.58, 0.57, 0.59, 0.61], 2),
                 ([1.2, 1.1, 1.3, 1.0, 1.05, 1.08, 0.99, 1.01, 1.02, 1.03, 1.04, 1.06], 4),
                 (_random_losses(c.rng, 30, ties=False), 5)]
    else:
        cases = [(_random_losses(c.rng, int(c.rng.integers(15, 40)), ties=False), int(c.rng.integers(1, 7)))
                 for _ in range(6)]
    for losses, patience in cases:
        want = _check_patience(c, fn, losses, patience)
        c.passed(f"{len(losses)} losses, patience {patience}: "
                 + ("never stops (None)" if want is None else f"stops at validation {want}"))


@ex4.part("b", "equal losses, a run that never stops, Inf patience")
def _ex4b(c):
    fn = c.get("stopsAtValidation", "function")
    if c.seed is None:
        cases = [([0.8, 0.5, 0.5, 0.5, 0.5, 0.4], 3, "equal losses are not better"),
                 ([0.8, 0.6, 0.6, 0.7, 0.5, 0.5, 0.5], 2, "equal losses are not better"),
                 ([0.9, 0.8, 0.7, 0.75, 0.6, 0.65, 0.5], 2, "never stops: None"),
                 ([0.9, 0.8, 0.85, 0.9, 1.0, 1.1, 1.2], np.inf, "patience Inf: None"),
                 ([0.9, 0.9], 1, "patience 1")]
    else:
        cases = [(_random_losses(c.rng, int(c.rng.integers(10, 30)), ties=True), int(c.rng.integers(1, 5)), "ties")
                 for _ in range(5)]
        cases += [(sorted(_random_losses(c.rng, 12, ties=False), reverse=True), 2, "never stops: None"),
                  (_random_losses(c.rng, 20, ties=True), np.inf, "patience Inf: None")]
    for losses, patience, what in cases:
        _check_patience(c, fn, losses, patience)
        c.passed(what)


# ---------------------------------------------------------------------------------------------------
# Exercise 5 -- checkpoints
# ---------------------------------------------------------------------------------------------------
ex5 = Exercise(
    "ex5", "checkpoint and resume",
    hints=[
        # the idea
        "Everything the next iteration reads must come back from the file: the network (learnables AND state), "
        "both of Adam's moving averages, and the iteration counter -- Adam's bias correction, the learn-rate "
        "schedule and the order of the mini-batches all depend on it.",
        # where to look
        "Section 6: save(filename, {...}) stores several variables in one file, like MATLAB's "
        "save(filename,\"net\",\"averageGrad\",...); S = load(filename) gives the dict back.",
        # partial code
        "def saveCheckpoint(filename, net, averageGrad, averageSqGrad, iteration):\n"
        "    save(filename, {\"net\": net, ____})\n"
        "\n"
        "def loadCheckpoint(filename):\n"
        "    S = load(filename)\n"
        "    return S[\"net\"], ____",
    ],
    solution=Sealed("eNptjz1uwzAMhXefgnCG2oBzAQMdig49gMciA20xsRBbSiU6bRD07qXkf6CaxEfye48HoDu5B7faXIBbAkM/DJrJIWtrwBEqX04d/rbuCllH6AzWHXlAo8AzMuUFvCnsXzzIEPT2HngoaLxMY4JIDhtyYwcjBWTTXq3Ri+gcNaFfRM9odZQNAt+0pIaOZhj02uhjjSy6B0U3El24mvNE0Rm8uL+31FxvVhvOzrojgz0V4Y5ijvbhUC1F9TWWS8a8TEBeIG32n6kQ0nLkpBuQaDtsuuOu3dknXYykt/x/8ySJB3QW1T8HTKEqeI0Tqx5lRzw4A9VnDHkqwm8bcadMwUZtDXP6A+Mxt9U="),  # EX5
)


def _lesson_batch(iteration, numTrain=NUM_TRAIN, miniBatchSize=MINI_BATCH):
    """The mini-batch of an iteration: each epoch's shuffle depends on the epoch number only (Section 1)."""
    nipe = numTrain // miniBatchSize
    epoch = (iteration - 1) // nipe + 1
    j = (iteration - 1) % nipe
    order = np.random.default_rng(epoch).permutation(numTrain)
    idx = order[j * miniBatchSize:(j + 1) * miniBatchSize]
    d = _dl()
    XTrain, TTrain = _digits()
    return d.dlarray(XTrain[:, :, :, idx], "SSCB"), TTrain[:, idx]


def _train(net, avg, avgSq, iteration, numIterations):
    """The lesson's loop (Adam, piecewise schedule, state stored) for numIterations more iterations."""
    d = _dl()
    losses = []
    for _ in range(numIterations):
        iteration += 1
        X, T = _lesson_batch(iteration)
        lr = _piecewise(iteration, SCHEDULE["initialLearnRate"], 2, SCHEDULE["learnRateDropFactor"],
                        NUM_ITERATIONS_PER_EPOCH)
        loss, grads, state = d.dlfeval(_modelLoss, net, X, T)
        net.State = state
        net, avg, avgSq = d.adamupdate(net, grads, avg, avgSq, iteration, lr)
        losses.append(float(loss))
    return net, avg, avgSq, iteration, losses


def _checkpoint_round_trip(c):
    """Train k iterations, save with the learner's saveCheckpoint, load with loadCheckpoint: (ref, loaded)."""
    save_fn = c.get("saveCheckpoint", "function")
    load_fn = c.get("loadCheckpoint", "function")
    seed = 0 if c.seed is None else c.seed
    k = 10 if c.seed is None else 5 * int(c.rng.integers(1, 4))
    net, avg, avgSq, it, _ = _train(_net(seed), None, None, 0, k)
    with tempfile.TemporaryDirectory(prefix="dlteach-ex5-") as tmp:
        filename = os.path.join(tmp, f"checkpoint_{k}.npz")
        label = f"saveCheckpoint(filename, net, averageGrad, averageSqGrad, {k})"
        c.call(label, save_fn, filename, copy.deepcopy(net), copy.deepcopy(avg), copy.deepcopy(avgSq), k)
        if not os.listdir(tmp):
            c.fail(f"{label} wrote no file.", "save(filename, {...}) writes one.")
        out = c.call("loadCheckpoint(filename)", load_fn, filename)
    if not isinstance(out, tuple) or len(out) != 4:
        got = f"a tuple of {len(out)} values" if isinstance(out, tuple) else type(out).__name__
        c.fail(f"loadCheckpoint(filename) returned {got}; it should return 4 values: "
               "net, averageGrad, averageSqGrad, iteration.")
    c.passed(f"saveCheckpoint wrote a file after {k} iterations; loadCheckpoint returns 4 values")
    return (net, avg, avgSq, it), out, seed


def _same_values(a, b):
    return (_is_table(a) and _is_table(b) and _rows(a) == _rows(b)
            and all(_arr(x).dtype == _arr(y).dtype and np.array_equal(_arr(x), _arr(y)) for x, y in zip(a.Value, b.Value)))


@ex5.part("a", "the network comes back")
def _ex5a(c):
    (net, _a, _b, _it), (net2, *_rest), _seed = _checkpoint_round_trip(c)
    if type(net2).__name__ != "dlnetwork":
        c.fail(f"the first output of loadCheckpoint should be the dlnetwork, got {type(net2).__name__}.")
    if not _same_values(net2.Learnables, net.Learnables):
        c.fail("the network returned by loadCheckpoint does not have the learnables of the network that was saved.")
    if not _same_values(net2.State, net.State):
        c.fail("the network returned by loadCheckpoint has other State values (batch normalization's running "
               "statistics) than the network that was saved.")
    c.passed("the network's learnables and state come back exactly (bit for bit, float32)")


@ex5.part("b", "Adam's moving averages come back")
def _ex5b(c):
    (_n, avg, avgSq, _it), (_n2, avg2, avgSq2, _i2), _seed = _checkpoint_round_trip(c)
    if avg2 is None or avgSq2 is None:
        c.fail("loadCheckpoint returned None for Adam's moving averages: they were not saved, so adamupdate would "
               "start them again from zero (and the first steps after resuming would be far too large).")
    if _same_values(avg2, avgSq) and _same_values(avgSq2, avg):
        c.fail("loadCheckpoint returns the two moving averages swapped: averageGrad second, averageSqGrad third.")
    if not (_same_values(avg2, avg) and _same_values(avgSq2, avgSq)):
        c.fail("the moving averages returned by loadCheckpoint are not the ones that were saved.")
    c.passed("averageGrad and averageSqGrad come back exactly, in order")


@ex5.part("c", "training resumed from the checkpoint continues exactly")
def _ex5c(c):
    (net, avg, avgSq, it), (net2, avg2, avgSq2, it2), _seed = _checkpoint_round_trip(c)
    if not _is_number(it2) or float(it2) != int(float(it2)):
        c.fail(f"the fourth output of loadCheckpoint should be the iteration counter (an integer), got {it2!r}.")
    it2 = int(it2)
    m = 10
    _n, _a, _b, _i, straight = _train(copy.deepcopy(net), copy.deepcopy(avg), copy.deepcopy(avgSq), it, m)
    try:
        _n, _a, _b, _i, resumed = _train(net2, avg2, avgSq2, it2, m)
    except Exception as err:  # noqa: BLE001 - what the learner's checkpoint holds
        c.fail(f"training from what loadCheckpoint returned raised {type(err).__name__}: {err}")
    if it2 != it:
        c.fail(f"loadCheckpoint returned the iteration counter {it2}, but {it} iterations were done before the "
               "checkpoint: the learn-rate schedule, Adam's bias correction and the mini-batches would not "
               "continue where they stopped.")
    # the same float32 operations on the same values give the same bits; 1e-6 allows nothing else
    if not np.allclose(resumed, straight, rtol=1e-6, atol=0):
        k = int(np.argmin(np.isclose(resumed, straight, rtol=1e-6, atol=0)))
        c.fail(f"the resumed run's loss at iteration {it + k + 1} is {resumed[k]:.7g}; the uninterrupted run had "
               f"{straight[k]:.7g}.")
    c.passed(f"the {m} losses after resuming at iteration {it} equal the uninterrupted run's (rtol 1e-6)")


# ---------------------------------------------------------------------------------------------------
# Exercise 6 -- L-BFGS
# ---------------------------------------------------------------------------------------------------
ex6 = Exercise(
    "ex6", "an L-BFGS loop that counts its evaluations",
    hints=[
        # the idea
        "(a) The loop of Section 7 without the step tolerance: a fresh lbfgsState(), at most maxIterations updates, "
        "record float(solverState.Loss) after each, stop right after an update whose GradientsNorm is below the "
        "tolerance or whose line search failed. (b) lbfgsupdate calls whatever function you give it: give it your "
        "own function that adds 1 to a counter and then calls lossFcn.",
        # where to look
        "Section 7's L-BFGS loop. A counter that a nested function can change: a list (calls = [0]; calls[0] += 1) "
        "or `nonlocal calls` inside the nested def.",
        # partial code
        "calls = [0]\n"
        "\n"
        "def countingLossFcn(net):\n"
        "    calls[0] += 1\n"
        "    return ____\n"
        "\n"
        "solverState = lbfgsState()\n"
        "losses = []\n"
        "for iteration in range(maxIterations):\n"
        "    net, solverState = lbfgsupdate(net, ____, solverState)\n"
        "    ...",
    ],
    solution=Sealed("eNqFUk1rwzAMvedXiO6SsFC2a1kuO7QMyi7dbfSgxnJi6srFVsZ+/mwn/doKEwRHtqT39CRFGsSj4fXrcrUpmaQG60JYtlzDAb/fhDyKcRxq6DwqQywfzsZLbqlaFBCtRWsDNPD5tIV/7QEQrAmyAOkJmIKQAj1wm0Biqfj1yB2BkQBk6RABiwyjItXWDSyGu/VIMfGtFvdh7E53YTgqFJoYSm8COKYaMJ5aiNNPwrGGCQKhb/tIiVQoTnVyZmrssYHn860nGTyfhMosRo7B2S/yG0mgzUghO2WVn1MCZam22dfOR/xJYTAMPrVe3ug+iZwsT+cOxNjlOLxfCt3EV+dKI5E5Ho/EqtTWoZRXgfOUXV3Cjb4uM19NixDenT/Ay9/FgNjXTbmo7ybLm/whKtDATKOxpGaX9pLtPOG+uNL4vJEUN/A0jR9Cv9j2"),  # EX6
)


def _fit_problem(c):
    """Section 7's curve fit (visible) or another curve and network (hidden): (net, modelLoss, X, T)."""
    d = _dl()
    n, freq, width, seed = (200, 3.0, 20, 0) if c.seed is None else (
        int(c.rng.integers(60, 150)), float(c.rng.uniform(1.5, 4)), int(c.rng.integers(8, 16)), c.seed)
    x = np.linspace(-1, 1, n, dtype=np.float32).reshape(1, -1)
    X = d.dlarray(x, "CB")
    T = d.dlarray(np.sin(np.float32(freq) * x) + np.float32(0.3) * np.cos(np.float32(3 * freq) * x), "CB")
    np.random.seed(seed)
    net = d.dlnetwork([d.featureInputLayer(1), d.fullyConnectedLayer(width), d.tanhLayer(),
                       d.fullyConnectedLayer(width), d.tanhLayer(), d.fullyConnectedLayer(1)])

    def modelLossFit(net, X, T):
        loss = d.mse(d.forward(net, X), T)
        return loss, d.dlgradient(loss, net.Learnables)

    return net, modelLossFit, X, T


def _lbfgs_reference(net, lossFcn, maxIterations, tol):
    d = _dl()
    calls = [0]

    def counting(n):
        calls[0] += 1
        return lossFcn(n)

    state = d.lbfgsState()
    losses, norms = [], []
    for _ in range(maxIterations):
        net, state = d.lbfgsupdate(net, counting, state)
        losses.append(float(state.Loss))
        norms.append(float(state.GradientsNorm))
        if state.GradientsNorm < tol or state.LineSearchStatus == "failed":
            break
    return net, losses, calls[0], norms


def _ex6_run(c):
    """Two runs of the learner's trainLBFGS: one stopped by maxIterations, one by the gradient tolerance."""
    d = _dl()
    fn = c.get("trainLBFGS", "function")
    net, modelLossFit, X, T = _fit_problem(c)
    lossFcn = lambda n: d.dlfeval(modelLossFit, n, X, T)  # noqa: E731
    _n, _l, _c, norms = _lbfgs_reference(net, lossFcn, 30, 0.0)
    # a tolerance that stops the run in the middle: at the first update from the 8th (12th) on whose gradient norm
    # is below all earlier ones; the tolerance lies halfway (geometrically) between the two norms
    first = 8 if c.seed is None else 12
    k = next((k for k in range(first, len(norms) + 1) if norms[k - 1] < min(norms[:k - 1])), None)
    tol = (float(np.sqrt(norms[k - 1] * min(norms[:k - 1]))) if k is not None
           else 1.01 * min(norms))  # (no new smallest norm after `first`: stop at the smallest)
    runs = []
    for maxIt, tolerance, why in ((15 if c.seed is None else 10, 1e-9, "maxIterations"),
                                  (30, tol, "the gradient tolerance")):
        ref_net, ref_losses, ref_calls, _ = _lbfgs_reference(net, lossFcn, maxIt, tolerance)
        calls = [0]

        def counted(n, _f=lossFcn, _calls=calls):
            _calls[0] += 1
            return _f(n)

        label = f"trainLBFGS(net, lossFcn, {maxIt}, {tolerance:.3g})"
        out = c.call(label, fn, net, counted, maxIt, tolerance)
        if not isinstance(out, tuple) or len(out) != 3:
            got = f"a tuple of {len(out)} values" if isinstance(out, tuple) else type(out).__name__
            c.fail(f"{label} returned {got}; it should return 3 values: net, losses, numEvaluations.")
        runs.append(dict(label=label, out=out, ref_net=ref_net, ref_losses=ref_losses, ref_calls=ref_calls,
                         calls=calls[0], why=why, maxIt=maxIt))
    return runs


@ex6.part("a", "trainLBFGS: the losses after each update, and the stopping rule")
def _ex6a(c):
    for r in _ex6_run(c):
        net, losses, _n = r["out"]
        label, ref = r["label"], r["ref_losses"]
        if type(net).__name__ != "dlnetwork":
            c.fail(f"the first output of {label} should be the trained dlnetwork, got {type(net).__name__}.")
        if not isinstance(losses, (list, tuple)) or any(not _is_number(v) for v in losses):
            c.fail(f"the second output of {label} should be a list of numbers (float(solverState.Loss)), got "
                   f"{type(losses).__name__}.")
        if len(losses) != len(ref):
            c.fail(f"{label} made {len(losses)} updates; it should stop after {len(ref)} ({r['why']} ends this run).",
                   "Stop after maxIterations updates, or right after the update at which GradientsNorm < "
                   "gradientTolerance (or the line search failed).")
        # the same L-BFGS updates on the same float32 values: 1e-6 relative leaves room for nothing else
        if not np.allclose(np.asarray(losses, np.float64), ref, rtol=1e-6, atol=0):
            k = int(np.argmin(np.isclose(np.asarray(losses, np.float64), ref, rtol=1e-6, atol=0)))
            c.fail(f"the loss after update {k + 1} of {label} is {float(losses[k]):.7g}, expected {ref[k]:.7g}.",
                   "Start from a fresh lbfgsState(), pass the state lbfgsupdate returned back in, and record "
                   "solverState.Loss after each update.")
        if not _same_values(net.Learnables, r["ref_net"].Learnables):
            c.fail(f"the network returned by {label} is not the network after the last update.")
        c.passed(f"{label}: {len(ref)} updates ({r['why']} stops it), the losses and the network "
                 "(rtol 1e-6: the same float32 updates)")


@ex6.part("b", "trainLBFGS: how many times lossFcn was called")
def _ex6b(c):
    for r in _ex6_run(c):
        _net, _losses, n = r["out"]
        label = r["label"]
        if not _is_number(n) or float(n) != int(float(n)):
            c.fail(f"the third output of {label} should be the number of calls of lossFcn (an integer), got {n!r}.")
        if int(n) != r["calls"]:
            c.fail(f"{label} says lossFcn was called {int(n)} times; it was called {r['calls']} times.",
                   "Each update calls lossFcn once or more (the line search). Count the calls themselves: give "
                   "lbfgsupdate a function of yours that counts, then calls lossFcn.")
        c.passed(f"{label}: the number of calls of lossFcn ({r['calls']})")
