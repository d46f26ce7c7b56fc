"""Tests of dlteach.table.Table (MATLAB's Learnables/State table)."""

import numpy as np
import pytest

from dlteach import dlarray, dlfeval, dlgradient
from dlteach.errors import StructureMismatchError
from dlteach.table import Row, Table, describe_value, height
from dlteach.tree import tree_leaves, tree_map


def make():
    return Table(
        ["conv", "conv", "fc", "fc"],
        ["Weights", "Bias", "Weights", "Bias"],
        [dlarray(np.full((5, 5, 1, 20), 1, np.float32)), dlarray(np.full((1, 1, 20), 2, np.float32)),
         dlarray(np.full((10, 30), 3, np.float32)), dlarray(np.full((10, 1), 4, np.float32))],
    )


def test_columns_masks_and_sizes():
    t = make()
    assert len(t) == 4 and t.height == 4 and height(t) == 4 and t.shape == (4, 3)
    mask = t.Parameter == "Weights"
    assert mask.dtype == bool and mask.tolist() == [True, False, True, False]
    assert (t.Layer == "fc").tolist() == [False, False, True, True]
    assert isinstance(t.Value, list) and len(t.Value) == 4
    assert t.VariableNames == ["Layer", "Parameter", "Value"]


def test_row_selection_by_mask_list_slice_and_matlab_spelling():
    t = make()
    w = t[t.Parameter == "Weights"]
    assert isinstance(w, Table) and w.keys() == [("conv", "Weights"), ("fc", "Weights")]
    assert w.Value[1] is t.Value[2]
    assert t[[3, 0]].keys() == [("fc", "Bias"), ("conv", "Weights")]
    assert t[1:3].keys() == [("conv", "Bias"), ("fc", "Weights")]
    assert t[t.Layer == "conv", :].keys() == t[:2].keys()
    assert t[-1].Parameter == "Bias"
    empty = t[np.zeros(4, bool)]
    assert len(empty) == 0 and empty.Layer.shape == (0,)


def test_single_row_and_iteration_give_namedtuples():
    t = make()
    r = t[2]
    assert isinstance(r, Row) and (r.Layer, r.Parameter) == ("fc", "Weights")
    assert float(r.Value[0, 0]) == 3.0
    rows = list(t)
    assert [(x.Layer, x.Parameter) for x in rows] == t.keys()
    assert t["Layer"].tolist() == ["conv", "conv", "fc", "fc"]


def test_bad_indexing_errors():
    t = make()
    with pytest.raises(IndexError, match="one entry per row"):
        t[np.array([True, False])]
    with pytest.raises(IndexError, match="out of range"):
        t[[7]]
    with pytest.raises(KeyError, match="Layer"):
        t["Weights"]
    with pytest.raises(StructureMismatchError, match="equal length"):
        Table(["a"], ["b", "c"], [1])


def test_value_assignment_and_lookup():
    t = make()
    new = [v * 2 for v in t.Value]
    t.Value = new
    assert float(t.value("fc", "Bias")[0, 0]) == 8.0
    with pytest.raises(StructureMismatchError, match="needs 4 values"):
        t.Value = new[:3]
    with pytest.raises(KeyError, match="conv/Weights"):
        t.value("fc", "Offset")


def test_describe_value_matlab_style():
    assert describe_value(dlarray(np.zeros((5, 5, 1, 20), np.float32))) == "5x5x1x20 single dlarray"
    assert describe_value(dlarray(np.zeros((10, 1)))) == "10x1 double dlarray"
    assert describe_value(np.zeros(3, np.float32)) == "3x1 single ndarray"
    assert describe_value(None) == "[]"


def test_repr_and_html():
    t = make()
    text = repr(t)
    assert text.startswith("4x3 Table")
    lines = text.splitlines()
    assert any("conv" in ln and "Weights" in ln and "5x5x1x20 single dlarray" in ln for ln in lines)
    assert all(ln == ln.rstrip() for ln in lines)
    h = t._repr_html_()
    assert h.count("<tr>") == 5 and "<th>Layer</th>" in h and "10x30 single dlarray" in h
    evil = Table(["<b>x</b>"], ["p&q"], [None])
    assert "&lt;b&gt;x&lt;/b&gt;" in evil._repr_html_() and "p&amp;q" in evil._repr_html_()
    assert "no rows" in repr(Table())


def test_tree_map_rebuilds_table_and_matches_rows():
    t = make()
    doubled = tree_map(lambda a, b: a + b, t, t)
    assert isinstance(doubled, Table) and doubled.keys() == t.keys()
    assert float(doubled.value("conv", "Bias")[0, 0, 0]) == 4.0
    assert len(tree_leaves(t)) == 4


