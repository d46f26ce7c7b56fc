"""Check code of lesson 01 (notebooks/01_model_loss_functions.py): model loss functions.

ex1  modelLossWeighted(net, X, T, classWeights)   parts "loss" (2), "gradients" (1)
ex2  predicted gradient structure of net2          parts "rows" (1), "sizes" (2)
ex3  modelLossL2(parameters, X, T, l2)             parts "loss" (2), "gradients" (1)
ex4  modelLossWithState(net, X, T)                 parts "outputs" (1), "state" (1)
q1   what happens without dlfeval (multiple choice, hashed)                    (1)

Every check builds its own small network / parameters (seeded; other sizes when the hidden block
passes a seed), computes the reference independently (float64 NumPy or dlteach's own
crossentropy with class weights) and compares with tolerances stated at each ``c.close``.

The solutions shown by ``exN.solution()`` are sealed (not readable in this file); the instructor notebook has them,
and ``python -c "from dlteach.exercises.lesson01 import ex1; from dlteach.checks import unseal;
print(unseal(ex1.solution_text))"`` prints one (``python -m dlteach.checks seal 'text'`` seals a new one).
"""

from __future__ import annotations

import copy

import numpy as np

from ..checks import Choice, Exercise, Sealed, ____  # noqa: F401  (____ is re-exported for the notebook)

# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------


def _small_net(c, *, batchnorm=False, classes=None):
    """A small image classifier (seeded) and a batch: net, X ("SSCB"), T ("CB" one-hot)."""
    from .. import (
        batchNormalizationLayer,
        convolution2dLayer,
        dlarray,
        dlnetwork,
        fullyConnectedLayer,
        imageInputLayer,
        reluLayer,
        softmaxLayer,
    )

    side, filters, B = 6, 4, 5
    K = classes or 4
    if c.hidden:
        side, filters, B = int(c.rng.integers(5, 9)), int(c.rng.integers(2, 6)), int(c.rng.integers(3, 9))
        K = classes or int(c.rng.integers(3, 7))
    state = np.random.get_state()
    np.random.seed(int(c.rng.integers(0, 2**31 - 1)))
    try:
        layers = [imageInputLayer([side, side, 1], Normalization="none"), convolution2dLayer(3, filters)]
        if batchnorm:
            layers.append(batchNormalizationLayer())
        layers += [reluLayer(), fullyConnectedLayer(K), softmaxLayer()]
        net = dlnetwork(layers)
    finally:
        np.random.set_state(state)
    X = dlarray(c.rng.standard_normal((side, side, 1, B)).astype(np.float32), "SSCB")
    labels = c.rng.integers(0, K, B)
    labels[:K] = np.arange(min(K, B))          # every class present when B allows
    T = dlarray(np.eye(K, dtype=np.float32)[:, labels], "CB")
    return net, X, T


def _two_outputs(c, out, label, n=2, names="loss, gradients"):
    if not isinstance(out, tuple) or len(out) != n:
        got = (f"a tuple of {len(out)} values" if isinstance(out, tuple) else
               "None (no return statement?)" if out is None else f"a {type(out).__name__}")
        c.fail(f"{label} should return {n} values ({names}); it returned {got}.",
               f"End the function with: return {names}")
    c.passed(f"{label} returns {n} values ({names})")
    return out


def _scalar_loss(c, loss, label="the loss"):
    size = getattr(loss, "size", None)
    if size != 1:
        c.fail(f"{label} (the first value returned) should be a scalar dlarray, got "
               f"{type(loss).__name__}" + (f" of size {size}" if size is not None else "") + ".",
               "return loss, gradients - the loss first.")


def _table_like(c, grads, ref, label="gradients"):
    from ..table import Table

    if not isinstance(grads, Table):
        c.fail(f"{label} should be a Table like net.Learnables, got {type(grads).__name__}.",
               "Differentiate with respect to the whole table: dlgradient(loss, net.Learnables).")
    if grads.keys() != ref.keys():
        c.fail(f"{label} has the rows {grads.keys()}, expected the rows of net.Learnables {ref.keys()}.")
    c.passed(f"{label}: a Table with the rows of net.Learnables")


