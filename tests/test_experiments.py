"""The experiment runner: declared sweeps, seeds, backends, storage, resume, analysis, figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import load_experiment, run_sweep
from experiments.analysis import aggregate, t95
from experiments.cli import main
from experiments.config import ExperimentError, experiment_from_dict
from experiments.metrics import METRICS
from experiments.plots import plot_results

TINY = """
name = "tiny"
scenario = "rare_earths"
seed = 7
replicates = 2
steps = 36
floor_mode = "relative"
keep_series = ["price_bloc_refined", "price_world_refined", "unmet_bloc_ev_traction"]

[grid]
membership = [1, 3]
floor = [0.0, 1.2]
instrument = ["levy", "cfd"]
events = [["export_ban:start=20,duration=6"]]
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return load_experiment(path)


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_time"]).reset_index(drop=True)


def test_shipped_experiments_load():
    for name in ("membership_floor", "export_ban", "dumping", "quick"):
        exp = load_experiment(Path("experiments/configs") / f"{name}.toml")
        assert exp.runs()
    mf = load_experiment("experiments/configs/membership_floor.toml")
    assert len(mf.floor) >= 6 and set(mf.instrument) == {"levy", "cfd"} and len(mf.membership) == 14
    assert any(e.startswith("export_ban") for group in mf.events for e in group) and mf.dumping == (True,)


def test_seeds_depend_on_point_and_replicate_only(tiny):
    runs = tiny.runs()
    assert len(runs) == 2 * 2 * 2 * 2
    assert tiny.n_runs == len(runs)
    assert len({r.seed for r in runs}) == len(runs)
    assert len({r.run_id for r in runs}) == len(runs)
    again = load_experiment_text(TINY.replace("membership = [1, 3]", "membership = [3, 1]")).runs()
    by_id = {r.run_id: r.seed for r in again}
    assert all(by_id[r.run_id] == r.seed for r in runs)  # order of declaration does not matter


def load_experiment_text(text):
    import tomllib

    return experiment_from_dict(tomllib.loads(text), text)


