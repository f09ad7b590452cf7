"""Firms inside states: build the producing agents from the scenario's ``[[firms]]``,
and the month's firm-side decisions (``decisions``).

Each country role (mining, refining) is split between the named firms that hold
shares of it (``[[firms]]``: MP Materials, Lynas, the Chinese state groups, ...);
what the named firms do not hold stays with one "rest of <country>" firm, so the
country totals stay the sourced figures. Each firm's plant is a ``Plant`` (a Mesa
agent) with its own balance sheet (``agents.producers``).

``decisions(model)`` is the decisions phase of a month: stale prices decay
towards import parity, the dominant supplier's quota policy adds capacity, the
project pipeline builds and decides, and every plant services its debt, pays
dividends and decides on exit and restart.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from agents.producers import ProducerState, RefinerState

if TYPE_CHECKING:
    from model.model import BlocModel


def build_plants(model: BlocModel) -> tuple[list[ProducerState], list[RefinerState]]:
    """One plant per firm and country role; the remainder of a role to a 'rest of' firm."""
    sc = model.config
    d = sc.defaults
    mk = sc.market
    mines: list[ProducerState] = []
    refiners: list[RefinerState] = []
    for c in sc.countries:
        for stage, role, cls, out, price in (
            ("mining", c.mining, ProducerState, mines, mk.initial_concentrate_price),
            ("refining", c.refining, RefinerState, refiners, mk.reference_price),
        ):
            if role is None:
                continue
            firms = [f for f in sc.firms if f.country == c.code and f.stage == stage]
            for f in firms:
                out.append(cls(model, c.code, role, d, price, f, f.share))
            rest = 1.0 - sum(f.share for f in firms)
            if rest > 1e-9 or not firms:
                p = cls(model, c.code, role, d, price, None, rest if firms else 1.0)
                p.firm = f"rest of {c.code} ({stage})" if firms else f"{c.code} {stage}"
                out.append(p)
    return mines, refiners


def import_parity(model: BlocModel, stage: str, k: int) -> float:
    """Cheapest landed price into segment ``k`` from another segment's last price, $/kg."""
    mk = model.config.market
    tau = mk.transport_refined if stage == "refined" else mk.transport_concentrate
    levy = model.authority.levy(stage) if k == model.segments.bloc else 0.0
    others = [model._last_prices[stage][j] for j in range(3) if j != k]
    others = [p for p in others if p == p]
    return min(others) + tau + levy if others else math.nan


def decay_stale_prices(model: BlocModel) -> None:
    """A segment with no trade this month: its last price moves ``[finance].stale_decay`` of the way
    towards import parity (review row 11), instead of staying frozen.

    Hook (model/model.py, after ``_last_prices`` is updated): ``decay_stale_prices(self)``. Today it
    is called at the start of the decisions phase (``decisions``), which has the same effect.
    """
    rate = model.config.finance.stale_decay
    for stage, out in (("concentrate", model.concentrate), ("refined", model.refined)):
        if out is None:
            continue
        for k in range(3):
            if out.prices[k] == out.prices[k] and out.traded[k] > 1e-9:
                continue  # traded: the price is fresh
            target = import_parity(model, stage, k)
            if target == target:
                last = model._last_prices[stage][k]
                model._last_prices[stage][k] = last + rate * (target - last)


def decisions(model: BlocModel) -> None:
    """The month's decisions phase (see the module docstring)."""
    decay_stale_prices(model)
    model.dominant_policy.decide(model)
    model.pipeline.decide(model)
    for p in model.plants:
        p.decide()


