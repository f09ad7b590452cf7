"""One stage's monthly call auction: from agents' quotes to ``clearing.clear`` and back.

This module turns quotes into the clearing's inputs and books the result:

- landed-cost adders: transport between segments, and the bloc's import
  levy (``BlocAuthority.levy``, one rate per kg) on supply from outside the bloc;
- export caps from the sellers' strategies (export controls);
- links between segments (re-sale by traders at ``market.transship_*`` $/kg,
  levied into the bloc like any import). Into a segment targeted by an
  export control in force, links carry at most ``(1 - enforcement)`` x the
  segment's average monthly trade in the 12 months before the control
  (unlimited at enforcement 0): what leaks through third countries;
- the reserve segment only members may deliver to (joint procurement).

Booking: buyers pay their segment's price; sellers receive it net of
transport and levy (their netback); the authority collects the levy and
settles CfDs on covered deliveries; what links carry earns the traders the
price difference less the transshipment cost and levy (``link_rent``).
``StageOutcome.money`` holds the month's money flows; they balance:
``paid = received + transport + transship + levy + link_rent`` (tested).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.instruments import Instrument
from agents.producers import COVERED, KG, Quote
from model.clearing import Bid, Clearing, Link, Offer, clear

if TYPE_CHECKING:
    from model.model import BlocModel

INF = math.inf


@dataclass(frozen=True)
class Segments:
    """Market segments: the bloc (members' buyers), the dominant supplier's home, the rest of
    the world, and (refined stage, joint procurement) the authority's reserve."""

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
    """What one stage's clearing produced (quantities t, prices $/kg, money $)."""

    prices: list[float]
    traded: list[float]
    from_members: list[float]
    from_dominant: list[float]
    from_authority: list[float]
    leaked: list[float]  # t carried into each segment by links
    reexported: list[float]  # t carried out of each segment by links
    dumped: float = 0.0
    dump_value: float = 0.0
    money: dict[str, float] = field(default_factory=dict)
    clearing: Clearing | None = field(default=None, repr=False)


class TradeHistory:
    """Monthly traded volume per segment (12 months), frozen into a base at each control's start."""

    def __init__(self) -> None:
        self.months: dict[int, deque[float]] = {k: deque(maxlen=12) for k in range(3)}
        self.base: dict[tuple[int, int], float] = {}  # (event index, segment) -> t/month

    def add(self, traded: list[float]) -> None:
        for k in range(3):
            self.months[k].append(traded[k])

    def base_for(self, event_index: int, k: int) -> float:
        key = (event_index, k)
        if key not in self.base:
            hist = self.months[k] or [0.0]
            self.base[key] = sum(hist) / len(hist)
        return self.base[key]


def _links(model: BlocModel, stage: str, levy: float, history: TradeHistory) -> list[Link]:
    """Re-sale routes between the three main segments, capped into segments under export control."""
    mk = model.config.market
    seg = model.segments
    cost = mk.transship_refined if stage == "refined" else mk.transship_concentrate
    caps = {k: INF for k in range(3)}
    for i, ev in enumerate(model.events):
        if not ev.is_control or not ev.active(model.month):
            continue
        e = mk.enforcement if ev.enforcement < 0 else ev.enforcement
        for k in range(3):
            if model.segment_targeted(ev, k) and e > 0:
                caps[k] = min(caps[k], (1.0 - e) * history.base_for(i, k))
    out = []
    for src in range(3):
        for dst in range(3):
            if src != dst:
                out.append(Link(src, dst, cost + (levy if dst == seg.bloc else 0.0), caps[dst]))
    return out


def demand_bids(
    model: BlocModel, consumers: list
) -> tuple[list[Bid], list[tuple[int, int, list]], dict[int, float]]:
    """The end-use demand steps of all consumers of each segment, as one bid per (segment, use, step).

    Every consumer's steps are the scenario's unit curves scaled by ``share_u x D_ref``
    (``ConsumerState.use_bids``), so a segment's bid for a step is the sum over its consumers,
    and fills are shared in proportion to ``D_ref`` -- the clearing's pro-rata rationing rule.
    Returns the bids, per bid ``(segment, use index, consumers)``, and each segment's total ``D_ref``.
    """
    by_seg: dict[int, list] = {}
    for c in consumers:
        by_seg.setdefault(model.home_segment(c), []).append(c)
    bids, meta, totals = [], [], {}
    uses = list(zip(model.config.end_uses, model.use_curves, strict=True))
    for k, cs in by_seg.items():
        total = totals[k] = sum(c.reference_demand for c in cs)
        code = cs[0].code
        for i, (u, curve) in enumerate(uses):
            scale = u.share * total
            for q, lo, hi in curve:
                x = q * scale
                if x > 1e-9:
                    bids.append(Bid(code, k, x, lo, hi))
                    meta.append((k, i, cs))
    return bids, meta, totals


def run_stage(
    model: BlocModel,
    stage: str,
    sellers: list,
    buyers: list,
    history: TradeHistory,
    extra_offers: list[Quote] = (),
    extra_bids: list[tuple[Quote, int]] = (),
    demand: list = (),
) -> StageOutcome:
    """Collect quotes, clear the stage, and book every sale and purchase.

    ``buyers`` bid through their ``bids()``; ``demand`` (consumers) through ``demand_bids``.
    """
    seg = model.segments
    auth = model.authority
    n_seg = 4 if stage == "refined" and auth.needs_reserve else 3
    mk = model.config.market
    tau = mk.transport_refined if stage == "refined" else mk.transport_concentrate
    levy = auth.levy(stage)
    auth.applied_levy[stage] = levy

    quotes: list[Quote] = []
    caps: dict[tuple[str, int], float] = {}
    for s in sellers:
        qs = s.offers()
        for strat in s.strategies:  # (most sellers have none: they sell competitively)
            qs = strat.shape(s, qs)
            for k, c in strat.caps(s).items():
                if k < n_seg:
                    caps[(s.code, k)] = min(caps.get((s.code, k), c), c)
        quotes += qs
    quotes += extra_offers

    offers, adders, levies = [], [], []
    sellers_of: list[tuple] = []  # per offer: (agent, is the authority, code, member, home segment)
    agent_info: dict[int, tuple] = {}  # id(agent) -> (agent, is_auth, code, member, home)
    landed: dict[tuple, tuple[list[float], float]] = {}  # (home, member, only_segment) -> (adders, levy)
    members = auth.members
    for q in quotes:
        a = q.agent
        info = agent_info.get(id(a))
        if info is None:
            is_auth = isinstance(a, Instrument)
            code = "AUTH" if is_auth else a.code
            home = seg.bloc if is_auth else model.home_segment(a)
            info = agent_info[id(a)] = (a, is_auth, code, not is_auth and code in members, home)
        _, is_auth, code, member, home = info
        key = (home, member, q.only_segment)
        cached = landed.get(key)
        if cached is None:  # the same adders for every offer of this kind (rows are only read)
            row, lev = [], 0.0
            for k in range(n_seg):
                if k == seg.reserve:
                    row.append(0.0 if member and q.only_segment is None else INF)
                elif q.only_segment is not None and k != q.only_segment:
                    row.append(INF)
                else:
                    t = 0.0 if k == home else tau
                    if k == seg.bloc and home != seg.bloc:
                        lev = levy
                        t += lev
                    row.append(t)
            cached = landed[key] = (row, lev)
        offers.append(Offer(code, q.quantity, q.price))
        adders.append(cached[0])
        levies.append(cached[1])
        sellers_of.append(info)

    bid_quotes = []
    for b in buyers:
        k = model.home_segment(b)
        bid_quotes += [(q, k) for q in b.bids()]
    bid_quotes += [(q, k) for q, k in extra_bids if k < n_seg]
    # Identical steps of different buyers (same segment, price and upper end) are cleared as one bid
    # and their fill shared pro rata -- the clearing's own rationing rule, done here once.
    groups: dict[tuple[int, float, float | None], list[int]] = {}
    for i, (q, k) in enumerate(bid_quotes):
        groups.setdefault((k, q.price, q.upper), []).append(i)
    bids = [
        Bid(_code(bid_quotes[idx[0]][0].agent), k, sum(bid_quotes[i][0].quantity for i in idx), price, upper)
        for (k, price, upper), idx in groups.items()
    ]
    n_quoted = len(bids)
    use_bids, use_meta, demand_total = demand_bids(model, demand)
    bids += use_bids
    links = _links(model, stage, levy, history)

    result = clear(n_seg, offers, bids, adders, caps, links)

    prices = result.prices
    out = StageOutcome(prices[:3], *([0.0] * 3 for _ in range(6)), clearing=result)
    # the month's money flows, $ (``StageOutcome.money``)
    paid = received = transport = transship = levied = link_rent = 0.0
    exports: dict[int, dict[int, float]] = {}
    bloc, dominant = seg.bloc, model.config.dominant
    by_origin = model.bloc_supply_by_origin
    traded, from_authority, from_members, from_dominant = (
        out.traded, out.from_authority, out.from_members, out.from_dominant)
    refined = stage == "refined"
    for j, (q, flows_j) in enumerate(zip(quotes, result.flows, strict=True)):
        a, is_auth, code, member, _ = sellers_of[j]
        row, lev_j = adders[j], levies[j]
        for k, x in enumerate(flows_j):
            if x <= 1e-12:
                continue
            netback = prices[k] - row[k]
            received += x * netback * KG
            levied += x * lev_j * KG if k == bloc else 0.0
            transport += x * (row[k] - (lev_j if k == bloc else 0.0)) * KG
            if q.owner is not None:
                q.owner.on_sold(a, q.tag, x, netback)
                out.dumped += x
                out.dump_value += x * netback
            a.on_sold(q.tag, x, netback)
            if k == bloc:
                if lev_j > 0:
                    auth.collect_levy(lev_j, x)
                if not is_auth and hasattr(a, "sold_bloc"):
                    a.sold_bloc += x
                if q.tag == COVERED:
                    auth.on_covered_sale(a, x, prices[k])
                if refined:
                    by_origin[code] = by_origin.get(code, 0.0) + x
            ex = exports.get(id(a))
            if ex is None:
                ex = exports[id(a)] = {}
            ex[k] = ex.get(k, 0.0) + x
            if k < 3:
                traded[k] += x
                if is_auth:
                    from_authority[k] += x
                elif member:
                    from_members[k] += x
                elif code == dominant:
                    from_dominant[k] += x
    for link, f in zip(links, result.link_flows, strict=True):
        if f <= 1e-12:
            continue
        out.leaked[link.dst] += f
        out.reexported[link.src] += f
        traded[link.dst] += f  # gross deliveries into dst (what re-sellers bring counts there)
        lev = levy if link.dst == seg.bloc else 0.0
        transship += f * (link.cost - lev) * KG
        levied += f * lev * KG
        link_rent += f * (prices[link.dst] - prices[link.src] - link.cost) * KG
        if lev > 0:
            auth.collect_levy(lev, f)
    for s in sellers:
        for strat in s.strategies:
            strat.observe(s, exports.get(id(s), {}))
    bought: dict[tuple[int, int], float] = {}  # (segment, use) -> t
    for b, (k, i, _) in enumerate(use_meta):
        filled = result.fills[n_quoted + b]
        if filled > 1e-12:
            bought[(k, i)] = bought.get((k, i), 0.0) + filled
    done = set()
    for k, i, cs in use_meta:
        if (k, i) in done or (k, i) not in bought:
            continue
        done.add((k, i))
        paid += bought[(k, i)] * prices[k] * KG
        total = demand_total[k]
        for c in cs:
            y = bought[(k, i)] * c.reference_demand / total
            if y > 1e-12:
                c.on_bought(i, y, prices[k])
    fills = result.fills
    for b, ((k, _, _), idx) in enumerate(groups.items()):
        filled = fills[b]
        if filled <= 1e-12:
            continue
        paid += filled * prices[k] * KG
        total = bids[b].quantity
        for i in idx:
            q = bid_quotes[i][0]
            y = filled * q.quantity / total
            if y > 1e-12:
                q.agent.on_bought(q.tag, y, prices[k])
    out.money = {"paid": paid, "received": received, "transport": transport, "transship": transship,
                 "levy": levied, "link_rent": link_rent}
    history.add(out.traded)
    return out


def _code(agent) -> str:
    return "AUTH" if isinstance(agent, Instrument) else agent.code
