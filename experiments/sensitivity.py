"""Global sensitivity of a design's results: Sobol indices or Morris elementary effects.

``sensitivity(RESULTS)`` reads ``RESULTS/runs.parquet`` and the design stored
in ``RESULTS/manifest.json`` (written by ``blocsim sweep`` for an experiment
with a ``[design]``), rebuilds the design's unit hypercube, and computes for
each metric and each uncertain parameter

- Sobol designs: first-order ``S1`` and total ``ST`` indices (SALib
  ``analyze.sobol``, no second order), with bootstrap confidence intervals;
- Morris designs: ``mu_star`` (mean absolute elementary effect, in the
  metric's units per full range of the parameter), ``mu`` and ``sigma``
  (SALib ``analyze.morris``), with a bootstrap interval for ``mu_star``;

per policy cell (a grid point: membership x floor x instrument x ...) and
``pooled``: the response averaged over all cells (the policy-averaged outcome).
Within a cell the response of a future is the mean over its replicates.

How many runs is enough? Every row says how many runs it rests on and whether
its index is *resolved*: the bootstrap half-width of the interval is at most
``RESOLVED`` (a quarter) of the index, or of a floor below which an index is
negligible (0.05 for Sobol indices; 5% of the largest ``mu_star`` of the metric
in that cell for Morris). Interval widths shrink as 1/sqrt(samples), so
``summary()`` suggests the number of samples that would resolve the median
unresolved index.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.analysis import GRID_COLUMNS
from experiments.designs import unit_design
from experiments.metrics import METRICS
from model.scenario import ScenarioError

__all__ = [
    "load_design_results",
    "sensitivity",
    "summary",
    "plot_sensitivity",
    "plot_cells",
    "RESOLVED",
    "FIGURE_METRICS",
]

RESOLVED = 0.25
FIGURE_METRICS = [
    "member_capacity_retained",
    "fiscal_cost",
    "shortfall_share",
    "price_bloc_mean",
    "self_sufficiency",
    "consumer_cost_bloc",
]


def load_design_results(results: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(runs, manifest) of a results directory written by ``blocsim sweep`` for a design."""
    results = Path(results)
    runs_path, manifest_path = results / "runs.parquet", results / "manifest.json"
    if not runs_path.exists() or not manifest_path.exists():
        raise ScenarioError("RESULTS", str(results), "has no runs.parquet and manifest.json: run blocsim sweep first")
    manifest = json.loads(manifest_path.read_text())
    if "design" not in manifest:
        raise ScenarioError(
            "RESULTS", str(results), "holds a grid sweep, not a design: add a [design] table to the experiment"
        )
    return pd.read_parquet(runs_path), manifest


def _cells(runs: pd.DataFrame) -> list[str]:
    return [c for c in GRID_COLUMNS if c in runs.columns]


def _responses(ok: pd.DataFrame, metric: str, n_points: int) -> tuple[np.ndarray | None, str]:
    """The response of each future (mean over replicates), or None and why not."""
    wide = ok.pivot_table(index="sample", columns="replicate", values=metric, aggfunc="first", dropna=False)
    missing = n_points - int(wide.index.isin(range(n_points)).sum())
    if missing:
        return None, f"{missing} of {n_points} futures have no finished run"
    wide = wide.reindex(range(n_points))
    if wide.isna().any().any():
        return None, f"undefined (NaN) in {int(wide.isna().sum().sum())} runs"
    return wide.mean(axis=1).to_numpy(dtype=float), ""