def test_tree_mismatch_names_first_differing_row():
    t = make()
    other = Table(["conv", "conv", "fc2", "fc"], ["Weights", "Bias", "Weights", "Bias"], list(t.Value))
    with pytest.raises(StructureMismatchError, match=r"row 2: Layer/Parameter fc/Weights vs fc2/Weights"):
        tree_map(lambda a, b: a, t, other)
    shorter = t[:3]
    with pytest.raises(StructureMismatchError, match=r"4 and 3 rows \(first extra row 3: fc/Bias\)"):
        tree_map(lambda a, b: a, t, shorter)


def test_dlgradient_with_respect_to_a_table():
    t = Table(["fc", "fc"], ["Weights", "Bias"],
              [dlarray(np.array([[1.0, -2.0]], np.float32)), dlarray(np.array([[0.5]], np.float32))])

    def f(t):
        W, b = t.Value
        loss = np.sum(W * W) + 3 * np.sum(b)
        return dlgradient(loss, t)

    g = dlfeval(f, t)
    assert isinstance(g, Table) and g.keys() == t.keys()
    np.testing.assert_array_equal(np.asarray(g.Value[0]), [[2.0, -4.0]])
    np.testing.assert_array_equal(np.asarray(g.Value[1]), [[3.0]])
    assert g.Value[0].dtype == np.float32


# -- row assignment (MATLAB t(idx,:) = other) -------------------------------------------------------

def test_row_assignment_l2_regularization_recipe_matches_hand_formula():
    from dlteach import dlnetwork, dlupdate, extractdata, featureInputLayer, fullyConnectedLayer

    np.random.seed(0)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), fullyConnectedLayer(2)])
    grads = net.Learnables
    grads.Value = [dlarray(np.ones(v.shape, np.float32)) for v in grads.Value]
    lam = np.float32(1e-4)
    idx = grads.Parameter == "Weights"
    grads[idx, :] = dlupdate(lambda g, w: g + lam * w, grads[idx, :], net.Learnables[idx, :])
    for (_layer, param), g, w in zip(grads.keys(), grads.Value, net.Learnables.Value):
        want = 1 + lam * np.asarray(extractdata(w)) if param == "Weights" else np.ones(w.shape)
        np.testing.assert_allclose(np.asarray(extractdata(g)), want, rtol=1e-6)
        assert extractdata(g).dtype == np.float32


def test_row_assignment_other_forms_and_errors():
    t = make()
    t[[1, 3]] = [10.0, 20.0]                       # a list of values: only Value changes
    assert t.Value[1] == 10.0 and t.Value[3] == 20.0 and t.keys()[1] == ("conv", "Bias")
    t[0] = 5.0                                     # one row number sets that Value
    assert t.Value[0] == 5.0
    t[t.Layer == "fc", "Value"] = ["a", "b"]
    assert t.Value[2:] == ["a", "b"]
    other = make()
    t[:, :] = other
    assert t.Value == other.Value
    with pytest.raises(StructureMismatchError, match="row 0 is conv/Weights but the assigned row is fc/Weights"):
        t[t.Layer == "conv", :] = other[other.Layer == "fc", :]
    with pytest.raises(StructureMismatchError, match="2 rows are selected but the assigned table has 1"):
        t[[0, 1], :] = other[[0]]
    with pytest.raises(StructureMismatchError, match="3 values"):
        t[[0, 1]] = [1, 2, 3]
    with pytest.raises(KeyError, match="Only the Value column"):
        t["Layer"] = ["x"] * 4


def test_from_columns_and_has_rows():
    """The fast constructor (the network's Learnables / State tables) gives a table that behaves like Table(...)
    and shares no mutable list: changing one table's values never changes another built from the same columns."""
    layers, params = ("fc", "fc"), ("Weights", "Bias")
    a = Table.from_columns(layers, params, [1.0, 2.0])
    b = Table.from_columns(layers, params, [1.0, 2.0])
    ref = Table(["fc", "fc"], ["Weights", "Bias"], [1.0, 2.0])
    assert a.keys() == ref.keys() and a.Value == ref.Value and repr(a) == repr(ref)
    assert list(a.Parameter == "Bias") == [False, True]
    a.Value[0] = 5.0
    a[1] = 7.0
    assert b.Value == [1.0, 2.0] and a.Value == [5.0, 7.0]
    assert a.has_rows(layers, params) and ref.has_rows(layers, params)
    assert not a.has_rows(("fc", "fc"), ("Bias", "Weights")) and not a.has_rows(("fc",), ("Weights",))
    c = a.copy()
    c.Value[0] = 0.0
    assert a.Value[0] == 5.0 and c.has_rows(layers, params)
    d = tree_map(lambda v: v * 2, a)  # the tree rebuild keeps the rows
    assert d.keys() == a.keys() and d.Value == [10.0, 14.0] and a.Value == [5.0, 7.0]
    sub = a[a.Parameter == "Bias"]
    assert sub.keys() == [("fc", "Bias")] and sub.Value == [7.0]
