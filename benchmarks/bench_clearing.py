"""Clearing time against problem size: ``model.clearing.clear`` vs the LP reference (SciPy HiGHS).

    python benchmarks/bench_clearing.py                 # 100 ... 10,000 offers
    python benchmarks/bench_clearing.py --max 1000      # quicker
    python benchmarks/bench_clearing.py --module /tmp/old_clearing.py   # time another version

Model-shaped instances: 3 segments (bloc, dominant supplier's home, rest of world), one
dominant seller holding ~60 % of the tranches with a cap into the bloc, ~n/10 other sellers,
10 bid steps per offer on a coarse price grid (ties), transport adders of 2 $/kg off the
home segment. HiGHS solves the welfare LP only (one LP, no volume pass). Times are median
CPU (process) times per call. Prints a Markdown table and the fitted exponent t ~ n^e.
Nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from model.clearing import Bid, Offer  # noqa: E402


def instance(n_offers: int, seed: int = 0, graded: bool = False):
    """(K, offers, bids, adders, caps): the shape of the model's stages, n_offers tranches."""
    rng = random.Random(seed)
    K = 3
    n_dominant = max(1, int(0.6 * n_offers))
    others = [f"s{i}" for i in range(max(1, n_offers // 10))]
    homes = {s: rng.choice((0, 2)) for s in others}
    homes["CN"] = 1
    offers, adders = [], []
    for j in range(n_offers):
        seller = "CN" if j < n_dominant else rng.choice(others)
        ask = 20 + 0.5 * rng.randrange(120)  # 20..80 on a 0.5 grid
        offers.append(Offer(seller, float(rng.randrange(10, 200)), ask))
        adders.append([0.0 if homes[seller] == k else 2.0 for k in range(K)])
    bids = []
    for b in range(10 * n_offers):
        k = rng.choices((0, 1, 2), weights=(2, 5, 3))[0]
        price = 55 * 1.05 ** rng.randint(-14, 30)
        upper = price * 1.05 if graded else None
        bids.append(Bid(f"b{b}", k, float(rng.randrange(1, 30)), round(price, 2), upper))
    caps = {("CN", 0): 0.3 * sum(o.quantity for o in offers[:n_dominant])}
    return K, offers, bids, adders, caps


def per_call(fn, budget: float = 1.0) -> float:
    """Median CPU seconds per call (process time: steadier than wall time on a shared machine):
    at least 3 calls, more while within ``budget`` seconds."""
    times = []
    start = time.process_time()
    while len(times) < 3 or (time.process_time() - start < budget and len(times) < 50):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def slope(ns, ts) -> float:
    """Least-squares exponent of t ~ n^e."""
    xs, ys = [math.log(n) for n in ns], [math.log(t) for t in ts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def load_clear(module: str | None):
    if module is None:
        from model.clearing import clear

        return clear
    spec = importlib.util.spec_from_file_location("other_clearing", module)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["other_clearing"] = mod
    spec.loader.exec_module(mod)
    return mod.clear


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=10_000, help="largest number of offers")
    parser.add_argument("--module", help="time clear() from this file instead of model/clearing.py")
    parser.add_argument("--graded", action="store_true", help="bids with an upper end (graded prices)")
    parser.add_argument("--no-lp", action="store_true", help="skip HiGHS")
    args = parser.parse_args()
    clear = load_clear(args.module)
    clear_lp = None
    if not args.no_lp:
        try:
            from lp_reference import clear_lp
        except ImportError:  # scipy missing
            pass
    sizes = [n for n in (100, 200, 500, 1000, 2000, 5000, 10_000) if n <= args.max]
    print("| offers | bids | clear ms | HiGHS ms | HiGHS / clear |")  # CPU ms per call
    print("|---:|---:|---:|---:|---:|")
    fast, ns = [], []
    for n in sizes:
        inst = instance(n, graded=args.graded)
        t_fast = per_call(lambda inst=inst: clear(*inst))
        cells = [f"{n:,}", f"{len(inst[2]):,}", f"{t_fast * 1e3:,.1f}"]
        if clear_lp is not None:
            t_lp = per_call(lambda inst=inst: clear_lp(*inst, lexicographic=False))
            cells += [f"{t_lp * 1e3:,.1f}", f"{t_lp / t_fast:.1f}x"]
        else:
            cells += ["", ""]
        print("| " + " | ".join(cells) + " |", flush=True)
        fast.append(t_fast)
        ns.append(n)
    small = [(n, t) for n, t in zip(ns, fast, strict=True) if 100 <= n <= 1000]
    if len(small) > 1:
        print(f"\nfitted exponent, 100-1,000 offers: {slope(*zip(*small, strict=True)):.2f}")
    if len(ns) > 1 and ns[-1] > 1000:
        print(f"fitted exponent, {ns[0]:,}-{ns[-1]:,} offers: {slope(ns, fast):.2f}")


if __name__ == "__main__":
    main()
