"""Firms (issue 8): balance sheets whose money is conserved, named facilities, projects,
the dominant supplier's objective, and the no-bloc baseline against 2024 and the outlook.

Covers the review's rows 5 (no free bail-outs), 6 (exit on net worth / liquidity, inventory an
asset), 9 (expectations include what the instrument covers), 10 (new plants ramp up and buy
feed) and 11 (stale prices decay).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from agents.producers import ACTIVE, CLOSED, FLOW_SIGNS, MOTHBALLED
from model.model import BlocModel
from model.scenario import load_scenario

SC = load_scenario("rare_earths")
BAN = "export_ban:start=60,duration=24,target=members"


def _check_cash_identity(m: BlocModel, months: int) -> None:
    for _ in range(months):
        m.step()
        for p in m.plants:
            change = p.cash - p.month_cash_open
            flows = p.cash_change(p.month_flows)
            assert change == pytest.approx(flows, rel=1e-9, abs=1e-3), (m.month, p.firm, p.code, p.stage)
            assert set(p.month_flows) == set(FLOW_SIGNS)


@pytest.mark.parametrize("instrument", ["levy", "cfd", "buffer", "procurement"])
@pytest.mark.parametrize("ban", [False, True])
@pytest.mark.parametrize("dumping", [False, True])
def test_every_firms_cash_change_equals_its_recorded_flows(instrument, ban, dumping):
    """Each month, every plant's cash change = revenue + CfD - variable - fixed - interest - repayment
    - capex + new debt + new equity - dividends - mothball/restart costs (+ write-off at closure)."""
    m = BlocModel(SC, members=["EU", "US", "JP"], floor=81.0, instrument=instrument, seed=2,
                  events=[BAN] if ban else [], dumping=dumping)
    _check_cash_identity(m, 120)


def test_cash_identity_without_a_bloc():
    _check_cash_identity(BlocModel(SC, seed=1), 120)


def test_no_free_bail_out_on_restart():
    """Review row 5: a restart costs money and never resets cash."""
    m = BlocModel(SC, seed=1)
    m.step()
    p = next(p for p in m.refiners if p.code == "EU")
    p.status, p.mothballed_months = MOTHBALLED, 100
    p.cash = -0.5 * p.credit_line
    p.expected_price = 1e3  # restart pays
    p.clear_month()
    cash_before = p.cash
    p.decide()
    assert p.status == ACTIVE
    assert p.cash < cash_before  # the restart cost was paid, nothing was gifted
    assert p.month_cash_open == pytest.approx(p.month_cash_open)
    assert p.flows["restart_cost"] > 0


def test_inventory_is_an_asset_and_exit_needs_insolvency_or_illiquidity():
    """Review row 6: buying feed lowers cash but not net worth; a plant with negative cash inside its
    credit line stays on line."""
    m = BlocModel(SC, seed=1)
    m.step()
    p = next(p for p in m.refiners if p.firm == "Lynas")
    nw = p.net_worth
    p.inventory += 100.0
    p.inventory_cost += 100.0 * 60.0 * 1000.0
    p.cash -= 100.0 * 60.0 * 1000.0
    assert p.net_worth == pytest.approx(nw)
    p.cash = -0.5 * p.credit_line
    p.expected_price = 1e3
    p.decide()
    assert p.status == ACTIVE
    p.cash = -2.0 * p.credit_line
    p.decide()
    assert p.status == MOTHBALLED


def test_mothballed_too_long_closes_and_capacity_is_gone():
    m = BlocModel(SC, seed=1)
    m.step()
    p = next(p for p in m.refiners if p.code == "JP")
    p.status, p.mothballed_months = MOTHBALLED, SC.finance.close_after
    p.expected_price = -1e3
    p.decide()
    assert p.status == CLOSED and p.capacity == 0.0


def test_capex_is_paid_and_financed_when_projects_are_built():
    m = BlocModel(SC, seed=1).run(24)
    df = m.datacollector.get_model_vars_dataframe()
    assert df["capex_paid"].sum() > 1e8
    built = [ps for ps in m.pipeline.projects if ps.status == "built"]
    assert built
    for ps in built:
        assert ps.paid == pytest.approx(ps.spec.capex)


def test_stale_prices_decay_towards_import_parity():
    """Review row 11: a segment with no trade no longer keeps a frozen price."""
    from agents.firms import decay_stale_prices, import_parity

    m = BlocModel(SC, members=["EU", "US", "JP"], seed=1)
    m.step()
    k = m.segments.bloc
    m._last_prices["concentrate"][k] = 118.3
    m.concentrate.prices[k] = math.nan
    target = import_parity(m, "concentrate", k)
    for _ in range(24):
        decay_stale_prices(m)
    assert abs(m._last_prices["concentrate"][k] - target) < 0.01 * 118.3


def test_new_plants_ramp_up_and_buy_feed_for_planned_output():
    """Review row 10: a plant whose capacity arrives buys feed for design utilisation x ramp."""
    m = BlocModel(SC, seed=1)
    m.step()
    p = next(p for p in m.refiners if p.code == "UK")
    p.add_capacity(50.0, 22.0, 4.0, 24)
    p.expected_sales = 0.0
    m.month += 1
    want = sum(q.quantity for q in p.bids()) * SC.market.refining_yield
    assert want > 0.2 * 50.0 * SC.finance.ramp_start
    assert p.available_capacity() < 50.0


def test_expectations_include_what_the_instrument_covers():
    """Review row 9: a member's investment price under a floor instrument exceeds its own expectation."""
    m = BlocModel(SC, members=["EU", "US", "JP"], floor=110.0, instrument="cfd", seed=1)
    m.step()
    p = next(p for p in m.refiners if p.firm == "MP Materials")
    assert m.authority.guaranteed_price(p, 50.0) > 50.0


