"""Overhead of trainingProgressMonitor on a ~200-iteration training loop (prints figures, asserts nothing).

Training steps (float32, one mini-batch of 128 digits per iteration, Adam):

* ``mlp``   the lesson-03 network: dlnetwork 784-64-10 (fc, relu, fc, softmax), dlfeval + dlgradient +
            adamupdate, mini-batches from a minibatchqueue over load_digits;
* ``cnn``   conv 5x5x20, relu, maxpool 2/2, fc 10, softmax, same loop;
* ``numpy`` a hand-written NumPy MLP step (784-256-10, batch 512), no autograd: the cheapest step.

Variants: no monitor; headless monitor (record only); widget monitor (real ipywidgets objects and
the live SVG plot rendering; with no kernel the comm messages go nowhere). Each iteration records
Loss, updates Info and Progress (the MATLAB example pattern). "final figure" is the static PNG of the
curves that the monitor leaves in the cell output when it finishes (done in a kernel at Progress = 100
or after the cell; here it is timed explicitly because without IPython the monitor shows nothing).

overhead = (time in monitor calls inside the loop + final figure) / time in the training steps.
The in-loop shares are measured with perf_counter around the calls, so they are robust on a busy
machine; wall-clock differences between variants are noisy there.

    .venv/bin/python benchmarks/bench_monitor.py [--iters 200] [--repeats 3] [--steps mlp,cnn,numpy]
"""
import argparse
import time

import numpy as np

from dlteach import (
    adamupdate,
    convolution2dLayer,
    crossentropy,
    dlfeval,
    dlgradient,
    dlnetwork,
    forward,
    fullyConnectedLayer,
    hasdata,
    imageInputLayer,
    load_digits,
    maxPooling2dLayer,
    minibatchqueue,
    onehotencode,
    reluLayer,
    shuffle,
    softmaxLayer,
)
from dlteach import (
    next as mbq_next,
)
from dlteach._jupyter import figure_png
from dlteach.monitor import recordMetrics, trainingProgressMonitor, updateInfo

# ------------------------------------------------------------------------------------ training steps


def _layers(kind):
    inp = imageInputLayer([28, 28, 1], Normalization="none")
    if kind == "mlp":
        return [inp, fullyConnectedLayer(64), reluLayer(), fullyConnectedLayer(10), softmaxLayer()]
    return [inp, convolution2dLayer(5, 20), reluLayer(), maxPooling2dLayer(2, Stride=2),
            fullyConnectedLayer(10), softmaxLayer()]


def _model_loss(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


def make_dlteach_step(kind):
    X, labels, _T = load_digits("train")

    def pre(Xb, Yb):
        return Xb, onehotencode(Yb, 1, ClassNames=np.arange(10))

    mbq = minibatchqueue(X, labels, MiniBatchSize=128, MiniBatchFcn=pre, MiniBatchFormat=["SSCB", "CB"],
                         PartialMiniBatch="discard", seed=0)
    np.random.seed(0)
    st = {"net": dlnetwork(_layers(kind)), "avg": None, "sq": None, "it": 0}
    shuffle(mbq)

    def step():
        if not hasdata(mbq):
            shuffle(mbq)
        Xb, Tb = mbq_next(mbq)
        st["it"] += 1
        loss, g, state = dlfeval(_model_loss, st["net"], Xb, Tb)
        st["net"].State = state
        st["net"], st["avg"], st["sq"] = adamupdate(st["net"], g, st["avg"], st["sq"], st["it"])
        return loss

    return step


def make_numpy_step(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((512, 784), dtype=np.float32)
    T = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 512)]
    W1 = (rng.standard_normal((784, 256), dtype=np.float32) * 0.05).astype(np.float32)
    W2 = (rng.standard_normal((256, 10), dtype=np.float32) * 0.05).astype(np.float32)
    lr = np.float32(0.1)

    def step():
        H = np.maximum(X @ W1, 0)
        Z = H @ W2
        Z = Z - Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)
        loss = -np.mean(np.sum(T * np.log(P + np.float32(1e-7)), axis=1))
        dZ = (P - T) / np.float32(X.shape[0])
        dW2 = H.T @ dZ
        dH = (dZ @ W2.T) * (H > 0)
        dW1 = X.T @ dH
        W1[...] -= lr * dW1
        W2[...] -= lr * dW2
        return loss

    return step


