"""Check code of lesson 06, "Beyond a chain of layers: sequences and several outputs"
(notebooks/06_sequences_and_outputs.py).

The notebook's setup cell imports the exercises; each graded test cell is one line plus nbgrader's
hidden block, which runs the same requirements on other inputs (other lengths, sizes, sequences,
networks and mini-batches)::

    from dlteach.exercises.lesson06 import ex1, ex2, ex3, ex4, ex5, ex6, ex7, ____

    ex1.check("a")          # test cell ex1_a
    ### BEGIN HIDDEN TESTS
    ex1.check("a", seed=61)
    ### END HIDDEN TESTS

Every reference is built here (sequences from ``load_waveforms``, the rotated digits, this module's own
copy of the lesson's networks), so a learner who redefines a notebook variable is still compared with the
right values. Tolerances are documented at each comparison (float32: about 7 significant digits).

Exercises (20 points in test cells; the lesson adds 3 manually graded written questions):

============================  =======================================================================  ======
part (test cell)              requirement                                                              points
============================  =======================================================================  ======
ex1 "a" (cell ex1_a)          batchLayout: the size of the padded "TCB" mini-batch as stored (CBT)        1
ex1 "b" (cell ex1_b)          batchLayout: which time steps hold data, left and right padding             2
ex2 "a" (cell ex2_a)          preprocessMiniBatch: X padded on the left, T x C x B                        1
ex2 "b" (cell ex2_b)          preprocessMiniBatch: one-hot targets, every class, aligned with X           2
ex3 "a" (cell ex3_a)          the time step OutputMode="last" reads under right padding (hashed)          1
ex3 "b" (cell ex3_b)          lastRealOutputs: each sequence's output at its own last time step           2
ex4 "a" (cell ex4_a)          addAngleHead: a second, named output of one value per observation           1
ex4 "b" (cell ex4_b)          addAngleHead: fed by the given layer; the rest of the network unchanged     1
ex5 "a" (cell ex5_a)          the wrong line of the colleague's two-output loss (hashed)                  1
ex5 "b" (cell ex5_b)          modelLossTwoHeads: the weighted loss                                        2
ex5 "c" (cell ex5_c)          modelLossTwoHeads: gradients and state                                      1
ex6 "a" (cell ex6_a)          the two loss terms of the untrained network, measured                       1
ex6 "b" (cell ex6_b)          a loss weight under which both terms matter at the start                    1
ex7 "a" (cell ex7_a)          nncTerminals: NNC's sum of means equals MATLAB's weighted loss (+ grads)    2
ex7 "b" (cell ex7_b)          nncTerminals: one loss value per observation in each terminal               1
============================  =======================================================================  ======
"""

from __future__ import annotations

import functools

import numpy as np

from ..checks import Exercise, Sealed, ____, digest  # noqa: F401  (____ is re-exported for the notebook)

__all__ = ["ex1", "ex2", "ex3", "ex4", "ex5", "ex6", "ex7", "lesson_trunk", "lesson_two_head_network",
           "reference_minibatch_fcn", "reference_two_head_loss", "____"]


def _dl():
    import dlteach

    return dlteach


def _arr(x):
    return np.asarray(_dl().extractdata(x)) if type(x).__name__ == "dlarray" else np.asarray(x)


def _is_table(x):
    return type(x).__name__ == "Table"


def _rows(table):
    return [f"{lay}/{par}" for lay, par in zip(table.Layer, table.Parameter)]


def _letter(value, allowed):
    if not isinstance(value, str) or len(value.strip()) != 1:
        raise ValueError(f"write one letter as a string, one of {', '.join(map(repr, allowed))}.")
    v = value.strip().upper()
    if v not in allowed:
        raise ValueError(f"choose one of {', '.join(map(repr, allowed))}.")
    return v


def _hashed(c, variable, canonical_fn, digests, what):
    value = c.get(variable)
    try:
        canonical = canonical_fn(value)
    except ValueError as err:
        c.fail(f"`{variable}` = {value!r}: {err}")
    if digest(c.exercise.name + "." + variable, canonical) not in digests:
        c.fail(f"`{variable}` = {value!r} is not the right {what}.")
    c.passed(f"`{variable}` is the right {what}")
    return canonical


def _number(c, name, value):
    if isinstance(value, (str, bytes, bool)) or value is None or np.size(_arr(value)) != 1:
        c.fail(f"`{name}` should be one number, got {value!r}.")
    v = float(_arr(value))
    if not np.isfinite(v):
        c.fail(f"`{name}` = {v}: it should be a finite number.")
    return v


# ---------------------------------------------------------------------------------------------------
# The lesson's data and networks, rebuilt here
# ---------------------------------------------------------------------------------------------------
def _classes():
    from ..data.waveforms import CLASSES

    return np.array(CLASSES)


def _sequences(n, seed, min_length=3, max_length=12):
    """n waveform sequences (numTimeSteps x 3, float32) and their labels (1-element arrays, as a datastore reads)."""
    data, labels = _dl().load_waveforms(n, min_length=min_length, max_length=max_length, seed=seed)
    return data, [np.array([lab]) for lab in labels]


@functools.lru_cache(maxsize=1)
def _digits():
    return _dl().digitTrain4DArrayData()


class _seeded:
    """``with _seeded(seed):`` NumPy's global generator seeded with ``seed`` inside, restored afterwards (a check
    must not change the random numbers of the learner's notebook)."""

    def __init__(self, seed):
        self.seed = seed

    def __enter__(self):
        self.saved = np.random.get_state()
        np.random.seed(self.seed)

    def __exit__(self, *exc):
        np.random.set_state(self.saved)


def lesson_trunk(seed=0):
    """The lesson's network before the angle head: a trunk with a skip connection and the digit head
    (built with np.random.seed(seed), as the notebook does; NumPy's global generator is restored afterwards)."""
    with _seeded(seed):
        return _trunk()


