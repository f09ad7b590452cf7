"""Market clearing: a pure function, no Mesa inside.

One stage (concentrate or refined), one month, segments ``0..K-1``. Sellers
offer tranches ``(quantity t, ask $/kg)``; each tranche has a landed-cost
adder per segment (transport, tariff, levy; ``inf`` = may not go there; an
adder may be negative, a subsidy, as long as the landed cost ``ask + adder``
is not); caps limit what a seller sends to a segment (export controls).
Buyers bid ``(segment, quantity t, price $/kg)`` steps, optionally graded up
to ``upper``. Links let material delivered into one segment be re-sold into
another at a cost per kg, up to a capacity (transshipment by traders).

Allocation. The allocation maximises

    welfare = sum_b v_b*y_b - sum_{j,k} (a_j + t_jk)*x_jk - sum_l c_l*z_l

subject to tranche quantities, caps, link capacities and a balance per
segment (``../shared/design/clearing.md``, checked against an LP in the
tests), and among the welfare-maximising allocations it trades the most
(lexicographic: welfare first, then volume; a trade of zero surplus, a bid
equal to a landed ask up to float rounding, takes place).

Algorithm (``clear``): successive shortest paths on the flow network
``S -> tranche -> [seller cap node] -> segment [-> link -> segment] -> bid -> T``:
start with no trade and push flow along the cheapest residual path from S to
T while that path's cost is <= tol (1e-9 x the price scale). Successive
shortest paths give the cheapest flow of each volume, so stopping at the first
path of positive cost gives the largest volume among welfare-maximising flows.
The tranches are contracted away (``_Market``): the searches run on the few
core nodes (S, T, segments, cap nodes), where the cheapest residual arc between
two core nodes through any tranche (``S -> j -> y``: a sale; ``x -> j -> y``: a
re-routing of j's sales from x to y) is the top of a heap per node pair. A
search is Bellman-Ford on that small graph (so negative adders are fine), and
one search serves a whole ladder of bids: a new one is needed only when a
tranche, a route's flow, a cap or a link is used up. Bids of the same segment
and price are merged and filled pro rata (the rationing rule); so are offers
with the same ask and landed costs, unless their seller is capped: an
allocation never depends on the order of the offers.

Prices. Segment prices are duals of the balances; the equilibrium price
vectors form an interval lattice ``[price_lo, price_hi]`` (``hi[k]``: the
cheapest way to bring one more unit into k; ``lo[k]``: the most one more
unit in k is worth; shortest paths in the final residual network, computed
on the same contracted network). The price rule:

* Segment where something is bought (graded prices). A bid with ``upper``
  u > v stands for buyers whose valuations are spread evenly on [v, u] (a
  linear piece of the inverse demand curve; ``upper=None`` is a vertical
  step, u = v). Let ``D_k(p) = sum_b q_b * clip((u_b - p)/(u_b - v_b), 0, 1)``
  be k's interpolated demand (a vertical step: q_b below v_b, anything in
  [0, q_b] at v_b, 0 above), ``Q_k`` the quantity bought in k, and
  ``[lo_s, hi_s]`` the supply-side interval: ``hi_s`` the cheapest landed
  cost of one more unit into k (offers with spare quantity and cap, links,
  re-routing supply from other segments -- not taking it from a bid of k),
  ``lo_s`` the saving from one unit less (the dearest supply delivered, or
  its best use elsewhere). The price is the midpoint of
  ``{p : D_k(p) = Q_k} & [lo_s, hi_s]``, or the nearer end of ``[lo_s, hi_s]``
  if the two sets do not meet. With vertical steps only, ``{p : D_k(p) = Q_k}``
  is k's demand-side interval and the intersection is ``[price_lo,
  price_hi]``: the rule is the midpoint rule ``(lo + hi)/2``. Why: with
  vertical steps the midpoint rule makes the price a step function of supply
  (any cut beyond the top step's width sits at the choke); reading the price
  off the piecewise-linear curve the steps approximate makes it continuous,
  and strictly rising as a fixed supply is cut wherever graded steps cover
  the curve. What it departs from: the allocation (and ``welfare``,
  ``price_lo``, ``price_hi``) is still the LP's with valuation ``price``; the
  price is that of the linear curve at the quantity the steps allocate, so it
  is never below ``price_lo`` but can lie above ``price_hi``, and a filled
  graded bid may pay more than its ``price``.
* Segment with bids where nothing is bought: the landed cost of one more
  unit given the traded segments' prices (import parity), but never above its
  highest bid's top (``upper`` or ``price``) -- unless links make one more
  unit in k worth more elsewhere: never below ``price_lo`` (which, without
  links, is at most its highest bid).
* Links: where a link has spare capacity, ``p_dst <= p_src + cost``; where
  it carries flow, ``p_dst >= p_src + cost``. Prices are raised (never
  lowered) to meet these, which changes nothing without graded bids; a
  segment with no trade can so be priced above its own bids when a link
  makes a unit there worth more elsewhere (as the LP does).
* Segment without bids: NaN.

Without frictions every segment where something is bought has the same
price; one with bids where nothing is bought has that price or, if lower, its
top bid.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter

__all__ = ["Offer", "Bid", "Link", "Clearing", "clear"]

INF = math.inf
EPS = 1e-9  # quantities below this (t) are treated as zero
REL_TOL = 1e-9  # a path of cost <= REL_TOL x price scale still trades
_MIDPOINT_SHORTCUT = True  # vertical steps only: (lo + hi)/2, which the general rule equals (tested)


@dataclass(slots=True)
class Offer:
    """A seller's tranche: ``quantity`` t at ``ask`` $/kg."""

    seller: str
    quantity: float
    ask: float


