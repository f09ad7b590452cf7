"""A month's cost vs the number of agents: every non-dominant country replicated K times.

    python benchmarks/bench_scale.py [K ...]        # default: 1 10 100
    python benchmarks/bench_scale.py --no-profile 1000   # skip the profiled months (K = 1,000 is slow)

Copies get new codes (``US~3``) and no named firms or projects (their roles go to one
"rest of" firm each); demand and capacity are not rescaled, so the market is K times larger
outside the dominant supplier. Prints the agents at the start and by month 18 (entrants' plants are
added as projects are decided), the median CPU seconds of a month after a 6-month warm-up (months
7-18), unprofiled, and the median cost per agent-month (each month's time over its agents at the
start); then the median of months 19-24 under cProfile (what earlier versions of this
script timed) and the shares of those months spent in the clearing and the project pipeline.
Nothing here is asserted in tests.
"""

from __future__ import annotations

import copy
import cProfile
import pstats
import statistics
import sys
import time
import tomllib

from model import BlocModel
from model.scenario import SCENARIO_DIR, scenario_from_dict


def replicated(k: int):
    raw = tomllib.loads((SCENARIO_DIR / "rare_earths.toml").read_text())
    raw.pop("uncertain", None)
    extra = []
    for c in raw["countries"]:
        if c["code"] == raw["dominant"]:
            continue
        for i in range(1, k):
            d = copy.deepcopy(c)
            d["code"] = f"{c['code']}~{i}"
            d["name"] = f"{c['name']} {i}"
            extra.append(d)
    raw["countries"] += extra
    return scenario_from_dict(raw)


def month_cost(k: int, profiled: int = 6) -> tuple[int, int, float, float, float, float, float]:
    """(agents at the start, agents by month 18, median CPU s of months 7-18, median microseconds per
    agent-month over them, the same months' median under cProfile, shares in clear and the pipeline)."""
    m = BlocModel(replicated(k), members=3, floor=90.0, instrument="levy", seed=1)
    n_start = len(m.agents)
    m.run(6)
    plain, per_agent = [], []
    for _ in range(12):  # months 7-18: the median, since months when project waves are decided cost more
        n = len(m.agents)  # entrants' plants are added as projects are decided
        t = time.process_time()
        m.step()
        plain.append(time.process_time() - t)
        per_agent.append(1e6 * plain[-1] / n)
    cost = (n_start, len(m.agents), statistics.median(plain), statistics.median(per_agent))
    if not profiled:
        nan = float("nan")
        return *cost, nan, nan, nan
    times = []
    prof = cProfile.Profile()
    for _ in range(profiled):
        t = time.process_time()
        prof.enable()
        m.step()
        prof.disable()
        times.append(time.process_time() - t)
    st = pstats.Stats(prof)
    clear = sum(v[3] for key, v in st.stats.items() if key[2] == "clear" and key[0].endswith("clearing.py"))
    projects = sum(v[3] for key, v in st.stats.items() if key[2] == "decide" and key[0].endswith("projects.py"))
    total = sum(v[2] for v in st.stats.values())
    share = 1.0 / max(total, 1e-12)
    return *cost, statistics.median(times), clear * share, projects * share


if __name__ == "__main__":
    args = sys.argv[1:]
    profiled = 0 if "--no-profile" in args else 6
    ks = [int(a) for a in args if a != "--no-profile"] or [1, 10, 100]
    print("| K | agents at start | by month 18 | CPU s a month | us per agent-month | under cProfile "
          "| share in clear | share in the project pipeline |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in ks:
        n0, n, s, us, sp, clear, projects = month_cost(k, profiled)
        print(f"| {k} | {n0:,} | {n:,} | {s:.3f} | {us:.1f} | {sp:.3f} | {clear:.0%} | {projects:.0%} |",
              flush=True)
