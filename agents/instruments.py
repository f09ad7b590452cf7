"""The bloc's floor instruments, each a pluggable class registered by name in ``INSTRUMENTS``.

Each follows the real scheme it is named after (``docs/model.md``):

- ``levy`` -- a variable import levy like the EU's threshold-price system:
  ``levy = max(0, F - P_ref)`` per kg on all non-member supply into the bloc,
  where ``P_ref`` is the reference landed price of non-member supply (last
  month's rest-of-world price plus transport). Zero when that price is at or
  above F, so nothing is levied in a shortage; cheaper non-member supply keeps
  its cost advantage below the threshold.
- ``cfd`` -- a contract for difference on oxide delivered into the bloc by
  member separation plants: the authority pays ``F - p`` when the bloc price
  ``p`` is below the strike F and receives ``upside_share x (p - F)`` above it
  (1 = two-sided, as the UK's CfDs; 0.3 = the DoD-MP contract), on at most
  ``cfd_volume_share`` of bloc reference demand a month, for ``cfd_term_months``.
  Not paid on exports, not on concentrate.
- ``buffer`` -- an open-market buffer stock like the International Tin
  Agreement's: it bids F in the bloc for whatever is offered, from anyone,
  while its fund lasts, sells at ``buffer_ceiling_ratio x F``, and pays
  storage; when the fund is spent the floor fails. Storage is still paid on the stock
  held after that, so the fund goes negative: the debt the ITA's buffer stock manager
  ran up in 1985.
- ``procurement`` -- joint procurement (0.1.0's "buffer"): the authority buys
  member supply at F in a reserve segment only members may deliver to, up to
  a stock target, and releases it above ``procurement_release_ratio x F``.

An instrument also states what it guarantees a plant (``guarantee``): the
share of the plant's expected sales it covers and the price it secures there,
which plants use in their price expectations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.producers import KG, Quote

if TYPE_CHECKING:
    from agents.authority import BlocAuthority
    from agents.producers import Plant

BUY, SELL = 0, 1


class Instrument:
    """Base class: an instrument that does nothing."""

    name = ""
    needs_reserve = False  # whether it uses the members-only reserve segment

    def __init__(self, authority: BlocAuthority) -> None:
        self.auth = authority
        self.model = authority.model
        self.params = self.model.config.bloc

    def levy(self, stage: str) -> float:
        """Import levy per kg on non-member supply into the bloc, $/kg."""
        return 0.0

    def covered_volume(self, plant: Plant) -> float:
        """Volume of the plant's bloc deliveries this instrument covers this month, t."""
        return 0.0

    def on_covered_sale(self, plant: Plant, quantity: float, price: float) -> None:
        """A covered quantity was delivered into the bloc at ``price``."""

    def quotes(self, stage: str, bloc_demand: float) -> tuple[list[tuple[Quote, int]], list[Quote]]:
        """(bids with their segment, offers) the instrument itself places this month."""
        return [], []

    def guarantee(self, plant: Plant) -> tuple[float, float]:
        """(share of the plant's expected sales covered, price secured there, $/kg)."""
        return 0.0, 0.0

    def close_month(self) -> None:
        """End-of-month bookkeeping (storage costs)."""

    # booking of the instrument's own trades
    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        raise NotImplementedError

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        raise NotImplementedError


class Levy(Instrument):
    """Variable import levy (EU threshold-price system)."""

    name = "levy"

    def levy(self, stage: str) -> float:
        floor = self.auth.floor_for(stage)
        if floor <= 0:
            return 0.0
        mk = self.model.config.market
        seg = self.model.segments
        world = self.model.last_price(stage, seg.world)
        transport = mk.transport_refined if stage == "refined" else mk.transport_concentrate
        return max(0.0, floor - (world + transport))

    def guarantee(self, plant: Plant) -> tuple[float, float]:
        floor = self.auth.floor_for(plant.stage)
        if floor <= 0 or not plant.member:
            return 0.0, 0.0
        return plant.bloc_sales_share, floor  # a levy protects bloc sales only


class CfD(Instrument):
    """Contract for difference on oxide delivered into the bloc."""

    name = "cfd"

    def in_term(self) -> bool:
        return self.model.month < self.params.cfd_term_months

    def allowance(self) -> float:
        """Covered volume for all members this month, t."""
        return self.params.cfd_volume_share * self.model.bloc_reference_demand() if self.in_term() else 0.0

    def covered_volume(self, plant: Plant) -> float:
        if plant.stage != "refined" or not plant.member or not self.in_term():
            return 0.0
        cap = sum(p.online_capacity for p in self.model.refiners if p.member)
        return self.allowance() * plant.online_capacity / cap if cap > 0 else 0.0

    def on_covered_sale(self, plant: Plant, quantity: float, price: float) -> None:
        strike = self.auth.floor
        per_kg = strike - price if price < strike else -self.params.cfd_upside_share * (price - strike)
        pay = per_kg * quantity * KG
        plant.subsidy += pay
        self.auth.flows["cfd_paid"] += pay

    def guarantee(self, plant: Plant) -> tuple[float, float]:
        if plant.stage != "refined" or not plant.member or not self.in_term():
            return 0.0, 0.0
        expected = max(plant.sales_trend, 1e-9)
        return min(1.0, self.covered_volume(plant) / expected), self.auth.floor


