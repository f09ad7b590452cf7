"""Aggregate a sweep's runs per grid point: mean and 95% confidence interval across replicates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.metrics import METRICS

GRID_COLUMNS = [
    "membership",
    "size",
    "floor_level",
    "floor",
    "instrument",
    "dumping",
    "events",
    "member_stockpile_months",
]

# two-sided 95% Student t quantiles for 1..30 degrees of freedom; 1.96 beyond
_T95 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def t95(dof: int) -> float:
    """Two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        return math.nan
    return _T95[dof - 1] if dof <= len(_T95) else 1.96


def aggregate(runs: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """Tidy table: one row per grid point and metric, with ``mean``, ``sd``, ``n``,
    ``ci_low``, ``ci_high`` (mean +- t(n-1) x sd / sqrt(n)). Failed runs and NaNs are left out."""
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    metrics = [m for m in (metrics or list(METRICS)) if m in ok.columns]
    by = [c for c in GRID_COLUMNS if c in ok.columns]
    long = ok.melt(id_vars=by, value_vars=metrics, var_name="metric", value_name="value")
    g = long.groupby([*by, "metric"], dropna=False, sort=False)["value"]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    half = np.array([t95(int(n) - 1) for n in out["n"]]) * out["sd"].to_numpy() / np.sqrt(out["n"].clip(lower=1))
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out
