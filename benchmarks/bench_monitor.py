"""Overhead of trainingProgressMonitor in a training-like loop (prints figures, asserts nothing).

Loop: 200 iterations of a NumPy MLP step (784-256-10, batch 512, float32, forward + backward +
SGD), a few ms each.  Variants: no monitor; headless monitor (record only); widget monitor
(simulated front end: real ipywidgets + matplotlib PNG rendering, comms go nowhere).
Each step records Loss and updates Info and Progress, i.e. the MATLAB example pattern.

    .venv/bin/python benchmarks/bench_monitor.py [--iters 200] [--repeats 3]
"""
import argparse
import time

import numpy as np

from dlteach.monitor import recordMetrics, trainingProgressMonitor, updateInfo


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((512, 784), dtype=np.float32)
    T = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 512)]
    W1 = (rng.standard_normal((784, 256), dtype=np.float32) * 0.05).astype(np.float32)
    W2 = (rng.standard_normal((256, 10), dtype=np.float32) * 0.05).astype(np.float32)
    return X, T, [W1, W2]


def step(X, T, params, lr=np.float32(0.1)):
    W1, W2 = params
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
    W1 -= lr * dW1
    W2 -= lr * dW2
    return loss


def run(iters, frontend):
    """Returns (total s, s inside the training step, s inside monitor calls, redraws)."""
    X, T, params = make_problem()
    monitor = None
    clock = time.perf_counter
    t_step = t_mon = 0.0
    t0 = clock()
    if frontend is not None:
        monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], frontend=frontend)
    t_mon += clock() - t0
    for it in range(1, iters + 1):
        a = clock()
        if monitor is not None and monitor.Stop:
            break
        b = clock()
        loss = step(X, T, params)
        c = clock()
        if monitor is not None:
            recordMetrics(monitor, it, Loss=loss)
            updateInfo(monitor, Epoch=f"{it // 50 + 1} of {iters // 50}")
            monitor.Progress = 100 * it / iters
        d = clock()
        t_step += c - b
        t_mon += (b - a) + (d - c)
    total = clock() - t0
    redraws = monitor.redraw_count if monitor is not None else 0
    return total, t_step, t_mon, redraws


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    run(20, "widget")  # warm up imports (ipywidgets, matplotlib) outside the timings
    variants = [("no monitor", None), ("headless monitor", "headless"), ("widget monitor", "widget")]
    results = {name: [] for name, _ in variants}
    for _ in range(args.repeats):  # interleave variants to share machine noise
        for name, fe in variants:
            results[name].append(run(args.iters, fe))
    print(f"{args.iters} iterations x {args.repeats} repeats (median); the in-loop share is the "
          f"robust figure on a busy machine, the wall-clock difference is noisy")
    base = float(np.median([r[0] for r in results["no monitor"]]))
    for name, _ in variants:
        rs = results[name]
        total = float(np.median([r[0] for r in rs]))
        share = float(np.median([100 * r[2] / r[1] for r in rs]))
        step_ms = float(np.median([1e3 * r[1] / args.iters for r in rs]))
        line = f"  {name:17s} wall {total:7.3f} s ({100 * (total - base) / base:+6.1f} %), step {step_ms:6.2f} ms"
        if name != "no monitor":
            line += f", monitor time / step time = {share:5.2f} %, redraws {rs[-1][3]}"
        print(line)
    # per-call cost of the record path, independent of the loop
    m = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], frontend="headless")
    n = 20000
    t0 = time.perf_counter()
    for i in range(n):
        recordMetrics(m, i, Loss=np.float32(0.5))
    t1 = time.perf_counter()
    print(f"  recordMetrics (headless): {1e6 * (t1 - t0) / n:.1f} us per call")


if __name__ == "__main__":
    main()
