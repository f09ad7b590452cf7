"""Uncertain parameters in a scenario: the [uncertain] table, its validation, and overrides."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from model import load_scenario
from model.scenario import ScenarioError, scenario_from_dict
from model.uncertainty import Uncertain, apply, get, parse_uncertain, raw_scenario, scenario_uncertain

DATA = Path(__file__).parent / "data"
SMALL = DATA / "uncertain_small.toml"


def test_test_scenario_declares_its_ranges():
    u = scenario_uncertain(SMALL)
    assert list(u) == [
        "defaults.elasticity_long",
        "market.transport_refined",
        "market.concentrate_floor_ratio",
        "defaults.stock_fill_months",
        "finance.restart_delay",
        "countries.US.mining.fixed_cost",
    ]
    tr = u["market.transport_refined"]
    assert (tr.dist, tr.low, tr.mode, tr.high, tr.base) == ("triangular", 1.0, 2.0, 4.0, 2.0)
    assert u["defaults.stock_fill_months"].dist == "loguniform"
    assert u["finance.restart_delay"].integer and not u["defaults.stock_fill_months"].integer
    assert all(p.why for p in u.values())
    # the scenario itself still loads, its [uncertain] table set aside
    sc = load_scenario(SMALL)
    assert sc.market.transport_refined == 2.0 and sc.finance.restart_delay == 6
    assert isinstance(scenario_uncertain("rare_earths"), dict)  # the shipped scenario may declare ranges too


def test_overrides_reach_the_scenario_and_leave_the_base_alone():
    sc = load_scenario(
        SMALL,
        overrides={
            "countries.US.mining.fixed_cost": 5.5,
            "finance.restart_delay": 7.4,
            "market.concentrate_floor_ratio": 0.45,
            "countries.CN.mining.tranches.1.1": 33.0,
        },
    )
    assert sc.country("US").mining.fixed_cost == 5.5
    assert sc.finance.restart_delay == 7 and isinstance(sc.finance.restart_delay, int)
    assert sc.market.concentrate_floor_ratio == 0.45
    assert sc.country("CN").mining.tranches[1] == (0.4, 33.0)
    base = load_scenario(SMALL)
    assert base.country("US").mining.fixed_cost == 4.0 and base.market.concentrate_floor_ratio == 0.6
    # shipped scenarios take overrides too
    assert load_scenario("rare_earths", overrides={"defaults.stock_fill_months": 6}).defaults.stock_fill_months == 6.0


def test_apply_copies_and_get_walks_codes_and_indices():
    raw = raw_scenario(SMALL)
    before = copy.deepcopy(raw)
    new = apply(raw, {"countries.EU.refining.capacity": 100.0, "bloc.procurement_target_months": 3})
    assert raw == before
    assert get(new, "countries.EU.refining.capacity") == 100.0
    assert get(new, "countries.1.refining.capacity") == 100.0  # by index too
    assert get(new, "bloc.procurement_target_months") == 3.0
    with pytest.raises(ScenarioError) as err:
        apply(raw, {"countries.XX.mining.capacity": 1})
    assert 'overrides."countries.XX.mining.capacity"' in str(err.value) and "known codes" in str(err.value)
    with pytest.raises(ScenarioError, match="not a number"):
        apply(raw, {"dominant": 1})


def test_quantiles_follow_the_distributions():
    scipy_stats = pytest.importorskip("scipy.stats")
    uni = Uncertain("a", 2.0, 6.0)
    assert uni.value(0) == 2 and uni.value(1) == 6 and uni.value(0.25) == 3
    tri = Uncertain("b", 1.0, 4.0, "triangular", 2.0)
    ref = scipy_stats.triang(c=1 / 3, loc=1, scale=3)
    for q in (0.01, 0.2, 1 / 3, 0.5, 0.9, 0.99):
        assert tri.value(q) == pytest.approx(ref.ppf(q))
    log = Uncertain("c", 6.0, 24.0, "loguniform")
    assert log.value(0.5) == pytest.approx(12.0) and log.value(0) == pytest.approx(6.0)
    whole = Uncertain("d", 3.0, 12.0, integer=True)
    assert whole.value(0.5) == 8.0 and whole.value(0.49) == 7.0
    assert math.isclose(Uncertain("e", 5.0, 5.0).value(0.3), 5.0)


def _with(table_entry: dict, path: str) -> dict:
    raw = raw_scenario(SMALL)
    raw["uncertain"] = {path: table_entry}
    return raw


@pytest.mark.parametrize(
    "path, entry, words",
    [
        ("defaults.elasticity", {"low": -0.3, "high": -0.05}, "unknown parameter"),
        ("countries.ZZ.mining.fixed_cost", {"low": 1, "high": 2}, "unknown parameter"),
        ("market.transport_refined", {"low": 4, "high": 1}, "low (4) > high (1)"),
        ("defaults.stock_fill_months", {"low": 13, "high": 24}, "outside the range [13, 24]"),
        ("market.transport_refined", {"dist": "triangular", "low": 1, "high": 4}, "needs 'mode'"),
        ("market.transport_refined", {"dist": "triangular", "low": 1, "mode": 5, "high": 4}, "mode (5)"),
        ("market.transport_refined", {"dist": "normal", "low": 1, "high": 4}, "unknown distribution"),
        ("market.transport_refined", {"low": 1, "high": 4, "sd": 1}, "unknown key 'sd'"),
        ("market.transport_refined", {"low": 1}, "needs 'high'"),
        ("defaults.elasticity_long", {"dist": "loguniform", "low": -1.0, "high": -0.3}, "low > 0"),
        ("market.concentrate_floor_ratio", {"low": 0.4, "high": 1.5}, "high makes the scenario invalid"),
        ("finance.restart_delay", {"low": 2.5, "high": 12}, "whole numbers"),
        ("dominant", {"low": 1, "high": 2}, "not a number"),
        ("market", {"low": 1, "high": 2}, "not a number"),
    ],
)
def test_bad_uncertain_tables_name_path_and_value(path, entry, words):
    raw = _with(entry, path)
    with pytest.raises(ScenarioError) as err:
        if "makes the scenario invalid" in words:  # bounds are checked by parse_uncertain, not on every load
            parse_uncertain(raw["uncertain"], raw)
        else:
            scenario_from_dict(raw)
    assert err.value.field == f'uncertain."{path}"'
    assert words in str(err.value)


def test_uncertain_must_be_a_table():
    raw = raw_scenario(SMALL)
    raw["uncertain"] = ["defaults.stock_fill_months"]
    with pytest.raises(ScenarioError, match="must be a table"):
        scenario_from_dict(raw)
    with pytest.raises(ScenarioError, match="must be a table"):
        parse_uncertain({"defaults.stock_fill_months": 3}, raw)


def test_shipped_scenarios_declare_valid_ranges_for_their_assumed_numbers():
    """Every shipped scenario's [uncertain] table is valid at every bound; rare_earths covers its assumed numbers."""
    from model.scenario import scenario_names

    for name in scenario_names():
        scenario_uncertain(name)  # raises ScenarioError naming the path if a bound makes the scenario invalid
    u = scenario_uncertain("rare_earths")
    assert len(u) > 200 and all(p.why for p in u.values())
    assert {"market.enforcement", "storage.precaution", "end_uses.0.reservation", "finance.cost_of_capital"} <= set(u)
