"""Benchmark: the Python overhead of one training step, on a model so small that the arithmetic is negligible.

MLP 4-8-3, batch 2, float32, Adam. Rows
  numpy      hand-written forward, backward and Adam (in place)
  fn         model functions: dlfeval(modelLoss, params, X, T) + dlgradient + adamupdate
  net        dlnetwork: forward + crossentropy + dlgradient(loss, net.Learnables) + adamupdate(net, ...)
  feval      the model-function dlfeval alone (forward + dlgradient)
  adam       adamupdate alone (nested dicts, second call: states given)
  accel      fn with the model loss function accelerated: dlfeval(dlaccelerate(modelLoss), ...) replays the
             recorded operations (no Python model function, no boxes, no graph to traverse), then adamupdate.
             What is left over numpy is the cost of dlarrays, checks and the functional update; fn - accel is
             the cost of recording the graph and the reverse pass over it

Two measures:
  default      CPU time per step (process_time), rows interleaved over rounds, min and median of the rounds
  --callgrind  CPU INSTRUCTIONS per step under valgrind's callgrind: (run of 220 steps - run of 20 steps) / 200,
               with PYTHONHASHSEED=0. Deterministic: use it to judge a change to dlteach's Python overhead on a
               shared machine, where times drift by 20 %. (Instructions are not time - NumPy's C code and cache
               misses weigh differently - but they track Python overhead closely.) Needs `valgrind`
               (apt-get install valgrind); about 25 s per row.

    .venv/bin/python benchmarks/bench_step_overhead.py [ROW ...]
    .venv/bin/python benchmarks/bench_step_overhead.py --callgrind [ROW ...]

Figures of 2026-12-03 (instructions per step): numpy 463k; fn 1,624k at e086770 -> 1,140k (a4dea4c) -> 1,066k;
net 1,849k -> 1,200k -> 1,123k; adam 420k (a4dea4c) -> 392k.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ROWS = ("numpy", "fn", "net", "feval", "adam", "accel")


def make_rows():
    import numpy as np

    from dlteach import dlaccelerate, dlarray, dlfeval, dlgradient, extractdata, ops
    from dlteach.layers import featureInputLayer, fullyConnectedLayer, reluLayer, softmaxLayer
    from dlteach.losses import crossentropy
    from dlteach.network import dlnetwork, forward
    from dlteach.updaters import adamupdate

    rng = np.random.default_rng(0)
    D, H, K, N = 4, 8, 3, 2
    Xn = rng.random((D, N)).astype(np.float32)
    Tn = np.zeros((K, N), np.float32)
    Tn[0, :] = 1
    X, T = dlarray(Xn, "CB"), dlarray(Tn, "CB")
    W = {"fc1": {"Weights": rng.standard_normal((H, D)).astype(np.float32), "Bias": np.zeros((H, 1), np.float32)},
         "fc2": {"Weights": rng.standard_normal((K, H)).astype(np.float32), "Bias": np.zeros((K, 1), np.float32)}}
    params = {k: {n: dlarray(v.copy()) for n, v in d.items()} for k, d in W.items()}

    def mlp(p, X):
        Y = ops.relu(ops.fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]))
        return ops.softmax(ops.fullyconnect(Y, p["fc2"]["Weights"], p["fc2"]["Bias"]))

    def modelLoss(p, X, T):
        loss = crossentropy(mlp(p, X), T)
        return loss, dlgradient(loss, p)

    np.random.seed(0)
    net = dlnetwork([featureInputLayer(D), fullyConnectedLayer(H), reluLayer(), fullyConnectedLayer(K), softmaxLayer()])

    def netLoss(net, X, T):
        loss = crossentropy(forward(net, X), T)
        return loss, dlgradient(loss, net.Learnables)

    st = {"p": params, "m": None, "v": None, "it": 0, "net": net, "nm": None, "nv": None,
          "ap": {k: dict(d) for k, d in params.items()}, "am": None, "av": None, "ait": 0}
    accelerated = dlaccelerate(modelLoss)

    def fn():
        _, g = dlfeval(modelLoss, st["p"], X, T)
        st["it"] += 1
        st["p"], st["m"], st["v"] = adamupdate(st["p"], g, st["m"], st["v"], st["it"], 1e-3)

    def net_step():
        _, g = dlfeval(netLoss, st["net"], X, T)
        st["it"] += 1
        st["net"], st["nm"], st["nv"] = adamupdate(st["net"], g, st["nm"], st["nv"], st["it"], 1e-3)

    def accel():
        _, g = dlfeval(accelerated, st["ap"], X, T)
        st["ait"] += 1
        st["ap"], st["am"], st["av"] = adamupdate(st["ap"], g, st["am"], st["av"], st["ait"], 1e-3)

    def feval():
        dlfeval(modelLoss, st["p"], X, T)

    _, G = dlfeval(modelLoss, params, X, T)
    _, M, V = adamupdate(params, G, None, None, 1, 1e-3)

    def adam():
        adamupdate(params, G, M, V, 2, 1e-3)

    Wn = {k: {n: extractdata(v).copy() for n, v in d.items()} for k, d in params.items()}
    mm = {k: {n: np.zeros_like(v) for n, v in d.items()} for k, d in Wn.items()}
    vv = {k: {n: np.zeros_like(v) for n, v in d.items()} for k, d in Wn.items()}
    it = [0]
    inv = np.float32(1 / N)

    def numpy_step():
        W1, b1, W2, b2 = Wn["fc1"]["Weights"], Wn["fc1"]["Bias"], Wn["fc2"]["Weights"], Wn["fc2"]["Bias"]
        A = W1 @ Xn + b1
        Hh = np.maximum(A, 0)
        Z = W2 @ Hh + b2
        Z = Z - Z.max(axis=0, keepdims=True)
        E = np.exp(Z)
        Y = E / E.sum(axis=0, keepdims=True)
        loss = -np.sum(Tn * np.log(Y)) * inv
        dZ = (Y - Tn) * inv
        dH = W2.T @ dZ
        dH *= A > 0
        grads = {"fc1": {"Weights": dH @ Xn.T, "Bias": dH.sum(axis=1, keepdims=True)},
                 "fc2": {"Weights": dZ @ Hh.T, "Bias": dZ.sum(axis=1, keepdims=True)}}
        it[0] += 1
        alpha = np.float32(1e-3 * np.sqrt(1 - 0.999 ** it[0]) / (1 - 0.9 ** it[0]))
        for k, d in Wn.items():
            for n, w in d.items():
                g, mk, vk = grads[k][n], mm[k][n], vv[k][n]
                mk *= np.float32(0.9)
                mk += np.float32(0.1) * g
                vk *= np.float32(0.999)
                vk += np.float32(0.001) * (g * g)
                w -= alpha * mk / (np.sqrt(vk) + np.float32(1e-8))
        return float(loss)

    return {"numpy": numpy_step, "fn": fn, "net": net_step, "feval": feval, "adam": adam, "accel": accel}


def run_steps(row, n):
    """(child of --callgrind) warm up, then n steps of one row."""
    step = make_rows()[row]
    for _ in range(20):
        step()
    for _ in range(n):
        step()


def instructions(row):
    env = dict(os.environ, PYTHONHASHSEED="0")

    def total(n):
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                              os.path.abspath(__file__), "--steps", row, str(n)],
                             capture_output=True, text=True, env=env, cwd=REPO)
        m = re.search(r"Collected : ([\d,]+)", out.stderr)
        if m is None:
            raise SystemExit(f"valgrind failed for {row}: {out.stderr.strip().splitlines()[-1:]}")
        return int(m.group(1).replace(",", ""))

    return (total(220) - total(20)) / 200


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", metavar="ROW", help=f"rows to run (default all): {', '.join(ROWS)}")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per step under valgrind")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, REPO)
    if args.steps:
        run_steps(args.steps[0], int(args.steps[1]))
        return
    rows = args.rows or list(ROWS)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    if args.callgrind:
        print("instructions per step (callgrind, PYTHONHASHSEED=0)")
        for row in rows:
            print(f"  {row:6s} {instructions(row) / 1e3:8.1f} k")
        return
    fns = make_rows()
    for row in rows:
        for _ in range(200):
            fns[row]()
    times = {row: [] for row in rows}
    for _ in range(args.rounds):
        for row in rows:
            t0 = time.process_time()
            for _ in range(1000):
                fns[row]()
            times[row].append((time.process_time() - t0) / 1000 * 1e6)
    print(f"CPU time per step, {args.rounds} interleaved rounds of 1000 steps")
    for row in rows:
        print(f"  {row:6s} min {min(times[row]):7.1f} us   median {statistics.median(times[row]):7.1f} us")


if __name__ == "__main__":
    main()
