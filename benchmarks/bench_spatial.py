"""Benchmark of dlteach._spatial (conv2d / maxpool2d) against PyTorch CPU.

Forward and forward+backward times (best of repeated runs, milliseconds) on MATLAB-layout
H x W x C x N float32 arrays.  The backward pass is a VJP with a fixed random cotangent, the
same work on both sides (autograd.make_vjp vs torch's y.backward(g)).  PyTorch gets the same
number of threads as NumPy's BLAS (``--threads N`` sets both; the default is
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS or the number of CPUs).  Each side is timed in its own
child process: in one process the idle-spinning OpenBLAS and OpenMP thread pools fight over the
cores and both sides get several times slower.

    .venv/bin/python benchmarks/bench_spatial.py [--threads N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=None)
parser.add_argument("--repeat", type=int, default=30)
parser.add_argument("--side", choices=["ours", "torch"], default=None, help=argparse.SUPPRESS)
args = parser.parse_args()
if args.threads is not None:  # before NumPy loads its BLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
THREADS = int(os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or os.cpu_count())

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import json  # noqa: E402
import subprocess  # noqa: E402

import numpy as np  # noqa: E402

CASES = [
    # name, kind, x shape (H W C N), w shape (kh kw C F) or None, gradients taken
    ("conv 28x28x1x128 * 5x5x1x20", "conv", (28, 28, 1, 128), (5, 5, 1, 20), "W"),
    ("conv 28x28x1x128 * 5x5x1x20", "conv", (28, 28, 1, 128), (5, 5, 1, 20), "x,W"),
    ("conv 12x12x20x128 * 3x3x20x32", "conv", (12, 12, 20, 128), (3, 3, 20, 32), "x,W"),
    ("maxpool 2x2/2 on 24x24x20x128", "pool", (24, 24, 20, 128), None, "x"),
]


def median_ms(fn, repeat):
    fn()  # warm-up
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    # best of `repeat`: the machine is shared, and the minimum is the least noisy estimate of the cost
    return 1e3 * float(np.min(times))


def make_data(kind, xs, ws, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (0.1 * rng.standard_normal(ws)).astype(np.float32) if ws else None
    if kind == "conv":
        ys = (xs[0] - ws[0] + 1, xs[1] - ws[1] + 1, ws[3], xs[3])
    else:
        ys = (xs[0] // 2, xs[1] // 2, xs[2], xs[3])
    g = rng.standard_normal(ys).astype(np.float32)
    return x, w, g


def run_ours(repeat):
    from autograd import make_vjp

    from dlteach._spatial import conv2d, maxpool2d

    out = []
    for i, (_, kind, xs, ws, wrt) in enumerate(CASES):
        x, w, g = make_data(kind, xs, ws, i)
        if kind == "conv":
            argnum = (0, 1) if wrt == "x,W" else 1
            fwd = lambda: conv2d(x, w)
            fb = lambda: make_vjp(conv2d, argnum)(x, w)[0](g)
        else:
            fwd = lambda: maxpool2d(x)
            fb = lambda: make_vjp(maxpool2d)(x)[0](g)
        out.append({"fwd": median_ms(fwd, repeat), "fb": median_ms(fb, repeat)})
    return out


def run_torch(repeat):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(THREADS)
    nchw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(3, 2, 0, 1)))
    out = []
    for i, (_, kind, xs, ws, wrt) in enumerate(CASES):
        x, w, g = make_data(kind, xs, ws, i)
        xt, gt = nchw(x).requires_grad_(wrt != "W"), nchw(g)
        if kind == "conv":
            wt = nchw(w).requires_grad_(True)
            op = lambda: F.conv2d(xt, wt)
        else:
            op = lambda: F.max_pool2d(xt, 2, 2)

        def fwd():
            with torch.no_grad():
                op()

        def fb():
            xt.grad = None
            if kind == "conv":
                wt.grad = None
            op().backward(gt)

        out.append({"fwd": median_ms(fwd, repeat), "fb": median_ms(fb, repeat)})
    return out


def check_same_results():
    """Guard: the two sides compute the same thing (outputs and gradients agree)."""
    import torch
    import torch.nn.functional as F
    from autograd import make_vjp

    from dlteach._spatial import conv2d, maxpool2d

    nchw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(3, 2, 0, 1)))
    for i, (name, kind, xs, ws, _) in enumerate(CASES):
        x, w, g = make_data(kind, xs, ws, i)
        xt = nchw(x).requires_grad_(True)
        if kind == "conv":
            wt = nchw(w).requires_grad_(True)
            vjp, y = make_vjp(conv2d, (0, 1))(x, w)
            grads = vjp(g)
            yt = F.conv2d(xt, wt)
            yt.backward(nchw(g))
            refs = (yt, xt.grad, wt.grad)
        else:
            vjp, y = make_vjp(maxpool2d)(x)
            grads = (vjp(g),)
            yt = F.max_pool2d(xt, 2, 2)
            yt.backward(nchw(g))
            refs = (yt, xt.grad)
        for ours, ref in zip((y,) + tuple(grads), refs):
            ref = ref.detach().numpy().transpose(2, 3, 1, 0)
            if not np.allclose(ours, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max())):
                raise SystemExit(f"MISMATCH in {name}: the benchmark would compare different computations")


def main():
    if args.side == "ours":
        print(json.dumps(run_ours(args.repeat)))
        return
    if args.side == "torch":
        print(json.dumps(run_torch(args.repeat)))
        return
    results = {}
    for side in ("ours", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--side", side, "--repeat", str(args.repeat),
               "--threads", str(THREADS)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            if side == "torch" and "No module named 'torch'" in proc.stderr:
                results[side] = None
                continue
            raise SystemExit(proc.stderr)
        results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    if results["torch"] is not None:
        check_same_results()
    import numpy

    print(f"threads: {THREADS} (NumPy's OpenBLAS and torch.set_num_threads; each side in its own process); "
          f"numpy {numpy.__version__}")
    print(f"times in ms, best of {args.repeat} runs; fb = forward + backward (VJP w.r.t. 'grads'); "
          "ratio = ours / torch")
    hdr = (f"{'case':32s} {'grads':5s} {'ours fwd':>9s} {'torch fwd':>9s} {'ratio':>6s} "
           f"{'ours fb':>9s} {'torch fb':>9s} {'ratio':>6s}")
    print(hdr)
    print("-" * len(hdr))
    nan = {"fwd": float("nan"), "fb": float("nan")}
    for i, (name, _, _, _, wrt) in enumerate(CASES):
        o = results["ours"][i]
        t = results["torch"][i] if results["torch"] is not None else nan
        print(f"{name:32s} {wrt:5s} {o['fwd']:9.2f} {t['fwd']:9.2f} {o['fwd'] / t['fwd']:6.2f} "
              f"{o['fb']:9.2f} {t['fb']:9.2f} {o['fb'] / t['fb']:6.2f}")


if __name__ == "__main__":
    main()
