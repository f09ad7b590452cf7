"""Producing roles: mines (ProducerState) and separation plants (RefinerState).

Both hold capacity in cost tranches, a cash buffer, optional state backing
(a soft budget), and the same investment and exit rules (``Plant.decide``).
Money is in $, quantities in t/month, prices in $/kg (1 t = 1,000 kg).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from model.model import BlocModel
    from model.scenario import Defaults, Firm, Role

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


# A firm's monthly cash flows: name -> sign in the cash identity
# cash(end) - cash(start) = sum(sign x flow) (``Plant.cash_change``; tested every month).
FLOW_SIGNS: dict[str, int] = {
    "revenue": 1,  # sales netbacks
    "subsidy": 1,  # CfD payments (negative when paying back above the strike)
    "variable_cost": -1,  # concentrate bought + processing, or mining cash cost
    "fixed_cost": -1,  # full when active, a share when mothballed
    "interest": -1,  # on debt and on the drawn credit line (negative cash)
    "repayment": -1,  # debt principal repaid
    "capex": -1,  # projects and quota expansions, paid as built
    "new_debt": 1,  # capex financed by debt
    "new_equity": 1,  # capex financed by owners (or the state)
    "dividends": -1,  # paid out when cash is ample
    "mothball_cost": -1,  # one-off, on mothballing
    "restart_cost": -1,  # one-off, on restarting
    "write_off": 1,  # on closing insolvent: lenders lose the debt and the drawn credit (cash back to 0)
}
# a month's flows before any booking: copied at the start of each month, never changed itself
NO_FLOWS: dict[str, float] = dict.fromkeys(FLOW_SIGNS, 0.0)


class Plant(mesa.Agent):
    """A firm's plant in one country and stage (a facility). Subclasses set ``stage``.

    Balance sheet: ``cash`` (negative = drawn credit line), ``debt`` (amortised,
    interest-bearing), ``fixed_assets`` at book value (capex, depreciated
    straight-line), inventory at cost (refiners). ``net_worth`` = cash +
    inventory at cost + fixed assets - debt. Every change in cash is booked into
    this month's ``flows`` (``FLOW_SIGNS``): by ``book``, or on the monthly paths (``settle``,
    ``finance_capex``, interest and repayment) by the same two updates written out.
    """

    stage = ""
    inventory_cost = 0.0  # $ unsold output at cost (refiners hold inventory, mines none)

    def __init__(
        self, model: BlocModel, code: str, role: Role, defaults: Defaults, initial_price: float,
        firm: Firm | None = None, share: float = 1.0,
    ) -> None:
        super().__init__(model)
        self.code = code
        self.segment = model.segment_of(code)  # the market segment of its country (fixed for the run)
        self.group = model.group_of(code)  # member, dominant or other (fixed for the run)
        self.role = role
        self.defaults = defaults
        fin = model.config.finance
        self.fin = fin
        self.firm = firm.name if firm else f"{code} {self.stage}"
        self.state_group = bool(firm and firm.state)
        self.tranches: list[list[float]] = [[role.capacity * share * s, c] for s, c in role.tranches]
        self.fixed_rate = role.fixed_cost  # $/kg of monthly capacity, per month (capacity-weighted)
        self.pipeline: deque[tuple[int, float]] = deque()  # (arrival month, t/month) -- kept for compatibility
        self.status = ACTIVE if self.capacity > 0 else CLOSED
        self.expected_price = initial_price  # exponentially weighted realised price, $/kg
        self.mothballed_months = 0
        self.exits = 0  # times this plant went offline (mothballed or closed)
        self.sold = 0.0  # t this month
        self.revenue = 0.0  # $ this month
        self.subsidy = 0.0  # $ this month (CfD payments, negative when paying back)
        self.sold_bloc = 0.0  # t sold into the bloc segment this month
        self.bloc_sales_share = 0.0  # moving average of the share of sales delivered into the bloc
        self.strategies: list = []  # seller strategies (agents.strategies), applied in order
        self.planner = False  # kept for compatibility; the dominant supplier follows its quota policy
        self._variable_cost = 0.0  # $ this month
        self.variable_cost_month = 0.0  # $ this month, booked at settlement
        self.sales_trend = self.capacity * defaults.initial_utilisation  # t/month, moving average of sales
        self.ramps: list[list[float]] = []  # [first month, t/month, ramp months]: capacity still ramping up
        # ---- balance sheet
        full_fixed = self.fixed_cost_per_month(full=True)
        capex_rate = fin.capex_mining if self.stage == "concentrate" else fin.capex_refining
        self.cost_of_capital = fin.cost_of_capital if not firm or firm.cost_of_capital < 0 else firm.cost_of_capital
        self.interest_rate = fin.interest_rate if not firm or firm.interest_rate < 0 else firm.interest_rate
        self.cash = fin.credit_months * full_fixed if not firm or firm.cash < 0 else firm.cash
        self.debt = firm.debt if firm else 0.0
        self.fixed_assets = (
            0.5 * capex_rate * self.capacity if not firm or firm.fixed_assets < 0 else firm.fixed_assets
        )
        self.debt_share = fin.debt_share if not firm or firm.debt_share < 0 else firm.debt_share
        self.debt_term = fin.debt_term_months if not firm or firm.debt_term_months < 1 else firm.debt_term_months
        self.backing = role.backing * share if not firm or firm.backing < 0 else firm.backing
        self._credit_line = -1.0 if not firm else firm.credit_line
        self.cash_target = self.cash  # opening liquidity: the firm's revealed cash target
        self.flows = NO_FLOWS.copy()
        self.cash_open = self.cash
        self.month_flows = dict(self.flows)  # last completed month's flows (after ``clear_month``)
        self.month_cash_open = self.cash
        self.capitalised_interest = 0.0  # $ of interest added to debt while building (no cash)
        self.written_off = 0.0  # $ of debt and credit lost by lenders when the plant closed insolvent

    # ---------------------------------------------------------------- state
    @property
    def tranches(self) -> list[list[float]]:
        """Capacity in cost tranches ``[t/month, cash cost $/kg]``, cheapest first.

        ``capacity`` (installed, t/month: mothballed plants keep it, closed ones lose it) is their
        sum; it, ``unit_cost()`` and ``marginal_cost()`` are kept up to date: code that changes a
        tranche in place calls ``_tranches_changed()`` (``add_capacity``, ``_close``); assigning a
        new list does it.
        """
        return self._tranches

    @tranches.setter
    def tranches(self, value: list[list[float]]) -> None:
        self._tranches = value
        self._tranches_changed()

    def _tranches_changed(self) -> None:
        tranches, role = self._tranches, self.role
        cap = self.capacity = sum(q for q, _ in tranches)
        self._unit_cost = sum(q * c for q, c in tranches) / cap if cap > 0 else role.marginal_cost
        self._marginal_cost = max((c for q, c in tranches if q > 1e-9), default=role.marginal_cost)

    @property
    def online_capacity(self) -> float:
        return self.capacity if self.status == ACTIVE else 0.0

    def available_capacity(self) -> float:
        """On-line capacity net of what is still ramping up, t/month (ramps that are done are dropped:
        their capacity is all available, their terms in the sum were 0)."""
        if self.status != ACTIVE:
            return 0.0
        if self.ramps:
            self.ramps = [r for r in self.ramps if self.ramp_progress(r) < 1.0]
        if not self.ramps:  # nothing ramping up: skip the (empty) sum
            return max(0.0, self.capacity)
        return max(0.0, self.capacity - sum(cap * (1.0 - self.ramp_progress(r)) for r in self.ramps
                                            for cap in (r[1],)))

    def ramp_progress(self, ramp: list[float]) -> float:
        start, _, months = ramp
        t = self.model.month - start
        return min(1.0, max(self.fin.ramp_start, self.fin.ramp_start + (1.0 - self.fin.ramp_start) * t / months))

    @property
    def member(self) -> bool:
        return self.code in self.model.authority.members

    def unit_cost(self) -> float:
        """Capacity-weighted cash cost, $/kg (the role's marginal cost without capacity)."""
        return self._unit_cost

    def marginal_cost(self) -> float:
        """Cash cost of the dearest tranche with capacity, $/kg (the role's without capacity)."""
        return self._marginal_cost

    def fixed_cost_per_month(self, full: bool = False) -> float:
        base = self.fixed_rate * self.capacity * KG
        if full or self.status == ACTIVE:
            return base
        if self.status == MOTHBALLED:
            return base * self.defaults.mothball_cost_share
        return 0.0

    @property
    def net_worth(self) -> float:
        """Cash + inventory at cost + fixed assets - debt, $."""
        return self.cash + self.inventory_cost + self.fixed_assets - self.debt

    @property
    def credit_line(self) -> float:
        """Most the plant may overdraw: its facility (or months of fixed cost), inventory and fixed
        assets as collateral, and state backing, $."""
        base = (self.fin.credit_months * self.fixed_cost_per_month(full=True)
                if self._credit_line < 0 else self._credit_line)
        return (base + self.fin.inventory_collateral * self.inventory_cost
                + self.fin.asset_collateral * self.fixed_assets + self.backing)

    # ---------------------------------------------------------------- money
    def book(self, flow: str, amount: float) -> None:
        """Record a cash flow (``amount`` >= 0 in the direction of ``FLOW_SIGNS[flow]``)."""
        self.flows[flow] += amount
        self.cash += FLOW_SIGNS[flow] * amount

    def cash_change(self, flows: dict[str, float] | None = None) -> float:
        """Sum of the recorded flows with their signs, $ (equals the change in cash)."""
        flows = self.flows if flows is None else flows
        return sum(FLOW_SIGNS[k] * v for k, v in flows.items())

    def finance_capex(self, amount: float) -> None:
        """Pay capex as built, financed by new debt and new equity (``[finance].debt_share``)."""
        if amount <= 0:
            return
        debt = self.debt_share * amount
        equity = (1.0 - self.debt_share) * amount
        # the three ``book`` calls, in their order (cash: - capex + new debt + new equity)
        flows = self.flows
        flows["capex"] += amount
        flows["new_debt"] += debt
        flows["new_equity"] += equity
        self.cash = self.cash - amount + debt + equity
        self.debt += debt
        self.fixed_assets += amount

    def _service_and_pay_out(self) -> None:
        """Interest, debt repayment, depreciation, dividends (a month)."""
        closed, cap = self.status == CLOSED, self.capacity
        if closed and cap <= 0 and self.inventory_cost <= 0 and self.debt <= 0:
            return  # gone, or not yet built and unfinanced: its books are frozen
        r = self.interest_rate / 12.0
        fin = self.fin
        if cap <= 0 and closed:
            # greenfield under construction: interest is capitalised (added to debt and to the
            # asset's cost, no cash), repayment starts at first output (project-finance practice)
            self.debt += r * self.debt
            self.fixed_assets += r * self.debt
            self.capitalised_interest += r * self.debt
        else:
            interest = r * (self.debt + max(0.0, -self.cash))
            self.flows["interest"] += interest  # ``book``, inlined (as below)
            self.cash -= interest
            repay = min(self.debt, self.debt / self.debt_term) if self.debt > 0 else 0.0
            if repay > 0:
                self.flows["repayment"] += repay
                self.cash -= repay
                self.debt -= repay
        self.fixed_assets -= self.fixed_assets / fin.asset_life_months
        if self.status == ACTIVE:
            ample = max(self.cash_target, fin.dividend_months * self.fixed_cost_per_month(full=True))
            if self.cash > ample and self.net_worth > 0:
                self.book("dividends", fin.payout * (self.cash - ample))

    # ------------------------------------------------------------ decisions
    def market_price(self) -> float:
        """This month's price of the plant's output in its own segment, $/kg."""
        return self.model.last_price("concentrate", self.segment)

    def netback(self) -> float:
        """What the plant earned per kg sold this month over all segments, $/kg (NaN if it sold nothing)."""
        return self.revenue / (self.sold * KG) if self.sold > 1e-9 else math.nan

    def realised_price(self) -> float:
        """What the plant earned per kg this month (its netback over all segments), or its
        home segment's price if it sold nothing, $/kg."""
        return self.netback() if self.sold > 1e-9 else self.market_price()

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
        """Book this month's operating cash flow: sales + CfD - variable and fixed costs."""
        self.variable_cost_month = variable_cost
        revenue, subsidy = self.revenue, self.subsidy
        if self.status == CLOSED and not (revenue or subsidy or variable_cost):
            return  # a closed plant that sold and bought nothing has nothing to book (no fixed cost)
        fixed = self.fixed_cost_per_month()
        # the four ``book`` calls, in their order (cash: + revenue + subsidy - variable - fixed)
        flows = self.flows
        flows["revenue"] += revenue
        flows["subsidy"] += subsidy
        flows["variable_cost"] += variable_cost
        flows["fixed_cost"] += fixed
        self.cash = self.cash + revenue + subsidy - variable_cost - fixed

    def decide(self) -> None:
        """Finance (interest, repayment, dividends), then exit, mothballing, restart and closure.

        - insolvent (net worth below minus state backing): the plant closes, its capacity is gone;
        - illiquid (cash below minus its credit line) or expected price below its cash cost by more
          than the exit band: it mothballs (a one-off cost; a share of fixed cost goes on);
        - mothballed: restarts after ``restart_delay`` months if the expected price clears its cash
          cost by the entry band and it can pay the restart cost within its credit line (no reset of
          cash); closes after ``close_after`` months.
        Investment is by projects (``agents.projects``) and, for the dominant supplier's state
        groups, its quota policy (``agents.dominant``).
        """
        self._service_and_pay_out()
        fin = self.fin
        if self.status == CLOSED:
            return
        if self.net_worth < -self.backing and self.capacity > 0:
            self._close()
            return
        expected = self.investment_price()
        if self.status == ACTIVE:
            uneconomic = not self.state_group and expected < self.unit_cost() * (1.0 - fin.exit_band)
            # illiquid: overdrawn beyond its credit line (a credit line is never negative, so a plant
            # with cash in hand is liquid)
            if uneconomic or (self.cash < 0.0 and self.cash < -self.credit_line):
                self.status = MOTHBALLED
                self.mothballed_months = 0
                self.exits += 1
                self.book("mothball_cost", fin.mothball_cost_months * self.fixed_cost_per_month(full=True))
                self.model.record_exit(self)
        elif self.status == MOTHBALLED:
            self.mothballed_months += 1
            cost = fin.restart_cost_months * self.fixed_cost_per_month(full=True)
            if (
                self.mothballed_months >= fin.restart_delay
                and expected > self.marginal_cost() * (1.0 + fin.entry_band)
                and self.cash - cost > -self.credit_line
            ):
                self.status = ACTIVE
                self.book("restart_cost", cost)
                self.ramps = [[self.model.month + 1, self.capacity, max(1, fin.ramp_months // 2)]]
            elif self.mothballed_months >= fin.close_after:
                self._close()

    def _close(self) -> None:
        """Close for good: capacity gone (unsold inventory may still be sold)."""
        if self.status == ACTIVE:
            self.exits += 1
            self.model.record_exit(self)
        self.status = CLOSED
        for tr in self.tranches:
            tr[0] = 0.0
        self._tranches_changed()
        self.ramps = []
        self.fixed_assets = 0.0  # written off
        if self.net_worth < 0:  # insolvent: lenders lose what the inventory does not cover
            lost = self.debt + max(0.0, -self.cash)
            self.written_off += lost
            self.book("write_off", max(0.0, -self.cash))
            self.debt = 0.0

    def investment_price(self) -> float:
        """Price the plant plans on: its expectation, raised where an instrument covers its sales."""
        return self.model.authority.guaranteed_price(self, self.expected_price)

    def add_capacity(self, amount: float, cash_cost: float, fixed_rate: float, ramp_months: int) -> None:
        """New capacity from a project (or a quota expansion): a tranche at its cash cost, ramping up."""
        if amount <= 0:
            return
        cap = self.capacity
        self.fixed_rate = (self.fixed_rate * cap + fixed_rate * amount) / (cap + amount)
        for tr in self.tranches:
            if abs(tr[1] - cash_cost) < 1e-9:
                tr[0] += amount
                break
        else:
            self.tranches.append([amount, cash_cost])
            self.tranches.sort(key=lambda t: t[1])
        self._tranches_changed()
        if ramp_months > 0:
            self.ramps.append([self.model.month + 1, amount, ramp_months])
        if self.status == CLOSED:
            self.status = ACTIVE
            self.mothballed_months = 0

    def planned_output(self) -> float:
        """Output a plant ramping up plans for: design utilisation of its ramped capacity, t/month
        (0 when nothing is ramping up)."""
        available = self.available_capacity()  # drops the ramps that are done
        return self.fin.design_utilisation * available if self.ramps else 0.0

    def clear_month(self) -> None:
        """Reset this month's flows (after the recorder has read them)."""
        self.sold = self.revenue = self.subsidy = self.sold_bloc = self.variable_cost_month = 0.0
        self.month_flows, self.month_cash_open = self.flows, self.cash_open
        self.flows = NO_FLOWS.copy()
        self.cash_open = self.cash


class ProducerState(Plant):
    """A country's mines: offers concentrate at cash cost, tranche by tranche."""

    stage = "concentrate"

    def offers(self) -> list[Quote]:
        if self.status != ACTIVE:
            return []
        cap = self.capacity
        scale = self.available_capacity() / cap if cap > 0 else 0.0
        return [Quote(self, q * scale, c, tag=i) for i, (q, c) in enumerate(self.tranches) if q * scale > 1e-9]

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

    def __init__(self, model, code, role, defaults, initial_price, firm=None, share=1.0):
        mk = model.config.market
        margin = initial_price - mk.initial_concentrate_price / mk.refining_yield
        super().__init__(model, code, role, defaults, margin, firm, share)
        self.expected_sales = self.capacity * defaults.initial_utilisation  # t/month
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
        # planned output: expected sales, or (ramping up) design utilisation of the ramped capacity
        se = max(self.expected_sales, self.planned_output())
        d = self.defaults
        want = se + 0.5 * (d.refiner_inventory_target * se - self.inventory)
        cap = self.available_capacity() if self.ramps else cap
        want = min(cap, max(want, 0.0 if se > 0 else d.idle_bid_share * cap))  # an idle plant tries a share
        scale = want / self.capacity if self.capacity > 0 else 0.0
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
        conc = self.model.concentrate.prices[self.segment]
        if conc != conc:
            conc = self.model.last_price("concentrate", self.segment)
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

    def feed_cost(self) -> float:
        """The concentrate in a kg of oxide at its segment's last concentrate price, $/kg."""
        return self.model.last_price("concentrate", self.segment) / self.model.config.market.refining_yield

    def market_price(self) -> float:
        """Processing margin in its segment: oxide price less the concentrate in it, $/kg."""
        return self.model.last_price("refined", self.segment) - self.feed_cost()

    def realised_price(self) -> float:
        """Processing margin realised: oxide netback less the concentrate in it, $/kg."""
        return self.netback() - self.feed_cost() if self.sold > 1e-9 else self.market_price()

    def investment_price(self) -> float:
        """Expected processing margin, raised where an instrument covers the oxide price."""
        conc = self.feed_cost()
        return self.model.authority.guaranteed_price(self, self.expected_price + conc) - conc

    def finish_month(self) -> None:
        self.settle(self.conc_spend + self.processing_spend)
        d = self.defaults
        self.expected_sales += (self.sold - self.expected_sales) / d.refiner_sales_memory
        price = self.netback() if self.sold > 1e-9 else self.model.refined.prices[self.segment]
        if price == price:
            self.price_expect += (price - self.price_expect) / d.refiner_price_memory

    def clear_month(self) -> None:
        super().clear_month()
        self.intake = self.output = self.conc_spend = self.processing_spend = 0.0
