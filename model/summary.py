"""A run's metrics: each defined once, here, with its formula (also in ``docs/model.md``).

Computed from the per-step table (``model.recorder.COLUMNS``); sums are over
months. The *event* is the run's first export control (``export_ban``,
``export_quota`` or ``export_licence``), in force over ``[start, end)``; the
*pre-event price* ``p_pre`` is the mean bloc oxide price of the 12 months
before ``start``; the *crisis window* is ``[start, end + 12)``. Without an
event the resilience metrics are NaN. Money is discounted to month 0 at the
scenario's ``discount_rate`` where the name says ``pv``/``fiscal_cost``.

Resilience
- ``shortfall_share`` = sum(unmet_bloc) / sum(demand_bloc), event months
- ``peak_price_ratio`` = max(price_bloc_refined, event months) / p_pre
- ``price_at_top`` = 1 if any month's bloc price reaches 99.9 % of the top of the demand
  range (the highest end use's switching range), else 0: the price is then set by the
  demand model's bound, not by substitution
- ``recovery_months`` = months from the event's END to the first month that starts
  ``RECOVERY_PERSISTENCE`` months in a row with |price_bloc / p_pre - 1| <= 0.1 and
  unmet_bloc <= 1 % of demand_bloc; censored at the horizon (``recovery_censored`` = 1)
- ``crisis_cost`` = sum over the crisis window of (price_bloc - p_pre) x consumption_bloc
  (excess spending) + lost_use_value_bloc (unmet demand x each end use's value of lost use), $
- ``crisis_lost_use`` = the second term alone, $
- ``leakage_share`` = sum(leakage_bloc) / sum(supply_bloc), event months
- ``stockpile_cover`` = (stock_consumers_bloc + stock_traders_bloc + stock_authority) /
  demand_bloc the month before the event (the last month without one), months

Members' supply
- ``member_capacity_retained`` = members' ON-LINE separation capacity, last month / first month
- ``member_output_retained`` = members' separation output, mean of the last 12 months /
  mean of the first 12 months
- ``member_capacity_end`` = members' installed separation capacity, last month, t/month
- ``member_plants_exited`` = distinct member plants that went offline at least once;
  ``member_exit_episodes`` = times member plants went offline; ``member_closures`` =
  member plants closed for good
- ``self_sufficiency`` = members' separation output / bloc consumption, last 12 months
  (what members make, wherever they sell it)
- ``supply_hhi`` = sum over origins of (share of the bloc's oxide supply)^2, whole run

Dominant supplier
- ``dominant_share_bloc`` = sum(supply_bloc_dominant) / sum(supply_bloc), whole run
- ``dumping_margin`` = sum(dumped x (dominant_unit_cost - dumping_realised)) / sum(dumped), $/kg
- ``dumping_loss`` = its cumulative below-cost loss from dumping, $

Cost and welfare
- ``fiscal_cost`` = present value of the net fiscal flows (``agents.authority.net_fiscal``)
  less the present value of the authority's stock at book cost at the end, $
- ``levy_revenue``, ``cfd_paid`` (net of paybacks), ``buffer_result`` (sales - purchases -
  storage + stock at book cost), undiscounted sums, $
- ``consumer_cost_bloc`` = what bloc consumers paid for oxide, $
- ``consumer_surplus_bloc_pv``, ``producer_surplus_member_pv``, ``producer_surplus_dominant_pv``,
  ``producer_surplus_other_pv`` = present values of the monthly columns, $
- ``welfare_bloc_pv`` = consumer_surplus_bloc_pv + producer_surplus_member_pv - fiscal_cost, $
- ``burden_max_member`` = fiscal_cost x the largest member's share of bloc reference demand, $
  (the budget is assumed to be shared in proportion to demand; ``BlocModel.burden`` per member)
- ``price_bloc_mean``, ``price_world_mean``, ``price_home_mean`` = mean oxide prices, $/kg
- ``price_volatility`` = s.d. of monthly log changes of the bloc oxide price
- ``unmet_bloc_share`` = sum(unmet_bloc) / sum(demand_bloc), whole run
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model.model import BlocModel

RECOVERY_PERSISTENCE = 3  # months in a row within the band (a convention: one quarter)
RECOVERY_BAND = 0.1  # |p / p_pre - 1| <= 10 %
CRISIS_TAIL = 12  # months after the event's end counted in the crisis window

METRIC_NAMES = (
    "shortfall_share",
    "peak_price_ratio",
    "price_at_top",
    "recovery_months",
    "recovery_censored",
    "crisis_cost",
    "crisis_lost_use",
    "leakage_share",
    "stockpile_cover",
    "member_capacity_retained",
    "member_output_retained",
    "member_capacity_end",
    "member_plants_exited",
    "member_exit_episodes",
    "member_closures",
    "self_sufficiency",
    "supply_hhi",
    "dominant_share_bloc",
    "dumping_margin",
    "dumping_loss",
    "fiscal_cost",
    "levy_revenue",
    "cfd_paid",
    "buffer_result",
    "consumer_cost_bloc",
    "consumer_surplus_bloc_pv",
    "producer_surplus_member_pv",
    "producer_surplus_dominant_pv",
    "producer_surplus_other_pv",
    "welfare_bloc_pv",
    "burden_max_member",
    "price_bloc_mean",
    "price_world_mean",
    "price_home_mean",
    "price_volatility",
    "unmet_bloc_share",
)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else math.nan


def _nanmean(a: np.ndarray) -> float:
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else math.nan


def first_control(model: BlocModel):
    """The run's first export-control event (None if there is none)."""
    return min((e for e in model.events if e.is_control), key=lambda e: e.start, default=None)


