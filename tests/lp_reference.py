"""Reference market clearing: the LP of ../shared/design/clearing.md, solved with HiGHS.

Slow (a general LP solver) and used only to check ``model.clearing.clear``.
Lexicographic like the fast clearing: first maximise welfare, then (second LP, welfare
held at its optimum less a tiny tolerance) maximise the traded volume.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix, vstack


class LPResult(NamedTuple):
    welfare: float
    flows: list[list[float]]  # [offer][segment], from the volume-maximising LP
    fills: list[float]
    prices: list[float]  # duals of the segment balances in the welfare LP
    link_flows: list[float]
    volume: float  # most volume traded by a welfare-maximising allocation (bids filled)


def clear_lp(n_segments, offers, bids, adders=None, caps=None, links=(), lexicographic=True) -> LPResult:
    """Solve the clearing LP; ``lexicographic=False`` skips the second (volume) LP."""
    K = n_segments
    caps = caps or {}
    routes = []  # (j, k, landed cost)
    for j, off in enumerate(offers):
        for k in range(K):
            t = adders[j][k] if adders is not None else 0.0
            if math.isinf(t) or caps.get((off.seller, k), math.inf) <= 0:
                continue
            routes.append((j, k, off.ask + t))
    nx, ny, nz = len(routes), len(bids), len(links)
    nvar = nx + ny + nz
    if nvar == 0:
        return LPResult(0.0, [[0.0] * K for _ in offers], [], [math.nan] * K, [], 0.0)
    c = np.concatenate([[r[2] for r in routes], [-b.price for b in bids], [lk.cost for lk in links]])
    # inequality rows: tranches, then caps
    cap_keys = [key for key, v in caps.items() if 0 < v < math.inf]
    A_ub = lil_matrix((len(offers) + len(cap_keys), nvar))
    b_ub = [o.quantity for o in offers] + [caps[key] for key in cap_keys]
    cap_row = {key: len(offers) + r for r, key in enumerate(cap_keys)}
    for x, (j, k, _) in enumerate(routes):
        A_ub[j, x] = 1.0
        r = cap_row.get((offers[j].seller, k))
        if r is not None:
            A_ub[r, x] = 1.0
    # balance of k: supply in + links in - links out - demand = 0
    A_eq = lil_matrix((K, nvar))
    for x, (_, k, _) in enumerate(routes):
        A_eq[k, x] += 1.0
    for b, bid in enumerate(bids):
        A_eq[bid.segment, nx + b] -= 1.0
    for i, lk in enumerate(links):
        A_eq[lk.dst, nx + ny + i] += 1.0
        A_eq[lk.src, nx + ny + i] -= 1.0
    bounds = (
        [(0, None)] * nx
        + [(0, b.quantity) for b in bids]
        + [(0, None if math.isinf(lk.capacity) else lk.capacity) for lk in links]
    )
    kw = dict(A_eq=A_eq.tocsr(), b_eq=np.zeros(K), bounds=bounds, method="highs")
    A_ub_csr = A_ub.tocsr() if A_ub.shape[0] else None
    res = linprog(c, A_ub=A_ub_csr, b_ub=b_ub if A_ub.shape[0] else None, **kw)
    assert res.status == 0, res.message
    welfare = -res.fun
    # balance row is supply - demand = 0; its marginal is the segment price
    prices = list(res.eqlin.marginals)
    x = res.x
    if lexicographic:
        # maximise volume (sum of fills) with welfare >= optimum - tolerance
        scale = max([1.0] + [abs(v) for v in c])
        slack = 1e-9 * (max(1.0, abs(welfare)) + scale)
        rows = [A_ub] if A_ub.shape[0] else []
        A2 = lil_matrix((1, nvar))
        for i, v in enumerate(c):
            A2[0, i] = v
        A_ub2 = vstack(rows + [A2.tocsr()]).tocsr()
        b_ub2 = (b_ub if A_ub.shape[0] else []) + [-welfare + slack]
        c2 = np.concatenate([np.zeros(nx), -np.ones(ny), np.zeros(nz)])
        res2 = linprog(c2, A_ub=A_ub2, b_ub=b_ub2, **kw)
        assert res2.status == 0, res2.message
        x = res2.x
    flows = [[0.0] * K for _ in offers]
    for i, (j, k, _) in enumerate(routes):
        flows[j][k] += x[i]
    fills = list(x[nx : nx + ny])
    return LPResult(welfare, flows, fills, prices, list(x[nx + ny :]), float(sum(fills)))