# ------------------------------------------------------------------ firms and projects
def test_country_totals_equal_the_sourced_figures():
    m = BlocModel(SC, seed=1)
    for c in SC.countries:
        for role, plants in ((c.mining, m.mines), (c.refining, m.refiners)):
            if role is None:
                continue
            total = sum(p.capacity for p in plants if p.code == c.code)
            assert total == pytest.approx(role.capacity), c.code
    firms = {p.firm for p in m.plants}
    for name in ("MP Materials", "Lynas", "Northern Rare Earth", "China Rare Earth Group",
                 "Neo Performance Materials", "Solvay", "Energy Fuels", "Myanmar ionic clay (Kachin)"):
        assert name in firms


def test_per_plant_table_has_the_firm_name():
    from agents.producers import Plant

    m = BlocModel(SC, seed=1).run(2)
    df = m.datacollector.get_agenttype_vars_dataframe(Plant)
    assert "firm" in df.columns and "MP Materials" in set(df["firm"])


def test_pipeline_incentive_prices_match_benchmark():
    """Benchmark: ~40% of the pipeline needs 75-85 $/kg, ~15% more than 85, none earns 15% at 54."""
    m = BlocModel(SC, seed=1)
    pl = m.pipeline
    named = [ps for ps in pl.projects if not ps.generic]
    caps = np.array([ps.spec.capacity for ps in named])
    prices = np.array([pl.incentive_price(ps) for ps in named])
    mid = caps[(prices >= 75) & (prices <= 85)].sum() / caps.sum()
    high = caps[prices > 85].sum() / caps.sum()
    assert 0.3 <= mid <= 0.5
    assert 0.08 <= high <= 0.25
    assert all(pl.incentive_price(ps, 0.15) > 54.0 for ps in pl.projects)  # generic expansions too


# ------------------------------------------------------------------ the dominant supplier
def _dump_run(**dump):
    import dataclasses

    sc = dataclasses.replace(SC, dumping=dataclasses.replace(SC.dumping, **dump),
                             dominant_policy=dataclasses.replace(SC.dominant_policy, retaliation_probability=0.0))
    m = BlocModel(sc, members=["EU", "US", "JP"], floor=81.0, instrument="levy", seed=1).run(120)
    df = m.datacollector.get_model_vars_dataframe()
    return df


def test_dumping_parameters_move_outcomes():
    small = _dump_run(loss_budget=1e8)
    large = _dump_run(loss_budget=1e10)
    assert large["dumping_loss_cum"].iloc[-1] > small["dumping_loss_cum"].iloc[-1]
    assert small["dumping_loss_cum"].iloc[-1] <= 1e8 * 1.5  # the budget binds (one month's overshoot)
    assert (large["dumped"].sum() != small["dumped"].sum())


def test_one_member_bloc_is_not_treated_discontinuously():
    """Predation's trigger does not depend on the number of members (rivals' share of world capacity,
    on line and being built), and its volume scales with bloc demand: a one-member bloc is predated
    on from the same month as a two-member one, with the same volume per tonne of bloc demand."""
    out = {}
    for members in (["EU"], ["EU", "US"]):
        m = BlocModel(SC, members=members, seed=1, dumping=True).run(24)
        df = m.datacollector.get_model_vars_dataframe()
        first = int(np.argmax(df["dominant_predating"].to_numpy() > 0))
        assert df["dominant_predating"].iloc[first] == 1.0
        window = df.iloc[first: first + 3]
        out[len(members)] = (first, (window["dumped"] / window["demand_bloc"]).mean())
    assert out[1][0] == out[2][0]
    assert out[1][1] == pytest.approx(out[2][1], rel=0.25)