@dataclass(slots=True)
class Bid:
    """A buyer's step: up to ``quantity`` t at up to ``price`` $/kg in ``segment``.

    ``upper`` (>= ``price``) spreads the step's valuations evenly on ``[price, upper]``
    for pricing (a linear piece of the demand curve); the allocation uses ``price``.
    """

    buyer: str
    segment: int
    quantity: float
    price: float
    upper: float | None = None

    def __post_init__(self) -> None:
        if self.upper is not None and not self.price <= self.upper < math.inf:
            raise ValueError(f"bid upper {self.upper}: must be finite and >= its price {self.price}")


@dataclass(frozen=True, slots=True)
class Link:
    """Re-sale of material delivered into ``src`` on into ``dst`` at ``cost`` $/kg, at most ``capacity`` t."""

    src: int
    dst: int
    cost: float
    capacity: float = math.inf


@dataclass(slots=True)
class Clearing:
    """Outcome of one call auction.

    ``flows[j][k]`` is what offer ``j`` sells into segment ``k`` (t);
    ``fills[b]`` what bid ``b`` buys (t); ``prices[k]`` the segment price
    ($/kg, NaN for a segment without bids); ``price_lo``/``price_hi`` the
    interval of equilibrium (LP dual) prices; ``welfare`` in $/kg x t;
    ``link_flows[l]`` what link ``l`` carries (t).
    """

    flows: list[list[float]]
    fills: list[float]
    prices: list[float]
    price_lo: list[float]
    price_hi: list[float]
    welfare: float
    link_flows: list[float] = field(default_factory=list)

    def sold(self, j: int) -> float:
        """Total sold by offer ``j`` (t)."""
        return sum(self.flows[j])

    def traded(self, k: int | None = None) -> float:
        """Quantity sold by offers into segment ``k`` (all segments if None), t."""
        if k is None:
            return sum(sum(row) for row in self.flows)
        return sum(row[k] for row in self.flows)


Arcs = dict[tuple[int, int], float]  # (u, v) -> cheapest residual cost between core nodes
Landed = tuple[float, tuple[float, ...]]  # an offer's ask and its landed-cost adders per segment


