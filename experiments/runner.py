"""Run a declared experiment: one function runs a run, any executor runs many.

``execute_run`` builds, runs and measures one run and never raises: a failure
becomes a row with its error. ``run_sweep`` sends the runs that are not yet
finished to an executor -- in-process (``serial``), a pool of processes forked
from a preloaded server (``processes``, the default, all cores), or Dask (``dask``: an existing
scheduler at an address, e.g. one started by dask-jobqueue on SLURM or by
dask-kubernetes, or a LocalCluster) -- and stores each result as it arrives
(``experiments.storage``). Seeds come from the experiment (``RunSpec.seed``),
so results do not depend on the backend, the number of workers or the order.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config import Experiment, ExperimentError, RunSpec, load_experiment
from experiments.metrics import METRICS, run_metrics
from experiments.storage import ResultStore

BACKENDS = ("auto", "serial", "processes", "dask")
# auto: serial unless the estimated serial time exceeds what the process pool's start-up costs
SECONDS_PER_RUN_MONTH = 2.2e-3  # measured: quick (36 runs x 120 months) in 9.4 s serial on 2 cores
POOL_STARTUP_SECONDS = 6.0  # measured: quick took 10.7 s on 2 processes vs 9.4 s serial
DASK_CONNECT_TIMEOUT = 10  # seconds to wait for a Dask scheduler


class SweepTerminated(KeyboardInterrupt):
    """SIGTERM (what SLURM sends at a time limit or scancel), handled like Ctrl-C."""


def choose_backend(n_runs: int, steps: int, workers: int) -> str:
    """'serial' when the work is too small for a process pool to pay off, else 'processes'."""
    serial = n_runs * steps * SECONDS_PER_RUN_MONTH
    if workers <= 1 or serial <= POOL_STARTUP_SECONDS * workers / (workers - 1):
        return "serial"
    return "processes"


@lru_cache(maxsize=8)
def _scenario(name: str):
    from model import load_scenario

    return load_scenario(name)


@lru_cache(maxsize=8)
def _raw(name: str) -> dict[str, Any]:
    """A scenario's parsed TOML, its [uncertain] table checked and set aside."""
    from model.uncertainty import raw_scenario, strip_uncertain

    return strip_uncertain(raw_scenario(name))


def _scenario_for(spec: RunSpec):
    """The run's scenario: the named one, with a design's parameter values applied (experiments/designs.py)."""
    overrides = getattr(spec, "overrides", ())
    if not overrides:
        return _scenario(spec.scenario)
    from model.scenario import scenario_from_dict
    from model.uncertainty import apply

    return scenario_from_dict(apply(_raw(spec.scenario), dict(overrides)))


def _row(spec: RunSpec) -> dict[str, Any]:
    """A run's identity and grid parameters: the first columns of its row."""
    return {
        "run_id": spec.run_id,
        "point_id": spec.point_id,
        "replicate": spec.replicate,
        "seed": spec.seed,
        **spec.params(),
    }


def _failed(row: dict[str, Any], error: str) -> dict[str, Any]:
    """Complete ``row`` as a failed run: NaN metrics and the error."""
    row.update({k: math.nan for k in METRICS})
    row["error"] = error
    return row