# ---------------------------------------------------------------------------------------------
# ex1: class-weighted model loss, network-object form
# ---------------------------------------------------------------------------------------------
ex1 = Exercise(
    "ex1", "modelLossWeighted: a model loss with class weights",
    hints=[
        "The weighted cross-entropy multiplies the term of class k by classWeights[k] before summing "
        "over classes and averaging over the N observations. Everything else is the modelLoss of "
        "Section 2: forward pass, loss, dlgradient with respect to net.Learnables.",
        "Section 2's modelLoss is your starting point. Two ways to weight: crossentropy's third "
        "argument takes class weights as a \"C\"-formatted dlarray (see help(crossentropy)); or build "
        "the loss from primitives: T * log(Y) is C x N, and a (C, 1) column of weights broadcasts "
        "over the N columns.",
        "Y = forward(net, X)\n"
        "w = dlarray(classWeights, \"C\")\n"
        "loss = crossentropy(Y, T, ____)\n"
        "gradients = ____\n"
        "return loss, gradients",
    ],
    solution=Sealed(
        "eNpVjkFrwzAMhe/5FY/uYg8vY9fATruWnAJdKD14tZIaHDvI7kb//dRkGZvACD2971mOBkzJUdinnA/kx0shpyIVg3eDzuAc7LbI"
        "uqkg1eMVQ+Ivy5tTL3qQCFmdWTrFwmm+qX4JccEy25v6G2awe9vplRzZOi/IHXdhm9Q90EC+qPdkOdqPQHkFmMqVI1bDL11VD0iM"
        "gdOEmf3ki/+k3IgKtBLd1fliZzq+nBbp596nONf5Ov077tgYtCnSCY/o5IklpFH1WuMZ7Teu1WJK"
    ),
)


def _weights(c, K):
    w = c.rng.uniform(0.2, 3.0, K).astype(np.float32)
    return w


def _reference_weighted(net, X, T, w):
    """float64 loss and float32 reference gradients through dlteach's crossentropy with weights."""
    from .. import crossentropy, dlarray, dlfeval, dlgradient, extractdata, forward

    def f(net, X, T):
        loss = crossentropy(forward(net, X), T, dlarray(w, "C"))
        return loss, dlgradient(loss, net.Learnables)

    loss, grads = dlfeval(f, net, X, T)
    Y = extractdata(forward(net, X)).astype(np.float64)
    Tn = extractdata(T).astype(np.float64)
    loss64 = -np.sum(w.astype(np.float64)[:, None] * Tn * np.log(Y)) / Tn.shape[1]
    return np.float32(loss64), grads


@ex1.part("loss", "the weighted loss")
def _ex1_loss(c):
    from .. import dlfeval

    f = c.get("modelLossWeighted", "function")
    net, X, T = _small_net(c)
    K = T.shape[0]
    for what, w in (("with class weights", _weights(c, K)), ("with other class weights", _weights(c, K)),
                    ("with all weights 1 (plain cross-entropy)", np.ones(K, np.float32))):
        out = c.call("dlfeval(modelLossWeighted, net, X, T, classWeights)", dlfeval, f, net, X, T, w)
        loss, _ = _two_outputs(c, out, "modelLossWeighted")
        _scalar_loss(c, loss)
        ref, _ = _reference_weighted(net, X, T, w)
        plain, _ = _reference_weighted(net, X, T, np.ones(K, np.float32))
        if what.startswith("with class") and abs(float(loss) - float(plain)) <= 1e-5 * abs(float(plain)):
            c.fail("the loss equals the UNWEIGHTED cross-entropy: classWeights is not used.")
        # float32 forward pass through conv + fc + softmax + log: 1e-5 relative
        c.close(f"the loss {what}", loss, ref, rtol=1e-5, atol=1e-6, dtype=np.float32,
                why="float32 forward pass")


@ex1.part("gradients", "the gradients of the weighted loss")
def _ex1_gradients(c):
    from .. import dlfeval

    f = c.get("modelLossWeighted", "function")
    net, X, T = _small_net(c)
    w = _weights(c, T.shape[0])
    out = c.call("dlfeval(modelLossWeighted, net, X, T, classWeights)", dlfeval, f, net, X, T, w)
    _, grads = _two_outputs(c, out, "modelLossWeighted")
    _table_like(c, grads, net.Learnables)
    _, ref = _reference_weighted(net, X, T, w)
    for (layer, param), g, r in zip(ref.keys(), grads.Value, ref.Value):
        # float32 reverse pass; other summation orders differ by ~1e-6 relative
        c.close(f"gradient {layer}/{param}", g, r, rtol=1e-4, atol=1e-6, dtype=np.float32,
                why="float32 backward pass")


