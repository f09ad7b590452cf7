"""Where a sweep's results live, written so that nothing finished is ever lost.

Layout of an output directory ``OUT``:

- ``manifest.json``: the experiment file's contents and SHA-256, versions of
  blocsim/mesa/numpy/pandas/python, git commit of the source if any, start and
  end times, machine, backend, counts;
- ``runs.parquet``: one row per finished run (grid parameters, seed, metrics,
  wall time, error), in the experiment's run order;
- ``parts/RUN_ID.parquet``: each run's row, written the moment it finishes and
  folded into ``runs.parquet`` every few seconds and at the end;
- ``series/RUN_ID.parquet``: the per-step series kept by the experiment.

Every file is written to a temporary name and renamed into place, so no
half-written file is ever visible; a killed sweep loses nothing that finished.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.config import Experiment, ExperimentError

RUNS = "runs.parquet"
MANIFEST = "manifest.json"


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    atomic_write_bytes(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_json(data: dict[str, Any], path: Path) -> None:
    def write(tmp):
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=2, default=str)

    atomic_write_bytes(path, write)


def versions() -> dict[str, str]:
    import mesa
    import numpy

    import model

    return {
        "blocsim": model.__version__,
        "mesa": mesa.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def git_commit() -> str | None:
    """The commit of blocsim's source tree, if it is a git checkout."""
    src = Path(__file__).resolve().parents[1]
    try:
        proc = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


class ResultStore:
    """An output directory for one experiment: refuses another experiment's results."""

    FOLD_EVERY = 5.0  # seconds between folding parts into runs.parquet

    def __init__(self, out: Path, experiment: Experiment) -> None:
        self.out = Path(out)
        self.experiment = experiment
        manifest = self.out / MANIFEST
        if manifest.exists():
            old = json.loads(manifest.read_text())
            if old.get("experiment_sha256") != experiment.digest:
                raise ExperimentError(
                    "--out",
                    str(self.out),
                    f"holds results of another experiment ({old.get('experiment_name')!r}, "
                    f"sha256 {str(old.get('experiment_sha256'))[:12]}...); use a new --out directory",
                )
            self.manifest = old
        elif self.out.exists() and any(self.out.iterdir()):
            raise ExperimentError("--out", str(self.out), "exists and is not a blocsim results directory")
        else:
            self.manifest = {}
        self.parts = self.out / "parts"
        self.series = self.out / "series"
        self._last_fold = time.monotonic()
        self.specs = experiment.runs()  # every run, in the experiment's order
        self._order = {spec.run_id: i for i, spec in enumerate(self.specs)}
        self._stored = self._read_all()  # runs on disk when the sweep (re)starts
        self._new: list[dict[str, Any]] = []  # rows stored since, also on disk as parts

    # ------------------------------------------------------------ manifest
    def start(self, backend: str, workers: int, n_runs: int) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.parts.mkdir(exist_ok=True)
        m = self.manifest
        m.update(
            {
                "experiment_name": self.experiment.name,
                "experiment_sha256": self.experiment.digest,
                "experiment_file": self.experiment.text,
                "versions": versions(),
                "git_commit": git_commit(),
                "machine": {
                    "node": platform.node(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "backend": backend,
                "workers": workers,
                "runs_total": n_runs,
                "status": "running",
            }
        )
        if getattr(self.experiment, "design_info", None):  # a design over uncertain parameters
            m["design"] = self.experiment.design_info
        m.setdefault("started", datetime.now(UTC).isoformat())
        m.setdefault("sessions", []).append({"started": datetime.now(UTC).isoformat(), "backend": backend})
        write_json(m, self.out / MANIFEST)

    def finish(self, status: str) -> None:
        df = self.load()
        self.manifest.update(
            {
                "status": status,
                "finished": datetime.now(UTC).isoformat(),
                "runs_done": int(df["error"].isna().sum()) if len(df) else 0,
                "runs_failed": int(df["error"].notna().sum()) if len(df) else 0,
            }
        )
        write_json(self.manifest, self.out / MANIFEST)

    # ------------------------------------------------------------- results
    def add(self, row: dict[str, Any], series: pd.DataFrame | None) -> None:
        """Store one finished run at once; fold parts into runs.parquet now and then."""
        if series is not None:
            self.series.mkdir(exist_ok=True)
            write_parquet(series, self.series / f"{row['run_id']}.parquet")
        table = pa.Table.from_pylist([row])
        atomic_write_bytes(self.parts / f"{row['run_id']}.parquet", lambda tmp: pq.write_table(table, tmp))
        self._new.append(row)
        if time.monotonic() - self._last_fold > self.FOLD_EVERY:
            self.fold()

    def _read_all(self) -> pd.DataFrame:
        frames = []
        if (self.out / RUNS).exists():
            frames.append(pd.read_parquet(self.out / RUNS))
        if self.parts.exists():
            for p in sorted(self.parts.glob("*.parquet")):
                frames.append(pd.read_parquet(p))
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        # a run re-done after a failure replaces its failed row
        return df.drop_duplicates("run_id", keep="last")

    def fold(self) -> None:
        """Write runs.parquet (atomically) with every run so far, then remove the parts."""
        parts = sorted(self.parts.glob("*.parquet")) if self.parts.exists() else []
        if parts or self._new or not (self.out / RUNS).exists():
            frames = [f for f in (self._stored, pd.DataFrame(self._new)) if len(f)]
            df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            if len(df):  # a run re-done after a failure replaces its failed row
                df = df.drop_duplicates("run_id", keep="last")
            df = self._ordered(df)
            write_parquet(df, self.out / RUNS)
            for p in parts:
                p.unlink(missing_ok=True)
            self._stored, self._new = df, []
        self._last_fold = time.monotonic()

    def _ordered(self, df: pd.DataFrame) -> pd.DataFrame:
        if df.empty:
            return df
        df = df.assign(_order=df["run_id"].map(self._order)).sort_values("_order", kind="stable")
        return df.drop(columns="_order").reset_index(drop=True)

    def load(self) -> pd.DataFrame:
        """Every stored run, in the experiment's run order."""
        return self._ordered(self._read_all())

    def finished_ids(self) -> set[str]:
        """Runs that finished without error (failed runs are tried again on resume)."""
        df = self._stored
        done = set() if df.empty else set(df.loc[df["error"].isna(), "run_id"])
        return done | {row["run_id"] for row in self._new if row["error"] is None}
