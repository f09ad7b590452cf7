"""The fast clearing against the LP reference, and the properties it must keep."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lp_reference import clear_lp

import model.clearing as clearing
from model.clearing import Bid, Link, Offer, clear

TOL = 1e-6


@st.composite
def markets(draw, max_segments=4, frictions=True, links=False, graded=False, negative=False, size=10):
    """Random clearing instances; values on a coarse grid so that ties occur."""
    K = draw(st.integers(1, max_segments))
    sellers = [f"s{i}" for i in range(draw(st.integers(1, 5)))]
    grid = st.integers(0, 40).map(lambda v: v * 2.5)
    offers = [
        Offer(draw(st.sampled_from(sellers)), draw(st.integers(0, 20)) * 1.0, draw(grid))
        for _ in range(draw(st.integers(0, size)))
    ]
    bids = []
    for b in range(draw(st.integers(0, size))):
        price = draw(grid)
        upper = None
        if graded and draw(st.booleans()):
            upper = price + draw(st.integers(0, 20)) * 2.5
        bids.append(Bid(f"b{b}", draw(st.integers(0, K - 1)), draw(st.integers(0, 20)) * 1.0, price, upper))
    adders = None
    caps = {}
    if frictions:
        low = -8 if negative else 0
        cell = st.one_of(st.integers(low, 8).map(float), st.just(math.inf))
        # a subsidy may lower a landed cost to zero, not below
        adders = [[max(draw(cell), -o.ask) for _ in range(K)] for o in offers]
        for s in sellers:
            for k in range(K):
                if draw(st.integers(0, 3)) == 0:
                    caps[(s, k)] = draw(st.one_of(st.integers(0, 15).map(float), st.just(math.inf)))
    routes = []
    if links and K > 1:
        for _ in range(draw(st.integers(0, 4))):
            src, dst = draw(st.permutations(range(K)))[:2]
            capacity = draw(st.one_of(st.just(math.inf), st.integers(0, 15).map(float)))
            routes.append(Link(src, dst, draw(st.integers(0, 6)) * 1.0, capacity))
    return K, offers, bids, adders, caps, routes


def landed(adders, j, k):
    return 0.0 if adders is None else adders[j][k]


def check_links(r, links):
    """No arbitrage: p_dst <= p_src + cost on a link with spare capacity, >= where it carries flow."""
    assert len(r.link_flows) == len(links)
    for link, z in zip(links, r.link_flows, strict=True):
        assert -TOL <= z <= link.capacity + TOL
        p_src, p_dst = r.prices[link.src], r.prices[link.dst]
        if math.isnan(p_src) or math.isnan(p_dst):
            continue
        if z < link.capacity - TOL:
            assert p_dst <= p_src + link.cost + TOL
        if z > TOL:
            assert p_dst >= p_src + link.cost - TOL


def check_against_lp(market, graded):
    K, offers, bids, adders, caps, links = market
    fast = clear(K, offers, bids, adders, caps, links)
    lp = clear_lp(K, offers, bids, adders, caps, links)
    assert math.isclose(fast.welfare, lp.welfare, rel_tol=1e-9, abs_tol=1e-6)
    volume = sum(fast.fills)  # the most volume among welfare-maximising allocations
    # the LP's volume pass may give up 1e-9 x (welfare + price scale) of welfare; on the grid a
    # path that adds volume but costs welfare costs >= 0.5 $/kg, so it gains at most twice that
    slack = 2e-9 * (abs(lp.welfare) + 200) + 1e-6
    assert lp.volume - slack <= volume <= lp.volume + 1e-6
    for k in range(K):
        if not any(b.segment == k and b.quantity > 0 for b in bids):
            assert math.isnan(fast.prices[k])
            continue
        lo, hi = fast.price_lo[k], fast.price_hi[k]
        assert lo - TOL <= lp.prices[k] <= hi + TOL  # [lo, hi] is the LP's interval of duals
        assert fast.prices[k] >= lo - TOL  # never below it, whatever the bids' grading
        if not graded:
            assert fast.prices[k] <= hi + TOL
            if hi - lo < TOL:  # unique price: must equal the LP's
                assert math.isclose(fast.prices[k], lp.prices[k], abs_tol=1e-6)
    check_links(fast, links)


@settings(max_examples=300, deadline=None)
@given(markets())
def test_agrees_with_lp(market):
    """Same welfare and volume as the LP; the LP's prices lie in the fast clearing's price interval."""
    check_against_lp(market, graded=False)


@settings(max_examples=300, deadline=None)
@given(markets(links=True, negative=True))
def test_agrees_with_lp_links_and_subsidies(market):
    check_against_lp(market, graded=False)


@settings(max_examples=100, deadline=None)
@given(markets(max_segments=5, links=True, negative=True, size=40))
def test_agrees_with_lp_larger(market):
    """Bigger instances: many re-routings between segments through the same tranches."""
    check_against_lp(market, graded=False)


@settings(max_examples=300, deadline=None)
@given(markets(links=True, graded=True, negative=True))
def test_graded_prices_never_below_lp_interval(market):
    """Graded bids change prices, not the allocation: the LP still agrees on welfare and volume."""
    check_against_lp(market, graded=True)


@settings(max_examples=200, deadline=None)
@given(markets(links=True, negative=True))
def test_vertical_steps_general_rule_is_midpoint(market):
    """With vertical steps only the general price rule gives today's midpoint (lo + hi)/2."""
    K, offers, bids, adders, caps, links = market
    short = clear(K, offers, bids, adders, caps, links)
    try:
        clearing._MIDPOINT_SHORTCUT = False
        general = clear(K, offers, bids, adders, caps, links)
    finally:
        clearing._MIDPOINT_SHORTCUT = True
    assert general.prices == pytest.approx(short.prices, abs=1e-9, nan_ok=True)