def _trunk():
    d = _dl()
    layers = [
        d.imageInputLayer([28, 28, 1], Normalization="none"),
        d.convolution2dLayer(5, 8, Padding="same", Stride=2),
        d.batchNormalizationLayer(),
        d.reluLayer(Name="relu_1"),
        d.convolution2dLayer(3, 16, Padding="same", Stride=2),
        d.batchNormalizationLayer(),
        d.additionLayer(2, Name="add"),
        d.reluLayer(Name="relu_2"),
        d.fullyConnectedLayer(10, Name="fc"),
        d.softmaxLayer(Name="softmax"),
    ]
    net = d.dlnetwork(layers, Initialize=False)
    net = d.addLayers(net, [d.convolution2dLayer(1, 16, Stride=2, Name="conv_skip"),
                            d.batchNormalizationLayer(Name="batchnorm_skip")])
    net = d.connectLayers(net, "relu_1", "conv_skip")
    net = d.connectLayers(net, "batchnorm_skip", "add/in2")
    return d.initialize(net)


def _add_angle_head(net, sourceName):
    d = _dl()
    net = d.addLayers(net, d.fullyConnectedLayer(1, Name="fc_angle"))
    net = d.connectLayers(net, sourceName, "fc_angle")
    return d.initialize(net)


def lesson_two_head_network(seed=0, head_seed=1):
    """The lesson's two-output network: lesson_trunk(seed), then (np.random.seed(head_seed)) the angle head
    fc_angle (fullyConnectedLayer(1)) fed by relu_2 (NumPy's global generator is restored afterwards)."""
    net = lesson_trunk(seed)
    with _seeded(head_seed):
        return _add_angle_head(net, "relu_2")


def reference_minibatch_fcn(classNames):
    """The lesson's mini-batch function (used by the notebook until the learner's Exercise 2 passes)."""
    d = _dl()

    def preprocess(dataX, dataT):
        return (d.padsequences(dataX, 1, Direction="left"),
                d.onehotencode(np.concatenate(dataT), 1, ClassNames=classNames))

    return preprocess


def reference_two_head_loss(net, X, T1, T2, angleWeight):
    """The lesson's two-output model loss (used by the notebook until the learner's Exercise 5 passes)."""
    return _two_head_loss(net, X, T1, T2, angleWeight)[:3]


def _digit_batch(start, n):
    """X (SSCB dlarray), T1 (10 x n one-hot), T2 (1 x n angles), labels (n,) from the rotated training digits."""
    d = _dl()
    X, labels, angles = _digits()
    sl = slice(start, start + n)
    T1 = d.onehotencode(labels[sl], 1, ClassNames=range(10))
    return (d.dlarray(X[:, :, :, sl], "SSCB"), T1, angles[sl].reshape(1, -1).astype(np.float32),
            labels[sl].copy())


def _two_head_loss(net, X, T1, T2, w):
    d = _dl()
    Y1, Y2, state = d.forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)
    lossLabels = d.crossentropy(Y1, T1)
    lossAngles = d.mse(Y2, T2)
    loss = lossLabels + w * lossAngles
    return loss, d.dlgradient(loss, net.Learnables), state, lossLabels, lossAngles


# ---------------------------------------------------------------------------------------------------
# Exercise 1 -- the padded mini-batch, predicted
# ---------------------------------------------------------------------------------------------------
ex1 = Exercise(
    "ex1", "predict the padded mini-batch",
    hints=[
        # the idea
        "padsequences makes every sequence as long as the longest one of the mini-batch, adding zero time "
        "steps at the end (right) or at the start (left). The queue then labels the T x C x B array \"TCB\", "
        "and a formatted dlarray always stores its dimensions in the order S, C, B, T.",
        # where to look
        "Section 2: the printout of XPad.shape and the mask of the three short sequences, for both directions; "
        "Section 1: dlarray(..., \"TCB\") and its shape.",
        # partial code
        "maxT = max(lengths)\n"
        "shape = (____, len(lengths), ____)\n"
        "mask = np.zeros((len(lengths), maxT), dtype=bool)\n"
        "for b, L in enumerate(lengths):\n"
        "    if direction == \"right\":\n"
        "        mask[b, ____] = True\n"
        "    else:\n"
        "        mask[b, ____] = True\n"
        "return shape, mask",
    ],
    solution=Sealed(
        "eNp9UctugzAQvPcrRnABifYDkLiEK0duUQ8mLLFVYqP1ooZ+fR1DSCulHcmybO88dt3TgE7JSTdqcbNkI9mzaF/AzpdaK2tpDIfe"
        "MJ3EOJuXLwi4qGuL6rbdCXm891pNFB6yX+xQspcVkZvjB1LUuOIQVltCu0+IJvSjYlYLvDgmj6StD8lm7T+Cg53evoidz7In6iGw"
        "LBNVnXPjGmxwjK5AA2NBIRyxEtppa1M3mOHRK6oKCZuzluRRcI9wDGpl8x6StDwT/kaKXonCYNhLgZgZahDiXTLMiJ4bxDG/oin/"
        "80k30c0huimJQyTbR10mmdmuv1NE9W8jgI+N"
    ),
)


def _layout_ref(lengths, C, direction):
    maxT = max(lengths)
    mask = np.zeros((len(lengths), maxT), dtype=bool)
    for b, L in enumerate(lengths):
        if direction == "right":
            mask[b, :L] = True
        else:
            mask[b, maxT - L:] = True
    return (C, len(lengths), maxT), mask


def _layout_cases(c):
    if not c.hidden:
        return [([7, 4, 9, 5], 3, "left"), ([7, 4, 9, 5], 3, "right"), ([2, 6], 5, "right"), ([3], 1, "left")]
    out = []
    for direction in ("left", "right", "left"):
        B = int(c.rng.integers(2, 7))
        lengths = [int(v) for v in c.rng.integers(1, 13, size=B)]
        out.append((lengths, int(c.rng.integers(1, 6)), direction))
    return out


def _call_layout(c, fn, lengths, C, direction):
    label = f"batchLayout({lengths}, {C}, {direction!r})"
    out = c.call(label, fn, list(lengths), C, direction)
    if not isinstance(out, tuple) or len(out) != 2:
        c.fail(f"{label} should return two values, `shape, mask`; got {type(out).__name__}"
               + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "") + ".")
    return label, out