# ---------------------------------------------------------------------------------------------
# ex2: predict the structure of the gradients of net2
# ---------------------------------------------------------------------------------------------
def net2_layers():
    """The layers of net2 of exercise 2 (the same code stands in the notebook)."""
    from .. import convolution2dLayer, fullyConnectedLayer, imageInputLayer, maxPooling2dLayer, reluLayer, softmaxLayer

    return [
        imageInputLayer([28, 28, 1], Normalization="none"),
        convolution2dLayer(3, 8, Padding="same"),
        reluLayer(),
        maxPooling2dLayer(2, Stride=2),
        fullyConnectedLayer(10),
        softmaxLayer(),
    ]


def _net2_truth():
    from .. import dlnetwork

    state = np.random.get_state()
    try:
        net = dlnetwork(net2_layers())
    finally:
        np.random.set_state(state)
    t = net.Learnables
    return {
        "rows": len(t),
        "conv": tuple(t.value("conv", "Weights").shape),
        "fc": tuple(t.value("fc", "Weights").shape),
        "free": {layer.Name for layer in net.Layers} - set(t.Layer),
        "names": [layer.Name for layer in net.Layers],
    }


ex2 = Exercise(
    "ex2", "predict the structure of the gradients",
    hints=[
        "dlgradient(loss, net.Learnables) has one row per learnable parameter, and each gradient has "
        "the size of its parameter. Layers that compute a fixed function have no row.",
        "Section 2 explains where net's sizes come from (filter size x channels x filters; the fully "
        "connected layer sees every number of one image after pooling). With Padding=\"same\" the "
        "convolution keeps the 28 x 28 size.",
        "conv_weights_size2 = (3, 3, ____, ____)     # height, width, input channels, filters\n"
        "fc_weights_size2 = (10, ____ * ____ * ____)  # outputs x (height * width * channels after pooling)",
    ],
    solution=Sealed("eNptjsFOxCAQhu99ij/sRQ0H210NMfHiS3hsSHdoiRQaYLtV47s7lBgPSmCY+Qe++X0fwzV1eMYJ/64DhuBXvJIdp5xkrV6s5tQM"
                    "vzLnRWxMJOqdfqe4Qz+FnfVI1i+XLCREJHcp96y3JQRX0hRM5lJ8NQXdXyuxT/aDCuHmKMG7lVC3u50jNj7GuswzEFaKaLEPwDBp"
                    "78nx059+Y4a/xPaeeSfc1VCwB7ahZxJY9Pls/Yg3oiWhUzyrUxLFa5En7VZKsPmp/N1qUMxsHx5VNZG+AR+tZGI="),
)


def _int_answer(c, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        c.fail(f"`{name}` should be a whole number of type int (a count of rows), got {value!r} "
               f"({type(value).__name__}).",
               "Write it without a decimal point, e.g. 7, or use len(...).")


def _size_answer(c, name, value, truth, what):
    if value is ____:
        c.not_attempted(f"`{name}` is still the blank ____.")
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                               for v in value):
        c.fail(f"`{name}` should be a tuple of ints such as (3, 4), got {value!r}.")
    if len(value) != len(truth):
        c.fail(f"`{name}` has {len(value)} entries, but {what} has {len(truth)} dimensions.")
    wrong = [i + 1 for i, (v, t) in enumerate(zip(value, truth)) if v != t]
    if wrong:
        c.fail(f"`{name}` = {value}: entry {', '.join(map(str, wrong))} of {len(truth)} is not right.",
               f"Think about what each dimension of {what} counts.")
    c.passed(f"`{name}` is right")


