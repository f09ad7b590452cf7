"""Run metrics: one place, documented formulas, computed from a finished run.

``df`` is the run's per-step table (``model.recorder.COLUMNS``); sums are
over months. The ban window is ``[start, start + duration)`` of the run's
first ``export_ban`` event; the pre-ban mean is the mean bloc oxide price of
the 12 months before it. Without a ban the resilience metrics are NaN.

Resilience to the export ban
- ``shortfall_share`` = sum(unmet_bloc) / sum(demand_bloc) over the ban window
- ``peak_price_ratio`` = max(price_bloc_refined in the window) / pre-ban mean
- ``recovery_months`` = first month t >= start with |price_bloc/pre-ban mean - 1| <= 0.1
  and unmet_bloc = 0, minus start; censored at the horizon (``recovery_censored`` = 1)
- ``stockpile_cover`` = (stock_consumers_bloc + stock_authority) / demand_bloc, in months,
  the month before the ban (at the end of the run without a ban)
- ``self_sufficiency`` = sum(supply_bloc_member) / sum(consumption_bloc), whole run
- ``supply_hhi`` = sum over origins (countries, the joint stock) of share^2 of the bloc's
  oxide supply, whole run (1 = one supplier)

Dumping
- ``member_capacity_retained`` = members' separation capacity at the end / at the start
- ``member_exits`` = times member plants went offline for lack of cash;
  ``member_plants_exited`` = distinct member plants that did
- ``dumping_margin`` = sum(dumped x (dominant_unit_cost - dumping_realised)) / sum(dumped),
  $/kg, over months with dumped volume: how far below its own cost it sold
- ``dominant_share_bloc`` = sum(supply_bloc_dominant) / sum(supply_bloc), whole run
- ``dumping_loss`` = the dominant supplier's cumulative below-cost loss, $

Cost
- ``fiscal_cost`` = CfD payments + stockpile purchases - stockpile sales - levy revenue
  - joint stock value at the last bloc price, $
- ``consumer_cost_bloc`` = what bloc consumers paid for oxide, $
- ``price_bloc_mean`` = mean bloc oxide price, $/kg
- ``price_volatility`` = standard deviation of monthly log returns of the bloc oxide price
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from model.model import BlocModel

METRICS: dict[str, str] = {
    "shortfall_share": "bloc unmet demand / demand during the ban",
    "peak_price_ratio": "peak bloc price during the ban / pre-ban mean",
    "recovery_months": "months from ban start to recovery",
    "recovery_censored": "1 if the bloc had not recovered by the horizon",
    "stockpile_cover": "bloc stocks before the ban, months of demand",
    "self_sufficiency": "share of bloc consumption from member supply",
    "supply_hhi": "Herfindahl index of bloc supply by origin",
    "member_capacity_retained": "members' separation capacity, end / start",
    "member_exits": "member plant exits (episodes)",
    "member_plants_exited": "member plants that exited at least once",
    "dumping_margin": "dominant supplier's cost minus its dumping price, $/kg",
    "dominant_share_bloc": "dominant supplier's share of bloc supply",
    "dumping_loss": "dominant supplier's dumping loss, $",
    "fiscal_cost": "fiscal cost to the bloc, $",
    "consumer_cost_bloc": "bloc consumers' spending on oxide, $",
    "price_bloc_mean": "mean bloc oxide price, $/kg",
    "price_volatility": "s.d. of monthly log returns of the bloc price",
    "price_world_mean": "mean rest-of-world oxide price, $/kg",
    "unmet_bloc_share": "bloc unmet demand / demand, whole run",
    "member_capacity_end": "members' separation capacity at the end, t/month",
}


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else math.nan


def run_metrics(model: BlocModel, df: pd.DataFrame | None = None) -> dict[str, float]:
    """All of ``METRICS`` for a finished run."""
    if df is None:
        df = model.datacollector.get_model_vars_dataframe()
    summary = model.summary()
    n = len(df)
    price = df["price_bloc_refined"].to_numpy(dtype=float)
    out: dict[str, float] = {}

    ban = next((e for e in model.events if e.kind == "export_ban"), None)
    if ban is not None and ban.start < n and not np.all(np.isnan(price)):
        start, end = ban.start, min(ban.start + ban.duration, n)
        window = df.iloc[start:end]
        pre = price[max(0, start - 12) : start]
        pre_mean = float(np.nanmean(pre)) if pre.size and not np.all(np.isnan(pre)) else math.nan
        out["shortfall_share"] = _ratio(window["unmet_bloc"].sum(), window["demand_bloc"].sum())
        out["peak_price_ratio"] = _ratio(float(np.nanmax(price[start:end])), pre_mean)
        recovered = np.flatnonzero(
            (np.abs(price[start:] / pre_mean - 1.0) <= 0.1) & (df["unmet_bloc"].to_numpy()[start:] <= 1e-9)
        )
        out["recovery_months"] = float(recovered[0]) if recovered.size else float(n - start)
        out["recovery_censored"] = 0.0 if recovered.size else 1.0
        at = start - 1 if start > 0 else 0
    else:
        for key in ("shortfall_share", "peak_price_ratio", "recovery_months", "recovery_censored"):
            out[key] = math.nan
        at = n - 1
    row = df.iloc[at]
    out["stockpile_cover"] = _ratio(row["stock_consumers_bloc"] + row["stock_authority"], row["demand_bloc"])
    out["self_sufficiency"] = _ratio(df["supply_bloc_member"].sum(), df["consumption_bloc"].sum())
    total = sum(model.bloc_supply_by_origin.values())
    out["supply_hhi"] = (
        float(sum((q / total) ** 2 for q in model.bloc_supply_by_origin.values())) if total > 0 else math.nan
    )

    out["member_capacity_retained"] = _ratio(summary["member_capacity_end"], summary["member_capacity_start"])
    out["member_exits"] = summary["member_exits"]
    out["member_plants_exited"] = summary["member_plants_exited"]
    dumped = df["dumped"].to_numpy(dtype=float)
    gap = (df["dominant_unit_cost"] - df["dumping_realised"]).to_numpy(dtype=float)
    mask = (dumped > 1e-9) & ~np.isnan(gap)
    out["dumping_margin"] = _ratio(float((dumped[mask] * gap[mask]).sum()), float(dumped[mask].sum()))
    out["dominant_share_bloc"] = _ratio(df["supply_bloc_dominant"].sum(), df["supply_bloc"].sum())
    out["dumping_loss"] = summary["dumping_loss"]

    out["fiscal_cost"] = summary["fiscal_cost"]
    out["consumer_cost_bloc"] = summary["consumer_cost_bloc"]
    out["price_bloc_mean"] = summary["price_bloc_mean"]
    valid = price[~np.isnan(price) & (price > 0)]
    out["price_volatility"] = float(np.std(np.diff(np.log(valid)), ddof=1)) if valid.size > 2 else math.nan
    out["price_world_mean"] = summary["price_world_mean"]
    out["unmet_bloc_share"] = summary["unmet_bloc_share"]
    out["member_capacity_end"] = summary["member_capacity_end"]
    return out
