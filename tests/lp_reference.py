"""Reference market clearing: the LP of ../shared/design/clearing.md, solved with HiGHS.

Slow (a general LP solver) and used only to check ``model.clearing.clear``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix


def clear_lp(n_segments, offers, bids, adders=None, caps=None):
    """Return (welfare, flows[j][k], fills[b], prices[k]) from the LP and its duals."""
    K = n_segments
    caps = caps or {}
    routes = []  # (j, k, landed cost)
    for j, off in enumerate(offers):
        for k in range(K):
            t = adders[j][k] if adders is not None else 0.0
            if math.isinf(t) or caps.get((off.seller, k), math.inf) <= 0:
                continue
            routes.append((j, k, off.ask + t))
    nx, ny = len(routes), len(bids)
    if nx + ny == 0:
        return 0.0, [[0.0] * K for _ in offers], [], [math.nan] * K
    c = np.concatenate([[r[2] for r in routes], [-b.price for b in bids]])
    # inequality rows: tranches, then caps
    cap_keys = [key for key, v in caps.items() if 0 < v < math.inf]
    A_ub = lil_matrix((len(offers) + len(cap_keys), nx + ny))
    b_ub = [o.quantity for o in offers] + [caps[key] for key in cap_keys]
    for x, (j, k, _) in enumerate(routes):
        A_ub[j, x] = 1.0
        seller = offers[j].seller
        for r, (s, kk) in enumerate(cap_keys):
            if s == seller and kk == k:
                A_ub[len(offers) + r, x] = 1.0
    A_eq = lil_matrix((K, nx + ny))
    for x, (_, k, _) in enumerate(routes):
        A_eq[k, x] = 1.0
    for b, bid in enumerate(bids):
        A_eq[bid.segment, nx + b] = -1.0
    bounds = [(0, None)] * nx + [(0, b.quantity) for b in bids]
    res = linprog(
        c,
        A_ub=A_ub.tocsr() if A_ub.shape[0] else None,
        b_ub=b_ub if A_ub.shape[0] else None,
        A_eq=A_eq.tocsr(),
        b_eq=np.zeros(K),
        bounds=bounds,
        method="highs",
    )
    assert res.status == 0, res.message
    flows = [[0.0] * K for _ in offers]
    for x, (j, k, _) in enumerate(routes):
        flows[j][k] += res.x[x]
    fills = list(res.x[nx:])
    # balance row is supply - demand = 0; its marginal is the segment price
    prices = list(res.eqlin.marginals)
    return -res.fun, flows, fills, prices