def summarise(model: BlocModel) -> dict[str, float]:
    """Every metric of ``METRIC_NAMES`` for the months run so far (NaN where undefined)."""
    r = model.recorder
    c = r.column
    n = r.n
    out: dict[str, float] = dict.fromkeys(METRIC_NAMES, math.nan)
    if n == 0:
        return out
    price = c("price_bloc_refined")
    demand, unmet, consumption = c("demand_bloc"), c("unmet_bloc"), c("consumption_bloc")
    mk = model.config.market
    top = max(u.reservation for u in model.config.end_uses) * (1.0 + mk.reservation_spread) * mk.reference_price
    live = price[~np.isnan(price)]
    out["price_at_top"] = float(bool(live.size and live.max() >= 0.999 * top))

    ev = first_control(model)
    at = n - 1
    if ev is not None and ev.start < n and not np.all(np.isnan(price)):
        start, end = ev.start, min(ev.start + ev.duration, n)
        pre = price[max(0, start - 12) : start]
        p_pre = _nanmean(pre) if pre.size else math.nan
        w = slice(start, end)
        out["shortfall_share"] = _ratio(unmet[w].sum(), demand[w].sum())
        out["peak_price_ratio"] = _ratio(float(np.nanmax(price[w])), p_pre)
        ok = (np.abs(price / p_pre - 1.0) <= RECOVERY_BAND) & (unmet <= 0.01 * demand)
        rec = math.nan
        for t in range(ev.start + ev.duration, n - RECOVERY_PERSISTENCE + 1):
            if ok[t : t + RECOVERY_PERSISTENCE].all():
                rec = float(t - (ev.start + ev.duration))
                break
        out["recovery_censored"] = 0.0 if rec == rec else 1.0
        out["recovery_months"] = rec if rec == rec else float(max(0, n - (ev.start + ev.duration)))
        cw = slice(start, min(ev.start + ev.duration + CRISIS_TAIL, n))
        excess = np.nansum((price[cw] - p_pre) * consumption[cw]) * 1000.0
        lost = float(c("lost_use_value_bloc")[cw].sum())
        out["crisis_cost"] = float(excess + lost)
        out["crisis_lost_use"] = lost
        out["leakage_share"] = _ratio(c("leakage_bloc")[w].sum(), c("supply_bloc")[w].sum())
        at = start - 1 if start > 0 else 0
    stock = c("stock_consumers_bloc")[at] + c("stock_traders_bloc")[at] + c("stock_authority")[at]
    out["stockpile_cover"] = _ratio(stock, demand[at]) if model.members else math.nan

    first, last = slice(0, min(12, n)), slice(max(0, n - 12), n)
    online = c("online_refining_member")
    output = c("output_refining_member")
    if model.start_capacity["refining"] > 0:
        out["member_capacity_retained"] = _ratio(online[-1], model.start_capacity["refining_online"])
        out["member_output_retained"] = _ratio(output[last].mean(), output[first].mean())
    out["member_capacity_end"] = float(c("capacity_refining_member")[-1])
    member_exits = [(code, stage) for _, code, stage in model.exits_log if code in model.members]
    out["member_plants_exited"] = float(len(set(member_exits)))
    out["member_exit_episodes"] = float(len(member_exits))
    out["member_closures"] = float(
        sum(1 for p in model.plants if p.status == "closed" and (p.code, p.stage) in set(member_exits))
    )
    out["self_sufficiency"] = _ratio(output[last].sum(), consumption[last].sum())
    total = sum(model.bloc_supply_by_origin.values())
    if total > 0:
        out["supply_hhi"] = float(sum((q / total) ** 2 for q in model.bloc_supply_by_origin.values()))

    out["dominant_share_bloc"] = _ratio(c("supply_bloc_dominant").sum(), c("supply_bloc").sum())
    dumped = c("dumped")
    gap = c("dominant_unit_cost") - c("dumping_realised")
    mask = (dumped > 1e-9) & ~np.isnan(gap)
    out["dumping_margin"] = _ratio(float((dumped[mask] * gap[mask]).sum()), float(dumped[mask].sum()))
    out["dumping_loss"] = float(c("dumping_loss_cum")[-1])

    auth = model.authority
    disc = (1.0 + mk.discount_rate) ** (-np.arange(n) / 12.0)
    stock_book = auth.stock_cost
    out["fiscal_cost"] = float(auth.fiscal_pv - stock_book * disc[-1])
    t = auth.totals
    out["levy_revenue"] = float(t["levy_revenue"])
    out["cfd_paid"] = float(t["cfd_paid"])
    buf = next((i for i in auth.instruments if i.name == "buffer"), None)
    out["buffer_result"] = (
        float(t["buffer_income"] - t["buffer_spend"] - t["storage_cost"] + buf.stock_cost) if buf else 0.0
    )
    out["consumer_cost_bloc"] = float(c("consumer_spend_bloc").sum())
    out["consumer_surplus_bloc_pv"] = float((c("consumer_surplus_bloc") * disc).sum())
    for g in ("member", "dominant", "other"):
        out[f"producer_surplus_{g}_pv"] = float((c(f"producer_surplus_{g}") * disc).sum())
    out["welfare_bloc_pv"] = out["consumer_surplus_bloc_pv"] + out["producer_surplus_member_pv"] - out["fiscal_cost"]
    shares = model.member_demand_shares()
    out["burden_max_member"] = float(out["fiscal_cost"] * max(shares.values())) if shares else math.nan
    out["price_bloc_mean"] = _nanmean(price)
    out["price_world_mean"] = _nanmean(c("price_world_refined"))
    out["price_home_mean"] = _nanmean(c("price_home_refined"))
    valid = price[~np.isnan(price) & (price > 0)]
    out["price_volatility"] = float(np.std(np.diff(np.log(valid)), ddof=1)) if valid.size > 2 else math.nan
    out["unmet_bloc_share"] = _ratio(unmet.sum(), demand.sum())
    return out
