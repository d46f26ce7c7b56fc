"""Debugging helpers for custom training loops: gradient check, activation and gradient inspectors, diagnosis.

No MATLAB counterpart (MATLAB users compare ``dlgradient`` with finite differences by hand), hence the
snake_case names::

    from dlteach.debug import gradient_check, inspect_activations, gradient_norms, GradientNormTracker, diagnose

    report = gradient_check(modelLoss, net, X, T)        # analytical (dlgradient) vs central differences
    report                                                # one row per learnable, verdict line
    acts = inspect_activations(net, X)                    # per-layer stats, dead ReLUs, histograms
    tracker = GradientNormTracker(); tracker.record(iteration, gradients)   # inside the loop
    diagnose(losses=monitor, gradients=gradients, Y=Y, grad_norms=tracker)  # flags with causes and fixes

matplotlib and ipywidgets are imported only inside the functions that draw.
"""

from __future__ import annotations

import html
import time
import warnings

import numpy as np

from . import _jupyter, tree
from .autodiff import dlfeval
from .dlarray import dlarray
from .errors import DebugError, GradientCheckWarning  # defined with the other teaching errors
from .formats import fmt_of, size_text, value_of, wrap_like
from .network import dlnetwork, forward, unwatched

__all__ = [
    "gradient_check", "GradientCheckReport", "inspect_activations", "ActivationReport",
    "gradient_norms", "GradientNormTracker", "diagnose", "Diagnosis",
    "DebugError", "GradientCheckWarning",
]


# --------------------------------------------------------------------------------------------- naming


def _named_leaves(obj):
    """[(name, leaf, kind)] in tree order (:func:`dlteach.tree.flatten`); kind "L" learnable, "S" network state.

    Names: MATLAB's struct-field spelling of the keys, ``fc1.Weights`` (dicts, lists: ``layers.0``), and
    ``fc/Weights`` for a table or network row.
    """
    leaves, treedef = tree.flatten(obj)
    n_learn = len(obj.Learnables) if isinstance(obj, dlnetwork) else len(leaves)
    return [(".".join(map(str, k)) or "value", v, "L" if i < n_learn else "S")
            for i, (k, v) in enumerate(zip(treedef.keys(), leaves))]


def _data(v):
    """Plain ndarray of a leaf (dlarray, ndarray, number), or None if it is not numeric."""
    if v is None or isinstance(v, (str, bytes)):
        return None
    raw = value_of(v)
    if isinstance(raw, (bool, np.bool_)):
        return None
    try:
        return np.asarray(raw)
    except Exception:
        return None


def _is_float(v):
    d = _data(v)
    return d is not None and d.dtype.kind == "f"


def _to64(leaf):
    if type(leaf) is dlarray:
        d = value_of(leaf)
        if getattr(d, "dtype", None) is not None and d.dtype.kind == "f":
            return wrap_like(np.array(d, dtype=np.float64), leaf)
        return leaf
    if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f":
        return leaf.astype(np.float64)
    if isinstance(leaf, np.floating):
        return np.float64(leaf)
    return leaf


def _scalar(v, what):
    d = _data(v)
    if d is None or d.size != 1:
        raise DebugError(
            f"{what} must be a scalar loss, got {type(v).__name__}"
            f"{'' if d is None else ' of size ' + size_text(d.shape)}. lossFcn must return the loss "
            "first: return loss, gradients (MATLAB [loss,gradients] = dlfeval(@modelLoss,...))."
        )
    return d.reshape(()).item(), d.dtype


# --------------------------------------------------------------------------------------------- gradient check