@ex2.part("rows", "how many rows, and which layers have none", other_inputs=False)
def _ex2_rows(c):
    truth = _net2_truth()
    n = c.get("n_rows2")
    _int_answer(c, "n_rows2", n)
    if n != truth["rows"]:
        c.fail(f"`n_rows2` = {n} is not the number of rows of the gradients table.",
               "Count the learnable parameters: each layer with learnables has its own rows.")
    c.passed("`n_rows2` is right (and an int)")
    free = c.get("free_layers2")
    if not isinstance(free, (set, frozenset, list, tuple)) or not all(isinstance(x, str) for x in free):
        c.fail(f"`free_layers2` should be a set of layer names (strings), got {free!r}.")
    free = set(free)
    unknown = sorted(free - set(truth["names"]))
    if unknown:
        c.fail(f"`free_layers2` contains {unknown}, which are not layer names of net2; the names are "
               f"{truth['names']}.")
    if free != truth["free"]:
        c.fail(f"`free_layers2` has {len(free & truth['free'])} of the {len(truth['free'])} layers "
               "without learnables" + (f", and {len(free - truth['free'])} layer(s) that do have "
                                       "learnables" if free - truth["free"] else "") + ".")
    c.passed("`free_layers2` is right")


@ex2.part("sizes", "the sizes of the weight gradients", other_inputs=False)
def _ex2_sizes(c):
    truth = _net2_truth()
    _size_answer(c, "conv_weights_size2", c.get("conv_weights_size2"), truth["conv"],
                 "the convolution weights (height x width x channels x filters)")
    _size_answer(c, "fc_weights_size2", c.get("fc_weights_size2"), truth["fc"],
                 "the fully connected weights (outputs x inputs)")


# ---------------------------------------------------------------------------------------------
# ex3: L2-regularised model loss, model-function form
# ---------------------------------------------------------------------------------------------
ex3 = Exercise(
    "ex3", "modelLossL2: weight decay in the model loss",
    hints=[
        "The penalty (l2/2) * sum(W**2) is part of the loss, so it must be computed BEFORE "
        "dlgradient: then the gradient of every Weights gets the extra term l2 * W. Biases are not "
        "penalised.",
        "Start from Section 4's modelLossFcn. np.sum works on dlarrays and is recorded by dlfeval; "
        "loop over the layer names of parameters and pick only the \"Weights\" entries.",
        "Y = model(parameters, X)\n"
        "loss = crossentropy(Y, T)\n"
        "penalty = sum(np.sum(p[\"Weights\"] ** 2) for p in parameters.values())\n"
        "loss = loss + ____\n"
        "gradients = ____",
    ],
    solution=Sealed(
        "eNpVjs0KgzAQhO99isVTYoOFHAt9A4+FVkoPoa5WiEnYxIJv39Vgf/YyLPPNzrbYwehbtLWPsdYiGDIjJqSo4KrgrMBqedwBTwOn"
        "jP5DcjUtx9l/ECu6RD7MouF8dgM6Y9PMQJxG4UK1SLgVFxz6Z4rFHcoStITOEwQYHHwbqpexE0Yh/3pW2fNvcAAN5VawIj2ZduAf"
        "Fq612yaWiPo5nO8RpokcZPOTfANH91g4"
    ),
)


def _mlp(c):
    """A small two-layer perceptron's parameters (fc1, fc2), a "CB" batch and one-hot targets."""
    from .. import dlarray

    nIn, nHid, K, B = 12, 7, 4, 6
    if c.hidden:
        nIn, nHid, K, B = (int(c.rng.integers(5, 16)), int(c.rng.integers(3, 10)),
                           int(c.rng.integers(3, 7)), int(c.rng.integers(3, 9)))

    def glorot(o, i):
        bound = np.sqrt(6 / (i + o))
        return dlarray(c.rng.uniform(-bound, bound, (o, i)).astype(np.float32))

    params = {"fc1": {"Weights": glorot(nHid, nIn), "Bias": dlarray(c.rng.normal(0, 0.1, (nHid, 1)).astype(np.float32))},
              "fc2": {"Weights": glorot(K, nHid), "Bias": dlarray(c.rng.normal(0, 0.1, (K, 1)).astype(np.float32))}}
    X = dlarray(c.rng.standard_normal((nIn, B)).astype(np.float32), "CB")
    labels = c.rng.integers(0, K, B)
    T = dlarray(np.eye(K, dtype=np.float32)[:, labels], "CB")
    return params, X, T


