"""Where a sweep's results live, written so that nothing finished is ever lost or mixed up.

Layout of an output directory ``OUT``:

- ``manifest.json``: the experiment (its file and the SHA-256 of its parsed
  values), versions of blocsim/mesa/numpy/pandas/python, git commit of the
  source and whether it had uncommitted changes, start and end times,
  machine, backend, counts, status, the SHA-256 of every file written, and
  each session's repairs;
- ``parts/RUN_ID.parquet``: each run's row, written the moment it finishes
  (the record of what is done; kept);
- ``runs.parquet``: every run's row (grid parameters, seed, metrics, wall
  time, error) in the experiment's run order, folded from the parts every few
  seconds and at the end;
- ``series/RUN_ID.parquet``: the per-step series kept by the experiment;
- ``.blocsim.lock``: held (``flock``) by the one sweep writing into ``OUT``;
  the kernel releases it when that process ends, however it ends.

One folder holds one experiment: a sweep takes the lock before it reads or
writes anything; a second sweep of another experiment is refused, one of the
same experiment waits (or, with ``wait=False``, is refused). Every file is
written to a temporary name and renamed into place with the permissions the
umask gives, so no half-written file is ever visible. On resume every file is
checked against the manifest's checksums: a damaged ``runs.parquet`` is
rebuilt from the parts, a missing or damaged part is rewritten from
``runs.parquet`` or its run is done again, a missing or damaged series has its
run done again, and a lost manifest is rebuilt from the parts when they match
the experiment. What was repaired is reported.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.config import Experiment, ExperimentError

RUNS = "runs.parquet"
MANIFEST = "manifest.json"
LOCK = ".blocsim.lock"
LAYOUT = 2  # 2: run ids name the root seed, scenario and months; parts are kept; checksums
OWN_NAMES = {RUNS, MANIFEST, LOCK, "parts", "series", "figures"}


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def atomic_write_bytes(path: Path, write: Callable[[str], Any]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path`` (mode 0666 minus the umask)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_parquet(df: pd.DataFrame, path: Path) -> str:
    """Write ``df`` atomically; return the file's SHA-256."""
    atomic_write_bytes(path, lambda tmp: df.to_parquet(tmp, index=False))
    return sha256_file(path)


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


