"""Benchmark: time of one training step (forward, backward, Adam update), float32, batch 128.

Models
  MLP  784-128-10: fullyconnect, relu, fullyconnect, softmax, crossentropy
  CNN  28x28x1 input: conv 5x5x20 (valid), relu, maxpool 2/2, fullyconnect 10, softmax, crossentropy
  LSTM 16 channels x 50 time steps, batch 32: lstm (1 layer, 128 hidden units, last time step),
       fullyconnect 10, softmax, crossentropy (rows a, e and d only: no hand-written NumPy/autograd LSTM)

Rows
  (a) dlteach model-function style: parameters in nested dicts of dlarrays, dlfeval + dlgradient,
      dlteach.updaters.adamupdate
  (b) hand-written NumPy forward and backpropagation, Adam written inline
  (c) plain HIPS autograd ``value_and_grad`` on the same functions written with autograd.numpy (the CNN
      uses dlteach._spatial's conv2d / maxpool2d primitives: autograd has no fast convolution), Adam inline
  (d) PyTorch CPU (torch.nn.functional + torch.optim.Adam), torch.set_num_threads(NumPy's BLAS threads)
  (e) dlteach network-object style: dlnetwork + forward + crossentropy + dlgradient(loss, net.Learnables)
      + adamupdate(net, ...)
  (f) row (a) with the model loss function accelerated: dlfeval(dlaccelerate(modelLoss), ...) replays the
      recorded trace (no Python model function, no autograd boxes), then the same adamupdate

Every row runs in its own child process (OpenBLAS's and PyTorch's OpenMP thread pools slow each other
down when they share a process), all with the same malloc thresholds: the ones ``import dlteach`` sets
(dlteach/_allocator.py), or glibc's defaults with ``--default-malloc``. A row's figure is the median of
``--repeat`` steps after ``--warmup`` steps; all rows run ``--rounds`` times, interleaved, and the ratios
are the medians of the per-round ratios (the VM's speed drifts between quiet and busy periods). Also
measures ``import dlteach`` in fresh interpreters.

    .venv/bin/python benchmarks/bench_training_step.py [--repeat R] [--warmup W] [--threads N] [--rounds K]
    .venv/bin/python benchmarks/bench_training_step.py --profile mlp-dlteach   # cProfile of one row
    .venv/bin/python benchmarks/bench_training_step.py --clock cpu   # CPU time: for a machine shared with other jobs

Targets (issue 11, stricter than the first "Core" issue's 1.3x / 0.3 s): dlteach MLP step within 1.2x of
hand-written NumPy and no slower than PyTorch; network-object step within 1.05x of the model-function step;
``import dlteach`` < 0.2 s (bytecode cached, as installed). CNN step within 1.5x of PyTorch. Issue 14: LSTM step
within 2x of PyTorch; accelerated MLP step (f) within 1.1x of hand-written NumPy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BATCH = 128
LR = 1e-3

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--repeat", type=int, default=100)
parser.add_argument("--rounds", type=int, default=3, help="run every row this many times, interleaved")
parser.add_argument("--warmup", type=int, default=10)
parser.add_argument("--threads", type=int, default=None, help="BLAS and PyTorch threads (default: NumPy's BLAS default)")
parser.add_argument("--row", default=None, help=argparse.SUPPRESS)
parser.add_argument("--models", default="mlp,cnn,lstm", help="comma-separated subset of mlp, cnn, lstm")
parser.add_argument("--profile", default=None, metavar="ROW", help="cProfile one row, e.g. mlp-dlteach")
parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time steps by the wall clock (default) or by the CPU time of the row's process (all its "
                         "threads): on a machine shared with other jobs the CPU time leaves out the time the "
                         "process waited for a core")
parser.add_argument("--paired", type=int, default=150, metavar="CYCLES",
                    help="also time the NumPy-only rows (a, b, e, f) in ONE process, interleaved in blocks of 10 "
                         "steps, CYCLES times, and give the ratios of the blocks of the same cycle (0: off)")
parser.add_argument("--paired-child", default=None, help=argparse.SUPPRESS)
parser.add_argument("--default-malloc", action="store_true",
                    help="run every row with glibc's default malloc thresholds (dlteach tuning off)")
args = parser.parse_args()
if args.threads is not None:  # before NumPy loads its BLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
sys.path.insert(0, REPO)


# ------------------------------------------------------------------------------------------------
# data and parameters (same seed in every row)

LSTM_C, LSTM_T, LSTM_B, LSTM_H = 16, 50, 32, 128


def make_data(np, model="mlp"):
    rng = np.random.default_rng(0)
    if model == "lstm":
        X = rng.standard_normal((LSTM_C, LSTM_B, LSTM_T)).astype(np.float32)  # C x B x T
        labels = rng.integers(0, 10, LSTM_B)
        T = np.zeros((10, LSTM_B), np.float32)
        T[labels, np.arange(LSTM_B)] = 1
        return X, labels, T
    X = rng.random((28, 28, 1, BATCH)).astype(np.float32)  # H x W x C x N
    labels = rng.integers(0, 10, BATCH)
    T = np.zeros((10, BATCH), np.float32)
    T[labels, np.arange(BATCH)] = 1
    return X, labels, T


def make_params(np, model):
    rng = np.random.default_rng(1)

    def he(*shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    if model == "lstm":
        H, C = LSTM_H, LSTM_C
        return {"lstm": {"InputWeights": he(4 * H, C, fan_in=C), "RecurrentWeights": he(4 * H, H, fan_in=H),
                         "Bias": np.zeros((4 * H, 1), np.float32)},
                "fc": {"Weights": he(10, H, fan_in=H), "Bias": np.zeros((10, 1), np.float32)}}
    if model == "mlp":
        return {"fc1": {"Weights": he(128, 784, fan_in=784), "Bias": np.zeros((128, 1), np.float32)},
                "fc2": {"Weights": he(10, 128, fan_in=128), "Bias": np.zeros((10, 1), np.float32)}}
    return {"conv": {"Weights": he(5, 5, 1, 20, fan_in=25), "Bias": np.zeros((20, 1), np.float32)},
            "fc": {"Weights": he(10, 12, 12, 20, fan_in=2880), "Bias": np.zeros((10, 1), np.float32)}}


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    n = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(n) if n else None


# ------------------------------------------------------------------------------------------------
# (a) dlteach model-function style

def step_dlteach(model, accelerate=False):
    import numpy as np

    from dlteach import dlarray, dlfeval, dlgradient, ops
    from dlteach.updaters import adamupdate

    try:
        from dlteach.losses import crossentropy
    except ImportError:  # before losses.py existed
        def crossentropy(Y, T):
            return -np.sum(T * np.log(Y)) * (1.0 / Y.shape[1])

    X, _, T = make_data(np, model)
    X = dlarray(X, "CBT" if model == "lstm" else "SSCB")
    T = dlarray(T, "CB")
    params = {k: {n: dlarray(v) for n, v in d.items()} for k, d in make_params(np, model).items()}
    H0 = np.zeros((LSTM_H, 1), np.float32)

    def mlp(p, X):
        Y = ops.fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])
        Y = ops.relu(Y)
        Y = ops.fullyconnect(Y, p["fc2"]["Weights"], p["fc2"]["Bias"])
        return ops.softmax(Y)

    def cnn(p, X):
        Y = ops.dlconv(X, p["conv"]["Weights"], p["conv"]["Bias"])
        Y = ops.relu(Y)
        Y = ops.maxpool(Y, 2, Stride=2)
        Y = ops.fullyconnect(Y, p["fc"]["Weights"], p["fc"]["Bias"])
        return ops.softmax(Y)

    def lstm_net(p, X):
        from dlteach.recurrent import lstm

        _, h, _ = lstm(X, H0, H0, p["lstm"]["InputWeights"], p["lstm"]["RecurrentWeights"], p["lstm"]["Bias"],
                       return_state=True)  # h = the last time step's output (OutputMode "last")
        Y = ops.fullyconnect(h, p["fc"]["Weights"], p["fc"]["Bias"])
        return ops.softmax(Y)

    net_fn = {"mlp": mlp, "cnn": cnn, "lstm": lstm_net}[model]

    def modelLoss(p, X, T):
        loss = crossentropy(net_fn(p, X), T)
        return loss, dlgradient(loss, p)

    state = {"p": params, "m": None, "v": None, "it": 0}
    if accelerate:
        from dlteach import dlaccelerate

        modelLoss = dlaccelerate(modelLoss)  # noqa: F811 (MATLAB: accfun = dlaccelerate(@modelLoss))

    def step():
        loss, grads = dlfeval(modelLoss, state["p"], X, T)
        state["it"] += 1
        state["p"], state["m"], state["v"] = adamupdate(state["p"], grads, state["m"], state["v"], state["it"], LR)
        return float(loss)

    return step


# ------------------------------------------------------------------------------------------------
# (e) dlteach network-object style (dlnetwork)

def step_dlnetwork(model):
    import numpy as np

    from dlteach import dlarray, dlfeval, dlgradient
    from dlteach.layers import (
        convolution2dLayer,
        fullyConnectedLayer,
        imageInputLayer,
        maxPooling2dLayer,
        reluLayer,
        softmaxLayer,
    )
    from dlteach.losses import crossentropy
    from dlteach.network import dlnetwork, forward
    from dlteach.updaters import adamupdate

    np.random.seed(1)
    X, _, T = make_data(np, model)
    X = dlarray(X, "CBT" if model == "lstm" else "SSCB")
    T = dlarray(T, "CB")
    if model == "lstm":
        from dlteach.layers import lstmLayer, sequenceInputLayer

        layers = [sequenceInputLayer(LSTM_C), lstmLayer(LSTM_H, OutputMode="last"), fullyConnectedLayer(10),
                  softmaxLayer()]
    elif model == "mlp":
        layers = [imageInputLayer([28, 28, 1], Normalization="none"), fullyConnectedLayer(128), reluLayer(),
                  fullyConnectedLayer(10), softmaxLayer()]
    else:
        layers = [imageInputLayer([28, 28, 1], Normalization="none"), convolution2dLayer(5, 20), reluLayer(),
                  maxPooling2dLayer(2, Stride=2), fullyConnectedLayer(10), softmaxLayer()]
    net = dlnetwork(layers)

    def modelLoss(net, X, T):
        Y = forward(net, X)
        loss = crossentropy(Y, T)
        return loss, dlgradient(loss, net.Learnables)

    state = {"net": net, "m": None, "v": None, "it": 0}

    def step():
        loss, grads = dlfeval(modelLoss, state["net"], X, T)
        state["it"] += 1
        state["net"], state["m"], state["v"] = adamupdate(state["net"], grads, state["m"], state["v"], state["it"], LR)
        return float(loss)

    return step


# ------------------------------------------------------------------------------------------------
# Adam for plain arrays (rows b and c), MATLAB's form: epsilon on the uncorrected sqrt(v)

def make_adam(np, params):
    m = {k: {n: np.zeros_like(v) for n, v in d.items()} for k, d in params.items()}
    v = {k: {n: np.zeros_like(a) for n, a in d.items()} for k, d in params.items()}
    it = [0]

    def update(params, grads, b1=0.9, b2=0.999, eps=1e-8):
        it[0] += 1
        t = it[0]
        alpha = np.float32(LR * np.sqrt(1 - b2**t) / (1 - b1**t))
        for k, d in params.items():
            for n, p in d.items():
                g = grads[k][n]
                mk, vk = m[k][n], v[k][n]
                mk *= np.float32(b1)
                mk += np.float32(1 - b1) * g
                vk *= np.float32(b2)
                vk += np.float32(1 - b2) * (g * g)
                p -= alpha * mk / (np.sqrt(vk) + np.float32(eps))

    return update


# ------------------------------------------------------------------------------------------------
# (b) hand-written NumPy

def step_numpy(model):
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    X, _, T = make_data(np)
    params = make_params(np, model)
    adam = make_adam(np, params)
    N = BATCH
    inv_n = np.float32(1.0 / N)

    def softmax_ce_backward(Z):
        Z = Z - Z.max(axis=0, keepdims=True)
        E = np.exp(Z)
        Y = E / E.sum(axis=0, keepdims=True)
        loss = -np.sum(T * np.log(Y)) * inv_n
        return loss, (Y - T) * inv_n  # d loss / d logits (softmax + crossentropy, sum(T) = 1 per column)

    if model == "mlp":
        x = X.reshape(784, N)  # (h, w, c) flattened in C order, like fullyconnect

        def step():
            p = params
            W1, b1, W2, b2 = p["fc1"]["Weights"], p["fc1"]["Bias"], p["fc2"]["Weights"], p["fc2"]["Bias"]
            A = W1 @ x + b1
            H = np.maximum(A, 0)
            loss, dZ = softmax_ce_backward(W2 @ H + b2)
            dH = W2.T @ dZ
            dH *= A > 0
            grads = {"fc1": {"Weights": dH @ x.T, "Bias": dH.sum(axis=1, keepdims=True)},
                     "fc2": {"Weights": dZ @ H.T, "Bias": dZ.sum(axis=1, keepdims=True)}}
            adam(params, grads)
            return float(loss)

        return step

    # CNN, internal layout C x H x W x N
    xc = np.ascontiguousarray(np.transpose(X, (2, 0, 1, 3)))  # 1 x 28 x 28 x N
    cols = np.ascontiguousarray(
        sliding_window_view(xc, (5, 5), axis=(1, 2)).transpose(0, 4, 5, 1, 2, 3).reshape(25, 24 * 24 * N)
    )  # (C*kh*kw) x (Ho*Wo*N); the input batch is fixed, so the patch matrix is built once like a data loader would

    def step():
        p = params
        Wc = p["conv"]["Weights"]  # kh x kw x C x F
        Wm = Wc.transpose(3, 2, 0, 1).reshape(20, 25)  # F x (C kh kw)
        A = (Wm @ cols + p["conv"]["Bias"]).reshape(20, 24, 24, N)
        R = np.maximum(A, 0)
        R6 = R.reshape(20, 12, 2, 12, 2, N)
        P = R6.max(axis=(2, 4))  # 20 x 12 x 12 x N
        Wf = p["fc"]["Weights"]  # 10 x h x w x c
        Wfm = Wf.transpose(0, 3, 1, 2).reshape(10, 2880)  # matches P's (c, h, w) order
        Pf = P.reshape(2880, N)
        loss, dZ = softmax_ce_backward(Wfm @ Pf + p["fc"]["Bias"])
        gWf = (dZ @ Pf.T).reshape(10, 20, 12, 12).transpose(0, 2, 3, 1)
        dP = (Wfm.T @ dZ).reshape(20, 12, 1, 12, 1, N)
        win = R6 == P.reshape(20, 12, 1, 12, 1, N)  # ties only among relu zeros, whose gradient is 0 anyway
        dA = (win * dP).reshape(20, 24, 24, N)
        dA *= A > 0
        dAm = dA.reshape(20, -1)
        gWc = (dAm @ cols.T).reshape(20, 1, 5, 5).transpose(2, 3, 1, 0)
        grads = {"conv": {"Weights": np.ascontiguousarray(gWc), "Bias": dAm.sum(axis=1, keepdims=True)},
                 "fc": {"Weights": np.ascontiguousarray(gWf), "Bias": dZ.sum(axis=1, keepdims=True)}}
        adam(params, grads)
        return float(loss)

    return step


# ------------------------------------------------------------------------------------------------
# (c) plain autograd value_and_grad

def step_autograd(model):
    import autograd.numpy as anp
    import numpy as np
    from autograd import value_and_grad
    from autograd.tracer import getval

    X, _, T = make_data(np)
    params = make_params(np, model)
    adam = make_adam(np, params)
    inv_n = 1.0 / BATCH

    def softmax_ce(Z):
        Z = Z - np.max(getval(Z), axis=0, keepdims=True)  # constant shift (softmax is shift-invariant)
        logY = Z - anp.log(anp.sum(anp.exp(Z), axis=0, keepdims=True))
        return -anp.sum(T * logY) * inv_n

    if model == "mlp":
        x = X.reshape(784, BATCH)

        def loss_fn(p):
            A = p["fc1"]["Weights"] @ x + p["fc1"]["Bias"]
            H = A * (A > 0)
            return softmax_ce(p["fc2"]["Weights"] @ H + p["fc2"]["Bias"])
    else:
        from dlteach._spatial import conv2d, maxpool2d

        def loss_fn(p):
            A = conv2d(X, p["conv"]["Weights"]) + anp.reshape(p["conv"]["Bias"], (1, 1, 20, 1))
            R = A * (A > 0)
            P = maxpool2d(R, (2, 2), (2, 2))  # 12 x 12 x 20 x N
            Z = anp.reshape(p["fc"]["Weights"], (10, 2880)) @ anp.reshape(P, (2880, BATCH)) + p["fc"]["Bias"]
            return softmax_ce(Z)

    vg = value_and_grad(loss_fn)

    def step():
        loss, grads = vg(params)
        adam(params, grads)
        return float(loss)

    return step


# ------------------------------------------------------------------------------------------------
# (d) PyTorch

def step_torch(model):
    import numpy as np
    import torch

    n = int(os.environ.get("BENCH_THREADS", "0")) or None
    if n:
        torch.set_num_threads(n)
    F = torch.nn.functional
    X, labels, _ = make_data(np, model)
    p = make_params(np, model)
    if model == "lstm":
        rnn = torch.nn.LSTM(LSTM_C, LSTM_H)  # gate order i, f, g, o = MATLAB's
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(torch.tensor(p["lstm"]["InputWeights"]))
            rnn.weight_hh_l0.copy_(torch.tensor(p["lstm"]["RecurrentWeights"]))
            rnn.bias_ih_l0.zero_()
            rnn.bias_hh_l0.zero_()
        Wf = torch.tensor(p["fc"]["Weights"], requires_grad=True)
        bf = torch.tensor(p["fc"]["Bias"].ravel(), requires_grad=True)
        x = torch.tensor(np.transpose(X, (2, 1, 0)).copy())  # T x B x C
        y = torch.tensor(labels)
        opt = torch.optim.Adam(list(rnn.parameters()) + [Wf, bf], lr=LR)

        def step():
            opt.zero_grad()
            _, (h, _) = rnn(x)
            loss = F.cross_entropy(F.linear(h[0], Wf, bf), y)
            loss.backward()
            opt.step()
            return loss.item()

        return step
    x = torch.tensor(np.transpose(X, (3, 2, 0, 1)).copy())  # N C H W
    y = torch.tensor(labels)
    if model == "mlp":
        W1 = torch.tensor(p["fc1"]["Weights"], requires_grad=True)
        b1 = torch.tensor(p["fc1"]["Bias"].ravel(), requires_grad=True)
        W2 = torch.tensor(p["fc2"]["Weights"], requires_grad=True)
        b2 = torch.tensor(p["fc2"]["Bias"].ravel(), requires_grad=True)
        ps = [W1, b1, W2, b2]
        xf = x.reshape(BATCH, -1)

        def logits():
            return F.linear(F.relu(F.linear(xf, W1, b1)), W2, b2)
    else:
        Wc = torch.tensor(np.transpose(p["conv"]["Weights"], (3, 2, 0, 1)).copy(), requires_grad=True)
        bc = torch.tensor(p["conv"]["Bias"].ravel(), requires_grad=True)
        Wf = torch.tensor(p["fc"]["Weights"].transpose(0, 3, 1, 2).reshape(10, -1).copy(), requires_grad=True)
        bf = torch.tensor(p["fc"]["Bias"].ravel(), requires_grad=True)
        ps = [Wc, bc, Wf, bf]

        def logits():
            h = F.max_pool2d(F.relu(F.conv2d(x, Wc, bc)), 2, 2)
            return F.linear(h.reshape(BATCH, -1), Wf, bf)

    opt = torch.optim.Adam(ps, lr=LR)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(logits(), y)  # = crossentropy(softmax(logits)), fused
        loss.backward()
        opt.step()
        return loss.item()

    return step


ROWS = {
    "dlteach": ("(a) dlteach model functions (dlfeval+dlgradient+adamupdate)", step_dlteach),
    "dlnetwork": ("(e) dlteach dlnetwork (forward+dlgradient+adamupdate)", step_dlnetwork),
    "accel": ("(f) dlteach dlfeval(dlaccelerate(modelLoss))+adamupdate", lambda m: step_dlteach(m, True)),
    "numpy": ("(b) hand-written NumPy backprop", step_numpy),
    "autograd": ("(c) autograd value_and_grad", step_autograd),
    "torch": ("(d) PyTorch CPU", step_torch),
}
ORDER = ["dlteach", "accel", "dlnetwork", "numpy", "autograd", "torch"]
MODEL_ROWS = {"mlp": ORDER, "cnn": ORDER, "lstm": ["dlteach", "accel", "dlnetwork", "torch"]}


def run_row(name):
    model, row = name.split("-", 1)
    step = ROWS[row][1](model)
    losses = [step() for _ in range(args.warmup)]
    times = []
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for _ in range(args.repeat):
        t0 = clock()
        losses.append(step())
        times.append(clock() - t0)
    return {"median": statistics.median(times), "q1": statistics.quantiles(times, n=4)[0],
            "q3": statistics.quantiles(times, n=4)[2], "p10": statistics.quantiles(times, n=10)[0],
            "first_loss": losses[0], "last_loss": losses[-1]}


PAIRED_ROWS = ["numpy", "dlteach", "dlnetwork", "accel"]
BLOCK = 10


def run_paired(model, cycles):
    """Rows a, b, e, f in one process: every cycle runs a block of BLOCK steps of each row, back to back.

    A shared VM's speed drifts within seconds (and a process can land on a slower core or memory layout), so
    the ratio of two rows is best estimated from blocks that ran a few milliseconds apart in the same process:
    the per-cycle ratios are paired. (PyTorch stays in its own process: its thread pool and OpenBLAS's slow each
    other down.) Returns {row: [seconds per step of each cycle]}.
    """
    steps = {row: ROWS[row][1](model) for row in PAIRED_ROWS}
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    out = {row: [] for row in PAIRED_ROWS}
    for _ in range(cycles):
        for row, step in steps.items():
            t0 = clock()
            for _ in range(BLOCK):
                step()
            out[row].append((clock() - t0) / BLOCK)
    return out


def paired_ratios(times):
    """Median and quartiles over cycles of the per-cycle ratios."""
    def q(a, b):
        r = [x / y for x, y in zip(times[a], times[b])]
        qs = statistics.quantiles(r, n=4)
        return statistics.median(r), qs[0], qs[2]
    return {"dlteach/numpy": q("dlteach", "numpy"), "accel/numpy": q("accel", "numpy"),
            "dlnetwork/dlteach": q("dlnetwork", "dlteach")}


def malloc_env():
    """The same allocator settings for every row: those ``import dlteach`` applies (dlteach/_allocator.py),
    or glibc's defaults with --default-malloc. Otherwise only the rows that import dlteach would get them."""
    from dlteach import _allocator

    if args.default_malloc:
        return {"DLTEACH_MALLOC_TUNING": "0"}, "glibc defaults (DLTEACH_MALLOC_TUNING=0)"
    env = {"MALLOC_MMAP_THRESHOLD_": str(_allocator.MMAP_THRESHOLD),
           "MALLOC_TRIM_THRESHOLD_": str(_allocator.TRIM_THRESHOLD)}
    return env, "dlteach's thresholds for every row (" + ", ".join(f"{k}={v}" for k, v in env.items()) + ")"


