"""``dlaccelerate``: record a deep-learning function once per input signature, then replay the recording.

MATLAB counterpart: ``accfun = dlaccelerate(fun)`` returns an ``AcceleratedFunction``;
``[loss, gradients] = dlfeval(accfun, net, X, T)``; ``clearCache(accfun)``; the properties
``Function``, ``Enabled``, ``CacheSize``, ``HitRate``, ``Occupancy``, ``CheckMode``, ``CheckTolerance``.

How it works. The first call with a new *signature* runs ``fun`` for real, with every floating input
traced on its own trace level, and keeps what was recorded: each operation (the primitive, its constant
arguments, which arguments are earlier results) in the order it ran, and each ``dlgradient`` call (the
loss and the values asked for). That recording, compiled into a flat program, is the cache entry. A
later call with the same signature does NOT run the Python function: it runs the program - the
primitives as plain NumPy calls on the new input values, and for each recorded ``dlgradient`` the
vector-Jacobian products of the nodes between the loss and the requested values, in reverse order -
and returns outputs with the recorded structure (dicts, lists, Tables, networks, several outputs).
One fusion: a recorded crossentropy of a softmax gets the gradient hand-written backpropagation uses,
dL/dZ = scale · g · (Y·Σ_C T − T), instead of three chained VJPs (only when no probability was clamped).

The signature (MATLAB's cache key): for dlarrays and floating NumPy arrays their size, format and
dtype (not their values); for a dlnetwork its layers (the network and every network derived from it by
updates share its layers) and its learnables' and state's sizes and dtypes; for every other argument
its value (numbers, strings, None, integer and logical arrays - labels are indices, so their values
are part of the key); the structure of dicts, lists and tuples.

MATLAB's rules, which hold here too: accelerate only functions

* whose control flow does not depend on data values (``if loss > 1:``, a loop until convergence),
* that use no random numbers (dropout, noise),
* without side effects (printing, plotting, appending to a global list, reading a global that changes),

because the replay repeats the recorded operations and nothing else. What dlteach detects while it
records: a traced value turned into a Python value (an ``if`` / ``while`` on a dlarray, ``float(X)``,
``X.item()``, ``extractdata(X)``, ``onehotdecode``), dlteach's random operations (``dropout``, a
dropout layer in ``forward``), a ``dlfeval`` inside the function and
``dlgradient(..., EnableHigherDerivatives=True)``. Then the recording is not cached: a
:class:`~dlteach.errors.AccelerationWarning` explains why, and calls with that signature run the
function itself (results stay correct, just not accelerated). NOT detected: NumPy's random functions
called on plain arrays (``np.random.randn(...)`` inside the function is frozen into the recording),
``np.allclose`` / ``np.array_equal`` on traced values (they return Python bools), Python values read from
globals, prints (they happen only while recording). ``CheckMode="tolerance"`` catches such a function: every
accelerated call also runs the function and compares. After editing the function, ``clearCache``.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
from autograd.core import add_outgrads, primitive_vjps, vspace
from autograd.tracer import box_types, getval, isbox

from . import _recording
from . import autodiff as _ad
from . import primitives as _prim
from . import tree as _tree
from . import validate as _v
from .dlarray import dlarray
from .errors import AccelerationCheckError, AccelerationWarning, ArgumentError
from .formats import data_of, fmt_of, wrap
from .network import architecture_of

__all__ = ["dlaccelerate", "AcceleratedFunction", "clearCache"]

_REASONS = {
    "bool": "turned a traced value into a Python bool - an `if` or `while` on a dlarray (control flow that depends "
            "on data values)",
    "float": "turned a traced value into a Python number (float(X), int(X), X.item(), X.tolist())",
    "extractdata": "called extractdata on a traced value, so its values would be frozen into the recording",
    "onehotdecode": "called onehotdecode on traced scores (labels from the values: a data-dependent decision)",
    "random": "used random numbers (dropout, or a dropout layer in forward); a replay would repeat the same ones",
    "dlfeval": "called dlfeval inside the accelerated function",
    "higher": "called dlgradient(..., EnableHigherDerivatives=True); higher derivatives are not replayed",
    "kwargs": "passed a traced value as a keyword argument of a NumPy function",
}


def _grad_marker(*args):  # the "function" of a recorded dlgradient result (never called)
    raise AssertionError("not a real operation")


_recording.NONDIFF.add(_grad_marker)


# -------------------------------------------------------------------------------------------------
# the signature of a call

def _signature(args, kwargs):
    """``(key, leaves)``: the cache key of a call and its floating leaves (traced inputs, in tree order)."""
    parts = []
    leaves = []
    _sig(args, parts, leaves)
    if kwargs:
        parts.append(("kw", tuple(kwargs)))
        _sig(tuple(kwargs.values()), parts, leaves)
    return tuple(parts), leaves


def _array_part(v, fmt):
    if v.dtype.kind in "fc":
        return True, (fmt, v.shape, v.dtype.str)
    return False, (fmt, v.shape, v.dtype.str, v.tobytes())  # labels / masks: the values are part of the key


def _sig(x, parts, leaves):
    t = type(x)
    if t is dlarray:
        d = data_of(x)
        v = d if type(d) is np.ndarray else getval(d)
        if type(v) is np.ndarray:
            traced, part = _array_part(v, fmt_of(x))
        else:  # a numpy / Python scalar inside a dlarray
            traced, part = isinstance(v, (float, np.floating)), (fmt_of(x), type(v), v)
        parts.append(part)
        if traced or isbox(d):
            leaves.append(x)
        return
    if t is np.ndarray:
        traced, part = _array_part(x, None)
        parts.append(part)
        if traced:
            leaves.append(x)
        return
    if t is dict:
        parts.append((dict, tuple(x)))
        for v in x.values():
            _sig(v, parts, leaves)
        return
    if t is list or t is tuple:
        parts.append((t, len(x)))
        for v in x:
            _sig(v, parts, leaves)
        return
    if t in box_types:  # a value traced by an enclosing dlfeval
        v = getval(x)
        parts.append(("box", np.shape(v), getattr(v, "dtype", type(v))))
        leaves.append(x)
        return
    if t is float or isinstance(x, np.floating):  # traced by dlfeval, and a value (MATLAB keys numbers by value)
        parts.append((t, x))
        leaves.append(x)
        return
    registered = _tree.registered_children(x)
    if registered is not None:
        children, aux = registered
        if t.__name__ == "dlnetwork":
            # shared by the network and the networks derived from it (updates, State), kept alive by the key
            arch = architecture_of(x)
            parts.append((t, id(arch[0]), id(arch[1])))
            parts.append(_KeepAlive(arch))
        else:
            parts.append((t, aux))
        for c in children:
            _sig(c, parts, leaves)
        return
    if isinstance(x, (dict, list, tuple)):  # OrderedDict, namedtuple, ...
        children, _ = _tree.flatten(x)
        parts.append((t, len(x), tuple(x) if isinstance(x, dict) else None))
        for c in (x.values() if isinstance(x, dict) else x):
            _sig(c, parts, leaves)
        return
    try:
        hash(x)
    except TypeError:  # an unhashable object: by identity (kept alive by the key)
        parts.append((t, id(x)))
        parts.append(_KeepAlive(x))
        return
    parts.append((t, x))


class _KeepAlive:
    """Holds an object inside a key (so its id is not reused while the key lives); equal to any other."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _KeepAlive)

    def __hash__(self):
        return 0


