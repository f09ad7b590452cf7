"""The fast clearing against the LP reference, and the properties it must keep."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lp_reference import clear_lp

from model.clearing import Bid, Offer, clear

TOL = 1e-6


@st.composite
def markets(draw, max_segments=4, frictions=True):
    """Random clearing instances; values on a coarse grid so that ties occur."""
    K = draw(st.integers(1, max_segments))
    sellers = [f"s{i}" for i in range(draw(st.integers(1, 5)))]
    grid = st.integers(0, 40).map(lambda v: v * 2.5)
    offers = [
        Offer(draw(st.sampled_from(sellers)), draw(st.integers(0, 20)) * 1.0, draw(grid))
        for _ in range(draw(st.integers(0, 10)))
    ]
    bids = [
        Bid(f"b{b}", draw(st.integers(0, K - 1)), draw(st.integers(0, 20)) * 1.0, draw(grid))
        for b in range(draw(st.integers(0, 10)))
    ]
    adders = None
    caps = {}
    if frictions:
        cell = st.one_of(st.integers(0, 8).map(float), st.just(math.inf))
        adders = [[draw(cell) for _ in range(K)] for _ in offers]
        for s in sellers:
            for k in range(K):
                if draw(st.integers(0, 3)) == 0:
                    caps[(s, k)] = draw(st.integers(0, 15)) * 1.0
    return K, offers, bids, adders, caps


def landed(adders, j, k):
    return 0.0 if adders is None else adders[j][k]


@settings(max_examples=300, deadline=None)
@given(markets())
def test_agrees_with_lp(market):
    """Same welfare as the LP; the LP's prices lie in the fast clearing's price interval."""
    K, offers, bids, adders, caps = market
    fast = clear(K, offers, bids, adders, caps)
    welfare, _, _, lp_prices = clear_lp(K, offers, bids, adders, caps)
    assert math.isclose(fast.welfare, welfare, rel_tol=1e-9, abs_tol=1e-6)
    for k in range(K):
        if not any(b.segment == k and b.quantity > 0 for b in bids):
            assert math.isnan(fast.prices[k])
            continue
        lo, hi = fast.price_lo[k], fast.price_hi[k]
        assert lo - TOL <= lp_prices[k] <= hi + TOL
        assert lo - TOL <= fast.prices[k] <= hi + TOL
        if hi - lo < TOL:  # unique price: must equal the LP's
            assert math.isclose(fast.prices[k], lp_prices[k], abs_tol=1e-6)


@settings(max_examples=300, deadline=None)
@given(markets())
def test_allocation_properties(market):
    K, offers, bids, adders, caps = market
    r = clear(K, offers, bids, adders, caps)
    for j, off in enumerate(offers):
        assert all(x >= 0 for x in r.flows[j])
        assert r.sold(j) <= off.quantity + TOL  # nobody sells more than offered
        for k in range(K):
            if r.flows[j][k] > TOL:
                assert landed(adders, j, k) != math.inf
                # an accepted offer's landed price <= the segment price
                assert off.ask + landed(adders, j, k) <= r.prices[k] + TOL
    for b, bid in enumerate(bids):
        assert -TOL <= r.fills[b] <= bid.quantity + TOL  # nor buys more than bid
        if r.fills[b] > TOL:
            assert r.prices[bid.segment] <= bid.price + TOL  # segment price <= accepted bid
    for (seller, k), c in caps.items():
        sent = sum(r.flows[j][k] for j, o in enumerate(offers) if o.seller == seller)
        assert sent <= c + TOL
    for k in range(K):  # balance per segment
        demand = sum(r.fills[b] for b, bid in enumerate(bids) if bid.segment == k)
        assert math.isclose(r.traded(k), demand, abs_tol=1e-6)
        if not math.isnan(r.prices[k]):
            assert math.isfinite(r.prices[k]) and r.prices[k] >= 0
    supply = sum(o.quantity for o in offers)
    demand = sum(b.quantity for b in bids)
    assert r.traded() <= min(supply, demand) + TOL


@settings(max_examples=200, deadline=None)
@given(markets(frictions=False))
def test_no_frictions_one_price(market):
    """Without adders or caps all segments with trade or bids share one price interval."""
    K, offers, bids, _, _ = market
    if not any(o.quantity > 0 for o in offers):
        return  # no seller links the segments
    r = clear(K, offers, bids)
    live = [k for k in range(K) if not math.isnan(r.prices[k])]
    lo = max(r.price_lo[k] for k in live) if live else 0
    hi = min(r.price_hi[k] for k in live) if live else 0
    assert lo <= hi + TOL
    for k in live:
        assert math.isclose(r.prices[k], r.prices[live[0]], abs_tol=1e-6)


def test_export_ban_sends_nothing():
    offers = [Offer("CN", 100, 10), Offer("AU", 5, 40)]
    bids = [Bid("EU", 0, 50, 200), Bid("CN", 1, 50, 60)]
    r = clear(2, offers, bids, caps={("CN", 0): 0.0})
    assert r.flows[0][0] == 0
    assert r.flows[1][0] == 5  # the bloc buys what it can elsewhere
    assert r.prices[0] == 200  # and the rest is unserved at the top bid
    assert r.fills[0] == 5


def test_levy_floor_lifts_landed_price():
    """A levy adder max(0, F - ask - transport) keeps non-member supply out below F."""
    F, tau = 110.0, 2.0
    offers = [Offer("CN", 100, 30), Offer("US", 10, 60)]
    adders = [[tau + max(0.0, F - 30 - tau), 0.0], [0.0, tau]]
    bids = [Bid("EU", 0, 30, 300), Bid("EU", 0, 30, 80), Bid("CN", 1, 60, 100)]
    r = clear(2, offers, bids, adders)
    assert r.flows[0][0] > 0  # imports still come, but land at the floor
    assert r.prices[0] >= F
    assert r.fills[1] == 0  # the bid at 80 is below the landed floor


def test_pro_rata_rationing():
    offers = [Offer("A", 6, 10)]
    bids = [Bid("x", 0, 4, 50), Bid("y", 0, 8, 50)]
    r = clear(1, offers, bids)
    assert math.isclose(r.fills[0], 2) and math.isclose(r.fills[1], 4)
    assert r.prices[0] == 50


def test_non_unique_price_is_midpoint():
    offers = [Offer("A", 10, 20)]
    bids = [Bid("x", 0, 10, 30)]
    r = clear(1, offers, bids)
    assert (r.price_lo[0], r.price_hi[0], r.prices[0]) == (20, 30, 25)


def test_empty_segment_has_nan_price():
    r = clear(2, [Offer("A", 10, 20)], [Bid("x", 0, 5, 30)])
    assert math.isnan(r.prices[1])
    assert r.prices[0] == 20  # surplus supply: price at the marginal offer


def test_tied_offers_share_pro_rata_in_any_order():
    """Offers with the same ask and landed costs (uncapped sellers) share sales pro rata."""
    offers = [Offer("EU", 10, 30), Offer("US", 30, 30), Offer("JP", 20, 30), Offer("CN", 100, 50)]
    adders = [[0, 2], [0, 2], [0, 2], [2, 0]]
    bids = [Bid("x", 0, 30, 80), Bid("y", 1, 5, 60)]
    first = clear(2, offers, bids, adders)
    assert [round(first.flows[j][0], 9) for j in range(3)] == [5.0, 15.0, 10.0]
    order = [2, 3, 0, 1]
    again = clear(2, [offers[i] for i in order], bids, [adders[i] for i in order])
    for new, old in enumerate(order):
        assert again.flows[new] == pytest.approx(first.flows[old])