STEPS = {"mlp": lambda: make_dlteach_step("mlp"), "cnn": lambda: make_dlteach_step("cnn"),
         "numpy": make_numpy_step}


# ------------------------------------------------------------------------------------ one loop


def run(make_step, iters, frontend):
    """(total s, s in steps, s in monitor calls in the loop, s for the final figure, redraws)."""
    step = make_step()
    step()  # first step outside the timing (lazy imports, caches)
    clock = time.perf_counter
    t_step = t_mon = t_final = 0.0
    t0 = clock()
    monitor = None
    if frontend is not None:
        monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], frontend=frontend)
    t_mon += clock() - t0
    for it in range(1, iters + 1):
        a = clock()
        if monitor is not None and monitor.Stop:
            break
        b = clock()
        loss = step()
        c = clock()
        if monitor is not None:
            recordMetrics(monitor, it, Loss=loss)
            updateInfo(monitor, Epoch=f"{it // 50 + 1} of {iters // 50}")
            monitor.Progress = 100 * it / iters
        d = clock()
        t_step += c - b
        t_mon += (b - a) + (d - c)
    if monitor is not None:  # what finish() renders in a kernel: the static PNG of the final curves
        e = clock()
        figure_png(monitor.plot(title=f"Epoch: {iters // 50} of {iters // 50}  Elapsed 00:00:01"))
        t_final = clock() - e
    total = clock() - t0
    redraws = monitor.redraw_count if monitor is not None else 0
    return total, t_step, t_mon, t_final, redraws


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", default="mlp,cnn,numpy")
    args = ap.parse_args()

    # warm up imports (ipywidgets, matplotlib, font cache): in a lesson they are loaded by earlier cells
    warm = trainingProgressMonitor(Metrics=["Loss"], frontend="widget")
    recordMetrics(warm, 1, Loss=1.0)
    warm._refresh(0.0)
    warm._render_png()

    variants = [("no monitor", None), ("headless monitor", "headless"), ("widget monitor", "widget")]
    print(f"{args.iters} iterations per loop, {args.repeats} repeats (median), variants interleaved")
    for kind in args.steps.split(","):
        results = {name: [] for name, _ in variants}
        for _ in range(args.repeats):
            for name, fe in variants:
                results[name].append(run(STEPS[kind], args.iters, fe))
        base = float(np.median([r[0] for r in results["no monitor"]]))
        print(f"step '{kind}':")
        for name, _ in variants:
            rs = results[name]
            med = lambda f: float(np.median([f(r) for r in rs]))  # noqa: E731
            total = med(lambda r: r[0])
            line = (f"  {name:16s} wall {total:7.3f} s ({100 * (total - base) / base:+6.1f} % vs none), "
                    f"step {med(lambda r: 1e3 * r[1] / args.iters):6.2f} ms")
            if name != "no monitor":
                line += (f"; in loop {med(lambda r: 100 * r[2] / r[1]):5.2f} %, final figure "
                         f"{med(lambda r: 1e3 * r[3]):5.1f} ms, overhead {med(lambda r: 100 * (r[2] + r[3]) / r[1]):5.2f} %"
                         f", live redraws {rs[-1][4]}")
            print(line)

    # per-call costs, independent of the loop
    m = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], frontend="headless")
    n = 20000
    t0 = time.perf_counter()
    for i in range(n):
        recordMetrics(m, i, Loss=np.float32(0.5))
    t1 = time.perf_counter()
    print(f"recordMetrics (headless): {1e6 * (t1 - t0) / n:.1f} us per call")
    w = trainingProgressMonitor(Metrics=["Loss"], frontend="widget")
    for i in range(1, 201):
        recordMetrics(w, i, Loss=1.0 / i)
    svg, png = [], []
    for _ in range(10):
        a = time.perf_counter()
        w._render_svg()
        b = time.perf_counter()
        w._render_png()
        c = time.perf_counter()
        svg.append(b - a)
        png.append(c - b)
    print(f"one live frame, 200 points: SVG {1e3 * np.median(svg):.2f} ms (live plot), "
          f"matplotlib PNG {1e3 * np.median(png):.1f} ms (final figure; the old live plot)")


if __name__ == "__main__":
    main()
