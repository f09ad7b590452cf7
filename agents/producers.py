"""Producing roles: mines (ProducerState) and separation plants (RefinerState).

Both hold capacity in cost tranches, a cash buffer, optional state backing
(a soft budget), and the same investment and exit rules (``Plant.decide``).
Money is in $, quantities in t/month, prices in $/kg (1 t = 1,000 kg).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from model.model import BlocModel
    from model.scenario import Defaults, Role

KG = 1000.0  # kg per tonne

ACTIVE, MOTHBALLED, CLOSED = "active", "mothballed", "closed"


@dataclass(slots=True)
class Quote:
    """What an agent puts into a market: an offer or a bid step.

    ``only_segment`` restricts an offer to one segment (dumping into the bloc);
    ``owner`` is the seller strategy that made the quote, told of its sales.
    """

    agent: mesa.Agent
    quantity: float
    price: float
    tag: int = 0
    only_segment: int | None = None
    owner: object | None = None


class Plant(mesa.Agent):
    """A country's producing role. Subclasses set ``stage``."""

    stage = ""
    BUSY = 0.8  # assumed: utilisation a plant plans its capacity for

    def __init__(self, model: BlocModel, code: str, role: Role, defaults: Defaults, initial_price: float) -> None:
        super().__init__(model)
        self.code = code
        self.role = role
        self.defaults = defaults
        self.tranches: list[list[float]] = [[role.capacity * s, c] for s, c in role.tranches]
        self.pipeline: deque[tuple[int, float]] = deque()  # (arrival month, t/month)
        self.status = ACTIVE if role.capacity > 0 else CLOSED
        self.cash = defaults.cash_months * self.fixed_cost_per_month(full=True)
        self.expected_price = initial_price  # exponentially weighted realised price, $/kg
        self.mothballed_months = 0
        self.exits = 0  # times this plant went offline for lack of cash
        self.sold = 0.0  # t this month
        self.revenue = 0.0  # $ this month
        self.subsidy = 0.0  # $ this month (CfD top-ups)
        self.strategies: list = []  # seller strategies (agents.strategies), applied in order
        self.planner = False  # a state plan: builds to meet demand, whatever the margin
        self._variable_cost = 0.0  # $ this month
        self.sales_trend = role.capacity * 0.85  # t/month, moving average of sales (calibration's utilisation)

    # ---------------------------------------------------------------- state
    @property
    def capacity(self) -> float:
        """Installed capacity, t/month (mothballed plants keep it, closed ones lose it)."""
        return sum(q for q, _ in self.tranches)

    @property
    def online_capacity(self) -> float:
        return self.capacity if self.status == ACTIVE else 0.0

    @property
    def member(self) -> bool:
        return self.code in self.model.authority.members

    def unit_cost(self) -> float:
        """Capacity-weighted cash cost, $/kg."""
        cap = self.capacity
        return sum(q * c for q, c in self.tranches) / cap if cap > 0 else self.role.marginal_cost

    def marginal_cost(self) -> float:
        """Cash cost of the dearest tranche with capacity, $/kg."""
        return max((c for q, c in self.tranches if q > 1e-9), default=self.role.marginal_cost)

    def fixed_cost_per_month(self, full: bool = False) -> float:
        base = self.role.fixed_cost * self.capacity * KG
        if full or self.status == ACTIVE:
            return base
        if self.status == MOTHBALLED:
            return base * self.defaults.mothball_cost_share
        return 0.0

    # ------------------------------------------------------------ decisions
    def market_price(self) -> float:
        """This month's price of the plant's output in its own segment, $/kg."""
        return self.model.last_price("concentrate", self.model.segment_of(self.code))

    def observe_price(self) -> None:
        """Update the expected price (a moving average of the market price) and the sales trend."""
        w = 1.0 / self.model.config.market.price_memory_months
        price = self.market_price()
        if price == price:  # not NaN
            self.expected_price += w * (price - self.expected_price)
        self.sales_trend += w * (self.sold - self.sales_trend)

    def settle(self, variable_cost: float) -> None:
        """Book this month's cash flow: sales + CfD - variable and fixed costs."""
        self.cash += self.revenue + self.subsidy - variable_cost - self.fixed_cost_per_month()
        cap = self.defaults.cash_cap_months * self.fixed_cost_per_month(full=True)
        if self.cash > cap:
            self.cash = cap  # paid out to owners

    def decide(self) -> None:
        """Capacity arrivals, exit when cash runs out, restart, investment."""
        month = self.model.month
        while self.pipeline and self.pipeline[0][0] <= month:
            _, amount = self.pipeline.popleft()
            self._add_capacity(amount)
        if self.status == ACTIVE and self.cash < -self.role.backing and self.capacity > 0:
            self.status = MOTHBALLED  # cash is gone: mothball (an exit)
            self.mothballed_months = 0
            self.exits += 1
            self.model.record_exit(self)
        elif self.status == MOTHBALLED:
            self.mothballed_months += 1
            expected = self.investment_price()
            if self.mothballed_months >= self.defaults.restart_delay and expected > self.role.marginal_cost * 1.1:
                self.status = ACTIVE
                self.cash = max(self.cash, 0.0)  # restart is refinanced
            elif self.mothballed_months >= self.defaults.close_after:
                self.status = CLOSED
                for tr in self.tranches:
                    tr[0] = 0.0
        self._invest()

    def investment_price(self) -> float:
        """Price the plant plans on: its expectation, or the floor if the bloc covers it."""
        return max(self.expected_price, self.covered_price())

    def covered_price(self) -> float:
        """What a floor guarantees this plant's output, $/kg (0 if not covered)."""
        return self.model.authority.floor_for(self.stage) if self.member else 0.0

    def _invest(self) -> None:
        if self.status == MOTHBALLED:
            return
        margin = self.investment_price() - self.role.full_cost
        if margin <= 0 and not self.planner:
            return
        # Capacity needed when a project ordered now arrives: the sales trend grown at the
        # demand trend over the lead time, at the utilisation BUSY.
        planned = self.capacity + sum(a for _, a in self.pipeline)
        growth = (1.0 + self.defaults.demand_growth) ** (self.role.lead_time / 12.0)
        need = max(self.sales_trend, self.defaults.invest_min) * growth / self.BUSY
        gap = min(need, self.role.potential) - planned
        if gap <= 1e-9:
            return
        # Invest faster the larger the margin: full pace (invest_rate of capacity a year)
        # from a margin of 10% of the full cost.
        pace = min(1.0, margin / (0.1 * self.role.full_cost)) if self.role.full_cost > 0 else 1.0
        if self.planner:
            pace = 1.0
        amount = pace * self.defaults.invest_rate * max(planned, self.defaults.invest_min) / 12.0
        amount = min(amount, gap)
        if amount > 1e-9:
            self.pipeline.append((self.model.month + self.role.lead_time, amount))

    def plan_trend_growth(self) -> None:
        """Make this plant a planner and fill its pipeline with projects growing
        capacity at the demand trend over one lead time.

        Used for the dominant supplier, whose state plan expands output with demand
        (assumed; China's 2024 mining quota rose 5.9%, mining.com).
        """
        self.planner = True
        monthly = (1.0 + self.defaults.demand_growth) ** (1.0 / 12.0) - 1.0
        cap = self.capacity
        for month in range(1, self.role.lead_time + 1):
            add = cap * monthly
            cap += add
            self.pipeline.append((month, add))

    def _add_capacity(self, amount: float) -> None:
        self.tranches[-1][0] += amount  # new capacity at the marginal cash cost
        # the project is financed with working capital for its fixed costs
        self.cash += self.defaults.cash_months * self.role.fixed_cost * amount * KG
        if self.status == CLOSED:
            self.status = ACTIVE
            self.cash = max(self.cash, self.defaults.cash_months * self.role.fixed_cost * amount * KG)

    def clear_month(self) -> None:
        """Reset this month's flows (after the recorder has read them)."""
        self.sold = self.revenue = self.subsidy = 0.0