def child_env():
    """The environment of every row's process: the same malloc thresholds and thread count."""
    env = dict(os.environ)
    env.update(MALLOC_ENV)
    if THREADS:
        env["BENCH_THREADS"] = str(THREADS)
    return env


def child(name):
    env = child_env()
    cmd = [sys.executable, os.path.abspath(__file__), "--row", name, "--repeat", str(args.repeat),
           "--warmup", str(args.warmup), "--clock", args.clock]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def import_time(repeats=7):
    """Median time of ``import`` in fresh interpreters, with the bytecode cached as an installed package has it.

    Python compiles a module's source the first time and caches the bytecode (``__pycache__``; pip does it at
    install). With PYTHONDONTWRITEBYTECODE set (some CI machines and containers) nothing is cached, and every
    import compiles dlteach's ~30 modules again (~0.16 s more): that is not what a learner's machine does. So
    the bytecode goes to a temporary PYTHONPYCACHEPREFIX, written by one warm-up import, then timed.
    """
    import tempfile

    code = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"
    out = {}
    with tempfile.TemporaryDirectory(prefix="dlteach-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for mod in ("numpy, autograd.numpy", "dlteach"):
            ts = []
            for k in range(repeats + 1):
                r = subprocess.run([sys.executable, "-c", code.format(mod=mod)], capture_output=True, text=True,
                                   cwd=REPO, env=env)
                if k:  # the first import writes the bytecode cache
                    ts.append(float(r.stdout.strip()))
            out[mod] = statistics.median(ts)
    return out


if args.row:
    print(json.dumps(run_row(args.row)))
    sys.exit(0)

if args.paired_child:
    print(json.dumps(run_paired(args.paired_child, args.paired)))
    sys.exit(0)

if args.profile:
    import cProfile
    import pstats

    model, row = args.profile.split("-", 1)
    step = ROWS[row][1](model)
    for _ in range(args.warmup):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.repeat):
        step()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    sys.exit(0)