@ex1.part("a", "the size of the padded mini-batch as the dlarray stores it")
def _ex1a(c):
    fn = c.get("batchLayout", "function")
    for lengths, C, direction in _layout_cases(c):
        label, (shape, _mask) = _call_layout(c, fn, lengths, C, direction)
        want, _ = _layout_ref(lengths, C, direction)
        try:
            got = tuple(int(v) for v in shape)
            ints = all(float(v) == int(v) for v in shape)
        except (TypeError, ValueError):
            c.fail(f"the shape returned by {label} should be a tuple of three integers, got {shape!r}.")
        if not ints or len(got) != 3:
            c.fail(f"the shape returned by {label} should be a tuple of three integers, got {shape!r}.")
        if got != want:
            T, B = max(lengths), len(lengths)
            if got == (T, C, B):
                c.fail(f"{label}: {got} is the size of padsequences' output (T x C x B). The check asks for the "
                       "size of the dlarray the queue returns with MiniBatchFormat \"TCB\": how does a formatted "
                       "dlarray order its dimensions?")
            if sorted(got) == sorted(want):
                c.fail(f"{label}: the shape {got} has the right sizes in the wrong order: a formatted dlarray "
                       "stores its dimensions as S, C, B, T.")
            c.fail(f"{label}: the shape {got} is not right. Which sequence sets the number of time steps?")
    c.passed("the shape (C, B, T) for every batch: the longest sequence sets T, \"TCB\" is stored as CBT")


@ex1.part("b", "which time steps of each sequence hold data, for left and right padding")
def _ex1b(c):
    fn = c.get("batchLayout", "function")
    for lengths, C, direction in _layout_cases(c):
        label, (_shape, mask) = _call_layout(c, fn, lengths, C, direction)
        _, want = _layout_ref(lengths, C, direction)
        if mask is None:
            c.fail(f"the mask returned by {label} is None.")
        m = _arr(mask)
        if m.shape != want.shape:
            hint = (" It looks transposed: one ROW per observation, one column per time step."
                    if m.shape == want.T.shape else "")
            c.fail(f"the mask returned by {label} has shape {m.shape}, expected {want.shape} "
                   f"(observations x time steps).{hint}")
        if m.dtype != bool:
            if np.isin(m, (0, 1)).all() and np.array_equal(m.astype(bool), want):
                c.fail(f"the mask returned by {label} has the right pattern but dtype {m.dtype}: make it a "
                       "logical (bool) array, as padsequences' mask.")
            c.fail(f"the mask returned by {label} should be a bool array, got dtype {m.dtype}.")
        if not np.array_equal(m, want):
            other = "left" if direction == "right" else "right"
            _, flipped = _layout_ref(lengths, C, other)
            if np.array_equal(m, flipped):
                c.fail(f"the mask returned by {label} marks the data as {other} padding would place it. With "
                       f"Direction=\"{direction}\" where do the zeros go?")
            bad = np.argwhere(m != want)
            b, t = (int(v) for v in bad[0])
            c.fail(f"the mask returned by {label} is wrong in {len(bad)} place(s), the first at observation {b} "
                   f"(length {lengths[b]}), time step {t} (counted from 0).")
    c.passed("the mask (observations x time steps, bool) for left and right padding")


# ---------------------------------------------------------------------------------------------------
# Exercise 2 -- the mini-batch function
# ---------------------------------------------------------------------------------------------------
ex2 = Exercise(
    "ex2", "a MiniBatchFcn that pads",
    hints=[
        # the idea
        "The queue calls preprocessMiniBatch(dataX, dataT) with one LIST per datastore column: dataX holds the "
        "mini-batch's sequences (numTimeSteps x numChannels each), dataT their labels (a 1-element array each). "
        "X: pad the time steps so that the data ends at the last step. T: one column per observation, one row "
        "per class of the WHOLE data set, in the order of classNames -- a mini-batch need not contain every "
        "class.",
        # where to look
        "Section 2 (padsequences, paddingDim counted from 1 as in MATLAB, Direction) and Section 3 (the "
        "printout of what the function receives, the MATLAB version); help(onehotencode) for its ClassNames "
        "option.",
        # partial code
        "def preprocessMiniBatch(dataX, dataT):\n"
        "    X = padsequences(dataX, ____, Direction=____)\n"
        "    labels = np.concatenate(dataT)\n"
        "    T = onehotencode(labels, ____, ClassNames=____)\n"
        "    return X, T",
    ],
    solution=Sealed(
        "eNpVTzGKw0AM7O8VImlsMAdpD9xcrr1ULtIqu2Oy4Gg3q3W4/P7kNQmJQEhiRsyMx0gpI+XooPobJHxzcefGc+FjR8sY2q8PsjpS"
        "T4m94jpDjP3g7Dr6CRmuhCj9ZsJYNi291ZZKuIC0IClxBnk7RY1PO2oG+qN9WyUmPmFS05H06aI4LhDrZrVRKYOhUXCOBrno0aw/"
        "1cZ+YtUDX6C9e67tqw/ckO9UwW4dUJOPJ0W+8ZJAq0pGmbOQpRv+Aax0Wto="
    ),
)


def _mbf_batches(c):
    """[(dataX, dataT)]: a mixed batch and one that lacks two classes (visible); other ones (hidden)."""
    seed = 601 if c.seed is None else 6000 + c.seed
    data, labels = _sequences(24, seed)
    names = [str(t[0]) for t in labels]
    mixed = list(range(6)) if not c.hidden else [int(i) for i in c.rng.choice(24, size=7, replace=False)]
    keep = {names[0], names[1]} if not c.hidden else {str(v) for v in c.rng.choice(sorted(set(names)), 2,
                                                                                 replace=False)}
    lacking = [i for i in range(24) if names[i] in keep][:5]
    if len({names[i] for i in lacking}) >= len(set(names)):  # pragma: no cover - 2 classes of 4 kept
        lacking = lacking[:2]
    return [([data[i].copy() for i in idx], [labels[i].copy() for i in idx]) for idx in (mixed, lacking)]


def _call_mbf(c, fn, dataX, dataT):
    label = f"preprocessMiniBatch(dataX, dataT) for a mini-batch of {len(dataX)} sequences"
    out = c.call(label, fn, dataX, dataT)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        c.fail(f"{label} should return two arrays, `X, T`; got {type(out).__name__}.")
    return label, out