class GradientCheckReport:
    """Result of :func:`gradient_check`: ``rows`` (one dict per learnable), ``passed``, ``failed``.

    Row keys: ``name``, ``Layer``, ``Parameter`` (networks; None for dicts), ``max_rel_error``,
    ``max_abs_error``, ``entries_checked``, ``passed``, ``note``, and for checked rows ``indices`` (flat,
    C order), ``analytical``, ``numerical`` (the compared values). ``report["fc1.Weights"]`` is that row.
    """

    def __init__(self, rows, notes, tolerance, epsilon, network):
        self.rows = rows
        self.notes = notes
        self.tolerance = tolerance
        self.epsilon = epsilon
        self._network = network

    @property
    def passed(self) -> bool:
        """True when every row passed."""
        return bool(self.rows) and all(r["passed"] for r in self.rows)

    @property
    def failed(self) -> list:
        """Names of the learnables whose gradient is wrong."""
        return [r["name"] for r in self.rows if not r["passed"]]

    def __getitem__(self, name):
        for r in self.rows:
            if r["name"] == name:
                return r
        raise KeyError(f"No learnable {name!r} in this report; rows: {[r['name'] for r in self.rows]}.")

    def __bool__(self):
        return self.passed

    def verdict(self) -> str:
        """One line: PASSED, or which gradients are wrong and what to check."""
        if self.passed:
            return (f"PASSED: dlgradient agrees with central differences for all {len(self.rows)} learnables "
                    f"(relative error < {self.tolerance:g}).")
        if not self.rows:
            return "FAILED: nothing was checked (no floating learnables with a gradient)."
        names = ", ".join(self.failed)
        return (f"FAILED: the gradient of {names} is wrong. Did you differentiate the right variable "
                "(dlgradient(loss, net.Learnables) / dlgradient(loss, parameters) with the loss you return)? Did a "
                "non-differentiable NumPy call or extractdata / float(...) cut the trace between these learnables "
                "and the loss? Did you return the gradients of another variable, or change them by hand?")

    def _cells(self, r):
        err = lambda x: "-" if x is None or not np.isfinite(x) else f"{x:.2e}"  # noqa: E731
        return [r["name"], err(r["max_rel_error"]), err(r["max_abs_error"]), str(r["entries_checked"]),
                "yes" if r["passed"] else "NO", r["note"] or ""]

    _HEAD = ["learnable", "max rel error", "max abs error", "checked", "passed", "note"]

    def __str__(self):
        cells = [self._HEAD] + [self._cells(r) for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(self._HEAD))]
        lines = [f"Gradient check (float64, central differences, epsilon={self.epsilon:g}, "
                 f"tolerance={self.tolerance:g})", ""]
        for k, c in enumerate(cells):
            lines.append("  " + "  ".join(x.ljust(w) for x, w in zip(c, widths)).rstrip())
            if k == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines.append("")
        lines.extend(f"Note: {n}" for n in self.notes)
        lines.append(self.verdict())
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        esc = html.escape
        head = "".join(f"<th>{esc(h)}</th>" for h in self._HEAD)
        body = []
        for r in self.rows:
            style = "" if r["passed"] else " style='background:#fdd'"
            body.append(f"<tr{style}>" + "".join(f"<td>{esc(c)}</td>" for c in self._cells(r)) + "</tr>")
        notes = "".join(f"<p><i>Note:</i> {esc(n)}</p>" for n in self.notes)
        color = "green" if self.passed else "#b00"
        return (f"<div><b>Gradient check</b> (float64, central differences, &epsilon;={self.epsilon:g}, "
                f"tolerance={self.tolerance:g})<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
                f"</tbody></table>{notes}<p style='color:{color}'><b>{esc(self.verdict())}</b></p></div>")


def _has_dropout(model):
    if isinstance(model, dlnetwork):
        return [lay.Name for lay in model.Layers if lay.Type == "Dropout"]
    return []


