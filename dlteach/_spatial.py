"""2-D convolution and pooling primitives on MATLAB-layout arrays (internal).

Activations are ``H x W x C x N`` (MATLAB "SSCB"), weights ``kh x kw x C x F`` (MATLAB ``dlconv``).
Every function accepts raw ndarrays or HIPS-autograd boxes and is built from primitives with
hand-written VJPs, made with :mod:`dlteach.primitives`' ``primitive`` / ``defvjp`` (autograd's, without the
ufunc dispatch none of these needs: the same recording everywhere in dlteach):

* float32 in -> float32 out and float32 gradients (MATLAB's single-wins rule for mixed
  float32/float64 operands; each gradient is returned in the dtype of its own input);
* the VJPs are themselves primitives whose VJPs reuse the forward ones, so second (and higher)
  derivatives through ``conv2d``, ``maxpool2d`` and ``avgpool2d`` work (e.g. gradient penalties).

Convolution is im2col: the padded input is viewed with ``as_strided`` as patches
(``K = kh*kw*C`` rows per output position), copied once, and multiplied by the ``K x F`` weight
matrix with BLAS (``np.matmul``; for N >= 16 and K <= 64 a stack of per-position GEMMs whose
output is already in H x W x F x N order, otherwise one flat GEMM).  The backward pass reuses the
forward patches for the weight gradient and scatters ``W @ g`` back with ``kh*kw`` strided adds
(col2im) for the input gradient.  No einsum, no scipy.signal.

Public entry points (validated wrappers): :func:`conv2d`, :func:`maxpool2d`, :func:`avgpool2d`,
:func:`same_padding`.  Padding is given as ``((top, bottom), (left, right))``.
"""

from __future__ import annotations

import weakref
from collections import namedtuple

import numpy as np
from autograd.extend import defvjp_argnums
from autograd.tracer import getval, isbox
from numpy.lib.stride_tricks import as_strided

from . import validate as _v
from .errors import SpatialArgumentError
from .primitives import defvjp, primitive

__all__ = [
    "SpatialArgumentError",
    "conv2d",
    "conv2d_transpose",
    "same_cropping",
    "maxpool2d",
    "avgpool2d",
    "same_padding",
    "normalize_padding",
]




# --------------------------------------------------------------------------------------------
# argument handling
# --------------------------------------------------------------------------------------------

