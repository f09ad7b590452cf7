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
COVERED = -1  # offer tag: a refiner's CfD-covered deliveries into the bloc


@dataclass(slots=True)
class Quote:
    """What an agent puts into a market: an offer or a bid step.

    ``only_segment`` restricts an offer to one segment (dumping into the bloc);
    ``owner`` is the seller strategy that made the quote, told of its sales;
    ``upper`` (bids) the top of the step's price range: the step stands for
    buyers whose valuations are spread evenly over [price, upper].
    """

    agent: mesa.Agent
    quantity: float
    price: float
    tag: int = 0
    only_segment: int | None = None
    owner: object | None = None
    upper: float | None = None


class Plant(mesa.Agent):
    """A country's producing role. Subclasses set ``stage``."""

    stage = ""

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
        self.subsidy = 0.0  # $ this month (CfD payments, negative when paying back)
        self.sold_bloc = 0.0  # t sold into the bloc segment this month
        self.bloc_sales_share = 0.0  # moving average of the share of sales delivered into the bloc
        self.strategies: list = []  # seller strategies (agents.strategies), applied in order
        self.planner = False  # a state plan: builds to meet demand, whatever the margin
        self._variable_cost = 0.0  # $ this month
        self.variable_cost_month = 0.0  # $ this month, booked at settlement
        self.sales_trend = role.capacity * defaults.initial_utilisation  # t/month, moving average of sales

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

    def realised_price(self) -> float:
        """What the plant earned per kg this month (its netback over all segments), or its
        home segment's price if it sold nothing, $/kg."""
        if self.sold > 1e-9:
            return self.revenue / (self.sold * KG)
        return self.market_price()

    def observe_price(self) -> None:
        """Update the expected price (a moving average of the realised netback) and the sales trend."""
        w = 1.0 / self.model.config.market.price_memory_months
        price = self.realised_price()
        if price == price:  # not NaN
            self.expected_price += w * (price - self.expected_price)
        self.sales_trend += w * (self.sold - self.sales_trend)
        if self.sold > 1e-9:
            self.bloc_sales_share += w * (self.sold_bloc / self.sold - self.bloc_sales_share)

    def settle(self, variable_cost: float) -> None:
        """Book this month's cash flow: sales + CfD - variable and fixed costs."""
        self.variable_cost_month = variable_cost
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
            if (
                self.mothballed_months >= self.defaults.restart_delay
                and expected > self.role.marginal_cost * self.defaults.restart_margin
            ):
                self.status = ACTIVE
                self.cash = max(self.cash, 0.0)  # restart is refinanced
            elif self.mothballed_months >= self.defaults.close_after:
                self.status = CLOSED
                for tr in self.tranches:
                    tr[0] = 0.0
        self._invest()

    def investment_price(self) -> float:
        """Price the plant plans on: its expectation, raised where an instrument covers its sales."""
        return self.model.authority.guaranteed_price(self, self.expected_price)

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
        need = max(self.sales_trend, self.defaults.invest_min) * growth / self.defaults.busy
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
        self.sold = self.revenue = self.subsidy = self.sold_bloc = self.variable_cost_month = 0.0


class ProducerState(Plant):
    """A country's mines: offers concentrate at cash cost, tranche by tranche."""

    stage = "concentrate"

    def offers(self) -> list[Quote]:
        if self.status != ACTIVE:
            return []
        return [Quote(self, q, c, tag=i) for i, (q, c) in enumerate(self.tranches) if q > 1e-9]

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
    then); refined output joins an inventory offered at its replacement cost.
    It buys what it expects to sell (a ``refiner_sales_memory``-month average
    of its sales) plus half of the gap to an inventory of
    ``refiner_inventory_target`` months of sales. Its expected price, for
    investment and exit, is its processing margin: the oxide netback it
    realises less the concentrate in it.
    """

    stage = "refined"

    def __init__(self, model, code, role, defaults, initial_price):
        mk = model.config.market
        margin = initial_price - mk.initial_concentrate_price / mk.refining_yield
        super().__init__(model, code, role, defaults, margin)
        self.expected_sales = role.capacity * defaults.initial_utilisation  # t/month
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
        d = self.defaults
        want = se + 0.5 * (d.refiner_inventory_target * se - self.inventory)
        want = min(cap, max(want, 0.0 if se > 0 else d.idle_bid_share * cap))  # an idle plant tries a share
        scale = want / cap if cap > 0 else 0.0
        expected = self.bid_price_basis()
        out = [
            Quote(self, q * scale / y, max(0.0, y * (expected - c)), tag=i)
            for i, (q, c) in enumerate(self.tranches)
            if q * scale > 1e-9
        ]
        # spare capacity runs when feed is cheap enough: the plant buys more concentrate, up to its
        # capacity, if it leaves a margin of refiner_expansion_margin on the expected oxide price
        spare = 1.0 - scale
        low = expected / (1.0 + d.refiner_expansion_margin)
        out += [
            Quote(self, q * spare / y, max(0.0, y * (low - c)), tag=i)
            for i, (q, c) in enumerate(self.tranches)
            if q * spare > 1e-9 and low > c
        ]
        return out

    def bid_price_basis(self) -> float:
        """Oxide price the plant expects: a short average of its netback, raised where an instrument covers it."""
        return self.model.authority.guaranteed_price(self, self.price_expect)

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
        covered = min(self.inventory, self.model.authority.covered_volume(self)) if self.member else 0.0
        out = []
        if covered > 1e-9:  # CfD-covered deliveries into the bloc: paid the strike whatever the price
            out.append(Quote(self, covered, 0.0, COVERED, only_segment=self.model.segments.bloc))
        if self.inventory - covered > 1e-9:
            out.append(Quote(self, self.inventory - covered, unit))
        return out

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

    def realised_price(self) -> float:
        """Processing margin realised: oxide netback less the concentrate in it, $/kg."""
        if self.sold <= 1e-9:
            return self.market_price()
        y = self.model.config.market.refining_yield
        conc = self.model.last_price("concentrate", self.model.segment_of(self.code))
        return self.revenue / (self.sold * KG) - conc / y

    def investment_price(self) -> float:
        """Expected processing margin, raised where an instrument covers the oxide price."""
        y = self.model.config.market.refining_yield
        conc = self.model.last_price("concentrate", self.model.segment_of(self.code)) / y
        return self.model.authority.guaranteed_price(self, self.expected_price + conc) - conc

    def finish_month(self) -> None:
        self.settle(self.conc_spend + self.processing_spend)
        d = self.defaults
        self.expected_sales += (self.sold - self.expected_sales) / d.refiner_sales_memory
        price = self.revenue / (self.sold * KG) if self.sold > 1e-9 else self.model.refined.prices[
            self.model.segment_of(self.code)
        ]
        if price == price:
            self.price_expect += (price - self.price_expect) / d.refiner_price_memory

    def clear_month(self) -> None:
        super().clear_month()
        self.intake = self.output = self.conc_spend = self.processing_spend = 0.0