# -------------------------------------------------------------------------------------------------
# recording

class _Recorder:
    """What one recording collects: the nodes in creation order, the dlgradient calls, the reasons not to cache."""

    def __init__(self, gradients_allowed):
        self.nodes = []
        self.leaks = []
        self.gradient_calls = []  # (loss node, [(result node, wanted node or None, dtype, shape, python type)])
        self.gradients_allowed = gradients_allowed
        self.trace = None

    def leak(self, reason):
        if reason not in self.leaks:
            self.leaks.append(reason)

    def gradient_call(self, loss_node, wrt, grads):
        """Called by dlgradient while recording: the gradients become recorded values (boxes of this level)."""
        results = []
        trace = self.trace
        out = []
        for w, g in zip(wrt, grads):
            wleaves, _ = _tree.flatten(w)
            gleaves, gdef = _tree.flatten(g)
            new = []
            for wl, gl in zip(wleaves, gleaves):
                raw = data_of(gl)
                if raw is None or isinstance(raw, str) or isbox(raw):
                    new.append(gl)
                    continue
                box, node = _ad.recorded_leaf(raw, trace, fun=_grad_marker)
                self.nodes.append(node)
                pytype = type(raw) if isinstance(raw, (float, np.floating)) else None
                results.append((node, _ad.node_at(data_of(wl), trace), np.asarray(raw).dtype, np.shape(raw), pytype))
                new.append(wrap(box, fmt_of(gl)) if type(gl) is dlarray else box)
            out.append(gdef.unflatten(new))
        self.gradient_calls.append((loss_node, results))
        return out


