"""One output folder, one experiment, nothing lost: locks, checksums, repairs, permissions, signals."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments import load_experiment, run_sweep
from experiments.config import ExperimentError

SMALL = """
# a sweep small enough to run many times
name = "small"
scenario = "rare_earths"
seed = 11
replicates = 2
steps = 24
keep_series = ["price_bloc_refined"]

[grid]
membership = [1, 3]
floor = [0.0, 90.0]
instrument = ["levy"]
events = [["export_ban:start=12,duration=6"]]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def sweep_cmd(exp: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "experiments.cli",
        "sweep",
        str(exp),
        "--out",
        str(out),
        "--backend",
        "serial",
        "--no-progress",
        *extra,
    ]


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_time"]).reset_index(drop=True)


@pytest.fixture
def small(tmp_path):
    return write(tmp_path, "small", SMALL)


@pytest.fixture
def reference(small, tmp_path):
    out = tmp_path / "reference"
    df = run_sweep(load_experiment(small), out, backend="serial", progress=False)
    return out, df


def race(tmp_path: Path, a: Path, b: Path, rounds: int) -> list[tuple[int, int, str]]:
    """Start two sweeps on one new --out at the same moment, ``rounds`` times: (rc a, rc b, out)."""
    results = []
    for i in range(rounds):
        out = tmp_path / f"race{i}"
        pa = subprocess.Popen(sweep_cmd(a, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pb = subprocess.Popen(sweep_cmd(b, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, ea = pa.communicate(timeout=120)
        _, eb = pb.communicate(timeout=120)
        results.append((pa.returncode, pb.returncode, ea + eb, out))
    return results


def check_race_of_two_experiments(tmp_path, small, rounds):
    other = write(tmp_path, "other", SMALL.replace("seed = 11", "seed = 12").replace('"small"', '"other"'))
    ids = {
        "small": {s.run_id for s in load_experiment(small).runs()},
        "other": {s.run_id for s in load_experiment(other).runs()},
    }
    assert not ids["small"] & ids["other"]  # the root seed is part of every run id
    for rc_a, rc_b, err, out in race(tmp_path, small, other, rounds):
        assert sorted([rc_a, rc_b]) == [0, 2], err
        assert "Traceback" not in err
        assert "another experiment" in err
        winner = json.loads((out / "manifest.json").read_text())["experiment_name"]
        runs = pd.read_parquet(out / "runs.parquet")
        assert set(runs.run_id) == ids[winner]
        assert {p.stem for p in (out / "series").glob("*.parquet")} == ids[winner]
        assert {p.stem for p in (out / "parts").glob("*.parquet")} == ids[winner]


def test_two_experiments_at_once_one_is_refused(tmp_path, small):
    check_race_of_two_experiments(tmp_path, small, rounds=3)


@pytest.mark.slow
def test_two_experiments_at_once_one_is_refused_many_times(tmp_path, small):
    check_race_of_two_experiments(tmp_path, small, rounds=20)


def test_same_experiment_at_once_waits_or_is_refused(tmp_path, small, reference):
    _, ref = reference
    for rc_a, rc_b, err, out in race(tmp_path, small, small, 1):
        assert (rc_a, rc_b) == (0, 0), err
        pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "runs.parquet")), comparable(ref))
    out = tmp_path / "nowait"
    first = subprocess.Popen(sweep_cmd(small, out), stderr=subprocess.PIPE, text=True)
    while not (out / "manifest.json").exists():
        time.sleep(0.02)
    second = subprocess.run(sweep_cmd(small, out, "--no-wait"), capture_output=True, text=True)
    first.communicate(timeout=120)
    if second.returncode == 2:  # the first still held the lock
        assert "wait for it to finish" in second.stderr and "Traceback" not in second.stderr
    else:  # the first had already finished
        assert second.returncode == 0


def test_stale_lock_of_a_killed_process_is_released(tmp_path, small):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
            str(out / ".blocsim.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(ExperimentError, match="being written"):
        run_sweep(load_experiment(small), out, backend="serial", progress=False, wait=False)
    holder.kill()
    holder.wait()
    df = run_sweep(load_experiment(small), out, backend="serial", progress=False, wait=False)
    assert df["error"].isna().all() and len(df) == 8


def test_duplicate_grid_values_are_refused(tmp_path):
    for old, new in [
        ("floor = [0.0, 90.0]", "floor = [90.0, 90]"),
        ("membership = [1, 3]", "membership = [3, 3]"),
        ('instrument = ["levy"]', 'instrument = ["levy+cfd", "cfd+levy"]'),
    ]:
        with pytest.raises(ExperimentError, match="repeats"):
            load_experiment(write(tmp_path, "dup", SMALL.replace(old, new)))


def damage(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "harm, said",
    [
        (lambda out: damage(out / "runs.parquet"), "runs.parquet was damaged"),
        (lambda out: (out / "runs.parquet").unlink(), "runs.parquet was missing"),
        (lambda out: damage(next((out / "parts").glob("*.parquet"))), "was damaged or foreign"),
        (lambda out: next((out / "parts").glob("*.parquet")).unlink(), "was missing: rewritten"),
        (lambda out: damage(next((out / "series").glob("*.parquet"))), "was damaged: its run is done again"),
        (lambda out: next((out / "series").glob("*.parquet")).unlink(), "was missing: its run is done again"),
        (lambda out: (out / "manifest.json").unlink(), "manifest.json was missing"),
        (lambda out: damage(out / "manifest.json"), "manifest.json was unreadable"),
    ],
)
def test_resume_verifies_and_repairs(tmp_path, small, reference, harm, said):
    ref_out, ref = reference
    out = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(ref_out), str(out)], check=True)
    harm(out)
    said_lines = []
    df = run_sweep(load_experiment(small), out, backend="serial", progress=False, log=said_lines.append)
    assert any(said in line for line in said_lines), said_lines
    pd.testing.assert_frame_equal(comparable(df), comparable(ref))
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "runs.parquet")), comparable(ref))
    for p in (ref_out / "series").glob("*.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / "series" / p.name), pd.read_parquet(p))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["runs_done"] == len(ref)
    assert manifest["sessions"][-1]["repairs"]
    # and now everything checks out: nothing more to repair
    again = []
    run_sweep(load_experiment(small), out, backend="serial", progress=False, log=again.append)
    assert not [line for line in again if "repaired" in line]


def test_manifest_of_another_experiment_or_foreign_runs_refused(tmp_path, small, reference):
    ref_out, _ = reference
    other = load_experiment(write(tmp_path, "other", SMALL.replace("seed = 11", "seed = 12")))
    with pytest.raises(ExperimentError, match="another experiment"):
        run_sweep(other, ref_out, backend="serial", progress=False)
    out = tmp_path / "nomanifest"
    subprocess.run(["cp", "-a", str(ref_out), str(out)], check=True)
    (out / "manifest.json").unlink()
    with pytest.raises(ExperimentError, match="runs of another experiment"):
        run_sweep(other, out, backend="serial", progress=False)


def test_comment_only_edit_resumes(tmp_path, small, reference):
    ref_out, ref = reference
    edited = write(tmp_path, "edited", "# a new comment\n" + SMALL.replace("steps = 24", "steps  =  24   # months"))
    said = []
    df = run_sweep(load_experiment(edited), ref_out, backend="serial", progress=False, log=said.append)
    pd.testing.assert_frame_equal(df, ref)  # same wall times: nothing was run again


def test_files_respect_the_umask(tmp_path, small):
    old = os.umask(0o002)
    try:
        out = tmp_path / "out"
        run_sweep(load_experiment(small), out, backend="serial", progress=False)
    finally:
        os.umask(old)
    for path in [out / "runs.parquet", out / "manifest.json", *out.glob("parts/*"), *out.glob("series/*")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path


def test_manifest_records_git_state(tmp_path, small):
    from experiments.storage import git_state

    out = tmp_path / "out"
    run_sweep(load_experiment(small), out, backend="serial", progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    state = git_state()
    assert manifest["git_commit"] == state["commit"] and manifest["git_dirty"] == state["dirty"]
    if state["commit"]:
        assert isinstance(state["dirty"], bool)


def test_sigterm_is_handled_like_ctrl_c(tmp_path, small, reference):
    _, ref = reference
    exp = write(tmp_path, "slow", SMALL.replace("steps = 24", "steps = 24").replace("replicates = 2", "replicates = 6"))
    full = run_sweep(load_experiment(exp), tmp_path / "full", backend="serial", progress=False)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        sweep_cmd(exp, out), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("parts/*.parquet"))) < 3:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (143, 0), err  # 0: it finished before the signal
    if proc.returncode == 143:
        assert "terminated (SIGTERM)" in err and "Traceback" not in err
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "interrupted"
        assert manifest["runs_done"] == len(pd.read_parquet(out / "runs.parquet"))
    resumed = run_sweep(load_experiment(exp), out, backend="serial", progress=False)
    pd.testing.assert_frame_equal(comparable(resumed), comparable(full))
    assert json.loads((out / "manifest.json").read_text())["status"] == "finished"


def test_unreachable_dask_scheduler_is_a_clear_error_and_leaves_nothing(tmp_path, small, monkeypatch):
    pytest.importorskip("dask.distributed")
    import experiments.runner

    monkeypatch.setattr(experiments.runner, "DASK_CONNECT_TIMEOUT", 2)
    out = tmp_path / "dd"
    t0 = time.monotonic()
    with pytest.raises(ExperimentError, match="no Dask scheduler answered"):
        run_sweep(load_experiment(small), out, backend="dask", scheduler="tcp://127.0.0.1:1", progress=False)
    assert time.monotonic() - t0 < 30
    assert not out.exists()


def test_plot_writes_figures_atomically(tmp_path, reference, monkeypatch):
    import matplotlib.figure

    from experiments.plots import plot_results

    ref_out, _ = reference
    real = matplotlib.figure.Figure.savefig
    calls = {"n": 0}

    def dies_half_way(self, fname, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            Path(fname).write_bytes(b"")  # a partial file, then the process "dies"
            raise KeyboardInterrupt
        return real(self, fname, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        plot_results(ref_out, metrics=["price_bloc_mean"])
    files = list((ref_out / "figures").iterdir())
    assert files and all(f.stat().st_size > 0 and not f.name.endswith(".tmp") for f in files)