def test_relative_floor_and_random_membership():
    exp = load_experiment_text(TINY.replace("membership = [1, 3]", 'membership = ["random:3"]'))
    runs = exp.runs()
    floored = [r for r in runs if r.floor_level == 1.2]
    assert all(70 < r.floor / 1.2 < 100 for r in floored)  # members' full cost of oxide ~ 75-85 $/kg
    draws = {r.members for r in runs if r.replicate == 0} | {r.members for r in runs if r.replicate == 1}
    assert all(len(m) == 3 for m in draws)
    assert len({r.members for r in runs}) > 1  # identity varies by replicate, size does not


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda t: t.replace("replicates = 2", "replicates = 0"), "replicates"),
        (lambda t: t.replace("floor = [0.0, 1.2]", "floor = [-1.0]"), "grid.floor[0]"),
        (lambda t: t.replace('instrument = ["levy", "cfd"]', 'instrument = ["tariff"]'), "grid.instrument[0]"),
        (lambda t: t.replace("membership = [1, 3]", 'membership = [["EU", "XX"]]'), "grid.membership[0]"),
        (lambda t: t.replace("membership = [1, 3]", 'membership = ["random:99"]'), "grid.membership[0]"),
        (
            lambda t: t.replace('events = [["export_ban:start=20,duration=6"]]', 'events = [["ban:start=1"]]'),
            "grid.events[0]",
        ),
        (lambda t: t.replace("steps = 36", "steps = 36\nspeed = 3"), "speed"),
        (lambda t: t.replace("[grid]", "[grid]\ncolour = [1]"), "grid.colour"),
        (
            lambda t: t.replace('keep_series = ["price_bloc_refined"', 'keep_series = ["unmet_bloc_x"'),
            "keep_series",
        ),
        (lambda t: t.replace('floor_mode = "relative"', 'floor_mode = "percent"'), "floor_mode"),
        # duplicates, NaN/inf, empty, wrong types, absurd sizes, events after the horizon
        (lambda t: t.replace("floor = [0.0, 1.2]", "floor = [1.2, 1.2]"), "grid.floor[1]"),
        (lambda t: t.replace("floor = [0.0, 1.2]", "floor = [0.0, nan]"), "grid.floor[1]"),
        (lambda t: t.replace("floor = [0.0, 1.2]", "floor = [inf]"), "grid.floor[0]"),
        (lambda t: t.replace("floor = [0.0, 1.2]", "floor = []"), "grid.floor"),
        (lambda t: t.replace("floor = [0.0, 1.2]", "floor = [1000.0]"), "grid.floor[0]"),
        (lambda t: t.replace("membership = [1, 3]", "membership = [3, 3]"), "grid.membership[1]"),
        (lambda t: t.replace("membership = [1, 3]", 'membership = [["EU", "EU"]]'), "grid.membership[0]"),
        (lambda t: t.replace('instrument = ["levy", "cfd"]', "instrument = [5]"), "grid.instrument[0]"),
        (lambda t: t.replace('instrument = ["levy", "cfd"]', 'instrument = [""]'), "grid.instrument[0]"),
        (lambda t: t.replace('instrument = ["levy", "cfd"]', 'instrument = ["none"]'), "grid.instrument[0]"),
        (lambda t: t.replace("steps = 36", "steps = 1000000000"), "steps"),
        (lambda t: t.replace("steps = 36", "steps = 1.7"), "steps"),
        (lambda t: t.replace("replicates = 2", "replicates = 100000000000"), "replicates"),
        (  # 16 points x 90,000 replicates: more than a million runs
            lambda t: t.replace("replicates = 2", "replicates = 90000").replace(
                "membership = [1, 3]", "membership = [1, 2, 3, 4]"
            ),
            "replicates",
        ),
        (lambda t: t.replace("start=20", "start=36"), "grid.events[0]"),
        (lambda t: t.replace("membership = [1, 3]", "membership = [0, 3]"), "grid.membership[0]"),
        (lambda t: t.replace('name = "tiny"', 'name = "tiny"\ndescription = 5'), "description"),
    ],
)
def test_bad_experiments_name_field_and_value(change, field):
    with pytest.raises(ExperimentError) as err:
        load_experiment_text(change(TINY))
    assert err.value.field == field


def test_digest_is_of_the_parsed_experiment_and_run_ids_of_everything(tiny):
    edited = load_experiment_text("# a comment\n" + TINY.replace("steps = 36", "steps  =  36  # months"))
    assert edited.digest == tiny.digest and edited.text_digest != tiny.digest
    reseeded = load_experiment_text(TINY.replace("seed = 7", "seed = 8"))
    assert reseeded.digest != tiny.digest
    assert not {r.run_id for r in reseeded.runs()} & {r.run_id for r in tiny.runs()}
    longer = load_experiment_text(TINY.replace("steps = 36", "steps = 48"))
    assert not {r.run_id for r in longer.runs()} & {r.run_id for r in tiny.runs()}


def test_auto_backend_runs_small_sweeps_serially():
    from experiments.runner import choose_backend

    assert choose_backend(36, 120, 2) == "serial"  # the quick sweep: start-up would dominate
    assert choose_backend(840, 240, 2) == "processes"  # the headline sweep
    assert choose_backend(840, 240, 1) == "serial"