def _record(fun, args, kwargs, via_dlfeval):
    """Run ``fun`` once, recording it. Returns ``(outputs, program or None, reasons)``."""
    leaves_in, _ = _tree.flatten((args, kwargs))
    outer = any(isbox(data_of(leaf)) for leaf in leaves_in)
    rec = _Recorder(gradients_allowed=via_dlfeval or outer)
    with _ad.recording(rec) as trace:
        roots = []

        def root(value):
            box, node = _ad.recorded_leaf(value, trace, index=len(roots))
            roots.append(node)
            return box

        def box(leaf):
            if type(leaf) is dlarray:
                d = data_of(leaf)
                if isbox(d) or _ad.is_traceable(getval(d)):
                    return wrap(root(d), fmt_of(leaf))
                return leaf
            if isbox(leaf) or _ad.is_traceable(leaf):
                return root(leaf)
            return leaf

        out = fun(*_tree.tree_map(box, args), **_tree.tree_map(box, kwargs))
        program = None if rec.leaks else _Program(rec, roots, out, trace)
        if program is not None and rec.leaks:  # found while compiling
            program = None
        return _tree.tree_map(lambda leaf: _ad.untraced(leaf, trace), out), program, rec.leaks


# -------------------------------------------------------------------------------------------------
# the program: the recording, compiled

