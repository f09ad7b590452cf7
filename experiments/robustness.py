"""Robustness of policies across sampled futures, and scenario discovery where they fail.

``robustness(RESULTS, ["member_capacity_retained>=1", "fiscal_cost<5e9"])``
reads a design's ``runs.parquet`` and, for each policy (membership x floor x
instrument, and any other grid dimension that varies), counts the futures
(design points x replicates) in which the policy meets *all* the thresholds.
A run whose metric is undefined (NaN) does not meet a threshold on it; runs
that failed with an error are left out and counted.

For each policy that fails in some futures but not all, PRIM
(``experiments.prim``, lenient objective, boxes of density >= ``threshold``
where the peeling trajectory reaches it) describes the failing futures as
boxes on the uncertain parameters (``u.*`` columns), with coverage (share of
the policy's failures inside the box), density (share of the box's futures
that fail) and mass (share of all its futures inside the box).
"""

from __future__ import annotations

import math
import operator
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.analysis import GRID_COLUMNS
from experiments.sensitivity import load_design_results
from model.scenario import ScenarioError

__all__ = ["parse_require", "robustness", "plot_robustness", "POLICY_COLUMNS"]

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_REQ = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|>|<)\s*([-+0-9.eE]+)\s*$")
POLICY_COLUMNS = ["membership", "floor_level", "instrument"]


def parse_require(text: str, columns: list[str] | None = None) -> tuple[str, str, float]:
    """``'metric>=1'`` -> (metric, '>=', 1.0); ScenarioError naming the text otherwise."""
    m = _REQ.match(text)
    if not m:
        raise ScenarioError("--require", text, "must look like 'metric>=value' (operators: >=, <=, >, <, ==)")
    metric, op, value = m.groups()
    try:
        number = float(value)
    except ValueError:
        raise ScenarioError("--require", text, f"{value!r} is not a number") from None
    if columns is not None and metric not in columns:
        known = ", ".join(c for c in columns if not c.startswith(("u.", "run_id", "point_id")))
        raise ScenarioError("--require", text, f"unknown metric {metric!r} (columns: {known})")
    return metric, op, number


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def policy_columns(runs: pd.DataFrame) -> list[str]:
    cols = [c for c in POLICY_COLUMNS if c in runs.columns]
    extra = [c for c in GRID_COLUMNS if c in runs.columns and c not in cols and c not in ("size", "floor")]
    return cols + [c for c in extra if runs[c].nunique(dropna=False) > 1]