@settings(max_examples=300, deadline=None)
@given(markets(links=True, negative=True))
def test_allocation_properties(market):
    K, offers, bids, adders, caps, links = market
    r = clear(K, offers, bids, adders, caps, links)
    for j, off in enumerate(offers):
        assert all(x >= 0 for x in r.flows[j])
        assert r.sold(j) <= off.quantity + TOL  # nobody sells more than offered
        for k in range(K):
            if r.flows[j][k] > TOL:
                assert landed(adders, j, k) != math.inf
                # an accepted offer's landed price <= the segment price (NaN: a transit segment)
                assert not off.ask + landed(adders, j, k) > r.prices[k] + TOL
    for b, bid in enumerate(bids):
        assert -TOL <= r.fills[b] <= bid.quantity + TOL  # nor buys more than bid
        if r.fills[b] > TOL:
            assert r.prices[bid.segment] <= bid.price + TOL  # segment price <= accepted bid
    for (seller, k), c in caps.items():
        sent = sum(r.flows[j][k] for j, o in enumerate(offers) if o.seller == seller)
        assert sent <= c + TOL
    for k in range(K):  # balance per segment, links included
        demand = sum(r.fills[b] for b, bid in enumerate(bids) if bid.segment == k)
        net_links = sum(z * ((lk.dst == k) - (lk.src == k)) for lk, z in zip(links, r.link_flows, strict=True))
        assert math.isclose(r.traded(k) + net_links, demand, abs_tol=1e-6)
        if not math.isnan(r.prices[k]):
            assert math.isfinite(r.prices[k]) and r.prices[k] >= 0
    supply = sum(o.quantity for o in offers)
    demand = sum(b.quantity for b in bids)
    assert r.traded() <= min(supply, demand) + TOL
    check_links(r, links)


@settings(max_examples=200, deadline=None)
@given(markets(frictions=False))
def test_no_frictions_one_price(market):
    """Without adders or caps all segments where something is bought share one price."""
    K, offers, bids, _, _, _ = market
    if not any(o.quantity > 0 for o in offers):
        return  # no seller links the segments
    r = clear(K, offers, bids)
    live = [k for k in range(K) if not math.isnan(r.prices[k])]
    lo = max(r.price_lo[k] for k in live) if live else 0
    hi = min(r.price_hi[k] for k in live) if live else 0
    assert lo <= hi + TOL
    bought = [k for k in live if any(r.fills[b] > TOL for b, bid in enumerate(bids) if bid.segment == k)]
    for k in bought:
        assert math.isclose(r.prices[k], r.prices[bought[0]], abs_tol=1e-6)
    for k in set(live) - set(bought):  # nothing bought: that price, or its top bid if lower
        top = max(b.price for b in bids if b.segment == k and b.quantity > 0)
        if bought:
            assert math.isclose(r.prices[k], min(r.prices[bought[0]], top), abs_tol=1e-6)