class _Market:
    """The flow network with the tranche nodes contracted away, and its state.

    Core nodes: S = 0, T = 1, segment k = 2 + k, then one node per finite cap. A tranche
    ``j`` (a merged offer group) has a route to each target node it may reach (its segment,
    or its seller's cap node) at adder ``t``. The residual paths ``S -> j -> y`` (cost
    ``a_j + t_jy``, open while j has spare quantity) and ``x -> j -> y`` (cost
    ``t_jy - t_jx``, open while j delivers to x: re-routing) are kept in one heap per node
    pair, cheapest first, so the cheapest arc of each pair is a heap's top (stale entries
    are dropped lazily). Caps, links and bids are explicit arcs between core nodes.
    """

    def __init__(self, n_core: int, K: int) -> None:
        self.n = n_core
        self.K = K
        # tranches
        self.ask: list[float] = []
        self.qty: list[float] = []
        self.spare: list[float] = []
        self.routes: list[list[tuple[int, int, float]]] = []  # (segment k, target node, adder)
        self.targets: list[list[int]] = []  # the routes' target nodes
        self.flow: list[list[float]] = []  # what each route carries
        # explicit arcs in pairs (e, e ^ 1): u -> v with residual capacity
        self.eu: list[int] = []
        self.ev: list[int] = []
        self.ecost: list[float] = []
        self.eres: list[float] = []
        self._open_arcs: list[tuple[int, int, float, int, int]] | None = None  # explicit arcs with residual
        self.heaps: dict[tuple[int, int], list[tuple[float, int]]] = {}
        # bid groups per segment node, best (highest price) first: [price, unfilled, filled]
        self.ladder: dict[int, list[list[float]]] = {}

    def add_tranche(self, ask: float, qty: float, routes: list[tuple[int, int, float]]) -> None:
        """A tranche with routes ``(segment k, target node, adder)``."""
        self.ask.append(ask)
        self.qty.append(qty)
        self.spare.append(qty)
        self.routes.append(routes)
        self.targets.append([y for _, y, _ in routes])
        self.flow.append([0.0] * len(routes))

    def add_arc(self, u: int, v: int, cap: float, cost: float) -> int:
        e = len(self.eu)
        self.eu += (u, v)
        self.ev += (v, u)
        self.ecost += (cost, -cost)
        self.eres += (cap, 0.0)
        self._open_arcs = None
        return e

    def start(self) -> None:
        """Fill the heaps S -> y with every tranche's landed costs."""
        heaps = self.heaps
        for j, (ask, routes) in enumerate(zip(self.ask, self.routes, strict=True)):
            for _, y, t in routes:
                h = heaps.get((0, y))
                if h is None:
                    heaps[(0, y)] = h = []
                h.append((ask + t, j))
        for h in heaps.values():
            heapq.heapify(h)

    def _arcs(self) -> list[tuple[int, int, float, int, int]]:
        """The residual arcs between core nodes now: (u, v, cost, kind, ref); kind 0: S -> j -> v,
        kind 1: u -> j -> v (ref j), kind 2: explicit arc (ref e)."""
        out = []
        spare, flow, targets = self.spare, self.flow, self.targets
        for (x, y), h in self.heaps.items():
            if x == 0:
                while h and spare[h[0][1]] <= EPS:
                    heapq.heappop(h)  # a tranche's spare never comes back
                if h:
                    out.append((0, y, h[0][0], 0, h[0][1]))
            else:
                while h and flow[h[0][1]][targets[h[0][1]].index(x)] <= EPS:
                    heapq.heappop(h)  # pushed again if the route carries again
                if h:
                    out.append((x, y, h[0][0], 1, h[0][1]))
        explicit = self._open_arcs
        if explicit is None:  # recomputed after an augmentation along an explicit arc
            eu, ev, ecost = self.eu, self.ev, self.ecost
            explicit = self._open_arcs = [(eu[e], ev[e], ecost[e], 2, e) for e, r in enumerate(self.eres) if r > EPS]
        out += explicit
        return out

    def _search(self, tiny: float) -> tuple[list[float], list[tuple[int, int, int] | None]]:
        """Cheapest paths from S to every core node (Bellman-Ford: the network is small and
        has no negative cycle, so negative adders and re-routing arcs are fine)."""
        n = self.n
        dist = [INF] * n
        pred: list[tuple[int, int, int] | None] = [None] * n
        dist[0] = 0.0
        arcs = self._arcs()
        for _ in range(n):
            changed = False
            for u, v, c, kind, ref in arcs:
                du = dist[u]
                if du < INF and du + c < dist[v] - tiny:
                    dist[v] = du + c
                    pred[v] = (u, kind, ref)
                    changed = True
            if not changed:
                break
        return dist, pred

    def run(self, tol: float, tiny: float) -> None:
        """Successive shortest paths: augment along the cheapest S-T path while its cost is <= tol.

        A path to T is a cheapest path to a segment plus the segment's best unfilled bid. While
        augmentations saturate only bids, no distance changes (the new reverse arcs close no
        shorter path), so the next path is read off the same search, walking down the bid ladder.
        """
        self.start()
        ladders = list(self.ladder.items())
        rung_at = dict.fromkeys(self.ladder, 0)
        spare, flow, eres, targets = self.spare, self.flow, self.eres, self.targets
        routes, heaps = self.routes, self.heaps
        n_core = self.n
        while True:
            dist, pred = self._search(tiny)
            while True:
                seg, rung, best = -1, None, INF
                for u, rungs in ladders:  # each reachable segment's best unfilled bid (skipping filled rungs)
                    du = dist[u]
                    if du < INF:
                        i = rung_at[u]
                        n = len(rungs)
                        while i < n and rungs[i][1] <= EPS:
                            i += 1
                        rung_at[u] = i
                        if i < n:
                            top = rungs[i]
                            if du - top[0] < best:
                                seg, rung, best = u, top, du - top[0]
                if rung is None or best > tol:
                    return  # no path adds welfare, nor volume at zero cost
                # Augment: push the most the path to seg and its bid take.
                push = rung[1]
                v, steps = seg, 0
                while v:  # back from seg to S: push = min(push, each arc's residual)
                    if steps > n_core:
                        raise RuntimeError("clearing: a cycle in the shortest-path tree (numerical trouble)")
                    steps += 1
                    u, kind, ref = pred[v]
                    if kind == 0:
                        cap = spare[ref]
                    elif kind == 1:
                        cap = flow[ref][targets[ref].index(u)]
                    else:
                        cap = eres[ref]
                    if cap < push:
                        push = cap
                    v = u
                rung[1] -= push
                rung[2] += push
                used_up = False  # an arc other than the bid is used up
                v = seg
                while v:  # back from seg to S again: the arcs carry push
                    u, kind, ref = pred[v]
                    if kind == 2:
                        eres[ref] -= push
                        eres[ref ^ 1] += push
                        if eres[ref] <= EPS:
                            used_up = True
                        self._open_arcs = None
                        v = u
                        continue
                    ys = targets[ref]
                    fj = flow[ref]
                    if kind == 0:
                        left = spare[ref] = spare[ref] - push
                    else:
                        r = ys.index(u)
                        left = fj[r] = fj[r] - push
                    if left <= EPS:
                        used_up = True
                    # route r of tranche ref carries push more
                    r = ys.index(v)
                    old = fj[r]
                    fj[r] = old + push
                    if old <= EPS < old + push:  # it starts carrying: its sales may move to ref's other targets
                        _, x, t0 = routes[ref][r]
                        for _, y, t in routes[ref]:
                            if y != x:
                                h = heaps.get((x, y))
                                if h is None:
                                    heaps[(x, y)] = h = []
                                heapq.heappush(h, (t - t0, ref))
                    v = u
                if used_up:
                    break  # search again

    def contract(self) -> Arcs:
        """The final residual network between core nodes, cheapest arc per pair (for the prices).

        Replacing each residual path ``x -> tranche -> y`` by an arc ``x -> y`` preserves every
        distance between core nodes: a tranche is never an origin or target of a price search.
        """
        arcs: Arcs = {}
        get = arcs.get

        def put(u: int, v: int, c: float) -> None:
            if u != v and c < get((u, v), INF):
                arcs[(u, v)] = c

        spare, qty = self.spare, self.qty
        for j, (ask, routes, xs) in enumerate(zip(self.ask, self.routes, self.flow, strict=True)):
            ins = [(0, ask)] if spare[j] > EPS else []
            for r, x in enumerate(xs):
                if x > EPS:  # route r delivers: its sales may move to j's other targets
                    _, y, t = routes[r]
                    ins.append((y, -t))
            outs = routes + [(-1, 0, -ask)] if qty[j] - spare[j] > EPS else routes  # (k, v, cost)
            for u, cu in ins:
                for _, v, cv in outs:
                    if u != v:  # ``put``, inlined
                        c = cu + cv
                        if c < get((u, v), INF):
                            arcs[(u, v)] = c
        for e, r in enumerate(self.eres):
            if r > EPS:
                put(self.eu[e], self.ev[e], self.ecost[e])
        for seg, rungs in self.ladder.items():
            sell, buy = (seg, 1), (1, seg)
            for price, unfilled, filled in rungs:  # ``put``, inlined
                if unfilled > EPS and -price < get(sell, INF):
                    arcs[sell] = -price
                if filled > EPS and price < get(buy, INF):
                    arcs[buy] = price
        return arcs


