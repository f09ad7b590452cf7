"""Market clearing: a pure function, no Mesa inside.

One stage (concentrate or refined), one month, segments ``0..K-1``. Sellers
offer tranches ``(quantity t, ask $/kg)``; each tranche has a landed-cost
adder per segment (transport, tariff, levy; ``inf`` = may not go there); caps
limit what a seller sends to a segment (export controls). Buyers bid
``(segment, quantity t, price $/kg)`` steps.

The result is the competitive equilibrium, i.e. the allocation that maximises

    welfare = sum_b v_b*y_b - sum_{j,k} (a_j + t_jk)*x_jk

subject to tranche quantities, caps and a balance per segment
(``../shared/design/clearing.md``, checked against an LP in the tests).

Algorithm (``clear``): successive shortest paths on the flow network
``S -> tranche -> [seller cap node] -> segment -> bid -> T``: start with no
trade and repeatedly push flow along the cheapest residual path from S to T
(Dijkstra on reduced costs, Johnson potentials) while that path's cost is
negative, i.e. while one more unit adds welfare. Each augmentation saturates a
tranche, a bid, or a cap; a new search is needed only after a tranche or cap
(not a bid) is used up, so there are about (#offers + #caps) searches. Bids of
the same segment and price are merged and their fill is shared pro rata (the
rationing rule); so are offers with the same ask and landed costs, unless their
seller is capped: an allocation never depends on the order of the offers.

Prices: the segment price is the dual of its balance. The set of equilibrium
price vectors is an interval lattice ``[lo, hi]``: ``hi[k]`` is the cheapest
way to bring one more unit into ``k`` and ``lo[k]`` the most one more unit in
``k`` is worth, both by shortest paths in the final residual network. The
price rule, for a segment where something trades, is the midpoint
``(lo + hi)/2`` -- the midpoint of two equilibrium price vectors, so itself
one. For a segment with bids where nothing trades, the price is the highest
one consistent with the traded segments' prices (the landed cost of one more
unit: import parity), or, if no supply can reach it at all (an export ban),
``lo``: its highest unserved bid. A segment without bids has price NaN.
So without frictions every segment has the same price.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Offer", "Bid", "Clearing", "clear"]

INF = math.inf
EPS = 1e-9  # quantities below this (t) are treated as zero


@dataclass(frozen=True, slots=True)
class Offer:
    """A seller's tranche: ``quantity`` t at ``ask`` $/kg."""

    seller: str
    quantity: float
    ask: float