def gradient_check(lossFcn, model, *args, num_checks=10, epsilon=1e-6, tolerance=1e-6, seed=0, **kwargs):
    """Compare ``dlgradient``'s gradients with central differences, per learnable.

    ``lossFcn(model, *args, **kwargs)`` returns ``(loss, gradients, ...)``; ``model`` is a ``dlnetwork``
    (gradients: a Table like ``net.Learnables``) or a nested dict/list of learnables (gradients: same
    structure). Everything floating is cast to float64 (the model and the arguments are not changed).
    For ``num_checks`` random entries of every learnable (all if fewer)::

        n = (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)        a = gradient entry i
        relative error = |a - n| / max(|a| + |n|, 1e-12)

    An entry passes when relative error < ``tolerance`` or |a - n| < 1e-9; a learnable passes when all
    its checked entries pass. Randomness in the loss (dropout, random noise) makes the result meaningless:
    a :class:`GradientCheckWarning` says so. Returns a :class:`GradientCheckReport`.
    """
    if not callable(lossFcn):
        raise DebugError("gradient_check(lossFcn, model, X, T): the first argument must be your model loss "
                         f"function (e.g. modelLoss), not {type(lossFcn).__name__}.")
    num_checks = int(num_checks)
    if num_checks < 1:
        raise DebugError(f"num_checks must be at least 1, got {num_checks}.")
    dropout = _has_dropout(model)
    if dropout:
        warnings.warn(GradientCheckWarning(
            f"The network has dropout layer(s) {dropout}: forward drops different units on every call, so the "
            "numerical gradient is meaningless. Check a copy of the network without dropout layers."), stacklevel=2)

    model64 = tree.tree_map(_to64, model)
    if isinstance(model64, dlnetwork):  # keep the learner's network free of side effects (forward counter)
        model64 = unwatched(model64)
    args64 = tree.tree_map(_to64, args)
    kwargs64 = tree.tree_map(_to64, kwargs)

    def evaluate(m):
        out = dlfeval(lossFcn, m, *args64, **kwargs64)
        return out

    out = evaluate(model64)
    if not isinstance(out, tuple) or len(out) < 2:
        raise DebugError(
            "gradient_check needs lossFcn to return (loss, gradients, ...), like a model loss function for "
            f"dlfeval; it returned {type(out).__name__}. End your function with: return loss, gradients")
    loss0, ldtype = _scalar(out[0], "The first output of lossFcn")
    notes = []
    if ldtype != np.float64:
        notes.append(f"the loss was computed in {ldtype} although every input was float64: something inside lossFcn "
                     "creates float32 arrays (float32 wins over float64), so the check is imprecise.")
        warnings.warn(GradientCheckWarning(notes[-1]), stacklevel=2)
    again, _ = _scalar(evaluate(model64)[0], "The first output of lossFcn")
    if again != loss0:
        notes.append(f"lossFcn gave two different losses for the same inputs ({loss0!r} and {again!r}): it is random "
                     "(dropout, noise), so the numerical gradient is meaningless.")
        warnings.warn(GradientCheckWarning(notes[-1]), stacklevel=2)

    grads = out[1]
    leaves, treedef = tree.flatten(model64)
    rebuild = treedef.unflatten
    named = _named_leaves(model64)
    if len(named) != len(leaves):  # pragma: no cover - containers the walker does not know
        raise DebugError("gradient_check could not name the learnables of this model; use a dlnetwork or a "
                         "nested dict / list of arrays.")
    index = {name: i for i, (name, leaf, kind) in enumerate(named) if kind == "L" and _is_float(leaf)}
    gnamed = [(n, g) for n, g, _k in _named_leaves(grads) if g is not None]
    network = isinstance(model, dlnetwork)
    rng = np.random.default_rng(seed)
    rows = []
    seen = set()
    for name, g in gnamed:
        seen.add(name)
        layer, param = (name.split("/", 1) if network and "/" in name else (None, None))
        row = dict(name=name, Layer=layer, Parameter=param, max_rel_error=np.nan, max_abs_error=np.nan,
                   entries_checked=0, passed=False, note="")
        rows.append(row)
        if name not in index:
            row["note"] = "no learnable of this name in the model"
            continue
        i = index[name]
        leaf = leaves[i]
        theta = _data(leaf).astype(np.float64)
        a_all = _data(g)
        if a_all is None or a_all.shape != theta.shape:
            row["note"] = (f"gradient has size {None if a_all is None else a_all.shape}, "
                           f"learnable {theta.shape}")
            continue
        a_all = a_all.astype(np.float64)
        n = theta.size
        picks = np.arange(n) if n <= num_checks else np.sort(rng.choice(n, size=num_checks, replace=False))
        rel, ab, ok, nums = [], [], [], []
        for k in picks:
            vals = []
            for sign in (1.0, -1.0):
                t = theta.copy()
                t.flat[k] += sign * epsilon
                new_leaf = wrap_like(t, leaf) if type(leaf) is dlarray else (
                    t if isinstance(leaf, np.ndarray) else type(leaf)(t.reshape(())))
                new = list(leaves)
                new[i] = new_leaf
                vals.append(_scalar(evaluate(rebuild(new))[0], "The first output of lossFcn")[0])
            num = (vals[0] - vals[1]) / (2.0 * epsilon)
            nums.append(num)
            a = float(a_all.flat[k])
            e = abs(a - num)
            r = e / max(abs(a) + abs(num), 1e-12)
            rel.append(r)
            ab.append(e)
            ok.append(r < tolerance or e < 1e-9)
        row.update(max_rel_error=float(max(rel)), max_abs_error=float(max(ab)), entries_checked=len(picks),
                   passed=bool(all(ok)), indices=picks, analytical=a_all.ravel()[picks],
                   numerical=np.asarray(nums))
        if row["passed"] and row["max_rel_error"] >= tolerance:
            row["note"] = "gradient ~ 0 here: compared by absolute error (< 1e-9)"
        if not row["passed"]:
            if not np.any(a_all):
                row["note"] = "gradient is all zero: the loss does not depend on it through traced operations"
            else:
                row["note"] = "analytical and numerical gradients differ"
    missing = [n for n in index if n not in seen]
    if missing:
        notes.append(f"not checked (lossFcn returned no gradient for them): {', '.join(missing)}.")
    return GradientCheckReport(rows, notes, tolerance, epsilon, network)