def clear(
    n_segments: int,
    offers: Sequence[Offer],
    bids: Sequence[Bid],
    adders: Sequence[Sequence[float]] | None = None,
    caps: Mapping[tuple[str, int], float] | None = None,
    links: Sequence[Link] = (),
) -> Clearing:
    """Clear one market: welfare-maximising (then volume-maximising) allocation and segment prices.

    ``adders[j][k]``: landed-cost adder of offer ``j`` into segment ``k`` ($/kg; ``inf``
    forbids the route; default 0; may be negative if ``ask + adder >= 0``).
    ``caps[(seller, k)]``: most a seller may send to ``k`` in total (t; absent = unlimited).
    ``links``: re-sale routes between segments (cost >= 0). Raises ValueError on bad input.
    """
    K = n_segments
    caps = caps or {}
    zero = (0.0,) * K
    rows = [tuple(row) for row in adders] if adders is not None else [zero] * len(offers)
    pairs = list(zip([off.ask for off in offers], rows, strict=False))  # (ask, landed-cost adders) per offer
    numbers: dict[Landed, int] = {}  # each distinct pair, numbered in order of first appearance
    number_of = [numbers.setdefault(pair, len(numbers)) for pair in pairs]
    landed = list(numbers)
    _check(K, pairs, landed, links)
    # Merge bids of equal (segment, price): one rung each, fills pro rata.
    groups: dict[tuple[int, float], list] = {}  # -> [price, total quantity, bid indices, segment]
    top = [-INF] * K  # each segment's highest bid top (upper, or price)
    graded: set[int] = set()  # segments with graded bids
    pieces: list[list[tuple[float, float, float]]] = [[] for _ in range(K)]  # demand curves: (price, upper, qty)
    for b, bid in enumerate(bids):
        q, v, k = bid.quantity, bid.price, bid.segment
        if q > EPS and v >= 0.0:
            key = (k, v)
            group = groups.get(key)
            if group is None:
                if not 0 <= k < K:
                    raise ValueError(f"bid segment {k} outside 0..{K - 1}")
                groups[key] = [v, q, [b], k]
            else:
                group[1] += q
                group[2].append(b)
            u = bid.upper
            pieces[k].append((v, v if u is None else u, q))
            if u is not None and u > v:
                graded.add(k)
                v = u
            if v > top[k]:
                top[k] = v
    scale = max(_price_scale(landed, links), *top)
    cap_nodes: dict[tuple[str, int], int] = {}
    n_core = 2 + K
    for key, c in caps.items():
        if c > EPS and math.isfinite(c):
            cap_nodes[key] = n_core
            n_core += 1
    net = _Market(n_core, K)
    # Merge offers with the same ask and landed costs whose seller has no caps: one tranche
    # each, sales shared pro rata (the same rationing rule as for bids). Offers of capped
    # sellers keep their own tranches.
    capped = {seller for seller, _ in caps}
    offer_groups: dict[object, list] = {}  # key -> [total quantity, offer indices, adder row]
    for j, off in enumerate(offers):
        if off.quantity <= EPS:
            continue
        row = rows[j]
        key = ("own", j) if off.seller in capped else number_of[j]  # the number of (ask, row)
        group = offer_groups.get(key)
        if group is None:
            offer_groups[key] = [off.quantity, [j], row]
        else:
            group[0] += off.quantity
            group[1].append(j)
    members_of: list[list[int]] = []
    for qty, members, row in offer_groups.values():
        seller = offers[members[0]].seller
        capped_seller = seller in capped  # (a seller without caps has none to look up)
        routes = []
        for k in range(K):
            t = row[k]
            if t == INF:
                continue
            target = 2 + k
            if capped_seller and caps.get((seller, k), INF) < INF:
                target = cap_nodes.get((seller, k), -1)
                if target < 0:  # cap of zero: route closed
                    continue
            routes.append((k, target, t))
        net.add_tranche(offers[members[0]].ask, qty, routes)
        members_of.append(members)
    for (seller, k), cn in cap_nodes.items():
        net.add_arc(cn, 2 + k, caps[(seller, k)], 0.0)
    link_arcs = [net.add_arc(2 + lk.src, 2 + lk.dst, lk.capacity, lk.cost) for lk in links]
    bid_rungs: list[tuple[list[float], list[int], float]] = []
    ladder = net.ladder
    # highest price first (reverse keeps ties in their order, as sorting on -price would)
    for price, qty, members, k in sorted(groups.values(), key=itemgetter(0), reverse=True):
        rung = [price, qty, 0.0]
        rungs = ladder.get(2 + k)
        if rungs is None:
            ladder[2 + k] = [rung]
        else:
            rungs.append(rung)
        bid_rungs.append((rung, members, qty))

    net.run(REL_TOL * scale, 1e-12 * scale)

    flows = list(map(list, repeat(zero, len(offers))))  # a row of K zeros per offer
    quantity = [off.quantity for off in offers]
    welfare = 0.0
    for j, members in enumerate(members_of):
        qty, ask, routes = net.qty[j], net.ask[j], net.routes[j]
        for r, x in enumerate(net.flow[j]):
            if x > EPS:
                k, _, t = routes[r]
                welfare -= (ask + t) * x
                for m in members:  # each member's share (its row's k is still 0.0, and 0.0 + y is y)
                    flows[m][k] = x * quantity[m] / qty
    link_flows = [net.eres[e ^ 1] for e in link_arcs]
    for link, z in zip(links, link_flows, strict=True):
        welfare -= link.cost * z
    fills = [0.0] * len(bids)
    for (price, _, y), members, qty in bid_rungs:
        if y > EPS:
            welfare += price * y
            share = y / qty
            for b in members:
                fills[b] = bids[b].quantity * share

    filled = [0.0] * K
    for seg, rungs in net.ladder.items():
        filled[seg - 2] = sum(map(itemgetter(2), rungs))
    arcs = net.contract()
    prices, price_lo, price_hi = _prices(K, pieces, graded, top, filled, arcs, n_core, links, link_flows, scale)
    return Clearing(flows, fills, prices, price_lo, price_hi, welfare, link_flows)


