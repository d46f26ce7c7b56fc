"""Benchmark: time per L-BFGS iteration on a small MLP, dlteach ``lbfgsupdate`` next to ``torch.optim.LBFGS``.

Model: a regression MLP 2-20-20-20-1 (tanh), float32, full batch of 1000 points (the size of the
physics-informed examples' networks, without their input derivatives), loss = mean squared error.

Rows (each in its own child process, both with the same number of BLAS / PyTorch threads):
  dlteach-net   dlnetwork + forward + dlgradient(loss, net.Learnables), lbfgsupdate(net, lossFcn, state)
  dlteach-dict  model-function style (parameter dict), lbfgsupdate(params, lossFcn, state)
  torch         torch.optim.LBFGS(max_iter=iters, history_size=10, line_search_fn="strong_wolfe"): all
                iterations inside one ``step(closure)`` call, torch's intended use (with max_iter=1 per
                step() call torch's step length t drops to 0 after a few calls and the loss stalls)

A row runs ``--iters`` iterations (``lbfgsupdate`` calls / torch iterations) from the initial weights,
after ``--warmup`` iterations on a throw-away copy, and reports: ms per iteration, loss evaluations per iteration (lossFcn / closure
calls), ms per evaluation, and the loss reached. The rows run ``--rounds`` times interleaved; the
figures are medians over rounds. Both solvers start from the same weights, but their first steps
differ (torch scales its first step by min(1, 1/|g|_1)), so their loss curves are comparable, not equal.

    .venv/bin/python benchmarks/bench_lbfgs.py [--iters N] [--rounds K] [--threads T] [--line-search strong-wolfe]
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
SIZES = (2, 20, 20, 20, 1)
N = 1000

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--iters", type=int, default=100)
parser.add_argument("--warmup", type=int, default=5)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--line-search", default="strong-wolfe", choices=["strong-wolfe", "weak-wolfe", "backtracking"],
                    help="dlteach's LineSearchMethod; torch always uses its strong_wolfe")
parser.add_argument("--row", default=None, help=argparse.SUPPRESS)
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)
sys.path.insert(0, REPO)


def make_problem(np):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (2, N)).astype(np.float32)
    T = (np.sin(3 * X[:1]) * np.cos(2 * X[1:])).astype(np.float32)
    weights = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        weights.append((rng.standard_normal((b, a)) * np.sqrt(2.0 / (a + b))).astype(np.float32))
        weights.append(np.zeros((b, 1), np.float32))
    return X, T, weights


def row_dlteach(style):
    import numpy as np

    from dlteach import (
        dlarray,
        dlfeval,
        dlgradient,
        dlnetwork,
        featureInputLayer,
        forward,
        fullyconnect,
        fullyConnectedLayer,
        lbfgsState,
        lbfgsupdate,
        tanh,
        tanhLayer,
    )
    from dlteach.table import Table

    X, T, weights = make_problem(np)
    Xd, Td = dlarray(X, "CB"), dlarray(T, "CB")
    count = [0]
    if style == "net":
        layers = [featureInputLayer(SIZES[0])]
        for k, h in enumerate(SIZES[1:]):
            layers.append(fullyConnectedLayer(h, Name=f"fc{k + 1}"))
            if k < len(SIZES) - 2:
                layers.append(tanhLayer(Name=f"tanh{k + 1}"))
        model = dlnetwork(layers)
        table = model.Learnables
        model.Learnables = Table(list(table.Layer), list(table.Parameter), [dlarray(w) for w in weights])

        def modelLoss(net, X, T):
            count[0] += 1
            loss = np.mean((forward(net, X) - T) ** 2)
            return loss, dlgradient(loss, net.Learnables)
    else:
        model = {f"fc{k}": {"Weights": dlarray(weights[2 * k]), "Bias": dlarray(weights[2 * k + 1])}
                 for k in range(len(SIZES) - 1)}

        def modelLoss(p, X, T):
            count[0] += 1
            Y = X
            for k in range(len(SIZES) - 1):
                Y = fullyconnect(Y, p[f"fc{k}"]["Weights"], p[f"fc{k}"]["Bias"])
                if k < len(SIZES) - 2:
                    Y = tanh(Y)
            loss = np.mean((Y - T) ** 2)
            return loss, dlgradient(loss, p)

    lossFcn = lambda m: dlfeval(modelLoss, m, Xd, Td)  # noqa: E731
    warm, state = model, lbfgsState()
    for _ in range(args.warmup):  # on a throw-away copy: the timed run starts from the initial weights
        warm, state = lbfgsupdate(warm, lossFcn, state, LineSearchMethod=args.line_search)
    state = lbfgsState()
    count[0] = 0
    t0 = time.perf_counter()
    for _ in range(args.iters):
        model, state = lbfgsupdate(model, lossFcn, state, LineSearchMethod=args.line_search)
    elapsed = time.perf_counter() - t0
    return elapsed, count[0], float(np.asarray(state.Loss))


def row_torch():
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    X, T, weights = make_problem(np)
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    count = [0]

    def run(iters):
        params = [torch.tensor(w, requires_grad=True) for w in weights]
        opt = torch.optim.LBFGS(params, lr=1, max_iter=iters, max_eval=100 * iters, history_size=10,
                                tolerance_grad=0, tolerance_change=0, line_search_fn="strong_wolfe")

        def closure():
            count[0] += 1
            opt.zero_grad()
            Y = Xt
            for k in range(len(SIZES) - 1):
                Y = params[2 * k] @ Y + params[2 * k + 1]
                if k < len(SIZES) - 2:
                    Y = torch.tanh(Y)
            loss = ((Y - Tt) ** 2).mean()
            loss.backward()
            return loss

        count[0] = 0
        t0 = time.perf_counter()
        opt.step(closure)  # torch's LBFGS runs max_iter iterations inside one step()
        elapsed = time.perf_counter() - t0
        evals = count[0]
        assert opt.state[opt._params[0]]["n_iter"] == iters
        return elapsed, evals, float(closure().detach())

    run(args.warmup)
    return run(args.iters)


ROWS = {"dlteach-net": lambda: row_dlteach("net"), "dlteach-dict": lambda: row_dlteach("dict"), "torch": row_torch}

if args.row:
    elapsed, evals, loss = ROWS[args.row]()
    print(json.dumps({"elapsed": elapsed, "evals": evals, "loss": loss}))
    sys.exit(0)

results = {name: [] for name in ROWS}
for _ in range(args.rounds):
    for name in ROWS:
        cmd = [sys.executable, __file__, "--row", name, "--iters", str(args.iters), "--warmup", str(args.warmup),
               "--threads", str(args.threads), "--line-search", args.line_search]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results[name].append(json.loads(out.strip().splitlines()[-1]))

print(f"L-BFGS on an MLP {'-'.join(map(str, SIZES))} (tanh), float32, {N} points, {args.iters} iterations after "
      f"{args.warmup} warm-up, {args.threads} thread(s), medians of {args.rounds} rounds; dlteach LineSearchMethod="
      f"{args.line_search!r}, torch line_search_fn='strong_wolfe'")
print(f"{'row':<14}{'ms/iteration':>14}{'evals/iter':>12}{'ms/eval':>10}{'loss reached':>15}")
per_iter = {}
for name, rs in results.items():
    ms = statistics.median(r["elapsed"] / args.iters * 1e3 for r in rs)
    ev = statistics.median(r["evals"] / args.iters for r in rs)
    me = statistics.median(r["elapsed"] / max(r["evals"], 1) * 1e3 for r in rs)
    loss = statistics.median(r["loss"] for r in rs)
    per_iter[name] = ms
    print(f"{name:<14}{ms:>14.2f}{ev:>12.2f}{me:>10.2f}{loss:>15.3e}")
ratios = [r_net["elapsed"] / r_t["elapsed"] for r_net, r_t in zip(results["dlteach-net"], results["torch"])]
print(f"dlteach-net / torch per iteration: {statistics.median(ratios):.2f} (per round "
      f"{min(ratios):.2f}-{max(ratios):.2f}); load average {os.getloadavg()[0]:.1f}")
