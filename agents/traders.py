"""StockTrader: private stocks of refined product under the competitive-storage rule.

One trader per market segment (bloc, home, world) holds oxide when the
expected price rise covers the cost of carrying it, and sells when it does
not (Wright & Williams 1982; Deaton & Laroque 1992): with monthly interest
``r`` and storage cost ``c`` $/kg, the threshold price is

    p* = (E[p_next] - c) / (1 + r)

-- the trader's stock demand is linear in price, from its full capacity
(``capacity_months`` of the segment's reference demand) at ``p* (1 - w)``
down to nothing at ``p*`` (``w = schedule_spread``); it bids for, or offers,
the difference between that schedule and what it holds.

Expectations are adaptive and mean-reverting: ``E[p_next] = p_n + rho (p - p_n)``
with ``p_n`` the segment's normal price (a moving average). The
precautionary motive: while an export control on the segment is announced,
traders expect prices to rise by ``precaution`` by its start, i.e.
``E[p_next] = p (1 + precaution) ** (1 / months to go)`` (they buy ahead);
while it is in force prices are expected to revert to ``(1 + precaution) x``
the normal price -- once they have jumped above that, mean reversion
dominates and traders sell into the peak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from agents.producers import KG, Quote

if TYPE_CHECKING:
    from model.model import BlocModel

BUY, SELL = 0, 1
SCHEDULE_STEPS = 4  # steps of each schedule (resolution only: quantities are interpolated within a step)


class StockTrader(mesa.Agent):
    """A segment's private stockholder (traders and consumers' working stocks)."""

    def __init__(self, model: BlocModel, segment: int) -> None:
        super().__init__(model)
        self.segment = segment
        self.code = f"TRADER-{model.segments.names[segment]}"
        p_ref = model.config.market.reference_price
        self.normal_price = p_ref
        self.last_price = p_ref
        self.expected_price = p_ref
        self.stock = 0.0  # t
        self.stock_cost = 0.0  # $ book value
        self.cash = 0.0  # $ trading result, cumulative (interest is an opportunity cost, not a flow)
        self.bought = self.sold = 0.0  # t this month
        self.spend = self.income = self.carrying = 0.0  # $ this month

    def threshold(self) -> float:
        """The price below which holding one more kg for a month pays, $/kg."""
        st = self.model.config.storage
        controls = [e for e in self.model.events if e.is_control and self.model.segment_targeted(e, self.segment)]
        month = self.model.month
        normal = self.normal_price
        announced = [e for e in controls if e.announced(month)]
        if any(e.active(month) for e in controls):
            normal *= 1.0 + st.precaution  # a control in force: prices are expected to stay high
            expected = normal + st.reversion * (self.last_price - normal)
        elif announced:  # the jump is expected when the control starts: appreciation per month until then
            months = max(1, min(e.start for e in announced) - month)
            expected = self.last_price * (1.0 + st.precaution) ** (1.0 / months)
        else:
            expected = normal + st.reversion * (self.last_price - normal)
        self.expected_price = expected
        r = (1.0 + st.interest_rate) ** (1.0 / 12.0) - 1.0
        return max(0.0, (expected - st.storage_cost) / (1.0 + r))

    def quotes(self, segment_demand: float) -> tuple[list[Quote], list[Quote]]:
        """(bids, offers) into the trader's own segment this month.

        The trader's stock demand is ``S(p) = cap x clip((p* - p) / (w p*), 0, 1)``: all its
        capacity below ``p* (1 - w)``, nothing above ``p*``. Holding ``s``, it bids for
        ``S(p) - s`` below ``p_s = p* (1 - w s / cap)`` and offers ``s - S(p)`` above it.
        """
        st = self.model.config.storage
        p_star = self.threshold()
        cap = st.capacity_months * segment_demand
        if p_star <= 0 or cap <= 1e-9:
            return [], [Quote(self, self.stock, 0.0, SELL, only_segment=self.segment)] if self.stock > 1e-9 else []
        w = st.schedule_spread
        s = min(self.stock, cap)
        p_s = p_star * (1.0 - w * s / cap)
        bids, offers = [], []
        lo = p_star * (1.0 - w)
        if cap - s > 1e-9:
            step = (p_s - lo) / SCHEDULE_STEPS
            for i in range(SCHEDULE_STEPS):
                bids.append(Quote(self, (cap - s) / SCHEDULE_STEPS, lo + i * step, BUY, upper=lo + (i + 1) * step))
        if self.stock > 1e-9:
            excess = self.stock - s  # above capacity (demand fell): offered at the bottom of the range
            if excess > 1e-9:
                offers.append(Quote(self, excess, lo, SELL, only_segment=self.segment))
            if s > 1e-9:
                step = (p_star - p_s) / SCHEDULE_STEPS
                for i in range(SCHEDULE_STEPS):
                    ask = p_s + (i + 0.5) * step
                    offers.append(Quote(self, s / SCHEDULE_STEPS, ask, SELL, only_segment=self.segment))
        return bids, offers

    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        self.stock += quantity
        self.stock_cost += quantity * price * KG
        self.bought += quantity
        self.spend += quantity * price * KG

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        unit = self.stock_cost / self.stock if self.stock > 0 else 0.0
        self.stock = max(0.0, self.stock - quantity)
        self.stock_cost = max(0.0, self.stock_cost - unit * quantity)
        self.sold += quantity
        self.income += quantity * price * KG

    def finish_month(self, price: float) -> None:
        """Pay for storage, book the month, update the price memories."""
        self.carrying = self.stock * self.model.config.storage.storage_cost * KG
        self.cash += self.income - self.spend - self.carrying
        if price == price:
            self.last_price = price
            self.normal_price += (price - self.normal_price) / self.model.config.market.normal_price_months

    def clear_month(self) -> None:
        self.bought = self.sold = self.spend = self.income = self.carrying = 0.0