def _reference_model(p, X):
    from .. import fullyconnect, relu, softmax

    Y = relu(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]))
    return softmax(fullyconnect(Y, p["fc2"]["Weights"], p["fc2"]["Bias"]))


def _reference_l2(p, X, T, l2):
    from .. import crossentropy, dlfeval, dlgradient

    def f(p, X, T):
        loss = crossentropy(_reference_model(p, X), T)
        penalty = sum(np.sum(q["Weights"] ** 2) for q in p.values())
        loss = loss + np.float32(l2 / 2) * penalty
        return loss, dlgradient(loss, p)

    return dlfeval(f, p, X, T)


def _ex3_model_ok(c):
    """The notebook's `model` must be the lesson's fc1-relu-fc2-softmax (given in Section 4)."""
    model = c.get("model", "function")
    p, X, _ = _mlp(c)
    got = c.call("model(parameters, X)", model, p, X)
    c.close("model(parameters, X) (Section 4's model, used by modelLossL2)", got, _reference_model(p, X),
            rtol=1e-5, atol=1e-6, why="float32 forward pass")
    c.checked.pop()


@ex3.part("loss", "the regularised loss")
def _ex3_loss(c):
    from .. import dlfeval

    f = c.get("modelLossL2", "function")
    _ex3_model_ok(c)
    p, X, T = _mlp(c)
    for what, l2 in (("with l2 = 0.01", 0.01), ("with l2 = 0.5", 0.5), ("with l2 = 0 (plain cross-entropy)", 0.0)):
        out = c.call("dlfeval(modelLossL2, parameters, X, T, l2)", dlfeval, f, p, X, T, l2)
        loss, _ = _two_outputs(c, out, "modelLossL2")
        _scalar_loss(c, loss)
        ref, _ = _reference_l2(p, X, T, l2)
        c.close(f"the loss {what}", loss, ref, rtol=1e-5, atol=1e-6, why="float32 forward pass")


@ex3.part("gradients", "the gradients include the penalty")
def _ex3_gradients(c):
    from .. import dlfeval

    f = c.get("modelLossL2", "function")
    _ex3_model_ok(c)
    p, X, T = _mlp(c)
    l2 = 0.1
    out = c.call("dlfeval(modelLossL2, parameters, X, T, l2)", dlfeval, f, p, X, T, l2)
    _, grads = _two_outputs(c, out, "modelLossL2")
    if not isinstance(grads, dict) or set(grads) != set(p) or any(
            not isinstance(grads[k], dict) or set(grads[k]) != set(p[k]) for k in p):
        c.fail("gradients should be a dict shaped like parameters: "
               f"{ {k: sorted(v) for k, v in p.items()} }.",
               "dlgradient(loss, parameters) returns exactly that.")
    c.passed("gradients: a dict shaped like parameters")
    _, ref = _reference_l2(p, X, T, l2)
    for k in ("fc1", "fc2"):
        for n in ("Weights", "Bias"):
            c.close(f"gradient {k}/{n}", grads[k][n], ref[k][n], rtol=1e-4, atol=1e-6, dtype=np.float32,
                    why="float32 backward pass")


# ---------------------------------------------------------------------------------------------
# ex4: return the updated state
# ---------------------------------------------------------------------------------------------
ex4 = Exercise(
    "ex4", "modelLossWithState: return the updated state",
    hints=[
        "forward does not change net; it can RETURN the updated batch-normalisation state, which the "
        "model loss function passes out as a third output.",
        "Section 5's table shows the MATLAB form [Y,state] = forward(net,X); the paragraph above it "
        "says how Python asks forward for the state.",
        "Y, state = forward(net, X, ____)\n"
        "loss = crossentropy(Y, T)\n"
        "gradients = dlgradient(loss, net.Learnables)\n"
        "return ____",
    ],
    solution=Sealed(
        "eNo9jsEKwjAMhu8+RY4dFB9A2Bvs5kB3kmgyHdRW0gzx7U1bXS4h+f/vT4hneCbiMKScT4s+jorKLrJ6OHsYu8MOrCYPuQjQw5zk"
        "jUKbRVhXiZcq96Os3FUiWJ65b2Kdo0p6fdxUAqt6F6TF1sVC4T+5Anmw5P3AKBGvgXMD2hVoho3+ffUF/m1BgA=="
    ),
)