class _Program:
    """A recording turned into flat instructions over numbered slots (see the module docstring)."""

    def __init__(self, rec, roots, out, trace):
        # outputs: per leaf a slot (a recorded value, with the dlarray format or None) or a constant
        out_leaves, self.out_def = _tree.flatten(out)
        targets = []
        out_spec = []
        for leaf in out_leaves:
            raw = data_of(leaf)
            node = _ad.node_at(raw, trace) if isbox(raw) else None
            if node is None:
                out_spec.append((False, leaf, None))
            else:
                targets.append(node)
                out_spec.append((True, node, fmt_of(leaf) if type(leaf) is dlarray else None))
        grad_of = {}  # result node -> its dlgradient call
        for call in rec.gradient_calls:
            for r in call[1]:
                grad_of[r[0]] = call
        # the nodes the outputs need (a dlgradient result needs its loss and everything before it)
        needed = set()
        stack = list(targets)
        calls_needed = []
        while stack:
            node = stack.pop()
            if node in needed:
                continue
            needed.add(node)
            stack.extend(node.parents)
            call = grad_of.get(node)
            if call is not None and not any(call is c for c in calls_needed):
                calls_needed.append(call)
                stack.append(call[0])
        order = [n for n in roots if n in needed] + [n for n in rec.nodes if n in needed]
        slot = {n: i for i, n in enumerate(order)}
        self.n_slots = len(order)
        self.inputs = [(n.args[0], slot[n]) for n in roots if n in needed]
        # forward instructions, in recording order; a dlgradient call runs where its first result was recorded
        self.steps = []
        done_calls = []
        plans = {}
        for call in calls_needed:
            plans[id(call)] = self._gradient_plan(call, slot, rec)
        for n in rec.nodes:
            if n not in needed:
                continue
            if n.fun is _grad_marker:
                call = grad_of[n]
                if any(call is c for c in done_calls):
                    continue
                done_calls.append(call)
                self.steps.append((None, None, None, plans[id(call)], None))
                continue
            if not n.parents:  # a constant recorded as a node (cannot happen for primitives; be safe)
                rec.leak("kwargs")
                return
            for v in n.kwargs.values():
                if isbox(v):
                    rec.leak("kwargs")
                    return
            template = list(n.args)
            pp = []
            for a, p in zip(n.argnums, n.parents):
                template[a] = None
                pp.append((a, slot[p]))
            for a in template:
                if isinstance(a, (list, tuple)) and any(isbox(e) for e in a):
                    rec.leak("kwargs")
                    return
            raw = getattr(n.fun, "fun", n.fun)
            self.steps.append((slot[n], raw, n.fun, (tuple(template), tuple(pp)), n.kwargs or None))
        self.outputs = [(is_slot, slot[x] if is_slot else x, fmt) for is_slot, x, fmt in out_spec]

    def _gradient_plan(self, call, slot, rec):
        """The reverse pass of one recorded dlgradient call, decided once (it depends only on the graph)."""
        loss, results = call
        wanted = {r[1] for r in results if r[1] is not None}
        # the ancestors of the loss, in recording order
        anc = set()
        stack = [loss]
        while stack:
            n = stack.pop()
            if n not in anc:
                anc.add(n)
                stack.extend(n.parents)
        nondiff = _recording.NONDIFF
        useful = set()
        for n in [r for r in slot if r in anc]:  # slot is ordered: roots, then recording order
            if n in wanted:
                useful.add(n)
                continue
            if n.fun in nondiff:
                continue
            if any(p in useful for p in n.parents):
                useful.add(n)
        plan = []
        uses = {}
        for n in useful:
            for p in n.parents:
                uses[p] = uses.get(p, 0) + 1
        fused = _prim.softmax_crossentropy_chain(loss, useful, wanted, uses)
        if fused is not None:  # tried first; when it does not apply, the generic steps below run
            e, y, z = fused
            plan.append((slot[loss], False, True, None, (slot[z],), (slot[e], slot[y])))
        for n in reversed([r for r in slot if r in useful]):
            up = [(a, p) for a, p in zip(n.argnums, n.parents) if p in useful]
            if up:
                try:
                    maker = primitive_vjps[n.fun]
                except KeyError:
                    name = getattr(n.fun, "__name__", n.fun)
                    raise NotImplementedError(f"The gradient (VJP) of {name} is not defined, so dlgradient cannot "
                                              "differentiate through it.") from None
                plan.append((slot[n], n in wanted, maker, tuple(a for a, _ in up), tuple(slot[p] for _, p in up),
                             n.kwargs))
            else:
                plan.append((slot[n], n in wanted, None, (), (), None))
        outs = [(slot.get(r[0]), None if r[1] is None or r[1] not in useful else slot[r[1]], r[2], r[3], r[4])
                for r in results]
        return (slot[loss] if loss in useful else None, tuple(plan), outs, [None])

    # -- running ---------------------------------------------------------------------------------
    def run(self, leaves):
        """The outputs for these input leaves (their data may be boxes of an enclosing dlfeval)."""
        vals = [None] * self.n_slots
        boxed = False
        for i, s in self.inputs:
            d = data_of(leaves[i])
            if type(d) in box_types:
                boxed = True
            vals[s] = d
        argsof = [None] * self.n_slots
        for s, raw, wrapped, ta, kw in self.steps:
            if s is None:  # a recorded dlgradient call
                _run_gradient(kw, ta, vals, argsof, boxed)
                continue
            template, pp = ta
            args = list(template)
            for a, p in pp:
                args[a] = vals[p]
            if boxed:
                vals[s] = wrapped(*args, **kw) if kw else wrapped(*args)
            else:
                vals[s] = raw(*args, **kw) if kw else raw(*args)
            argsof[s] = args
        out = []
        for is_slot, x, fmt in self.outputs:
            if is_slot:
                v = vals[x]
                out.append(v if fmt is None else wrap(v, fmt))
            else:
                out.append(x)
        return self.out_def.unflatten(out)


