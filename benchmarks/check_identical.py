"""Bit-for-bit regression check for performance work: a model run's results must not change.

``python benchmarks/check_identical.py save DIR``   runs the configurations below and pickles, per run,
the per-step table (``get_model_vars_dataframe``), the per-plant table (``get_agenttype_vars_dataframe``),
``summary()``, ``firm_summary()`` and the exits log.
``python benchmarks/check_identical.py check DIR``  runs them again and compares with what DIR holds:
values bit for bit (NaN == NaN), index, columns, dtypes.
"""

from __future__ import annotations

import math
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.producers import Plant  # noqa: E402
from model.model import BlocModel  # noqa: E402
from model.scenario import load_scenario  # noqa: E402

STEPS = 240
CONFIGS: dict[str, tuple[str, dict]] = {
    "default_s1": ("rare_earths", dict(seed=1)),
    "default_s2": ("rare_earths", dict(seed=2)),
    "default_s3": ("rare_earths", dict(seed=3)),
    "default_s7": ("rare_earths", dict(seed=7)),
    "levy3_s1": ("rare_earths", dict(members=3, floor=110, instrument="levy", seed=1)),
    "levy3_s2": ("rare_earths", dict(members=3, floor=110, instrument="levy", seed=2)),
    "cfdbuf14_ban_s1": ("rare_earths", dict(members=14, floor=110, instrument="cfd+buffer", seed=1,
                                            events=["export_ban:start=60,duration=24,target=members"])),
    "cfdbuf14_ban_s2": ("rare_earths", dict(members=14, floor=110, instrument="cfd+buffer", seed=2,
                                            events=["export_ban:start=60,duration=24,target=members"])),
    "procurement_s1": ("rare_earths", dict(members=6, floor=100, instrument="procurement", seed=1)),
    "procurement_s2": ("rare_earths", dict(members=6, floor=100, instrument="procurement", seed=2)),
    "dumping_s1": ("rare_earths", dict(members=3, floor=110, instrument="levy", dumping=True, seed=1)),
    "dumping_s2": ("rare_earths", dict(members=6, floor=120, instrument="cfd", dumping=True, seed=2)),
    "quota_shock_s1": ("rare_earths", dict(members=3, floor=90, instrument="levy+buffer", seed=1,
                                           events=["export_quota:start=36,duration=18,share=0.5,target=members",
                                                   "demand_shock:start=100,duration=12,factor=1.3"])),
    "gallium_s1": ("gallium", dict(seed=1)),
    "gallium_levy_s2": ("gallium", dict(members=3, floor=0, instrument="levy", seed=2)),
    "cobalt_s1": ("cobalt", dict(members=3, seed=1)),
    "lithium_s1": ("lithium", dict(members=6, floor=0, instrument="levy", seed=1)),
}


def run_one(scenario: str, kw: dict) -> dict:
    m = BlocModel(load_scenario(scenario), **kw).run(STEPS)
    return {
        "model": m.datacollector.get_model_vars_dataframe(),
        "plants": m.datacollector.get_agenttype_vars_dataframe(Plant),
        "summary": m.summary(),
        "firms": m.firm_summary(),
        "exits": list(m.exits_log),
        "n": m.recorder.n,
    }


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return type(a) is type(b) and a == b


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    if list(a.columns) != list(b.columns):
        return f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    if not a.index.equals(b.index) or a.index.names != b.index.names:
        return "index differs"
    if not a.dtypes.equals(b.dtypes):
        return f"dtypes differ: {a.dtypes[a.dtypes != b.dtypes]}"
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f":
            if not np.array_equal(x.view(np.int64), y.view(np.int64)):  # bit for bit (NaN payloads too)
                bad = np.flatnonzero(x.view(np.int64) != y.view(np.int64))
                return f"column {c}: {len(bad)} values differ, first at {bad[0]}: {x[bad[0]]!r} vs {y[bad[0]]!r}"
        else:
            if not all(same_value(u, v) for u, v in zip(x, y, strict=True)):
                return f"column {c} differs"
    return None


def compare(old: dict, new: dict) -> list[str]:
    errs = []
    for key in ("model", "plants", "firms"):
        e = same_frame(old[key], new[key])
        if e:
            errs.append(f"{key}: {e}")
    if list(old["summary"]) != list(new["summary"]):
        errs.append("summary keys differ")
    for k, v in old["summary"].items():
        if not same_value(v, new["summary"].get(k)):
            errs.append(f"summary {k}: {v!r} vs {new['summary'].get(k)!r}")
    for key in ("exits", "n"):
        if old[key] != new[key]:
            errs.append(f"{key} differ")
    return errs


def main() -> int:
    mode, out = sys.argv[1], Path(sys.argv[2])
    only = sys.argv[3:] or list(CONFIGS)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in only:
        sc, kw = CONFIGS[name]
        t = time.process_time()
        res = run_one(sc, kw)
        dt = time.process_time() - t
        path = out / f"{name}.pkl"
        if mode == "save":
            path.write_bytes(pickle.dumps(res))
            print(f"{name}: saved ({dt:.2f} s)")
        else:
            errs = compare(pickle.loads(path.read_bytes()), res)
            failed += bool(errs)
            print(f"{name}: {'IDENTICAL' if not errs else 'DIFFERENT'} ({dt:.2f} s)")
            for e in errs[:10]:
                print("   ", e)
    if mode == "check":
        print("ALL IDENTICAL" if not failed else f"{failed} RUNS DIFFER")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
