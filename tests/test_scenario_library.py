"""The scenario library: every shipped mineral loads, is sourced line by line, and runs."""

from __future__ import annotations

import dataclasses

import pytest

from model import BlocModel, load_scenario, scenario_names

LIBRARY = ["gallium", "graphite", "tungsten", "cobalt", "lithium", "heavy_rare_earths", "antimony"]
NO_CONTROLS_IN_FORCE = {"lithium"}  # the Oct 2025 Li-battery controls were suspended before taking effect
# sourced share of the dominant supplier's refined stage (the scenario header names the row)
DOMINANT_REFINED_SHARE = {
    "gallium": 0.988,
    "graphite": 0.90,
    "tungsten": 0.85,
    "cobalt": 0.78,
    "lithium": 0.68,
    "antimony": 0.80,
    "heavy_rare_earths": 0.97,
}
BASELINE_BAND = (0.85, 1.10)  # no-bloc price over the first 5 years / reference price


def test_library_is_shipped():
    assert set(LIBRARY) <= set(scenario_names())


# (every number's source comment: tests/test_scenario.py, for every shipped scenario)


@pytest.mark.parametrize("name", LIBRARY)
def test_scenario_loads_with_description_vintage_and_events(name):
    sc = load_scenario(name)
    assert sc.description and "\n" not in sc.description and sc.vintage
    assert all(e.is_control for e in sc.events)
    assert bool(sc.events) == (name not in NO_CONTROLS_IN_FORCE)
    assert sc.dominant not in sc.bloc.accession_order and len(sc.bloc.accession_order) >= 3
    assert abs(sum(u.share for u in sc.end_uses) - 1) < 1e-9


def test_cobalt_has_two_dominant_suppliers():
    sc = load_scenario("cobalt")
    assert sc.dominant == "CN"
    assert {e.issuer for e in sc.events} == {"CD"}
    mining = sum(c.mining.capacity for c in sc.countries if c.mining)
    refining = sum(c.refining.capacity for c in sc.countries if c.refining)
    assert 0.74 < sc.country("CD").mining.capacity / mining < 0.78  # Cobalt Institute 76%
    assert 0.76 < sc.country("CN").refining.capacity / refining < 0.80  # FT 77% / IEA ~80%


@pytest.mark.parametrize("name", LIBRARY)
def test_baseline_near_reference_and_dominant_share(name):
    """No bloc, no events: price within BASELINE_BAND of the reference over the first 5 years, and the
    dominant supplier's share of refined sales at t=0 within 0.12 of its sourced share."""
    sc = load_scenario(name)
    base = dataclasses.replace(sc, events=())
    model = BlocModel(base, members=0, seed=1, steps=240)
    model.step()
    out = model.refined
    share = sum(out.from_dominant) / sum(out.traded)
    assert abs(share - DOMINANT_REFINED_SHARE[name]) < 0.12, share
    model.run(239)
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 240
    ratio = df.price_world_refined.iloc[:60].mean() / sc.market.reference_price
    assert BASELINE_BAND[0] <= ratio <= BASELINE_BAND[1], ratio


@pytest.mark.parametrize("name", LIBRARY)
def test_runs_with_a_levy_floor_and_events(name):
    sc = load_scenario(name)
    floor = 1.2 * sc.market.reference_price
    model = BlocModel(sc, members=3, floor=floor, instrument="levy", seed=1).run(240)
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 240 and df.price_bloc_refined.notna().all()
    events_only = BlocModel(sc, members=0, seed=1).run(240)
    assert events_only.recorder.n == 240


@pytest.mark.parametrize("instrument", ["levy", "cfd", "buffer"])
@pytest.mark.parametrize("name", LIBRARY)
def test_runs_with_each_instrument_and_the_firm_model(name, instrument):
    """Three members, a floor at 1.3x the reference price, each instrument, the scenario's events: 240 months."""
    sc = load_scenario(name)
    model = BlocModel(sc, members=3, floor=1.3 * sc.market.reference_price, instrument=instrument, seed=1).run(240)
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 240 and df.price_bloc_refined.notna().all()