def _run_gradient(_, plan, vals, argsof, boxed):
    loss_slot, steps, outs, seed = plan
    found = {}
    if loss_slot is not None:
        if seed[0] is None:  # the seed dL/dL = 1, in the loss's dtype; never written (not "mutable")
            v = getval(vals[loss_slot])
            seed[0] = np.ones(v.shape, v.dtype) if isinstance(v, (np.ndarray, np.generic)) else vspace(v).ones()
        outgrads = {loss_slot: (seed[0], False)}
        for s, is_wanted, maker, argnums, pslots, kw in steps:
            entry = outgrads.pop(s, None)
            if entry is None:
                continue
            g = entry[0]
            if is_wanted:
                found[s] = g
            if maker is None:
                continue
            if argnums is None:  # softmax + crossentropy, fused
                gz = None if boxed else _fused_gradient(g, s, kw, vals, argsof)
                if gz is None:
                    outgrads[s] = entry  # the generic steps follow
                else:
                    outgrads[pslots[0]] = add_outgrads(outgrads.get(pslots[0]), gz)
                continue
            value, args = vals[s], argsof[s]
            if boxed:
                value, args = getval(value), [getval(a) for a in args]
            ingrads = maker(argnums, value, args, kw)(g)
            for p, ig in zip(pslots, ingrads):
                outgrads[p] = add_outgrads(outgrads.get(p), ig)
    for out_slot, src, dtype, shape, pytype in outs:
        g = found.get(src) if src is not None else None
        if g is None:
            g = np.zeros(shape, dtype=dtype)
        else:
            if not isinstance(g, np.ndarray):
                g = np.asarray(getval(g))
            if g.dtype != dtype:
                g = (np.real(g) if np.iscomplexobj(g) and dtype.kind != "c" else g).astype(dtype)
            if g.shape != shape:
                g = np.array(np.broadcast_to(g, shape))
        if pytype is not None:
            g = pytype(g.reshape(()))
        if out_slot is not None:
            vals[out_slot] = g


def _fused_gradient(g, loss_slot, slots, vals, argsof):
    """d loss / d Z of crossentropy(softmax(Z)) in one step (primitives.softmax_crossentropy_gradient); None when
    it does not apply to these values (then the chain runs)."""
    e_slot, y_slot = slots
    t, _, eps = argsof[e_slot]
    return _prim.softmax_crossentropy_gradient(g, argsof[loss_slot][1], vals[y_slot], t, eps, argsof[y_slot][1])


# -------------------------------------------------------------------------------------------------
# the object

