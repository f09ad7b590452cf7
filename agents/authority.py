"""BlocAuthority: the bloc's members, its price floor F, its instruments and its budget.

The instruments themselves are pluggable classes in ``agents.instruments``
(``levy``, ``cfd``, ``buffer``, ``procurement``); the authority holds them,
answers the market's questions by asking each (the levy per kg, the volume a
CfD covers, the authority's own bids and offers), and keeps the budget:
monthly flows (``flows``), their totals, and their present value at the
scenario's ``discount_rate`` (``discounted``).

The net fiscal cost of a month is ``cfd_paid + buffer_spend - buffer_income
+ procurement_spend - procurement_income + storage_cost + finance_cost - levy_revenue``
(CfD paybacks above the strike enter ``cfd_paid`` as negative payments).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from agents.instruments import INSTRUMENTS, Instrument

if TYPE_CHECKING:
    from agents.producers import Plant
    from model.model import BlocModel

FLOWS = (
    "levy_revenue",
    "cfd_paid",
    "buffer_spend",
    "buffer_income",
    "buffer_bought",
    "buffer_sold",
    "procurement_spend",
    "procurement_income",
    "storage_cost",
    "finance_cost",
)


def net_fiscal(flows: dict[str, float]) -> float:
    """Net fiscal cost of a set of budget flows, $ (see the module docstring)."""
    return (
        flows["cfd_paid"]
        + flows["buffer_spend"]
        - flows["buffer_income"]
        + flows["procurement_spend"]
        - flows["procurement_income"]
        + flows["storage_cost"]
        + flows["finance_cost"]
        - flows["levy_revenue"]
    )


class BlocAuthority(mesa.Agent):
    """The bloc's authority: membership, floor, instruments, budget."""

    def __init__(self, model: BlocModel, members: tuple[str, ...], floor: float, instruments: frozenset[str]) -> None:
        super().__init__(model)
        self.members = frozenset(members)
        self.floor = floor if members and instruments else 0.0
        names = sorted(instruments) if self.floor > 0 else []
        self.instruments: list[Instrument] = [INSTRUMENTS[n](self) for n in names]
        self.names = frozenset(names)
        self.reset_flows()
        self.totals = {k: 0.0 for k in FLOWS}
        self.fiscal_pv = 0.0  # present value of the net fiscal cost so far, $
        self.applied_levy = {"concentrate": 0.0, "refined": 0.0}  # $/kg levied this month

    @property
    def needs_reserve(self) -> bool:
        return any(i.needs_reserve for i in self.instruments)

    def reset_flows(self) -> None:
        self.flows = dict.fromkeys(FLOWS, 0.0)

    def close_month(self) -> None:
        for inst in self.instruments:
            inst.close_month()
        for k, v in self.flows.items():
            self.totals[k] += v
        r = self.model.config.market.discount_rate
        self.fiscal_pv += net_fiscal(self.flows) / (1.0 + r) ** (self.model.month / 12.0)

    # ------------------------------------------------------------ the floor
    def floor_for(self, stage: str) -> float:
        """The floor price of a stage, $/kg (0 = none; concentrate only if the scenario sets a ratio)."""
        if self.floor <= 0:
            return 0.0
        return self.floor if stage == "refined" else self.floor * self.model.config.market.concentrate_floor_ratio

    def levy(self, stage: str) -> float:
        """Import levy per kg on non-member supply into the bloc this month, $/kg."""
        return sum(i.levy(stage) for i in self.instruments)

    def covered_volume(self, plant: Plant) -> float:
        """What of a member plant's bloc deliveries a CfD covers this month, t."""
        return sum(i.covered_volume(plant) for i in self.instruments)

    def on_covered_sale(self, plant: Plant, quantity: float, price: float) -> None:
        for i in self.instruments:
            i.on_covered_sale(plant, quantity, price)

    def collect_levy(self, levy: float, quantity: float) -> None:
        self.flows["levy_revenue"] += levy * quantity * 1000.0

    def quotes(self, stage: str, bloc_demand: float):
        """(bids with segments, offers) of the authority's own stocks."""
        bids, offers = [], []
        for i in self.instruments:
            b, o = i.quotes(stage, bloc_demand)
            bids += b
            offers += o
        return bids, offers

    def guaranteed_price(self, plant: Plant, expected: float) -> float:
        """The plant's expected price once the instruments' guarantees are counted, $/kg.

        Each instrument covers a share s of the plant's sales at a price G:
        ``expected' = s x max(expected, G) + (1 - s) x expected`` (shares capped at 1 in all).
        """
        out, left = 0.0, 1.0
        for i in self.instruments:
            share, price = i.guarantee(plant)
            share = min(share, left)
            if share > 0:
                out += share * max(expected, price)
                left -= share
        return out + left * expected

    # ------------------------------------------------------------ stocks
    @property
    def stock(self) -> float:
        """Refined product held by the authority (buffer + procurement), t."""
        return sum(getattr(i, "stock", 0.0) for i in self.instruments)

    @property
    def stock_cost(self) -> float:
        """Book value of that stock, $."""
        return sum(getattr(i, "stock_cost", 0.0) for i in self.instruments)