def _git(src: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """The git commit of the running blocsim source and whether it had uncommitted changes.

    Only when the imported code *is* the checkout (an editable install or a
    source tree): an installed copy inside a repository's ``.venv`` reports None.
    """
    src = Path(__file__).resolve().parents[1]
    top = _git(src, "rev-parse", "--show-toplevel")
    if not top or Path(top).resolve() != src:
        return {"commit": None, "dirty": None}
    status = _git(src, "status", "--porcelain", "--untracked-files=no")
    return {"commit": _git(src, "rev-parse", "HEAD") or None, "dirty": None if status is None else bool(status)}


def git_commit() -> str | None:
    """The commit of blocsim's source tree, if it is a git checkout."""
    return git_state()["commit"]


def _probe_writable(directory: Path) -> str | None:
    """None if a file can be created in ``directory`` (tried for real, then removed), else why not."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".blocsim-probe.", dir=directory)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(tmp)
    return None


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_out_dir(out: Path, field: str = "--out") -> None:
    """Refuse, before any work, an output directory that cannot be created or written."""
    if out.exists() and not out.is_dir() and out.exists():  # (a directory removed meanwhile is not a file)
        raise ExperimentError(field, str(out), "is a file, not a directory: give a results directory")
    base = _nearest_existing(out)
    if not base.is_dir():
        raise ExperimentError(field, str(out), f"{str(base)!r} is a file, so the directory cannot be created")
    why = _probe_writable(base)
    if why:
        raise ExperimentError(field, str(out), f"cannot write in {str(base)!r}: {why}")


def check_out_file(out: Path, field: str = "--out") -> None:
    """Refuse, before the run, a ``run --out`` file that could not be written or would destroy another file."""
    if out.suffix != ".parquet":
        raise ExperimentError(field, str(out), "must end in .parquet")
    parent = out.parent
    if not parent.exists():
        raise ExperimentError(field, str(out), f"directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ExperimentError(field, str(out), f"{str(parent)!r} is not a directory")
    if out.is_dir():
        raise ExperimentError(field, str(out), "is a directory: give a file name ending in .parquet")
    why = _probe_writable(parent)
    if why:
        raise ExperimentError(field, str(out), f"cannot write in {str(parent)!r}: {why}")
    if out.exists():
        try:
            meta = pq.read_schema(out).metadata or {}
        except Exception:  # not a parquet file
            meta = {}
        if b"blocsim.scenario" not in meta:
            raise ExperimentError(
                field, str(out), "exists and is not a table written by `blocsim run`: not overwritten"
            )


def _foreign(out: Path) -> list[str]:
    """Names in ``out`` that a sweep did not write."""
    return sorted(
        p.name
        for p in out.iterdir()
        if p.name not in OWN_NAMES
        and not (p.name.startswith(".") and p.name.endswith(".tmp"))
        and not p.name.startswith(".blocsim-probe.")  # another sweep checking it can write here
    )


class ResultStore:
    """An output directory for one experiment, locked while open: refuses another experiment's results."""

    FOLD_EVERY = 5.0  # seconds between folding parts into runs.parquet

    def __init__(
        self,
        out: Path,
        experiment: Experiment,
        wait: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.out = Path(out)
        self.experiment = experiment
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.parts = self.out / "parts"
        self.series = self.out / "series"
        self.repairs: list[str] = []
        self.created = False
        self._dirty = False
        self._lock_fd: int | None = None
        check_out_dir(self.out)
        if self.out.exists() and _foreign(self.out) and not (self.out / MANIFEST).exists():
            raise ExperimentError("--out", str(self.out), "exists and is not a blocsim results directory")
        if not self.out.exists():
            try:
                self.out.mkdir(parents=True)
                self.created = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise ExperimentError("--out", str(self.out), f"cannot be created: {exc.strerror or exc}") from None
        try:
            self._lock(wait)
            self.specs = experiment.runs()  # every run, in the experiment's order
            self._spec = {s.run_id: s for s in self.specs}
            self._order = {spec.run_id: i for i, spec in enumerate(self.specs)}
            self.manifest = self._open_manifest()
            self.files: dict[str, str] = dict(self.manifest.get("files", {}))
            self._rows: dict[str, dict[str, Any]] = {}
            self._verify()
        except BaseException:
            # remove the directory only if this store created it AND holds its lock: a sweep refused by
            # another one's lock must not delete the folder that other sweep is writing into
            self.close(discard=self.created and self._lock_fd is not None)
            raise
        self._last_fold = time.monotonic()

    # ---------------------------------------------------------------- lock
    def _lock(self, wait: bool) -> None:
        path = self.out / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ExperimentError("--out", str(self.out), f"cannot be locked: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                os.close(fd)
                raise ExperimentError("--out", str(self.out), f"cannot be locked: {exc.strerror}") from None
            holder = self._holder(fd)
            if holder.get("experiment_sha256") != self.experiment.digest:
                os.close(fd)
                name = holder.get("experiment_name")
                what = f"another experiment ({name!r})" if name else "another sweep"
                raise ExperimentError(
                    "--out",
                    str(self.out),
                    f"is being written by {what} (process {holder.get('pid', '?')}); use a new --out directory",
                ) from None
            if not wait:
                os.close(fd)
                raise ExperimentError(
                    "--out",
                    str(self.out),
                    f"is being written by process {holder.get('pid', '?')} running this experiment; "
                    "wait for it to finish or use another --out directory",
                ) from None
            self.log(
                f"blocsim: {self.out} is being written by process {holder.get('pid', '?')} running this "
                "experiment; waiting for it to finish..."
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd
        info = {
            "pid": os.getpid(),
            "node": platform.node(),
            "experiment_name": self.experiment.name,
            "experiment_sha256": self.experiment.digest,
            "since": datetime.now(UTC).isoformat(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)

    @staticmethod
    def _holder(fd: int) -> dict[str, Any]:
        """What the lock's holder wrote into the lock file (it writes just after taking the lock)."""
        for _ in range(40):
            try:
                data = os.pread(fd, 4096, 0)
                if data:
                    return json.loads(data)
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        return {}

    def close(self, discard: bool = False) -> None:
        """Release the lock; with ``discard``, remove the directory this store created (nothing was stored)."""
        if discard:
            shutil.rmtree(self.out, ignore_errors=True)
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------ manifest
    def _same_experiment(self, old: dict[str, Any]) -> bool:
        return old.get("experiment_sha256") == self.experiment.digest or (
            old.get("experiment_file_sha256") == self.experiment.text_digest and bool(self.experiment.text)
        )

    def _open_manifest(self) -> dict[str, Any]:
        path = self.out / MANIFEST
        old = None
        if path.exists():
            try:
                old = json.loads(path.read_text())
                if not isinstance(old, dict):
                    raise ValueError("not an object")
            except (OSError, ValueError):
                self.repairs.append("manifest.json was unreadable: rebuilt from the stored runs")
                old = None
        if old is not None:
            if old.get("layout") != LAYOUT:
                raise ExperimentError(
                    "--out",
                    str(self.out),
                    "holds results written by blocsim 0.1.0 (other run ids, no checksums); use a new --out directory",
                )
            if not self._same_experiment(old):
                raise ExperimentError(
                    "--out",
                    str(self.out),
                    f"holds results of another experiment ({old.get('experiment_name')!r}, "
                    f"sha256 {str(old.get('experiment_sha256'))[:12]}...); use a new --out directory",
                )
            return old
        # no (readable) manifest: adopt the stored runs if every one of them belongs to this experiment
        foreign = _foreign(self.out)
        if foreign:
            raise ExperimentError(
                "--out", str(self.out), f"exists and is not a blocsim results directory (it holds {foreign[0]!r})"
            )
        rows = self._readable_rows()
        stray = [r for r in rows if r.get("run_id") not in self._spec or self._spec[r["run_id"]].seed != r.get("seed")]
        if stray:
            raise ExperimentError(
                "--out",
                str(self.out),
                f"has no manifest and holds runs of another experiment (e.g. {stray[0].get('run_id')!r}); "
                "use a new --out directory",
            )
        if rows and not any("manifest.json" in r for r in self.repairs):
            self.repairs.append(
                f"manifest.json was missing: rebuilt from {len({r['run_id'] for r in rows})} stored runs"
            )
        return {}

    def _readable_rows(self) -> list[dict[str, Any]]:
        rows = []
        for p in sorted(self.parts.glob("*.parquet")) if self.parts.is_dir() else []:
            with contextlib.suppress(Exception):
                rows += pd.read_parquet(p).to_dict("records")
        if (self.out / RUNS).exists():
            with contextlib.suppress(Exception):
                rows += pd.read_parquet(self.out / RUNS).to_dict("records")
        return rows

    # ------------------------------------------------------------ verify
    def _check(self, rel: str) -> bool | None:
        """True if ``rel`` matches its recorded checksum, False if not, None if none was recorded."""
        want = self.files.get(rel)
        if want is None:
            return None
        try:
            return sha256_file(self.out / rel) == want
        except OSError:
            return False

    def _read(self, rel: str) -> pd.DataFrame | None:
        """The table at ``rel`` if it is intact (checksum, or readable when none is recorded), else None."""
        path = self.out / rel
        if not path.exists() or self._check(rel) is False:
            return None
        try:
            return pd.read_parquet(path)
        except Exception:
            return None

    def _verify(self) -> None:
        """Check every stored file; repair what can be repaired; say what was."""
        rows: dict[str, dict[str, Any]] = {}
        # runs.parquet as the manifest recorded it holds every part the manifest recorded (a part is
        # recorded only by the fold that writes it into runs.parquet): those parts need not be read
        folded: dict[str, dict[str, Any]] = {}
        if self._check(RUNS):
            df = self._read(RUNS)
            if df is not None and "run_id" in df:
                folded = {r["run_id"]: r for r in df.to_dict("records")}
        # parts: one per run, the record of what is done
        for p in sorted(self.parts.glob("*.parquet")) if self.parts.is_dir() else []:
            rel = f"parts/{p.name}"
            if p.stem in folded and self._check(rel):
                row = folded[p.stem]
            else:
                df = self._read(rel)
                row = df.to_dict("records")[0] if df is not None and len(df) == 1 else None
            spec = self._spec.get(p.stem)
            if row is None or spec is None or row.get("run_id") != p.stem or row.get("seed") != spec.seed:
                self.repairs.append(f"{rel} was damaged or foreign: removed (its run is done again)")
                p.unlink(missing_ok=True)
                self.files.pop(rel, None)
                continue
            self.files.setdefault(rel, sha256_file(p))
            rows[p.stem] = row
        # runs.parquet: a fold of the parts
        runs_path = self.out / RUNS
        if runs_path.exists():
            df = self._read(RUNS)
            if df is None:
                self.repairs.append(f"{RUNS} was damaged: rebuilt from {len(rows)} parts")
                runs_path.unlink(missing_ok=True)
                self.files.pop(RUNS, None)
            elif len(df):
                for row in df.to_dict("records"):
                    rid = row.get("run_id")
                    if rid in rows or rid not in self._spec or row.get("seed") != self._spec[rid].seed:
                        continue
                    rows[rid] = row  # its part is missing: rewrite it from this row
                    self.parts.mkdir(exist_ok=True)
                    self.files[f"parts/{rid}.parquet"] = self._write_part(row)
                    self.repairs.append(f"parts/{rid}.parquet was missing: rewritten from {RUNS}")
                    self._dirty = True
        elif rows and self.manifest:
            self.repairs.append(f"{RUNS} was missing: rebuilt from {len(rows)} parts")
        # series: a finished run's series must be there and intact, else the run is done again
        if self.experiment.keep_series:
            for rid, row in list(rows.items()):
                if row.get("error") is not None and row.get("error") == row.get("error"):
                    continue
                rel = f"series/{rid}.parquet"
                ok = (self.out / rel).exists() and (
                    self._check(rel) if rel in self.files else self._read(rel) is not None
                )
                if not ok:
                    what = "missing" if not (self.out / rel).exists() else "damaged"
                    self.repairs.append(f"{rel} was {what}: its run is done again")
                    (self.out / rel).unlink(missing_ok=True)
                    self.files.pop(rel, None)
                    (self.parts / f"{rid}.parquet").unlink(missing_ok=True)
                    self.files.pop(f"parts/{rid}.parquet", None)
                    del rows[rid]
                else:
                    self.files.setdefault(rel, sha256_file(self.out / rel))
        self._rows = rows
        self._stored_before = set(rows)
        if self.repairs:
            self._dirty = True

    # ------------------------------------------------------------ manifest
    def start(self, backend: str, workers: int, n_runs: int) -> None:
        self.parts.mkdir(exist_ok=True)
        m = self.manifest
        now = datetime.now(UTC).isoformat()
        git = git_state()
        m.update(
            {
                "layout": LAYOUT,
                "experiment_name": self.experiment.name,
                "experiment_sha256": self.experiment.digest,
                "experiment_file_sha256": self.experiment.text_digest,
                "experiment_file": self.experiment.text,
                "versions": versions(),
                "git_commit": git["commit"],
                "git_dirty": git["dirty"],
                "machine": {
                    "node": platform.node(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "backend": backend,
                "workers": workers,
                "runs_total": n_runs,
                "status": "running",
                "pid": os.getpid(),
            }
        )
        if getattr(self.experiment, "design_info", None):  # a design over uncertain parameters
            m["design"] = self.experiment.design_info
        m.setdefault("started", now)
        m.pop("finished", None)
        session = {"started": now, "backend": backend, "workers": workers, "git_commit": git["commit"]}
        if self.repairs:
            session["repairs"] = list(self.repairs)
        m.setdefault("sessions", []).append(session)
        self.fold(force=True)  # runs.parquet and the manifest agree from the start

    def _write_manifest(self) -> None:
        self.manifest["files"] = dict(sorted(self.files.items()))
        rows = self._rows.values()
        self.manifest["runs_done"] = sum(1 for r in rows if _ok(r))
        self.manifest["runs_failed"] = sum(1 for r in rows if not _ok(r))
        write_json(self.manifest, self.out / MANIFEST)

    def finish(self, status: str) -> None:
        self.fold(force=True)
        if status == "finished":
            failed = sum(1 for r in self._rows.values() if not _ok(r))
            status = "finished with failures" if failed else "finished"
        self.manifest.update({"status": status, "finished": datetime.now(UTC).isoformat()})
        if self.manifest.get("sessions"):
            self.manifest["sessions"][-1].update({"finished": self.manifest["finished"], "status": status})
        self._write_manifest()

    # ------------------------------------------------------------- results
    def _write_part(self, row: dict[str, Any]) -> str:
        table = pa.Table.from_pylist([row])
        path = self.parts / f"{row['run_id']}.parquet"
        atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp))
        return sha256_file(path)

    def add(self, row: dict[str, Any], series: pd.DataFrame | None) -> None:
        """Store one finished run at once (series first, then its part); fold now and then."""
        rid = row["run_id"]
        retry = f"parts/{rid}.parquet" in self.files  # a failed run done again: its files are replaced
        if series is not None:
            self.series.mkdir(exist_ok=True)
            self.files[f"series/{rid}.parquet"] = write_parquet(series, self.series / f"{rid}.parquet")
        self.parts.mkdir(exist_ok=True)
        self.files[f"parts/{rid}.parquet"] = self._write_part(row)
        self._rows[rid] = row
        self._dirty = True
        # a replaced file must never disagree with a recorded checksum: record it at once
        if retry or time.monotonic() - self._last_fold > self.FOLD_EVERY:
            self.fold()

    @property
    def stored_any(self) -> bool:
        return bool(self._rows)

    def fold(self, force: bool = False) -> None:
        """Write runs.parquet (atomically) with every run so far, and the manifest with its checksums."""
        if self._dirty or force or not (self.out / RUNS).exists():
            df = self.load()
            self.files[RUNS] = write_parquet(df, self.out / RUNS)
            self._write_manifest()
            self._dirty = False
        self._last_fold = time.monotonic()

    def load(self) -> pd.DataFrame:
        """Every stored run, in the experiment's run order."""
        if not self._rows:
            return pd.DataFrame()
        ids = sorted(self._rows, key=lambda r: self._order.get(r, len(self._order)))
        return pd.DataFrame([self._rows[r] for r in ids])

    def finished_ids(self) -> set[str]:
        """Runs that finished without error (failed runs are tried again on resume)."""
        return {rid for rid, row in self._rows.items() if _ok(row)}


def _ok(row: dict[str, Any]) -> bool:
    err = row.get("error")
    return err is None or (isinstance(err, float) and err != err)
