"""formats.datas_of and formats.wrap_each_like (the updaters' per-leaf helpers)."""

import numpy as np

from dlteach import dlarray
from dlteach.dlarray import dims
from dlteach.formats import data_of, datas_of, wrap_each_like


def test_datas_of_is_data_of_of_each():
    a, b = np.ones((2, 3), np.float32), np.zeros(4)
    xs = [dlarray(a, "CB"), b, 3.0, None, dlarray(b)]
    got = datas_of(xs)
    assert len(got) == len(xs) and all(g is data_of(x) for g, x in zip(got, xs))
    assert type(got[0]) is np.ndarray and got[1] is b and got[2] == 3.0 and got[3] is None
    assert datas_of([]) == [] and datas_of(iter(xs[:2]))[1] is b


def test_wrap_each_like_wraps_each_data_like_its_leaf():
    a, b = np.ones((3, 2), np.float32), np.zeros(4)
    likes = [dlarray(a, "CB"), b, dlarray(a), None, 2.0]
    datas = [np.full((3, 2), 2.0, np.float32), np.ones(4), np.zeros((3, 2)), np.ones(1), np.ones(2)]
    before = data_of(likes[0])
    out = wrap_each_like(datas, likes)
    assert [type(o) for o in out] == [dlarray, np.ndarray, dlarray, np.ndarray, np.ndarray]
    assert all(data_of(o) is d for o, d in zip(out, datas))  # no copies
    assert dims(out[0]) == "CB" and dims(out[2]) == ""
    assert out[0] is not likes[0] and data_of(likes[0]) is before  # new dlarrays; the leaves are unchanged
    assert len(wrap_each_like(datas[:2], likes)) == 2 and len(wrap_each_like(datas, likes[:3])) == 3  # the shorter
    assert wrap_each_like([], likes) == []