class AcceleratedFunction:
    """A function with a trace cache (MATLAB ``AcceleratedFunction``, made by :func:`dlaccelerate`).

    Call it like the function, or evaluate it with ``dlfeval(accfun, ...)``. Properties (MATLAB's):

    * ``Function`` - the underlying function (read-only)
    * ``Enabled`` - True (default); False calls the function itself, without the cache
    * ``CacheSize`` - the number of recordings kept (default 50); the least recently used one goes first
    * ``HitRate`` - percentage of the calls (since the last ``clearCache``) that replayed a recording
    * ``Occupancy`` - percentage of ``CacheSize`` in use
    * ``CheckMode`` - ``"none"`` (default) or ``"tolerance"``: every replayed call also runs the function
      itself and raises an :class:`~dlteach.errors.AccelerationCheckError` when an output differs by more
      than ``CheckTolerance`` (default 1e-4) relative to its magnitude: max|a − b| ≤ tol · max(1, max|b|)
    """

    def __init__(self, fun):
        self._fun = fun
        self.Enabled = True
        self._cache_size = 50
        self.CheckMode = "none"
        self.CheckTolerance = 1e-4
        self._cache = OrderedDict()  # key -> _Program (least recently used first)
        self._refused = {}  # key -> reasons (recordings that cannot be replayed)
        self._calls = 0
        self._hits = 0
        self._warned = set()

    # -- properties ---------------------------------------------------------------------------------
    @property
    def Function(self):
        """The underlying function (MATLAB's ``Function`` property)."""
        return self._fun

    @property
    def Enabled(self):
        return self._enabled

    @Enabled.setter
    def Enabled(self, value):
        self._enabled = _v.flag("AcceleratedFunction", "Enabled", value)

    @property
    def CacheSize(self):
        return self._cache_size

    @CacheSize.setter
    def CacheSize(self, value):
        self._cache_size = _v.integer("AcceleratedFunction", "CacheSize", value, 1)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @property
    def CheckMode(self):
        return self._check_mode

    @CheckMode.setter
    def CheckMode(self, value):
        self._check_mode = _v.option("AcceleratedFunction", "CheckMode", value, allowed=("none", "tolerance"))

    @property
    def CheckTolerance(self):
        return self._check_tol

    @CheckTolerance.setter
    def CheckTolerance(self, value):
        self._check_tol = _v.real("AcceleratedFunction", "CheckTolerance", value, low=0.0)

    @property
    def HitRate(self) -> float:
        """Percentage (0-100) of the calls since the last clearCache that replayed a cached recording."""
        return 100.0 * self._hits / self._calls if self._calls else 0.0

    @property
    def Occupancy(self) -> float:
        """Percentage (0-100) of CacheSize in use."""
        return 100.0 * len(self._cache) / self._cache_size

    def clearCache(self):
        """Empty the cache (MATLAB ``clearCache(accfun)``): needed after editing the function."""
        self._cache.clear()
        self._refused.clear()
        self._calls = 0
        self._hits = 0

    def __repr__(self):
        name = getattr(self._fun, "__name__", repr(self._fun))
        return ("AcceleratedFunction with properties:\n\n"
                f"          Function: {name}\n"
                f"           Enabled: {int(self._enabled)}\n"
                f"         CacheSize: {self._cache_size}\n"
                f"           HitRate: {self.HitRate:.4g}\n"
                f"         Occupancy: {self.Occupancy:.4g}\n"
                f"         CheckMode: '{self._check_mode}'\n"
                f"    CheckTolerance: {self._check_tol:g}")

    # -- calling ----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self._evaluate(args, kwargs, False)

    def _plain(self, args, kwargs, via_dlfeval):
        if via_dlfeval:
            return _ad.dlfeval(self._fun, *args, **kwargs)
        return self._fun(*args, **kwargs)

    def _evaluate(self, args, kwargs, via_dlfeval):
        """One call: ``via_dlfeval`` when it is ``dlfeval(accfun, ...)`` (then it acts as that dlfeval)."""
        if not self._enabled or _recording.RECORDERS:
            # disabled; or called while another accelerated function records: part of that recording
            return self._plain(args, kwargs, via_dlfeval)
        key, leaves = _signature(args, kwargs)
        self._calls += 1
        program = self._cache.get(key)
        if program is not None:
            self._hits += 1
            self._cache.move_to_end(key)
            out = program.run(leaves)
            if self._check_mode == "tolerance":
                self._check(out, self._plain(args, kwargs, via_dlfeval))
            return out
        if key in self._refused:
            return self._plain(args, kwargs, via_dlfeval)
        out, program, reasons = _record(self._fun, args, kwargs, via_dlfeval)
        if program is None:
            self._refused[key] = reasons
            self._warn(reasons)
            return out
        self._cache[key] = program
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def _warn(self, reasons):
        new = [r for r in reasons if r not in self._warned]
        if not new:
            return
        self._warned.update(new)
        name = getattr(self._fun, "__name__", "the function")
        what = "; it also ".join(_REASONS.get(r, r) for r in new)
        warnings.warn(AccelerationWarning(
            f"dlaccelerate: {name} cannot be accelerated for these inputs: while it was recorded it {what}. "
            "A recording holds only the operations on the inputs and replays them for any input of the same "
            "size: a Python decision on a value, a value taken out of the trace, or random numbers would be "
            "frozen into it and be wrong on the next call. So dlteach runs the function itself for such inputs "
            "(the results are right, just not accelerated). MATLAB's rule: do not accelerate a function whose "
            "control flow depends on data values, that uses random numbers, or that has side effects - "
            "accelerate the part without them, or call the function without dlaccelerate."),
            stacklevel=4)

    def _check(self, fast, slow):
        """CheckMode "tolerance": the replayed outputs against the function's own."""
        fl, fdef = _tree.flatten(fast)
        sl, sdef = _tree.flatten(slow)
        paths = fdef.paths("output") if len(fl) else []
        if fdef != sdef or len(fl) != len(sl):
            self._check_failed("the outputs have a different structure", "output")
        tol = self._check_tol
        for i, (a, b) in enumerate(zip(fl, sl)):
            av, bv = getval(data_of(a)), getval(data_of(b))
            if isinstance(bv, (np.ndarray, np.generic, float, int)) and not isinstance(bv, bool):
                av, bv = np.asarray(av), np.asarray(bv)
                if av.shape != bv.shape:
                    self._check_failed(f"sizes {av.shape} and {bv.shape}", paths[i])
                if bv.size == 0:
                    continue
                diff = float(np.max(np.abs(av.astype(np.float64) - bv.astype(np.float64))))
                scale = max(1.0, float(np.max(np.abs(bv.astype(np.float64)))))
                if not diff <= tol * scale:
                    self._check_failed(f"values differ by up to {diff:.4g} (CheckTolerance {tol:g} x {scale:.4g})",
                                       paths[i])
            elif not (a is b or type(a) is type(b) and _safe_equal(a, b)):
                self._check_failed(f"{a!r} and {b!r}", paths[i])

    def _check_failed(self, what, path):
        name = getattr(self._fun, "__name__", "the function")
        raise AccelerationCheckError(
            f"dlaccelerate CheckMode='tolerance': the accelerated {name} and the function itself disagree at "
            f"{path}: {what}. The replayed recording no longer computes what the function computes. Usual causes: "
            "control flow that depends on data values (an if / while on a value, a loop until convergence), random "
            "numbers (np.random inside the function), side effects or globals that changed, or the function was "
            "edited after it was recorded (call clearCache(accfun)). Such a function must not be accelerated: "
            "call it without dlaccelerate.")