def robustness(
    results: str | Path,
    requires: list[str],
    prim: bool = True,
    threshold: float = 0.8,
    max_boxes: int = 2,
    min_failures: int = 5,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(share table, PRIM boxes, info) for the thresholds ``requires``."""
    runs, manifest = load_design_results(results)
    if not requires:
        raise ScenarioError("--require", None, "give at least one threshold, e.g. 'member_capacity_retained>=1'")
    reqs = [parse_require(r, list(runs.columns)) for r in requires]
    errors = runs["error"].notna() if "error" in runs else pd.Series(False, index=runs.index)
    ok = runs[~errors].copy()
    ok["_meets"] = True
    for i, (metric, op, value) in enumerate(reqs):
        met = OPS[op](ok[metric].to_numpy(dtype=float), value)  # NaN compares False: not met
        ok[f"_req{i}"] = met
        ok["_meets"] &= met
    pcols = policy_columns(runs)
    ucols = [c for c in runs.columns if c.startswith("u.")]
    rows, boxes = [], []
    errs = runs[errors].groupby(pcols, dropna=False, sort=False).size() if errors.any() else None
    for key, g in ok.groupby(pcols, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        head = dict(zip(pcols, key, strict=True))
        n, k = len(g), int(g["_meets"].sum())
        lo, hi = _wilson(k, n)
        row = {**head, "futures": n, "meets": k, "share": k / n if n else math.nan, "share_low": lo, "share_high": hi}
        for i, text in enumerate(requires):
            row[f"share[{text}]"] = float(g[f"_req{i}"].mean())
        row["errors"] = int(errs.get(key if len(pcols) > 1 else key[0], 0)) if errs is not None else 0
        rows.append(row)
        failing = n - k
        if prim and ucols and failing >= min_failures and k > 0:
            boxes += _discover(g, ucols, head, threshold, max_boxes)
        elif prim and ucols and failing > 0:
            why = "fails in every future" if k == 0 else f"only {failing} failing futures (< {min_failures})"
            boxes.append({**head, "box": 0, "parameter": None, "note": why, "failures": failing, "futures": n})
    table = pd.DataFrame(rows)
    box_cols = [
        *pcols,
        "failures",
        "futures",
        "box",
        "parameter",
        "low",
        "high",
        "range_low",
        "range_high",
        "coverage",
        "density",
        "mass",
        "box_futures",
        "box_failures",
        "note",
    ]
    box_table = pd.DataFrame(boxes).reindex(columns=box_cols)
    info = {
        "requires": requires,
        "runs": int(len(runs)),
        "errors": int(errors.sum()),
        "futures_per_policy": int(table["futures"].max()) if len(table) else 0,
        "design": manifest["design"],
        "policy_columns": pcols,
    }
    return table, box_table, info


def _discover(g: pd.DataFrame, ucols: list[str], head: dict, threshold: float, max_boxes: int) -> list[dict]:
    from experiments.prim import Prim

    x = g[ucols].rename(columns=lambda c: c[2:]).reset_index(drop=True)
    y = (~g["_meets"].to_numpy()).astype(float)
    p = Prim(x, y, objective="lenient1")
    found = p.find_boxes(max_boxes=max_boxes, threshold=threshold)
    base = {**head, "failures": int(y.sum()), "futures": len(y)}
    if not found:
        return [{**base, "box": 0, "parameter": None, "note": "no box: the failures are not concentrated"}]
    out = []
    for b, box in enumerate(found, start=1):
        stats = {k: float(getattr(box, k)) for k in ("coverage", "density", "mass")}
        for _, lim in box.limits_table().iterrows():
            out.append(
                {
                    **base,
                    "box": b,
                    "parameter": lim["parameter"],
                    "low": lim["low"],
                    "high": lim["high"],
                    "range_low": float(x[lim["parameter"]].min()),
                    "range_high": float(x[lim["parameter"]].max()),
                    **stats,
                    "box_futures": int(box.n),
                    "box_failures": int(box.k),
                    "note": "",
                }
            )
    return out


def plot_robustness(table: pd.DataFrame, info: dict[str, Any], out: Path) -> Path:
    """Share of futures meeting all thresholds: membership x floor heatmaps, one panel per instrument
    (and other varying grid dimension)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plots import STYLE

    pcols = info["policy_columns"]
    facet_cols = [c for c in pcols if c not in ("membership", "floor_level")]
    facets = list(table.groupby(facet_cols, sort=False)) if facet_cols else [((), table)]
    order = sorted(table["membership"].unique(), key=_membership_key)
    floors = sorted(table["floor_level"].unique()) if "floor_level" in table else [0.0]
    with plt.rc_context(STYLE):
        n = len(facets)
        width = max(5.5, 1.9 + 0.6 * len(floors) * n)
        fig, axes = plt.subplots(1, n, figsize=(width, 1.6 + 0.32 * len(order)), squeeze=False)
        im = None
        for ax, (key, d) in zip(axes.flat, facets, strict=True):
            grid = d.pivot_table(index="membership", columns="floor_level", values="share").reindex(
                index=order, columns=floors
            )
            im = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
            for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(floors)), [f"{f:g}" for f in floors])
            ax.set_yticks(range(len(order)), order)
            ax.set_xlabel("floor level")
            ax.set_ylabel("membership")
            key = key if isinstance(key, tuple) else (key,)
            ax.set_title(", ".join(f"{c}={v}" for c, v in zip(facet_cols, key, strict=True)) or "all policies")
        fig.colorbar(im, ax=axes.ravel().tolist(), label="share of futures meeting all thresholds")
        fig.suptitle(
            f"Share of {info['futures_per_policy']} sampled futures per policy meeting\n"
            + " and ".join(info["requires"]),
            fontsize=9,
            y=1.1,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
        plt.close(fig)
    return out


def _membership_key(m: Any) -> tuple[int, int, str]:
    return (0, int(m), "") if str(m).isdigit() else (1, 0, str(m))
