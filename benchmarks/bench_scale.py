"""A month's cost vs the number of agents: every non-dominant country replicated K times.

    python benchmarks/bench_scale.py [K ...]        # default: 1 10 100
    python benchmarks/bench_scale.py --no-profile 1000   # skip the profiled months (K = 1,000 is slow)

Copies get new codes (``US~3``) and no named firms or projects (their roles go to one
"rest of" firm each); demand and capacity are not rescaled, so the market is K times larger
outside the dominant supplier. Prints the median CPU seconds of a month after a 6-month warm-up
(months 7-18), unprofiled, then the same for months 19-24 under cProfile (what earlier versions
of this script timed) and the share of those months spent in the clearing; nothing here is asserted
in tests.
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


def month_cost(k: int, profiled: int = 6) -> tuple[int, float, float, float, float]:
    m = BlocModel(replicated(k), members=3, floor=90.0, instrument="levy", seed=1)
    m.run(6)
    plain = []
    for _ in range(12):  # months 7-18: the median, since months when project waves are decided cost more
        t = time.process_time()
        m.step()
        plain.append(time.process_time() - t)
    if not profiled:
        nan = float("nan")
        return len(m.agents), statistics.median(plain), nan, nan, nan
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
    n_agents = len(m.agents)
    share = 1.0 / max(total, 1e-12)
    return n_agents, statistics.median(plain), statistics.median(times), clear * share, projects * share


if __name__ == "__main__":
    args = sys.argv[1:]
    profiled = 0 if "--no-profile" in args else 6
    ks = [int(a) for a in args if a != "--no-profile"] or [1, 10, 100]
    print("| K | agents | CPU s a month | under cProfile | share in clear | share in the project pipeline |")
    print("|---:|---:|---:|---:|---:|---:|")
    for k in ks:
        n, s, sp, clear, projects = month_cost(k, profiled)
        print(f"| {k} | {n:,} | {s:.3f} | {sp:.3f} | {clear:.0%} | {projects:.0%} |", flush=True)