def _check(K: int, pairs: Sequence[Landed], landed: Sequence[Landed], links: Sequence[Link]) -> None:
    """Raise ValueError on a landed cost below zero, or a link that is not a route between two segments.

    ``pairs``: (ask, adders) per offer; ``landed``: the distinct ones, in order of first appearance.
    """
    for ask, row in landed:
        for k, t in enumerate(row):
            if t < 0 and not ask + t >= 0:
                j = pairs.index((ask, row))
                raise ValueError(f"offer {j}: adder {t} into segment {k} makes its landed cost negative")
    for link in links:
        if not (0 <= link.src < K and 0 <= link.dst < K and link.src != link.dst):
            raise ValueError(f"link {link.src}->{link.dst}: needs two different segments in 0..{K - 1}")
        if not (0 <= link.cost < INF and link.capacity >= 0):
            raise ValueError(f"link {link.src}->{link.dst}: cost must be finite and >= 0, capacity >= 0")


def _price_scale(landed: Sequence[Landed], links: Sequence[Link]) -> float:
    """Largest finite ask, landed cost or link cost (at least 1): with the bids, the scale of the tolerance.

    ``landed``: the distinct (ask, adders) pairs of the offers.
    """
    scale = max([1.0] + [abs(ask) for ask, _ in landed] + [link.cost for link in links])
    for ask, row in landed:
        # scale = max(scale, max((abs(ask + t) for finite t), default=0.0)), with max()'s comparisons
        top = None
        for t in row:
            if t != INF:
                v = abs(ask + t)
                if top is None or v > top:
                    top = v
        if top is None:
            top = 0.0
        if top > scale:
            scale = top
    return scale