def test_run_sweep_takes_a_path_and_checks_its_arguments(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    for kwargs, field in [
        (dict(backend="threads"), "backend"),
        (dict(workers=0), "workers"),
        (dict(workers=2.5), "workers"),
        (dict(scheduler="tcp://x:1", backend="serial"), "scheduler"),
        (dict(out=tmp_path / "tiny.toml"), "--out"),
    ]:
        args = {"out": tmp_path / "res", **kwargs}
        with pytest.raises(ExperimentError) as err:
            run_sweep(str(path), progress=False, **args)
        assert err.value.field == field
    assert not (tmp_path / "res").exists()
    with pytest.raises(ExperimentError, match="experiment"):
        run_sweep(42, tmp_path / "res")


def test_backends_give_identical_results(tiny, tmp_path):
    serial = run_sweep(tiny, tmp_path / "serial", backend="serial", progress=False)
    procs = run_sweep(tiny, tmp_path / "procs", backend="processes", workers=2, progress=False)
    assert serial["error"].isna().all()
    assert list(serial.run_id) == [r.run_id for r in tiny.runs()]
    pd.testing.assert_frame_equal(comparable(serial), comparable(procs))
    for metric in METRICS:
        assert metric in serial.columns
    # a row re-run alone from its seed gives the same metrics
    from experiments.runner import execute_run

    spec = tiny.runs()[5]
    row, _ = execute_run(spec)
    assert row["shortfall_share"] == serial.set_index("run_id").loc[spec.run_id, "shortfall_share"]


def test_dask_gives_identical_results(tiny, tmp_path):
    pytest.importorskip("dask.distributed")
    serial = run_sweep(tiny, tmp_path / "serial", backend="serial", progress=False)
    dask = run_sweep(tiny, tmp_path / "dask", backend="dask", workers=2, progress=False)
    pd.testing.assert_frame_equal(comparable(serial), comparable(dask))


def test_outputs_manifest_and_series(tiny, tmp_path):
    out = tmp_path / "out"
    df = run_sweep(tiny, out, backend="serial", progress=False)
    assert (out / "runs.parquet").exists()
    assert len(list((out / "parts").glob("*.parquet"))) == len(df)  # one part per run, kept
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["experiment_sha256"] == tiny.digest and manifest["experiment_file"] == TINY
    assert manifest["status"] == "finished" and manifest["runs_done"] == len(df)
    assert manifest["layout"] == 2 and "git_dirty" in manifest
    assert set(manifest["files"]) == {"runs.parquet"} | {f"parts/{r}.parquet" for r in df.run_id} | {
        f"series/{r}.parquet" for r in df.run_id
    }
    assert {"blocsim", "mesa", "numpy"} <= set(manifest["versions"])
    series = pd.read_parquet(out / "series" / f"{df.run_id[0]}.parquet")
    # an end use's unmet demand (a scenario's own column) can be kept too
    assert list(series.columns) == ["step", "price_bloc_refined", "price_world_refined", "unmet_bloc_ev_traction",
                                    "run_id"]
    assert len(series) == 36
    assert pd.read_parquet(out / "runs.parquet").equals(df)


def test_resume_skips_finished_and_refuses_another_experiment(tiny, tmp_path):
    out = tmp_path / "out"
    first = run_sweep(tiny, out, backend="serial", progress=False)
    stamp = (out / "runs.parquet").stat().st_mtime_ns
    again = run_sweep(tiny, out, backend="serial", progress=False)
    pd.testing.assert_frame_equal(first, again)  # same wall times: nothing was run again
    assert (out / "runs.parquet").stat().st_mtime_ns >= stamp
    other = load_experiment_text(TINY.replace("seed = 7", "seed = 8"))
    with pytest.raises(ExperimentError, match="another experiment"):
        run_sweep(other, out, backend="serial", progress=False)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    with pytest.raises(ExperimentError, match="not a blocsim results directory"):
        run_sweep(tiny, tmp_path / "junk", backend="serial", progress=False)


def test_failed_run_is_recorded_and_sweep_goes_on(tiny, tmp_path, monkeypatch, capsys):
    import experiments.runner as runner

    real = runner._scenario

    def flaky(name):
        sc = real(name)
        if os.environ.get("BLOCSIM_FAIL") == "1":
            raise RuntimeError("boom")
        return sc

    monkeypatch.setattr(runner, "_scenario", flaky)
    monkeypatch.setenv("BLOCSIM_FAIL", "1")
    df = run_sweep(tiny, tmp_path / "out", backend="serial", progress=False)
    assert df["error"].str.contains("boom").all() and len(df) == 16
    monkeypatch.setenv("BLOCSIM_FAIL", "0")
    df = run_sweep(tiny, tmp_path / "out", backend="serial", progress=False)  # failures are tried again
    assert df["error"].isna().all()


def test_cli_sweep_exit_status_and_plot(tmp_path, capsys):
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY)
    out = tmp_path / "res"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    assert main(["plot", str(out)]) == 0
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {
        "heatmap_shortfall_share.png",
        "heatmap_shortfall_share.pdf",
        "lines_fiscal_cost.png",
        "price_paths.png",
    } <= figures
    capsys.readouterr()
    code = exit_code(["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "x")])
    assert code == 2 and "file not found" in capsys.readouterr().err
    code = exit_code(["sweep", str(exp), "--out", str(out), "--workers", "0"])
    assert code == 2 and "--workers" in capsys.readouterr().err
    assert exit_code(["plot", str(tmp_path)]) == 2


def exit_code(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_aggregate_ci(tiny, tmp_path):
    df = run_sweep(tiny, tmp_path / "out", backend="serial", progress=False)
    agg = aggregate(df, ["price_bloc_mean"])
    assert len(agg) == 8 and (agg["n"] == 2).all()
    row = agg.iloc[0]
    vals = df[
        (df.membership == row.membership) & (df.floor_level == row.floor_level) & (df.instrument == row.instrument)
    ]["price_bloc_mean"]
    assert row["mean"] == pytest.approx(vals.mean())
    half = t95(1) * vals.std() / np.sqrt(2)
    assert row["ci_high"] - row["mean"] == pytest.approx(half)
    assert t95(4) == 2.776 and t95(100) == 1.96


def test_plot_needs_results(tmp_path):
    from model.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="runs.parquet"):
        plot_results(tmp_path)


def test_sigkill_mid_sweep_then_resume_equals_uninterrupted(tiny, tmp_path):
    """Kill the sweep (and its workers) with SIGKILL part-way, re-run: nothing lost or redone."""
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY.replace("steps = 36", "steps = 120"))
    full = run_sweep(load_experiment(exp), tmp_path / "full", backend="serial", progress=False)
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "experiments.cli",
        "sweep",
        str(exp),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        parts = list((out / "parts").glob("*.parquet")) if (out / "parts").exists() else []
        if len(parts) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    frames = [pd.read_parquet(p) for p in (out / "parts").glob("*.parquet")]
    if (out / "runs.parquet").exists():
        frames.append(pd.read_parquet(out / "runs.parquet"))
    saved = pd.concat(frames).drop_duplicates("run_id").set_index("run_id")["wall_time"].sort_index()
    assert 4 <= len(saved) < len(full), "the kill came too late to test anything"
    resumed = run_sweep(load_experiment(exp), out, backend="serial", progress=False)
    pd.testing.assert_frame_equal(comparable(resumed), comparable(full))
    # the runs saved before the kill keep their original wall times: they were not redone
    pd.testing.assert_series_equal(resumed.set_index("run_id").loc[saved.index, "wall_time"], saved)


def test_cli_sweep_exits_1_when_runs_fail(tmp_path, monkeypatch, capsys):
    import experiments.runner as runner

    def broken(name):
        raise RuntimeError("scenario store offline")

    monkeypatch.setattr(runner, "_scenario", broken)
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY)
    code = main(["sweep", str(exp), "--out", str(tmp_path / "res"), "--backend", "serial", "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert "0 runs done, 16 failed" in captured.out and "scenario store offline" in captured.err
    assert (tmp_path / "res" / "runs.parquet").exists()
