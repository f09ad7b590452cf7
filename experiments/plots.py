"""Figures of a sweep, written to ``RESULTS/figures/`` as PNG and PDF.

- ``heatmap_METRIC``: the metric's mean over membership x floor, one panel per instrument;
- ``lines_METRIC``: the metric against the floor with 95% CI bands, one line per membership;
- ``price_paths``: bloc and world oxide prices over time for selected runs (when series were kept).
One style throughout (``STYLE``); axis labels carry units.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.analysis import aggregate  # noqa: E402
from model.scenario import ScenarioError  # noqa: E402

STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.family": "DejaVu Sans",
}

# metric -> (label with unit, scale divisor, format)
LABELS: dict[str, tuple[str, float, str]] = {
    "shortfall_share": ("Bloc shortfall during the export control (% of demand)", 0.01, "{:.0f}"),
    "peak_price_ratio": ("Peak bloc price during the control (x pre-event mean)", 1.0, "{:.1f}"),
    "recovery_months": ("Months from the control's end to recovery", 1.0, "{:.0f}"),
    "stockpile_cover": ("Bloc stocks before the control (months of demand)", 1.0, "{:.1f}"),
    "self_sufficiency": ("Members' output / bloc consumption, last year (%)", 0.01, "{:.0f}"),
    "supply_hhi": ("Concentration of bloc supply (HHI, 0-1)", 1.0, "{:.2f}"),
    "member_capacity_retained": ("Members' on-line separation capacity (end / start)", 1.0, "{:.1f}"),
    "member_exit_episodes": ("Member plant exits (count of episodes)", 1.0, "{:.0f}"),
    "member_output_retained": ("Members' separation output (last / first year)", 1.0, "{:.1f}"),
    "crisis_cost": ("Cost of the crisis to bloc consumers (bn $)", 1e9, "{:.1f}"),
    "leakage_share": ("Bloc supply leaked through third countries (%)", 0.01, "{:.0f}"),
    "member_plants_exited": ("Member plants that exited (count)", 1.0, "{:.0f}"),
    "dumping_margin": ("Dominant supplier's cost - dumping price ($/kg)", 1.0, "{:.0f}"),
    "dominant_share_bloc": ("Dominant supplier's share of bloc supply (%)", 0.01, "{:.0f}"),
    "dumping_loss": ("Dominant supplier's dumping loss (bn $)", 1e9, "{:.1f}"),
    "fiscal_cost": ("Fiscal cost to the bloc (bn $)", 1e9, "{:.1f}"),
    "consumer_cost_bloc": ("Bloc consumers' spending on oxide (bn $)", 1e9, "{:.0f}"),
    "price_bloc_mean": ("Mean bloc oxide price ($/kg)", 1.0, "{:.0f}"),
    "price_volatility": ("Bloc price volatility (s.d. of monthly log returns)", 1.0, "{:.2f}"),
    "price_world_mean": ("Mean rest-of-world oxide price ($/kg)", 1.0, "{:.0f}"),
    "unmet_bloc_share": ("Bloc unmet demand, whole run (% of demand)", 0.01, "{:.1f}"),
    "member_capacity_end": ("Members' separation capacity at the end (t/month)", 1.0, "{:.0f}"),
}
KEY_METRICS = [
    "shortfall_share",
    "peak_price_ratio",
    "recovery_months",
    "crisis_cost",
    "member_capacity_retained",
    "dominant_share_bloc",
    "fiscal_cost",
    "consumer_cost_bloc",
    "price_bloc_mean",
]
INSTRUMENT_NAMES = {
    "levy": "variable import levy",
    "cfd": "contract for difference",
    "buffer": "buffer stock",
    "procurement": "joint procurement",
}


def _instrument_title(ins: str) -> str:
    return " + ".join(INSTRUMENT_NAMES.get(p, p) for p in ins.split("+"))


def _floor_label(results: Path) -> str:
    mode = "absolute"
    manifest = results / "manifest.json"
    if manifest.exists():
        text = json.loads(manifest.read_text()).get("experiment_file", "")
        try:
            mode = tomllib.loads(text).get("floor_mode", "absolute")
        except tomllib.TOMLDecodeError:
            pass
    return "Price floor (x members' full cost of oxide)" if mode == "relative" else "Price floor ($/kg oxide)"


def _membership_order(df: pd.DataFrame) -> list[str]:
    m = df[["membership", "size"]].drop_duplicates()
    m = m.assign(random=m["membership"].str.startswith("random")).sort_values(["random", "size", "membership"])
    return list(m["membership"])


def _save(fig, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths


def _facets(agg: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Split by the grid dimensions other than membership, floor and instrument."""
    extra = [c for c in ("dumping", "events", "member_stockpile_months") if agg[c].nunique(dropna=False) > 1]
    if not extra:
        return [("", agg)]
    out = []
    for key, sub in agg.groupby(extra, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        tag = "__" + "_".join(f"{c}-{_tag(v)}" for c, v in zip(extra, key, strict=True))
        out.append((tag, sub))
    return out


def _tag(value) -> str:
    if isinstance(value, float) and np.isnan(value):
        return "scenario"
    text = str(value).split(":")[0] if isinstance(value, str) else str(value)
    return text.replace(" ", "").replace("/", "-") or "none"


def _panels(agg: pd.DataFrame, metric: str):
    """(rows of the metric, label, scale, format, instruments, membership order), or None if all NaN."""
    sub = agg[agg["metric"] == metric]
    if sub["mean"].notna().sum() == 0:
        return None
    label, scale, fmt = LABELS.get(metric, (metric, 1.0, "{:.2g}"))
    return sub, label, scale, fmt, list(dict.fromkeys(sub["instrument"])), _membership_order(sub)


def heatmaps(agg: pd.DataFrame, metric: str, out: Path, floor_label: str, tag: str = "") -> list[Path]:
    panels = _panels(agg, metric)
    if panels is None:
        return []
    sub, label, scale, fmt, instruments, rows = panels
    floors = sorted(sub["floor_level"].unique())
    vals = sub["mean"] / scale
    vmin, vmax = np.nanmin(vals), np.nanmax(vals)
    fig, axes = plt.subplots(
        1,
        len(instruments),
        figsize=(0.6 + 2.9 * len(instruments), max(2.4, 0.9 + 0.24 * len(rows))),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    image = None
    for ax, ins in zip(axes[0], instruments, strict=True):
        grid = (
            sub[sub["instrument"] == ins]
            .pivot_table(index="membership", columns="floor_level", values="mean", aggfunc="mean")
            .reindex(index=rows, columns=floors)
            / scale
        )
        image = ax.imshow(
            grid.to_numpy(dtype=float), aspect="auto", origin="lower", cmap="viridis", vmin=vmin, vmax=vmax
        )
        ax.set_xticks(range(len(floors)), [f"{f:g}" for f in floors])
        ax.set_yticks(range(len(rows)), rows)
        ax.set_title(_instrument_title(ins))
        if len(rows) * len(floors) <= 120:
            for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
                if not np.isnan(v):
                    shade = (v - vmin) / (vmax - vmin) if vmax > vmin else 0.0
                    ax.text(
                        j,
                        i,
                        fmt.format(v),
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="black" if shade > 0.6 else "white",
                    )
    axes[0][0].set_ylabel("Bloc members (first k of the accession order)")
    fig.supxlabel(floor_label, fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), label=label, shrink=0.9)
    return _save(fig, out, f"heatmap_{metric}{tag}")


def lines(agg: pd.DataFrame, metric: str, out: Path, floor_label: str, tag: str = "") -> list[Path]:
    panels = _panels(agg, metric)
    if panels is None:
        return []
    sub, label, scale, _, instruments, rows = panels
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(rows)))
    fig, axes = plt.subplots(
        1,
        len(instruments),
        figsize=(0.8 + 3.2 * len(instruments), 3.0),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for ax, ins in zip(axes[0], instruments, strict=True):
        for colour, mem in zip(colours, rows, strict=True):
            line = sub[(sub["instrument"] == ins) & (sub["membership"] == mem)].sort_values("floor_level")
            if line.empty:
                continue
            x = line["floor_level"]
            ax.plot(x, line["mean"] / scale, color=colour, lw=1.4, marker="o", ms=2.5, label=mem)
            ax.fill_between(x, line["ci_low"] / scale, line["ci_high"] / scale, color=colour, alpha=0.15, lw=0)
        ax.set_title(_instrument_title(ins))
        ax.grid(alpha=0.3, lw=0.5)
    axes[0][0].set_ylabel(label)
    fig.supxlabel(floor_label, fontsize=9)
    axes[0][-1].legend(
        title="members", loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, ncols=2 if len(rows) > 8 else 1
    )
    return _save(fig, out, f"lines_{metric}{tag}")


def price_paths(results: Path, runs: pd.DataFrame, out: Path) -> list[Path]:
    """Bloc (solid) and world (dashed) prices of replicate 0 at the corners of the grid."""
    series_dir = results / "series"
    if not series_dir.exists():
        return []
    ok = runs[(runs["error"].isna()) & (runs["replicate"] == 0)]
    ok = ok[[(series_dir / f"{r}.parquet").exists() for r in ok["run_id"]]]
    if ok.empty:
        return []
    ins = ok["instrument"].iloc[0]
    ok = ok[ok["instrument"] == ins]
    picks = []
    for size in sorted({ok["size"].min(), ok["size"].max()}):
        for floor in sorted({ok["floor_level"].min(), ok["floor_level"].max()}):
            hit = ok[(ok["size"] == size) & (ok["floor_level"] == floor)]
            if not hit.empty:
                picks.append(hit.iloc[0])
    fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
    colours = plt.get_cmap("tab10")
    for i, row in enumerate(picks):
        s = pd.read_parquet(series_dir / f"{row['run_id']}.parquet")
        lab = f"{row['size']} member{'s' if row['size'] != 1 else ''}, floor {row['floor_level']:g}"
        if "price_bloc_refined" in s:
            ax.plot(s["step"] / 12, s["price_bloc_refined"], color=colours(i), lw=1.3, label=f"bloc: {lab}")
        if "price_world_refined" in s and i == 0:
            ax.plot(s["step"] / 12, s["price_world_refined"], color="grey", lw=1.0, ls="--", label="rest of world")
    events = str(picks[0]["events"]) if picks else ""
    for ev in filter(None, events.split(";")):
        if ev.startswith("export_ban"):
            parts = dict(p.split("=") for p in ev.split(":", 1)[1].split(","))
            start, dur = int(parts["start"]), int(parts["duration"])
            ax.axvspan(start / 12, (start + dur) / 12, color="red", alpha=0.08, lw=0, label="export ban")
    ax.set_xlabel("Years")
    ax.set_ylabel("Oxide price ($/kg)")
    ax.set_title(f"Price paths, {_instrument_title(ins)} (replicate 0)")
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(loc="upper left", frameon=False, fontsize=7)
    return _save(fig, out, "price_paths")


def plot_results(results: str | Path, metrics: list[str] | None = None) -> list[Path]:
    """Write all figures for a results directory; return their paths."""
    results = Path(results)
    runs_file = results / "runs.parquet"
    if not runs_file.exists():
        raise ScenarioError("results", str(results), "has no runs.parquet (run `blocsim sweep` first)")
    runs = pd.read_parquet(runs_file)
    if metrics:
        for m in metrics:
            if m not in runs.columns:
                raise ScenarioError("--metrics", m, f"unknown metric (known: {', '.join(LABELS)})")
    out = results / "figures"
    out.mkdir(exist_ok=True)
    agg = aggregate(runs, metrics or KEY_METRICS)
    floor_label = _floor_label(results)
    files: list[Path] = []
    with plt.rc_context(STYLE):
        for tag, sub in _facets(agg):
            for metric in metrics or KEY_METRICS:
                files += heatmaps(sub, metric, out, floor_label, tag)
                files += lines(sub, metric, out, floor_label, tag)
        files += price_paths(results, runs, out)
    return files
