"""BlocAuthority: the bloc's members, its price floor and the floor's instruments.

This is where a floor acts:
- ``levy``: ``levy_adder`` lifts the landed price of non-member supply into
  the bloc to the floor: levy = max(0, F - ask - transport);
- ``cfd``: ``member_ask`` lets covered members sell at any price (their
  revenue is topped up to F) and ``pay_cfd`` pays ``max(0, F - p)`` per kg;
- ``buffer``: ``buffer_quotes`` bids F for member supply into a joint stock
  (a reserve segment only members can deliver to) and offers the stock back
  into the bloc above ``release_ratio x F``.
The floor on concentrate is ``concentrate_floor_ratio x F``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from agents.producers import KG, Quote

if TYPE_CHECKING:
    from model.model import BlocModel

INSTRUMENTS = ("levy", "cfd", "buffer")
BUY, SELL = 0, 1


class BlocAuthority(mesa.Agent):
    """The bloc's authority: membership, floor, instruments, budget and joint stock."""

    def __init__(self, model: BlocModel, members: tuple[str, ...], floor: float, instruments: frozenset[str]) -> None:
        super().__init__(model)
        self.members = frozenset(members)
        self.floor = floor if members and instruments else 0.0
        self.instruments = instruments if self.floor > 0 else frozenset()
        self.stock = 0.0  # t refined in the joint stockpile
        self.stock_cost = 0.0  # $ book value
        self.reset_flows()
        self.totals = {k: 0.0 for k in self.flows}

    def reset_flows(self) -> None:
        self.flows = {
            "levy_revenue": 0.0,
            "cfd_paid": 0.0,
            "buffer_spend": 0.0,
            "buffer_income": 0.0,
            "buffer_bought": 0.0,
            "buffer_sold": 0.0,
        }

    def close_month(self) -> None:
        for k, v in self.flows.items():
            self.totals[k] += v

    # ------------------------------------------------------------ the floor
    def floor_for(self, stage: str) -> float:
        """The floor price of a stage, $/kg (0 = none)."""
        if self.floor <= 0:
            return 0.0
        return self.floor if stage == "refined" else self.floor * self.model.config.market.concentrate_floor_ratio

    def member_ask(self, seller, cost: float) -> float:
        """A member covered by a CfD sells at any price when the floor covers its cost."""
        if "cfd" in self.instruments and seller.code in self.members and self.floor_for(seller.stage) >= cost:
            return 0.0
        return cost

    def levy_adder(self, stage: str, ask: float, transport: float) -> float:
        """Import levy on a non-member tranche into the bloc, $/kg."""
        if "levy" not in self.instruments:
            return 0.0
        return max(0.0, self.floor_for(stage) - ask - transport)

    def collect_levy(self, levy: float, quantity: float) -> None:
        self.flows["levy_revenue"] += levy * quantity * KG

    def pay_cfd(self, seller, quantity: float, price: float) -> None:
        """Top a covered member's sale up to the floor."""
        if "cfd" not in self.instruments or seller.code not in self.members:
            return
        top = max(0.0, self.floor_for(seller.stage) - price) * quantity * KG
        seller.subsidy += top
        self.flows["cfd_paid"] += top

    # ------------------------------------------------------- joint stockpile
    def buffer_quotes(self, bloc_demand: float) -> tuple[list[Quote], list[Quote]]:
        """(bids into the reserve segment, offers into the bloc) of the buffer stock."""
        if "buffer" not in self.instruments:
            return [], []
        p = self.model.config.bloc
        room = p.buffer_max_months * bloc_demand - self.stock
        want = min(p.buffer_purchase_share * bloc_demand, room)
        if self.stock >= p.buffer_target_months * bloc_demand:
            want = 0.0  # target reached: buy only to defend the floor below it
        bids = [Quote(self, want, self.floor, BUY)] if want > 1e-9 else []
        offers = []
        if self.stock > 1e-9:
            offers.append(Quote(self, self.stock * p.buffer_release_share, self.floor * p.buffer_release_ratio, SELL))
        return bids, offers

    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        self.stock += quantity
        self.stock_cost += quantity * price * KG
        self.flows["buffer_spend"] += quantity * price * KG
        self.flows["buffer_bought"] += quantity

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        unit = self.stock_cost / self.stock if self.stock > 0 else 0.0
        self.stock = max(0.0, self.stock - quantity)
        self.stock_cost = max(0.0, self.stock_cost - unit * quantity)
        self.flows["buffer_income"] += quantity * price * KG
        self.flows["buffer_sold"] += quantity