def _bellman_ford(n: int, arcs: Arcs, init: Mapping[int, float], forward: bool) -> list[float]:
    """Shortest path lengths from the labelled nodes (``forward``) or to them (not ``forward``).

    The contracted residual network is small and has no negative cycle at the optimum;
    at most ``n`` rounds, so a float near-cycle cannot loop.
    """
    dist = [INF] * n
    for s, label in init.items():
        dist[s] = label
    items = [(u, v, c) for (u, v), c in arcs.items()] if forward else [(v, u, c) for (u, v), c in arcs.items()]
    for _ in range(n):
        changed = False
        for u, v, c in items:
            if dist[u] + c < dist[v]:
                dist[v] = dist[u] + c
                changed = True
        if not changed:
            break
    return dist


def _prices(
    K: int,
    pieces: Sequence[Sequence[tuple[float, float, float]]],
    graded: set[int],
    top: Sequence[float],
    filled: Sequence[float],
    arcs: Arcs,
    n_core: int,
    links: Sequence[Link],
    link_flows: Sequence[float],
    scale: float,
) -> tuple[list[float], list[float], list[float]]:
    """Segment prices by the rule in the module docstring, and the LP's price interval.

    ``pieces[k]``: k's bids as ``(price, upper or price, quantity)``; ``top[k]``: k's highest bid top
    (``-inf``: no bids); ``filled[k]``: quantity bought in k.
    """
    S, T = 0, 1
    origin = {S: 0.0, T: 0.0}
    hi = _bellman_ford(n_core, arcs, origin, True)
    lo_neg = _bellman_ford(n_core, arcs, origin, False)
    price_lo = [-lo_neg[2 + k] for k in range(K)]
    price_hi = [hi[2 + k] for k in range(K)]
    has_bids = [t > -INF for t in top]
    prices = [math.nan] * K
    traded = [has_bids[k] and filled[k] > EPS for k in range(K)]
    for k in range(K):
        if not traded[k]:
            continue
        if k not in graded and _MIDPOINT_SHORTCUT:  # vertical steps: the general rule gives (lo + hi)/2
            prices[k] = 0.5 * (price_lo[k] + price_hi[k])
            continue
        # supply side: the same searches without k's own bids
        own = {(2 + k, T), (T, 2 + k)}
        rest = {uv: c for uv, c in arcs.items() if uv not in own}
        hi_s = _bellman_ford(n_core, rest, origin, True)[2 + k]
        lo_s = -_bellman_ford(n_core, rest, origin, False)[2 + k]
        a, b = _demand_set(pieces[k], filled[k])
        low, high = max(a, lo_s), min(b, hi_s)
        if low <= high:
            prices[k] = 0.5 * (low + high)
        else:
            prices[k] = hi_s if a > hi_s else lo_s
    if any(has_bids[k] and not traded[k] for k in range(K)):
        # nothing bought in k: import parity given the traded segments' prices, capped by its top
        # bid, but not below lo (material may pass through k on links and be worth more elsewhere)
        labels = dict(origin)
        labels.update({2 + k: prices[k] for k in range(K) if traded[k]})
        parity = _bellman_ford(n_core, arcs, labels, True)
        for k in range(K):
            if has_bids[k] and not traded[k]:
                prices[k] = max(price_lo[k], min(parity[2 + k], top[k]))
    if links:
        _respect_links(prices, links, link_flows, REL_TOL * scale)
    return prices, price_lo, price_hi