@ex2.part("a", "X: the sequences padded on the left, T x C x B")
def _ex2a(c):
    d = _dl()
    fn = c.get("preprocessMiniBatch", "function")
    for dataX, dataT in _mbf_batches(c):
        label, (X, _T) = _call_mbf(c, fn, dataX, dataT)
        want = d.padsequences(dataX, 1, Direction="left")
        if X is None:
            c.fail(f"the first output of {label} is None.")
        got = _arr(X)
        if got.shape != want.shape:
            if got.shape == (want.shape[1], want.shape[2], want.shape[0]) or got.shape == want.transpose(1, 2, 0).shape:
                c.fail(f"X from {label} has size {got.shape}: the queue's MiniBatchFormat \"TCB\" needs "
                       f"numTimeSteps x numChannels x numObservations = {want.shape}; leave the reordering to "
                       "the dlarray.")
            c.fail(f"X from {label} has size {got.shape}, expected numTimeSteps x numChannels x numObservations "
                   f"= {want.shape} (the longest sequence sets numTimeSteps).")
        right = d.padsequences(dataX, 1, Direction="right")
        if np.array_equal(got, right) and not np.array_equal(got, want):
            c.fail(f"X from {label} is padded on the right: the zeros come after the data, so the last time "
                   "step of a short sequence is padding. Pad on the left.")
        # a copy of the data and zeros: exact
        if not np.array_equal(got.astype(np.float64), want.astype(np.float64)):
            c.fail(f"X from {label} does not hold the sequences padded with zeros on the left "
                   "(each sequence's time steps in order, ending at the last time step).")
    c.passed("X: sequences padded with zeros on the left, numTimeSteps x numChannels x numObservations (exact)")


@ex2.part("b", "T: one-hot targets over every class, aligned with the observations")
def _ex2b(c):
    fn = c.get("preprocessMiniBatch", "function")
    classes = _classes()
    for dataX, dataT in _mbf_batches(c):
        label, (_X, T) = _call_mbf(c, fn, dataX, dataT)
        labels = np.array([str(t[0]) for t in dataT])
        want = (classes[:, None] == labels[None, :]).astype(np.float32)
        if T is None:
            c.fail(f"the second output of {label} is None.")
        got = _arr(T)
        present = len(set(labels))
        if got.shape != want.shape:
            if got.shape == want.T.shape:
                c.fail(f"T from {label} has size {got.shape}: one ROW per class, one column per observation "
                       f"({want.shape}), as crossentropy reads a \"CB\" prediction.")
            if got.ndim == 2 and got.shape[0] == present and present < len(classes):
                c.fail(f"T from {label} has {got.shape[0]} rows, one per class that occurs in this mini-batch "
                       f"({present} of {len(classes)}). The network always outputs {len(classes)} scores: give "
                       "onehotencode every class, in the order of classNames.")
            c.fail(f"T from {label} has size {got.shape}, expected {want.shape} (classes x observations).")
        if not np.array_equal(got.astype(np.float64), want.astype(np.float64)):
            c.fail(f"T from {label} is not the one-hot encoding of the mini-batch's labels, column b for "
                   "observation b, rows in the order of classNames.")
    c.passed("T: numClasses x numObservations one-hot, rows in the order of classNames, also for a mini-batch "
             "that lacks classes (exact)")


# ---------------------------------------------------------------------------------------------------
# Exercise 3 -- OutputMode="last" and the padding direction
# ---------------------------------------------------------------------------------------------------
ex3 = Exercise(
    "ex3", "which time step is \"last\"?",
    hints=[
        # the idea
        "(a) The layer knows nothing about padding: it runs over every time step of the array it receives. "
        "(b) With right padding, sequence b's own last time step is step lengths[b] (counted from 1) -- in "
        "Python, index lengths[b] - 1. Pick it from the output of every time step.",
        # where to look
        "(a) Section 2's mask for Direction=\"right\". (b) Section 4: the OutputMode=\"sequence\" output Y is "
        "formatted \"CBT\": numHiddenUnits x numObservations x numTimeSteps.",
        # partial code
        "(b)\n"
        "def lastRealOutputs(Y, lengths):\n"
        "    Yd = extractdata(Y)                        # H x B x T\n"
        "    B = Yd.shape[1]\n"
        "    return np.stack([Yd[:, b, ____] for b in range(B)], axis=1)",
    ],
    solution=Sealed(
        "eNqFTrFqwzAU3P0Vh7LIoBayGrI4S4ZAIc1iQoZX69kWcWRXegL376sIOvfgDXfvuLuZonwKrxc3ToIDVKtQsIOa80/BRcjEeBHE7MQyFGEla9mCQqCfpjDnR4NhCYjTErKZvxP7nmNVWR5KwIVp/kiyJom6M5jZjzLFuqlejZ3N/bxJoF4sCemuxr/Y4YQNbb4rtDq2V1WXsMCSgodf36NQ/9C3zt4agy+DM96wv5edhTkP9unJgYT136K7AW0uHvb1L6Z7VLI="
    ),
)


@ex3.part("a", "the time step OutputMode=\"last\" reads under right padding", other_inputs=False)
def _ex3a(c):
    _hashed(c, "lastStepRight", lambda v: _letter(v, "ABCD"), {"309843e1e65da831aca314c8"}, "time step")


def _seq_output(c):
    """Y (dlarray H x B x T, "CBT") and lengths (right padding: zeros after each sequence's data)."""
    d = _dl()
    rng = c.rng if c.hidden else np.random.default_rng(603)
    H, B, T = (4, 5, 9) if not c.hidden else (int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(5, 13)))
    lengths = [int(v) for v in rng.integers(1, T + 1, size=B)]
    if not c.hidden:
        lengths = [9, 3, 6, 1, 4]
    lengths[int(rng.integers(0, B))] = T  # the longest sequence sets T
    Y = rng.standard_normal((H, B, T)).astype(np.float32)
    return d.dlarray(Y, "CBT"), lengths


@ex3.part("b", "each sequence's output at its own last time step")
def _ex3b(c):
    fn = c.get("lastRealOutputs", "function")
    for _ in range(2 if c.hidden else 1):
        Y, lengths = _seq_output(c)
        label = f"lastRealOutputs(Y, {lengths}) with Y of size {Y.shape} (\"CBT\")"
        out = c.call(label, fn, Y, list(lengths))
        Yd = _arr(Y)
        want = np.stack([Yd[:, b, L - 1] for b, L in enumerate(lengths)], axis=1)
        if out is None:
            c.fail(f"{label} returned None: did you forget `return`?")
        got = _arr(out)
        if got.shape != want.shape:
            if got.shape == want.T.shape:
                c.fail(f"{label} returned size {got.shape}; expected numHiddenUnits x numObservations "
                       f"{want.shape} (\"CB\", as OutputMode=\"last\" gives).")
            c.fail(f"{label} returned size {got.shape}; expected numHiddenUnits x numObservations {want.shape}.")
        if np.allclose(got, Yd[:, :, -1]):
            c.fail(f"{label} returned the outputs of the LAST time step of the padded batch -- what "
                   "OutputMode=\"last\" gives, padding included. Take each sequence's own last time step.")
        shifted = np.stack([Yd[:, b, min(L, Yd.shape[2] - 1)] for b, L in enumerate(lengths)], axis=1)
        if np.allclose(got, shifted) and not np.allclose(got, want):
            c.fail(f"{label}: off by one -- index lengths[b] is the step AFTER the last one (Python counts "
                   "from 0).")
        # a copy of values: exact up to float32 storage
        c.close(label, got, want, rtol=0, atol=1e-7, why="copied values")


