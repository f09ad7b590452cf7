"""Scenario files: validation with one clear message, and a source for every number."""

from __future__ import annotations

import re
import tomllib

import pytest

from model import BlocModel, ScenarioError, load_scenario
from model.scenario import SCENARIO_DIR, parse_event, scenario_from_dict, scenario_names


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


@pytest.mark.parametrize("name", scenario_names())
def test_every_number_has_a_source_or_says_assumed(name):
    """Each line of every shipped TOML that sets a number carries a comment: a source or `assumed` with a reason."""
    bad = []
    text = (SCENARIO_DIR / f"{name}.toml").read_text()
    text = text.split("\n[uncertain]")[0]  # the ranges table carries its reasons in `why`
    for i, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        value = code.split("=", 1)[1].strip() if "=" in code else ""
        if value and not value.startswith('"') and re.search(r"\d", value):
            comment = line.split("#", 1)[1].strip() if "#" in line else ""
            if len(comment) < 8:
                bad.append(f"line {i}: {line.strip()}")
            elif comment.startswith("assumed") and len(comment) < len("assumed") + 3:
                bad.append(f"line {i}: assumed without a reason")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_has_the_firm_tables(name):
    """The firm model (issue 8) reads [finance] and [dominant_policy]: every shipped scenario has both."""
    sc = load_scenario(name)
    assert sc.finance is not None and sc.dominant_policy is not None
    assert sc.finance.capex_mining > 0 and sc.finance.capex_refining > 0


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
        # strict types: the string "false" is not a boolean, a number is not a name
        (lambda r: r.update(allow_dominant_member="false"), "allow_dominant_member"),
        (lambda r: r.update(name=123), "name"),
        (lambda r: country(r, "EU").update(name=["European", "Union"]), "countries[EU].name"),
        (lambda r: r.update(steps=1.7), "steps"),
        # sane magnitudes
        (lambda r: country(r, "US")["mining"].update(capacity=1e300), "countries[US].mining.capacity"),
        (lambda r: country(r, "EU")["consumer"].update(demand=1e305), "countries[EU].consumer.demand"),
        (lambda r: r.update(steps=10**9), "steps"),
        # inconsistent pairs
        (lambda r: country(r, "US")["mining"].update(potential=1.0), "countries[US].mining.potential"),
        (lambda r: r["bloc"].update(procurement_max_months=0.5), "bloc.procurement_max_months"),
        (lambda r: r["end_uses"][0].update(reservation=0.5), "end_uses[0].reservation"),
        (
            lambda r: [c["consumer"].update(demand=0.0) for c in r["countries"] if "consumer" in c],
            "countries.consumer.demand",
        ),
        # duplicates, events after the horizon, keys that do not belong to an event kind
        (lambda r: r["bloc"].update(accession_order=["EU", "US", "EU"]), "bloc.accession_order"),
        (lambda r: r.update(events=[{"kind": "export_ban", "start": 500, "duration": 2}]), "events[0].start"),
        (
            lambda r: r.update(events=[{"kind": "export_ban", "start": 5, "duration": 2, "factor": 2.0}]),
            "events[0].factor",
        ),
        (lambda r: r.update(events=[{"kind": "demand_shock", "start": 5, "duration": 2}]), "events[0].factor"),
        (lambda r: r.update(events={"kind": "export_ban", "start": 5, "duration": 2}), "events"),
    ],
)
def test_bad_scenarios_name_field_and_value(raw, mutate, field):
    mutate(raw)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(raw)
    assert err.value.field == field
    assert field in str(err.value)


REMOVED_KEYS = [  # not read since the firm model ([finance], [[projects]], [dominant_policy]); removed
    *(
        ("defaults", key, value)
        for key, value in [
            ("cash_months", 12.0), ("cash_cap_months", 24.0), ("restart_delay", 6), ("close_after", 36),
            ("invest_rate", 0.25), ("invest_min", 20.0), ("busy", 0.8), ("restart_margin", 1.1),
        ]
    ),
    ("dumping", "trigger_member_share", 0.02),
]