@settings(max_examples=200, deadline=None)
@given(markets(frictions=False, graded=True))
def test_no_trade_price_at_most_top_bid(market):
    """Without links, a segment with bids and no trade is priced at most at its highest bid's top."""
    K, offers, bids, _, _, _ = market
    r = clear(K, offers, bids)
    for k in range(K):
        mine = [b for b in bids if b.segment == k and b.quantity > 0]
        if mine and not any(r.fills[bids.index(b)] > TOL for b in mine):
            assert r.prices[k] <= max(b.price if b.upper is None else b.upper for b in mine) + TOL


# --- item: zero-surplus trades -------------------------------------------------


@pytest.mark.parametrize("shift", [0, 1, -1])
def test_zero_surplus_trade_takes_place(shift):
    """A bid equal to a landed ask (also 1 ulp above or below) trades: most volume among optima."""
    ask = 0.95 * (51.58 - 20)  # the model's refiner bid vs mine ask, not exactly representable
    price = ask if shift == 0 else math.nextafter(ask, math.inf if shift > 0 else -math.inf)
    r = clear(1, [Offer("CN mine", 14000, ask)], [Bid("CN refiner", 0, 14000, price)])
    assert r.fills[0] == pytest.approx(14000)
    assert r.prices[0] == pytest.approx(ask)
    lp = clear_lp(1, [Offer("CN mine", 14000, ask)], [Bid("CN refiner", 0, 14000, price)])
    assert lp.volume == pytest.approx(14000)


def test_zero_surplus_with_transport_and_levy():
    """A landed cost equal to the bid through an adder (sum rounded differently) still trades."""
    ask, tau = 0.1 + 0.2, 0.7  # 0.1 + 0.2 + 0.7 != 1.0 in floats
    r = clear(2, [Offer("A", 10, ask)], [Bid("x", 1, 10, 1.0)], [[0.0, tau]])
    assert r.fills[0] == pytest.approx(10)


# --- item: no-trade segments ---------------------------------------------------


def test_no_trade_price_capped_at_top_bid():
    """Import parity with a levy (304.26) above the choke (275): the price is the choke."""
    offers = [Offer("MY", 100, 270)]
    adders = [[2 + 32.26, 0.0]]
    bids = [Bid("EU", 0, 50, 275), Bid("RoW", 1, 10, 280)]
    r = clear(2, offers, bids, adders)
    assert r.fills[0] == 0 and r.fills[1] == 10
    assert r.prices[0] == 275
    graded = clear(2, offers, [Bid("EU", 0, 50, 200, upper=275), bids[1]], adders)
    assert graded.prices[0] == 275  # the top of a graded step


# --- item: graded prices -------------------------------------------------------


def linear_demand(segment, total, choke, floor, steps):
    """Steps approximating the inverse demand p = choke - (choke - floor) * q / total."""
    width = (choke - floor) / steps
    return [
        Bid(f"d{i}", segment, total / steps, floor + i * width, upper=floor + (i + 1) * width) for i in range(steps)
    ]


def test_graded_price_interpolates():
    bids = linear_demand(0, 100, 200, 0, 4)  # D(p) = 100 - p/2
    r = clear(1, [Offer("A", 30, 0.0)], bids)
    assert r.fills == pytest.approx([0, 0, 5, 25])  # the allocation is the vertical steps'
    assert r.prices[0] == pytest.approx(140)  # D(140) = 30
    assert r.prices[0] >= r.price_lo[0]


@pytest.mark.parametrize("steps", [4, 16])
def test_supply_cut_raises_price_strictly(steps):
    """Fixed (vertical) supply into the bloc cut by 10-60 %: strictly higher prices."""
    bids = linear_demand(0, 1000, 275, 20, steps) + [Bid("world", 1, 5000, 55)]
    prices = []
    for cut in (0.0, 0.1, 0.2, 0.4, 0.6):
        offers = [Offer("CN", 4000, 30), Offer("AU", 100, 40)]
        caps = {("CN", 0): 600 * (1 - cut)}  # a binding export quota into the bloc
        r = clear(2, offers, bids, [[2, 0], [0, 2]], caps)
        assert r.traded(0) == pytest.approx(600 * (1 - cut) + 100)
        prices.append(r.prices[0])
    assert all(a < b for a, b in zip(prices, prices[1:], strict=False)), prices
    # on the demand curve p = 275 - 255 Q / 1000
    assert prices == pytest.approx([275 - 0.255 * (600 * (1 - cut) + 100) for cut in (0, 0.1, 0.2, 0.4, 0.6)])


