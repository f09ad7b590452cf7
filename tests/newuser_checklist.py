"""Re-run every bad input of the 0.1.0 new-user report (148 CLI/file/path rows, 38 Python-API cases).

    python tests/newuser_checklist.py            # prints one line per case and the counts
    python tests/newuser_checklist.py --defects  # runs the tests that cover each ranked defect of the report

Each case is classified as in the report: ``clear`` (exit 2, one ``blocsim: error:`` line naming the
field and the value, no traceback, nothing written), ``traceback`` (an exception escaped), ``silent``
(accepted although wrong), ``unclear`` (exit 2 but the message misses the field or value, or something
was written). Rows needing a read-only filesystem or an immutable directory are skipped unless run as
root (they use ``mount -t tmpfs -o ro`` and ``chattr +i``). ``tests/test_checklist.py`` asserts the counts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = (ROOT / "model" / "scenarios" / "rare_earths.toml").read_text()
QUICK = (ROOT / "experiments" / "configs" / "quick.toml").read_text()


@dataclass
class Case:
    id: str
    argv: list[str] | None = None  # CLI arguments ({D} = the sandbox)
    field: str = ""  # the field the message must name
    value: str = ""  # the value it must show
    files: dict[str, str | bytes] = dataclasses.field(default_factory=dict)  # written into the sandbox first
    setup: object = None  # callable(sandbox) run first
    needs_root: bool = False


def sc_sub(pattern: str, repl: str, count: int = 1) -> str:
    text, n = re.subn(pattern, repl, SCENARIO, count=count, flags=re.M)
    assert n, pattern
    return text


def ex_sub(old: str, new: str) -> str:
    assert old in QUICK, old
    return QUICK.replace(old, new, 1)


EU_REF_CAP = r'(code = "EU"\n.*\n\[countries.refining\]\ncapacity = )71.0'
RUN_SC = ["run", "--scenario", "{D}/s.toml", "--members", "3", "--floor", "100", "--json", "--out", "{D}/out.parquet"]
SWEEP = ["sweep", "{D}/e.toml", "--out", "{D}/sw", "--backend", "serial", "--no-progress"]


def sc(id, text, field, value, argv=None):
    return Case(id, argv or RUN_SC, field, value, files={"s.toml": text})


def ex(id, text, field, value):
    return Case(id, SWEEP, field, value, files={"e.toml": text})


def run(id, args, field, value):
    return Case(id, ["run", "--steps", "6", *args], field, value)


def cases() -> list[Case]:
    out = [
        run("cli_members_unknown", ["--members", "EU,XX"], "members", "XX"),
        run("cli_members_dominant", ["--members", "CN"], "members", "CN"),
        run("cli_members_toomany", ["--members", "15"], "members", "15"),
        run("cli_members_negative", ["--members", "-1"], "members", "-1"),
        run("cli_members_lower", ["--members", "eu,us"], "members", "eu"),
        run("cli_members_float", ["--members", "2.5"], "members", "2.5"),
        run("cli_floor_neg", ["--floor", "-5"], "--floor", "-5"),
        run("cli_floor_text", ["--floor", "abc"], "--floor", "abc"),
        run("cli_floor_nan", ["--floor", "nan"], "--floor", "nan"),
        run("cli_floor_inf", ["--floor", "inf"], "--floor", "inf"),
        run("cli_floor_huge", ["--floor", "1e300", "--json"], "floor", "1e+300"),
        run("cli_floor_no_instr", ["--floor", "110", "--instrument", "none"], "instrument", "none"),
        run("cli_instr_unknown", ["--floor", "110", "--instrument", "tariff"], "instrument", "tariff"),
        run("cli_instr_trailing_plus", ["--floor", "110", "--instrument", "levy+"], "instrument", ""),
        run("cli_instr_nofloor", ["--instrument", "tariff"], "instrument", "tariff"),
        run("cli_seed_neg", ["--seed", "-1"], "--seed", "-1"),
        run("cli_seed_float", ["--seed", "1.5"], "--seed", "1.5"),
        Case("cli_steps_zero", ["run", "--steps", "0"], "--steps", "0"),
        Case("cli_steps_text", ["run", "--steps", "ten"], "--steps", "ten"),
        run("cli_event_kind", ["--event", "embargo:start=1,duration=2"], "event", "embargo"),
        run("cli_event_noparams", ["--event", "export_ban"], "event.start", "None"),
        run("cli_event_neg_start", ["--event", "export_ban:start=-1,duration=5"], "event.start", "-1"),
        run("cli_event_zero_dur", ["--event", "export_ban:start=1,duration=0"], "event.duration", "0"),
        run("cli_event_text_start", ["--event", "export_ban:start=abc,duration=5"], "event.start", "abc"),
        run(
            "cli_event_bad_target",
            ["--event", "export_ban:start=1,duration=5,target=everyone"],
            "event.target",
            "everyone",
        ),
        run("cli_event_share_big", ["--event", "export_quota:start=1,duration=5,share=1.5"], "event.share", "1.5"),
        run("cli_event_factor_nan", ["--event", "demand_shock:start=1,duration=5,factor=nan"], "event.factor", "nan"),
        run("cli_event_factor_neg", ["--event", "demand_shock:start=1,duration=5,factor=-1"], "event.factor", "-1"),
        run("cli_event_unknown_key", ["--event", "export_ban:start=1,duration=2,length=3"], "event", "length=3"),
        run("cli_event_beyond_horizon", ["--event", "export_ban:start=500,duration=24"], "event.start", "500"),
        run("cli_event_irrelevant_key", ["--event", "export_ban:start=1,duration=2,factor=2"], "event.factor", "2"),
        run("cli_event_dup_key", ["--event", "export_ban:start=1,start=3,duration=2"], "event.start", "3"),
        run("cli_event_quota_noshare", ["--event", "export_quota:start=1,duration=5"], "event.share", "None"),
        run("cli_dumping_bad", ["--dumping", "maybe"], "--dumping", "maybe"),
        run("cli_unknown_flag", ["--colour", "red"], "unrecognized arguments", "--colour"),
        run("cli_scenario_unknown", ["--scenario", "unobtainium"], "scenario", "unobtainium"),
        run("cli_scenario_missing_file", ["--scenario", "nope.toml"], "scenario", "nope.toml"),
        run("cli_scenario_not_toml", ["--scenario", "README.md"], "scenario", "README.md"),
        Case(
            "cli_scenario_dir",
            ["run", "--scenario", "{D}/x.toml"],
            "scenario",
            "x.toml",
            setup=lambda d: (d / "x.toml").mkdir(),
        ),
        Case(
            "cli_scenario_utf8",
            ["run", "--scenario", "{D}/u.toml"],
            "scenario",
            "u.toml",
            files={"u.toml": b'name = "\xff\xfe"\n'},
        ),
        run("cli_out_nodir", ["--out", "/nonexistent/dir/x.parquet"], "--out", "/nonexistent/dir/x.parquet"),
        run("cli_out_csv", ["--out", "{D}/x.csv"], "--out", "x.csv"),
        Case(
            "cli_out_is_dir",
            ["run", "--steps", "6", "--out", "{D}/d.parquet"],
            "--out",
            "d.parquet",
            setup=lambda d: (d / "d.parquet").mkdir(),
        ),
        run("cli_out_unwritable", ["--out", "/proc/x.parquet"], "--out", "/proc/x.parquet"),
        Case(
            "cli_out_existing_file",
            ["run", "--steps", "6", "--out", "{D}/notes.parquet"],
            "--out",
            "notes.parquet",
            files={"notes.parquet": "my notes"},
        ),
        Case("cli_no_subcommand_typo", ["rnu"], "COMMAND", "rnu"),
        Case("cli_run_positional", ["run", "rare_earths"], "unrecognized arguments", "rare_earths"),
        sc("sc_neg_capacity", sc_sub(EU_REF_CAP, r"\g<1>-71.0"), "countries[EU].refining.capacity", "-71.0"),
        sc("sc_missing_refprice", sc_sub(r"^reference_price = .*$", ""), "market.reference_price", "None"),
        sc("sc_wrong_type_capacity", sc_sub(EU_REF_CAP, r'\g<1>"big"'), "countries[EU].refining.capacity", "big"),
        sc("sc_unknown_top_key", sc_sub(r"^steps = 240", 'steps = 240\ncolour = "blue"'), "colour", "blue"),
        sc("sc_unknown_market_key", sc_sub(r"^\[market\]", "[market]\nvolatility = 0.3"), "market.volatility", "0.3"),
        sc(
            "sc_unknown_country_key",
            sc_sub(r'^name = "European Union"', 'name = "European Union"\npopulation = 450'),
            "countries[EU].population",
            "450",
        ),
        sc("sc_nan_capacity", sc_sub(EU_REF_CAP, r"\g<1>nan"), "countries[EU].refining.capacity", "nan"),
        sc("sc_inf_demand", sc_sub(r"^demand = 666.7 ", "demand = inf "), "countries[EU].consumer.demand", "inf"),
        sc("sc_huge_capacity", sc_sub(EU_REF_CAP, r"\g<1>1e300"), "countries[EU].refining.capacity", "1e+300"),
        sc("sc_huge_demand", sc_sub(r"^demand = 666.7 ", "demand = 1e305 "), "countries[EU].consumer.demand", "1e+305"),
        sc("sc_malformed", sc_sub(r"^\[market\]", "[market"), "scenario", "s.toml"),
        sc("sc_empty", "", "name", "None"),
        sc(
            "sc_unknown_accession",
            sc_sub(r'accession_order = \["EU"', 'accession_order = ["XX"'),
            "bloc.accession_order",
            "XX",
        ),
        sc(
            "sc_dup_accession",
            sc_sub(r'accession_order = \["EU", "US"', 'accession_order = ["EU", "EU"'),
            "bloc.accession_order",
            "EU",
        ),
        sc(
            "sc_dominant_in_accession",
            sc_sub(r'accession_order = \["EU"', 'accession_order = ["CN", "EU"'),
            "bloc.accession_order",
            "CN",
        ),
        sc(
            "sc_allow_dom_string",
            sc_sub(r"^allow_dominant_member = false", 'allow_dominant_member = "false"'),
            "allow_dominant_member",
            "false",
        ),
        sc("sc_name_int", sc_sub(r'^name = "rare_earths"', "name = 123"), "name", "123"),
        sc(
            "sc_tranche_sum",
            sc_sub(r"tranches = \[\[0.6, 21.0\], \[0.4, 30.0\]\]", "tranches = [[0.6, 21.0], [0.6, 30.0]]"),
            "countries[CN].mining.tranches",
            "0.6",
        ),
        sc(
            "sc_tranche_empty",
            sc_sub(r"tranches = \[\[0.6, 21.0\], \[0.4, 30.0\]\]", "tranches = []"),
            "countries[CN].mining.tranches",
            "[]",
        ),
        sc(
            "sc_tranche_short",
            sc_sub(r"tranches = \[\[0.6, 21.0\], \[0.4, 30.0\]\]", "tranches = [[0.6], [0.4, 30.0]]"),
            "countries[CN].mining.tranches[0]",
            "0.6",
        ),
        sc(
            "sc_leadtime_float",
            sc_sub(r"^lead_time = 48", "lead_time = 1.5"),
            "countries[EU].refining.lead_time",
            "1.5",
        ),
        sc("sc_dumping_enabled_str", sc_sub(r"^enabled = true", 'enabled = "yes"'), "dumping.enabled", "yes"),
        sc("sc_steps_zero", sc_sub(r"^steps = 240", "steps = 0"), "steps", "0"),
        sc("sc_dup_country", sc_sub(r'^code = "US"', 'code = "EU"'), "countries.code", "EU"),
        sc("sc_dominant_unknown", sc_sub(r'^dominant = "CN"', 'dominant = "XX"'), "dominant", "XX"),
        sc(
            "sc_refprice_zero",
            sc_sub(r"^reference_price = 55.0", "reference_price = 0.0"),
            "market.reference_price",
            "0.0",
        ),
        sc(
            "sc_potential_below_cap",
            sc_sub(r"^potential = 2564.1 ", "potential = 1.0 "),
            "countries[EU].refining.potential",
            "1.0",
        ),
        sc(
            "sc_procurement_max_below_target",
            sc_sub(r"^procurement_max_months = 6.0", "procurement_max_months = 0.5"),
            "bloc.procurement_max_months",
            "0.5",
        ),
        sc(
            "sc_event_bad_kind",
            SCENARIO + '\n[[events]]\nkind = "embargo"\nstart = 1\nduration = 2\n',
            "events[0].kind",
            "embargo",
        ),
        sc("sc_code_int", sc_sub(r'^code = "EU"', "code = 42"), "countries[42].code", "42"),
        sc(
            "sc_mining_not_table",
            sc_sub(r'^(code = "KR"\nname = "South Korea")', "\\1\nmining = 5"),
            "countries[KR].mining",
            "5",
        ),
        sc("sc_backing_neg", sc_sub(r"^backing = 2.0e10", "backing = -2.0e10"), "countries[CN].mining.backing", "-2"),
        sc(
            "sc_reservation_below_reference",
            sc_sub(r"^reservation = 6.0 ", "reservation = 0.5 "),
            "end_uses[0].reservation",
            "0.5",
        ),
        sc(
            "sc_all_demand_zero",
            re.sub(r"^demand = [0-9.]+", "demand = 0.0", SCENARIO, flags=re.M),
            "countries.consumer.demand",
            "0.0",
        ),
        sc(
            "sc_elasticity_pos",
            sc_sub(r"^elasticity_long = -0.5 ", "elasticity_long = 0.5 "),
            "defaults.elasticity_long",
            "0.5",
        ),
        sc(  # was sc_cash_cap_below: cash_months/cash_cap_months are gone; an old file naming one is refused
            "sc_removed_defaults_key",
            sc_sub(r"^\[defaults\]\n", "[defaults]\ninvest_rate = 0.25\n"),
            "defaults.invest_rate",
            "0.25",
        ),
        ex("ex_malformed", ex_sub("[grid]", "[grid"), "experiment", "e.toml"),
        ex("ex_empty", "", "name", "None"),
        ex("ex_unknown_top", 'owner = "me"\n' + QUICK, "owner", "me"),
        ex("ex_unknown_grid", QUICK + "tariff = [1]\n", "grid.tariff", "[1]"),
        ex("ex_replicates_zero", ex_sub("replicates = 2", "replicates = 0"), "replicates", "0"),
        ex("ex_replicates_str", ex_sub("replicates = 2", 'replicates = "two"'), "replicates", "two"),
        ex("ex_seed_neg", ex_sub("seed = 20261123", "seed = -1"), "seed", "-1"),
        ex("ex_steps_zero", ex_sub("steps = 120", "steps = 0"), "steps", "0"),
        ex("ex_membership_99", ex_sub("membership = [1, 3, 6]", "membership = [1, 99]"), "grid.membership[1]", "99"),
        ex(
            "ex_membership_XX",
            ex_sub("membership = [1, 3, 6]", 'membership = [["EU", "XX"]]'),
            "grid.membership[0]",
            "XX",
        ),
        ex(
            "ex_membership_random99",
            ex_sub("membership = [1, 3, 6]", 'membership = ["random:99"]'),
            "grid.membership[0]",
            "random:99",
        ),
        ex("ex_membership_bool", ex_sub("membership = [1, 3, 6]", "membership = [true]"), "grid.membership[0]", "True"),
        ex("ex_membership_empty", ex_sub("membership = [1, 3, 6]", "membership = []"), "grid.membership", "[]"),
        ex("ex_floor_neg", ex_sub("floor = [0.0, 1.0, 1.3]", "floor = [0.0, -1.0]"), "grid.floor[1]", "-1.0"),
        ex("ex_floor_nan", ex_sub("floor = [0.0, 1.0, 1.3]", "floor = [0.0, nan]"), "grid.floor[1]", "nan"),
        ex("ex_floor_inf", ex_sub("floor = [0.0, 1.0, 1.3]", "floor = [0.0, inf]"), "grid.floor[1]", "inf"),
        ex("ex_floor_dup", ex_sub("floor = [0.0, 1.0, 1.3]", "floor = [1.0, 1.0]"), "grid.floor[1]", "1.0"),
        ex(
            "ex_instrument_bad",
            ex_sub('instrument = ["levy", "cfd"]', 'instrument = ["levy", "tariff"]'),
            "grid.instrument[1]",
            "tariff",
        ),
        ex("ex_instrument_int", ex_sub('instrument = ["levy", "cfd"]', "instrument = [5]"), "grid.instrument[0]", "5"),
        ex(
            "ex_instrument_empty",
            ex_sub('instrument = ["levy", "cfd"]', 'instrument = [""]'),
            "grid.instrument[0]",
            "''",
        ),
        ex("ex_dumping_str", ex_sub("dumping = [true]", 'dumping = ["yes"]'), "grid.dumping[0]", "yes"),
        ex(
            "ex_events_bad",
            ex_sub('events = [["export_ban:start=60,duration=12,target=members"]]', 'events = [["embargo:start=1"]]'),
            "grid.events[0]",
            "embargo",
        ),
        ex("ex_event_beyond", ex_sub("start=60,duration=12", "start=500,duration=12"), "grid.events[0]", "start=500"),
        ex(
            "ex_keep_series_bad",
            ex_sub('keep_series = ["price_bloc_refined"', 'keep_series = ["unmet_blok"'),
            "keep_series",
            "unmet_blok",
        ),
        ex("ex_floor_mode_bad", ex_sub('floor_mode = "relative"', 'floor_mode = "percent"'), "floor_mode", "percent"),
        ex(
            "ex_scenario_bad",
            ex_sub('scenario = "rare_earths"', 'scenario = "unobtainium"'),
            "scenario",
            "unobtainium",
        ),
        ex("ex_name_missing", ex_sub('name = "quick"', ""), "name", "None"),
        ex("ex_grid_int", QUICK.split("[grid]")[0] + "grid = 5\n", "grid", "5"),
        ex("ex_stock_30", QUICK + "member_stockpile_months = [30]\n", "grid.member_stockpile_months[0]", "30"),
        ex("ex_description_int", ex_sub('description = "Membership', "description = 5\n#"), "description", "5"),
        ex("ex_steps_huge", ex_sub("steps = 120", "steps = 1000000000"), "steps", "1000000000"),
        ex(
            "ex_events_int",
            ex_sub('events = [["export_ban:start=60,duration=12,target=members"]]', "events = [[1]]"),
            "grid.events[0]",
            "1",
        ),
        ex("ex_name_empty", ex_sub('name = "quick"', 'name = ""'), "name", "''"),
        ex("ex_replicates_huge", ex_sub("replicates = 2", "replicates = 100000000000"), "replicates", "100000000000"),
        Case("ex_dir", SWEEP, "experiment", "e.toml", setup=lambda d: (d / "e.toml").mkdir()),
        Case("ex_bad_utf8", SWEEP, "experiment", "e.toml", files={"e.toml": b'name = "\xff"\n'}),
        Case("ex_missing_file", SWEEP, "experiment", "e.toml"),
        Case("sw_workers_zero", [*SWEEP, "--workers", "0"], "--workers", "0", files={"e.toml": QUICK}),
        Case("sw_workers_text", [*SWEEP, "--workers", "two"], "--workers", "two", files={"e.toml": QUICK}),
        Case("sw_backend_bad", [*SWEEP[:4], "--backend", "threads"], "--backend", "threads", files={"e.toml": QUICK}),
        Case(
            "sw_scheduler_serial",
            [*SWEEP, "--scheduler", "tcp://127.0.0.1:8786"],
            "--scheduler",
            "tcp://127.0.0.1:8786",
            files={"e.toml": QUICK},
        ),
        Case(
            "sw_dask_dead_scheduler",
            [*SWEEP[:4], "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1", "--no-progress"],
            "--scheduler",
            "tcp://127.0.0.1:1",
            files={"e.toml": QUICK},
        ),
        Case("sw_out_missing", ["sweep", "{D}/e.toml"], "--out", "", files={"e.toml": QUICK}),
        Case(
            "sw_out_is_file", ["sweep", "{D}/e.toml", "--out", "{D}/f"], "--out", "f", files={"e.toml": QUICK, "f": "x"}
        ),
        Case(
            "sw_out_unwritable",
            ["sweep", "{D}/e.toml", "--out", "/proc/blocsim"],
            "--out",
            "/proc/blocsim",
            files={"e.toml": QUICK},
        ),
        Case(
            "sw_out_other_experiment",
            ["sweep", "{D}/e.toml", "--out", "{D}/res"],
            "--out",
            "res",
            files={"e.toml": QUICK},
            setup=lambda d: other_results(d),
        ),
        Case(
            "sw_out_nonempty_foreign",
            ["sweep", "{D}/e.toml", "--out", "{D}/foreign"],
            "--out",
            "foreign",
            files={"e.toml": QUICK, "foreign/notes.txt": "mine"},
        ),
        Case("pl_missing_dir", ["plot", "{D}/nope"], "results", "nope"),
        Case("pl_empty_dir", ["plot", "{D}/empty"], "results", "empty", setup=lambda d: (d / "empty").mkdir()),
        Case(
            "pl_metric_unknown",
            ["plot", "{D}/res", "--metrics", "bogus"],
            "--metrics",
            "bogus",
            setup=lambda d: other_results(d),
        ),
        Case(
            "pl_metric_runid",
            ["plot", "{D}/res", "--metrics", "run_id"],
            "--metrics",
            "run_id",
            setup=lambda d: other_results(d),
        ),
        Case(
            "pl_metric_seed",
            ["plot", "{D}/res", "--metrics", "seed"],
            "--metrics",
            "seed",
            setup=lambda d: other_results(d),
        ),
        Case(
            "pl_metric_empty", ["plot", "{D}/res", "--metrics", ""], "--metrics", "''", setup=lambda d: other_results(d)
        ),
        Case(
            "pl_file_not_dir",
            ["plot", "{D}/b.parquet"],
            "results",
            "b.parquet",
            setup=lambda d: baseline(d / "b.parquet"),
        ),
        Case("pl_single_run_dir", ["plot", "{D}/single"], "results", "single", setup=lambda d: single_run_dir(d)),
        Case(
            "cli_out_readonly_fs",
            ["run", "--steps", "6", "--out", "{RO}/x.parquet"],
            "--out",
            "x.parquet",
            needs_root=True,
        ),
        Case(
            "sw_out_readonly_fs",
            ["sweep", "{D}/e.toml", "--out", "{RO}/res"],
            "--out",
            "res",
            files={"e.toml": QUICK},
            needs_root=True,
        ),
        Case(
            "sw_out_immutable_dir",
            ["sweep", "{D}/e.toml", "--out", "{IMM}/res"],
            "--out",
            "res",
            files={"e.toml": QUICK},
            needs_root=True,
        ),
        Case("pl_unwritable_results", ["plot", "{IMMRES}"], "results", "res", needs_root=True),
        Case(
            "sw_out_edited_experiment",
            ["sweep", "{D}/e.toml", "--out", "{D}/res", "--backend", "serial", "--no-progress"],
            "",
            "",
            setup=lambda d: edited_experiment(d),
        ),
        sc(
            "sc_countries_empty",
            sc_sub(r"^steps = 240", "steps = 240\ncountries = []").split("[[countries]]")[0],
            "countries",
            "[]",
        ),
        sc("sc_accession_empty", sc_sub(r"^accession_order = .*$", "accession_order = []"), "members", "3"),
        sc(
            "sc_events_table",
            sc_sub(r"^\[market\]", '[events]\nkind = "export_ban"\n\n[market]'),
            "events",
            "export_ban",
        ),
        sc(
            "sc_country_name_list",
            sc_sub(r'^name = "European Union"', 'name = ["European", "Union"]'),
            "countries[EU].name",
            "European",
        ),
        run("cli_nobloc_floor", ["--members", "none", "--floor", "110", "--instrument", "cfd"], "floor", "110"),
    ]
    return out


TINY_QUICK = QUICK.replace("replicates = 2", "replicates = 1").replace("membership = [1, 3, 6]", "membership = [1]")
TINY_QUICK = TINY_QUICK.replace("steps = 120", "steps = 72").replace("floor = [0.0, 1.0, 1.3]", "floor = [0.0, 1.0]")


def other_results(d: Path) -> None:
    """A finished sweep of another experiment (same grid, another seed) in d/res."""
    from experiments import load_experiment, run_sweep

    (d / "other.toml").write_text(TINY_QUICK.replace("seed = 20261123", "seed = 5"))
    run_sweep(load_experiment(d / "other.toml"), d / "res", backend="serial", progress=False, log=lambda m: None)


def baseline(path: Path) -> None:
    from experiments.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        main(["run", "--members", "none", "--steps", "6", "--out", str(path)])


def single_run_dir(d: Path) -> None:
    (d / "single").mkdir()
    baseline(d / "single" / "runs.parquet")


def edited_experiment(d: Path) -> None:
    """A finished sweep of e.toml, then a comment added to e.toml: resuming must work (exit 0)."""
    from experiments import load_experiment, run_sweep

    (d / "e.toml").write_text(TINY_QUICK)
    run_sweep(load_experiment(d / "e.toml"), d / "res", backend="serial", progress=False, log=lambda m: None)
    (d / "e.toml").write_text("# edited: a comment only\n" + TINY_QUICK)


def snapshot(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")} if d.exists() else set()


@dataclass
class Outcome:
    case: Case
    rc: int | None
    err: str
    written: list[str]
    verdict: str


def run_case(case: Case, sandbox: Path, places: dict[str, str]) -> Outcome:
    from experiments.cli import main

    sandbox.mkdir(parents=True)
    for name, content in case.files.items():
        path = sandbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    if case.setup:
        case.setup(sandbox)
    watched = [sandbox, *(Path(p) for p in places.values())]
    before = {str(w): snapshot(w) for w in watched}
    argv = [a.replace("{D}", str(sandbox)) for a in case.argv]
    for key, value in places.items():
        argv = [a.replace("{" + key + "}", value) for a in argv]
    err, rc, tb = io.StringIO(), None, ""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as exc:
                rc = exc.code
            except BaseException:
                tb = traceback.format_exc()
    finally:
        os.chdir(cwd)
    text = err.getvalue() + tb
    written = sorted(f"{w}/{p}" for w in watched for p in snapshot(w) - before[str(w)] if not p.startswith("figures"))
    if case.id == "sw_out_edited_experiment":  # the one case where the right answer is to run
        verdict = "clear" if rc == 0 and not tb else ("traceback" if tb else "unclear")
    elif tb or "Traceback" in text:
        verdict = "traceback"
    elif rc == 0:
        verdict = "silent"
    elif rc == 2 and case.field in text and case.value in text and not written and text.count("error:") == 1:
        verdict = "clear"
    else:
        verdict = "unclear"
    return Outcome(case, rc, text.strip().splitlines()[-1] if text.strip() else "", written, verdict)


# ------------------------------------------------------------------------------------------ Python API
def api_cases():
    from experiments import load_experiment, run_sweep
    from model import BlocModel, load_scenario
    from model.scenario import validate_run

    sc = load_scenario("rare_earths")
    quick = ROOT / "experiments" / "configs" / "quick.toml"

    def v(**kw):
        return lambda: validate_run(sc, **kw)

    return [
        ("members='XX'", v(members="XX")),
        ("members=3.5", v(members=3.5)),
        ("members={'EU'} (set)", v(members={"EU"}), "ok"),
        ("members=True", v(members=True)),
        ("floor=-1", v(floor=-1)),
        ("floor='110'", v(floor="110")),
        ("floor=nan", v(floor=float("nan"))),
        ("floor=np.float64(110)", v(members=3, floor=np.float64(110)), "ok"),
        ("floor=np.int64(110)", v(members=3, floor=np.int64(110)), "ok"),
        ("instrument='tariff'", v(floor=100, instrument="tariff")),
        ("instrument=5", v(floor=100, instrument=5)),
        ("instrument=None, floor=100", v(floor=100, instrument=None)),
        ("seed=-1", v(seed=-1)),
        ("seed='abc'", v(seed="abc")),
        ("seed=1.5", v(seed=1.5)),
        ("steps=0", v(steps=0)),
        ("steps='10'", v(steps="10")),
        ("steps=1.7", v(steps=1.7)),
        ("member_stockpile_months=nan", v(member_stockpile_months=float("nan"))),
        ("member_stockpile_months='6'", v(member_stockpile_months="6")),
        ("member_stockpile_months=30", v(member_stockpile_months=30)),
        ("events=['bogus']", v(events=["bogus"])),
        ("events='export_ban:...' (a string)", v(events="export_ban:start=1,duration=2")),
        ("events=[42]", v(events=[42])),
        ("dumping='no'", v(dumping="no")),
        ("scenario='rare_earths' (a name)", lambda: validate_run("rare_earths")),
        ("scenario=None", lambda: validate_run(None)),
        ("m.run(steps=-5) [model.py: BlocModel.run]", lambda: BlocModel(sc, steps=6).run(steps=-5), "model"),
        ("m.run(steps='10') [model.py]", lambda: BlocModel(sc, steps=6).run(steps="10"), "model"),
        ("m.run(steps=2.5) [model.py]", lambda: BlocModel(sc, steps=6).run(steps=2.5), "model"),
        ("load_scenario('nope')", lambda: load_scenario("nope")),
        ("load_scenario(42)", lambda: load_scenario(42)),
        ("load_experiment('nope')", lambda: load_experiment("nope")),
        ("run_sweep(backend='threads')", lambda: run_sweep(quick, "/tmp/x-never", backend="threads")),
        ("run_sweep(workers=0)", lambda: run_sweep(quick, "/tmp/x-never", workers=0)),
        ("run_sweep(workers=2.5)", lambda: run_sweep(quick, "/tmp/x-never", workers=2.5)),
        ("run_sweep(experiment=path str)", lambda: run_sweep(str(quick), "/proc/x-never")),
        ("validate_run(sc, foo=1) unknown option", lambda: validate_run(sc, foo=1)),
    ]


def run_api() -> list[tuple[str, str, str]]:
    from model.scenario import BlocsimError

    out = []
    for name, fn, *expect in api_cases():
        try:
            res = fn()
            verdict = "accepted" if expect else "silent"
            msg = repr(res)[:80]
        except BlocsimError as exc:
            verdict, msg = "clear", str(exc)
        except TypeError as exc:
            verdict, msg = ("clear" if "unexpected keyword" in str(exc) else "raw"), f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            verdict, msg = "raw", f"{type(exc).__name__}: {exc}"
        if expect and expect[0] == "model" and verdict != "clear":
            verdict = "model.py"  # BlocModel itself: owned by the model rewrite (hand-off)
        out.append((name, verdict, msg))
    return out


# ------------------------------------------------------------------------------------------ driver
@contextlib.contextmanager
def privileged_places(base: Path):
    """A read-only tmpfs, an immutable directory and an immutable results directory (root only)."""
    places: dict[str, str] = {}
    ro, imm, immres = base / "ro", base / "imm", base / "immres"
    mounted = immutable = False
    try:
        if os.geteuid() == 0 and shutil.which("mount") and shutil.which("chattr"):
            for d in (ro, imm, immres):
                d.mkdir()
            mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)]).returncode == 0
            other_results(immres)
            immutable = (
                subprocess.run(["chattr", "+i", str(imm)], capture_output=True).returncode == 0
                and subprocess.run(["chattr", "+i", str(immres / "res")], capture_output=True).returncode == 0
            )
            if mounted and immutable:
                places = {"RO": str(ro), "IMM": str(imm), "IMMRES": str(immres / "res")}
        yield places
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)])
        if immutable or imm.exists():
            subprocess.run(["chattr", "-i", str(imm), str(immres / "res")], capture_output=True)


def main(verbose: bool = True) -> dict[str, int]:
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="blocsim-checklist-") as tmp:
        base = Path(tmp)
        (base / "priv").mkdir()
        with privileged_places(base / "priv") as places:
            for case in cases():
                if case.needs_root and not places:
                    verdict, line = "skipped", "needs root (mount, chattr)"
                    counts[verdict] = counts.get(verdict, 0) + 1
                    if verbose:
                        print(f"{verdict:9} {case.id:28} {line}")
                    continue
                o = run_case(case, base / case.id, places)
                counts[o.verdict] = counts.get(o.verdict, 0) + 1
                if verbose:
                    extra = f"  WROTE {o.written[:3]}" if o.written else ""
                    print(f"{o.verdict:9} {case.id:28} rc={o.rc} {o.err[:150]}{extra}")
    api = run_api()
    for name, verdict, msg in api:
        counts[f"api {verdict}"] = counts.get(f"api {verdict}", 0) + 1
        if verbose:
            print(f"api {verdict:9} {name:45} {msg[:120]}")
    if verbose:
        print("\ncounts:", dict(sorted(counts.items())))
    return counts


# the report's ranked defects (section 6) -> the tests that show each is fixed (None: not this branch's)
DEFECTS: dict[str, list[str] | None] = {
    "1 recovery_months is 0 for bans that hit hard (experiments/metrics.py: the model rewrite)": None,
    "2 two experiments written into one folder": [
        "tests/test_storage.py::test_two_experiments_at_once_one_is_refused",
        "tests/test_storage.py::test_same_experiment_at_once_waits_or_is_refused",
        "tests/test_storage.py::test_stale_lock_of_a_killed_process_is_released",
    ],
    "3 duplicate grid values lose runs": ["tests/test_storage.py::test_duplicate_grid_values_are_refused"],
    "4 scenario values that pass validation but change the model": [
        "tests/test_scenario.py::test_bad_scenarios_name_field_and_value",
        "tests/test_scenario.py::test_numpy_numbers_are_numbers",
    ],
    "5 experiment values that fail every run (NaN/inf floor, empty instrument)": [
        "tests/test_experiments.py::test_bad_experiments_name_field_and_value"
    ],
    "6 raw tracebacks (16 cases)": ["tests/test_checklist.py"],
    "7 corrupt or missing files in an output folder": [
        "tests/test_storage.py::test_resume_verifies_and_repairs",
        "tests/test_storage.py::test_manifest_of_another_experiment_or_foreign_runs_refused",
    ],
    "8 results written 0600": ["tests/test_storage.py::test_files_respect_the_umask"],
    "9 plot writes figures non-atomically": ["tests/test_storage.py::test_plot_writes_figures_atomically"],
    "10 figure problems (CI bands, facets, coinciding lines, units, failed runs)": [
        "tests/test_plots.py",
    ],
    "11 --json prints Infinity": ["tests/test_cli.py::test_json_is_valid_without_nan_or_infinity"],
    "12 SIGTERM not handled; manifest status": ["tests/test_storage.py::test_sigterm_is_handled_like_ctrl_c"],
    "13 comment-only edit blocks resume; lost manifest": [
        "tests/test_storage.py::test_comment_only_edit_resumes",
        "tests/test_experiments.py::test_digest_is_of_the_parsed_experiment_and_run_ids_of_everything",
    ],
    "14 no sanity bounds on sizes": ["tests/test_experiments.py::test_bad_experiments_name_field_and_value"],
    "15 plot --metrics seed, floor without a bloc, event keys": [
        "tests/test_cli.py::test_bad_input_exit_2_nothing_written",
        "tests/test_scenario.py::test_parse_event",
    ],
    "16 Python API: raw TypeErrors, dumping='no', steps=1.7": [
        "tests/test_scenario.py::test_validate_run_is_the_one_layer_for_run_options",
        "tests/test_experiments.py::test_run_sweep_takes_a_path_and_checks_its_arguments",
    ],
    "17 newcomer friction (slow marker, timings, plot progress, serial for small sweeps)": [
        "tests/test_experiments.py::test_auto_backend_runs_small_sweeps_serially",
        "tests/test_plots.py",
        "tests/test_repo.py",
    ],
    "18 manifest does not record a dirty tree": ["tests/test_storage.py::test_manifest_records_git_state"],
}


def defects() -> dict[str, str]:
    status = {}
    for defect, tests in DEFECTS.items():
        if tests is None:
            status[defect] = "not in this branch"
        else:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            status[defect] = "fixed (tests pass)" if proc.returncode == 0 else "FAILING"
        print(f"{status[defect]:20} {defect}")
    return status


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    if "--defects" in sys.argv:
        defects()
    else:
        main()