def _respect_links(prices: list[float], links: Sequence[Link], link_flows: Sequence[float], tol: float) -> None:
    """Raise prices until ``p_dst <= p_src + cost`` on links with spare capacity and
    ``p_dst >= p_src + cost`` on links that carry flow (segments without bids pass these on)."""
    K = len(prices)
    val = [-INF if math.isnan(p) else p for p in prices]
    rules = []  # (raised node, from node, offset): val[raised] >= val[from] + offset
    for link, z in zip(links, link_flows, strict=True):
        if z < link.capacity - EPS:
            rules.append((link.src, link.dst, -link.cost))
        if z > EPS:
            rules.append((link.dst, link.src, link.cost))
    for _ in range(K + 1):
        changed = False
        for x, y, w in rules:
            if val[y] + w > val[x] + tol:
                val[x] = val[y] + w
                changed = True
        if not changed:
            break
    for k in range(K):
        if not math.isnan(prices[k]):
            prices[k] = val[k]


def _demand_set(pieces: Sequence[tuple[float, float, float]], q: float) -> tuple[float, float]:
    """``[a, b] = {p : q in D(p)}`` for the demand of steps ``(v, u, quantity)``.

    ``D(p) = sum quantity * clip((u - p)/(u - v), 0, 1)``; a step with ``u == v`` is
    vertical (all of it below v, any part at v, none above). ``a`` is ``-inf`` if all is
    filled. D is a decreasing correspondence: at each breakpoint x it spans
    ``[low(x), high(x)]`` (vertical steps at x dropped / kept) and between breakpoints it is
    linear from ``low(x_i)`` to ``high(x_{i+1})``.
    """
    xs = sorted({x for v, u, _ in pieces for x in (v, u)})
    index = {x: i for i, x in enumerate(xs)}
    m = len(xs)
    slope_change = [0.0] * m
    vertical_at = [0.0] * m
    graded_total = vertical_total = 0.0
    for v, u, qty in pieces:
        if u > v:
            graded_total += qty
            s = qty / (u - v)
            slope_change[index[v]] -= s
            slope_change[index[u]] += s
        else:
            vertical_total += qty
            vertical_at[index[v]] += qty
    low = [0.0] * m
    high = [0.0] * m
    c, slope, below = graded_total, 0.0, 0.0  # graded demand at x, its slope after x, vertical below x
    prev = xs[0]
    for i, x in enumerate(xs):
        c += slope * (x - prev)
        if not c > 0.0:  # c = max(0.0, c) without the call (also at x_0, where c >= 0 and slope is 0)
            c = 0.0
        prev = x
        slope += slope_change[i]
        at = vertical_at[i]
        high[i] = h = c + (vertical_total - below)
        low[i] = h - at
        below += at
    tol = 1e-9 * max(1.0, q)
    q_up, q_down = q + tol, q - tol
    # a: first point (from the left) where D reaches q
    if high[0] <= q_up:
        a = -INF
    else:
        a = xs[-1]
        for i in range(m):
            if low[i] <= q_up:
                a = xs[i]
                break
            if i + 1 < m and high[i + 1] <= q_up:  # crosses q inside (x_i, x_{i+1})
                a = _cross(xs[i], xs[i + 1], low[i], high[i + 1], q)
                break
    # b: last point (from the right) where D still reaches q
    b = xs[0]
    for i in range(m - 1, -1, -1):
        if high[i] >= q_down:
            b = xs[i]
            break
        if i > 0 and low[i - 1] >= q_down:  # crosses q inside (x_{i-1}, x_i)
            b = _cross(xs[i - 1], xs[i], low[i - 1], high[i], q)
            break
    return a, max(a, b)


def _cross(x0: float, x1: float, d0: float, d1: float, q: float) -> float:
    """Where the line from (x0, d0) to (x1, d1), d0 >= d1, takes the value q (clipped to [x0, x1])."""
    if d0 - d1 <= 0.0:
        return x0
    return x0 + (x1 - x0) * min(1.0, max(0.0, (d0 - q) / (d0 - d1)))