def _pair(value, name, minimum):
    """An int or a pair of ints -> (a, b), each >= minimum (the one parser: :func:`dlteach.validate.pair`)."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int \
            and min(value) >= minimum:  # the common case: ops passes parsed pairs
        return value
    return _v.pair("conv/pool", name, value, minimum, cls=SpatialArgumentError)


def normalize_padding(padding):
    """Padding spec -> ((top, bottom), (left, right)).

    Accepted: ``p`` (all sides), ``(ph, pw)`` (MATLAB ``[a b]``: top=bottom=ph, left=right=pw),
    ``(t, b, l, r)`` (MATLAB ``[t b l r]``) or ``((t, b), (l, r))``.  All entries are integers >= 0.
    Parsed by :func:`dlteach.validate.padding` (the one padding parser); 'same' needs the input size
    (:func:`same_padding`).
    """
    if type(padding) is tuple and len(padding) == 2 and all(
            type(p) is tuple and len(p) == 2 and type(p[0]) is int and type(p[1]) is int and min(p) >= 0
            for p in padding):  # the common case: ops passes ((t, b), (l, r))
        return padding
    if isinstance(padding, str):
        raise SpatialArgumentError(
            f"padding {padding!r} is a string; only 'same' is understood, and it needs the input size: "
            "use same_padding(in_hw, filter_hw, stride, dilation)."
        )
    t, b, l, r = _v.padding("conv/pool", "padding", padding, cls=SpatialArgumentError)
    return ((t, b), (l, r))


def same_padding(in_hw, filter_hw, stride=(1, 1), dilation=(1, 1)):
    """MATLAB ``Padding="same"`` -> ((top, bottom), (left, right)).

    Per spatial dimension: ``out = ceil(in / stride)``,
    ``total = max((out - 1) * stride + (f - 1) * dilation + 1 - in, 0)``,
    ``top/left = floor(total / 2)``, and the odd extra row/column goes to bottom/right.
    """
    in_hw = _pair(in_hw, "in_hw (input height, width)", 1)
    filter_hw = _pair(filter_hw, "filter_hw (filter height, width)", 1)
    stride = _pair(stride, "stride", 1)
    dilation = _pair(dilation, "dilation", 1)
    pads = []
    for n, f, s, d in zip(in_hw, filter_hw, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (f - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _check_array(a, name, layout):
    v = getval(a)
    if not isinstance(v, np.ndarray):
        raise SpatialArgumentError(
            f"{name} must be a NumPy array (or the data of a dlarray inside dlfeval), not {type(v).__name__}. "
            f"Pass the raw {layout} array, e.g. np.asarray(...)."
        )
    if v.ndim != 4:
        raise SpatialArgumentError(
            f"{name} must be 4-D {layout}; got {v.ndim}-D with shape {v.shape}. "
            "Add singleton dimensions for a single image or channel, e.g. X[:, :, None, None] or X[..., None]."
        )
    if v.dtype.kind != "f":
        raise SpatialArgumentError(
            f"{name} has dtype {v.dtype}; convolution and pooling need floating-point data. "
            "Convert it first, e.g. X.astype(np.float32) (and divide 8-bit images by 255)."
        )
    return v


def _compute_dtype(*dtypes):
    """MATLAB single-wins: float32 if any operand is float32, else the NumPy result type."""
    dtypes = [np.dtype(d) for d in dtypes]
    if any(d == np.float32 for d in dtypes):
        return np.dtype(np.float32)
    return np.result_type(*dtypes)


_ConvGeom = namedtuple(
    "_ConvGeom", "H W C N kh kw F sh sw pt pb pl pr dh dw Hp Wp Ho Wo"
)
_PoolGeom = namedtuple("_PoolGeom", "H W C N ph pw sh sw pt pb pl pr Hp Wp Ho Wo")


def _conv_geometry(xshape, wshape, stride, padding, dilation):
    H, W, C, N = xshape
    kh, kw, Cw, F = wshape
    if Cw != C:
        raise SpatialArgumentError(
            f"channel mismatch: the input has C={C} channels (dimension 3 of H x W x C x N = {tuple(xshape)}) "
            f"but the weights expect C={Cw} (dimension 3 of kh x kw x C x F = {tuple(wshape)}). "
            "Make the weights' third dimension equal the number of input channels."
        )
    if min(wshape) < 1 or min(xshape) < 1:
        raise SpatialArgumentError(f"empty input {tuple(xshape)} or weights {tuple(wshape)}: every dimension must be >= 1.")
    sh, sw = _pair(stride, "stride", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    if isinstance(padding, str):
        if padding.lower() != "same":
            raise SpatialArgumentError(f"padding {padding!r} not understood: use integers or 'same'.")
        padding = same_padding((H, W), (kh, kw), (sh, sw), (dh, dw))
    (pt, pb), (pl, pr) = normalize_padding(padding)
    Hp, Wp = H + pt + pb, W + pl + pr
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if ekh > Hp or ekw > Wp:
        dil = f" (dilated by {(dh, dw)} to {ekh} x {ekw})" if (dh, dw) != (1, 1) else ""
        raise SpatialArgumentError(
            f"the filter is larger than the padded input: filter {kh} x {kw}{dil} vs padded input "
            f"{Hp} x {Wp} (input {H} x {W} plus padding ((top,bottom),(left,right))={((pt, pb), (pl, pr))}). "
            "Use a smaller filter, more padding, or Padding='same'."
        )
    Ho, Wo = (Hp - ekh) // sh + 1, (Wp - ekw) // sw + 1
    return _ConvGeom(H, W, C, N, kh, kw, F, sh, sw, pt, pb, pl, pr, dh, dw, Hp, Wp, Ho, Wo)


def _pool_geometry(xshape, pool, stride, padding, what):
    H, W, C, N = xshape
    ph, pw = _pair(pool, "pool size", 1)
    sh, sw = _pair(stride, "stride", 1)
    (pt, pb), (pl, pr) = normalize_padding(padding)
    if max(pt, pb) >= ph or max(pl, pr) >= pw:
        raise SpatialArgumentError(
            f"{what} padding {((pt, pb), (pl, pr))} must be smaller than the pool size {(ph, pw)} on every side "
            "(otherwise a window could hold only padding). Reduce the padding or enlarge the pool."
        )
    Hp, Wp = H + pt + pb, W + pl + pr
    if ph > Hp or pw > Wp:
        raise SpatialArgumentError(
            f"the pool window {ph} x {pw} is larger than the padded input {Hp} x {Wp} "
            f"(input {H} x {W} plus padding {((pt, pb), (pl, pr))}). Use a smaller pool size."
        )
    Ho, Wo = (Hp - ph) // sh + 1, (Wp - pw) // sw + 1
    return _PoolGeom(H, W, C, N, ph, pw, sh, sw, pt, pb, pl, pr, Hp, Wp, Ho, Wo)


# --------------------------------------------------------------------------------------------
# raw convolution kernels (ndarrays only)
# --------------------------------------------------------------------------------------------

def _pad(x, g, dtype, value=0):
    """Padded, C-contiguous copy (or x itself when no padding and already right)."""
    if g.pt == g.pb == g.pl == g.pr == 0:
        return np.ascontiguousarray(x, dtype=dtype)
    xp = np.empty((g.Hp, g.Wp) + x.shape[2:], dtype=dtype)
    if value == 0:
        # zero only the border, then copy the interior
        xp[: g.pt] = 0
        xp[g.pt + g.H:] = 0
        xp[g.pt: g.pt + g.H, : g.pl] = 0
        xp[g.pt: g.pt + g.H, g.pl + g.W:] = 0
    else:
        xp.fill(value)
    xp[g.pt: g.pt + g.H, g.pl: g.pl + g.W] = x
    return xp


# Two patch-matrix layouts (both exact; only speed differs):
#  * "batched" (N >= _BATCHED_MIN_N and K <= _BATCHED_MAX_K): cols is (Ho*Wo, K, N), K = kh*kw*C.  y[p] = W^T @ cols[p]
#    is a stack of GEMMs whose results are already in H x W x C x N order, so neither the output
#    nor the cotangent needs a transpose copy (MATLAB's batch-last layout makes N the contiguous
#    GEMM dimension).
#    Best for skinny GEMMs (small K, e.g. a first layer on grey images), which are memory bound.
#  * "flat" (otherwise): cols is (K, Ho*Wo*N) and y = W^T @ cols is one GEMM, followed by a
#    (F, Ho, Wo, N) -> (Ho, Wo, F, N) transpose.  Avoids Ho*Wo tiny GEMMs for small N, and for
#    large K one big GEMM is compute bound and uses all BLAS threads (OpenBLAS runs each small
#    per-position GEMM of the batched layout on one thread).
_BATCHED_MIN_N = 16
_BATCHED_MAX_K = 64
_CHUNK_ELEMS = 1 << 22  # bound on the (positions, K, F) intermediate of the batched weight gradient


def _batched(g):
    return g.N >= _BATCHED_MIN_N and g.kh * g.kw * g.C <= _BATCHED_MAX_K


def _im2col(x, g, dtype):
    """(H, W, C, N) -> patches; K is ordered (a, b, c) like w.reshape(K, F).

    batched: (Ho*Wo, K, N); flat: (K, Ho*Wo*N)."""
    xp = _pad(x, g, dtype)
    s0, s1, s2, s3 = xp.strides
    K = g.kh * g.kw * g.C
    if _batched(g):
        view = as_strided(
            xp,
            shape=(g.Ho, g.Wo, g.kh, g.kw, g.C, g.N),
            strides=(s0 * g.sh, s1 * g.sw, s0 * g.dh, s1 * g.dw, s2, s3),
            writeable=False,
        )
        return np.ascontiguousarray(view).reshape(g.Ho * g.Wo, K, g.N)
    view = as_strided(
        xp,
        shape=(g.kh, g.kw, g.C, g.Ho, g.Wo, g.N),
        strides=(s0 * g.dh, s1 * g.dw, s2, s0 * g.sh, s1 * g.sw, s3),
        writeable=False,
    )
    return np.ascontiguousarray(view).reshape(K, g.Ho * g.Wo * g.N)


def _col2im(dcols, g, dtype):
    """Adjoint of _im2col: patches -> (H, W, C, N), overlapping patches summed."""
    dxp = np.zeros((g.Hp, g.Wp, g.C, g.N), dtype=dtype)
    rh, rw = g.sh * (g.Ho - 1) + 1, g.sw * (g.Wo - 1) + 1
    if _batched(g):
        d6 = dcols.reshape(g.Ho, g.Wo, g.kh, g.kw, g.C, g.N)
        part = lambda a, b: d6[:, :, a, b]
    else:
        d6 = dcols.reshape(g.kh, g.kw, g.C, g.Ho, g.Wo, g.N)
        part = lambda a, b: d6[a, b].transpose(1, 2, 0, 3)
    for a in range(g.kh):
        r0 = a * g.dh
        for b in range(g.kw):
            c0 = b * g.dw
            dxp[r0: r0 + rh: g.sh, c0: c0 + rw: g.sw] += part(a, b)
    if g.pt == g.pb == g.pl == g.pr == 0:
        return dxp
    return np.ascontiguousarray(dxp[g.pt: g.pt + g.H, g.pl: g.pl + g.W])


def _gmat(gy, g, dtype):
    """Output cotangent (Ho, Wo, F, N) -> batched: (Ho*Wo, F, N); flat: (F, Ho*Wo*N); contiguous."""
    if _batched(g):
        return np.ascontiguousarray(gy, dtype=dtype).reshape(g.Ho * g.Wo, g.F, g.N)
    return np.ascontiguousarray(np.transpose(gy, (2, 0, 1, 3)), dtype=dtype).reshape(g.F, g.Ho * g.Wo * g.N)


def _wmat(w, g, dtype):
    return np.ascontiguousarray(w, dtype=dtype).reshape(g.kh * g.kw * g.C, g.F)


def _mm_forward(wm, cols, g):
    """(K, F) weights, patches -> y (Ho, Wo, F, N)."""
    if _batched(g):
        return np.matmul(wm.T, cols).reshape(g.Ho, g.Wo, g.F, g.N)
    y = (wm.T @ cols).reshape(g.F, g.Ho, g.Wo, g.N)
    return np.ascontiguousarray(y.transpose(1, 2, 0, 3))


def _mm_grad_cols(wm, gm, g):
    """(K, F) weights, prepared cotangent -> patch cotangent (layout of _im2col)."""
    return np.matmul(wm, gm)


def _mm_grad_w(cols, gm, g):
    """patches, prepared cotangent -> (K, F) = sum over positions and batch of patch * cotangent."""
    if not _batched(g):
        return cols @ gm.T
    K, F, P = cols.shape[1], g.F, cols.shape[0]
    step = max(1, _CHUNK_ELEMS // (K * F))
    acc = None
    for p0 in range(0, P, step):
        part = np.matmul(cols[p0: p0 + step], gm[p0: p0 + step].transpose(0, 2, 1)).sum(axis=0)
        acc = part if acc is None else acc + part
    return acc


# Hand-off of the forward patch matrix to the weight-gradient VJP (see _conv2d_p / conv2d): a traced
# forward keeps its im2col matrix here, under the id of its output array, for as long as that output
# lives (the recorded node holds it until the reverse pass); the VJP maker finds it by the output.
_COLS_BY_OUTPUT = {}


# --------------------------------------------------------------------------------------------
# convolution primitives
# --------------------------------------------------------------------------------------------

@primitive
def _conv2d_p(x, w, geom, out_dtype, keep_cols=False):
    """y = conv2d(x, w): (H,W,C,N), (kh,kw,C,F) -> (Ho,Wo,F,N)."""
    g = geom
    dt = _compute_dtype(x.dtype, w.dtype)
    cols = _im2col(x, g, dt)
    y = _mm_forward(_wmat(w, g, dt), cols, g).astype(out_dtype, copy=False)
    if keep_cols:
        key = id(y)
        _COLS_BY_OUTPUT[key] = cols
        weakref.finalize(y, _COLS_BY_OUTPUT.pop, key, None)
    return y


@primitive
def _conv2d_grad_input(gy, w, geom, out_dtype, gm=None):
    """dx = conv2d_transpose(gy, w) (the adjoint of conv2d in x): (Ho,Wo,F,N) -> (H,W,C,N)."""
    g = geom
    dt = _compute_dtype(gy.dtype, w.dtype)
    if gm is None:
        gm = _gmat(gy, g, dt)
    dcols = _mm_grad_cols(_wmat(w, g, dt), gm.astype(dt, copy=False), g)
    return _col2im(dcols, g, dt).astype(out_dtype, copy=False)


@primitive
def _conv2d_grad_filter(x, gy, geom, out_dtype, cols=None, gm=None):
    """dw = sum over positions of patch(x) * gy: (H,W,C,N), (Ho,Wo,F,N) -> (kh,kw,C,F)."""
    g = geom
    dt = _compute_dtype(x.dtype, gy.dtype)
    if cols is None or cols.dtype != dt:
        cols = _im2col(x, g, dt)
    if gm is None:
        gm = _gmat(gy, g, dt)
    dwm = _mm_grad_w(cols, gm.astype(dt, copy=False), g)  # (K, F)
    return dwm.reshape(g.kh, g.kw, g.C, g.F).astype(out_dtype, copy=False)


def _conv2d_vjps(argnums, ans, args, kwargs):
    x, w, geom, out_dtype = args
    cols = _COLS_BY_OUTPUT.get(id(getval(ans))) if kwargs.get("keep_cols") else None
    xdt, wdt = x.dtype, w.dtype

    def vjp(gy):
        gm = _gmat(getval(gy), geom, _compute_dtype(xdt, wdt, gy.dtype))
        out = []
        for a in argnums:
            if a == 0:
                out.append(_conv2d_grad_input(gy, w, geom, xdt, gm=gm))
            else:
                out.append(_conv2d_grad_filter(x, gy, geom, wdt, cols=cols, gm=gm))
        return out

    return vjp


defvjp_argnums(_conv2d_p, _conv2d_vjps)

# dx = B(gy, w) is bilinear; <B(gy, w), H> = <gy, conv2d(H, w)> = <w, grad_filter(H, gy)>.
defvjp(
    _conv2d_grad_input,
    lambda ans, gy, w, geom, out_dtype, gm=None: lambda H: _conv2d_p(H, w, geom, gy.dtype),
    lambda ans, gy, w, geom, out_dtype, gm=None: lambda H: _conv2d_grad_filter(H, gy, geom, w.dtype),
)
# dw = D(x, gy) is bilinear; <D(x, gy), K> = <gy, conv2d(x, K)> = <x, grad_input(gy, K)>.
defvjp(
    _conv2d_grad_filter,
    lambda ans, x, gy, geom, out_dtype, cols=None, gm=None: lambda K: _conv2d_grad_input(gy, K, geom, x.dtype),
    lambda ans, x, gy, geom, out_dtype, cols=None, gm=None: lambda K: _conv2d_p(x, K, geom, gy.dtype),
)


def conv2d(x, w, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1)):
    """2-D cross-correlation (deep-learning convolution), MATLAB ``dlconv`` without bias.

    ``y[i, j, f, n] = sum_{a, b, c} xpad[i*sh + a*dh, j*sw + b*dw, c, n] * w[a, b, c, f]``

    x: H x W x C x N, w: kh x kw x C x F -> y: Ho x Wo x F x N with
    ``Ho = floor((H + top + bottom - ((kh-1)*dh + 1)) / sh) + 1`` (same for W).
    ``padding``: ((top, bottom), (left, right)), p, (ph, pw), (t, b, l, r) or "same" (MATLAB rule,
    see :func:`same_padding`); zeros are padded.  Like MATLAB ``dlconv`` and
    ``torch.nn.functional.conv2d``, the kernel is *not* flipped.  Differentiable in x and w to any order.
    """
    xv = _check_array(x, "conv2d input X", "H x W x C x N")
    wv = _check_array(w, "conv2d weights", "kh x kw x C x F")
    geom = _conv_geometry(xv.shape, wv.shape, stride, padding, dilation)
    out_dtype = _compute_dtype(xv.dtype, wv.dtype)
    return _conv2d_p(x, w, geom, out_dtype, keep_cols=isbox(w))


def same_cropping(in_hw, filter_hw, stride=(1, 1), dilation=(1, 1)):
    """MATLAB ``Cropping="same"`` of a transposed convolution -> ((top, bottom), (left, right)).

    The output is ``stride * in`` per spatial dimension: ``total = (f - 1) * dilation + 1 - stride``
    rows are removed, ``top/left = floor(total / 2)`` and the odd one goes to bottom/right -- exactly the
    "same" padding of the convolution whose adjoint this is (input ``stride * in``).
    """
    in_hw = _pair(in_hw, "in_hw (input height, width)", 1)
    filter_hw = _pair(filter_hw, "filter_hw (filter height, width)", 1)
    stride = _pair(stride, "stride", 1)
    dilation = _pair(dilation, "dilation", 1)
    out = []
    for f, s, d in zip(filter_hw, stride, dilation):
        total = (f - 1) * d + 1 - s
        if total < 0:
            raise SpatialArgumentError(
                f"Cropping='same' needs a filter at least as large as the stride: the (dilated) filter size {(f - 1) * d + 1} "
                f"is smaller than the stride {s}, so the output cannot be stride * input. Use a larger filter, a smaller "
                "stride, or Cropping=0."
            )
        out.append((total // 2, total - total // 2))
    return tuple(out)


def conv2d_transpose(x, w, stride=(1, 1), cropping=((0, 0), (0, 0)), dilation=(1, 1)):
    """Transposed 2-D convolution, MATLAB ``dltranspconv`` without bias (the adjoint of :func:`conv2d`).

    x: H x W x C x N, w: kh x kw x F x C (MATLAB's layout: F = numFilters = output channels, C = input
    channels) -> y: Ho x Wo x F x N with ``Ho = (H - 1) * sh + (kh - 1) * dh + 1 - top - bottom``.
    ``y = conv2d^T(x)``: each input pixel adds ``x[i, j, c, n] * w[:, :, f, c]`` to the output window at
    ``(i*sh - top, j*sw - left)``; the cropping is the padding of that convolution. ``cropping`` takes the
    same forms as ``padding`` of :func:`conv2d`, or "same" (output = stride * input, :func:`same_cropping`).
    Like ``torch.nn.functional.conv_transpose2d`` (whose weight is ``w.transpose(3, 2, 0, 1)``); the
    kernel is not flipped. Differentiable in x and w to any order.
    """
    xv = _check_array(x, "dltranspconv input X", "H x W x C x N")
    wv = _check_array(w, "dltranspconv weights", "kh x kw x F x C")
    H, W, C, N = xv.shape
    kh, kw, F, Cw = wv.shape
    if Cw != C:
        raise SpatialArgumentError(
            f"channel mismatch: the input has C={C} channels (dimension 3 of H x W x C x N = {tuple(xv.shape)}) but the "
            f"transposed-convolution weights expect C={Cw} (dimension 4 of kh x kw x F x C = {tuple(wv.shape)}; "
            "F, dimension 3, is the number of output channels)."
        )
    sh, sw = _pair(stride, "stride", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    if isinstance(cropping, str):
        if cropping.lower() != "same":
            raise SpatialArgumentError(f"Cropping {cropping!r} not understood: use integers or 'same'.")
        cropping = same_cropping((H, W), (kh, kw), (sh, sw), (dh, dw))
    (ct, cb), (cl, cr) = normalize_padding(cropping)
    Hc = (H - 1) * sh + (kh - 1) * dh + 1 - ct - cb
    Wc = (W - 1) * sw + (kw - 1) * dw + 1 - cl - cr
    if Hc < 1 or Wc < 1:
        raise SpatialArgumentError(
            f"the cropping {((ct, cb), (cl, cr))} removes the whole output: before cropping it is "
            f"{Hc + ct + cb} x {Wc + cl + cr}. Use less cropping."
        )
    geom = _conv_geometry((Hc, Wc, F, N), wv.shape, (sh, sw), ((ct, cb), (cl, cr)), (dh, dw))
    out_dtype = _compute_dtype(xv.dtype, wv.dtype)
    return _conv2d_grad_input(x, w, geom, out_dtype)


# --------------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------------

def _windows(a, g):
    """Yield (k, view) for each window offset (a, b) in scan order (rows outer, columns inner);
    each view has shape (Ho, Wo, C, N) and view[i, j] = a[i*sh + a_off, j*sw + b_off]."""
    rh, rw = g.sh * (g.Ho - 1) + 1, g.sw * (g.Wo - 1) + 1
    k = 0
    for r in range(g.ph):
        for c in range(g.pw):
            yield k, a[r: r + rh: g.sh, c: c + rw: g.sw]
            k += 1


def _tiled(g):
    """Windows tile the input exactly once (stride == pool, no padding): reshape fast path."""
    return (g.sh, g.sw) == (g.ph, g.pw) and g.pt == g.pb == g.pl == g.pr == 0


def _padded(g):
    return not (g.pt == g.pb == g.pl == g.pr == 0)


def _crop(dxp, g):
    if not _padded(g):
        return dxp
    return np.ascontiguousarray(dxp[g.pt: g.pt + g.H, g.pl: g.pl + g.W])


@primitive
def _maxpool_p(x, geom):
    g = geom
    if _tiled(g):
        xr = x[: g.Ho * g.ph, : g.Wo * g.pw].reshape(g.Ho, g.ph, g.Wo, g.pw, g.C, g.N)
        return xr.max(axis=(1, 3))
    xp = _pad(x, g, x.dtype, value=-np.inf)
    out = None
    for _k, v in _windows(xp, g):
        if out is None:
            out = v.copy()
        else:
            np.maximum(out, v, out=out)
    return out


class _Winners:
    """Which input each max-pool output came from, as one boolean mask per window offset
    (``masks[k][i, j, c, n]`` is True when offset k of window (i, j) won), computed lazily.

    Ties: the first maximum in scan order (rows outer, columns inner) wins, as in PyTorch.
    Padded positions never win.  NaN: a window holding NaN outputs NaN and its gradient goes to
    the first NaN in scan order (PyTorch picks the last one; gradients of NaN are meaningless anyway).
    """

    __slots__ = ("x", "ans", "geom", "_masks")

    def __init__(self, x, ans, geom):
        self.x, self.ans, self.geom, self._masks = x, ans, geom, None

    @property
    def masks(self):
        if self._masks is None:
            g = self.geom
            ans = self.ans
            xp = _pad(self.x, g, self.x.dtype, value=-np.inf)
            valid_views = None
            if _padded(g):
                valid = np.zeros((g.Hp, g.Wp, 1, 1), dtype=bool)
                valid[g.pt: g.pt + g.H, g.pl: g.pl + g.W] = True
                valid_views = [v for _, v in _windows(valid, g)]
            nan_out = np.isnan(ans)
            nan_out = nan_out if nan_out.any() else None
            masks, found = [], None
            last = g.ph * g.pw - 1
            for k, v in _windows(xp, g):
                hit = np.equal(v, ans)
                if nan_out is not None:
                    hit |= np.isnan(v) & nan_out
                if valid_views is not None:
                    hit &= valid_views[k]
                if found is None:
                    found = hit.copy() if k < last else None
                else:
                    hit &= ~found  # an earlier offset already won this window
                    if k < last:
                        found |= hit
                masks.append(hit)
            self._masks = masks
            self.x = None  # no longer needed
        return self._masks


def _scatter_raw(gy, win, dtype):
    g = win.geom
    masks = win.masks
    dxp = np.zeros((g.Hp, g.Wp, g.C, g.N), dtype=dtype)
    disjoint = g.sh >= g.ph and g.sw >= g.pw
    for k, view in _windows(dxp, g):
        if disjoint:
            np.multiply(gy, masks[k], out=view)
        else:
            view += gy * masks[k]
    return _crop(dxp, g)


def _gather_raw(h, win, dtype):
    g = win.geom
    masks = win.masks
    hp = _pad(h, g, dtype)
    out = np.zeros((g.Ho, g.Wo, g.C, g.N), dtype=dtype)
    for k, view in _windows(hp, g):
        out += view * masks[k]
    return out


@primitive
def _maxpool_scatter(gy, win, dtype):
    """dx: route each output cotangent to the winning input position (linear in gy)."""
    return _scatter_raw(gy, win, dtype)


@primitive
def _maxpool_gather(h, win, dtype):
    """Adjoint of _maxpool_scatter: pick h at the winning positions (linear in h)."""
    return _gather_raw(h, win, dtype)


defvjp(_maxpool_scatter, lambda ans, gy, win, dtype: lambda H: _maxpool_gather(H, win, gy.dtype))
defvjp(_maxpool_gather, lambda ans, h, win, dtype: lambda G: _maxpool_scatter(G, win, h.dtype))


def _maxpool_vjp(ans, x, geom):
    win = _Winners(getval(x), getval(ans), geom)
    dt = x.dtype
    return lambda gy: _maxpool_scatter(gy, win, dt)


defvjp(_maxpool_p, _maxpool_vjp)


def maxpool2d(x, pool=(2, 2), stride=(2, 2), padding=((0, 0), (0, 0))):
    """Max pooling, MATLAB ``maxpool(X, poolsize, Stride=..., Padding=...)``.

    ``y[i, j, c, n] = max_{a < ph, b < pw} xpad[i*sh + a, j*sw + b, c, n]`` with ``xpad`` padded by
    -inf, so padded positions never win; ``Ho = floor((H + top + bottom - ph) / sh) + 1``.
    Gradient: each output's cotangent goes to ONE input, the first maximum in window scan order
    (rows outer, columns inner), like PyTorch.  Padding must be smaller than the pool size.
    """
    xv = _check_array(x, "maxpool input X", "H x W x C x N")
    geom = _pool_geometry(xv.shape, pool, stride, padding, "maxpool")
    return _maxpool_p(x, geom)


@primitive
def _avgpool_p(x, geom):
    g = geom
    scale = np.asarray(1.0 / (g.ph * g.pw), dtype=x.dtype)
    if _tiled(g):
        xr = x[: g.Ho * g.ph, : g.Wo * g.pw].reshape(g.Ho, g.ph, g.Wo, g.pw, g.C, g.N)
        out = xr.sum(axis=(1, 3))
    else:
        xp = _pad(x, g, x.dtype)
        out = None
        for _k, v in _windows(xp, g):
            if out is None:
                out = v.copy()
            else:
                out += v
    out *= scale
    return out


@primitive
def _avgpool_adj(gy, geom, dtype):
    """Adjoint of avgpool: spread gy / (ph*pw) over each window (padding cells are cropped)."""
    g = geom
    gs = np.multiply(gy, np.asarray(1.0 / (g.ph * g.pw), dtype=dtype), dtype=dtype)
    if _tiled(g):
        dx = np.zeros((g.H, g.W, g.C, g.N), dtype=dtype)
        dx[: g.Ho * g.ph, : g.Wo * g.pw].reshape(g.Ho, g.ph, g.Wo, g.pw, g.C, g.N)[...] = gs[:, None, :, None]
        return dx
    dxp = np.zeros((g.Hp, g.Wp, g.C, g.N), dtype=dtype)
    disjoint = g.sh >= g.ph and g.sw >= g.pw
    for _k, view in _windows(dxp, g):
        if disjoint:
            view[...] = gs
        else:
            view += gs
    return _crop(dxp, g)


defvjp(_avgpool_p, lambda ans, x, geom: lambda gy: _avgpool_adj(gy, geom, x.dtype))
defvjp(_avgpool_adj, lambda ans, gy, geom, dtype: lambda H: _avgpool_p(H, geom))


def avgpool2d(x, pool=(2, 2), stride=(2, 2), padding=((0, 0), (0, 0))):
    """Average pooling, MATLAB ``avgpool`` / ``averagePooling2dLayer`` (PaddingValue 0).

    ``y[i, j, c, n] = (1 / (ph*pw)) * sum_{a < ph, b < pw} xpad[i*sh + a, j*sw + b, c, n]`` with
    zero padding that *counts* in the divisor (PyTorch ``count_include_pad=True``).
    Padding must be smaller than the pool size.
    """
    xv = _check_array(x, "avgpool input X", "H x W x C x N")
    geom = _pool_geometry(xv.shape, pool, stride, padding, "avgpool")
    return _avgpool_p(x, geom)
