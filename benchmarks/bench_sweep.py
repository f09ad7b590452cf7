"""Throughput of the experiment runner: runs/s for serial, 2 processes, Dask LocalCluster, and the
same grid through ``mesa.batch_run`` for comparison.

    python benchmarks/bench_sweep.py [--runs-per-point 5] [--steps 120]

The runner's own overhead per run (seeding, scheduling, metrics, writing) is the sweep's wall time per
run minus the mean time inside a run. Nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import mesa

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs-per-point", type=int, default=5)
    ap.add_argument("--steps", type=int, default=120)
    args = ap.parse_args()
    text = GRID.format(reps=args.runs_per_point, steps=args.steps)
    exp = experiment_from_dict(tomllib.loads(text), text)
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
