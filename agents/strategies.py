"""Seller strategies: pluggable policies of a producing role.

A plant's competitive offers (cash cost, tranche by tranche) are passed
through its strategies in turn; each may reshape the offers (``shape``) and
cap what the seller sends to a segment (``caps``). A plant without strategies
sells competitively: its offers as they are, no caps (``SellerStrategy``'s
methods, which a strategy overrides). The dominant supplier uses them to act
strategically:

- ``ExportControls``: caps per foreign segment from scheduled events -- a ban
  caps the target segments at zero, a quota at a share of the seller's average
  exports to each over the 12 months before the quota, a licence regime at
  nothing for ``delay`` months and then at a randomly approved share of them;
- ``Dumping``: limit pricing into the bloc -- offers part of its stock into
  the bloc segment only, below its own cost, while rivals survive and the
  loss budget lasts.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from agents.producers import KG, Quote

if TYPE_CHECKING:
    from agents.dominant import DominantStrategy
    from agents.producers import Plant
    from model.scenario import Dumping as DumpingParams
    from model.scenario import Event

DUMP_TAG = 99


class SellerStrategy:
    """Base class: leave offers as they are, no caps (what a plant without strategies does)."""

    name = "competitive"

    def update(self, plant: Plant) -> None:
        """Called once a month before the markets open."""

    def shape(self, plant: Plant, quotes: list[Quote]) -> list[Quote]:
        return quotes

    def caps(self, plant: Plant) -> dict[int, float]:
        return {}

    def observe(self, plant: Plant, exports: dict[int, float]) -> None:
        """Called after clearing with what the plant sold into each segment (t)."""

    def on_sold(self, plant: Plant, tag: int, quantity: float, price: float) -> None:
        """Called for each sale of a quote this strategy made (``Quote.owner``)."""


class ExportControls(SellerStrategy):
    """Export bans and quotas from the scenario's events (and the dominant supplier's retaliation).

    One instance is shared by all of a country's plants of a stage: the quota base is the
    country's exports, and the cap applies to the country (the clearing caps by seller code).
    """

    name = "export_controls"

    def __init__(self, events: tuple[Event, ...]) -> None:
        self.events = tuple(e for e in events if e.is_control)
        self.history: dict[int, deque[float]] = {}
        self._month = -1
        self._current: dict[int, float] = {}
        self.quota_base: dict[tuple[int, int], float] = {}  # (event index, segment) -> t/month
        self.approvals: dict[tuple[int, int, int], float] = {}  # (event, segment, month) -> approved share

    def add_event(self, event: Event) -> None:
        self.events = (*self.events, event)

    def observe(self, plant: Plant, exports: dict[int, float]) -> None:
        month = plant.model.month
        if month != self._month:
            self._flush()
            self._month = month
        for k in plant.model.segments.foreign(plant.model.segment_of(plant.code)):
            self._current[k] = self._current.get(k, 0.0) + exports.get(k, 0.0)

    def _flush(self) -> None:
        for k, v in self._current.items():
            self.history.setdefault(k, deque(maxlen=12)).append(v)
        self._current = {}

    def caps(self, plant: Plant) -> dict[int, float]:
        model = plant.model
        out: dict[int, float] = {}
        home = model.segment_of(plant.code)
        for i, ev in enumerate(self.events):
            if not ev.active(model.month):
                continue
            targets = model.segments.targets(ev.target, home)
            for k in targets:
                if ev.kind == "export_ban":
                    cap = 0.0
                else:
                    key = (i, k)
                    if key not in self.quota_base:  # frozen at the control's start
                        if self._month < model.month:
                            self._flush()
                            self._month = model.month
                        hist = self.history.get(k) or [0.0]
                        self.quota_base[key] = sum(hist) / len(hist)
                    cap = self.approved_share(ev, i, k, model) * self.quota_base[key]
                out[k] = min(out.get(k, cap), cap)
        return out


    def approved_share(self, ev: Event, i: int, k: int, model) -> float:
        """Share of normal exports allowed this month: the quota's share, or for a licence
        regime nothing during the processing delay, then ``share`` plus random approval noise
        (drawn once per event, segment and month from the model's generator)."""
        if ev.kind == "export_quota":
            return ev.share
        if model.month < ev.start + ev.delay:
            return 0.0
        key = (i, k, model.month)
        if key not in self.approvals:
            noise = model.rng.normal(0.0, ev.approval_sd) if ev.approval_sd > 0 else 0.0
            self.approvals[key] = min(1.0, max(0.0, ev.share + noise))
        return self.approvals[key]


class Dumping(SellerStrategy):
    """Predation by limit pricing into the bloc, and recoupment, with a binding loss budget.

    The dominant supplier's objective (``agents.dominant``) decides the response to a bloc:
    predation or retaliation. Predation starts when rivals threaten its share -- rivals'
    separation capacity on line and being built above ``[dominant_policy].threat_share`` of
    the world's -- or when a floor is introduced (``trigger_on_floor``). While it lasts, it
    offers ``volume_share`` x bloc reference demand into the bloc only, asking what lands at
    the limit price ``P_L = min(price_ratio x members' lowest refined cash cost, (1 -
    limit_margin) x the lowest incentive price of members' refining projects)`` after
    transport and the levy: below what members' plants need to cover cash cost and below
    what makes any member project's NPV positive. Its loss (book cost - netback) counts
    against ``loss_budget``; at the budget predation stops for good. When members' on-line
    share falls below ``stop_member_share`` and no member project is being built, predation
    has succeeded and it **recoups**: its refiners ask at least ``recoup_ratio`` x the lowest
    rival incentive price (entry-deterring) until the threat returns.

    The trigger does not depend on how many members the bloc has, and the volume scales with
    bloc demand, so a one-member bloc is treated like a two-member one.
    """

    name = "dumping"

    def __init__(self, params: DumpingParams, policy: DominantStrategy) -> None:
        self.p = params
        self.policy = policy  # agents.dominant.DominantStrategy (threat, threshold, incentive prices)
        self.active = False
        self.spent = False
        self.recouping = False
        self.floor_seen = False
        self.loss = 0.0  # $ cumulative below-cost loss
        self.price = 0.0  # $/kg current limit price (landed in the bloc)
        self.months = 0  # months active
        self.recoup_months = 0
        self.recoup_price = 0.0

    def update(self, plant: Plant) -> None:
        model = plant.model
        pol = self.policy
        pol.respond(model)
        if not pol.may_predate(model):
            self.active = False
            return
        share = model.member_capacity_share("refined")
        building = pol.member_building(model)
        threat = pol.rival_share(model)
        threshold = pol.params.threat_share
        if self.active:
            if self.loss >= self.p.loss_budget:
                self.active, self.spent = False, True
            elif share < self.p.stop_member_share and building <= 0:
                self.active, self.recouping = False, True
        elif not self.spent and model.authority.members:
            floor_now = model.authority.floor > 0 and self.p.trigger_on_floor and not self.floor_seen
            if threat > threshold or floor_now or (share >= self.p.stop_member_share and building > 0
                                                   and self.recouping):
                self.active, self.recouping = True, False
                self.floor_seen = self.floor_seen or floor_now
        if self.active:
            self.months += 1
            limit = self.p.price_ratio * model.member_refined_cost()
            inc = pol.member_incentive_price(model)
            if inc == inc:
                limit = min(limit, (1.0 - pol.params.limit_margin) * inc)
            self.price = limit
            pol.response = pol.response or "predation"
        if self.recouping:
            self.recoup_months += 1
            self.recoup_price = pol.params.recoup_ratio * pol.rival_incentive_price(model)
        else:
            self.recoup_price = 0.0

    def shape(self, plant: Plant, quotes: list[Quote]) -> list[Quote]:
        if not quotes:
            return quotes
        if self.recouping and self.recoup_price > 0:
            quotes = [Quote(q.agent, q.quantity, max(q.price, self.recoup_price), q.tag, q.only_segment, q.owner)
                      for q in quotes]
        if not self.active:
            return quotes
        model = plant.model
        want = self.p.volume_share * model.bloc_reference_demand()
        total = sum(q.quantity for q in quotes)
        dump = min(want, total)
        if dump <= 1e-9:
            return quotes
        # carve the dumped volume out of the plant's own offers
        rest, left = [], dump
        for q in quotes:
            take = min(left, q.quantity)
            left -= take
            if q.quantity - take > 1e-9:
                rest.append(Quote(q.agent, q.quantity - take, q.price, q.tag, q.only_segment, q.owner))
        mk = model.config.market
        ask = max(0.0, self.price - mk.transport_refined - model.authority.levy("refined"))
        rest.append(Quote(plant, dump, ask, DUMP_TAG, only_segment=model.segments.bloc, owner=self))
        return rest

    def on_sold(self, plant: Plant, tag: int, quantity: float, price: float) -> None:
        unit = plant.inventory_cost / plant.inventory / KG if getattr(plant, "inventory", 0) > 0 else plant.unit_cost()
        self.loss += max(0.0, unit - price) * quantity * KG