# --------------------------------------------------------------------------------------------- activations


def _batch_axis(v, data):
    fmt = fmt_of(v)
    if "B" in fmt:
        return fmt.index("B")
    return data.ndim - 1 if data.ndim > 1 else None


def _stats(v, relu_like, bins):
    d = _data(v).astype(np.float64)
    b = _batch_axis(v, d)
    counts, edges = np.histogram(d[np.isfinite(d)], bins=bins) if np.isfinite(d).any() else (
        np.zeros(bins, int), np.linspace(0, 1, bins + 1))
    zero = d == 0
    if b is None:
        dead = float(np.mean(zero)) if d.size else 0.0
    else:
        dead = float(np.mean(np.all(zero, axis=b))) if d.size else 0.0
    s = dict(size=tuple(d.shape), mean=float(np.mean(d)), std=float(np.std(d)), min=float(np.min(d)),
             max=float(np.max(d)), hist_counts=counts, hist_edges=edges,
             zero_fraction=float(np.mean(zero)) if relu_like else None,
             dead_fraction=dead if relu_like else None)
    return s, dead


class ActivationReport:
    """Result of :func:`inspect_activations`: ``stats`` (layer -> dict), ``dead_fraction``, ``plot``, ``show``.

    ``stats[layer]`` keys: ``size``, ``mean``, ``std``, ``min``, ``max``, ``hist_counts``, ``hist_edges``,
    ``zero_fraction`` and ``dead_fraction`` (ReLU-like layers only, else None).
    """

    def __init__(self, stats, dead):
        self.stats = stats
        self._dead = dead

    @property
    def layers(self):
        return list(self.stats)

    def dead_fraction(self, layer) -> float:
        """Fraction of units that are 0 for every observation of the batch ("dead ReLUs")."""
        if layer not in self._dead:
            raise KeyError(f"No activation {layer!r}; available: {', '.join(self.stats)}.")
        return self._dead[layer]

    def __str__(self):
        lines = ["Activations (mean, std, min, max; dead = units zero for every observation)"]
        w = max([len(n) for n in self.stats] + [5])
        for n, s in self.stats.items():
            size = size_text(tuple(s["size"]))
            dead = "" if s["dead_fraction"] is None else f"  dead {100 * s['dead_fraction']:.1f}%" \
                f"  zeros {100 * s['zero_fraction']:.1f}%"
            lines.append(f"  {n.ljust(w)}  {size:>14}  mean {s['mean']:+.3g}  std {s['std']:.3g}  "
                         f"min {s['min'] + 0.0:+.3g}  max {s['max'] + 0.0:+.3g}{dead}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        rows = []
        for n, s in self.stats.items():
            dead = "" if s["dead_fraction"] is None else f"{100 * s['dead_fraction']:.1f}%"
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
                n, size_text(tuple(s["size"])), f"{s['mean']:.3g}", f"{s['std']:.3g}", f"{s['min']:.3g}",
                f"{s['max']:.3g}", dead)) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("layer", "size", "mean", "std", "min", "max", "dead ReLUs"))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def _draw(self, ax, name):
        s = self.stats[name]
        e = s["hist_edges"]
        ax.bar(e[:-1], s["hist_counts"], width=np.diff(e), align="edge", color="C0")
        title = name
        if s["dead_fraction"] is not None:
            title += f" (dead {100 * s['dead_fraction']:.0f}%)"
        ax.set_title(title, fontsize="small")
        ax.set_xlabel("activation value", fontsize="small")
        ax.set_ylabel("count", fontsize="small")

    def plot(self, layers=None):
        """Static matplotlib Figure: one labelled histogram per layer."""
        names = list(self.stats) if layers is None else [layers] if isinstance(layers, str) else list(layers)
        n = max(1, len(names))
        ncols = min(3, n)
        nrows = -(-n // ncols)
        fig = _new_figure(3.4 * ncols, 2.6 * nrows)
        for i, name in enumerate(names):
            self._draw(fig.add_subplot(nrows, ncols, i + 1), name)
        fig.tight_layout()
        return fig

    def widget(self):
        """ipywidgets UI: dropdown of layers + histogram image (what :meth:`show` displays)."""
        import ipywidgets as W

        names = list(self.stats)
        dd = W.Dropdown(options=names, value=names[0] if names else None, description="Layer")
        img = W.Image(format="png")
        text = W.HTML()

        def render(_change=None):
            name = dd.value
            if name is None:
                return
            fig = _new_figure(5.0, 3.0)
            self._draw(fig.add_subplot(1, 1, 1), name)
            fig.tight_layout()
            img.value = _png(fig)
            s = self.stats[name]
            text.value = (f"size {size_text(tuple(s['size']))}, mean {s['mean']:.3g}, std {s['std']:.3g}, "
                          f"min {s['min']:.3g}, max {s['max']:.3g}" +
                          ("" if s["dead_fraction"] is None else
                           f", dead ReLUs {100 * s['dead_fraction']:.1f}%, zeros {100 * s['zero_fraction']:.1f}%"))

        dd.observe(render, names="value")
        render()
        return W.VBox([dd, text, img])

    def show(self):
        """Display the widget in Jupyter (returns it); without IPython returns the static :meth:`plot`."""
        display = _jupyter.LiveDisplay()
        if display.shell is None:
            return self.plot()
        display.show_live(self.widget())
        return None


def inspect_activations(net, X=None, layers=None, bins=30):
    """Per-layer activation statistics, histograms and dead-ReLU fractions.

    ``inspect_activations(net, X)`` runs ``forward(net, X, Outputs=[...every layer...])`` (training mode,
    like the loss function) or only the named ``layers``. Model-function style:
    ``inspect_activations({"relu1": H1, "fc2": Z})`` with the arrays your model computed.
    dead fraction = mean over units of [unit is 0 for every observation]; zeros = mean of [value == 0].
    """
    if isinstance(net, dlnetwork):
        if X is None:
            raise DebugError("inspect_activations(net, X): give a mini-batch X to run the network on.")
        all_layers = net.Layers
        names = [lay.Name for lay in all_layers] if layers is None else (
            [layers] if isinstance(layers, str) else list(layers))
        outs = forward(unwatched(net), X, Outputs=names)  # not counted for predict's forgotten-state warning
        outs = outs if isinstance(outs, tuple) else (outs,)
        acts = dict(zip(names, outs))
        relu_like = {}
        after_relu = False
        for lay in all_layers:
            if lay.rectifies:
                after_relu = True
            elif not lay.passes_zeros:
                after_relu = False
            relu_like[lay.Name] = after_relu
    elif isinstance(net, dict):
        acts = dict(net) if layers is None else {k: net[k] for k in ([layers] if isinstance(layers, str) else layers)}
        relu_like = {}
        for k, v in acts.items():
            d = _data(v)
            relu_like[k] = "relu" in str(k).lower() or bool(d is not None and d.size and d.min() >= 0 and
                                                             np.any(d == 0))
    else:
        raise DebugError("inspect_activations(net, X) takes a dlnetwork and a mini-batch, or a dict "
                         "{name: activation} of arrays your model function computed; got "
                         f"{type(net).__name__}.")
    stats, dead = {}, {}
    for name, v in acts.items():
        if _data(v) is None:
            raise DebugError(f"Activation {name!r} is not an array ({type(v).__name__}).")
        stats[name], dead[name] = _stats(v, relu_like[name], bins)
    return ActivationReport(stats, dead)


# --------------------------------------------------------------------------------------------- gradient norms


def gradient_norms(gradients) -> dict:
    """L2 norm ||g||_2 = sqrt(sum g^2) of each gradient: keys "layer/Parameter" (Tables) or dotted paths (dicts)."""
    out = {}
    for name, g, kind in _named_leaves(gradients):
        if kind != "L":
            continue
        d = _data(g)
        if d is None or d.dtype.kind not in "fc":
            continue
        out[name] = float(np.linalg.norm(d.astype(np.float64).ravel()))
    return out


def _new_figure(w, h):
    return _jupyter.new_figure(w, h)


_png = _jupyter.figure_png


class GradientNormTracker:
    """Gradient norm of every learnable over iterations: ``record``, ``history``, ``plot``, ``show``.

    ``tracker.record(iteration, gradients)`` inside the loop; ``history[name]`` is an N x 2 array of
    [iteration, ||g||_2]. ``show()`` before the loop displays a live plot in JupyterLab (redrawn at most
    every ``redraw_interval`` s and never more often than 20 x the last draw time); without a live front
    end it leaves a static figure after the cell (in a plain script it returns the figure).
    """

    def __init__(self, redraw_interval=0.5):
        self._it = []
        self._names = []
        self._vals = {}
        self.redraw_interval = float(redraw_interval)
        self._img = None
        self._display = None
        self._last_draw = -np.inf
        self._draw_cost = 0.0

    def record(self, iteration, gradients):
        """Append the norms of ``gradients`` (Table or dict) at ``iteration``; returns them."""
        norms = gradient_norms(gradients)
        k = len(self._it)
        self._it.append(float(iteration))
        for name, v in norms.items():
            if name not in self._vals:
                self._names.append(name)
                self._vals[name] = [None] * k
            self._vals[name].append(v)
        for name in self._names:
            if len(self._vals[name]) < k + 1:
                self._vals[name].append(None)  # no gradient for this learnable at this iteration
        if self._img is not None:
            now = time.perf_counter()
            if now - self._last_draw >= max(self.redraw_interval, 20 * self._draw_cost):
                t0 = time.perf_counter()
                self._img.value = _png(self.plot())
                self._draw_cost = time.perf_counter() - t0
                self._last_draw = time.perf_counter()
        return norms

    @property
    def history(self) -> dict:
        """name -> N x 2 float64 array of [iteration, norm] (NaN where a learnable had no gradient)."""
        it = np.asarray(self._it, dtype=np.float64)
        return {n: np.column_stack([it, self._values(n)]).reshape(-1, 2) for n in self._names}

    def _values(self, name, recorded_only=False):
        v = self._vals[name]
        if recorded_only:
            return np.asarray([x for x in v if x is not None], dtype=np.float64)
        return np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)

    def plot(self):
        """Static Figure: one line per learnable, log y axis."""
        fig = _new_figure(6.4, 3.4)
        ax = fig.add_subplot(1, 1, 1)
        for n in self._names:
            v = self._values(n)
            ax.plot(self._it, np.where(v > 0, v, np.nan), label=n, linewidth=1.2)
        ax.set_yscale("log")
        ax.set_xlabel("Iteration")
        ax.set_ylabel("gradient norm ||g||_2")
        ax.grid(True, alpha=0.3)
        if self._names:
            ax.legend(fontsize="x-small", loc="best", ncol=2 if len(self._names) > 6 else 1)
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.95)
        return fig

    def widget(self):
        """The live ipywidgets Image that :meth:`show` displays (updated by :meth:`record`)."""
        import ipywidgets as W

        self._img = W.Image(format="png", value=_png(self.plot()))
        self._last_draw = time.perf_counter()
        return self._img

    def show(self):
        """Live plot in JupyterLab; a static figure after the cell otherwise (a Figure in a script)."""
        display = _jupyter.LiveDisplay()
        if display.shell is None:
            return self.plot()
        self._display = display
        if _jupyter.detect_frontend() == "widget":
            display.show_live(self.widget())
        display.after_cell(self._post_run_cell)
        return None

    def _post_run_cell(self):
        if not self._it:
            return  # nothing recorded yet: wait for the cell with the loop
        fig = self.plot()
        self._display.show_static(_png(fig), _jupyter.figure_text(fig))
        if self._img is not None:
            self._img.close()
            self._img = None
        self._display.stop_after_cell()