@dataclass(frozen=True, slots=True)
class Bid:
    """A buyer's step: up to ``quantity`` t at up to ``price`` $/kg in ``segment``."""

    buyer: str
    segment: int
    quantity: float
    price: float
    upper: float | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """TEMPORARY placeholder (ignored) until the clearing branch lands."""

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
    interval of equilibrium prices; ``welfare`` in $/kg x t.
    """

    flows: list[list[float]]
    fills: list[float]
    prices: list[float]
    price_lo: list[float]
    price_hi: list[float]
    welfare: float
    link_flows: list[float] | None = None

    def sold(self, j: int) -> float:
        """Total sold by offer ``j`` (t)."""
        return sum(self.flows[j])

    def traded(self, k: int | None = None) -> float:
        """Quantity traded in segment ``k`` (all segments if None), t."""
        if k is None:
            return sum(sum(row) for row in self.flows)
        return sum(row[k] for row in self.flows)


class _Graph:
    """Residual network in flat lists: edge ``e`` and ``e ^ 1`` are a pair."""

    __slots__ = ("to", "cap", "cost", "adj")

    def __init__(self, n: int) -> None:
        self.to: list[int] = []
        self.cap: list[float] = []
        self.cost: list[float] = []
        self.adj: list[list[int]] = [[] for _ in range(n)]

    def add(self, u: int, v: int, cap: float, cost: float, listed: bool = True) -> int:
        """Add edge u->v and its reverse; ``listed=False`` keeps u->v out of ``adj[u]``."""
        e = len(self.to)
        self.to += (v, u)
        self.cap += (cap, 0.0)
        self.cost += (cost, -cost)
        if listed:
            self.adj[u].append(e)
        self.adj[v].append(e + 1)
        return e


def clear(
    n_segments: int,
    offers: Sequence[Offer],
    bids: Sequence[Bid],
    adders: Sequence[Sequence[float]] | None = None,
    caps: Mapping[tuple[str, int], float] | None = None,
    links=(),
) -> Clearing:
    """Clear one market: welfare-maximising allocation and segment prices.

    ``adders[j][k]``: landed-cost adder of offer ``j`` into segment ``k``
    ($/kg; ``inf`` forbids the route; default 0). ``caps[(seller, k)]``: most
    a seller may send to ``k`` in total (t; absent = unlimited).
    """
    K = n_segments
    caps = caps or {}
    S, T = 0, 1
    # Merge bids of equal (segment, price): one edge each, fills pro rata.
    groups: dict[tuple[int, float], list] = {}  # -> [total quantity, bid indices]
    for b, bid in enumerate(bids):
        if bid.quantity > EPS and bid.price >= 0.0:
            key = (bid.segment, bid.price)
            group = groups.get(key)
            if group is None:
                if not 0 <= bid.segment < K:
                    raise ValueError(f"bid segment {bid.segment} outside 0..{K - 1}")
                groups[key] = [bid.quantity, [b]]
            else:
                group[0] += bid.quantity
                group[1].append(b)
    cap_nodes: dict[tuple[str, int], int] = {}
    n = 2 + K
    for key, c in caps.items():
        if c > EPS and math.isfinite(c):
            cap_nodes[key] = n
            n += 1
    # Merge offers with the same ask and landed costs whose seller has no caps: one tranche
    # node each, sales shared pro rata (the same rationing rule as for bids). Offers of
    # capped sellers keep their own nodes.
    capped = {seller for seller, _ in caps}
    offer_groups: dict[object, list] = {}  # key -> [total quantity, offer indices, adder row]
    for j, off in enumerate(offers):
        if off.quantity <= EPS:
            continue
        row = tuple(adders[j]) if adders is not None else (0.0,) * K
        key = ("own", j) if off.seller in capped else (off.ask, row)
        group = offer_groups.get(key)
        if group is None:
            offer_groups[key] = [off.quantity, [j], row]
        else:
            group[0] += off.quantity
            group[1].append(j)
    tranche0 = n
    n += len(offer_groups)
    g = _Graph(n)

    # Initial potentials: shortest distances from S in the (acyclic) empty network.
    pot = [INF] * n
    pot[S] = 0.0
    tranche_edges: list[tuple[list[int], float, list[tuple[int, int]]]] = []  # (offers, quantity, routes)
    for node, (qty, members, row) in enumerate(offer_groups.values(), start=tranche0):
        off = offers[members[0]]
        routes: list[tuple[int, int]] = []
        tranche_edges.append((members, qty, routes))
        g.add(S, node, qty, off.ask)
        pot[node] = off.ask
        for k in range(K):
            t = row[k]
            if t == INF:
                continue
            key = (off.seller, k)
            if key in caps:
                cn = cap_nodes.get(key)
                if cn is None:  # cap of zero: route closed
                    continue
                target = cn
            else:
                target = 2 + k
            routes.append((k, g.add(node, target, INF, t)))
            if off.ask + t < pot[target]:
                pot[target] = off.ask + t
    for (seller, k), cn in cap_nodes.items():
        g.add(cn, 2 + k, caps[(seller, k)], 0.0)
        if pot[cn] < pot[2 + k]:
            pot[2 + k] = pot[cn]
    # Bid edges segment -> T, kept out of adj and sorted best (highest price) first:
    # the search only ever needs a segment's best unfilled bid.
    bid_edges: list[tuple[int, list[int]]] = []
    bids_out: dict[int, list[int]] = {}
    for (k, price), (qty, members) in sorted(groups.items(), key=lambda kv: -kv[0][1]):
        e = g.add(2 + k, T, qty, -price, listed=False)
        bid_edges.append((e, members))
        bids_out.setdefault(2 + k, []).append(e)
    for v in range(n):
        if pot[v] == INF:
            pot[v] = 0.0  # unreachable from S: never relaxed into, value irrelevant

    _successive_shortest_paths(g, pot, S, bids_out)

    flows = [[0.0] * K for _ in offers]
    welfare = 0.0
    for members, qty, routes in tranche_edges:
        ask = offers[members[0]].ask
        for k, e in routes:
            x = g.cap[e ^ 1]
            if x > EPS:
                welfare -= (ask + g.cost[e]) * x
                for j in members:
                    flows[j][k] += x * offers[j].quantity / qty
    fills = [0.0] * len(bids)
    for e, members in bid_edges:
        y = g.cap[e ^ 1]
        if y <= EPS:
            continue
        welfare += -g.cost[e] * y
        share = y / (y + g.cap[e])  # cap[e] is the unfilled rest
        for b in members:
            fills[b] = bids[b].quantity * share

    # every edge leaving each node, bids included: the price searches need them all
    full_adj = [a + bids_out[u] if u in bids_out else a for u, a in enumerate(g.adj)]
    origin = {S: 0.0, T: 0.0}
    hi = _distances(g, full_adj, origin, True)
    lo_neg = _distances(g, full_adj, origin, False)
    has_bids = [False] * K
    for k, _ in groups:
        has_bids[k] = True
    traded = [sum(row[k] for row in flows) > EPS for k in range(K)]
    price_lo = [-lo_neg[2 + k] for k in range(K)]
    price_hi = [hi[2 + k] for k in range(K)]
    prices = [math.nan] * K
    for k in range(K):
        if has_bids[k] and traded[k]:
            prices[k] = 0.5 * (price_lo[k] + price_hi[k])
    if any(has_bids[k] and not traded[k] for k in range(K)):
        # Nothing trades in k: its price is the highest one consistent with the
        # traded segments' prices (import parity), else its highest unserved bid.
        labels = dict(origin)
        labels.update({2 + k: prices[k] for k in range(K) if traded[k] and has_bids[k]})
        parity = _distances(g, full_adj, labels, True)
        for k in range(K):
            if has_bids[k] and not traded[k]:
                prices[k] = parity[2 + k] if parity[2 + k] < INF else price_lo[k]
    return Clearing(flows, fills, prices, price_lo, price_hi, welfare, [0.0] * len(links))


def _successive_shortest_paths(g: _Graph, pot: list[float], S: int, bids_out: dict[int, list[int]]) -> None:
    """Augment along cheapest S-T paths while they add welfare (cost < 0).

    Bid edges (segment -> T) are kept out of the search: one Dijkstra (reduced costs,
    Johnson potentials) finds the cheapest path from S to every segment, and a path to T
    is such a path plus the segment's best unfilled bid. While augmentations saturate only
    bids, no distance to a segment changes (the reverses of shortest-path edges have reduced
    cost 0), so the next path is read off the same search ("walking down the bid ladder");
    a new search is needed only when a tranche or a cap is used up. A search stops once
    every segment with bids is settled; nodes not settled then move their potential by
    that distance, which keeps every reduced cost non-negative. Edges out of T are never
    searched: no S-T path passes through T.
    """
    to, cap, cost, adj = g.to, g.cap, g.cost, g.adj
    n = len(adj)
    segments = list(bids_out)
    best = dict.fromkeys(segments, 0)  # index of each segment's best unfilled bid edge

    def top(u: int) -> int:
        edges = bids_out[u]
        i = best[u]
        while i < len(edges) and cap[edges[i]] <= EPS:
            i += 1
        best[u] = i
        return edges[i] if i < len(edges) else -1

    while True:
        dist = [INF] * n
        prev = [-1] * n
        dist[S] = 0.0
        heap = [(0.0, S)]
        waiting = set(segments)  # stop once every segment with bids is settled
        reach = INF  # distance at which the search stopped
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist[u]:
                continue
            if u in waiting:
                waiting.discard(u)
                if not waiting:
                    reach = d
                    break
            pu = pot[u]
            for e in adj[u]:
                if cap[e] > EPS:
                    v = to[e]
                    nd = d + cost[e] + pu - pot[v]
                    if nd < dist[v] - 1e-12:
                        dist[v] = nd
                        prev[v] = e
                        heapq.heappush(heap, (nd, v))
        for v in range(n):  # nodes beyond the stop move by `reach`: reduced costs stay >= 0
            if dist[v] < reach:
                pot[v] += dist[v]
            elif reach < INF:
                pot[v] += reach
        while True:
            # cheapest S-T path: (actual) cost of reaching a segment plus its best bid
            seg, bid, path_cost = -1, -1, 1e-9
            for u in segments:
                if dist[u] < INF:
                    e = top(u)
                    if e >= 0 and pot[u] - pot[S] + cost[e] < path_cost:
                        seg, bid, path_cost = u, e, pot[u] - pot[S] + cost[e]
            if seg < 0:
                return  # no path adds welfare
            push = cap[bid]
            v = seg
            while v != S:
                e = prev[v]
                if cap[e] < push:
                    push = cap[e]
                v = to[e ^ 1]
            cap[bid] -= push
            cap[bid ^ 1] += push
            used_up = False
            v = seg
            while v != S:
                e = prev[v]
                cap[e] -= push
                cap[e ^ 1] += push
                used_up = used_up or cap[e] <= EPS
                v = to[e ^ 1]
            if used_up:
                break  # a tranche or cap is used up: search again


def _distances(g: _Graph, adj: list[list[int]], init: Mapping[int, float], forward: bool) -> list[float]:
    """Shortest path lengths from nodes with initial labels ``init`` (to them if not ``forward``).

    Bellman-Ford with a queue (SPFA) on the residual network, which has no
    negative cycles at the optimum. ``adj[u]`` lists every edge leaving u (forward
    mode relaxes them, backward mode their reverse pairs).
    """
    to, cap, cost = g.to, g.cap, g.cost
    n = len(adj)
    dist = [INF] * n
    queue = deque(init)
    inq = [False] * n
    for s, label in init.items():
        dist[s] = label
        inq[s] = True
    budget = 4 * n * n + 100  # guard against numerical near-cycles
    while queue and budget:
        budget -= 1
        u = queue.popleft()
        inq[u] = False
        du = dist[u]
        for e in adj[u]:
            # forward: residual edge u->v; backward: residual edge v->u is e^1
            r = e if forward else e ^ 1
            if cap[r] > EPS:
                v = to[e]
                nd = du + cost[r]
                if nd < dist[v] - 1e-9:
                    dist[v] = nd
                    if not inq[v]:
                        inq[v] = True
                        queue.append(v)
    return dist