def _safe_equal(a, b):
    try:
        return bool(a == b)
    except Exception:
        return False


_ad.set_accelerator(AcceleratedFunction, lambda accfun, args, kwargs: accfun._evaluate(args, kwargs, True))


def dlaccelerate(fun):
    """Accelerate a deep-learning function by caching its recordings (MATLAB ``dlaccelerate``).

    ``accfun = dlaccelerate(modelLoss)`` then ``loss, gradients = dlfeval(accfun, net, X, T)``: the first
    call with inputs of a new size / format / dtype (and new values of non-array arguments) runs
    ``modelLoss`` and records it; later calls replay the recording without running the Python function.
    The function must not have data-dependent control flow, random numbers or side effects (see
    :mod:`dlteach.accelerate`). Returns an :class:`AcceleratedFunction`.
    """
    if isinstance(fun, AcceleratedFunction):
        return fun
    if not callable(fun):
        _v.fail("dlaccelerate", "fun", "a function, e.g. dlaccelerate(modelLoss)", fun,
                hint="In MATLAB it is a function handle, @modelLoss; in Python pass the function itself.")
    return AcceleratedFunction(fun)


def clearCache(accfun):
    """Empty the trace cache of an accelerated function (MATLAB ``clearCache(accfun)``)."""
    if not isinstance(accfun, AcceleratedFunction):
        raise ArgumentError(f"clearCache: expected an AcceleratedFunction (from dlaccelerate); got {_v.describe(accfun)}.")
    accfun.clearCache()
