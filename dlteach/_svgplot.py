"""Plain-function SVG line plots: the monitor's live frames (no matplotlib, ~1 ms a frame).

(Internal; no MATLAB counterpart.) :func:`figure` writes a grid of subplots, one per panel, each with a
frame, "nice" ticks, a grid, polylines decimated to min/max per pixel column (spikes stay visible),
axis labels and a legend. Non-finite values are skipped; values too large to place on an axis (beyond
~1e300) are skipped too, and a panel without plottable points says so instead of failing.
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["figure", "panel", "COLORS", "LARGEST"]

#: matplotlib's tab10 colours
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # matplotlib's tab10


LARGEST = 1e300  # values beyond this cannot be placed on an axis with margins (float64 overflow)


def _nice_step(span, n):
    raw = span / max(n, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw:
            return m * mag
    return 10.0 * mag  # pragma: no cover


def _limits(lo, hi, log):
    """Axis limits with 5 % margins (in log10 units on a log axis)."""
    if log:
        lo, hi = np.log10(lo), np.log10(hi)
    if not hi > lo:
        pad = abs(lo) * 0.05 if lo != 0 else 0.5
        return lo - pad, hi + pad
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def _ticks(lo, hi, log, n=5):
    """[(position in axis units, label)] inside [lo, hi]."""
    if log:
        d0, d1 = int(np.ceil(lo - 1e-9)), int(np.floor(hi + 1e-9))
        if d1 - d0 >= 1:
            stride = max(1, -(-(d1 - d0 + 1) // 6))
            return [(float(d), f"{10.0 ** d:g}") for d in range(d0, d1 + 1, stride)]
        vals = [v for v in np.arange(*_tick_range(10 ** lo, 10 ** hi, n)) if v > 0]
        return [(float(np.log10(v)), f"{v:.3g}") for v in vals]
    start, stop, step = _tick_range(lo, hi, n)
    return [(float(v), _fmt_tick(v, step)) for v in np.arange(start, stop, step)]


def _tick_range(lo, hi, n):
    step = _nice_step(hi - lo, n)
    start = np.ceil(lo / step) * step
    return start, hi + step * 1e-6, step


def _fmt_tick(v, step, digits=4):
    if abs(v) < abs(step) * 1e-6:
        v = 0.0
    return f"{v + 0.0:.{digits}g}"


def _decimate(x, y, max_points):
    """Keep the min and max of y in each of max_points/2 buckets (spikes stay visible)."""
    n = len(x)
    if n <= max_points:
        return x, y
    buckets = max_points // 2
    starts = np.linspace(0, n, buckets + 1).astype(int)[:-1]
    ends = np.append(starts[1:], n) - 1
    xs = np.column_stack([x[starts], x[ends]]).ravel()
    ys = np.column_stack([np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)]).ravel()
    return xs, ys


def panel(out, x0, y0, w, h, title, series, scale, xlabel):
    """Append one subplot (frame, grid, ticks, polylines, labels, legend) to the list ``out``.

    ``series``: [(name, x array, y array)]; ``scale``: "linear" or "log".
    """
    left, right, top, bottom = 62.0, 12.0, 10.0, 38.0
    pw, ph = w - left - right, h - top - bottom
    px0, py0 = x0 + left, y0 + top
    log = scale == "log"
    xs_all, ys_all = [], []
    for _name, x, y in series:
        keep = (np.abs(x) < LARGEST) & (np.abs(y) < LARGEST) & ((y > 0) if log else True)  # also drops NaN
        xs_all.append(x[keep])
        ys_all.append(y[keep])
    xs = np.concatenate(xs_all) if xs_all else np.zeros(0)
    ys = np.concatenate(ys_all) if ys_all else np.zeros(0)
    if xs.size:
        xlo, xhi = _limits(float(xs.min()), float(xs.max()), False)
        ylo, yhi = _limits(float(ys.min()), float(ys.max()), log)
    else:
        xlo, xhi, ylo, yhi = 0.0, 1.0, (-1.0 if log else 0.0), (0.0 if log else 1.0)
    sx = pw / (xhi - xlo)
    sy = ph / (yhi - ylo)
    out.append(f'<rect x="{px0:.1f}" y="{py0:.1f}" width="{pw:.1f}" height="{ph:.1f}" fill="white" '
               f'stroke="#444" stroke-width="0.8"/>')
    for v, lab in _ticks(xlo, xhi, False):
        X = px0 + (v - xlo) * sx
        out.append(f'<line x1="{X:.1f}" y1="{py0:.1f}" x2="{X:.1f}" y2="{py0 + ph:.1f}" stroke="#ddd"/>'
                   f'<text x="{X:.1f}" y="{py0 + ph + 14:.1f}" text-anchor="middle">{html.escape(lab)}</text>')
    for v, lab in _ticks(ylo, yhi, log):
        Y = py0 + ph - (v - ylo) * sy
        out.append(f'<line x1="{px0:.1f}" y1="{Y:.1f}" x2="{px0 + pw:.1f}" y2="{Y:.1f}" stroke="#ddd"/>'
                   f'<text x="{px0 - 4:.1f}" y="{Y + 4:.1f}" text-anchor="end">{html.escape(lab)}</text>')
    max_points = int(2 * pw)
    for k, ((_name, _x, _y), x, y) in enumerate(zip(series, xs_all, ys_all)):
        if not x.size:
            continue
        x, y = _decimate(x, y, max_points)
        X = px0 + (x - xlo) * sx
        Y = py0 + ph - ((np.log10(y) if log else y) - ylo) * sy
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X.tolist(), Y.tolist()))
        out.append(f'<polyline fill="none" stroke="{COLORS[k % len(COLORS)]}" stroke-width="1.4" '
                   f'points="{pts}"/>')
    if not xs.size and any(len(x) for _name, x, _y in series):
        out.append(f'<text x="{px0 + pw / 2:.1f}" y="{py0 + ph / 2:.1f}" text-anchor="middle" fill="#a00">'
                   'no plottable values (NaN, Inf or too large)</text>')
    out.append(f'<text x="{px0 + pw / 2:.1f}" y="{y0 + h - 6:.1f}" text-anchor="middle">'
               f'{html.escape(xlabel)}</text>')
    cx, cy = x0 + 12, py0 + ph / 2
    out.append(f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 {cx:.1f} {cy:.1f})">'
               f'{html.escape(title)}</text>')
    if len(series) > 1:
        for k, (name, _x, _y) in enumerate(series):
            ly = py0 + 12 + 13 * k
            lx = px0 + pw - 8
            out.append(f'<line x1="{lx - 118:.1f}" y1="{ly - 4:.1f}" x2="{lx - 100:.1f}" y2="{ly - 4:.1f}" '
                       f'stroke="{COLORS[k % len(COLORS)]}" stroke-width="2"/>'
                       f'<text x="{lx - 96:.1f}" y="{ly:.1f}">{html.escape(name)}</text>')


def figure(panels, xlabel, ncols_max=2, panel_size=None):
    """SVG text (bytes) of a grid of subplots; ``panels``: [(title, [(name, x, y)], scale)]."""
    n = max(1, len(panels))
    ncols = min(n, ncols_max)
    nrows = -(-n // ncols)
    pw, ph = panel_size or ((640.0 if ncols == 1 else 480.0), 260.0)
    W, H = pw * ncols, ph * nrows
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W:.0f}" height="{H:.0f}" '
           f'viewBox="0 0 {W:.0f} {H:.0f}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'
           f'<rect width="100%" height="100%" fill="white"/>']
    for i, (title, series, scale) in enumerate(panels):
        panel(out, (i % ncols) * pw, (i // ncols) * ph, pw, ph, title, series, scale, xlabel)
    out.append("</svg>")
    return "".join(out).encode()
