"""Check code of lesson 03 (custom training loops): the exercises, their parts, hints and solutions.

Notebook side: ``from dlteach.exercises.lesson03 import ex1, ..., ex7`` in the setup cell; each graded
test cell is ``exN.check("part")`` and its hidden block ``exN.check("part", seed=1)`` (and ``seed=2``):
the same requirements on other inputs -- other numbers of images, mini-batch sizes, seeds, epochs and
learning rates -- so an answer that fits only the visible example fails.

The references below are independent of the lesson's cells (their own model function and loop). Inputs
are verified unchanged right after each call (``Context.call``), before any value is compared.

Tolerances (float32 learnables, eps32 = 1.2e-7), stated again in each check:

* loops (ex2, ex3): losses and parameters after <= 15 Adam steps agree within rtol 1e-4 / atol 1e-6 --
  the same computation in another order differs by a few float32 ulp per step, a wrong loop by far more;
* one updater step (ex5, ex6): rtol 1e-5 and atol 4 * eps32 * max(1, max|theta|): a step computed as
  ``w_new - w`` loses the low bits of w (measured 5e-8 for |w| ~ 1, issue 12), a wrong formula is off by
  at least 1e-4 of the step;
* global-norm clipping (ex7): rtol 1e-5 (a float32 sum of a few hundred squares).

The solutions shown by ``exN.solution()`` are sealed (not readable in this file); the instructor notebook has them,
and ``python -c "from dlteach.exercises.lesson03 import ex1; from dlteach.checks import unseal;
print(unseal(ex1.solution_text))"`` prints one (``python -m dlteach.checks seal 'text'`` seals a new one).
"""
from __future__ import annotations

import numpy as np

from .. import (
    adamupdate,
    crossentropy,
    dims,
    dlarray,
    dlfeval,
    dlgradient,
    dlnetwork,
    dlupdate,
    extractdata,
    fullyconnect,
    fullyConnectedLayer,
    hasdata,
    imageInputLayer,
    load_digits,
    minibatchqueue,
    next,
    onehotdecode,
    onehotencode,
    relu,
    reluLayer,
    rmspropupdate,
    sgdmupdate,
    shuffle,
    softmax,
    softmaxLayer,
    trainingProgressMonitor,
)
from ..checks import Answer, Exercise, Sealed, ____  # noqa: F401  (____ is re-exported for the notebook)

__all__ = ["ex1", "ex2", "ex3", "ex4", "ex5", "ex6", "ex7", "____"]

CLASSES = np.arange(10)
EPS32 = float(np.finfo(np.float32).eps)
LOOP_TOL = dict(rtol=1e-4, atol=1e-6)

# ------------------------------------------------------------------------------------------- data, model
_CACHE = {}


def _digits():
    if "train" not in _CACHE:
        X, labels, _ = load_digits("train")
        _CACHE["train"] = (X, labels)
    return _CACHE["train"]


def _raw_digits():
    """The training images as stored in image files: uint8 0..255 (exact: load_digits holds k/255)."""
    if "raw" not in _CACHE:
        X, labels = _digits()
        _CACHE["raw"] = (np.round(X * 255).astype(np.uint8), labels)
    return _CACHE["raw"]


def _prep(X, labels):
    return X, onehotencode(labels, 1, ClassNames=CLASSES)


def _queue(n, seed, cls=minibatchqueue):
    X, labels = _digits()
    return cls(X[..., :n], labels[:n], MiniBatchSize=128, MiniBatchFcn=_prep, MiniBatchFormat=["SSCB", "CB"],
               seed=seed)


def _params(seed):
    rng = np.random.default_rng(seed)

    def glorot(numOut, numIn):
        bound = np.sqrt(6 / (numIn + numOut))
        return dlarray((bound * (2 * rng.random((numOut, numIn)) - 1)).astype(np.float32))

    return {"fc1": {"Weights": glorot(64, 784), "Bias": dlarray(np.zeros((64, 1), np.float32))},
            "fc2": {"Weights": glorot(10, 64), "Bias": dlarray(np.zeros((10, 1), np.float32))}}