def test_retaliation_is_recorded():
    import dataclasses

    sc = dataclasses.replace(SC, dominant_policy=dataclasses.replace(SC.dominant_policy, retaliation_probability=1.0))
    m = BlocModel(sc, members=["EU", "US", "JP"], floor=81.0, instrument="levy", seed=1).run(24)
    df = m.datacollector.get_model_vars_dataframe()
    assert m.dominant_policy.response == "retaliation"
    assert df["dominant_retaliated"].iloc[-1] == 1.0
    assert df["dominant_predating"].sum() == 0


def test_dominant_capacity_follows_the_quota():
    m = BlocModel(SC, seed=1)
    start = sum(p.capacity for p in m.mines if p.code == "CN")
    m.run(60)
    end = sum(p.capacity for p in m.mines if p.code == "CN")
    assert end / start == pytest.approx((1 + SC.dominant_policy.quota_growth) ** 5, rel=0.02)


# ------------------------------------------------------------------ the baseline
@cache
def _baseline():
    m = BlocModel(SC, seed=1).run(84)
    return m, m.datacollector.get_model_vars_dataframe()


# (column, year (0 = 2024), low, high): the bands the baseline must stay within
BASELINE_BANDS = [
    ("price_home_refined", 0, 50.0, 62.0),  # 2024 NdPr oxide ~55 $/kg (Fastmarkets 50-63, Benchmark 54)
    ("share_mining_dominant", 0, 0.64, 0.76),  # USGS 2024: 69%
    ("share_refining_dominant", 0, 0.85, 0.95),  # IEA: 91-92%
    ("refined_output", 0, 7000.0, 9000.0),  # ~100 kt/yr NdPr oxide = 8,333 t/month
    # 2030 (year 6) against the IEA GCMO 2024 outlook; the bands are the outlook +- the stated width
    ("share_mining_dominant", 6, 0.54 - 0.12, 0.54 + 0.12),  # IEA: China ~54% of mining
    ("share_mining_AU", 6, 0.18 - 0.10, 0.18 + 0.10),  # IEA: Australia ~18%
    ("share_mining_MM", 6, 0.09 - 0.03, 0.09 + 0.03),  # IEA: Myanmar ~9%
    ("share_refining_dominant", 6, 0.77 - 0.08, 0.77 + 0.08),  # IEA: China ~77% of refining
    ("share_refining_MY", 6, 0.12 - 0.06, 0.12 + 0.06),  # IEA: Malaysia ~12%
    ("share_refining_AU", 6, 0.03 - 0.03, 0.03 + 0.03),  # IEA: Australia ~3%
]


def test_baseline_dominant_shares_fall_towards_the_outlook():
    """The 0.1.0 baseline drifted to 99%; now China's shares fall from 2024 to 2030, as in the outlook."""
    _, df = _baseline()
    assert df["share_refining_dominant"].iloc[72:84].mean() < df["share_refining_dominant"].iloc[:12].mean() - 0.03
    assert df["share_mining_dominant"].iloc[72:84].mean() < df["share_mining_dominant"].iloc[:12].mean() + 0.01


@pytest.mark.parametrize(("column", "year", "low", "high"), BASELINE_BANDS)
def test_baseline_bands(column, year, low, high):
    _, df = _baseline()
    value = df[column].iloc[12 * year: 12 * year + 12].mean()
    assert low <= value <= high, (column, year, value)


def test_committed_projects_operate_in_2030():
    """Projects under construction in 2024 are built and still on line in 2030 (Iluka's Eneabba refinery
    nets its Dy/Tb credit from its cash cost; without it, it closed insolvent in 2029)."""
    m, _ = _baseline()
    built = {p.firm for p in m.refiners if p.status == ACTIVE and p.capacity > 0}
    for ps in m.pipeline.projects:
        if ps.spec.committed:
            assert ps.status == "built", ps.spec.name
            assert ps.spec.firm in built | {p.firm for p in m.mines if p.status == ACTIVE}, ps.spec.name


def test_mp_and_lynas_operate_at_2024_prices():
    m, _ = _baseline()
    for p in m.plants:
        if p.firm in ("MP Materials", "Lynas") and p.capacity > 0:
            assert p.status == ACTIVE, (p.firm, p.code, p.stage)


# ------------------------------------------------------------------ contracts (agents/contracts.py)
def _with_contracts(monkeypatch):
    from agents.contracts import CONTRACTS
    from agents.instruments import INSTRUMENTS

    for k, v in CONTRACTS.items():
        monkeypatch.setitem(INSTRUMENTS, k, v)


