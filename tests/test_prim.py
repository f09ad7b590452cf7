"""PRIM (experiments/prim.py): finds a planted box, and agrees with the EMA workbench's prim step by step."""

from __future__ import annotations

import importlib.util
import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from experiments.prim import Prim, quantile

HAS_EMA = importlib.util.find_spec("ema_workbench") is not None
NO_EMA = "the EMA workbench is not installed (pip install 'blocsim[ema]'): the cross-check needs it"


def planted(n=400, seed=1, noise=0.05, levels=None):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4))
    if levels:  # values on a grid, as in a Morris design: many ties
        x = np.round(x * (levels - 1)) / (levels - 1)
    x = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    y = ((x.a > 0.6) & (x.c < 0.4)).to_numpy().astype(int)
    flip = rng.random(n) < noise
    return x, np.where(flip, 1 - y, y)


def test_quantile_rule():
    assert quantile([1, 2, 3, 4, 5], 0.05) == 1.5  # between the two lowest values
    assert quantile([1, 2, 3, 4, 5], 0.95) == 4.5
    assert quantile([1, 1, 1, 2, 3], 0.05) == 1.5  # moved past ties
    assert quantile([1, 2, 3, 3, 3], 0.95) == 2.5


def test_finds_the_planted_box():
    x, y = planted()
    prim = Prim(x, y, objective="lenient1")
    boxes = prim.find_boxes(max_boxes=2, threshold=0.95)
    box = boxes[0]
    lims = box.limits_table().set_index("parameter")
    assert set(lims.index) >= {"a", "c"}
    assert lims.loc["a", "low"] == pytest.approx(0.6, abs=0.05)
    assert lims.loc["c", "high"] == pytest.approx(0.4, abs=0.05)
    assert box.density >= 0.95 and box.coverage >= 0.7
    # the statistics are what they say
    inside = (
        (x.a >= lims.loc["a", "low"])
        & (x.a <= lims.loc["a", "high"])
        & (x.c >= lims.loc["c", "low"])
        & (x.c <= lims.loc["c", "high"])
    )
    for col in set(lims.index) - {"a", "c"}:
        inside &= (x[col] >= lims.loc[col, "low"]) & (x[col] <= lims.loc[col, "high"])
    assert box.mass == pytest.approx(inside.mean())
    assert box.density == pytest.approx(y[inside.to_numpy()].mean())
    assert box.coverage == pytest.approx(y[inside.to_numpy()].sum() / y.sum())
    traj = box.trajectory
    assert traj["mass"].iloc[0] == 1 and (traj["mass"] >= 0.05).all()


def test_no_box_when_nothing_is_concentrated():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.random((200, 3)), columns=["a", "b", "c"])
    y = (rng.random(200) < 0.3).astype(int)
    found = Prim(x, y, objective="lenient1").find_boxes(max_boxes=3, threshold=0.95, min_lift=2.0)
    assert found == []
    with pytest.raises(ValueError):
        Prim(x, np.full(200, 2.0))


@pytest.mark.skipif(not HAS_EMA, reason=NO_EMA)
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside the workbench, with pandas 3
@pytest.mark.parametrize("objective", ["original", "lenient1"])
@pytest.mark.parametrize("levels", [None, 4])
def test_agrees_with_the_ema_workbench(objective, levels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim as ema_prim
    logging.getLogger("EMA").setLevel(logging.ERROR)
    x, y = planted(levels=levels, seed=2 if levels else 1)
    objectives = {
        "original": ema_prim.PRIMObjectiveFunctions.ORIGINAL,
        "lenient1": ema_prim.PRIMObjectiveFunctions.LENIENT1,
    }
    theirs = ema_prim.Prim(x, y, obj_function=objectives[objective], peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
    ours = Prim(x, y, objective=objective, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
    for _ in range(2):  # the first box, then the next one on the points it leaves (covering)
        tb, ob = theirs.find_box(), ours.find_box()
        cols = ["coverage", "density", "mass", "res_dim"]
        t = tb.peeling_trajectory[cols].to_numpy(dtype=float)
        o = ob.trajectory[cols].to_numpy(dtype=float)
        assert t.shape == o.shape
        np.testing.assert_allclose(o, t)
        np.testing.assert_allclose(ob.limits[-1], tb.box_lims[-1][list(x.columns)].to_numpy(dtype=float))
