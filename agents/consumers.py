"""ConsumerState: a country's demand for refined product and its strategic stockpile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from agents.producers import KG, Quote

if TYPE_CHECKING:
    from model.model import BlocModel
    from model.scenario import Consumer, Defaults

USE, STOCK, ESSENTIAL, RELEASE = 0, 1, 2, 3  # bid tags: elastic steps, stockpile top-up,
# choke-price step, the part of the top steps a stockpile covers (bid at the release price)


class ConsumerState(mesa.Agent):
    """Monthly demand with growth, short-run elasticity and slow long-run response.

    Demand at price p: ``D(p) = D_ref * (p / p_ref) ** e_short``, bid as steps
    on a price grid shared by all consumers (``BlocModel.price_levels``); the
    top step, at the choke price, is essential demand. A consumer holding a
    stockpile bids less above ``STOCK_RELEASE_RATIO`` x the reference price and
    draws the stock instead (at most ``STOCK_DRAW_SHARE`` of it a month), and
    draws it for any essential demand left unserved. ``D_ref`` grows at
    ``demand_growth`` a year and is scaled by ``long_run``, which moves towards
    ``(p_mean / p_ref) ** e_long`` by at most ``max_substitution_rate`` a year.
    """

    STOCK_RELEASE_RATIO = 2.0  # assumed: stock is used instead of buying above 2x the reference price
    STOCK_DRAW_SHARE = 0.25  # assumed: at most a quarter of the stock is drawn in one month

    def __init__(
        self, model: BlocModel, code: str, role: Consumer, defaults: Defaults, stockpile_months: float
    ) -> None:
        super().__init__(model)
        self.code = code
        self.role = role
        self.defaults = defaults
        self.stockpile_months = stockpile_months
        self.long_run = 1.0
        self.mean_price = model.config.market.reference_price
        self.shock = 1.0  # demand_shock events
        self.noise = 1.0
        self.stock = stockpile_months * role.demand  # strategic stockpile starts full, t
        self.reference_demand = role.demand  # t/month at the reference price, this month
        self.bought_use = self.bought_stock = 0.0
        self.spend = 0.0  # $ this month
        self.consumed = self.unmet = self.drawn = 0.0
        self._essential = self._essential_filled = 0.0

    def update_demand(self, noise: float) -> None:
        """Set this month's reference demand (growth, long-run response, shocks, noise)."""
        m = self.model.month
        p_ref = self.model.config.market.reference_price
        target = (self.mean_price / p_ref) ** self.defaults.elasticity_long
        step = self.defaults.max_substitution_rate / 12.0
        change = (target - self.long_run) / self.defaults.adjust_months
        self.long_run += max(-step, min(step, change))
        self.noise = noise
        growth = (1.0 + self.defaults.demand_growth) ** (m / 12.0)
        self.reference_demand = self.role.demand * growth * self.long_run * self.shock * noise

    def bids(self) -> list[Quote]:
        """Demand-curve steps (tag USE) and a stockpile top-up bid (tag STOCK)."""
        levels = self.model.price_levels  # ascending $/kg; the last is the choke price
        p_ref = self.model.config.market.reference_price
        e = self.defaults.elasticity_short
        d_ref = self.reference_demand
        out = []
        prev = 0.0
        for price in reversed(levels):  # from the choke price down
            cum = d_ref * (price / p_ref) ** e
            q = cum - prev
            prev = cum
            if q > 1e-9:
                out.append(Quote(self, q, price, ESSENTIAL if not out else USE))
        self._essential = out[0].quantity if out else 0.0
        self._essential_filled = 0.0
        # Draw the stockpile rather than buy above the release price: bid that much less
        # on the steps at or above it (from the top).
        # ... and bid those units at the release price instead (tag RELEASE).
        release = p_ref * self.STOCK_RELEASE_RATIO
        left = min(self.stock * self.STOCK_DRAW_SHARE, self._essential)
        moved = 0.0
        for q in out:
            if left <= 0 or q.price <= release:
                break
            cut = min(left, q.quantity)
            q.quantity -= cut
            left -= cut
            moved += cut
        out = [q for q in out if q.quantity > 1e-9]
        if moved > 1e-9:
            out.append(Quote(self, moved, release, RELEASE))
        target = self.stockpile_months * d_ref
        if self.stock < target:
            buy = (target - self.stock) / self.defaults.stock_fill_months
            out.append(Quote(self, buy, p_ref * self.defaults.stock_buy_ratio, STOCK))
        return out

    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        self.spend += quantity * price * KG
        if tag == STOCK:
            self.bought_stock += quantity
        else:
            self.bought_use += quantity
            if tag in (ESSENTIAL, RELEASE):
                self._essential_filled += quantity

    def finish_month(self, price: float) -> None:
        """Consume, draw the stockpile for unserved essential demand, record unmet demand."""
        short = max(0.0, self._essential - self._essential_filled)
        self.drawn = min(self.stock, short)
        short -= self.drawn
        self.stock += self.bought_stock - self.drawn
        self.unmet = short
        self.consumed = self.bought_use + self.drawn
        if price == price:
            w = 1.0 / self.defaults.adjust_months
            self.mean_price += w * (price - self.mean_price)

    def clear_month(self) -> None:
        self.bought_use = self.bought_stock = self.spend = 0.0
