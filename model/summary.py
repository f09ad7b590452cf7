"""A run's headline numbers, computed from its per-step table.

Formulas (sums over the months recorded unless said otherwise):

- ``price_bloc_mean``, ``price_world_mean``: mean refined price, $/kg (NaN without a bloc);
- ``unmet_bloc_share``: sum(unmet_bloc) / sum(demand_bloc);
- ``member_supply_share_end``: sum(supply_bloc_member) / sum(supply_bloc), last 12 months;
- ``dominant_share_bloc_end``: sum(supply_bloc_dominant) / sum(supply_bloc), last 12 months;
- ``member_capacity_end``: members' installed separation capacity in the last month, t/month
  (``member_mining_capacity_end`` the same for mines);
- ``member_exits``: times member plants went offline for lack of cash (a plant that restarts
  when dumping pauses and is driven out again counts each time);
  ``member_plants_exited``: how many distinct member plants did;
- ``fiscal_cost``: CfD paid + stockpile purchases - stockpile sales - levy revenue
  - value of the joint stock at the last bloc price, $;
- ``consumer_cost_bloc``: what bloc consumers paid for refined product, $;
- ``peak_price_ratio_bloc``: max monthly bloc price / mean bloc price of the 12 months
  before the first event (before month 12 if none);
- ``dumping_loss``: the dominant supplier's cumulative below-cost loss, $.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model.model import BlocModel


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else math.nan


def _nanmean(a: np.ndarray) -> float:
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else math.nan


def summarise(model: BlocModel) -> dict[str, float]:
    """The run's summary as a dict of floats (NaN where undefined)."""
    r = model.recorder
    c = r.column
    n = r.n
    last = slice(max(0, n - 12), n)
    price_bloc = c("price_bloc_refined")
    first_event = min((e.start for e in model.events), default=12)
    pre = price_bloc[max(0, first_event - 12) : max(first_event, 1)]
    pre_mean = _nanmean(pre)
    peak = float(np.nanmax(price_bloc)) if n and not np.all(np.isnan(price_bloc)) else math.nan
    last_bloc_price = _nanmean(price_bloc[-1:]) if n else math.nan
    stock_value = model.authority.stock * (last_bloc_price if last_bloc_price == last_bloc_price else 0.0) * 1000.0
    totals = model.authority.totals
    fiscal = (
        totals["cfd_paid"] + totals["buffer_spend"] - totals["buffer_income"] - totals["levy_revenue"] - stock_value
    )
    return {
        "price_bloc_mean": _nanmean(price_bloc),
        "price_world_mean": _nanmean(c("price_world_refined")),
        "price_home_mean": _nanmean(c("price_home_refined")),
        "unmet_bloc_share": _ratio(c("unmet_bloc").sum(), c("demand_bloc").sum()),
        "member_supply_share_end": _ratio(c("supply_bloc_member")[last].sum(), c("supply_bloc")[last].sum()),
        "dominant_share_bloc_end": _ratio(c("supply_bloc_dominant")[last].sum(), c("supply_bloc")[last].sum()),
        "member_capacity_end": float(c("capacity_refining_member")[-1]) if n else math.nan,
        "member_mining_capacity_end": float(c("capacity_mining_member")[-1]) if n else math.nan,
        "member_capacity_start": float(model.start_capacity["refining"]),
        "member_exits": float(c("member_exits_cum")[-1]) if n else 0.0,
        "member_plants_exited": float(
            len({(code, stage) for _, code, stage in model.exits_log if code in model.members})
        ),
        "fiscal_cost": float(fiscal),
        "levy_revenue": float(totals["levy_revenue"]),
        "cfd_paid": float(totals["cfd_paid"]),
        "consumer_cost_bloc": float(c("consumer_spend_bloc").sum()),
        "peak_price_ratio_bloc": _ratio(peak, pre_mean) if pre_mean == pre_mean else math.nan,
        "dumping_loss": float(c("dumping_loss_cum")[-1]) if n else 0.0,
        "stock_authority_end": float(model.authority.stock),
    }