# ---------------------------------------------------------------------------------------------------
# Exercise 4 -- a second head
# ---------------------------------------------------------------------------------------------------
ex4 = Exercise(
    "ex4", "connect a second head",
    hints=[
        # the idea
        "A head is one more layer whose output goes nowhere: that makes it an output of the network. Add the "
        "layer with its name, connect the given layer's output to it, and initialize the new learnables.",
        # where to look
        "Section 6: the skip connection was added the same way (addLayers, connectLayers(net, source, "
        "destination), initialize); the MATLAB code of the page is next to it.",
        # partial code
        "def addAngleHead(net, sourceName):\n"
        "    net = addLayers(net, fullyConnectedLayer(____, Name=____))\n"
        "    net = connectLayers(net, ____, ____)\n"
        "    return ____",
    ],
    solution=Sealed(
        "eNpNjTEKwzAMRfecQmSKwUvWQobSJUPpFYKwv4PBUcCxh/T0jesh1ii992ThiK19yhowg+0gSJqOPUeDD29Qj46uubY0FfDNJ+JR"
        "KZdDOF+7CExCvQyjpqJNvTMLl2ivVFMwlW4r9y9NjfWXIlKOQl588hz8F0VR3Q9s/zwD"
    ),
)


def _ex4_trunk(c):
    """(net, sourceName, other output names): the lesson's trunk (visible) or a small other one (hidden)."""
    d = _dl()
    if not c.hidden:
        return lesson_trunk(0), "relu_2", ["softmax"]
    layers = [d.imageInputLayer([12, 12, 1], Normalization="none"),
              d.convolution2dLayer(3, 4, Stride=2, Name="conv_a"),
              d.reluLayer(Name="features"),
              d.fullyConnectedLayer(5, Name="fc_class"),
              d.softmaxLayer(Name="probs")]
    with _seeded(c.seed):
        return d.dlnetwork(layers), "features", ["probs"]


def _call_head(c, fn, net, source):
    label = f"addAngleHead(net, {source!r})"
    out = c.call(label, fn, net, source)
    if type(out).__name__ != "dlnetwork":
        c.fail(f"{label} should return the new dlnetwork, got {type(out).__name__}"
               + (": did you forget `return`?" if out is None else "."))
    return label, out


@ex4.part("a", "a second output named fc_angle, one value per observation")
def _ex4a(c):
    d = _dl()
    fn = c.get("addAngleHead", "function")
    net, source, outputs = _ex4_trunk(c)
    label, new = _call_head(c, fn, net, source)
    if not new.Initialized:
        c.fail(f"the network returned by {label} is not initialized: the new layer's learnables are still empty. "
               "net = initialize(net) fills them.")
    if "fc_angle" not in list(new.OutputNames):
        names = [lay.Name for lay in new.Layers]
        c.fail(f"the outputs of the network returned by {label} are {list(new.OutputNames)}; \"fc_angle\" is not "
               "among them." + (" No layer is named \"fc_angle\": give the fully connected layer Name=\"fc_angle\"."
                                if "fc_angle" not in names else ""))
    if sorted(new.OutputNames) != sorted(outputs + ["fc_angle"]):
        c.fail(f"the network returned by {label} has the outputs {list(new.OutputNames)}; expected the digit head "
               f"{outputs} and \"fc_angle\". A layer whose output is not connected to anything is an output.")
    c.passed(f"the outputs are {sorted(outputs + ['fc_angle'])} and the network is initialized")
    size = net.Layers[0].InputSize
    X = d.dlarray(np.random.default_rng(0).random((*size, 3)).astype(np.float32), "SSCB")
    Y = d.predict(new, X, Outputs="fc_angle")
    if tuple(Y.shape) != (1, 3) or Y.fmt != "CB":
        c.fail(f"predict(net, X, Outputs=\"fc_angle\") on 3 images gives size {tuple(Y.shape)} ({Y.fmt}); expected "
               "1 x 3 (\"CB\"): one angle per observation.")
    c.passed("predict(net, X, Outputs=\"fc_angle\") gives one value per observation (1 x B, \"CB\")")


@ex4.part("b", "fed by the given layer; the rest of the network unchanged")
def _ex4b(c):
    fn = c.get("addAngleHead", "function")
    net, source, _outputs = _ex4_trunk(c)
    label, new = _call_head(c, fn, net, source)
    feeds = [(conn.Source, conn.Destination) for conn in new.Connections]
    into = [s for s, dst in feeds if dst.split("/")[0] == "fc_angle"]
    if into != [source]:
        c.fail(f"in the network returned by {label}, fc_angle is fed by {into or 'nothing'}; it should be fed by "
               f"{source!r}, the layer given as sourceName." + (
                   " A head fed by the digit probabilities (softmax) sees only ten numbers that are meant to NOT "
                   "depend on the rotation." if any("softmax" in s or "probs" in s for s in into) else ""))
    c.passed(f"fc_angle is fed by {source!r}")
    old = {f"{lay}/{par}": _arr(v) for lay, par, v in zip(net.Learnables.Layer, net.Learnables.Parameter,
                                                              net.Learnables.Value)}
    got = {f"{lay}/{par}": _arr(v) for lay, par, v in zip(new.Learnables.Layer, new.Learnables.Parameter,
                                                              new.Learnables.Value)}
    missing = [k for k in old if k not in got]
    if missing:
        c.fail(f"the network returned by {label} lacks the learnables {missing}.")
    changed = [k for k in old if got[k].shape != old[k].shape or not np.array_equal(got[k], old[k])]
    if changed:
        c.fail(f"the network returned by {label} changed the learnables {changed[:3]}: add the head to the "
               "given (trained or not) network, do not build a new one.")
    extra = sorted({k.split("/")[0] for k in got if k not in old})
    if extra != ["fc_angle"]:
        c.fail(f"the network returned by {label} has new learnables in the layers {extra}; only fc_angle "
               "(one fully connected layer with one output) should be new.")
    c.passed("the other layers and their learnables are unchanged; fc_angle is the only new layer")


