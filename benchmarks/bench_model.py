"""Speed of the model's parts: market clearing (fast vs the LP reference), the recorder
(vs Mesa's DataCollector), and whole runs.

    python benchmarks/bench_model.py            # needs the test extras (scipy) for the LP

Prints a table; nothing here is asserted in tests.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import mesa  # noqa: E402

import model.market as market  # noqa: E402
from model import BlocModel, load_scenario  # noqa: E402
from model.clearing import Bid, Offer, clear  # noqa: E402
from model.recorder import columns_for  # noqa: E402


def per_call(fn, repeat: int) -> float:
    """Median seconds per call over 5 rounds of ``repeat`` calls."""
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        rounds.append((time.perf_counter() - t) / repeat)
    return statistics.median(rounds)


def model_instances():
    """The clearing problems a real run poses (refined and concentrate stages)."""
    captured = []
    real = market.clear

    def spy(*args, **kw):
        captured.append(args)
        return real(*args, **kw)

    market.clear = spy
    try:
        BlocModel(load_scenario("rare_earths"), members=3, floor=110, instrument="levy+buffer", seed=1).run(24)
    finally:
        market.clear = real
    refined = [a for a in captured if len(a[2]) > 50][-1]
    conc = [a for a in captured if len(a[2]) <= 50][-1]
    return {"model refined stage": refined, "model concentrate stage": conc}


def random_instance(n_offers: int, n_segments: int = 3, seed: int = 0):
    rng = random.Random(seed)
    offers = [
        Offer(f"s{i % max(1, n_offers // 3)}", rng.uniform(10, 200), rng.uniform(20, 80)) for i in range(n_offers)
    ]
    homes = {o.seller: rng.randrange(n_segments) for o in offers}
    adders = [[0.0 if homes[o.seller] == k else 2.0 for k in range(n_segments)] for o in offers]
    bids = [Bid(f"b{b}", b % n_segments, rng.uniform(10, 200), 55 * 1.2 ** rng.randint(-5, 8)) for b in range(n_offers)]
    return (n_segments, offers, bids, adders, {})


def bench_clearing() -> None:
    try:
        from lp_reference import clear_lp
    except ImportError:  # scipy missing
        clear_lp = None
    cases = model_instances()
    for n in (40, 400):
        cases[f"random, {n} offers + {n} bids"] = random_instance(n)
    print("\n## Market clearing: fast (successive shortest paths, plain Python) vs LP (SciPy HiGHS)\n")
    print("| instance | offers | bids | fast ms | LP ms | LP / fast |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, inst in cases.items():
        fast = per_call(lambda inst=inst: clear(*inst), 50 if len(inst[1]) < 100 else 5) * 1e3
        lp = (
            per_call(lambda inst=inst: clear_lp(*inst), 5 if len(inst[1]) < 100 else 1) * 1e3
            if clear_lp
            else float("nan")
        )
        print(f"| {name} | {len(inst[1])} | {len(inst[2])} | {fast:.3f} | {lp:.2f} | {lp / fast:.0f}x |")


def bench_recording() -> None:
    """The per-step columns, computed once a month; stored by the DataCollector or in preallocated arrays."""
    import numpy as np

    sc = load_scenario("rare_earths")
    m = BlocModel(sc, members=3, floor=110, instrument="levy", seed=1)
    m.run(12)
    rec = m.recorder
    compute = per_call(rec.compute_row, 500) * 1e6
    row = rec.compute_row()

    def collect():
        rec._row = row
        m.datacollector.collect(m)

    mesa_store = per_call(collect, 500) * 1e6
    arrays = {name: np.empty(5000) for name in columns_for(sc)}
    i = [0]

    def store():
        for name, value in row.items():
            arrays[name][i[0]] = value
        i[0] += 1

    array_store = per_call(store, 500) * 1e6
    print(f"\n## Recording one month ({len(row)} model columns + per-plant rows)\n")
    print("| part | µs per month |")
    print("|---|---:|")
    print(f"| computing the row | {compute:.0f} |")
    print(f"| storing it with the DataCollector (model row + per-plant rows) | {mesa_store:.0f} |")
    print(f"| storing the model row in preallocated numpy arrays instead (no plant rows) | {array_store:.0f} |")


def bench_runs() -> None:
    sc = load_scenario("rare_earths")
    print("\n## Whole runs (240 months)\n")
    print("| run | seconds | months/s |")
    print("|---|---:|---:|")
    for name, kw in {
        "no bloc": dict(members=0),
        "EU+US+JP, levy floor 110": dict(members=3, floor=110, instrument="levy"),
        "14 members, cfd+buffer 110, export ban": dict(
            members=14, floor=110, instrument="cfd+buffer", events=["export_ban:start=120,duration=24"]
        ),
    }.items():
        secs = per_call(lambda kw=kw: BlocModel(sc, seed=1, **kw).run(240), 1)
        print(f"| {name} | {secs:.3f} | {240 / secs:,.0f} |")
    t = time.perf_counter()
    BlocModel(sc, members=3, seed=1)
    print(f"\nbuilding a model: {(time.perf_counter() - t) * 1e3:.1f} ms")


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, mesa {mesa.__version__}")
    bench_clearing()
    bench_recording()
    bench_runs()
