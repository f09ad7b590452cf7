"""Regenerate docs/figures/baseline_outlook.png: the no-bloc baseline against 2024 and the IEA outlook.

Run: ``python docs/figures/baseline_outlook.py`` (seeds 1-5, 84 months). Prints the yearly shares.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from model.model import BlocModel  # noqa: E402
from model.scenario import load_scenario  # noqa: E402

# (column, label, 2024 fact, 2030 outlook): USGS MCS 2025, IEA GCMO 2024
SERIES = [
    ("share_mining_dominant", "China, mining", 0.69, 0.54),
    ("share_mining_AU", "Australia, mining", 0.033, 0.18),
    ("share_mining_MM", "Myanmar, mining", 0.08, 0.09),
    ("share_refining_dominant", "China, separation", 0.91, 0.77),
    ("share_refining_MY", "Malaysia, separation", 0.05, 0.12),
    ("share_refining_AU", "Australia, separation", 0.0, 0.03),
]
YEARS = 7  # 2024-2030


def yearly(seeds=range(1, 6)) -> dict[str, np.ndarray]:
    sc = load_scenario("rare_earths")
    out: dict[str, list] = {c: [] for c, *_ in SERIES}
    out["price_home_refined"] = []
    for seed in seeds:
        df = BlocModel(sc, seed=seed).run(12 * YEARS).datacollector.get_model_vars_dataframe()
        year = df["step"] // 12
        for c in out:
            out[c].append(df.groupby(year)[c].mean().to_numpy())
    return {c: np.array(v) for c, v in out.items()}


def main() -> None:
    data = yearly()
    years = 2024 + np.arange(YEARS)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (c, label, fact, outlook) in enumerate(SERIES):
        ax = axes[0] if "mining" in c or c.startswith("share_mining") else axes[1]
        v = data[c]
        ax.plot(years, v.mean(0), color=colors[i], label=f"{label} (model)")
        ax.fill_between(years, v.min(0), v.max(0), color=colors[i], alpha=0.2)
        ax.plot([2024], [fact], "o", color=colors[i])
        ax.plot([2030], [outlook], "s", color=colors[i])
        print(label, " ".join(f"{x:.3f}" for x in v.mean(0)), "| 2024 fact", fact, "| 2030 outlook", outlook)
    for ax, title in zip(axes[:2], ("Mining share (concentrate sold)", "Separation share (oxide made)"), strict=True):
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.set_xlabel("year")
        ax.legend(fontsize=7, loc="center left")
    p = data["price_home_refined"]
    axes[2].plot(years, p.mean(0), color="k", label="model, China home price")
    axes[2].fill_between(years, p.min(0), p.max(0), color="k", alpha=0.15)
    axes[2].plot([2024], [55], "o", color="k", label="2024 fact (Fastmarkets/Benchmark)")
    axes[2].plot([2025.6, 2026.0], [88, 96], "^", color="grey", label="2025-26 China prices (Reuters, ACREI)")
    axes[2].set_title("NdPr oxide price, $/kg")
    axes[2].set_ylim(0, 140)
    axes[2].legend(fontsize=7)
    fig.suptitle("No-bloc baseline (seeds 1-5: mean and range) vs 2024 (circles) and the IEA 2030 outlook (squares)")
    fig.tight_layout()
    out = Path(__file__).with_name("baseline_outlook.png")
    fig.savefig(out, dpi=110)
    print("wrote", out)


if __name__ == "__main__":
    main()