class Buffer(Instrument):
    """Open-market buffer stock with a finite fund (International Tin Agreement)."""

    name = "buffer"

    def __init__(self, authority: BlocAuthority) -> None:
        super().__init__(authority)
        self.fund = self.params.buffer_fund  # $ left to buy with
        self.stock = 0.0  # t
        self.stock_cost = 0.0  # $ book value

    @property
    def ceiling(self) -> float:
        return self.auth.floor * self.params.buffer_ceiling_ratio

    def quotes(self, stage: str, bloc_demand: float) -> tuple[list[tuple[Quote, int]], list[Quote]]:
        if stage != "refined":
            return [], []
        bloc = self.model.segments.bloc
        floor = self.auth.floor
        bids = []
        affordable = self.fund / (floor * KG) if floor > 0 else 0.0
        if affordable > 1e-9:
            bids.append((Quote(self, affordable, floor, BUY), bloc))
        offers = [Quote(self, self.stock, self.ceiling, SELL, only_segment=bloc)] if self.stock > 1e-9 else []
        return bids, offers

    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        cost = quantity * price * KG
        self.stock += quantity
        self.stock_cost += cost
        self.fund -= cost
        self.auth.flows["buffer_spend"] += cost
        self.auth.flows["buffer_bought"] += quantity

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        unit = self.stock_cost / self.stock if self.stock > 0 else 0.0
        self.stock = max(0.0, self.stock - quantity)
        self.stock_cost = max(0.0, self.stock_cost - unit * quantity)
        self.fund += quantity * price * KG
        self.auth.flows["buffer_income"] += quantity * price * KG
        self.auth.flows["buffer_sold"] += quantity

    def close_month(self) -> None:
        cost = self.stock * self.params.buffer_storage_cost * KG
        self.fund -= cost
        self.auth.flows["storage_cost"] += cost

    def guarantee(self, plant: Plant) -> tuple[float, float]:
        if plant.stage != "refined" or self.auth.floor <= 0:
            return 0.0, 0.0
        year = 12.0 * self.model.bloc_reference_demand() * self.auth.floor * KG
        return (min(1.0, max(0.0, self.fund) / year) if year > 0 else 0.0), self.auth.floor


class Procurement(Instrument):
    """Joint procurement of member supply into a stock, released above a trigger."""

    name = "procurement"
    needs_reserve = True

    def __init__(self, authority: BlocAuthority) -> None:
        super().__init__(authority)
        self.stock = 0.0
        self.stock_cost = 0.0

    def purchase(self, bloc_demand: float) -> float:
        p = self.params
        if self.stock >= p.procurement_target_months * bloc_demand:
            return 0.0
        room = p.procurement_max_months * bloc_demand - self.stock
        return max(0.0, min(p.procurement_purchase_share * bloc_demand, room))

    def quotes(self, stage: str, bloc_demand: float) -> tuple[list[tuple[Quote, int]], list[Quote]]:
        if stage != "refined":
            return [], []
        seg = self.model.segments
        p = self.params
        want = self.purchase(bloc_demand)
        bids = [(Quote(self, want, self.auth.floor, BUY), seg.reserve)] if want > 1e-9 else []
        offers = []
        if self.stock > 1e-9:
            ask = self.auth.floor * p.procurement_release_ratio
            offers.append(Quote(self, self.stock * p.procurement_release_share, ask, SELL, only_segment=seg.bloc))
        return bids, offers

    def on_bought(self, tag: int, quantity: float, price: float) -> None:
        self.stock += quantity
        self.stock_cost += quantity * price * KG
        self.auth.flows["procurement_spend"] += quantity * price * KG

    def on_sold(self, tag: int, quantity: float, price: float) -> None:
        unit = self.stock_cost / self.stock if self.stock > 0 else 0.0
        self.stock = max(0.0, self.stock - quantity)
        self.stock_cost = max(0.0, self.stock_cost - unit * quantity)
        self.auth.flows["procurement_income"] += quantity * price * KG

    def close_month(self) -> None:
        cost = self.stock * self.params.buffer_storage_cost * KG
        self.auth.flows["storage_cost"] += cost

    def guarantee(self, plant: Plant) -> tuple[float, float]:
        if plant.stage != "refined" or not plant.member:
            return 0.0, 0.0
        cap = sum(p.online_capacity for p in self.model.refiners if p.member)
        want = self.purchase(self.model.bloc_reference_demand())
        return (min(1.0, want / cap) if cap > 0 else 0.0), self.auth.floor


INSTRUMENTS: dict[str, type[Instrument]] = {cls.name: cls for cls in (Levy, CfD, Buffer, Procurement)}


def _register_contracts() -> None:
    """Firm-level and concessionary instruments (``agents.contracts``: ``dod_mp``, ``concessional``)."""
    from agents.contracts import CONTRACTS

    INSTRUMENTS.update(CONTRACTS)


_register_contracts()