def _model(parameters, X):
    Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
    Y = fullyconnect(relu(Y), parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return softmax(Y)


def _loss(parameters, X, T):
    Y = _model(parameters, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, parameters), Y


def _leaves(tree):
    return [(f"{layer}/{name}", np.asarray(extractdata(tree[layer][name]))) for layer in tree for name in tree[layer]]


def _is_param_dict(p, like):
    return (isinstance(p, dict) and set(p) == set(like)
            and all(isinstance(p[k], dict) and set(p[k]) == set(like[k]) for k in like))


def _ref_train(parameters, mbq, numEpochs, learnRate=0.001, reset_counter=False, reset_state=False):
    """The reference loop; the variants reproduce typical mistakes so that feedback can name them."""
    a = b = None
    it = 0
    losses, accs = [], []
    for _ in range(numEpochs):
        if reset_counter:
            it = 0
        if reset_state:
            a = b = None
        shuffle(mbq)
        while hasdata(mbq):
            it += 1
            X, T = next(mbq)
            loss, grad, Y = dlfeval(_loss, parameters, X, T)
            parameters, a, b = adamupdate(parameters, grad, a, b, it, learnRate)
            losses.append(float(loss))
            accs.append(float(np.mean(onehotdecode(Y, CLASSES, 1) == onehotdecode(T, CLASSES, 1))))
    return parameters, losses, accs


def _same_run(p, hist, pr, hr):
    try:
        h = np.asarray(hist, dtype=float)
    except (TypeError, ValueError):
        return False
    if h.shape != (len(hr),) or not np.allclose(h, hr, **LOOP_TOL):
        return False
    return all(a.shape == b.shape and np.allclose(a, b, **LOOP_TOL) for (_, a), (_, b) in zip(_leaves(p), _leaves(pr)))


def _case(c, cases):
    return cases[0 if c.seed is None else 1 + (int(c.seed) - 1) % (len(cases) - 1)]


# =========================================================================================== ex1: the queue
ex1 = Exercise(
    "ex1", "a queue for raw images",
    hints=[
        "A minibatchqueue prepares every mini-batch with its preprocessing function (MiniBatchFcn) and can drop "
        "the last, smaller mini-batch. Scaling the pixels is preparation of a mini-batch, like the one-hot "
        "targets.",
        "Section 1 lists the options of minibatchqueue: one of them decides what happens to the partial "
        "mini-batch. preprocessMiniBatch in Section 1 shows a preprocessing function; yours also scales X. "
        "onehotencode needs ClassNames to know all ten digits.",
        "def makeQueue(XRaw, labels, miniBatchSize, seed):\n"
        "    def preprocess(X, labels):\n"
        "        return ____, onehotencode(labels, 1, ClassNames=classes)\n"
        "    return minibatchqueue(XRaw, labels, MiniBatchSize=miniBatchSize, PartialMiniBatch=____,\n"
        "                          MiniBatchFcn=preprocess, MiniBatchFormat=[\"SSCB\", \"CB\"], seed=seed)",
    ],
    solution=Sealed(
        "eNptkE0LwjAMhu/7FaGnCQVR8CL0ouBNUXcZiIfYRixu7Ww6BH+9mx9zqO8hBPLxPomhI5R4pk1NNaX5Fq8SCjxQwRJK6+wMoz5l"
        "9kYSmMgMpgk0Ms1UFagKXhNzmr9nXuVWgWIdHOQwhPFkIsE7OvlITntD6dthJGFeIPMKS2Kl25R4kCS9BS3EoYW4/CFc9gnVF+8a"
        "Q7RYdD1KGMsagxGyo/xV177QTn1u7HktfCgxqp3IsvlMSBBN3D/fox4/ugNWJWw6"
    ),
)

_EX1_CASES = [  # (number of images, first image, MiniBatchSize, seed)
    (600, 0, 128, 0),
    (500, 1000, 96, 3),
    (450, 2000, 64, 11),
]


def _ex1_make(c, Xs, ls, size, seed):
    f = c.get("makeQueue", "function")
    q = c.call(f"makeQueue(XRaw, labels, {size}, {seed})", f, Xs, ls, size, seed)
    c.require(isinstance(q, minibatchqueue), f"makeQueue should return a minibatchqueue, got {type(q).__name__}.")
    return q


def _one_epoch(c, q):
    try:
        shuffle(q)
        batches = []
        while hasdata(q) and len(batches) < 1000:
            batches.append(next(q))
    except Exception as err:  # noqa: BLE001 - the learner's preprocessing function runs here
        c.fail(f"taking the mini-batches of one epoch raised {type(err).__name__}: {err}",
               "(next(mbq) calls your preprocessing function on every mini-batch)")
    for b in batches:
        c.require(isinstance(b, tuple) and len(b) == 2,
                  "next(mbq) should return two outputs, X and T: the preprocessing function returns X, T.")
    return batches


@ex1.part("a", "mini-batches of one size; X SSCB float32 in [0, 1]; T CB one-hot 10 x size")
def _ex1_a(c):
    n, start, size, seed = _case(c, _EX1_CASES)
    XRaw, labels = _raw_digits()
    Xs, ls = XRaw[..., start:start + n].copy(), labels[start:start + n].copy()
    q = _ex1_make(c, Xs, ls, size, seed)
    batches = _one_epoch(c, q)
    want = n // size
    sizes = sorted({int(b[0].shape[-1]) for b in batches})
    c.require(len(batches) == want,
              f"{n} images in mini-batches of {size}: one epoch should give {want} mini-batches, got "
              f"{len(batches)} (sizes {sizes})."
              + (" The last, smaller mini-batch must be dropped." if len(batches) == want + 1 else ""),
              f"{n} images, MiniBatchSize {size}: {want} mini-batches per epoch")
    c.require(sizes == [size], f"every mini-batch should hold {size} images, got sizes {sizes}.",
              f"every mini-batch holds {size} images")
    X, T = batches[0]
    c.require(getattr(X, "fmt", None) is not None and dims(X) == "SSCB" and X.shape == (28, 28, 1, size),
              f"X should be a 28 x 28 x 1 x {size} dlarray with format \"SSCB\", got {type(X).__name__} "
              f"{getattr(X, 'shape', '')} with format {getattr(X, 'fmt', None)!r}.", "X: \"SSCB\", 28 x 28 x 1 x size")
    c.require(np.asarray(extractdata(X)).dtype == np.float32,
              f"X should be float32 (MATLAB single), got {np.asarray(extractdata(X)).dtype}.", "X: float32")
    xmax = max(float(np.max(extractdata(b[0]))) for b in batches)
    xmin = min(float(np.min(extractdata(b[0]))) for b in batches)
    c.require(xmin >= 0 and 0.9 < xmax <= 1.0 + 1e-6,
              f"the pixel values should lie in [0, 1] (0 black, 1 white); they lie in [{xmin:g}, {xmax:g}]."
              + (" The raw images hold whole numbers 0..255." if xmax > 1.5 else ""),
              "X scaled to [0, 1]")
    c.require(getattr(T, "fmt", None) is not None and dims(T) == "CB" and T.shape == (10, size),
              f"T should be a 10 x {size} dlarray with format \"CB\" (one row per digit), got "
              f"{getattr(T, 'shape', '')} with format {getattr(T, 'fmt', None)!r}.", "T: \"CB\", 10 x size")
    Td = np.asarray(extractdata(T))
    c.require(Td.dtype == np.float32 and np.all((Td == 0) | (Td == 1)) and np.all(Td.sum(axis=0) == 1),
              "T should hold one-hot columns of float32: a single 1 per column, zeros elsewhere.",
              "T: float32 one-hot columns")


@ex1.part("b", "targets match their images (all ten classes); the seed alone decides the order")
def _ex1_b(c):
    n, start, size, seed = _case(c, _EX1_CASES)
    XRaw, labels = _raw_digits()
    Xs, ls = XRaw[..., start:start + n].copy(), labels[start:start + n].copy()
    lookup = {}
    for i in range(Xs.shape[-1]):
        lookup.setdefault(Xs[..., i].tobytes(), set()).add(int(ls[i]))
    q = _ex1_make(c, Xs, ls, size, seed)
    batches = _one_epoch(c, q)
    c.require(len(batches) > 0, "the queue gave no mini-batch in an epoch.")
    bad = total = 0
    for X, T in batches:
        x = np.asarray(extractdata(X), dtype=np.float64)
        img = np.round(x * 255 if x.max() <= 1.0 + 1e-6 else x).astype(np.uint8)
        c.require(T.shape[0] == 10, f"T has {T.shape[0]} rows; it needs one row per digit 0..9.")
        lab = onehotdecode(T, CLASSES, 1)
        for j in range(img.shape[-1]):
            total += 1
            bad += int(lab[j]) not in lookup.get(img[..., j].tobytes(), ())
    c.require(bad == 0, f"{bad} of {total} targets do not match their image: column j of T must be the one-hot "
                        "target of image j of X, rows in the order of the digits 0..9.",
              "column j of T is the target of image j of X")
    keep = np.flatnonzero(labels[:3000] != 9)[:2 * size]
    q9 = _ex1_make(c, XRaw[..., keep], labels[keep], size, seed)
    shuffle(q9)
    _, T9 = next(q9)
    c.require(T9.shape[0] == 10,
              f"for images without a single 9, T has {T9.shape[0]} rows instead of 10: onehotencode only knows "
              "the classes it sees unless it is told all of them.", "10 rows even with no 9 in the data")
    firsts = []
    for k in range(2):
        np.random.seed(100 + k)              # the global generator differs: only the seed may decide the order
        qq = _ex1_make(c, Xs, ls, size, seed)
        shuffle(qq)
        firsts.append(onehotdecode(next(qq)[1], CLASSES, 1))
    c.require(np.array_equal(firsts[0], firsts[1]),
              "two queues made with the same seed gave different mini-batches after shuffle: the seed must "
              "decide the order.", "same seed, same order")
    shuffle(qq)
    c.require(not np.array_equal(firsts[1], onehotdecode(next(qq)[1], CLASSES, 1)),
              "a second shuffle gave the same order as the first.", "every shuffle draws a new order")


# =========================================================================================== ex2: the loop
ex2 = Exercise(
    "ex2", "the training loop, model-function form",
    hints=[
        "Same loop as Section 2, with the dictionary of parameters in place of the network. Everything that must "
        "live across epochs -- the iteration counter, the two moving averages, the list of losses -- is created "
        "once, before the epoch loop; the counter grows by one per mini-batch, before the update.",
        "Section 2's side-by-side loop: replace net by parameters and modelLoss by modelLossFcn. adamupdate's "
        "argument order is (params, gradients, averageGrad, averageSqGrad, iteration, learnRate).",
        "    averageGrad = averageSqGrad = None\n"
        "    iteration = 0\n"
        "    lossHistory = []\n"
        "    for epoch in range(numEpochs):\n"
        "        shuffle(mbq)\n"
        "        while hasdata(mbq):\n"
        "            ____                          # counter, next mini-batch, dlfeval, adamupdate\n"
        "            lossHistory.append(float(loss))\n"
        "    return parameters, lossHistory",
    ],
    solution=Sealed(
        "eNqdUbFOxDAM3fkKj62ITr0VqSMHAzAAAxJiMI3TRkqdXpIe8Pck5egl3Ia3vBf7PT9LUhAcar63ksxu5i5oy9WEDkcK5LyA8X0v"
        "gOfxerLdEN+G0PEjBmqbTdNs66sLiIUHctjTjUMJLTxYphx+2v8ldByOSSuCzYIY6/2t9sG6r4i9vi2gsg4oCYNmcMg9VauVo3Iq"
        "P8xKGaqi13oFPwZtCAb0EgMu1KmhtHDZwragXgQ8RxNMn6Gc+WtUQB8X0sTBx3/SKDqgqcYU4l2kdx0LyENMA8spOZuFJ84iQ4nj"
        "PMUdqDjLql+2Fxr/qUJenELKDn8ex/FuG5wmYlkpYzFUiah//joKs+Ni56ztGyfBvcY="
    ),
)

_EX2_CASES = [  # (parameter seed, images, queue seed, epochs, learning rate of part c)
    (3, 640, 1, 2, 0.01),
    (4, 384, 7, 3, 0.003),
    (5, 512, 9, 2, 0.02),
]


def _ex2_run(c, pseed, n, qseed, epochs, **kw):
    f = c.get("trainModelFunction", "function")
    p0 = _params(pseed)
    args = "parameters, mbq, " + str(epochs) + "".join(f", {k}={v}" for k, v in kw.items())
    out = c.call(f"trainModelFunction({args})", f, p0, _queue(n, qseed), epochs, **kw)
    c.require(isinstance(out, tuple) and len(out) == 2,
              f"trainModelFunction should return two values, parameters and lossHistory; got {type(out).__name__}"
              + (f" of length {len(out)}" if isinstance(out, tuple) else "") + ".")
    p1, hist = out
    c.require(_is_param_dict(p1, p0),
              "the first value should be a dictionary like parameters ({'fc1': {'Weights': ..., 'Bias': ...}, "
              f"'fc2': ...}}), got {type(p1).__name__}.")
    return p0, p1, hist


@ex2.part("a", "returns parameters and one float loss per iteration; it trains")
def _ex2_a(c):
    pseed, n, qseed, epochs, _ = _case(c, _EX2_CASES)
    p0, p1, hist = _ex2_run(c, pseed, n, qseed, epochs)
    per = -(-n // 128)
    c.require(isinstance(hist, list) and all(isinstance(h, float) for h in hist),
              "lossHistory should be a list of Python floats (float(loss)), got "
              + (f"a list of {type(hist[0]).__name__}" if isinstance(hist, list) and hist else type(hist).__name__)
              + ".", "lossHistory: a list of floats")
    c.require(len(hist) == epochs * per,
              f"{n} images in mini-batches of 128 for {epochs} epochs is {epochs} x {per} = {epochs * per} "
              f"iterations, so {epochs * per} losses; lossHistory has {len(hist)}.",
              f"{epochs * per} losses for {epochs} epochs of {per} mini-batches")
    for name, a in _leaves(p1):
        c.require(a.dtype == np.float32, f"{name} became {a.dtype}; learnables stay float32.")
    c.passed("the trained parameters are float32")
    c.require(not np.allclose(_leaves(p1)[0][1], _leaves(p0)[0][1]),
              "the returned parameters are the initial ones: keep what adamupdate returns.",
              "the parameters changed")
    X, labels = _digits()
    Xf = dlarray(X[..., 3000:3256], "SSCB")
    Tf = dlarray(onehotencode(labels[3000:3256], 1, ClassNames=CLASSES), "CB")
    before = float(crossentropy(_model(p0, Xf), Tf))
    after = float(crossentropy(_model(p1, Xf), Tf))
    c.require(after < before - 0.05,
              f"training should lower the loss; on 256 images it did not train on it went from {before:.4f} to "
              f"{after:.4f}.", f"the loss on 256 other images fell ({before:.2f} -> {after:.2f})")


@ex2.part("b", "over several epochs: the same losses and parameters as the loop of Section 2")
def _ex2_b(c):
    pseed, n, qseed, epochs, _ = _case(c, _EX2_CASES)
    _, p1, hist = _ex2_run(c, pseed, n, qseed, epochs)
    pr, hr, _ = _ref_train(_params(pseed), _queue(n, qseed), epochs)
    what = (f"losses and parameters after {epochs} epochs equal Adam's reference loop "
            f"(rtol {LOOP_TOL['rtol']:g}, atol {LOOP_TOL['atol']:g}: float32 rounding of the same computation)")
    if _same_run(p1, hist, pr, hr):
        c.passed(what)
        return
    for kw, msg in (
        (dict(reset_counter=True),
         "the iteration counter starts again at 0 in every epoch. adamupdate's bias correction needs the number "
         "of updates made SO FAR: start the counter once, before the epoch loop."),
        (dict(reset_state=True),
         "the moving averages start again at None in every epoch: set them once, before the epoch loop, and pass "
         "the values adamupdate returns on to the next call."),
    ):
        prx, hrx, _ = _ref_train(_params(pseed), _queue(n, qseed), epochs, **kw)
        if _same_run(p1, hist, prx, hrx):
            c.fail(f"The first epoch is right, but {msg}")
    per = -(-n // 128)
    try:
        h = np.asarray(hist, dtype=float)
        diff = ~np.isclose(h, hr, **LOOP_TOL) if h.shape == (len(hr),) else None
    except (TypeError, ValueError):
        diff = None
    if diff is not None and diff.any():
        first = int(np.argmax(diff))
        where = (f"agrees with Adam's reference loop up to iteration {first} and differs from iteration {first + 1} on"
                 if first > 0 else "differs from Adam's reference loop from the first iteration on")
        c.fail(f"lossHistory {where} ({per} mini-batches per epoch, {epochs} epochs; the reference calls shuffle(mbq) "
               "at the start of every epoch).",
               "Compare your loop with the network-object loop of Section 2, line by line.")
    c.fail(f"the trained parameters differ from those of Adam's reference loop after {epochs} epochs.",
           "Compare your loop with the network-object loop of Section 2, line by line.")


@ex2.part("c", "learnRate is passed on to adamupdate")
def _ex2_c(c):
    pseed, n, qseed, _, lr = _case(c, _EX2_CASES)
    _, p1, hist = _ex2_run(c, pseed + 10, n, qseed, 1, learnRate=lr)
    pr, hr, _ = _ref_train(_params(pseed + 10), _queue(n, qseed), 1, learnRate=lr)
    if _same_run(p1, hist, pr, hr):
        c.passed(f"with learnRate={lr}: the parameters of Adam with learning rate {lr} "
                 f"(rtol {LOOP_TOL['rtol']:g}, atol {LOOP_TOL['atol']:g})")
        return
    pd, hd, _ = _ref_train(_params(pseed + 10), _queue(n, qseed), 1)
    if _same_run(p1, hist, pd, hd):
        c.fail(f"trainModelFunction(..., learnRate={lr}) trained with adamupdate's default learning rate 0.001: "
               "the argument learnRate never reaches adamupdate.")
    c.fail(f"with learnRate={lr}, one epoch gives other parameters than adamupdate with that learning rate.")


# =========================================================================================== ex3: monitored
class _ScriptedMonitor(trainingProgressMonitor):
    """A silent monitor whose Stop "button" is clicked by the check once ``stop_after`` points are recorded."""

    def __init__(self, stop_after=None):
        super().__init__(Metrics=["Loss", "Accuracy"], Info=["Epoch"], Visible=False, frontend="none")
        self._stop_after = stop_after

    @property
    def Stop(self):
        if self._stop_after is None:
            return False
        return self.MetricData["Loss"].shape[0] >= self._stop_after


class _CountingQueue(minibatchqueue):
    """A minibatchqueue that counts the epochs started (calls of shuffle)."""

    def shuffle(self):
        self.shuffles = getattr(self, "shuffles", 0) + 1
        return super().shuffle()


ex3 = Exercise(
    "ex3", "a monitored loop with your own metric",
    hints=[
        "The accuracy needs the predictions Y of the same forward pass that gave the loss: a model loss function "
        "may return extra outputs, and dlfeval returns whatever it returns. The Stop button ends the loop only if "
        "BOTH loop conditions test it.",
        "Section 3's monitored loop shows recordMetrics and the two while conditions. onehotdecode(Y, classes, 1) "
        "gives the predicted digits, onehotdecode(T, classes, 1) the true ones; the accuracy is the mean of their "
        "equality.",
        "def modelLossAcc(parameters, X, T):\n"
        "    Y = model(parameters, X)\n"
        "    loss = crossentropy(Y, T)\n"
        "    return loss, dlgradient(loss, parameters), Y\n"
        "...\n"
        "    while epoch < numEpochs and not monitor.Stop:\n"
        "        ...\n"
        "        while ____:\n"
        "            ...\n"
        "            loss, gradients, Y = dlfeval(modelLossAcc, parameters, X, T)\n"
        "            accuracy = ____\n"
        "            recordMetrics(monitor, iteration, Loss=loss, Accuracy=accuracy)",
    ],
    solution=Sealed(
        "eNqdU7FugzAQ3fmKUyaioihZqzJkqKpKTYcmQzNe7SMggU2MSRtF+feeIYDdDpXqBfnO9967u4ekDCotqXzRTbMWIq7RYEWWTJPA"
        "ewK7+X0EfPaQ9u/CB/MuWXIt54XhLylrdH2O9662yx4MyoLD7oksh1vsihKY0PrHhmxrFPTJsTKBfRRFkrVag4XaaFVYbUgGYqqP"
        "YwKqrR5rLXJ3718lUBIa9YaW0uViuVzdOsITGTzQE3OwsFetyA9vjz8TBbOgLbTi4LKLkCMab595UdIt9jDpAFQSlLaDnMXW6rpX"
        "MGHcpbAaQ03eZllJMfczH4M9eo6NRItd6g/gUHJA4I5bLUtX9GVDomGf4fS71WV0wjL23eLv72aXAAiFaA2Ks2OqFxWhinmcubaS"
        "BMM4k4gS2TRcvZpDmkKQ3gXpENon9laZ/FogSqzamsdGgVu87vzygOM/J6BPphV4NgwbMdyrkRuyphBNPJrWK3TDTvudrG8DTYfJ"
        "hlh9n88q0xNQZ8M0m106q11BZ3AZ3XmdBb+dP6BRwDfDzkEd"
    ),
)

_EX3_CASES = [(3, 640, 1, 2), (6, 512, 4, 3), (7, 384, 8, 2)]


def _ex3_run(c, pseed, n, qseed, epochs, monitor, queue=None):
    f = c.get("trainMonitored", "function")
    p0 = _params(pseed)
    out = c.call(f"trainMonitored(parameters, mbq, {epochs}, monitor)", f, p0,
                 queue if queue is not None else _queue(n, qseed), epochs, monitor)
    c.require(isinstance(out, tuple) and len(out) == 2,
              "trainMonitored should return two values: parameters, iteration.")
    p1, it = out
    c.require(_is_param_dict(p1, p0), f"the first value should be the trained parameters, got {type(p1).__name__}.")
    c.require(isinstance(it, (int, np.integer)) and not isinstance(it, bool),
              f"the second value should be the iteration counter (an int), got {it!r}.")
    return p1, int(it)


@ex3.part("a", "Loss and mini-batch Accuracy recorded at every iteration; trains like Adam")
def _ex3_a(c):
    pseed, n, qseed, epochs = _case(c, _EX3_CASES)
    mon = _ScriptedMonitor()
    p1, it = _ex3_run(c, pseed, n, qseed, epochs, mon)
    pr, hr, ar = _ref_train(_params(pseed), _queue(n, qseed), epochs)
    want = len(hr)
    c.require(it == want, f"{epochs} epochs of {want // epochs} mini-batches: the returned iteration should be "
                          f"{want}, got {it}.", f"returns iteration = {want}")
    data = mon.MetricData
    for name in ("Loss", "Accuracy"):
        d = data[name]
        c.require(d.shape[0] == want, f"{name} should be recorded once per iteration: {want} points expected, "
                                      f"the monitor has {d.shape[0]}.")
        c.require(np.array_equal(d[:, 0], np.arange(1, want + 1)),
                  f"the steps of {name} should be the iterations 1, 2, ..., {want}; they start "
                  f"{d[:4, 0].tolist()}.", f"{name} recorded at steps 1..{want}")
    c.close("the recorded losses", data["Loss"][:, 1], np.array(hr), **LOOP_TOL,
            why="float32 rounding of the same loop")
    acc, ref = data["Accuracy"][:, 1], np.array(ar)
    off = np.abs(acc - ref)
    k = int(off.argmax())
    if not np.all(off <= 1.5 / 128):
        c.fail("the recorded Accuracy should be the fraction of the mini-batch's images whose predicted class (the "
               "largest score) is the target's class, computed from the same forward pass as the loss.",
               f"largest difference at iteration {k + 1}: got {acc[k]:.4f}, expected {ref[k]:.4f}.")
    c.passed("the recorded accuracies (within one image of 128: float32 ties)")
    c.require(_same_run(p1, hr, pr, hr),
              "the trained parameters differ from those of Adam (default learning rate) on the same mini-batches.",
              "the trained parameters")


@ex3.part("b", "the loop ends right after Stop, mid-epoch and at the end of an epoch")
def _ex3_b(c):
    pseed, n, qseed, epochs = _case(c, _EX3_CASES)
    per = -(-n // 128)
    k = per + 2                                    # clicked during the second iteration of epoch 2
    _, it = _ex3_run(c, pseed, n, qseed, epochs + 5, _ScriptedMonitor(stop_after=k))
    c.require(it == k, f"Stop was clicked during iteration {k} (epoch 2 of {epochs + 5}): the loop should end after "
                       f"that iteration, returning iteration = {k}; it returned {it}.",
              f"clicked in iteration {k}, mid-epoch: ends with iteration {k}")
    q = _queue(n, qseed, cls=_CountingQueue)
    _, it = _ex3_run(c, pseed, n, qseed, 50, _ScriptedMonitor(stop_after=per), queue=q)
    started = getattr(q, "shuffles", 0)
    c.require(it == per and started <= 1,
              f"Stop was clicked in the last iteration of epoch 1 (of 50): the loop should end with iteration = "
              f"{per} without starting another epoch; it returned iteration = {it} after starting {started} "
              "epochs (calls of shuffle).", "clicked at the end of epoch 1: no further epoch started")


# =========================================================================================== ex4: the snippet
def _letters(value):
    """The learner's set of letters -> the canonical sorted string that was hashed."""
    if isinstance(value, str):
        raise ValueError("give a set of letters such as {\"A\", \"E\"}, not a single string.")
    if not isinstance(value, (set, frozenset, list, tuple)) or not all(isinstance(s, str) for s in value):
        raise ValueError("give a set of letters such as {\"A\", \"E\"}.")
    letters = {s.strip().upper() for s in value}
    if not letters <= set("ABCDE"):
        raise ValueError(f"the letters are A to E; got {sorted(letters)}.")
    if len(letters) != 2:
        raise ValueError(f"the snippet has exactly two mistakes: give two letters, got {len(letters)}.")
    return "".join(sorted(letters))


ex4 = Answer(
    "ex4", "the two mistakes of the snippet",
    variable="seed_mistakes",
    digests="25fbb84aeb798f2bca2aeb50",   # python -m dlteach.checks digest ex4 <the two letters, sorted>
    normalize=_letters,
    describe="pair of letters",
    hints=[
        "Test each statement against the loop of Section 2, which works: is the same thing done there? A statement "
        "is a real mistake only if the snippet fails or trains wrongly because of it.",
        "Compare three things with Section 2: when the counter is incremented (before or after the update), how "
        "dlfeval is called, and how the moving averages start. Then compare the first arguments of the two calls, "
        "and the names of the moving averages, letter by letter.",
        "Run the snippet below the exercise (the cell that fails on purpose): its error confirms one of the two "
        "mistakes; the cell after it shows the other.",
    ],
    solution=Sealed(
        "eNpNUMtOwzAQvPMVo3BppVLEtQiJhJZTAQm4IYS28TYY/Ej9iFQQ/46dlJKLrd3ZmdkdzyzetPSBPtnjCt9FVcxQLIufk1NUCwi15Y4U8hMp"
        "pBnDYYZNDCBBOrYiNTF8Hi050hzYeZwdmgjvDLv54Dpgb+NRaJ70l4se9btIjgWoY0cNQ3oER1JJ05Rd87SDNLCG0SqqGWTECO4ZwwgZm9Rc"
        "Fi6zRipBONw2ONU2mrRdRqWpHWtOpUC1un14XI0OmsHbnrCVzgfUpBQaDomV2BSkNbjIPjcHn/+chhx7ajR1PymDZ7XF5K58XpcVrrUVrNbW"
        "+2mWWB0lMknbLp31l4RH2t0FsG7DHpOXV5zjPiUxvRyH7+XXYKkxuI22nv8C+Nul8A=="),
)


# =========================================================================================== ex5: RMSProp
ex5 = Exercise(
    "ex5", "one RMSProp step by hand",
    hints=[
        "Two steps in order: first update the moving average of the squared gradient, then take the step with "
        "the NEW average. Build new arrays: the caller still needs theta, g and v afterwards.",
        "Section 5.2's two formulas, left to right; rho is sqGradDecay, eta is learnRate. Look closely at what "
        "epsilon is added to.",
        "    v_new = sqGradDecay * v + ____\n"
        "    theta_new = theta - learnRate * g / ____\n"
        "    return theta_new, v_new",
    ],
    solution=Sealed(
        "eNpNjk0KwjAQhfee4i2TmtbUlQrZCe71ABLsWIWappNY8faGWLSzGh7f+2noCn4Ez70/RfIi3ihahVZhVOjIsjvaSEZXWtcKYTiw"
        "bfZ0se8kbRXIh3vXO1NTuZG7BdKNZ0cvmDmLAiOWEDXKuSyT3qIosM7GXD2Z85/o34KMriCcr8LAUeQWmUKnBTJHMMUnu3+S+q75"
        "APU7Ry8="
    ),
)


def _tol(ref):
    return dict(rtol=1e-5, atol=4 * EPS32 * max(1.0, float(np.max(np.abs(ref)))))


_TOL_WHY = "float32: 4 ulp of the largest value, plus 1e-5 relative"


def _pair(c, out, names):
    c.require(isinstance(out, tuple) and len(out) == 2,
              f"the function should return two arrays, {names}; got {type(out).__name__}"
              + (f" of length {len(out)}" if isinstance(out, tuple) else "") + ".")
    return out


@ex5.part("a", "inputs unchanged; the formula, with epsilon in the right place")
def _ex5_a(c):
    f = c.get("rmspropStep", "function")
    rng = np.random.default_rng(11 if c.seed is None else 100 + int(c.seed))
    shape = (4, 5) if c.seed is None else (3, 7)
    theta, g, v = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    v = np.abs(v) * np.float32(0.1)
    for vin, what in ((np.zeros_like(theta), "from v = 0"), (v, "from a nonzero v")):
        t1, v1 = _pair(c, c.call("rmspropStep(theta, g, v)", f, theta, g, vin), "theta_new, v_new")
        c.passed("theta, g and v are unchanged after the call")
        rt1, rv1 = rmspropupdate(theta, g, vin if vin.any() else None)
        c.close(f"v_new {what}", v1, rv1, dtype=np.float32, **_tol(rv1), why=_TOL_WHY)
        c.close(f"theta_new {what}", t1, rt1, dtype=np.float32, **_tol(theta), why=_TOL_WHY)
    one = np.ones(3, np.float32)
    te, _ = _pair(c, c.call("rmspropStep(theta, g, v, learnRate=1, sqGradDecay=0, epsilon=1)", f,
                            np.zeros(3, np.float32), one, np.zeros(3, np.float32),
                            learnRate=1.0, sqGradDecay=0.0, epsilon=1.0), "theta_new, v_new")
    got = float(np.ravel(np.asarray(te))[0])
    c.require(np.allclose(np.asarray(te, dtype=np.float64), -0.5),
              f"with theta = 0, g = 1, v = 0, learnRate = 1, sqGradDecay = 0 and epsilon = 1 the new theta is "
              f"0 - 1 * 1 / (sqrt(1) + 1) = -0.5; got {got:.4g}."
              + (" That is -1 / sqrt(1 + 1): look again at what epsilon is added to."
                 if abs(got + 1 / np.sqrt(2)) < 1e-4 else ""),
              "epsilon = 1 gives -1 / (sqrt(1) + 1)")


@ex5.part("b", "learnRate and sqGradDecay are used; two steps in a row")
def _ex5_b(c):
    f = c.get("rmspropStep", "function")
    rng = np.random.default_rng(12 if c.seed is None else 200 + int(c.seed))
    theta, g, g2 = (rng.standard_normal((4, 5)).astype(np.float32) for _ in range(3))
    lr, rho = (0.05, 0.95) if c.seed is None else ((0.02, 0.8), (0.1, 0.5))[int(c.seed) % 2]
    t1, v1 = _pair(c, c.call(f"rmspropStep(theta, g, v, learnRate={lr}, sqGradDecay={rho})", f, theta, g,
                             np.zeros_like(theta), learnRate=lr, sqGradDecay=rho), "theta_new, v_new")
    rt1, rv1 = rmspropupdate(theta, g, None, lr, rho)
    c.close(f"v_new with sqGradDecay={rho}", v1, rv1, dtype=np.float32, **_tol(rv1), why=_TOL_WHY)
    c.close(f"theta_new with learnRate={lr}", t1, rt1, dtype=np.float32, **_tol(theta), why=_TOL_WHY)
    t2, v2 = _pair(c, c.call("rmspropStep(theta_new, g2, v_new, ...)", f, np.asarray(t1), g2, np.asarray(v1),
                             learnRate=lr, sqGradDecay=rho), "theta_new, v_new")
    rt2, rv2 = rmspropupdate(rt1, g2, rv1, lr, rho)
    c.close("v_new after a second step", v2, rv2, dtype=np.float32, **_tol(rv2), why=_TOL_WHY)
    c.close("theta_new after a second step", t2, rt2, dtype=np.float32, **_tol(theta), why=_TOL_WHY)


# =========================================================================================== ex6: SGDM
ex6 = Exercise(
    "ex6", "SGD with momentum as a dlupdate function",
    hints=[
        "dlupdate calls your function once per parameter array, with the matching gradient and velocity; "
        "what it returns becomes the new parameter and the new velocity. In MATLAB's convention the velocity IS "
        "the step, minus sign included.",
        "Section 5.3: the velocity rule first, then the parameter rule, which uses the NEW velocity.",
        "    vel_new = ____ * vel - ____ * g\n"
        "    w_new = ____\n"
        "    return w_new, vel_new",
    ],
    solution=Sealed(
        "eNpLSU1TKE5PyXUrzUsuyczP0yjXUUjXUShLzdFRyElNLMoLSixJtTXQMzDUUcjNz03NKynNBXItNa24FIAAqC4+L7VcwRYuqaAF"
        "ElTQRegGiqSDFZdDlZYraMM0gsWLUktKi/Ig0jowGQCyLzCW"
    ),
)


@ex6.part("a", "one step: the new velocity and parameter; arguments used; inputs unchanged")
def _ex6_a(c):
    f = c.get("sgdmFunction", "function")
    rng = np.random.default_rng(40 if c.seed is None else 300 + int(c.seed))
    w, g, u = (rng.standard_normal(6).astype(np.float32) for _ in range(3))
    u = u * np.float32(0.01)
    other = (0.05, 0.5) if c.seed is None else ((0.02, 0.8), (0.1, 0.95))[int(c.seed) % 2]
    for kw in ({}, dict(learnRate=other[0], momentum=other[1])):
        lr, mu = kw.get("learnRate", 0.01), kw.get("momentum", 0.9)
        label = "sgdmFunction(w, g, vel" + "".join(f", {k}={v}" for k, v in kw.items()) + ")"
        wn, un = _pair(c, c.call(label, f, w, g, u, **kw), "w_new, vel_new")
        uref = (np.float32(mu) * u - np.float32(lr) * g).astype(np.float32)
        c.close(f"vel_new of {label}", un, uref, **_tol(w), why=_TOL_WHY)
        c.close(f"w_new of {label}", wn, w + uref, **_tol(w), why=_TOL_WHY)
    c.passed("w, g and vel are unchanged after the calls")


@ex6.part("b", "three steps through dlupdate on a dlnetwork equal sgdmupdate: parameters AND velocity")
def _ex6_b(c):
    f = c.get("sgdmFunction", "function")
    np.random.seed(20 if c.seed is None else 20 + int(c.seed))
    hidden = 16 if c.seed is None else 8 + 4 * int(c.seed)
    net = dlnetwork([imageInputLayer([28, 28, 1], Normalization="none"), fullyConnectedLayer(hidden),
                     reluLayer(), fullyConnectedLayer(10), softmaxLayer()])
    rng = np.random.default_rng(0 if c.seed is None else int(c.seed))
    nd, vd = net, dlupdate(lambda w: np.zeros_like(w), net.Learnables)
    ns, vs = net, None
    for _ in range(3):
        gr = dlupdate(lambda w: dlarray(rng.standard_normal(w.shape).astype(np.float32)), net.Learnables)
        out = c.call("dlupdate(sgdmFunction, net, gradients, vel)", dlupdate, f, nd, gr, vd)
        c.require(isinstance(out, tuple) and len(out) == 2,
                  "dlupdate returns as many containers as sgdmFunction returns values: two, w_new and vel_new.")
        nd, vd = out
        ns, vs = sgdmupdate(ns, gr, vs)
    for rd, rs in zip(nd.Learnables, ns.Learnables):
        c.close(f"{rd.Layer}/{rd.Parameter} after 3 steps, dlupdate(sgdmFunction) vs sgdmupdate",
                extractdata(rd.Value), extractdata(rs.Value), dtype=np.float32, rtol=1e-5, atol=1e-6,
                why="float32, 3 steps")
    for rd, rs in zip(vd, vs):
        c.close(f"velocity of {rd.Layer}/{rd.Parameter} after 3 steps", extractdata(rd.Value),
                extractdata(rs.Value), dtype=np.float32, rtol=1e-5, atol=1e-6, why="float32, 3 steps")


# =========================================================================================== ex7: clipping
ex7 = Exercise(
    "ex7", "gradient clipping by the global norm",
    hints=[
        "Per-parameter clipping (thresholdL2Norm) looks at one array at a time. Global clipping needs ONE number "
        "from all the gradients first -- the square root of the sum of ALL squared values -- and then scales every "
        "gradient by the same factor, so that the update keeps its direction.",
        "dlupdate(fun, gradients) applies fun to every gradient and returns a container of the same structure: "
        "use it twice, once to get each array's sum of squares, once to scale. The per-parameter version is in "
        "Section 5.4's clipping cell.",
        "    sq = dlupdate(lambda g: float(np.sum(extractdata(g) ** 2)), gradients)   # {layer: {name: number}}\n"
        "    globalNorm = np.sqrt(sum(____))\n"
        "    if globalNorm > gradientThreshold:\n"
        "        gradients = dlupdate(lambda g: ____, gradients)\n"
        "    return gradients",
    ],
    solution=Sealed(
        "eNptkMEOgjAQRO9+xR5bYjDBG4levXnyBxa6VJKFwrYY/XuhRCDBnprZnTedGqqg5Lq7sSuQ704aZQVNTW3wR/hdH08h/3RsdH6A"
        "8fgeLmB46AwGUoxNYRBsDhU7DKrtUj80it5BsAzjCiqrIUkg03pleh1RdgkekZOzl6Amu4fKCTB+SKBux8j0hTyQVzoO/CTG6aLr"
        "mVhXW+h1X2LuEHuUyDTnxqefM7XbhtMGpxfrUuP/T1hIZvqusFAYpF3VL/Dof/c="
    ),
)


def _grad_tree(rng, scale, layers=2):
    shapes = {"fc1": {"Weights": (8, 12), "Bias": (8, 1)}, "fc2": {"Weights": (3, 8), "Bias": (3, 1)},
              "fc3": {"Weights": (2, 3), "Bias": (2, 1)}}
    out = {}
    for layer in list(shapes)[:layers]:
        out[layer] = {}
        for name, s in shapes[layer].items():
            factor = scale * (1.0 if name == "Weights" else 0.3)
            out[layer][name] = dlarray((factor * rng.standard_normal(s)).astype(np.float32))
    return out


def _global_norm(tree):
    return float(np.sqrt(sum(float(np.sum(a.astype(np.float64) ** 2)) for _, a in _leaves(tree))))


def _clip_call(c, grads, thr):
    f = c.get("clipGlobalNorm", "function")
    out = c.call(f"clipGlobalNorm(gradients, {thr:.4g})", f, grads, thr)
    c.passed("the gradients passed in are unchanged after the call")
    c.require(_is_param_dict(out, grads),
              "clipGlobalNorm should return gradients with the structure of its input (a dictionary "
              f"{{layer: {{'Weights': ..., 'Bias': ...}}}}), got {type(out).__name__}.", "the structure is kept")
    for name, a in _leaves(out):
        c.require(a.dtype == np.float32, f"{name} became {a.dtype}; gradients stay float32.")
    c.passed("float32 stays float32")
    return out


@ex7.part("a", "a global norm below the threshold: gradients unchanged")
def _ex7_a(c):
    rng = np.random.default_rng(70 if c.seed is None else 170 + int(c.seed))
    grads = _grad_tree(rng, 0.05, layers=2 if c.seed is None else 3)
    thr = 1.5 * _global_norm(grads)
    out = _clip_call(c, grads, thr)
    for (name, a), (_, b) in zip(_leaves(out), _leaves(grads)):
        c.close(f"{name} (global norm {thr / 1.5:.3f} below the threshold {thr:.3f})", a, b, rtol=1e-6, atol=0,
                why="nothing to change")


@ex7.part("b", "above the threshold: one factor for all gradients, new global norm = threshold")
def _ex7_b(c):
    rng = np.random.default_rng(80 if c.seed is None else 180 + int(c.seed))
    grads = _grad_tree(rng, 1.0, layers=2 if c.seed is None else 3)
    gn = _global_norm(grads)
    thr = 0.5 if c.seed is None else (2.0, 0.1)[int(c.seed) % 2]
    out = _clip_call(c, grads, thr)
    ratios = [float(np.sum(a.astype(np.float64) * b) / np.sum(b.astype(np.float64) ** 2))
              for (_, a), (_, b) in zip(_leaves(out), _leaves(grads))]
    per_param = all(float(np.linalg.norm(a)) <= thr * (1 + 1e-5) for _, a in _leaves(out))
    c.require(max(ratios) - min(ratios) <= 1e-5 * max(abs(r) for r in ratios),
              f"the gradients were scaled by different factors ({min(ratios):.3g} to {max(ratios):.3g}); global "
              "clipping scales every gradient by the same factor, so that the update keeps its direction."
              + (" Each gradient seems to be clipped on its own: one norm over ALL the gradients is needed first."
                 if per_param else ""), "one factor for all gradients")
    c.close(f"the global norm after clipping (it was {gn:.4f})", _global_norm(out), thr, rtol=1e-5, atol=0,
            why="float32 sum of squares")
    for (name, a), (_, b) in zip(_leaves(out), _leaves(grads)):
        c.close(f"{name} after clipping", a, b * np.float32(thr / gn), rtol=1e-5, atol=1e-7, why="float32")