def execute_run(spec: RunSpec) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Build, run and measure one run: (its row, its kept per-step series or None)."""
    from model import BlocModel

    row = _row(spec)
    t0 = time.perf_counter()
    series = None
    try:
        model = BlocModel(
            _scenario_for(spec),
            members=list(spec.members),
            floor=spec.floor,
            instrument=spec.instrument,
            seed=spec.seed,
            events=spec.events,
            dumping=spec.dumping,
            member_stockpile_months=spec.member_stockpile_months,
            steps=spec.steps,
            record_plants=False,  # a sweep keeps per-step model columns only (``keep_series``)
        )
        model.run()
        df = model.datacollector.get_model_vars_dataframe()
        row.update(run_metrics(model, df))
        row["error"] = None
        if spec.keep_series:
            series = df[["step", *spec.keep_series]].assign(run_id=spec.run_id)
    except Exception as exc:  # recorded as a row; the sweep goes on
        _failed(row, f"{type(exc).__name__}: {exc} | " + traceback.format_exc(limit=3).replace("\n", " ")[-500:])
    row["wall_time"] = time.perf_counter() - t0
    return row, series


@contextmanager
def make_executor(backend: str, workers: int, scheduler: str | None = None) -> Iterator[Executor | None]:
    """An executor for ``backend`` (None for serial), closed afterwards."""
    if backend == "serial":
        yield None
    elif backend == "processes":
        # forkserver: workers are forked from a clean server process that has blocsim imported
        # (spawn would import it again in every worker; plain fork copies this process's threads)
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["model", "experiments.runner"])
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            yield ex
    elif backend == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ExperimentError("--backend", "dask", "needs Dask: pip install 'blocsim[dask]'") from None
        cluster = None
        if scheduler:
            try:
                client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as exc:
                why = str(exc).split("\n")[0][:160] or type(exc).__name__
                raise ExperimentError(
                    "--scheduler",
                    scheduler,
                    f"no Dask scheduler answered within {DASK_CONNECT_TIMEOUT} s ({why})",
                ) from None
        else:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
            )
            client = Client(cluster)
        try:
            yield client.get_executor()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    else:
        raise ExperimentError("--backend", backend, f"unknown backend (known: {', '.join(BACKENDS)})")


def _results(executor: Executor | None, specs: list[RunSpec]):
    """(spec, result) pairs as runs finish."""
    if executor is None:
        for spec in specs:
            yield spec, execute_run(spec)
        return
    futures = {executor.submit(execute_run, spec): spec for spec in specs}
    try:
        for fut in as_completed(futures):
            spec = futures[fut]
            try:
                yield spec, fut.result()
            except Exception as exc:  # the worker itself died
                row = _failed(_row(spec), f"worker failed: {type(exc).__name__}: {exc}")
                row["wall_time"] = math.nan
                yield spec, (row, None)
    finally:
        for fut in futures:
            fut.cancel()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """In the main thread, turn SIGTERM into ``SweepTerminated`` for the duration."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SweepTerminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_sweep(
    experiment: Experiment | str | Path,
    out: str | Path,
    backend: str = "auto",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    wait: bool = True,
    log: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run every run of ``experiment`` not yet in ``out``; return all its runs as a DataFrame.

    ``experiment``: an ``Experiment`` or the path of an experiment file.
    Re-running on the same ``out`` resumes: finished runs are not run again
    (failed ones are), and damaged files are repaired (``log`` says which).
    Another experiment's ``out`` is refused; while another sweep of the same
    experiment writes into ``out`` this one waits (``wait=False``: refused).
    ``backend="auto"`` runs small sweeps serially and large ones on a process pool.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(experiment, (str, Path)):
        experiment = load_experiment(experiment)
    if not isinstance(experiment, Experiment):
        raise ExperimentError("experiment", experiment, "must be an Experiment or the path of an experiment file")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ExperimentError("backend", backend, f"unknown backend (known: {', '.join(BACKENDS)})")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ExperimentError("workers", workers, "must be a whole number >= 1")
    if scheduler is not None and (not isinstance(scheduler, str) or backend != "dask"):
        raise ExperimentError(
            "scheduler", scheduler, "only applies with backend 'dask' (an address like tcp://host:8786)"
        )
    if not isinstance(out, (str, Path)) or not str(out).strip():
        raise ExperimentError("out", out, "must be a directory path")
    with _sigterm_as_interrupt():
        store = ResultStore(Path(out), experiment, wait=wait, log=log)
        try:
            return _run(store, experiment, backend, workers, scheduler, progress, log)
        except BaseException:
            if store.created and not store.stored_any:
                store.close(discard=True)  # nothing finished: leave nothing behind
            raise
        finally:
            store.close()


def _run(store, experiment, backend, workers, scheduler, progress, log) -> pd.DataFrame:
    for repair in store.repairs:
        log(f"blocsim: repaired: {repair}")
    specs = store.specs
    done = store.finished_ids()
    todo = [s for s in specs if s.run_id not in done]
    cpus = os.cpu_count() or 1
    if backend == "auto":
        backend = choose_backend(len(todo), experiment.steps, workers or cpus)
        log(f"blocsim: backend auto -> {backend} ({len(todo)} runs to do)")
    workers = workers or (1 if backend == "serial" else cpus)
    bar = None
    status = "interrupted"
    started = False
    try:
        with make_executor(backend if todo else "serial", workers, scheduler) as executor:
            store.start(backend, workers, len(specs))
            started = True
            if progress:
                from tqdm import tqdm

                bar = tqdm(
                    total=len(specs), initial=len(specs) - len(todo), unit="run", desc=experiment.name, smoothing=0.1
                )
            for _spec, (row, series) in _results(executor, todo):
                store.add(row, series)
                if bar is not None:
                    bar.update(1)
                    if row["error"] is not None:
                        bar.set_postfix_str(f"failed: {row['run_id']}")
        status = "finished"
    finally:
        if bar is not None:
            bar.close()
        if started:
            store.finish(status)
    return store.load()