def test_dod_mp_contract_pays_below_the_strike_and_shares_the_upside(monkeypatch):
    _with_contracts(monkeypatch)
    m = BlocModel(SC, members=["US"], floor=110.0, instrument="levy+dod_mp", seed=1)
    _check_cash_identity(m, 36)
    df = m.datacollector.get_model_vars_dataframe()
    mp = next(p for p in m.refiners if p.firm == "MP Materials")
    assert m.authority.guaranteed_price(mp, 50.0) > 50.0
    assert df["cfd_paid"].iloc[:12].sum() > 0  # 2024-25 prices below 110: the DoD pays


def test_dod_mp_floor_covers_stockpiled_output(monkeypatch):
    """The floor applies to NdPr made, sold or stockpiled: a month with output but no sales is settled
    at the segment price, and each tonne once (sales of the month are not settled again)."""
    _with_contracts(monkeypatch)
    m = BlocModel(SC, members=["US"], floor=110.0, instrument="levy+dod_mp", seed=1).run(3)
    dod = next(i for i in m.authority.instruments if i.name == "dod_mp")
    mp = next(p for p in m.refiners if p.firm == "MP Materials")
    price = m.last_price("refined", m.home_segment(mp))
    assert price < dod.c.dod_strike
    m.authority.reset_flows()
    mp.output, mp.sold, mp.revenue = 100.0, 0.0, 0.0
    cash = mp.cash
    dod.close_month()
    pay = (dod.c.dod_strike - price) * 100.0 * 1000.0
    assert m.authority.flows["cfd_paid"] == pytest.approx(pay)
    assert mp.cash - cash == pytest.approx(pay)
    m.authority.reset_flows()
    mp.output, mp.sold, mp.revenue = 0.0, 50.0, 50.0 * 60.0 * 1000.0  # sold from stock: already settled
    dod.close_month()
    assert m.authority.flows["cfd_paid"] == 0.0


def test_concessional_finance_lends_to_member_projects_within_budget(monkeypatch):
    _with_contracts(monkeypatch)
    m = BlocModel(SC, members=["EU", "US", "JP", "AU"], floor=81.0, instrument="levy+concessional", seed=1)
    _check_cash_identity(m, 60)
    inst = next(i for i in m.authority.instruments if i.name == "concessional")
    assert 0 < inst.lent <= SC.contracts.concessional_budget
    assert inst.interest_subsidy > 0


def test_firm_summary_reads_per_firm_and_adds_up_per_country():
    m = BlocModel(SC, members=["EU", "US", "JP"], floor=90.0, instrument="levy", seed=2)
    m.run(36)
    fs = m.firm_summary()
    assert {"MP Materials", "Lynas", "Northern Rare Earth"} <= set(fs.firm)
    assert len(fs) == len(m.plants)
    for (code, stage), d in fs.groupby(["country", "stage"]):
        plants = m.mines if stage == "concentrate" else m.refiners
        assert d.capacity_end.sum() == pytest.approx(sum(p.capacity for p in plants if p.code == code))
    start = fs[fs.country.isin(["EU", "US", "JP"]) & (fs.stage == "refined")].capacity_start.sum()
    assert start == pytest.approx(m.start_capacity["refining"])
    assert (fs.online_end <= fs.capacity_end + 1e-9).all()


# ------------------------------------------------------------------ knife-edges (review 2.2)
def test_retention_over_seeds_is_not_bimodal():
    """EU+US+JP, levy at 1.0x members' full cost, dumping, export ban from month 120: ten seeds that
    differ in demand noise and in the dominant supplier's drawn response (predation or retaliation)
    give members' on-line retention within a factor of 2 of its median, and the two regimes' medians
    within a factor of 2 of each other (0.1.0: 0.2-5.0; before entrant lines: 1.0-10.1)."""
    from experiments.config import members_full_cost
    from model.summary import summarise

    members = ("EU", "US", "JP")
    floor = members_full_cost(SC, members)
    kept: dict[str, list[float]] = {"predation": [], "retaliation": []}
    for seed in range(1, 11):
        m = BlocModel(SC, members=list(members), floor=floor, instrument="levy", seed=seed, dumping=True,
                      events=["export_ban:start=120,duration=24,target=members"]).run(240)
        kept[m.dominant_policy.response].append(summarise(m)["member_capacity_retained"])
    values = kept["predation"] + kept["retaliation"]
    mid = float(np.median(values))
    assert all(mid / 2 <= v <= 2 * mid for v in values), kept
    if kept["predation"] and kept["retaliation"]:
        a, b = float(np.median(kept["predation"])), float(np.median(kept["retaliation"]))
        assert max(a, b) / min(a, b) <= 2.0, kept
