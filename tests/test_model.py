"""BlocModel: invariants every step, reproducibility, and the expected behaviour on the default data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.producers import Plant
from model import BlocModel
from model.recorder import columns_for
from model.scenario import ScenarioError, load_scenario


def run(sc, steps=240, **kw):
    kw.setdefault("seed", 1)
    m = BlocModel(sc, **kw)
    m.run(steps)
    return m


def check_invariants(m: BlocModel) -> None:
    """Material balance per stage, no negative stocks or capacities, finite non-negative prices."""
    df = m.datacollector.get_model_vars_dataframe()
    y = m.config.market.refining_yield
    # concentrate: what mines sell is what separation plants take in (and refine at the yield)
    np.testing.assert_allclose(df.concentrate_traded * y, df.refined_output, rtol=1e-9, atol=1e-6)
    # refined: output = consumption + change in every stock
    stocks = (
        df.inventory_refiners
        + df.stock_consumers_bloc
        + df.stock_consumers_other
        + df.stock_authority
        + df.stock_traders_bloc
        + df.stock_traders_other
    )
    change = stocks.diff().fillna(stocks.iloc[0] - m.recorder.initial_stock)
    np.testing.assert_allclose(df.refined_output, df.consumption_total + change, rtol=1e-7, atol=1e-5)
    for col in [c for c in df.columns if c.startswith(("capacity_", "stock_", "inventory_", "online_"))]:
        assert (df[col] >= -1e-9).all(), col
    for col in ("unmet_bloc", "unmet_world", "unmet_home", "consumption_total", "refined_output"):
        assert (df[col] >= -1e-9).all(), col
    # money: what buyers pay reaches sellers, the treasury (levy) or a stated cost, both stages
    scale = 1.0 + df.consumer_spend_bloc.abs().max()
    assert (df.money_residual.abs() <= 1e-6 * scale).all()
    # unmet demand by end use adds up
    uses = [f"unmet_bloc_{u.name}" for u in m.config.end_uses]
    np.testing.assert_allclose(df[uses].sum(axis=1), df.unmet_bloc, rtol=1e-9, atol=1e-9)
    for col in [c for c in df.columns if c.startswith("price_")]:
        vals = df[col].to_numpy()
        live = vals[~np.isnan(vals)]
        assert np.isfinite(live).all() and (live >= 0).all(), col
    # a segment with buyers always has a price
    assert not df.price_home_refined.isna().any()
    assert not df.price_world_refined.isna().any()
    if m.members and any(c.code in m.members for c in m.consumers):
        assert not df.price_bloc_refined.isna().any()
    else:
        assert df.price_bloc_refined.isna().all()  # no bloc: an empty segment has no price
    for p in m.plants:
        assert p.capacity >= 0 and all(q >= -1e-9 for q, _ in p.tranches)
    for c in m.consumers:
        assert c.stock >= -1e-9


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    k=st.integers(0, 14),
    floor=st.sampled_from([0.0, 60.0, 110.0, 150.0]),
    instrument=st.sampled_from(["levy", "cfd", "buffer", "procurement", "levy+buffer", "cfd+procurement"]),
    event=st.sampled_from(
        [
            None,
            "export_ban:start=6,duration=12,target=members",
            "export_ban:start=6,duration=12,target=all",
            "export_quota:start=13,duration=12,share=0.5,target=all",
            "export_licence:start=6,duration=12,share=0.5,delay=2,approval_sd=0.1,announce=3",
            "export_ban:start=6,duration=12,target=members,enforcement=0",
            "demand_shock:start=3,duration=12,factor=1.4",
        ]
    ),
    dumping=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_invariants_hold_every_step(sc, k, floor, instrument, event, dumping, seed):
    m = run(
        sc,
        steps=36,
        members=k,
        floor=floor if k else 0.0,  # a floor needs members
        instrument=instrument,
        seed=seed,
        events=[event] if event else [],
        dumping=dumping,
    )
    check_invariants(m)
    s = m.summary()
    assert all(isinstance(v, float) for v in s.values())


def test_same_seed_same_run(sc):
    kw = dict(members=["EU", "US", "JP"], floor=110.0, instrument="cfd", events=["export_ban:start=30,duration=12"])
    a, b = run(sc, steps=60, seed=7, **kw), run(sc, steps=60, seed=7, **kw)
    pd.testing.assert_frame_equal(
        a.datacollector.get_model_vars_dataframe(), b.datacollector.get_model_vars_dataframe()
    )
    assert a.summary() == b.summary()
    c = run(sc, steps=60, seed=8, **kw)
    assert not a.datacollector.get_model_vars_dataframe().equals(c.datacollector.get_model_vars_dataframe())


def test_per_step_table_is_documented(sc):
    m = run(sc, steps=3, members=3)
    df = m.datacollector.get_model_vars_dataframe()
    assert list(df.columns) == list(columns_for(m.config))
    assert list(df.step) == [0, 1, 2]
    required = """price_bloc_refined price_world_refined price_home_refined price_bloc_concentrate
    price_world_concentrate demand_bloc unmet_bloc demand_world unmet_world capacity_mining_member
    capacity_refining_member capacity_mining_dominant capacity_refining_dominant capacity_mining_other
    capacity_refining_other stock_authority stock_consumers_bloc""".split()
    assert set(required) <= set(df.columns)
    agents = m.datacollector.get_agenttype_vars_dataframe(Plant)
    assert set(agents.country) >= {"CN", "US", "EU"}
    assert len(agents) == 3 * len(m.plants)


def test_summary_has_every_metric_as_a_float(sc):
    from experiments.metrics import METRICS

    s = run(sc, steps=24, members=["EU", "US", "JP"], floor=110.0, instrument="levy").summary()
    assert list(s) == list(METRICS)
    assert all(isinstance(v, float) for v in s.values())


def test_no_bloc_runs_and_has_no_bloc_price(sc):
    m = run(sc, steps=24, members=None, floor=0.0)
    check_invariants(m)
    assert math.isnan(m.summary()["price_bloc_mean"])


def test_export_quota_caps_exports(sc):
    m = run(
        sc, steps=36, members=3, dumping=False, events=["export_quota:start=12,duration=12,share=0.5,target=members"]
    )
    df = m.datacollector.get_model_vars_dataframe()
    before = df.supply_bloc_dominant.iloc[0:12].mean()
    during = df.supply_bloc_dominant.iloc[12:24]
    assert (during <= 0.5 * before + 1e-6).all()
    assert during.max() > 0


def test_demand_shock_raises_demand(sc):
    base = run(sc, steps=24, members=3, dumping=False, seed=3).datacollector.get_model_vars_dataframe()
    shock = run(sc, steps=24, members=3, dumping=False, seed=3, events=["demand_shock:start=12,duration=6,factor=1.3"])
    df = shock.datacollector.get_model_vars_dataframe()
    ratio = df.demand_bloc.iloc[12:18] / base.demand_bloc.iloc[12:18]
    assert ratio.iloc[0] == pytest.approx(1.3)  # then the long-run response to higher prices sets in
    assert ((ratio > 1.2) & (ratio <= 1.3 + 1e-9)).all()
    np.testing.assert_allclose(df.demand_bloc.iloc[:12], base.demand_bloc.iloc[:12])


def test_run_continues_past_horizon(sc):
    m = BlocModel(sc, members=3, seed=1, steps=12)
    m.run()
    m.run(6)
    assert m.recorder.n == 18


def test_cfd_costs_the_treasury_levy_costs_consumers(sc):
    none = run(sc, steps=120, members=3, dumping=True).summary()
    cfd = run(sc, steps=120, members=3, dumping=True, floor=110.0, instrument="cfd").summary()
    levy = run(sc, steps=120, members=3, dumping=True, floor=110.0, instrument="levy").summary()
    assert cfd["fiscal_cost"] > 0 and cfd["cfd_paid"] > 0
    assert levy["price_bloc_mean"] > none["price_bloc_mean"]
    assert levy["consumer_surplus_bloc_pv"] < none["consumer_surplus_bloc_pv"]  # consumers bear the levy
    assert levy["fiscal_cost"] < 0 and levy["levy_revenue"] > 0  # the levy raises revenue
    assert cfd["member_capacity_retained"] > none["member_capacity_retained"]  # what the treasury buys


def test_plants_added_by_projects_join_their_countrys_export_controls():
    """A country's export controls are one strategy shared by its plants (the quota base is the country's
    exports): a plant a project adds in an issuing country joins it; elsewhere it sells competitively."""
    m = BlocModel(load_scenario("cobalt"), seed=1)  # the DRC (CD) issues export controls
    controls = m.export_controls[("CD", "concentrate")]
    assert all(p.strategies == [controls] for p in m.mines if p.code == "CD")
    added = {}
    for code in ("CD", "AU"):
        project = next(ps for ps in m.pipeline.projects if ps.spec.country == code and ps.spec.stage == "mining")
        added[code] = m.pipeline._owner_plant(project)
        assert added[code] in m.mines and added[code].firm == project.spec.firm
    assert added["CD"].strategies == [controls]
    assert added["AU"].strategies == []


def test_record_plants_false_keeps_the_model_table_only(sc):
    """``record_plants=False`` (what sweeps use) records the same per-step table, and no plant rows."""
    full = run(sc, steps=24, members=3, floor=110.0)
    lean = run(sc, steps=24, members=3, floor=110.0, record_plants=False)
    pd.testing.assert_frame_equal(
        lean.datacollector.get_model_vars_dataframe(), full.datacollector.get_model_vars_dataframe()
    )
    plant_rows = full.datacollector.get_agenttype_vars_dataframe(Plant)
    assert plant_rows.index.get_level_values("Step").nunique() == 24
    assert len(plant_rows.loc[plant_rows.index.get_level_values("Step").max()]) == len(full.plants)
    assert not lean.datacollector._agenttype_records
    with pytest.warns(UserWarning, match="No agent-type reporters"):
        assert lean.datacollector.get_agenttype_vars_dataframe(Plant).empty
    with pytest.raises(ScenarioError, match="record_plants"):
        BlocModel(sc, record_plants="no")


def test_a_month_pauses_the_garbage_collector_and_restores_its_state(sc, monkeypatch):
    import gc

    import model.model as mm
    from model.market import run_stage

    seen = []
    monkeypatch.setattr(mm, "run_stage", lambda *a, **k: seen.append(gc.isenabled()) or run_stage(*a, **k))
    m = BlocModel(sc, seed=1)
    assert gc.isenabled()
    m.run(2)
    assert seen == [False] * 4 and gc.isenabled()  # paused in the month, on again after it
    gc.collect()
    gc.disable()
    try:
        m.run(24)
        assert not gc.isenabled()  # a caller's choice is kept
        assert gc.collect() == 0  # months leave no reference cycles, so pausing the collector holds no memory
    finally:
        gc.enable()
    monkeypatch.setattr(mm, "run_stage", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        m.step()
    assert gc.isenabled()  # restored when a month fails
