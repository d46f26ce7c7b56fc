"""formats.datas_of and formats.wrap_all_like (the updaters' per-leaf helpers)."""

import numpy as np

from dlteach import dlarray
from dlteach.dlarray import dims
from dlteach.formats import data_of, datas_of, wrap_all_like


def test_datas_of_is_data_of_of_each():
    a, b = np.ones((2, 3), np.float32), np.zeros(4)
    xs = [dlarray(a, "CB"), b, 3.0, None, dlarray(b)]
    got = datas_of(xs)
    assert len(got) == len(xs) and all(g is data_of(x) for g, x in zip(got, xs))
    assert type(got[0]) is np.ndarray and got[1] is b and got[2] == 3.0 and got[3] is None
    assert datas_of([]) == [] and datas_of(iter(xs[:2]))[1] is b


def test_wrap_all_like_a_dlarray_gives_dlarrays_with_its_format():
    like = dlarray(np.ones((3, 2), np.float32), "CB")
    datas = (np.full((3, 2), 2.0, np.float32), np.zeros((3, 2), np.float32))
    out = wrap_all_like(datas, like)
    assert [type(o) for o in out] == [dlarray, dlarray]
    assert all(data_of(o) is d for o, d in zip(out, datas))
    assert [dims(o) for o in out] == ["CB", "CB"]
    unformatted = wrap_all_like(datas, dlarray(np.ones((3, 2), np.float32)))
    assert [dims(o) for o in unformatted] == ["", ""]


def test_wrap_all_like_anything_else_gives_the_datas_themselves():
    datas = (np.ones(2), np.zeros(2))
    assert wrap_all_like(datas, np.ones(2)) is datas
    assert wrap_all_like(datas, None) is datas