def _analyze(kind: str, problem: dict, X: np.ndarray, Y: np.ndarray, levels: int, resamples: int, seed: int):
    if kind == "sobol":
        from SALib.analyze import sobol

        si = sobol.analyze(problem, Y, calc_second_order=False, num_resamples=resamples, conf_level=0.95, seed=seed)
        return {k: np.asarray(si[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    from SALib.analyze import morris

    si = morris.analyze(problem, X, Y, num_resamples=resamples, conf_level=0.95, num_levels=levels, seed=seed)
    return {k: np.asarray(si[k], dtype=float) for k in ("mu", "mu_star", "mu_star_conf", "sigma")}


def _resolved(kind: str, idx: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(CI half-width / max(|index|, floor), resolved?) per parameter, for ST or mu_star."""
    if kind == "sobol":
        value, conf, floor = idx["ST"], idx["ST_conf"], 0.05
    else:
        value, conf = idx["mu_star"], idx["mu_star_conf"]
        floor = 0.05 * float(np.nanmax(np.abs(value))) if np.isfinite(value).any() else math.nan
    ratio = conf / np.maximum(np.abs(value), floor)
    return ratio, ratio <= RESOLVED


def sensitivity(
    results: str | Path, metrics: list[str] | None = None, resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """The sensitivity table: one row per (cell or pooled) x metric x parameter."""
    runs, manifest = load_design_results(results)
    design = manifest["design"]
    kind, params = design["kind"], list(design["parameters"])
    if kind not in ("sobol", "morris"):
        raise ScenarioError(
            "RESULTS",
            str(results),
            f"holds a {kind} design: sensitivity needs a sobol or morris design "
            "(use blocsim robustness for Latin hypercubes)",
        )
    X = unit_design(kind, design["samples"], design["seed"], len(params), design.get("levels", 4))
    n_points = X.shape[0]
    problem = {"num_vars": len(params), "names": params, "bounds": [[0.0, 1.0]] * len(params)}
    unknown = [m for m in (metrics or []) if m not in runs.columns]
    if unknown:
        raise ScenarioError("--metrics", unknown[0], "not a column of runs.parquet")
    metrics = [m for m in (metrics or list(METRICS)) if m in runs.columns]
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    by = _cells(runs)
    groups: list[tuple[dict[str, Any], pd.DataFrame]] = []
    for key, g in ok.groupby("point_id", sort=False):
        first = g.iloc[0]
        groups.append(({"cell": key, **{c: first[c] for c in by}}, g))
    rows = []
    for metric in metrics:
        per_cell = []
        for head, g in groups:
            Y, why = _responses(g, metric, n_points)
            per_cell.append(Y)
            rows += _rows(kind, problem, X, Y, why, head, metric, len(g), design, resamples, seed)
        pooled_head = {"cell": "pooled", **{c: None for c in by}}
        if per_cell and all(y is not None for y in per_cell):
            Y, why = np.mean(per_cell, axis=0), ""
        else:
            Y, why = None, "some cells are incomplete or undefined"
        rows += _rows(kind, problem, X, Y, why, pooled_head, metric, len(ok), design, resamples, seed)
    return pd.DataFrame(rows)


def _rows(kind, problem, X, Y, why, head, metric, n_runs, design, resamples, seed) -> list[dict[str, Any]]:
    names = problem["names"]
    cols = ("S1", "S1_conf", "ST", "ST_conf") if kind == "sobol" else ("mu", "mu_star", "mu_star_conf", "sigma")
    base = {**head, "metric": metric, "method": kind, "n_runs": n_runs, "n_futures": X.shape[0]}
    if Y is not None and np.ptp(Y) == 0:
        Y, why = None, "constant across futures"
    if Y is None:
        return [
            {
                **base,
                "parameter": p,
                **dict.fromkeys(cols, math.nan),
                "ci_ratio": math.nan,
                "resolved": False,
                "note": why,
            }
            for p in names
        ]
    idx = _analyze(kind, problem, X, Y, design.get("levels", 4), resamples, seed)
    ratio, resolved = _resolved(kind, idx)
    return [
        {
            **base,
            "parameter": p,
            **{c: float(idx[c][i]) for c in cols},
            "ci_ratio": float(ratio[i]),
            "resolved": bool(resolved[i]),
            "note": "",
        }
        for i, p in enumerate(names)
    ]


def summary(table: pd.DataFrame, manifest: dict[str, Any]) -> str:
    """How many runs the indices rest on, and whether that is enough."""
    design = manifest["design"]
    kind, samples = design["kind"], design["samples"]
    defined = table[table["note"] == ""]
    n_cells = table.loc[table["cell"] != "pooled", "cell"].nunique()
    runs_total = int(table.loc[table["cell"] == "pooled", "n_runs"].max()) if len(table) else 0
    what = "Sobol S1/ST" if kind == "sobol" else "Morris mu*/sigma"
    lines = [
        f"{what} of {defined['metric'].nunique()} metrics x {len(design['parameters'])} parameters, "
        f"{n_cells} policy cells + pooled: they rest on {runs_total} runs "
        f"({design['points']} futures per cell, {samples} {'base samples' if kind == 'sobol' else 'trajectories'}).",
    ]
    if len(defined):
        share = defined["resolved"].mean()
        lines.append(
            f"{defined['resolved'].sum()} of {len(defined)} indices resolved ({share:.0%}): 95% CI half-width "
            f"<= {RESOLVED:.0%} of the index (or of its negligible floor)."
        )
        bad = defined[~defined["resolved"]]
        if len(bad):
            factor = float(np.nanmedian(bad["ci_ratio"]) / RESOLVED) ** 2
            need = math.ceil(samples * factor)
            if kind == "sobol":
                need = 2 ** math.ceil(math.log2(max(need, 1)))
            lines.append(
                f"Not enough for the unresolved ones: widths shrink as 1/sqrt(samples); ~{need} "
                f"{'base samples' if kind == 'sobol' else 'trajectories'} would resolve the median one."
            )
        else:
            lines.append("Enough: every defined index is resolved.")
    skipped = table[table["note"] != ""].drop_duplicates(["cell", "metric"])
    if len(skipped):
        n_all = table["cell"].nunique()
        parts = []
        for metric, d in skipped.groupby("metric", sort=False):
            parts.append(f"{metric} in {len(d)} of {n_all} cells ({d['note'].value_counts().index[0]})")
        lines.append("Not computed: " + "; ".join(parts))
    return "\n".join(lines)


def plot_sensitivity(table: pd.DataFrame, out: Path, metrics: list[str] | None = None) -> Path:
    """Pooled indices, one panel per metric: ST with its interval and S1 (Sobol), or mu* with its
    interval and sigma (Morris)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plots import LABELS, STYLE

    pooled = table[(table["cell"] == "pooled") & (table["note"] == "")]
    wanted = metrics or [m for m in FIGURE_METRICS if m in set(pooled["metric"])]
    if not wanted:
        wanted = list(dict.fromkeys(pooled["metric"]))[:6]
    wanted = wanted[:9]
    sobol = bool(len(table)) and table["method"].iloc[0] == "sobol"
    ncol = min(3, max(1, len(wanted)))
    nrow = max(1, math.ceil(len(wanted) / ncol))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 0.5 + 0.35 * 6 * nrow), squeeze=False)
        for ax in axes.flat[len(wanted) :]:
            ax.set_visible(False)
        for ax, metric in zip(axes.flat, wanted, strict=False):
            d = pooled[pooled["metric"] == metric]
            ypos = np.arange(len(d))
            label = LABELS.get(metric, (metric, 1.0, ""))[0]
            if sobol:
                ax.barh(ypos, d["ST"], xerr=d["ST_conf"], color="#4c72b0", alpha=0.8, label="total (ST)")
                ax.errorbar(d["S1"], ypos, xerr=d["S1_conf"], fmt="o", color="#dd8452", ms=4, label="first order (S1)")
                ax.set_xlabel("Sobol index (95% CI)")
                ax.set_xlim(min(0, float(np.nanmin(d["S1"] - d["S1_conf"]))), 1.05)
            else:
                scale = LABELS.get(metric, (metric, 1.0, ""))[1]
                ax.barh(
                    ypos,
                    d["mu_star"] / scale,
                    xerr=d["mu_star_conf"] / scale,
                    color="#4c72b0",
                    alpha=0.8,
                    label="mu* (95% CI)",
                )
                ax.plot(d["sigma"] / scale, ypos, "o", color="#dd8452", ms=4, label="sigma")
                ax.set_xlabel("elementary effect per full range")
            ax.set_yticks(ypos, list(d["parameter"]))
            ax.invert_yaxis()
            ax.set_title(label)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
        what = "Sobol indices" if sobol else "Morris screening"
        n = int(pooled["n_runs"].max()) if len(pooled) else 0
        fig.suptitle(f"{what}, pooled over policy cells ({n} runs)", fontsize=10)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
        plt.close(fig)
    return out


def plot_cells(table: pd.DataFrame, out: Path, metrics: list[str] | None = None) -> Path:
    """Per policy cell: a heatmap per metric of ST (Sobol) or mu* / the cell's largest mu* (Morris),
    cells (membership, floor, instrument...) x parameters; hatched = not resolved."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plots import LABELS, STYLE

    cells = table[(table["cell"] != "pooled") & (table["note"] == "")]
    sobol = bool(len(table)) and table["method"].iloc[0] == "sobol"
    wanted = metrics or [m for m in FIGURE_METRICS if m in set(cells["metric"])][:4]
    all_cells = table[table["cell"] != "pooled"].drop_duplicates("cell")
    grid_cols = [
        c
        for c in GRID_COLUMNS
        if c in all_cells.columns and c not in ("size", "floor") and all_cells[c].nunique(dropna=False) > 1
    ]
    labels = (all_cells[grid_cols].astype(str).agg(" / ".join, axis=1) if grid_cols else all_cells["cell"]).tolist()
    label_of = dict(zip(all_cells["cell"], labels, strict=True))
    params = list(dict.fromkeys(table["parameter"]))
    with plt.rc_context(STYLE):
        n = max(1, len(wanted))
        n_cells = max(1, table.loc[table["cell"] != "pooled", "cell"].nunique())
        fig, axes = plt.subplots(1, n, figsize=(1.5 + 2.4 * n, 2.2 + 0.28 * n_cells), squeeze=False)
        im = None
        for k, (ax, metric) in enumerate(zip(axes.flat, wanted, strict=False)):
            d = cells[cells["metric"] == metric].copy()
            if sobol:
                d["value"] = d["ST"]
            else:
                d["value"] = d["mu_star"] / d.groupby("cell")["mu_star"].transform("max")
            d["label"] = d["cell"].map(label_of)
            m = d.pivot_table(index="label", columns="parameter", values="value", sort=False)
            m = m.reindex(index=labels, columns=params)
            res = d.pivot_table(index="label", columns="parameter", values="resolved", sort=False, aggfunc="first")
            res = res.reindex(index=labels, columns=params)
            im = ax.imshow(m.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
            for (i, j), ok in np.ndenumerate(res.to_numpy()):
                if ok is False or ok == 0:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", lw=0, color="w"))
            ax.set_xticks(range(len(params)), params, rotation=60, ha="right")
            ax.set_yticks(range(len(labels)), labels if k == 0 else [])
            ax.set_title(textwrap.fill(LABELS.get(metric, (metric,))[0], 26))
        for ax in axes.flat[len(wanted) :]:
            ax.set_visible(False)
        if im is not None:
            label = "total Sobol index ST" if sobol else "mu* / largest mu* of the cell"
            fig.colorbar(im, ax=axes.ravel().tolist(), label=label + " (hatched: not resolved)")
        if grid_cols:
            fig.suptitle("Per policy cell (" + " / ".join(grid_cols) + "); blank: not computed", fontsize=10, y=1.02)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
        plt.close(fig)
    return out