# ---------------------------------------------------------------------------------------------------
# Exercise 5 -- the model loss of two outputs
# ---------------------------------------------------------------------------------------------------
ex5 = Exercise(
    "ex5", "a model loss with two outputs",
    hints=[
        # the idea
        "(a) A line can raise an error although the mistake is in an earlier line: what does each output of "
        "forward hold, in which order? (b, c) forward returns the outputs in the order of Outputs=[...], then "
        "the state; each head gets its own loss, and the weight multiplies the angle term only.",
        # where to look
        "(a) Run the lines by hand (lesson 04, technique 2) and print Y1.shape, Y2.shape. (b, c) Section 7: "
        "forward(net, X, Outputs=[...], return_state=True) and its table; mse is lesson 02's half mean "
        "squared error.",
        # partial code
        "(b, c)\n"
        "def modelLossTwoHeads(net, X, T1, T2, angleWeight):\n"
        "    Y1, Y2, state = forward(net, X, Outputs=[____, ____], return_state=True)\n"
        "    lossLabels = crossentropy(____, T1)\n"
        "    lossAngles = mse(____, T2)\n"
        "    loss = ____\n"
        "    gradients = dlgradient(loss, net.Learnables)\n"
        "    return loss, gradients, state",
    ],
    solution=Sealed(
        "eNpNUL1ugzAQ3nmKk7uQ1kJKxlYM6dQBqQtSG1UROvBBUI0dnU1p3r42NCSWPJy/3/PE1nSV7g1BDmIv4HoewJ8I7OjPo3fQ2IGgxuYberMArIjBtvC+MPKvLMuOL/AK1ugLMP0Qage9TxJFLQxWkS6sc+Vk3wiVSw15CZ8Sym24OwloOk0f1Hcnv3lOYoNDQA4BcR59bNdanpDVqlyThbOtH/BXSBBtU81O4ihDCT+yqWZ9XvJIm9lXhxoF1hTq5dBwmMh4tudLGhPL7Y21j06RNThKY5VydwPD853T0/0C8HgnnwUdo+pDTFQpfZ3SyJIQFsoKQjZYB/6SsHSHhbCq/z/jD1rrjXg="
    ),
)


@ex5.part("a", "the wrong line of modelLossBuggy", other_inputs=False)
def _ex5a(c):
    _hashed(c, "wrong_line", lambda v: _letter(v, "ABCDE"), {"dbfd22d6c698b7103396a1f0"}, "line")


def _ex5_cases(c):
    """[(net, X, T1, T2, w)]."""
    if not c.hidden:
        X, T1, T2, _ = _digit_batch(0, 32)
        return [(lesson_two_head_network(0), X, T1, T2, 0.01), (lesson_two_head_network(0), X, T1, T2, 0.5)]
    X, T1, T2, _ = _digit_batch(200 + 16 * (c.seed % 50), 24)
    return [(lesson_two_head_network(c.seed, c.seed + 1), X, T1, T2, float(c.rng.uniform(0.001, 0.2)))]


def _call_two_heads(c, fn, net, X, T1, T2, w):
    d = _dl()
    label = f"dlfeval(modelLossTwoHeads, net, X, T1, T2, {w:g})"
    out = c.call(label, d.dlfeval, fn, net, X, T1, T2, w)
    if not isinstance(out, tuple) or len(out) != 3:
        c.fail(f"{label} should return three values, `loss, gradients, state`; got "
               + (f"a tuple of {len(out)}" if isinstance(out, tuple) else type(out).__name__) + ".")
    return label, out


@ex5.part("b", "the weighted loss of the two outputs")
def _ex5b(c):
    d = _dl()
    fn = c.get("modelLossTwoHeads", "function")
    for net, X, T1, T2, w in _ex5_cases(c):
        label, (loss, _g, _s) = _call_two_heads(c, fn, net, X, T1, T2, w)
        _l, _rg, _rs, lossLabels, lossAngles = d.dlfeval(_two_head_loss, net, X, T1, T2, w)
        ce, ms = float(lossLabels), float(lossAngles)
        if loss is None or np.size(_arr(loss)) != 1:
            c.fail(f"the loss of {label} should be a scalar, got {loss!r}.")
        got = float(_arr(loss))
        want = ce + w * ms
        # float32 sums over a mini-batch: 1e-5 relative
        if not np.isclose(got, want, rtol=1e-5, atol=1e-6):
            tests = [(ce + ms, "the two terms added without the weight"),
                     (w * ce + ms, "the weight applied to the cross-entropy instead of the angle term"),
                     (ce + 2 * w * ms, "the angle term twice too large: mse is HALF the mean squared error "
                                       "(l2loss is not halved); use mse as MATLAB's page does"),
                     (ce, "the cross-entropy alone"), (w * ms, "the angle term alone")]
            for value, what in tests:
                if np.isclose(got, value, rtol=1e-5, atol=1e-6):
                    c.fail(f"the loss of {label} is {got:.6g}: {what}.")
            c.fail(f"the loss of {label} is {got:.7g}, expected crossentropy {ce:.6g} + {w:g} x mse {ms:.6g} = "
                   f"{want:.7g}.")
        c.passed(f"the loss of {label}: crossentropy + angleWeight x mse (rtol 1e-5)")