@pytest.mark.parametrize("table, key, value", REMOVED_KEYS)
def test_removed_keys_are_refused_by_name(raw, table, key, value):
    raw[table][key] = value
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(raw)
    assert err.value.field == f"{table}.{key}"
    assert str(err.value).startswith(f"{table}.{key} = {value!r}: unknown key")


def test_scenario_file_with_a_removed_key_fails_to_load(tmp_path):
    text = (SCENARIO_DIR / "rare_earths.toml").read_text()
    old = "[defaults]\n"
    assert text.count(old) == 1
    path = tmp_path / "old.toml"
    path.write_text(text.replace(old, old + "invest_rate = 0.25               # an old file\n"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.field == "defaults.invest_rate"
    assert "defaults.invest_rate = 0.25: unknown key" in str(err.value)
    # the [finance] table keeps its own restart_delay and close_after
    sc = load_scenario("rare_earths")
    assert sc.finance.restart_delay == 6 and sc.finance.close_after == 36
    assert not hasattr(sc.defaults, "restart_delay") and not hasattr(sc.dumping, "trigger_member_share")


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


def test_numpy_numbers_are_numbers(raw):
    import numpy as np

    country(raw, "US")["mining"].update(capacity=np.float64(900.0), lead_time=np.int64(60))
    raw["steps"] = np.int64(120)
    sc = scenario_from_dict(raw)
    assert sc.steps == 120 and type(sc.country("US").mining.lead_time) is int


def test_bad_files_are_one_clear_error(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    for path, why in [(tmp_path / "dir.toml", "is a directory"), (tmp_path / "latin1.toml", "not UTF-8")]:
        with pytest.raises(ScenarioError, match=why):
            load_scenario(path)
    for bad in (42, None, ""):
        with pytest.raises(ScenarioError, match="scenario"):
            load_scenario(bad)


def test_validate_run_is_the_one_layer_for_run_options():
    import numpy as np

    from model.scenario import validate_run

    sc = load_scenario("rare_earths")
    ok = validate_run(sc, members=np.int64(3), floor=np.int64(110), instrument="levy", seed=np.uint32(4), steps=12)
    assert ok["members"] == ["EU", "US", "JP"] and ok["floor"] == 110.0 and ok["seed"] == 4 and ok["steps"] == 12
    m = BlocModel(sc, **ok)  # what validate_run returns is what BlocModel takes
    assert m.horizon == 12
    for kwargs, field in [
        (dict(members=3.5), "members"),
        (dict(members=3, floor=100, instrument=5), "instrument"),
        (dict(seed="abc"), "seed"),
        (dict(seed=1.5), "seed"),
        (dict(steps="10"), "steps"),
        (dict(steps=1.7), "steps"),
        (dict(member_stockpile_months="6"), "member_stockpile_months"),
        (dict(events="export_ban:start=1,duration=2"), "events"),
        (dict(events=[42]), "event"),
        (dict(dumping="no"), "dumping"),
        (dict(members="none", floor=110), "floor"),
        (dict(members=3, floor=1e300), "floor"),
        (dict(events=["export_ban:start=300,duration=2"]), "event.start"),
    ]:
        with pytest.raises(ScenarioError) as err:
            validate_run(sc, **kwargs)
        assert err.value.field == field, kwargs
    for bad in ("rare_earths", None):
        with pytest.raises(ScenarioError, match="must be a Scenario"):
            validate_run(bad)


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
        ("export_ban:start=1,start=2,duration=2", "event.start"),
        ("export_ban:start=1,duration=2,share=0.5", "event.share"),
        ("export_ban:start=1.5,duration=2", "event.start"),
    ]:
        with pytest.raises(ScenarioError) as err:
            parse_event(bad)
        assert err.value.field == field
