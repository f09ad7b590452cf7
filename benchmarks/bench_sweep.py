"""Throughput of the experiment runner: runs/s for serial, 2 processes, Dask LocalCluster, and the
same grid through ``mesa.batch_run`` for comparison.

    python benchmarks/bench_sweep.py [--runs-per-point 5] [--steps 120]
    python benchmarks/bench_sweep.py --every-step [--runs-per-point 5] [--steps 240]

The runner's own overhead per run (seeding, scheduling, metrics, writing) is the sweep's wall time per
run minus the mean time inside a run. ``--every-step`` compares the runner and ``mesa.batch_run`` on 2
processes with every model column kept at every step (the runner's ``keep_series``, batch_run's
``data_collection_period=1``): wall time, runs/s and the peak memory of the process tree (PSS, the
pages shared by forked workers counted once, sampled every 0.1 s). Nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import mesa
from bench_design import children, proc_mb  # a sibling script: benchmarks/ is on sys.path when run as one

from experiments.config import experiment_from_dict
from experiments.runner import run_sweep
from model import BlocModel, load_scenario

GRID = """
name = "bench"
scenario = "rare_earths"
seed = 1
replicates = {reps}
steps = {steps}

[grid]
membership = [1, 3, 6]
floor = [0.0, 110.0]
instrument = ["levy", "cfd"]
dumping = [true]
events = [["export_ban:start=60,duration=12"]]
"""


def pss_mb(pid: int) -> float:
    """Proportional set size of a process, MB (0 once it has gone)."""
    return proc_mb(pid, "smaps_rollup", "Pss:")


class PeakPss(threading.Thread):
    """The peak PSS of this process and all its descendants, sampled every 0.1 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            total, todo = 0.0, [os.getpid()]
            while todo:
                pid = todo.pop()
                total += pss_mb(pid)
                todo += children(pid)
            self.peak = max(self.peak, total)
            time.sleep(0.1)


def measured(fn) -> tuple[float, float, object]:
    """(wall s, peak PSS of the process tree MB, result) of ``fn()``."""
    sampler = PeakPss()
    sampler.start()
    t = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t
    sampler.stop.set()
    sampler.join()
    return wall, sampler.peak, result


def every_step(args, n: int) -> None:
    """The runner and ``mesa.batch_run`` on 2 processes, every model column kept every step."""
    from model.recorder import columns_for

    sc = load_scenario("rare_earths")
    keep = [c for c in columns_for(sc) if c != "step"]  # every column of the per-step table
    text = GRID.format(reps=args.runs_per_point, steps=args.steps).replace(
        "[grid]", "keep_series = [" + ", ".join(f'"{c}"' for c in keep) + "]\n\n[grid]")
    exp = experiment_from_dict(tomllib.loads(text), text)
    print(f"every step kept: {len(keep) + 1} model columns x {args.steps} steps x {n} runs, 2 processes\n")
    print("| how | wall s | runs/s | peak PSS of the process tree, MB |")
    print("|---|---:|---:|---:|")
    tmp = Path(tempfile.mkdtemp())
    try:
        wall, peak, _ = measured(lambda: run_sweep(exp, tmp / "runner", backend="processes", workers=2, progress=False))
        print(f"| blocsim runner (series to parquet) | {wall:.1f} | {n / wall:.2f} | {peak:.0f} |", flush=True)
        # the model's columns only, then out of the box (plant rows too): the larger last, since the
        # memory it frees is not all given back and would count in the next peak
        for plants in (False, True):
            wall, peak, rows = measured(lambda plants=plants: mesa.batch_run(
                BlocModel,
                parameters={"scenario": sc, "members": [1, 3, 6], "floor": [0.0, 110.0], "instrument": ["levy", "cfd"],
                            "events": [("export_ban:start=60,duration=12",)], "dumping": True, "steps": args.steps,
                            "record_plants": plants},
                rng=list(range(1, args.runs_per_point + 1)),
                max_steps=args.steps,
                number_processes=2,
                data_collection_period=1,
                display_progress=False,
            ))
            how = "with plant rows" if plants else "record_plants=False"
            print(f"| mesa.batch_run, {how} ({len(rows):,} rows in memory) | {wall:.1f} | {n / wall:.2f} | "
                  f"{peak:.0f} |", flush=True)
            del rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs-per-point", type=int, default=5)
    ap.add_argument("--steps", type=int, default=None, help="months per run (default 120; 240 with --every-step)")
    ap.add_argument("--every-step", action="store_true", help="runner vs batch_run with every step kept, and memory")
    args = ap.parse_args()
    args.steps = args.steps or (240 if args.every_step else 120)
    text = GRID.format(reps=args.runs_per_point, steps=args.steps)
    exp = experiment_from_dict(tomllib.loads(text), text)
    if args.every_step:
        every_step(args, len(exp.runs()))
        return
    n = len(exp.runs())
    print(f"python {sys.version.split()[0]}, mesa {mesa.__version__}; {n} runs of {args.steps} months\n")
    print("| backend | workers | wall s | runs/s | speed-up vs serial | mean s inside a run | overhead ms/run |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    serial_rate = None
    tmp = Path(tempfile.mkdtemp())
    try:
        for backend, workers in (("serial", 1), ("processes", 1), ("processes", 2), ("dask", 2)):
            out = tmp / f"{backend}{workers}"
            t = time.perf_counter()
            df = run_sweep(exp, out, backend=backend, workers=workers, progress=False)
            wall = time.perf_counter() - t
            rate = n / wall
            serial_rate = serial_rate or rate
            inside = df["wall_time"].mean()
            overhead = (wall * workers / n - inside) * 1e3
            print(
                f"| {backend} | {workers} | {wall:.1f} | {rate:.1f} | {rate / serial_rate:.2f}x | {inside:.3f} | "
                f"{overhead:.0f} |"
            )
        sc = load_scenario("rare_earths")
        for procs in (1, 2):
            t = time.perf_counter()
            mesa.batch_run(
                BlocModel,
                parameters={
                    "scenario": sc,
                    "members": [1, 3, 6],
                    "floor": [0.0, 110.0],
                    "instrument": ["levy", "cfd"],
                    "events": [("export_ban:start=60,duration=12",)],
                    "dumping": True,
                    "steps": args.steps,
                },
                rng=list(range(1, args.runs_per_point + 1)),  # one seed per replicate (Mesa 3.5's API)
                max_steps=args.steps,
                number_processes=procs,
                data_collection_period=-1,
                display_progress=False,
            )
            wall = time.perf_counter() - t
            print(f"| mesa.batch_run | {procs} | {wall:.1f} | {n / wall:.1f} | {n / wall / serial_rate:.2f}x | | |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n(batch_run returns the last step's model variables only, computes no metrics and writes nothing.)")


if __name__ == "__main__":
    main()
