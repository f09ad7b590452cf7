"""Designs over uncertain parameters crossed with the policy grid; the runner on them; analyses."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import load_experiment, run_sweep
from experiments.cli import main
from experiments.config import ExperimentError, experiment_from_dict
from experiments.designs import DesignExperiment, unit_design
from experiments.runner import _scenario_for, execute_run

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(ROOT / "tests" / "data" / "uncertain_small.toml")

DESIGN = f"""
name = "tiny_design"
scenario = "{SMALL}"
seed = 3
replicates = 1
steps = 30
floor_mode = "relative"

[grid]
membership = [3]
floor = [0.0, 1.2]
instrument = ["levy"]
events = [["export_ban:start=18,duration=6"]]

[uncertain]
"dumping.volume_share" = {{ low = 0.6, high = 2.0, why = "audit 2.4" }}
"market.demand_noise" = {{ low = 0.0, high = 0.04, why = "assumed: order-book lumpiness" }}

[design]
kind = "morris"
samples = 2
seed = 5
parameters = ["market.concentrate_floor_ratio", "market.demand_noise", "dumping.volume_share"]
"""


def load_text(text: str):
    return experiment_from_dict(tomllib.loads(text), text)


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_time"]).reset_index(drop=True)


@pytest.fixture
def design(tmp_path):
    path = tmp_path / "design.toml"
    path.write_text(DESIGN)
    return load_experiment(path)


def test_design_expands_futures_times_policy_runs(design):
    assert isinstance(design, DesignExperiment)
    runs = design.runs()
    assert design.design.n_points() == 2 * (3 + 1)
    assert len(runs) == design.n_runs == 8 * 2
    assert len({r.run_id for r in runs}) == len(runs)
    # common random numbers: a policy run keeps its seed in every future
    by_point = {}
    for r in runs:
        by_point.setdefault((r.point_id, r.replicate), set()).add(r.seed)
    assert all(len(s) == 1 for s in by_point.values())
    # values lie in their ranges; the experiment's own ranges (volume_share, demand_noise) were added
    for r in runs:
        v = dict(r.overrides)
        assert 0.4 <= v["market.concentrate_floor_ratio"] <= 0.8
        assert 0.0 <= v["market.demand_noise"] <= 0.04
        assert 0.6 <= v["dumping.volume_share"] <= 2.0
    # parameters default to every uncertain path (scenario's 6 + the experiment's 2)
    everything = load_text(
        DESIGN.replace(
            'parameters = ["market.concentrate_floor_ratio", "market.demand_noise", "dumping.volume_share"]', ""
        )
    )
    assert len(everything.design.parameters) == 8


@pytest.mark.parametrize("kind, samples, points", [("lhs", 5, 5), ("sobol", 4, 4 * (3 + 2)), ("morris", 3, 3 * 4)])
def test_kinds_and_sizes(kind, samples, points):
    text = DESIGN.replace('kind = "morris"', f'kind = "{kind}"').replace("samples = 2", f"samples = {samples}")
    exp = load_text(text)
    assert exp.design.n_points() == points and exp.n_runs == 2 * points
    unit = exp.unit()
    assert unit.shape == (points, 3) and (unit >= 0).all() and (unit <= 1).all()
    assert np.array_equal(unit, unit_design(kind, samples, 5, 3))  # rebuilt from its arguments
    if kind == "lhs":  # one point per stratum in every dimension
        for j in range(3):
            assert sorted(np.floor(unit[:, j] * samples).astype(int)) == list(range(samples))
    if kind == "morris":  # on the grid of 4 levels
        assert set(np.round(unit.ravel() * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda t: t.replace('kind = "morris"', 'kind = "factorial"'), "design.kind"),
        (
            lambda t: t.replace('kind = "morris"', 'kind = "sobol"').replace("samples = 2", "samples = 6"),
            "design.samples",
        ),
        (lambda t: t.replace("samples = 2", "samples = 0"), "design.samples"),
        (lambda t: t.replace('"dumping.volume_share"]', '"dumping.volume_shares"]'), "design.parameters"),
        (lambda t: t.replace("seed = 5", "seed = 5\nsize = 3"), "design.size"),
        (lambda t: t.replace("seed = 5", "seed = 5\nlevels = 3"), "design.levels"),
        (lambda t: t.replace('"dumping.volume_share" = {', '"dumping.volume" = {'), 'uncertain."dumping.volume"'),
        (lambda t: t.replace("low = 0.6, high = 2.0", "low = 2.0, high = 0.6"), 'uncertain."dumping.volume_share"'),
        (lambda t: t.replace("low = 0.6, high = 2.0", "low = 1.5, high = 2.0"), 'uncertain."dumping.volume_share"'),
        (lambda t: t[: t.index("[design]")], "uncertain"),
        (lambda t: t.replace("replicates = 1", "replicates = 0"), "replicates"),
    ],
)
def test_bad_designs_name_field_and_value(change, field):
    with pytest.raises(ExperimentError) as err:
        load_text(change(DESIGN))
    assert err.value.field == field


def test_overrides_reach_the_model(design):
    spec = design.runs()[3]
    values = dict(spec.overrides)
    sc = _scenario_for(spec)
    assert sc.market.concentrate_floor_ratio == values["market.concentrate_floor_ratio"]
    assert sc.market.demand_noise == values["market.demand_noise"]
    assert sc.dumping.volume_share == values["dumping.volume_share"]
    row, _ = execute_run(spec)
    assert row["error"] is None and row["sample"] == spec.sample
    assert row["u.dumping.volume_share"] == values["dumping.volume_share"]


def test_serial_and_processes_identical_and_resumable(design, tmp_path):
    serial = run_sweep(design, tmp_path / "serial", backend="serial", progress=False)
    procs = run_sweep(design, tmp_path / "procs", backend="processes", workers=2, progress=False)
    assert serial["error"].isna().all() and len(serial) == design.n_runs
    assert list(serial.run_id) == [r.run_id for r in design.runs()]
    pd.testing.assert_frame_equal(comparable(serial), comparable(procs))
    ucols = [c for c in serial.columns if c.startswith("u.")]
    assert ucols == ["u.market.concentrate_floor_ratio", "u.market.demand_noise", "u.dumping.volume_share"]
    assert serial["sample"].nunique() == 8
    # the futures differ in outcome, not only in their labels
    assert serial.groupby("point_id")["price_bloc_mean"].nunique().min() > 1
    manifest = json.loads((tmp_path / "serial" / "manifest.json").read_text())
    assert manifest["design"]["kind"] == "morris" and manifest["design"]["points"] == 8
    assert set(manifest["design"]["uncertain"]) == {c[2:] for c in ucols}
    again = run_sweep(design, tmp_path / "serial", backend="serial", progress=False)
    pd.testing.assert_frame_equal(serial, again)  # nothing re-run: same wall times


def test_dask_identical(design, tmp_path):
    pytest.importorskip("dask.distributed")
    serial = run_sweep(design, tmp_path / "serial", backend="serial", progress=False)
    dask = run_sweep(design, tmp_path / "dask", backend="dask", workers=2, progress=False)
    pd.testing.assert_frame_equal(comparable(serial), comparable(dask))


def test_shipped_morris_quick_is_self_contained_and_small():
    exp = load_experiment("morris_quick")
    assert exp.design.kind == "morris" and exp.scenario == "rare_earths"
    assert {u.path for u in exp.uncertain} >= set(exp.design.parameters)
    assert all(u.why for u in exp.parameters)
    assert set(exp.membership) == {1, 3, 6} and len(exp.floor) >= 3
    # ~0.25 s a run of 240 months on one core: 540 runs fit in 5 minutes on 2 cores with room to spare
    assert exp.n_runs <= 600


def _sweep_cli(tmp_path, text, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    out = tmp_path / name
    assert main(["sweep", str(path), "--out", str(out), "--backend", "serial", "--no-progress"]) == 0
    return out


def test_sensitivity_morris_cli(tmp_path, capsys):
    out = _sweep_cli(tmp_path, DESIGN.replace("samples = 2", "samples = 4"), "morris")
    capsys.readouterr()
    assert main(["sensitivity", str(out), "--resamples", "50"]) == 0
    text = capsys.readouterr().out
    assert "rest on 32 runs" in text and "resolved" in text
    table = pd.read_parquet(out / "sensitivity" / "sensitivity.parquet")
    for name in ("sensitivity.csv", "sensitivity.png", "sensitivity_cells.png"):
        assert (out / "sensitivity" / name).exists()
    assert {"cell", "metric", "parameter", "mu_star", "mu_star_conf", "sigma", "n_runs", "resolved"} <= set(table)
    assert set(table["cell"]) == {"pooled", *pd.read_parquet(out / "runs.parquet")["point_id"]}
    # the pooled row equals SALib on the cell-averaged responses
    from SALib.analyze import morris

    runs = pd.read_parquet(out / "runs.parquet").sort_values(["sample", "point_id"])
    y = runs.groupby("sample")["price_bloc_mean"].mean().to_numpy()
    params = ["market.concentrate_floor_ratio", "market.demand_noise", "dumping.volume_share"]
    problem = {"num_vars": 3, "names": params, "bounds": [[0, 1]] * 3}
    si = morris.analyze(problem, unit_design("morris", 4, 5, 3), y, num_resamples=50, seed=0)
    got = table[(table.cell == "pooled") & (table.metric == "price_bloc_mean")].set_index("parameter")
    np.testing.assert_allclose(got.loc[params, "mu_star"], si["mu_star"])
    np.testing.assert_allclose(got.loc[params, "sigma"], si["sigma"])


def test_sensitivity_sobol_and_refusals(tmp_path, capsys):
    text = (
        DESIGN.replace('kind = "morris"', 'kind = "sobol"')
        .replace("samples = 2", "samples = 8")
        .replace("floor = [0.0, 1.2]", "floor = [1.2]")
        .replace('"market.demand_noise", ', "")
    )
    out = _sweep_cli(tmp_path, text, "sobol")
    capsys.readouterr()
    assert main(["sensitivity", str(out), "--resamples", "50", "--metrics", "price_bloc_mean,fiscal_cost"]) == 0
    text_out = capsys.readouterr().out
    assert "Sobol S1/ST" in text_out and "rest on 32 runs" in text_out
    table = pd.read_csv(out / "sensitivity" / "sensitivity.csv")
    assert set(table["metric"]) == {"price_bloc_mean", "fiscal_cost"}
    ok = table[table["note"].isna()]
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(table) and ok["ST"].notna().all()
    # an LHS design and a grid sweep are refused with a reason (exit 2)
    lhs = _sweep_cli(tmp_path, DESIGN.replace('kind = "morris"', 'kind = "lhs"'), "lhs")
    capsys.readouterr()
    assert main(["sensitivity", str(lhs)]) == 2 and "lhs design" in capsys.readouterr().err
    assert main(["sensitivity", str(tmp_path / "nothing")]) == 2
    assert main(["sensitivity", str(out), "--metrics", "colour"]) == 2


def test_robustness_cli_shares_and_prim(tmp_path, capsys):
    text = DESIGN.replace('kind = "morris"', 'kind = "lhs"').replace("samples = 2", "samples = 40")
    out = _sweep_cli(tmp_path, text, "lhs")
    runs = pd.read_parquet(out / "runs.parquet")
    cut = float(runs.loc[runs.floor_level == 0, "price_bloc_mean"].median())  # no floor: fails in half the futures
    capsys.readouterr()
    argv = ["robustness", str(out), "--require", f"price_bloc_mean<{cut}", "--require", "member_capacity_retained>=0"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 policies x 40 futures" in printed
    table = pd.read_parquet(out / "robustness" / "robustness.parquet")
    for row in table.itertuples():
        g = runs[(runs.floor_level == row.floor_level) & (runs.membership == row.membership)]
        expected = ((g.price_bloc_mean < cut) & (g.member_capacity_retained >= 0)).mean()
        assert row.share == pytest.approx(expected) and row.futures == 40
        assert row.share_low <= row.share <= row.share_high
    assert (out / "robustness" / "robustness.png").exists()
    boxes = pd.read_csv(out / "robustness" / "prim_boxes.csv")
    assert {"box", "parameter", "low", "high", "coverage", "density", "mass"} <= set(boxes)
    found = boxes[boxes["box"] > 0]
    assert len(found) and found["density"].between(0, 1).all() and found["coverage"].between(0, 1).all()
    # bad thresholds: one line, exit 2
    assert main(["robustness", str(out), "--require", "price_bloc_mean~3"]) == 2
    assert "--require" in capsys.readouterr().err
    assert main(["robustness", str(out), "--require", "colour>1"]) == 2
    assert main(["robustness", str(out)]) == 2


def test_a_design_row_reruns_alone_from_the_cli(design, capsys):
    """blocsim run --seed SEED --set PATH=VALUE ... reproduces a design's row."""
    spec = design.runs()[5]
    row, _ = execute_run(spec)
    argv = ["run", "--scenario", SMALL, "--members", ",".join(spec.members), "--floor", str(spec.floor)]
    argv += ["--instrument", spec.instrument, "--seed", str(spec.seed), "--steps", str(spec.steps), "--json"]
    argv += ["--dumping", "on" if spec.dumping else "off"]
    for event in spec.events:
        argv += ["--event", event]
    for path, value in spec.overrides:
        argv += ["--set", f"{path}={value!r}"]
    capsys.readouterr()
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["price_bloc_mean"] == row["price_bloc_mean"]
    assert summary["fiscal_cost"] == row["fiscal_cost"]
    assert main(["run", "--steps", "12", "--set", "market.demand_noise"]) == 2
