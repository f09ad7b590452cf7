"""Scenario files: validation with one clear message, and a source for every number."""

from __future__ import annotations

import re
import tomllib

import pytest

from model import BlocModel, ScenarioError, load_scenario
from model.scenario import SCENARIO_DIR, parse_event, scenario_from_dict


@pytest.fixture
def raw():
    return tomllib.loads((SCENARIO_DIR / "rare_earths.toml").read_text())


def country(raw, code):
    return next(c for c in raw["countries"] if c["code"] == code)


def test_default_scenario_loads():
    sc = load_scenario("rare_earths")
    assert sc.dominant == "CN"
    assert {"EU", "US", "JP", "KR", "IN", "AU", "CA", "UK", "VN", "MY", "ID", "TH", "KZ", "BR"} <= set(
        sc.bloc.accession_order
    )
    assert "CN" not in sc.bloc.accession_order and "MM" in sc.codes
    cn = sc.country("CN")
    assert cn.mining and cn.refining and cn.consumer  # one country, three roles
    # calibration: China ~70% of mining, ~90% of refining
    mining = sum(c.mining.capacity for c in sc.countries if c.mining)
    refining = sum(c.refining.capacity for c in sc.countries if c.refining)
    assert 0.6 < cn.mining.capacity / mining < 0.75
    assert 0.88 < cn.refining.capacity / refining < 0.93


def test_every_number_has_a_source_or_says_assumed():
    """Each line of the TOML that sets a number carries a comment: a source or `assumed` with a reason."""
    bad = []
    for i, line in enumerate((SCENARIO_DIR / "rare_earths.toml").read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        value = code.split("=", 1)[1].strip() if "=" in code else ""
        if value and not value.startswith('"') and re.search(r"\d", value):
            comment = line.split("#", 1)[1].strip() if "#" in line else ""
            if len(comment) < 8:
                bad.append(f"line {i}: {line.strip()}")
            elif comment.startswith("assumed") and len(comment) < len("assumed") + 3:
                bad.append(f"line {i}: assumed without a reason")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: country(r, "US")["mining"].update(capacity=-5.0), "countries[US].mining.capacity"),
        (lambda r: country(r, "US")["mining"].update(tranches=[[0.5, 30.0]]), "countries[US].mining.tranches"),
        (lambda r: country(r, "US")["mining"].update(capasity=5.0), "countries[US].mining.capasity"),
        (lambda r: r["market"].update(refining_yield=1.5), "market.refining_yield"),
        (lambda r: r["bloc"].update(accession_order=["EU", "XX"]), "bloc.accession_order"),
        (lambda r: r["bloc"].update(accession_order=["EU", "CN"]), "bloc.accession_order"),
        (lambda r: r.update(dominant="ZZ"), "dominant"),
        (lambda r: r.update(events=[{"kind": "export_ban", "start": 10}]), "events[0].duration"),
        (lambda r: r.update(events=[{"kind": "meteor", "start": 1, "duration": 2}]), "events[0].kind"),
        (lambda r: r["dumping"].update(enabled="yes"), "dumping.enabled"),
        (lambda r: r.update(colour="red"), "colour"),
    ],
)
def test_bad_scenarios_name_field_and_value(raw, mutate, field):
    mutate(raw)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(raw)
    assert err.value.field == field
    assert field in str(err.value)


def test_unknown_scenario_and_bad_files(tmp_path):
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load_scenario("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)


def test_members_resolution():
    sc = load_scenario("rare_earths")
    assert sc.resolve_members(3) == ("EU", "US", "JP")
    assert sc.resolve_members("2") == ("EU", "US")
    assert sc.resolve_members("none") == () == sc.resolve_members(0) == sc.resolve_members(None)
    assert sc.resolve_members("EU, KR") == ("EU", "KR")
    for bad, why in [("XX", "unknown country"), ("CN", "dominant"), (99, "between 0 and")]:
        with pytest.raises(ScenarioError, match=why):
            sc.resolve_members(bad)


def test_model_options_are_checked():
    sc = load_scenario("rare_earths")
    with pytest.raises(ScenarioError, match="floor"):
        BlocModel(sc, members=3, floor=-1)
    with pytest.raises(ScenarioError, match="instrument"):
        BlocModel(sc, members=3, floor=100, instrument="subsidy")
    with pytest.raises(ScenarioError, match="instrument"):
        BlocModel(sc, members=3, floor=100, instrument=None)


def test_parse_event():
    e = parse_event("export_quota:start=24,duration=36,share=0.6,target=all")
    assert (e.kind, e.start, e.duration, e.share, e.target) == ("export_quota", 24, 36, 0.6, "all")
    assert parse_event("demand_shock:start=12,duration=24,factor=1.3").factor == 1.3
    for bad, field in [
        ("export_ban", "event.start"),
        ("export_ban:start=1,duration=0", "event.duration"),
        ("export_ban:start=1,duration=2,target=friends", "event.target"),
        ("export_quota:start=1,duration=2", "event.share"),
        ("export_ban:start=1,duration=2,colour=3", "event"),
        ("tsunami:start=1,duration=2", "event"),
    ]:
        with pytest.raises(ScenarioError) as err:
            parse_event(bad)
        assert err.value.field == field
