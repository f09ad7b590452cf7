"""One stage's monthly call auction: from agents' quotes to ``clearing.clear`` and back.

This module turns quotes into the clearing's inputs -- landed-cost adders
(transport between segments, the bloc's import levy), export caps, and the
reserve segment only members may deliver to -- and books the result: sellers
receive the segment price net of transport and levy (their netback), buyers
pay the segment price, the authority collects levies and pays CfD top-ups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.producers import Quote
from model.clearing import Bid, Clearing, Offer, clear

if TYPE_CHECKING:
    from model.model import BlocModel

INF = math.inf


@dataclass(frozen=True)
class Segments:
    """Market segments: the bloc (members' buyers), the dominant supplier's home, the rest of
    the world, and (refined stage, ``buffer`` floors) the authority's reserve."""

    bloc: int = 0
    home: int = 1
    world: int = 2
    reserve: int = 3
    names: tuple[str, ...] = ("bloc", "home", "world", "reserve")

    def foreign(self, home: int) -> list[int]:
        return [k for k in (self.bloc, self.home, self.world) if k != home]

    def targets(self, target: str, home: int) -> list[int]:
        """Segments an export control on ``target`` ('members' or 'all') applies to."""
        if target == "members":
            return [self.bloc, self.reserve] if home != self.bloc else []
        return self.foreign(home) + [self.reserve]


@dataclass
class StageOutcome:
    """What one stage's clearing produced (quantities t, prices $/kg)."""

    prices: list[float]
    traded: list[float]
    from_members: list[float]
    from_dominant: list[float]
    from_authority: list[float]
    dumped: float = 0.0
    dump_value: float = 0.0
    clearing: Clearing | None = field(default=None, repr=False)


def run_stage(
    model: BlocModel,
    stage: str,
    sellers: list,
    buyers: list,
    extra_offers: list[Quote] = (),
    extra_bids: list[Quote] = (),
) -> StageOutcome:
    """Collect quotes, clear the stage, and book every sale and purchase."""
    seg = model.segments
    auth = model.authority
    n_seg = 4 if stage == "refined" and "buffer" in auth.instruments else 3
    tau = model.config.market.transport_refined if stage == "refined" else model.config.market.transport_concentrate

    quotes: list[Quote] = []
    caps: dict[tuple[str, int], float] = {}
    for s in sellers:
        qs = s.offers()
        for strat in s.strategies:
            qs = strat.shape(s, qs)
            for k, c in strat.caps(s).items():
                if k < n_seg:
                    caps[(s.code, k)] = min(caps.get((s.code, k), c), c)
        quotes += qs
    quotes += extra_offers

    offers, adders, levies = [], [], []
    for q in quotes:
        a = q.agent
        is_auth = a is auth
        code = "AUTH" if is_auth else a.code
        home = seg.bloc if is_auth else model.segment_of(code)
        member = not is_auth and code in auth.members
        row, lev = [], 0.0
        for k in range(n_seg):
            if k == seg.reserve:
                row.append(0.0 if member else INF)
            elif q.only_segment is not None and k != q.only_segment:
                row.append(INF)
            elif is_auth and k != seg.bloc:
                row.append(INF)
            else:
                t = 0.0 if k == home else tau
                if k == seg.bloc and not member and not is_auth:
                    lev = auth.levy_adder(stage, q.price, t)
                    t += lev
                row.append(t)
        offers.append(Offer(code, q.quantity, q.price))
        adders.append(row)
        levies.append(lev)

    bid_quotes = [(q, model.segment_of(q.agent.code)) for b in buyers for q in b.bids()]
    bid_quotes += [(q, seg.reserve) for q in extra_bids if n_seg > seg.reserve]
    bids = [Bid(getattr(q.agent, "code", "AUTH"), k, q.quantity, q.price) for q, k in bid_quotes]

    result = clear(n_seg, offers, bids, adders, caps)

    out = StageOutcome(result.prices[:3], [0.0] * 3, [0.0] * 3, [0.0] * 3, [0.0] * 3, clearing=result)
    exports: dict[int, dict[int, float]] = {}
    for j, q in enumerate(quotes):
        a = q.agent
        for k in range(n_seg):
            x = result.flows[j][k]
            if x <= 1e-12:
                continue
            netback = result.prices[k] - adders[j][k]
            if q.owner is not None:
                q.owner.on_sold(a, q.tag, x, netback)
                out.dumped += x
                out.dump_value += x * netback
            a.on_sold(q.tag, x, netback)
            if a is not auth:
                auth.pay_cfd(a, x, netback)
                if k == seg.bloc and levies[j] > 0:
                    auth.collect_levy(levies[j], x)
                exports.setdefault(id(a), {}).setdefault(k, 0.0)
                exports[id(a)][k] += x
            if k == seg.bloc and stage == "refined":
                origin = offers[j].seller  # country code, or "AUTH" for the joint stock
                model.bloc_supply_by_origin[origin] = model.bloc_supply_by_origin.get(origin, 0.0) + x
            if k < 3:
                out.traded[k] += x
                if a is auth:
                    out.from_authority[k] += x
                elif a.code in auth.members:
                    out.from_members[k] += x
                elif a.code == model.config.dominant:
                    out.from_dominant[k] += x
    for s in sellers:
        for strat in s.strategies:
            strat.observe(s, exports.get(id(s), {}))
    for b, (q, k) in enumerate(bid_quotes):
        y = result.fills[b]
        if y > 1e-12:
            q.agent.on_bought(q.tag, y, result.prices[k])
    return out
