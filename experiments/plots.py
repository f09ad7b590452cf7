"""Figures of a sweep, written to ``RESULTS/figures/`` as PNG and PDF.

- ``heatmap_METRIC``: the metric's mean over membership x floor, one panel per instrument;
- ``lines_METRIC``: the metric against the floor with 95% CI bands (clipped to the metric's range,
  ``RANGES``), one line per membership, each with its own colour, marker and dash so lines that
  coincide stay distinguishable;
- ``price_paths``: bloc and world oxide prices over time for selected runs (when series were kept).
Faceted figures (a sweep over dumping, events or member stockpiles) name their facet in the title.
One style throughout (``STYLE``); axis labels and legends carry units. Every file is written
atomically (a killed ``plot`` leaves no empty figure); failed runs are counted in the log.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.analysis import aggregate  # noqa: E402
from experiments.metrics import METRICS  # noqa: E402
from experiments.storage import atomic_write_bytes  # noqa: E402
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
# the range a metric can take: confidence bands are clipped to it (None: unbounded)
RANGES: dict[str, tuple[float | None, float | None]] = {
    "shortfall_share": (0.0, 1.0),
    "peak_price_ratio": (0.0, None),
    "recovery_months": (0.0, None),
    "stockpile_cover": (0.0, None),
    "self_sufficiency": (0.0, 1.0),
    "supply_hhi": (0.0, 1.0),
    "member_capacity_retained": (0.0, None),
    "member_exits": (0.0, None),
    "member_plants_exited": (0.0, None),
    "dominant_share_bloc": (0.0, 1.0),
    "dumping_loss": (0.0, None),
    "consumer_cost_bloc": (0.0, None),
    "price_bloc_mean": (0.0, None),
    "price_volatility": (0.0, None),
    "price_world_mean": (0.0, None),
    "unmet_bloc_share": (0.0, 1.0),
    "member_capacity_end": (0.0, None),
}
FACET_NAMES = {
    "dumping": lambda v: f"dumping {'on' if v else 'off'}",
    "events": lambda v: f"events: {v or 'none'}",
    "member_stockpile_months": lambda v: (
        "member stockpiles: scenario's" if isinstance(v, float) and np.isnan(v) else f"member stockpiles: {v:g} months"
    ),
}
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p", "d", "8"]
DASHES = ["-", "--", "-.", ":"]
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


def _save(fig, out: Path, name: str, title: str = "") -> list[Path]:
    """Write PNG and PDF atomically (a temporary file renamed into place)."""
    if title:
        fig.suptitle(title, fontsize=9)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    try:
        for p in paths:
            atomic_write_bytes(p, lambda tmp, p=p: fig.savefig(tmp, format=p.suffix[1:]))
    finally:
        plt.close(fig)
    return paths


def _facets(agg: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """Split by the grid dimensions other than membership, floor and instrument: (file tag, title, rows)."""
    extra = [c for c in ("dumping", "events", "member_stockpile_months") if agg[c].nunique(dropna=False) > 1]
    if not extra:
        return [("", "", agg)]
    out = []
    for key, sub in agg.groupby(extra, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        tag = "__" + "_".join(f"{c}-{_tag(v)}" for c, v in zip(extra, key, strict=True))
        title = "; ".join(FACET_NAMES[c](v) for c, v in zip(extra, key, strict=True))
        out.append((tag, title, sub))
    return out


def _clip(metric: str, values: pd.Series) -> pd.Series:
    lo, hi = RANGES.get(metric, (None, None))
    return values.clip(lower=lo, upper=hi)


def _membership_label(df: pd.DataFrame) -> str:
    kinds = set()
    for m in df["membership"].astype(str).unique():
        kinds.add("random" if m.startswith("random") else "k" if m.isdigit() else "codes")
    if kinds == {"k"}:
        return "Bloc members (first k of the accession order)"
    if kinds == {"codes"}:
        return "Bloc members (country codes)"
    return "Bloc members (k first, random:k, or codes)"


def _n_note(sub: pd.DataFrame) -> str:
    n = sorted({int(v) for v in sub["n"].dropna()})
    if not n:
        return ""
    return f"n = {n[0]} runs per point" if len(n) == 1 else f"n = {n[0]}-{n[-1]} runs per point"


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


def heatmaps(agg: pd.DataFrame, metric: str, out: Path, floor_label: str, tag: str = "", title: str = "") -> list[Path]:
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
    axes[0][0].set_ylabel(_membership_label(sub))
    fig.supxlabel(floor_label, fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), label=f"{label}, mean", shrink=0.9)
    return _save(fig, out, f"heatmap_{metric}{tag}", "; ".join(filter(None, [title, _n_note(sub)])))


def lines(agg: pd.DataFrame, metric: str, out: Path, floor_label: str, tag: str = "", title: str = "") -> list[Path]:
    panels = _panels(agg, metric)
    if panels is None:
        return []
    sub, label, scale, _, instruments, rows = panels
    cmap = plt.get_cmap("tab10" if len(rows) <= 10 else "tab20")
    colours = [cmap(i % cmap.N) for i in range(len(rows))]
    fig, axes = plt.subplots(
        1,
        len(instruments),
        figsize=(0.8 + 3.2 * len(instruments), 3.0),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for ax, ins in zip(axes[0], instruments, strict=True):
        for i, (colour, mem) in enumerate(zip(colours, rows, strict=True)):
            line = sub[(sub["instrument"] == ins) & (sub["membership"] == mem)].sort_values("floor_level")
            if line.empty:
                continue
            x = line["floor_level"]
            ax.plot(
                x,
                line["mean"] / scale,
                color=colour,
                lw=1.4,
                ls=DASHES[i % len(DASHES)],
                marker=MARKERS[i % len(MARKERS)],
                ms=3.5,
                mfc="none",
                label=mem,
            )
            low, high = _clip(metric, line["ci_low"]), _clip(metric, line["ci_high"])
            ax.fill_between(x, low / scale, high / scale, color=colour, alpha=0.12, lw=0)
        ax.set_title(_instrument_title(ins))
        ax.grid(alpha=0.3, lw=0.5)
    axes[0][0].set_ylabel(f"{label}, mean and 95% CI")
    fig.supxlabel(floor_label, fontsize=9)
    axes[0][-1].legend(
        title=_membership_label(sub).replace("Bloc members", "bloc members"),
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        frameon=False,
        ncols=2 if len(rows) > 8 else 1,
    )
    return _save(fig, out, f"lines_{metric}{tag}", "; ".join(filter(None, [title, _n_note(sub)])))


def price_paths(results: Path, runs: pd.DataFrame, out: Path, relative: bool = False, log=None) -> list[Path]:
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
    unit = "x members' full cost" if relative else "$/kg"
    drew_world = False
    for i, row in enumerate(picks):
        try:
            s = pd.read_parquet(series_dir / f"{row['run_id']}.parquet")
        except Exception:
            if log:
                log(f"blocsim plot: series/{row['run_id']}.parquet is damaged: left out (run blocsim sweep to repair)")
            continue
        lab = f"{row['size']} member{'s' if row['size'] != 1 else ''}, floor {row['floor_level']:g} {unit}"
        if "price_world_refined" in s and not drew_world:  # beneath the bloc lines
            ax.plot(
                s["step"] / 12,
                s["price_world_refined"],
                color="grey",
                lw=2.2,
                alpha=0.5,
                zorder=1,
                label="rest of world (first run)",
            )
            drew_world = True
        if "price_bloc_refined" in s:
            ax.plot(
                s["step"] / 12,
                s["price_bloc_refined"],
                color=colours(i),
                lw=1.2,
                ls=DASHES[i % len(DASHES)],
                zorder=2 + i,
                label=f"bloc: {lab}",
            )
    events = str(picks[0]["events"]) if picks else ""
    for ev in filter(None, events.split(";")):
        if ev.startswith(("export_ban", "export_quota", "export_licence")):
            parts = dict(p.split("=") for p in ev.split(":", 1)[1].split(","))
            start, dur = int(parts["start"]), int(parts["duration"])
            ax.axvspan(start / 12, (start + dur) / 12, color="red", alpha=0.08, lw=0, label="export control")
    ax.set_xlabel("Years")
    ax.set_ylabel("Oxide price ($/kg)")
    ax.set_title(f"Price paths, {_instrument_title(ins)} (replicate 0)")
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(loc="upper left", frameon=False, fontsize=7)
    return _save(fig, out, "price_paths")


REQUIRED = ("run_id", "replicate", "membership", "size", "floor_level", "instrument", "error", "dumping", "events")


def plot_results(
    results: str | Path, metrics: list[str] | None = None, log: Callable[[str], None] | None = None
) -> list[Path]:
    """Write all figures for a results directory; return their paths. ``log`` gets progress and warnings."""
    if not isinstance(results, (str, Path)):
        raise ScenarioError("results", results, "must be a results directory written by blocsim sweep")
    results = Path(results)
    runs_file = results / "runs.parquet"
    if not results.is_dir() or not runs_file.exists():
        raise ScenarioError("results", str(results), "has no runs.parquet (run `blocsim sweep` first)")
    try:
        runs = pd.read_parquet(runs_file)
    except Exception:
        raise ScenarioError(
            "results", str(results), "runs.parquet is damaged: run the same `blocsim sweep` again to repair it"
        ) from None
    missing = [c for c in REQUIRED if c not in runs.columns]
    if missing or not (results / "manifest.json").exists():
        raise ScenarioError(
            "results",
            str(results),
            f"was not written by `blocsim sweep` (no {missing[0] if missing else 'manifest.json'}): nothing to plot",
        )
    if metrics is not None:
        if not [m for m in metrics if m]:
            raise ScenarioError(
                "--metrics", ",".join(metrics), f"name at least one metric (known: {', '.join(METRICS)})"
            )
        for m in metrics:
            if m not in METRICS or m not in runs.columns:
                raise ScenarioError("--metrics", m, f"unknown metric (known: {', '.join(METRICS)})")
    say = log or (lambda msg: None)
    out = results / "figures"
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise ScenarioError("results", str(results), f"cannot create figures/: {exc.strerror or exc}") from None
    failed = int(runs["error"].notna().sum())
    if failed:
        say(f"blocsim plot: {failed} of {len(runs)} runs failed and are left out of the figures")
    chosen = metrics or KEY_METRICS
    agg = aggregate(runs, chosen)
    floor_label = _floor_label(results)
    files: list[Path] = []
    facets = _facets(agg)
    total = len(facets) * len(chosen)
    done = 0
    try:
        with plt.rc_context(STYLE):
            for tag, title, sub in facets:
                for metric in chosen:
                    done += 1
                    say(f"blocsim plot: [{done}/{total}] {metric}{tag}")
                    files += heatmaps(sub, metric, out, floor_label, tag, title)
                    files += lines(sub, metric, out, floor_label, tag, title)
            say("blocsim plot: price paths")
            files += price_paths(results, runs, out, relative="full cost" in floor_label, log=say)
    except OSError as exc:
        raise ScenarioError("results", str(results), f"cannot write figures: {exc.strerror or exc}") from None
    return files