@ex4.part("outputs", "loss and gradients")
def _ex4_outputs(c):
    from .. import crossentropy, dlfeval, forward

    f = c.get("modelLossWithState", "function")
    net, X, T = _small_net(c, batchnorm=True)
    out = c.call("dlfeval(modelLossWithState, net, X, T)", dlfeval, f, copy.deepcopy(net), X, T)
    loss, grads, _ = _two_outputs(c, out, "modelLossWithState", 3, "loss, gradients, state")
    _scalar_loss(c, loss)
    c.close("the loss", loss, crossentropy(forward(net, X), T), rtol=1e-5, atol=1e-6,
            why="float32 forward pass")
    _table_like(c, grads, net.Learnables)


@ex4.part("state", "the updated state")
def _ex4_state(c):
    from .. import dlconv, dlfeval, extractdata
    from ..table import Table

    f = c.get("modelLossWithState", "function")
    net, X, T = _small_net(c, batchnorm=True)
    work = copy.deepcopy(net)
    out = c.call("dlfeval(modelLossWithState, net, X, T)", dlfeval, f, work, X, T)
    _, _, state = _two_outputs(c, out, "modelLossWithState", 3, "loss, gradients, state")
    if not isinstance(state, Table) or state.keys() != net.State.keys():
        c.fail("state (the third value) should be a Table with the rows of net.State "
               f"{net.State.keys()}, got {type(state).__name__}.")
    conv = extractdata(dlconv(X, net.Learnables.value("conv", "Weights"),
                              net.Learnables.value("conv", "Bias"))).astype(np.float64)
    mu, var = conv.mean(axis=(0, 1, 3)), conv.var(axis=(0, 1, 3), ddof=1)
    old_m = extractdata(net.State.value("batchnorm", "TrainedMean")).astype(np.float64).ravel()
    old_v = extractdata(net.State.value("batchnorm", "TrainedVariance")).astype(np.float64).ravel()
    new_m = extractdata(state.value("batchnorm", "TrainedMean")).ravel()
    if np.allclose(new_m, old_m):
        c.fail("the TrainedMean in the state you return is the OLD one: return the state that "
               "forward gives you, not net.State.")
    c.close("TrainedMean of the returned state (0.1 * batch mean + 0.9 * old)", new_m, 0.1 * mu + 0.9 * old_m,
            rtol=1e-4, atol=1e-6, why="float32 statistics of a small batch")
    c.close("TrainedVariance of the returned state", extractdata(state.value("batchnorm", "TrainedVariance")).ravel(),
            0.1 * var + 0.9 * old_v, rtol=1e-4, atol=1e-6, why="float32 statistics of a small batch")
    c.require(np.array_equal(extractdata(work.State.value("batchnorm", "TrainedMean")).ravel(),
                             old_m.astype(np.float32)),
              "modelLossWithState changed net.State itself: return the state, the caller stores it.",
              "net itself is left unchanged (the caller writes net.State = state)")


# ---------------------------------------------------------------------------------------------
# q1: without dlfeval (multiple choice)
# ---------------------------------------------------------------------------------------------
q1 = Choice(
    "q1", "predict, then observe: a model loss function called without dlfeval",
    variable="prediction", options="ABCD",
    digests="e4afa257211b09c9ca97ee86",   # python -m dlteach.checks digest q1 <letter>
    hints=["Which line of a model loss function needs the recording that dlfeval switches on? "
           "forward and crossentropy are ordinary computations.",
           "Run the cell after your prediction and read the message: which function raised it?"],
    solution=Sealed("eNo1j0EKAjEQBO++otGr+AHxInj15AeGzGwSyGaWmazL/t4Y8djQVU0vJpxDy1pxw/F+PJwwqW1kDKqMYOoutZkuO8gEapwr2Y6g"
                    "87I2+pI+qrbWK7hEI86dQBVhR0sCkzCw2BO1vsBlkjcV+JZbSOLo60NB2Xt6ansZBeGHmdoZW1IXzOJOUeC0d60iUClDP631d6Al"
                    "0zWmv/7yAWj0UG4="),
)