import numpy as np  # noqa: E402

THREADS = args.threads or blas_threads()
MALLOC_ENV, malloc_text = malloc_env()
print(f"one training step, float32, batch {BATCH}; median of {args.repeat} steps after {args.warmup} warm-up steps; "
      f"{'CPU time of the process' if args.clock == 'cpu' else 'wall-clock time'}")
print(f"NumPy {np.__version__}, BLAS threads = PyTorch threads = {THREADS or 'unknown (threadpoolctl missing)'}")
print(f"malloc: {malloc_text}")
print()
results = {}
MODELS = (("mlp", "MLP 784-128-10"), ("cnn", "CNN conv5x5x20-relu-maxpool2-fc10"),
          ("lstm", f"LSTM {LSTM_C} channels x {LSTM_T} steps, {LSTM_H} hidden units, batch {LSTM_B}, last step-fc10"))
for model, title in MODELS:
    if model not in args.models.split(","):
        continue
    order = MODEL_ROWS[model]
    # rounds: every row once per round, so the rows of one round ran minutes (not hours) apart; a shared
    # VM's speed drifts by tens of percent between quiet and busy periods, and the ratios of one round
    # are comparable where absolute times of different periods are not
    rounds = [{row: child(f"{model}-{row}") for row in order} for _ in range(args.rounds)]
    res = {}
    for row in order:
        ok = [r[row] for r in rounds if "median" in r[row]]
        res[row] = ({"median": statistics.median(r["median"] for r in ok),
                     "q1": statistics.median(r["q1"] for r in ok), "q3": statistics.median(r["q3"] for r in ok),
                     "first_loss": ok[0]["first_loss"], "last_loss": ok[0]["last_loss"]}
                    if ok else rounds[0][row])

    def ratio(row, ref):
        per_round = [r[row]["median"] / r[ref]["median"] for r in rounds
                     if "median" in r.get(row, {}) and "median" in r.get(ref, {})]
        return (statistics.median(per_round), min(per_round), max(per_round)) if per_round else (float("nan"),) * 3

    res["ratios"] = {row: {"numpy": ratio(row, "numpy"), "torch": ratio(row, "torch")} for row in order}
    res["ratios"]["network"] = ratio("dlnetwork", "dlteach")
    results[model] = res
    print(f"{title}  ({args.rounds} rounds; ratios: median of the per-round ratios)")
    print(f"  {'row':62s} {'median ms':>10s} {'IQR ms':>15s} {'/ numpy':>8s} {'/ torch':>8s}  loss first->last")
    for row in order:
        r = res[row]
        if "error" in r:
            print(f"  {ROWS[row][0]:62s} {'-':>10s}  (not available: {r['error'][:60]})")
            continue
        ratio_np, ratio_t = res["ratios"][row]["numpy"][0], res["ratios"][row]["torch"][0]
        print(f"  {ROWS[row][0]:62s} {r['median'] * 1e3:10.2f} {r['q1'] * 1e3:7.2f}-{r['q3'] * 1e3:7.2f} "
              f"{ratio_np:8.2f} {ratio_t:8.2f}  {r['first_loss']:.3f}->{r['last_loss']:.3f}")
    if "accel" in order and all("p10" in r.get(k, {}) for r in rounds for k in ("accel", "numpy", "dlteach")):
        # on a shared, busy machine the medians include preemptions; the lower decile is the step's own cost
        acc = [r["accel"]["p10"] / r["numpy"]["p10"] for r in rounds]
        pla = [r["dlteach"]["p10"] / r["numpy"]["p10"] for r in rounds]
        res["ratios"]["accel_p10"] = (statistics.median(acc), min(acc), max(acc))
        print(f"  lower decile of the step times, per round: accelerated/numpy "
              f"{', '.join(f'{x:.2f}' for x in acc)} (median {statistics.median(acc):.2f}); plain dlteach/numpy "
              f"{', '.join(f'{x:.2f}' for x in pla)} (median {statistics.median(pla):.2f})")
    if args.paired and model in ("mlp", "cnn"):
        env = child_env()
        cmd = [sys.executable, os.path.abspath(__file__), "--paired-child", model, "--paired", str(args.paired),
               "--warmup", str(args.warmup), "--clock", args.clock]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        if proc.returncode == 0:
            pr = paired_ratios(json.loads(proc.stdout.strip().splitlines()[-1]))
            res["ratios"]["paired"] = pr
            print(f"  paired, one process, {args.paired} cycles of {BLOCK}-step blocks (median [quartiles] of the "
                  "per-cycle ratios): " + "; ".join(f"{k} {v[0]:.3f} [{v[1]:.3f}-{v[2]:.3f}]" for k, v in pr.items()))
        else:
            print("  paired run failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
    print()

if set(args.models.split(",")) != {"mlp", "cnn", "lstm"}:
    for model in results:
        r = results[model]["ratios"]
        print(f"{model}: dlteach/torch = {r['dlteach']['torch'][0]:.2f} [{r['dlteach']['torch'][1]:.2f}-"
              f"{r['dlteach']['torch'][2]:.2f}]")
        if "numpy" in r["accel"] and r["accel"]["numpy"][0] == r["accel"]["numpy"][0]:
            a = r["accel"]["numpy"]
            print(f"{model}: accelerated dlteach/numpy = {a[0]:.2f} [{a[1]:.2f}-{a[2]:.2f}] (MLP target <= 1.1), "
                  f"plain dlteach/numpy = {r['dlteach']['numpy'][0]:.2f} (MLP target <= 1.2)")
        if "network" in r:
            n = r["network"]
            print(f"{model}: dlnetwork/model functions = {n[0]:.2f} [{n[1]:.2f}-{n[2]:.2f}] (target <= 1.05)")
        if "paired" in r:
            pr = r["paired"]
            print(f"{model} paired in one process: dlteach/numpy = {pr['dlteach/numpy'][0]:.3f} (MLP target <= 1.2), "
                  f"dlnetwork/model functions = {pr['dlnetwork/dlteach'][0]:.3f} (target <= 1.05), "
                  f"accelerated/numpy = {pr['accel/numpy'][0]:.3f} (MLP target <= 1.1)")
    sys.exit(0)
imp = import_time()
print(f"import time (fresh interpreter, median of 7): numpy+autograd {imp['numpy, autograd.numpy'] * 1e3:.0f} ms, "
      f"dlteach {imp['dlteach'] * 1e3:.0f} ms (target < 200 ms)")
m, c = results["mlp"]["ratios"]["dlteach"], results["cnn"]["ratios"]["dlteach"]


def show(r):
    return f"{r[0]:.2f} [{r[1]:.2f}-{r[2]:.2f}]"


print(f"targets (median [min-max] over rounds): MLP dlteach/numpy = {show(m['numpy'])} (<= 1.2), "
      f"MLP accelerated dlteach/numpy = {show(results['mlp']['ratios']['accel']['numpy'])} (<= 1.1), "
      f"MLP dlteach/torch = {show(m['torch'])} (<= 1.0), CNN dlteach/torch = {show(c['torch'])} (<= 1.5); "
      f"dlnetwork/model functions: MLP {show(results['mlp']['ratios']['network'])}, "
      f"CNN {show(results['cnn']['ratios']['network'])} (<= 1.05); "
      f"LSTM dlteach/torch = {show(results['lstm']['ratios']['dlteach']['torch'])} (<= 2.0), "
      f"dlnetwork/torch = {show(results['lstm']['ratios']['dlnetwork']['torch'])}")
if "paired" in results["mlp"]["ratios"]:
    pr = results["mlp"]["ratios"]["paired"]
    print(f"paired in one process (MLP): dlteach/numpy = {pr['dlteach/numpy'][0]:.3f} (<= 1.2), dlnetwork/model "
          f"functions = {pr['dlnetwork/dlteach'][0]:.3f} (<= 1.05), accelerated/numpy = {pr['accel/numpy'][0]:.3f} "
          f"(<= 1.1)")
