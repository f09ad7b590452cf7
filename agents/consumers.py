"""ConsumerState: a country's demand for refined product, by end use, and its strategic stockpile.

Demand is split into the scenario's end uses (EV traction motors, wind,
industrial motors, electronics, defence, other). End use ``u`` with share
``s_u``, short-run elasticity ``e_u`` and reservation price ``R_u`` demands

    d_u(p) = s_u * D_ref * L * (p / p_ref) ** e_u     for p below its switching range,

and nothing above it: its users switch to a substitute (or stop) at prices
spread uniformly over ``R_u * (1 -+ spread)``. The curve is bid as steps
whose upper ends make it piecewise linear (``Quote.upper``), so the clearing
price is continuous in the quantity supplied (``model.clearing``).

``L`` is the long-run response, a partial adjustment towards
``T = (p_mean / p_ref) ** (e_long - e_short)`` (so that a sustained price
change moves demand by ``e_long`` in all, short run included), at most
``max_substitution_rate`` a year. Substitution is partly irreversible: a
share ``r = substitution_ratchet`` of the demand lost never comes back, so
once ``L`` has fallen to ``L_min`` it adjusts towards ``min(T, 1 - r (1 - L_min))``.

Rationed demand is what buyers would pay more than the price for and did
not get (zero when the market clears, but for ties at the margin). Unmet
demand of a use is what it would buy at the normal price (its
segment's moving-average price, ``market.normal_price_months``; steps
counted as the clearing allocates them) and did not get. The strategic
stockpile is refilled below, and sold above, multiples of the normal price
(or of the bloc floor for a member, whichever is higher).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa

from agents.producers import KG, Quote

if TYPE_CHECKING:
    from model.model import BlocModel
    from model.scenario import Consumer, Defaults, EndUse

STOCK = -1  # bid tag of the stockpile refill; use bids are tagged with the end use's index
RELEASE = -2  # offer tag of the stockpile release


def use_curve(
    use: EndUse, p_ref: float, floor_ratio: float, steps: int, spread: float
) -> list[tuple[float, float, float]]:
    """The unit demand curve of an end use: ``(quantity per unit of reference demand, price, upper)`` steps.

    Steps span a geometric price grid from ``floor_ratio x p_ref`` to the
    bottom of the switching range; the last step is the switching range itself.
    """
    lo_switch = use.reservation * (1.0 - spread) * p_ref
    hi_switch = use.reservation * (1.0 + spread) * p_ref
    bottom = min(floor_ratio * p_ref, lo_switch)
    levels = [bottom * (lo_switch / bottom) ** (i / (steps - 1)) for i in range(steps)] if lo_switch > bottom else []

    def d(p: float) -> float:
        return (p / p_ref) ** use.elasticity

    out = []
    for a, b in zip(levels, levels[1:], strict=False):
        q = d(a) - d(b)
        if q > 1e-12:
            out.append((q, a, b))
    out.append((d(lo_switch), lo_switch, hi_switch))
    return out


def demand_at(curve: list[tuple[float, float, float]], p: float, steps: bool = False) -> float:
    """Quantity per unit of reference demand a unit curve buys at price ``p``: interpolated within
    steps, or (``steps=True``) as the clearing allocates it, a step bought whole at or below its price."""
    total = 0.0
    for q, lo, hi in curve:
        if p <= lo:
            total += q
        elif p < hi and not steps:
            total += q * (hi - p) / (hi - lo)
    return total


class ConsumerState(mesa.Agent):
    """Monthly demand by end use, its long-run response, and a strategic stockpile."""

    def __init__(
        self, model: BlocModel, code: str, role: Consumer, defaults: Defaults, stockpile_months: float
    ) -> None:
        super().__init__(model)
        self.code = code
        self.segment = model.segment_of(code)  # the market segment its buyers are in (fixed for the run)
        self.role = role
        self.defaults = defaults
        self.stockpile_months = stockpile_months
        mk = model.config.market
        self.uses = model.config.end_uses
        self.curves = model.use_curves  # per end use, shared by all consumers
        self.shares = tuple(u.share for u in self.uses)  # the end uses' shares of demand
        self._memo = model.use_curve_memo  # the curves' values at a price, shared: ``_curve_terms``
        self.mean_short_elasticity = sum(u.share * u.elasticity for u in self.uses)
        self.long_run = 1.0  # long-run response of demand (1 = none)
        self.long_min = 1.0  # the lowest it has been (the substitution ratchet)
        self.mean_price = mk.reference_price  # $/kg, moving average for the long-run response
        self.normal_price = mk.reference_price  # $/kg, the segment's normal (pre-crisis) price
        self.shock = 1.0  # demand_shock events
        self.noise = 1.0
        self.stock = stockpile_months * role.demand  # strategic stockpile, starts full, t
        self.reference_demand = role.demand  # t/month at the reference price, this month
        n = len(self.uses)
        self.bought_by_use = [0.0] * n
        self.unmet_by_use = [0.0] * n
        self.normal_by_use = [0.0] * n  # t/month each use would buy at the normal price
        self.bought_stock = self.sold_stock = 0.0
        self.spend = self.income = 0.0  # $ this month
        self.surplus = 0.0  # $ consumer surplus this month (valuation - price, interpolated curves)
        self.consumed = self.unmet = self.rationed = 0.0

    # --------------------------------------------------------------- demand
    def update_demand(self, noise: float) -> None:
        """Set this month's reference demand (growth, long-run response, shocks, noise)."""
        d = self.defaults
        p_ref = self.model.config.market.reference_price
        target = (self.mean_price / p_ref) ** (d.elasticity_long - self.mean_short_elasticity)
        step = d.max_substitution_rate / 12.0
        if self.long_min < 1.0:  # a share of what was lost to substitution never returns
            target = min(target, 1.0 - d.substitution_ratchet * (1.0 - self.long_min))
        change = max(-step, min(step, (target - self.long_run) / d.adjust_months))
        self.long_run = max(1e-6, self.long_run + change)
        self.long_min = min(self.long_min, self.long_run)
        self.noise = noise
        growth = (1.0 + d.demand_growth) ** (self.model.month / 12.0)
        self.reference_demand = self.role.demand * growth * self.long_run * self.shock * noise
        at_normal = self._curve_terms("normal", self.normal_price)
        d_ref = self.reference_demand
        # one entry per end use in each (zip without ``strict=``, which costs more than the loop here)
        self.normal_by_use[:] = [share * d_ref * a for share, a in zip(self.shares, at_normal)]  # noqa: B905

    def price_basis(self) -> float:
        """The price strategic stock decisions are relative to: normal price, or the floor for a member."""
        auth = self.model.authority
        floor = auth.floor if self.code in auth.members else 0.0
        return max(self.normal_price, floor)

    def bids(self) -> list[Quote]:
        """Demand steps of every end use (tag = use index) and a stockpile refill bid (tag STOCK)."""
        return self.use_bids() + self.stock_bids()

    def use_bids(self) -> list[Quote]:
        """The end uses' demand steps: the shared unit curves scaled by ``share x D_ref``.

        (The market clears the steps of all consumers of a segment as one, since they differ only
        by this scale, and shares fills in proportion to ``D_ref``: ``model.market.demand_bids``.)
        """
        out = []
        d_ref = self.reference_demand
        for i, (u, curve) in enumerate(zip(self.uses, self.curves, strict=True)):
            scale = u.share * d_ref
            for q, lo, hi in curve:
                if q * scale > 1e-9:
                    out.append(Quote(self, q * scale, lo, i, upper=hi))
        return out

    def stock_bids(self) -> list[Quote]:
        """The strategic stockpile's refill bid (tag STOCK), while below target."""
        target = self.stockpile_months * self.reference_demand
        if self.stock >= target:
            return []
        buy = (target - self.stock) / self.defaults.stock_fill_months
        return [Quote(self, buy, self.price_basis() * self.defaults.stock_buy_ratio, STOCK)]

    def offers(self) -> list[Quote]:
        """Release the strategic stock into the home segment above ``stock_release_ratio`` x the basis."""
        q = self.stock * self.defaults.stock_draw_share
        if q <= 1e-9:
            return []
        ask = self.price_basis() * self.defaults.stock_release_ratio
        return [Quote(self, q, ask, RELEASE, only_segment=self.segment)]

    # ------------------------------------------------------------- booking
    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        self.spend += quantity * price * KG
        if tag == STOCK:
            self.bought_stock += quantity
        else:
            self.bought_by_use[tag] += quantity

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        self.sold_stock += quantity
        self.income += quantity * price * KG

    def finish_month(self, price: float) -> None:
        """Consume, update stocks, unmet demand and surplus, and the price memories."""
        self.stock += self.bought_stock - self.sold_stock
        bought, d_ref = self.bought_by_use, self.reference_demand
        self.consumed = sum(bought)
        # one entry per end use in each (zip without ``strict=``, which costs more than the loops here);
        # ``x if x > 0.0 else 0.0`` is ``max(0.0, x)``
        unmet = [n - b for n, b in zip(self.normal_by_use, bought)]  # noqa: B905
        self.unmet_by_use[:] = [x if x > 0.0 else 0.0 for x in unmet]
        self.unmet = sum(self.unmet_by_use)
        # rationed: demand willing to pay more than the price (steps strictly above it) left unserved
        rationed = surplus = 0.0
        if price == price:
            above_u = self._curve_terms("above", price)
            for a, share, b in zip(above_u, self.shares, bought):  # noqa: B905
                x = a * share * d_ref - b
                rationed += x if x > 0.0 else 0.0
            surplus_u = self._curve_terms("surplus", price)
            for share, su in zip(self.shares, surplus_u):  # noqa: B905
                surplus += share * d_ref * su * KG
            mk = self.model.config.market
            self.mean_price += (price - self.mean_price) / self.defaults.adjust_months
            self.normal_price += (price - self.normal_price) / mk.normal_price_months
        self.rationed, self.surplus = rationed, surplus

    def _curve_terms(self, kind: str, price: float) -> tuple:
        """Per end use, a value of its unit curve at ``price``, computed once per price for all consumers:
        ``normal``: what it buys as the clearing allocates (``demand_at(steps=True)``); ``above``: the
        quantity of its steps strictly above the price; ``surplus``: ``_surplus``."""
        key = (kind, price)
        out = self._memo.get(key)
        if out is None:
            if len(self._memo) > 64:
                self._memo.clear()
            if kind == "normal":
                out = tuple(demand_at(curve, price, steps=True) for curve in self.curves)
            elif kind == "above":
                out = tuple(sum(q for q, lo, _ in curve if lo > price * (1.0 + 1e-9)) for curve in self.curves)
            else:
                out = tuple(_surplus(curve, price) for curve in self.curves)
            self._memo[key] = out
        return out

    def clear_month(self) -> None:
        n = len(self.uses)
        self.bought_by_use = [0.0] * n
        self.bought_stock = self.sold_stock = self.spend = self.income = 0.0


def _surplus(curve: list[tuple[float, float, float]], p: float) -> float:
    """Consumer surplus per unit of reference demand at price ``p``: the area under the curve above p."""
    total = 0.0
    for q, lo, hi in curve:
        if p <= lo:
            total += q * ((lo + hi) / 2.0 - p)
        elif p < hi:
            share = (hi - p) / (hi - lo)
            total += q * share * (hi - p) / 2.0
    return total if math.isfinite(total) else 0.0