@ex5.part("c", "gradients of every learnable and the state")
def _ex5c(c):
    d = _dl()
    fn = c.get("modelLossTwoHeads", "function")
    net, X, T1, T2, w = _ex5_cases(c)[0]
    label, (_loss, grads, state) = _call_two_heads(c, fn, net, X, T1, T2, w)
    _l, refGrads, refState, _a, _b = d.dlfeval(_two_head_loss, net, X, T1, T2, w)
    if not _is_table(grads) or _rows(grads) != _rows(net.Learnables):
        c.fail(f"the gradients of {label} should be the Table dlgradient(loss, net.Learnables) "
               f"(rows {len(_rows(net.Learnables))}), got {type(grads).__name__}.")
    for name, g, r in zip(_rows(grads), grads.Value, refGrads.Value):
        # float32 back-propagation through a small CNN: 1e-4 relative, 1e-6 absolute
        if _arr(g).shape != _arr(r).shape or not np.allclose(_arr(g), _arr(r), rtol=1e-4, atol=1e-6):
            c.fail(f"the gradient of {name} from {label} is not the gradient of the weighted loss.",
                   "Is everything computed from the forward pass of the function's own net, with the weight "
                   "on the angle term?" if name.startswith("fc_angle") else
                   "Is the loss made of both terms, each from its own output?")
    c.passed(f"the gradients of all {len(_rows(grads))} learnables (rtol 1e-4, atol 1e-6: float32 "
             "back-propagation)")
    if not _is_table(state) or _rows(state) != _rows(net.State):
        c.fail(f"the third output of {label} should be the state Table that forward(..., return_state=True) "
               f"returns (rows {_rows(net.State)[:2]} ...), got {type(state).__name__}.")
    for name, s, r in zip(_rows(state), state.Value, refState.Value):
        # batch statistics of float32 activations: 1e-5 relative
        if not np.allclose(_arr(s), _arr(r), rtol=1e-5, atol=1e-7):
            c.fail(f"the state {name} from {label} is not the one forward returns for this mini-batch.")
    c.passed("the state: batch normalization's updated statistics (rtol 1e-5)")


# ---------------------------------------------------------------------------------------------------
# Exercise 6 -- the loss weight
# ---------------------------------------------------------------------------------------------------
ex6 = Exercise(
    "ex6", "choose the loss weight",
    hints=[
        # the idea
        "(a) Evaluate the two loss terms of the UNTRAINED network on the mini-batch: forward with both outputs, "
        "then crossentropy and mse. (b) The total loss is what Adam follows: a term a hundred times larger than "
        "the other decides the gradients alone. Pick the weight so that angleWeight x lossAngles0 is about "
        "lossLabels0.",
        # where to look
        "(a) Section 7 made netTwo, XFirst, T1First, T2First; the lines of modelLossTwoHeads. "
        "(b) The printout of the two terms and the angles' range (U(-45, 45) degrees).",
        # partial code
        "Y1, Y2 = forward(netTwo, XFirst, Outputs=[\"softmax\", \"fc_angle\"])\n"
        "lossLabels0 = float(crossentropy(Y1, T1First))\n"
        "lossAngles0 = float(____)\n"
        "angleWeight = ____ / ____",
    ],
    solution=Sealed(
        "eNpNjT0LwkAQRHt/xRKbCwRN0lhZ2FgJNgE9RGQTNx9wycXbPaL/3iQiZMrhzRudRKBT2ENp3YDuqTqSbLARXI+NY4ng7KX3wvtb"
        "wLaUFt9BBEFZPLCrDAX3cGUs8wlzMhxPGmNRVOHGkjpxtv8oPV5kyawLf/hh2i7wlknpdKTSPzXbL9RUtYzU8mILS8OcNeRWahBy"
        "LQO9PBpAAakJWNAJKMytF4g3cbwLv/t3T10="
    ),
)

_EX6_BATCH = (0, 128)


@ex6.part("a", "the two loss terms of the untrained network", other_inputs=False)
def _ex6a(c):
    d = _dl()
    X, T1, T2, _ = _digit_batch(*_EX6_BATCH)
    _l, _g, _s, ce, ms = d.dlfeval(_two_head_loss, lesson_two_head_network(0), X, T1, T2, 1.0)
    for name, want, what in (("lossLabels0", float(ce), "the cross-entropy of the digit output"),
                             ("lossAngles0", float(ms), "the mse of the angle output")):
        got = _number(c, name, c.get(name))
        # float32 values; forward or predict... forward is asked: 1e-4 relative
        if not np.isclose(got, want, rtol=1e-4, atol=1e-6):
            if name == "lossAngles0" and np.isclose(got, 2 * want, rtol=1e-4):
                c.fail(f"`{name}` = {got:.6g} is twice {what}: mse is half the mean squared error.")
            c.fail(f"`{name}` = {got:.6g} is not {what} of the untrained netTwo on XFirst (forward, training mode).")
        c.passed(f"`{name}` is {what} of the untrained network (rtol 1e-4)")


@ex6.part("b", "a weight under which both terms matter at the start")
def _ex6b(c):
    d = _dl()
    w = _number(c, "angleWeight", c.get("angleWeight"))
    if w <= 0:
        c.fail(f"`angleWeight` = {w:g}: a weight of a loss term is a positive number.")
    if c.hidden:
        X, T1, T2, _ = _digit_batch(1000 + 64 * (c.seed % 30), 128)
        net = lesson_two_head_network(c.seed, c.seed + 1)
        lo, hi = 0.3, 3.3  # the other network and batch move the ratio by up to ~5 %
        where = "another untrained network on another mini-batch"
    else:
        X, T1, T2, _ = _digit_batch(*_EX6_BATCH)
        net = lesson_two_head_network(0)
        lo, hi = 1 / 3, 3.0
        where = "the untrained netTwo on XFirst"
    _l, _g, _s, ce, ms = d.dlfeval(_two_head_loss, net, X, T1, T2, 1.0)
    ratio = w * float(ms) / float(ce)
    if not lo <= ratio <= hi:
        c.fail(f"with angleWeight = {w:g}, the weighted angle term is {ratio:.3g} x the cross-entropy for {where}; "
               f"both terms matter when it is between {lo:.2g} and {hi:.2g} x.",
               "The angle term would decide the gradients alone." if ratio > hi else
               "The angle term would hardly count.")
    c.passed(f"angleWeight x mse is {ratio:.2f} x the cross-entropy for {where} (between {lo:.2g} and {hi:.2g})")