# --------------------------------------------------------------------------------------------- diagnose


class Diagnosis:
    """Result of :func:`diagnose`: ``findings`` (list of (code, message)), ``ok``, ``codes``, ``checked``."""

    def __init__(self, findings, checked):
        self.findings = findings
        self.checked = checked

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def codes(self) -> list:
        return [c for c, _ in self.findings]

    def __contains__(self, code):
        return code in self.codes

    def __str__(self):
        what = ", ".join(self.checked) or "nothing (give losses=, gradients=, Y= or grad_norms=)"
        if self.ok:
            return f"Diagnosis: no problem found (checked {what})."
        lines = [f"Diagnosis: {len(self.findings)} problem(s) (checked {what})"]
        lines.extend(f"  [{c}] {m}" for c, m in self.findings)
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        what = html.escape(", ".join(self.checked) or "nothing")
        if self.ok:
            return f"<p style='color:green'><b>Diagnosis: no problem found</b> (checked {what}).</p>"
        items = "".join(f"<li><code>{html.escape(c)}</code>: {html.escape(m)}</li>" for c, m in self.findings)
        return f"<div><b style='color:#b00'>Diagnosis: {len(self.findings)} problem(s)</b> (checked {what})<ul>{items}</ul></div>"


def _loss_values(losses):
    from .monitor import trainingProgressMonitor

    if isinstance(losses, trainingProgressMonitor):
        data = losses.MetricData
        if "Loss" not in data:
            raise DebugError(f"diagnose(losses=monitor): the monitor has no metric 'Loss' (it has "
                             f"{list(data)}); pass the losses yourself: losses=monitor.MetricData[name][:, 1].")
        return data["Loss"][:, 1]
    if type(losses) is dlarray or isinstance(losses, np.ndarray):
        d = _data(losses).astype(np.float64)
        return d[:, 1] if d.ndim == 2 and d.shape[1] == 2 else d.ravel()
    vals = []
    for v in losses:
        d = _data(v)
        if d is None or d.size != 1:
            raise DebugError("diagnose(losses=...): give a list of scalar losses (one per iteration) or the monitor.")
        vals.append(float(d.reshape(())))
    return np.asarray(vals, dtype=np.float64)