def test_vertical_supply_one_segment():
    bids = linear_demand(0, 1000, 275, 20, 8)
    prices = [clear(1, [Offer("S", 800 * (1 - cut), 10)], bids).prices[0] for cut in (0, 0.1, 0.2, 0.4, 0.6)]
    assert all(a < b for a, b in zip(prices, prices[1:], strict=False)), prices
    # D(p) = 1000 * (275 - p) / 255 = Q
    for cut, p in zip((0, 0.1, 0.2, 0.4, 0.6), prices, strict=True):
        assert p == pytest.approx(275 - 255 * 800 * (1 - cut) / 1000)


def test_graded_price_clipped_to_supply_side():
    """Spare supply at 40: the price cannot exceed the landed cost of one more unit."""
    bids = linear_demand(0, 100, 200, 0, 4)
    r = clear(1, [Offer("A", 1000, 40.0)], bids)
    assert r.prices[0] == pytest.approx(40)


def test_bad_upper_rejected():
    for upper in (5, math.inf, math.nan):
        with pytest.raises(ValueError):
            Bid("x", 0, 1, 10, upper=upper)


# --- item: links ---------------------------------------------------------------


def test_link_leaks_a_ban():
    """An export ban into the bloc leaks through the world segment, up to the link's capacity."""
    offers = [Offer("CN", 1000, 30)]
    bids = [Bid("EU", 0, 100, 275), Bid("RoW", 1, 500, 55)]
    caps = {("CN", 0): 0.0}
    link = Link(1, 0, 5.0, 40.0)
    r = clear(2, offers, bids, [[2, 2]], caps, [link])
    assert r.link_flows == pytest.approx([40])
    assert r.fills[0] == pytest.approx(40)
    assert r.prices[0] == 275  # the link is full: the bloc price is its unserved bid
    open_link = clear(2, offers, bids, [[2, 2]], caps, [Link(1, 0, 5.0)])
    assert open_link.fills[0] == pytest.approx(100)
    assert open_link.prices[0] == pytest.approx(open_link.prices[1] + 5)
    assert open_link.welfare == pytest.approx(100 * 275 + 500 * 55 - 600 * 32 - 100 * 5)


def test_bad_links_rejected():
    for link in (Link(0, 0, 1.0), Link(0, 2, 1.0), Link(0, 1, -1.0), Link(0, 1, math.inf)):
        with pytest.raises(ValueError):
            clear(2, [], [], links=[link])


# --- item: negative adders -----------------------------------------------------


def test_subsidy_lowers_landed_cost():
    """A contract for difference: a -20 adder lands a 50 ask at 30 in the bloc."""
    offers = [Offer("US", 10, 50), Offer("CN", 10, 35)]
    bids = [Bid("EU", 0, 10, 40)]
    r = clear(1, offers, bids, [[-20], [0]])
    assert r.flows[0][0] == pytest.approx(10) and r.flows[1][0] == 0
    assert r.welfare == pytest.approx(10 * (40 - 30))
    lp = clear_lp(1, offers, bids, [[-20], [0]])
    assert lp.welfare == pytest.approx(r.welfare)


def test_subsidy_below_zero_rejected():
    with pytest.raises(ValueError):
        clear(1, [Offer("US", 10, 50)], [Bid("EU", 0, 10, 40)], [[-60]])


# --- earlier behaviour ---------------------------------------------------------


def test_export_ban_sends_nothing():
    offers = [Offer("CN", 100, 10), Offer("AU", 5, 40)]
    bids = [Bid("EU", 0, 50, 200), Bid("CN", 1, 50, 60)]
    r = clear(2, offers, bids, caps={("CN", 0): 0.0})
    assert r.flows[0][0] == 0
    assert r.flows[1][0] == 5  # the bloc buys what it can elsewhere
    assert r.prices[0] == 200  # and the rest is unserved at the top bid
    assert r.fills[0] == 5


def test_infinite_cap_is_no_cap():
    offers = [Offer("CN", 100, 10)]
    bids = [Bid("EU", 0, 50, 200)]
    r = clear(1, offers, bids, caps={("CN", 0): math.inf})
    assert r.fills[0] == 50


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