# ---------------------------------------------------------------------------------------------------
# Exercise 7 -- the same loss in Neural Network Console
# ---------------------------------------------------------------------------------------------------
ex7 = Exercise(
    "ex7", "the weighted loss as NNC's terminal outputs",
    hints=[
        # the idea
        "NNC minimises the SUM of the MEANS of the terminal outputs. crossentropy is the mean over the "
        "observations of each one's -log(probability of its class); mse is the mean over the observations of "
        "HALF the squared error. So each terminal is one element-wise loss layer whose mean is one term -- "
        "the weight and the 1/2 go into a scalar layer.",
        # where to look
        "Section 9 and lesson 02: dlteach.nnc's CategoricalCrossEntropy (class INDICES, not one-hot), "
        "SquaredError, MulScalar, and nnc_loss.",
        # partial code
        "def nncTerminals(Y1, Y2, labels, T2, angleWeight):\n"
        "    digit = CategoricalCrossEntropy(Y1, labels)\n"
        "    angle = MulScalar(SquaredError(Y2, T2), ____)\n"
        "    return [____, ____]",
    ],
    solution=Sealed(
        "eNptj7EKwjAURXe/4oJLCxVpR8FBRHHQqQUp0iG2zzSQJvUlFfx72+ig4J3u8DjnvoZuMKYuiDtlhHZRmSYoswRaXEm7BMXYhZGa"
        "zqRk6+PVDGMaJZXHGlvhSVpWtdBbts7tjGfbPwPlTYjxP3MstJUo00u4qxL0xLBXR/wQXlkTPME8ek6DzkeH4Ci/D4Kp2TFbjqah"
        "RRb/LMQSWfzt6RxBORw2xz18S3BvAmhCBAuTH9jgEr76wKrZC9EmVc8="
    ),
)


def _nnc_loss(*terminals):
    from ..nnc import nnc_loss

    return nnc_loss(*terminals)


def _ex7_cases(c):
    """[(Y1 dlarray CB probabilities, Y2 dlarray CB angles, labels 1 x B ints, T2 1 x B, w)]."""
    d = _dl()
    rng = c.rng if c.hidden else np.random.default_rng(607)
    B = 6 if not c.hidden else int(rng.integers(3, 10))
    Z = rng.standard_normal((10, B)).astype(np.float32)
    P = np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True)
    labels = rng.integers(0, 10, size=(1, B))
    T2 = rng.uniform(-45, 45, size=(1, B)).astype(np.float32)
    Y2 = (T2 + 10 * rng.standard_normal((1, B))).astype(np.float32)
    w = 0.01 if not c.hidden else float(rng.uniform(0.002, 0.3))
    return d.dlarray(P.astype(np.float32), "CB"), d.dlarray(Y2, "CB"), labels, T2, w


def _matlab_loss(Y1, Y2, T1, T2, w):
    d = _dl()
    loss = d.crossentropy(Y1, T1) + w * d.mse(Y2, T2)
    return loss, *d.dlgradient(loss, Y1, Y2)


def _call_terminals(c, fn, Y1, Y2, labels, T2, w):
    label = f"nncTerminals(Y1, Y2, labels, T2, {w:g})"
    out = c.call(label, fn, Y1, Y2, labels, T2, w)
    if not isinstance(out, (list, tuple)) or not out:
        c.fail(f"{label} should return a list of the terminal outputs, got {type(out).__name__}.")
    return label, list(out)


@ex7.part("a", "nnc_loss of the terminals is MATLAB's weighted loss, with the same gradients")
def _ex7a(c):
    d = _dl()
    fn = c.get("nncTerminals", "function")
    Y1, Y2, labels, T2, w = _ex7_cases(c)
    T1 = (np.arange(10)[:, None] == labels).astype(np.float32)
    label, terms = _call_terminals(c, fn, Y1, Y2, labels, T2, w)

    def nnc(Y1, Y2):
        outs = fn(Y1, Y2, labels, T2, w)
        loss = _nnc_loss(*outs)
        return loss, *d.dlgradient(loss, Y1, Y2)

    want, gw1, gw2 = d.dlfeval(_matlab_loss, Y1, Y2, T1, T2, w)
    got = float(_arr(_nnc_loss(*terms)))
    ce = float(d.crossentropy(Y1, T1))
    ms = float(d.mse(Y2, T2))
    # float32 means over a few observations: 1e-5 relative
    if not np.isclose(got, float(want), rtol=1e-5, atol=1e-6):
        for value, what in ((ce + 2 * w * ms, "the angle term is twice MATLAB's: mse is HALF the mean squared "
                                              "error, and SquaredError is not halved"),
                            (ce + ms, "the weight is missing"), (ce + 2 * ms, "the weight is missing and the "
                                                                              "angle term is twice mse"),
                            (ce, "only the digit term is there"), (w * ms, "only the angle term is there")):
            if np.isclose(got, value, rtol=1e-5, atol=1e-6):
                c.fail(f"nnc_loss(*{label}) = {got:.6g}: {what}.")
        c.fail(f"nnc_loss(*{label}) = {got:.7g}, but crossentropy(Y1, T1) + {w:g} * mse(Y2, T2) = "
               f"{float(want):.7g}.")
    c.passed(f"nnc_loss(*{label}) equals crossentropy + angleWeight x mse (rtol 1e-5)")
    try:
        _l, g1, g2 = d.dlfeval(nnc, Y1, Y2)
    except Exception as err:  # noqa: BLE001 - the learner's code
        c.fail(f"the gradient of nnc_loss(*{label}) with respect to Y1 and Y2 (inside dlfeval) raised "
               f"{type(err).__name__}: {err}")
    # float32 derivatives of logs and squares: 1e-4 relative
    for name, g, r in (("Y1", g1, gw1), ("Y2", g2, gw2)):
        if not np.allclose(_arr(g), _arr(r), rtol=1e-4, atol=1e-6):
            c.fail(f"the gradient of nnc_loss(*{label}) with respect to {name} differs from MATLAB's loss's: "
                   "is every terminal computed from Y1 and Y2 with dlarray operations (no extractdata, float)?")
    c.passed("its gradients with respect to Y1 and Y2 equal MATLAB's loss's (rtol 1e-4)")


@ex7.part("b", "each terminal holds one loss value per observation")
def _ex7b(c):
    fn = c.get("nncTerminals", "function")
    Y1, Y2, labels, T2, w = _ex7_cases(c)
    B = labels.shape[1]
    label, terms = _call_terminals(c, fn, Y1, Y2, labels, T2, w)
    if len(terms) != 2:
        c.fail(f"{label} returned {len(terms)} terminal outputs; the network has two heads, so two terminal "
               "loss layers.")
    for k, t in enumerate(terms):
        shape = tuple(np.shape(_arr(t)))
        if int(np.prod(shape)) != B:
            what = "a single number: a mean already taken" if int(np.prod(shape)) == 1 else f"size {shape}"
            c.fail(f"terminal {k + 1} of {label} is {what}. An NNC loss layer outputs one loss value per "
                   f"observation ({B} here); NNC takes the mean itself.")
    c.passed(f"both terminals hold one value per observation ({B})")