def _quarters(v):
    q = max(1, len(v) // 4)
    return v[:q], v[-q:]


_BIAS_BEFORE_BATCHNORM = ("(A bias followed by batch normalization has zero gradient by design: batch "
                          "normalization subtracts it again with the mean.)")


def diagnose(losses=None, gradients=None, Y=None, grad_norms=None) -> Diagnosis:
    """Flag common training problems, each with the likely cause and the fix.

    Codes: ``nan_loss`` (a loss is NaN/Inf), ``loss_rising`` (the loss, averaged over a tenth of the
    run and at least 2 values, rises above 1.5 x the first loss: learning rate too large),
    ``exploding_gradients`` (a norm > 1e3, non-finite, or the last quarter's median norm > 10 x the
    first quarter's), ``vanishing_gradients`` (a learnable's norm
    < 1e-7: now, or throughout the last quarter), ``loss_not_falling`` (mean of the last quarter of the
    losses not below the first quarter's mean by more than 1 %), ``probabilities_do_not_sum_to_one``
    (Y over C does not sum to 1 or has negatives). ``losses``: numbers or the monitor (its "Loss");
    ``gradients``: Table/dict; ``Y``: C x B; ``grad_norms``: a :class:`GradientNormTracker`.
    """
    findings, checked = [], []

    def add(code, msg):
        if code not in [c for c, _ in findings]:
            findings.append((code, msg))

    if losses is not None:
        v = _loss_values(losses)
        checked.append(f"{len(v)} losses")
        bad = ~np.isfinite(v)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            add("nan_loss", f"the loss is NaN or Inf (first at entry {first}). Likely causes: a learning rate so "
                "high that the parameters blow up (lower it 10x), log of 0 in a hand-written cross-entropy (use "
                "crossentropy, or add a small epsilon), division by zero, or NaN/Inf in the data.")
        elif len(v) >= 4:
            w = max(2, len(v) // 10)  # smooth mini-batch noise before comparing with the start
            smooth = np.convolve(v, np.ones(w) / w, mode="valid")
            peak = int(np.argmax(smooth))
            if v[0] > 0 and smooth[peak] > 1.5 * v[0]:  # v[0]: the loss before the first update
                add("loss_rising", f"the loss rose to {smooth[peak] / v[0]:.2g} x its first value (around "
                    f"entry {peak + w - 1}). A loss must not rise above its first value: the steps overshoot the "
                    "minimum, so the learning rate is probably too large (try 10 x smaller); check also that the "
                    "update subtracts the gradient (descent, not ascent).")
            a, b = _quarters(v)
            if not np.mean(b) < np.mean(a) - 0.01 * abs(np.mean(a)):
                add("loss_not_falling", f"the loss does not fall: mean of the last quarter {np.mean(b):.4g} vs "
                    f"first quarter {np.mean(a):.4g}. Likely causes: learning rate too small (or so large that it "
                    "oscillates), the updated parameters are not stored back (net = adamupdate(...) / "
                    "parameters = ...), gradients of the wrong variable, or too few iterations.")
    norms_now = None
    if gradients is not None:
        norms_now = gradient_norms(gradients)
        checked.append(f"gradients of {len(norms_now)} learnables")
        big = [n for n, x in norms_now.items() if not np.isfinite(x) or x > 1e3]
        if big:
            add("exploding_gradients", f"exploding gradients: the norm of {', '.join(big)} is > 1e3 or not finite. "
                "Lower the learning rate, normalize the inputs, use a better initialization or batch normalization, "
                "or clip the gradients.")
        small = [n for n, x in norms_now.items() if x < 1e-7]
        if small:
            add("vanishing_gradients", f"vanishing gradients: the gradient of {', '.join(small)} is (almost) zero "
                "(norm < 1e-7). Likely causes: dlgradient of the wrong variable or a loss that does not depend on "
                "them (extractdata / float(...) cut the trace), dead ReLUs (check inspect_activations; lower the "
                "learning rate, use He initialization or leakyrelu), or saturated sigmoid/tanh units. "
                + _BIAS_BEFORE_BATCHNORM)
    if grad_norms is not None:
        if not isinstance(grad_norms, GradientNormTracker):
            raise DebugError("diagnose(grad_norms=...) expects a GradientNormTracker (tracker.record(iteration, "
                             f"gradients) in the loop); got {type(grad_norms).__name__}. Pass one gradient "
                             "Table/dict as gradients= instead.")
        hist = grad_norms.history
        checked.append(f"gradient-norm history of {len(hist)} learnables")
        big, grow, small = [], [], []
        for n in hist:
            x = grad_norms._values(n, recorded_only=True)
            if not len(x):
                continue
            if (~np.isfinite(x)).any() or np.max(x) > 1e3:
                big.append(n)
                continue
            a, b = _quarters(x)
            if len(x) >= 4 and np.median(a) > 0 and np.median(b) > 10 * np.median(a):
                grow.append(n)
            if np.max(b) < 1e-7:
                small.append(n)
        if big or grow:
            what = []
            if big:
                what.append(f"the norm of {', '.join(big)} exceeded 1e3 (or was not finite)")
            if grow:
                what.append(f"the norm of {', '.join(grow)} grew more than 10x")
            add("exploding_gradients", f"exploding gradients: {'; '.join(what)}. Lower the learning rate, "
                "normalize the inputs, use batch normalization or clip the gradients.")
        if small:
            add("vanishing_gradients", f"vanishing gradients: the gradient norm of {', '.join(small)} stayed below "
                "1e-7 in the last quarter of the iterations. Likely causes: the wrong variable differentiated or "
                "a cut trace (extractdata), dead ReLUs (inspect_activations), saturated sigmoid/tanh units. "
                + _BIAS_BEFORE_BATCHNORM)
    if Y is not None:
        d = _data(Y)
        if d is None:
            raise DebugError(f"diagnose(Y=...) expects the network output (C x B), got {type(Y).__name__}.")
        d = d.astype(np.float64)
        axis = fmt_of(Y).index("C") if "C" in fmt_of(Y) else 0
        checked.append("probabilities Y")
        sums = d.sum(axis=axis)
        tol = 1e-3 if _data(Y).dtype == np.float32 else 1e-6
        neg = bool((d < 0).any())
        off = float(np.max(np.abs(sums - 1))) if sums.size else 0.0
        if neg or off > tol or not np.isfinite(d).all():
            add("probabilities_do_not_sum_to_one",
                f"Y is not a probability distribution over the channels (C): column sums deviate from 1 by up to "
                f"{off:.3g}{' and there are negative entries' if neg else ''}. Likely cause: logits (the output of "
                "fullyconnect) are given where probabilities are expected: add softmax (softmaxLayer() / "
                "Y = softmax(Z)) before crossentropy.")
    return Diagnosis(findings, checked)