class ProducerState(Plant):
    """A country's mines: offers concentrate at cash cost, tranche by tranche."""

    stage = "concentrate"

    def offers(self) -> list[Quote]:
        if self.status != ACTIVE:
            return []
        auth = self.model.authority
        return [Quote(self, q, auth.member_ask(self, c), tag=i) for i, (q, c) in enumerate(self.tranches) if q > 1e-9]

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        self.sold += quantity
        self.revenue += quantity * price * KG
        self._variable_cost += quantity * self.tranches[tag][1] * KG

    def finish_month(self) -> None:
        self.settle(self._variable_cost)
        self._variable_cost = 0.0


class RefinerState(Plant):
    """A country's separation plants: buy concentrate, refine at a yield, sell oxide.

    Concentrate bought is processed the same month (processing cost paid
    then); refined output joins an inventory offered at its unit cost. It buys
    what it expects to sell (a 3-month average of its sales) plus half of the
    gap to an inventory of half a month's sales. Its expected price, for
    investment and exit, is its processing margin: refined price less the
    concentrate in it.
    """

    stage = "refined"
    SALES_MEMORY = 3.0  # months, assumed
    PRICE_MEMORY = 3.0  # months, assumed: short-run expectation of the oxide price
    INVENTORY_TARGET = 0.5  # months of sales, assumed

    def __init__(self, model, code, role, defaults, initial_price):
        mk = model.config.market
        margin = initial_price - mk.initial_concentrate_price / mk.refining_yield
        super().__init__(model, code, role, defaults, margin)
        self.expected_sales = role.capacity * 0.85  # t/month, the calibration's utilisation
        self.price_expect = initial_price  # $/kg, short-run expectation of its segment's oxide price
        self.inventory = 0.0  # t refined product
        self.inventory_cost = 0.0  # $ book value of the inventory
        self.intake = 0.0  # t concentrate bought this month
        self.output = 0.0  # t refined produced this month
        self.conc_spend = 0.0  # $ paid for concentrate this month
        self.processing_spend = 0.0  # $ processing cost this month

    def bids(self) -> list[Quote]:
        """Bid for concentrate: each tranche pays up to yield x (expected price - processing cost)."""
        if self.status != ACTIVE:
            return []
        y = self.model.config.market.refining_yield
        cap = self.capacity
        se = self.expected_sales
        want = se + 0.5 * (self.INVENTORY_TARGET * se - self.inventory)
        want = min(cap, max(want, 0.0 if se > 0 else 0.1 * cap))  # an idle plant tries 10% of capacity
        scale = want / cap if cap > 0 else 0.0
        expected = self.bid_price_basis()
        return [
            Quote(self, q * scale / y, max(0.0, y * (expected - c)), tag=i)
            for i, (q, c) in enumerate(self.tranches)
            if q * scale > 1e-9
        ]

    def bid_price_basis(self) -> float:
        """Oxide price the plant expects: a 3-month average of its segment's, or the floor if covered."""
        floor = self.model.authority.floor_for(self.stage) if self.member else 0.0
        return max(self.price_expect, floor)

    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        """Concentrate bought: refine it now."""
        y = self.model.config.market.refining_yield
        out = quantity * y
        cost = quantity * price * KG + out * self.tranches[tag][1] * KG
        self.intake += quantity
        self.output += out
        self.conc_spend += quantity * price * KG
        self.processing_spend += out * self.tranches[tag][1] * KG
        self.inventory += out
        self.inventory_cost += cost

    def offers(self) -> list[Quote]:
        """Offer the inventory at replacement cost: this month's concentrate + processing.

        (Not at book cost: concentrate already bought is sunk. Processing at the dearest
        tranche's cost: what one more tonne would cost.) Strategies may reshape it.
        """
        if self.inventory <= 1e-9:
            return []
        y = self.model.config.market.refining_yield
        conc = self.model.concentrate.prices[self.model.segment_of(self.code)]
        if conc != conc:
            conc = self.model.last_price("concentrate", self.model.segment_of(self.code))
        unit = conc / y + self.marginal_cost()
        return [Quote(self, self.inventory, self.model.authority.member_ask(self, unit))]

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        unit = self.inventory_cost / self.inventory if self.inventory > 0 else 0.0
        self.inventory = max(0.0, self.inventory - quantity)
        self.inventory_cost = max(0.0, self.inventory_cost - unit * quantity)
        self.sold += quantity
        self.revenue += quantity * price * KG

    def market_price(self) -> float:
        """Processing margin in its segment: oxide price less the concentrate in it, $/kg."""
        y = self.model.config.market.refining_yield
        k = self.model.segment_of(self.code)
        return self.model.last_price("refined", k) - self.model.last_price("concentrate", k) / y

    def covered_price(self) -> float:
        floor = super().covered_price()
        if floor <= 0:
            return 0.0
        y = self.model.config.market.refining_yield
        return floor - self.model.last_price("concentrate", self.model.segment_of(self.code)) / y

    def finish_month(self) -> None:
        self.settle(self.conc_spend + self.processing_spend)
        self.expected_sales += (self.sold - self.expected_sales) / self.SALES_MEMORY
        price = self.model.refined.prices[self.model.segment_of(self.code)]
        if price == price:
            self.price_expect += (price - self.price_expect) / self.PRICE_MEMORY

    def clear_month(self) -> None:
        super().clear_month()
        self.intake = self.output = self.conc_spend = self.processing_spend = 0.0