# ---------------------------------------------------------------- per-step columns
FIRM_COLUMNS: dict[str, tuple[str, str]] = {
    "share_mining_dominant": ("share", "dominant supplier's share of world concentrate sold"),
    "share_refining_dominant": ("share", "dominant supplier's share of world refined output"),
    "share_mining_AU": ("share", "Australia's share of world concentrate sold"),
    "share_mining_MM": ("share", "Myanmar's share of world concentrate sold"),
    "share_refining_MY": ("share", "Malaysia's share of world refined output"),
    "share_refining_AU": ("share", "Australia's share of world refined output"),
    "online_refining_total": ("t/month", "world separation capacity on line"),
    "projects_building": ("count", "projects under construction"),
    "projects_built_cum": ("count", "projects completed, cumulative"),
    "capex_paid": ("$/month", "capex paid by all plants (projects and quota expansions)"),
    "cash_member": ("$", "member plants' cash (negative: drawn credit lines)"),
    "net_worth_member": ("$", "member plants' net worth: cash + inventory at cost + fixed assets - debt"),
    "dividends": ("$/month", "dividends paid by all plants"),
    "written_off_cum": ("$", "debt and credit lenders lost on insolvent closures, cumulative"),
    "closures_cum": ("count", "plants closed for good (capacity gone), cumulative"),
    "dominant_predating": ("0/1", "the dominant supplier is pricing to deter entry into the bloc (limit pricing)"),
    "dominant_recouping": ("0/1", "it is recouping: asking near the rivals' incentive price after they exited"),
    "dominant_retaliated": ("0/1", "it answered the floor with export controls on members (retaliation)"),
}


def _share(part: list[float], total: float) -> float:
    """A country's share of world concentrate sold or refined output this month (NaN if none)."""
    return sum(part) / total if total > 0 else float("nan")


def firm_columns(model: BlocModel) -> dict[str, float]:
    """The firm block of the per-step row. One pass over the plants collects the terms of each sum
    (in plant order, then ``sum``: the same values as one ``sum`` per column over the plants)."""
    from agents.producers import CLOSED
    from agents.projects import BUILDING, BUILT

    row: dict[str, float] = {}
    dom = model.config.dominant
    sold, sold_by = [], {dom: [], "AU": [], "MM": []}
    for p in model.mines:
        sold.append(p.sold)
        if p.code in sold_by:
            sold_by[p.code].append(p.sold)
    made, made_by, online = [], {dom: [], "AU": [], "MY": []}, []
    for p in model.refiners:
        made.append(p.output)
        if p.code in made_by:
            made_by[p.code].append(p.output)
        online.append(p.online_capacity)
    capex, cash_m, worth_m, dividends, written_off, closures = [], [], [], [], [], 0
    for p in model.plants:
        flows = p.flows
        capex.append(flows["capex"])
        if p.group == "member":
            cash_m.append(p.cash)
            worth_m.append(p.net_worth)
        dividends.append(flows["dividends"])
        written_off.append(p.written_off)
        if p.status == CLOSED and p.exits > 0:
            closures += 1
    mined, total_made = sum(sold), sum(made)
    row["share_mining_dominant"], row["share_refining_dominant"] = _share(sold_by[dom], mined), _share(
        made_by[dom], total_made
    )
    row["share_mining_AU"], row["share_refining_AU"] = _share(sold_by["AU"], mined), _share(made_by["AU"], total_made)
    row["share_mining_MM"] = _share(sold_by["MM"], mined)
    row["share_refining_MY"] = _share(made_by["MY"], total_made)
    row["online_refining_total"] = sum(online)
    row["projects_building"] = sum(1 for ps in model.pipeline.projects if ps.status == BUILDING)
    row["projects_built_cum"] = sum(1 for ps in model.pipeline.projects if ps.status == BUILT)
    row["capex_paid"] = sum(capex)
    row["cash_member"] = sum(cash_m)
    row["net_worth_member"] = sum(worth_m)
    row["dividends"] = sum(dividends)
    row["written_off_cum"] = sum(written_off)
    row["closures_cum"] = closures
    dump = next((s for p in model.refiners for s in p.strategies if s.name == "dumping"), None)
    row["dominant_predating"] = float(bool(dump and dump.active))
    row["dominant_recouping"] = float(bool(dump and dump.recouping))
    row["dominant_retaliated"] = float(model.dominant_policy.response == "retaliation")
    return row
