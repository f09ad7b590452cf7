"""Scenarios: validated, frozen model configurations loaded from TOML.

A scenario holds the data (countries, roles, costs, demand), the bloc's
candidate accession order and policy parameters, the dominant supplier's
dumping parameters, and optional events. ``load_scenario`` reads a shipped
scenario by name (``model/scenarios/NAME.toml``) or a path; any bad value
raises ``ScenarioError`` naming the field and value.

Sane ranges (anything outside is refused as a typo or a unit error, not run):
quantities (capacity, potential, demand, volume caps) at most ``MAX_TONNES`` =
1e7 t/month (the world's NdPr market is ~1e4); prices, costs and floors at most
``MAX_PRICE`` = 1e5 $/kg; sums of money at most ``MAX_MONEY`` = 1e14 $; a run
at most ``MAX_STEPS`` = 6000 months; durations in months at most 1200. Booleans
must be TOML ``true``/``false`` (the string ``"false"`` is refused); numbers
may be Python or numpy numbers, never strings or booleans.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import tomllib
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = [
    "BlocsimError",
    "ScenarioError",
    "Role",
    "EndUse",
    "Storage",
    "Consumer",
    "Country",
    "Market",
    "BlocParams",
    "Dumping",
    "Defaults",
    "Event",
    "Scenario",
    "load_scenario",
    "parse_event",
    "scenario_names",
    "validate_run",
    "SCENARIO_DIR",
]

SCENARIO_DIR = Path(__file__).parent / "scenarios"
EVENT_KINDS = ("export_ban", "export_quota", "export_licence", "demand_shock")
TARGETS = ("members", "all")
_CONTROL_KEYS = ("start", "duration", "target", "announce", "enforcement", "issuer")
EVENT_KEYS = {  # the keys each event kind takes
    "export_ban": _CONTROL_KEYS,
    "export_quota": _CONTROL_KEYS + ("share",),
    "export_licence": _CONTROL_KEYS + ("share", "delay", "approval_sd"),
    "demand_shock": ("start", "duration", "factor", "announce"),
}
ALL_EVENT_KEYS = tuple(dict.fromkeys(k for keys in EVENT_KEYS.values() for k in keys))
MAX_TONNES = 1e7  # t/month
MAX_PRICE = 1e5  # $/kg
MAX_MONEY = 1e14  # $
MAX_MONTHS = 1200  # any duration or delay, months
MAX_STEPS = 6000  # months in a run
MAX_SEED = 2**64 - 1


class BlocsimError(ValueError):
    """Bad input from a user: the message names the field and the value."""


class ScenarioError(BlocsimError):
    """A scenario, event or run option is invalid."""

    def __init__(self, field_name: str, value: Any, why: str) -> None:
        self.field = field_name
        self.value = value
        super().__init__(f"{field_name} = {value!r}: {why}")


def _is_real(value: Any) -> bool:
    """A Python or numpy number, not a bool (numpy bools are not ``numbers.Real``)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _num(where: str, value: Any, lo: float | None = 0.0, hi: float | None = None) -> float:
    if not _is_real(value) or not math.isfinite(value):
        raise ScenarioError(where, value, "must be a finite number")
    if lo is not None and value < lo:
        raise ScenarioError(where, value, f"must be >= {lo}")
    if hi is not None and value > hi:
        raise ScenarioError(where, value, f"must be <= {hi:g}")
    return float(value)


def _int(where: str, value: Any, lo: int = 0, hi: int | None = None) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < lo:
        raise ScenarioError(where, value, f"must be a whole number >= {lo}")
    if hi is not None and value > hi:
        raise ScenarioError(where, value, f"must be a whole number <= {hi}")
    return int(value)


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool) and type(value).__name__ != "bool_":  # numpy.bool_
        raise ScenarioError(where, value, "must be true or false")
    return bool(value)


def _text(where: str, value: Any, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise ScenarioError(where, value, "must be a non-empty string" if not empty else "must be a string")
    return value


def _set(obj: Any, **values: Any) -> None:
    """Store normalised values on a frozen dataclass (from its ``check``)."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def _build(cls, where: str, data: Any, **extra):
    """Build dataclass ``cls`` from a TOML table, refusing unknown keys."""
    if not isinstance(data, dict):
        raise ScenarioError(where, data, "must be a table")
    names = {f.name for f in fields(cls)} - set(extra)
    unknown = sorted(set(data) - names)
    if unknown:
        raise ScenarioError(
            f"{where}.{unknown[0]}", data[unknown[0]], f"unknown key (known: {', '.join(sorted(names))})"
        )
    kwargs = {}
    for f in fields(cls):
        if f.name in extra:
            continue
        if f.name in data:
            kwargs[f.name] = data[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ScenarioError(f"{where}.{f.name}", None, "is required")
    obj = cls(**kwargs, **extra)
    obj.check(where)
    return obj


@dataclass(frozen=True)
class Role:
    """A producing role (mining or refining) of a country."""

    capacity: float  # t/month
    tranches: tuple[tuple[float, float], ...]  # (share of capacity, cash cost $/kg)
    full_cost: float  # $/kg: cash cost + capex annuity of new capacity
    fixed_cost: float  # $/kg of monthly capacity, per month
    lead_time: int  # months from investment decision to new capacity
    potential: float  # t/month: most capacity the country can build
    backing: float = 0.0  # $: losses the state will absorb (soft budget)

    def check(self, where: str) -> None:
        _set(
            self,
            capacity=_num(f"{where}.capacity", self.capacity, 0.0, MAX_TONNES),
            full_cost=_num(f"{where}.full_cost", self.full_cost, 0.0, MAX_PRICE),
            fixed_cost=_num(f"{where}.fixed_cost", self.fixed_cost, 0.0, MAX_PRICE),
            lead_time=_int(f"{where}.lead_time", self.lead_time, 1, MAX_MONTHS),
            potential=_num(f"{where}.potential", self.potential, 0.0, MAX_TONNES),
            backing=_num(f"{where}.backing", self.backing, 0.0, MAX_MONEY),
        )
        if self.potential < self.capacity:
            raise ScenarioError(
                f"{where}.potential", self.potential, f"must be >= capacity ({self.capacity:g} t/month)"
            )
        if not isinstance(self.tranches, (list, tuple)) or not self.tranches:
            raise ScenarioError(f"{where}.tranches", self.tranches, "must be a non-empty list of [share, cost]")
        total = 0.0
        for i, tr in enumerate(self.tranches):
            if not isinstance(tr, (list, tuple)) or len(tr) != 2:
                raise ScenarioError(f"{where}.tranches[{i}]", tr, "must be [share, cost]")
            total += _num(f"{where}.tranches[{i}] share", tr[0], 0.0, 1.0)
            _num(f"{where}.tranches[{i}] cost", tr[1], 0.0, MAX_PRICE)
        if abs(total - 1.0) > 1e-6:
            raise ScenarioError(f"{where}.tranches", self.tranches, "shares must add up to 1")
        object.__setattr__(self, "tranches", tuple((float(s), float(c)) for s, c in self.tranches))

    # computed once (after ``check`` has normalised the tranches): read per plant and project created
    @cached_property
    def marginal_cost(self) -> float:
        """Cash cost of the dearest tranche, $/kg (also the cost of new capacity)."""
        return max(c for _, c in self.tranches)

    @cached_property
    def min_cost(self) -> float:
        """Cash cost of the cheapest tranche, $/kg."""
        return min(c for _, c in self.tranches)


@dataclass(frozen=True)
class Consumer:
    """A consuming role: monthly demand for refined product."""

    demand: float  # t/month at the reference price, start of the run
    stockpile_months: float = 0.0  # strategic stock target, months of demand

    def check(self, where: str) -> None:
        _set(
            self,
            demand=_num(f"{where}.demand", self.demand, 0.0, MAX_TONNES),
            stockpile_months=_num(f"{where}.stockpile_months", self.stockpile_months, 0.0, 24.0),
        )


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    mining: Role | None = None
    refining: Role | None = None
    consumer: Consumer | None = None

    def check(self, where: str) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise ScenarioError(f"{where}.code", self.code, "must be a non-empty string")
        _text(f"{where}.name", self.name)


@dataclass(frozen=True)
class Market:
    reference_price: float
    initial_concentrate_price: float
    transport_concentrate: float
    transport_refined: float
    concentrate_floor_ratio: float
    refining_yield: float
    price_memory_months: float
    demand_floor_ratio: float
    demand_steps: int
    reservation_spread: float
    voll_multiple: float
    demand_noise: float
    transship_concentrate: float
    transship_refined: float
    enforcement: float
    normal_price_months: float
    discount_rate: float

    def check(self, where: str) -> None:
        _num(f"{where}.reference_price", self.reference_price, 1e-6, MAX_PRICE)
        _num(f"{where}.initial_concentrate_price", self.initial_concentrate_price, 0.0, MAX_PRICE)
        _num(f"{where}.transport_concentrate", self.transport_concentrate, 0.0, MAX_PRICE)
        _num(f"{where}.transport_refined", self.transport_refined, 0.0, MAX_PRICE)
        _num(f"{where}.concentrate_floor_ratio", self.concentrate_floor_ratio, 0.0, 1.0)
        _num(f"{where}.refining_yield", self.refining_yield, 1e-6, 1.0)
        _num(f"{where}.price_memory_months", self.price_memory_months, 1.0, MAX_MONTHS)
        _num(f"{where}.demand_floor_ratio", self.demand_floor_ratio, 1e-3, 1.0)
        _int(f"{where}.demand_steps", self.demand_steps, 2, 1000)
        _num(f"{where}.reservation_spread", self.reservation_spread, 0.0, 0.9)
        _num(f"{where}.voll_multiple", self.voll_multiple, 0.0, 100.0)
        _num(f"{where}.demand_noise", self.demand_noise, 0.0, 0.5)
        _num(f"{where}.transship_concentrate", self.transship_concentrate, 0.0, MAX_PRICE)
        _num(f"{where}.transship_refined", self.transship_refined, 0.0, MAX_PRICE)
        _num(f"{where}.enforcement", self.enforcement, 0.0, 1.0)
        _num(f"{where}.normal_price_months", self.normal_price_months, 1.0, MAX_MONTHS)
        _num(f"{where}.discount_rate", self.discount_rate, 0.0, 1.0)


@dataclass(frozen=True)
class EndUse:
    """One end use of the refined product (e.g. EV traction motors).

    ``share`` of each consumer's demand at the reference price; ``elasticity``
    its short-run price elasticity below the switching price; ``reservation``
    the price (x the reference price) at which the use switches to a
    substitute or stops -- users' switching prices are spread uniformly over
    ``reservation x (1 +- market.reservation_spread)``.
    """

    name: str
    share: float
    elasticity: float
    reservation: float

    def check(self, where: str) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ScenarioError(f"{where}.name", self.name, "must be a non-empty string")
        _num(f"{where}.share", self.share, 0.0, 1.0)
        _num(f"{where}.elasticity", self.elasticity, -5.0, 0.0)
        _num(f"{where}.reservation", self.reservation, 1.0, 1000.0)


@dataclass(frozen=True)
class Storage:
    """Private (traders') stocks under the competitive-storage rule, one trader per segment."""

    interest_rate: float  # a year
    storage_cost: float  # $/kg a month
    capacity_months: float  # most stock a trader holds, months of its segment's reference demand
    reversion: float  # monthly AR(1) coefficient of expected prices towards the normal price
    precaution: float  # expected price rise while an export control is announced or in force
    schedule_spread: float  # width of the buy/sell schedules around the threshold price, share

    def check(self, where: str) -> None:
        _num(f"{where}.interest_rate", self.interest_rate, 0.0, 1.0)
        _num(f"{where}.storage_cost", self.storage_cost, 0.0, 100.0)
        _num(f"{where}.capacity_months", self.capacity_months, 0.0, 24.0)
        _num(f"{where}.reversion", self.reversion, 0.0, 1.0)
        _num(f"{where}.precaution", self.precaution, 0.0, 10.0)
        _num(f"{where}.schedule_spread", self.schedule_spread, 1e-3, 1.0)


@dataclass(frozen=True)
class Contracts:
    """Terms of the firm-level and concessionary instruments (``agents.contracts``)."""

    dod_strike: float  # $/kg
    dod_upside_share: float
    dod_term_months: int
    dod_volume_cap: float  # t/month
    dod_firm: str
    concessional_budget: float  # $
    concessional_rate: float  # a year
    concessional_lend_share: float

    def check(self, where: str) -> None:
        _num(f"{where}.dod_strike", self.dod_strike, 0.0, MAX_PRICE)
        _num(f"{where}.dod_upside_share", self.dod_upside_share, 0.0, 1.0)
        _int(f"{where}.dod_term_months", self.dod_term_months, 1, MAX_STEPS)
        _num(f"{where}.dod_volume_cap", self.dod_volume_cap, 0.0, MAX_TONNES)
        if not isinstance(self.dod_firm, str) or not self.dod_firm:
            raise ScenarioError(f"{where}.dod_firm", self.dod_firm, "must be a firm name")
        _num(f"{where}.concessional_budget", self.concessional_budget, 0.0, MAX_MONEY)
        _num(f"{where}.concessional_rate", self.concessional_rate, 0.0, 1.0)
        _num(f"{where}.concessional_lend_share", self.concessional_lend_share, 0.0, 1.0)


@dataclass(frozen=True)
class BlocParams:
    accession_order: tuple[str, ...]
    cfd_upside_share: float
    cfd_volume_share: float
    cfd_term_months: int
    buffer_fund: float
    buffer_ceiling_ratio: float
    buffer_storage_cost: float
    procurement_purchase_share: float
    procurement_target_months: float
    procurement_max_months: float
    procurement_release_ratio: float
    procurement_release_share: float

    def check(self, where: str) -> None:
        if not isinstance(self.accession_order, (list, tuple)) or not all(
            isinstance(c, str) for c in self.accession_order
        ):
            raise ScenarioError(f"{where}.accession_order", self.accession_order, "must be a list of country codes")
        object.__setattr__(self, "accession_order", tuple(self.accession_order))
        seen = set()
        for code in self.accession_order:
            if code in seen:
                raise ScenarioError(f"{where}.accession_order", code, "appears twice")
            seen.add(code)
        _num(f"{where}.cfd_upside_share", self.cfd_upside_share, 0.0, 1.0)
        _num(f"{where}.cfd_volume_share", self.cfd_volume_share, 0.0, 10.0)
        _int(f"{where}.cfd_term_months", self.cfd_term_months, 1, MAX_STEPS)
        _num(f"{where}.buffer_fund", self.buffer_fund, 0.0, MAX_MONEY)
        _num(f"{where}.buffer_ceiling_ratio", self.buffer_ceiling_ratio, 1.0, 10.0)
        _num(f"{where}.buffer_storage_cost", self.buffer_storage_cost, 0.0, 100.0)
        _num(f"{where}.procurement_purchase_share", self.procurement_purchase_share, 0.0, 1.0)
        _num(f"{where}.procurement_target_months", self.procurement_target_months, 0.0, 120.0)
        _num(f"{where}.procurement_max_months", self.procurement_max_months, 0.0, 120.0)
        if self.procurement_max_months < self.procurement_target_months:
            raise ScenarioError(
                f"{where}.procurement_max_months",
                self.procurement_max_months,
                f"must be >= procurement_target_months ({self.procurement_target_months:g})",
            )
        _num(f"{where}.procurement_release_ratio", self.procurement_release_ratio, 1.0)
        _num(f"{where}.procurement_release_share", self.procurement_release_share, 0.0, 1.0)


@dataclass(frozen=True)
class Dumping:
    enabled: bool
    trigger_on_floor: bool
    price_ratio: float
    volume_share: float
    loss_budget: float
    stop_member_share: float

    def check(self, where: str) -> None:
        for name in ("enabled", "trigger_on_floor"):
            if not isinstance(getattr(self, name), bool):
                raise ScenarioError(f"{where}.{name}", getattr(self, name), "must be true or false")
        _num(f"{where}.price_ratio", self.price_ratio, 0.0, 1.0)
        _num(f"{where}.volume_share", self.volume_share, 0.0, 10.0)
        _num(f"{where}.loss_budget", self.loss_budget, 0.0, MAX_MONEY)
        _num(f"{where}.stop_member_share", self.stop_member_share, 0.0, 1.0)


@dataclass(frozen=True)
class Defaults:
    mothball_cost_share: float
    stock_buy_ratio: float
    stock_fill_months: float
    adjust_months: float
    max_substitution_rate: float
    elasticity_long: float
    demand_growth: float
    substitution_ratchet: float
    stock_release_ratio: float
    stock_draw_share: float
    idle_bid_share: float
    initial_utilisation: float
    refiner_sales_memory: float
    refiner_price_memory: float
    refiner_inventory_target: float
    refiner_expansion_margin: float

    def check(self, where: str) -> None:
        _num(f"{where}.mothball_cost_share", self.mothball_cost_share, 0.0, 1.0)
        _num(f"{where}.stock_buy_ratio", self.stock_buy_ratio, 0.0, 100.0)
        _num(f"{where}.stock_fill_months", self.stock_fill_months, 1.0, MAX_MONTHS)
        _num(f"{where}.adjust_months", self.adjust_months, 1.0, MAX_MONTHS)
        _num(f"{where}.max_substitution_rate", self.max_substitution_rate, 0.0, 1.0)
        _num(f"{where}.elasticity_long", self.elasticity_long, -5.0, 0.0)
        _num(f"{where}.demand_growth", self.demand_growth, -0.5, 1.0)
        _num(f"{where}.substitution_ratchet", self.substitution_ratchet, 0.0, 1.0)
        _num(f"{where}.stock_release_ratio", self.stock_release_ratio, 1.0, 100.0)
        _num(f"{where}.stock_draw_share", self.stock_draw_share, 0.0, 1.0)
        _num(f"{where}.idle_bid_share", self.idle_bid_share, 0.0, 1.0)
        _num(f"{where}.initial_utilisation", self.initial_utilisation, 0.0, 1.0)
        _num(f"{where}.refiner_sales_memory", self.refiner_sales_memory, 1.0, 120.0)
        _num(f"{where}.refiner_price_memory", self.refiner_price_memory, 1.0, 120.0)
        _num(f"{where}.refiner_inventory_target", self.refiner_inventory_target, 0.0, 24.0)
        _num(f"{where}.refiner_expansion_margin", self.refiner_expansion_margin, 0.0, 10.0)


@dataclass(frozen=True)
class Event:
    """A scheduled shock: ``export_ban``, ``export_quota`` or ``demand_shock``.

    ``start`` is the first affected month (step), ``duration`` in months.
    """

    kind: str
    start: int
    duration: int
    target: str = "members"  # export controls: "members" (the bloc) or "all" foreign buyers
    share: float = 0.0  # export_quota / export_licence: share of the previous 12 months' exports
    factor: float = 1.0  # demand_shock: demand multiplier
    announce: int = 0  # months of notice before ``start`` (traders may buy ahead)
    enforcement: float = -1.0  # controls: share of re-export leakage stopped (-1: the scenario's market.enforcement)
    delay: int = 0  # export_licence: months before the first licences are granted
    approval_sd: float = 0.0  # export_licence: s.d. of the monthly approved share
    issuer: str = ""  # controls: the exporting country ("" = the scenario's dominant supplier)

    def check(self, where: str) -> None:
        if not isinstance(self.kind, str) or self.kind not in EVENT_KINDS:
            raise ScenarioError(f"{where}.kind", self.kind, f"unknown event (known: {', '.join(EVENT_KINDS)})")
        _set(
            self,
            start=_int(f"{where}.start", self.start, 0, MAX_STEPS),
            duration=_int(f"{where}.duration", self.duration, 1, MAX_STEPS),
        )
        if self.target not in TARGETS:
            raise ScenarioError(f"{where}.target", self.target, "must be 'members' or 'all'")
        _set(
            self,
            share=_num(f"{where}.share", self.share, 0.0, 1.0),
            factor=_num(f"{where}.factor", self.factor, 0.0, 10.0),
            announce=_int(f"{where}.announce", self.announce, 0, MAX_MONTHS),
            delay=_int(f"{where}.delay", self.delay, 0, MAX_MONTHS),
            approval_sd=_num(f"{where}.approval_sd", self.approval_sd, 0.0, 1.0),
        )
        if self.enforcement != -1.0:
            _set(self, enforcement=_num(f"{where}.enforcement", self.enforcement, 0.0, 1.0))
        if not isinstance(self.issuer, str):
            raise ScenarioError(f"{where}.issuer", self.issuer, "must be a country code")

    @property
    def is_control(self) -> bool:
        return self.kind in ("export_ban", "export_quota", "export_licence")

    def announced(self, step: int) -> bool:
        """True in the months of notice before the event starts."""
        return self.start - self.announce <= step < self.start

    def active(self, step: int) -> bool:
        return self.start <= step < self.start + self.duration


# ---------------------------------------------------------------- firms (issue 8)
@dataclass(frozen=True)
class Finance:
    """Firm finance shared by all firms unless a firm overrides it (``[finance]``)."""

    interest_rate: float  # a year: debt and drawn credit lines
    cost_of_capital: float  # a year: default discount rate of project NPVs
    debt_share: float  # share of capex financed by debt (the rest by equity)
    debt_term_months: int  # debt amortised in equal instalments over this many months
    credit_months: float  # credit line: months of full fixed cost ...
    inventory_collateral: float  # ... plus this share of inventory at cost
    dividend_months: float  # cash above this many months of full fixed cost is ample ...
    payout: float  # ... and this share of the excess is paid as dividends each month
    mothball_cost_months: float  # one-off cost of mothballing, months of full fixed cost
    restart_cost_months: float  # one-off cost of restarting, months of full fixed cost
    close_after: int  # months mothballed before the plant closes and its capacity is gone
    restart_delay: int  # months mothballed before a restart may be decided
    asset_life_months: int  # straight-line depreciation of fixed assets (and project life for NPV)
    capex_mining: float  # $ per t/month of capacity, generic brownfield mine (book value, quota expansions)
    capex_refining: float  # $ per t/month of capacity, generic separation plant
    entry_band: float  # Dixit band: build/restart only if NPV > entry_band x capex (or price > cost x (1+band))
    exit_band: float  # mothball only if the expected price < cash cost x (1 - exit_band) (or illiquid)
    ramp_months: int  # months from first output to design utilisation
    ramp_start: float  # utilisation in the first month of output
    design_utilisation: float  # utilisation a new plant plans for at the end of its ramp-up
    stale_decay: float  # share of the gap to import parity a segment's stale price closes a month
    mine_price_share: float  # concentrate netback as a share of the oxide price (project appraisal)
    asset_collateral: float = 0.0  # credit line also advances this share of fixed assets at book
    generic_size: float = 0.0  # t/month of a generic expansion of a country role (0: none; long-run supply)
    generic_interval: int = 12  # months between two generic expansion decisions of a country role

    def check(self, where: str) -> None:
        for name in ("interest_rate", "cost_of_capital"):
            _num(f"{where}.{name}", getattr(self, name), 0.0, 1.0)
        for name in ("debt_share", "inventory_collateral", "payout", "entry_band", "exit_band", "ramp_start",
                     "design_utilisation", "stale_decay", "mine_price_share", "asset_collateral"):
            _num(f"{where}.{name}", getattr(self, name), 0.0, 1.0)
        for name in ("credit_months", "dividend_months", "mothball_cost_months", "restart_cost_months",
                     "capex_mining", "capex_refining", "generic_size"):
            _num(f"{where}.{name}", getattr(self, name))
        for name in ("debt_term_months", "asset_life_months", "ramp_months"):
            _int(f"{where}.{name}", getattr(self, name), 1)
        _int(f"{where}.close_after", self.close_after, 1)
        _int(f"{where}.restart_delay", self.restart_delay, 0)


@dataclass(frozen=True)
class Firm:
    """A named facility: a share of a country's mining or refining role, with its own balance sheet."""

    name: str
    country: str
    stage: str  # "mining" or "refining"
    share: float  # of the country role's capacity (the country total stays the sourced figure)
    cash: float = -1.0  # $ at the start (-1: the default, [finance] credit_months of fixed cost)
    debt: float = 0.0  # $ at the start
    fixed_assets: float = -1.0  # $ book value at the start (-1: capacity x [finance] capex, half depreciated)
    credit_line: float = -1.0  # $ undrawn facility (-1: the default rule of [finance])
    cost_of_capital: float = -1.0  # a year (-1: [finance] cost_of_capital)
    interest_rate: float = -1.0  # a year (-1: [finance] interest_rate)
    backing: float = -1.0  # $ state backing (-1: the country role's backing x share)
    state: bool = False  # a state group: follows the dominant supplier's quota policy
    debt_share: float = -1.0  # of its capex financed by debt (-1: [finance] debt_share)
    debt_term_months: int = -1  # its debt's amortisation term (-1: [finance] debt_term_months)

    def check(self, where: str) -> None:
        if self.stage not in ("mining", "refining"):
            raise ScenarioError(f"{where}.stage", self.stage, "must be mining or refining")
        _num(f"{where}.share", self.share, 0.0, 1.0)
        for name in ("cash", "fixed_assets", "credit_line", "cost_of_capital", "interest_rate", "backing",
                     "debt_share"):
            _num(f"{where}.{name}", getattr(self, name), -1.0)
        _num(f"{where}.debt", self.debt)


@dataclass(frozen=True)
class Project:
    """A lumpy capacity project in the pipeline: built when its NPV clears the entry band."""

    name: str
    firm: str  # owner (a [[firms]] name, or a new firm created when built)
    country: str
    stage: str  # "mining" or "refining"
    capacity: float  # t/month NdPr oxide equivalent at design
    capex: float  # $
    lead_time: int  # months from decision to first output
    cash_cost: float  # $/kg of the stage
    fixed_cost: float  # $/kg of monthly capacity, per month
    committed: bool = False  # under construction at the start: built whatever the NPV
    earliest: int = 0  # first month a decision may be taken
    ramp_months: int = -1  # -1: [finance] ramp_months
    byproduct_credit: float = 0.0  # $/kg NdPr: co-products' revenue (e.g. Dy, Tb) netted from the cash cost

    @property
    def net_cash_cost(self) -> float:
        """Cash cost net of by-product credits ($/kg; the C1 convention), what the plant's tranche costs."""
        return self.cash_cost - self.byproduct_credit

    def check(self, where: str) -> None:
        if self.stage not in ("mining", "refining"):
            raise ScenarioError(f"{where}.stage", self.stage, "must be mining or refining")
        for name in ("capacity", "capex", "cash_cost", "fixed_cost", "byproduct_credit"):
            _num(f"{where}.{name}", getattr(self, name))
        _int(f"{where}.lead_time", self.lead_time, 1)
        _int(f"{where}.earliest", self.earliest, 0)
        if self.ramp_months != -1:
            _int(f"{where}.ramp_months", self.ramp_months, 1)


@dataclass(frozen=True)
class DominantPolicy:
    """The dominant supplier's objective: quota growth, predation, recoupment, retaliation."""

    quota_growth: float  # a year: growth of the state groups' capacity (quota policy)
    threat_share: float  # predation starts when rivals' separation capacity (on line + being built) exceeds this share
    limit_margin: float  # limit price = (lowest rival incentive price) x (1 - limit_margin)
    recoup_ratio: float  # when no threat: offers at least this x the lowest rival incentive price (recoupment)
    retaliation_probability: float  # chance that a floor or bloc is answered by export controls instead
    retaliation_delay: int  # months from the floor to the control
    retaliation_kind: str  # export_licence or export_ban
    retaliation_share: float  # licence: approved share of normal exports
    retaliation_duration: int  # months

    def check(self, where: str) -> None:
        _num(f"{where}.quota_growth", self.quota_growth, -0.5, 1.0)
        for name in ("threat_share", "limit_margin", "recoup_ratio", "retaliation_probability",
                     "retaliation_share"):
            _num(f"{where}.{name}", getattr(self, name), 0.0, 2.0)
        _int(f"{where}.retaliation_delay", self.retaliation_delay, 0)
        _int(f"{where}.retaliation_duration", self.retaliation_duration, 1)
        if self.retaliation_kind not in ("export_licence", "export_ban"):
            raise ScenarioError(f"{where}.retaliation_kind", self.retaliation_kind,
                                "must be export_licence or export_ban")


@dataclass(frozen=True)
class Scenario:
    name: str
    product: str
    description: str
    vintage: str
    dominant: str
    allow_dominant_member: bool
    steps: int
    market: Market
    bloc: BlocParams
    dumping: Dumping
    defaults: Defaults
    countries: tuple[Country, ...]
    end_uses: tuple[EndUse, ...] = field(default_factory=tuple)
    storage: Storage | None = None
    events: tuple[Event, ...] = field(default_factory=tuple)
    finance: Finance | None = None  # issue 8: firm finance ([finance])
    firms: tuple[Firm, ...] = field(default_factory=tuple)  # issue 8: named facilities ([[firms]])
    projects: tuple[Project, ...] = field(default_factory=tuple)  # issue 8: the project pipeline ([[projects]])
    dominant_policy: DominantPolicy | None = None  # issue 8: [dominant_policy]
    contracts: Contracts | None = None  # firm-level and concessionary instruments ([contracts], optional)

    def check(self, where: str = "scenario") -> None:
        _text("name", self.name)
        _text("product", self.product, empty=True)
        _bool("allow_dominant_member", self.allow_dominant_member)
        _int("steps", self.steps, 1, MAX_STEPS)
        if not isinstance(self.dominant, str):
            raise ScenarioError("dominant", self.dominant, "must be a country code")
        codes = [c.code for c in self.countries]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ScenarioError("countries.code", sorted(dup)[0], "appears twice")
        if self.dominant not in codes:
            raise ScenarioError("dominant", self.dominant, "is not one of the countries")
        for code in self.bloc.accession_order:
            if code not in codes:
                raise ScenarioError("bloc.accession_order", code, "unknown country")
            if code == self.dominant and not self.allow_dominant_member:
                raise ScenarioError("bloc.accession_order", code, "the dominant supplier may not join this bloc")
        for i, ev in enumerate(self.events):
            if ev.issuer and ev.issuer not in codes:
                raise ScenarioError(f"events[{i}].issuer", ev.issuer, "unknown country")
            if ev.start >= self.steps:
                raise ScenarioError(
                    f"events[{i}].start", ev.start, f"starts after the last month (steps = {self.steps})"
                )
        if not any(c.consumer and c.consumer.demand > 0 for c in self.countries):
            raise ScenarioError("countries.consumer.demand", 0.0, "no country has any demand: nothing to simulate")
        if not self.end_uses:
            raise ScenarioError("end_uses", (), "at least one [[end_uses]] table is required")
        total = sum(u.share for u in self.end_uses)
        if abs(total - 1.0) > 1e-6:
            raise ScenarioError("end_uses.share", round(total, 9), "shares must add up to 1")
        names = [u.name for u in self.end_uses]
        for n in names:
            if names.count(n) > 1:
                raise ScenarioError("end_uses.name", n, "appears twice")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.countries)

    def country(self, code: str) -> Country:
        for c in self.countries:
            if c.code == code:
                return c
        raise ScenarioError("country", code, f"unknown country (known: {', '.join(self.codes)})")

    def resolve_members(self, members: Any) -> tuple[str, ...]:
        """Members from a list of codes, a number k (first k of the accession order), or None/'none'/0."""
        if members is None:
            return ()
        if isinstance(members, str):
            text = members.strip()
            if text.lower() in ("", "none", "0"):
                return ()
            if text.isdigit():
                members = int(text)
            else:
                members = [m.strip() for m in text.split(",") if m.strip()]
        if isinstance(members, bool):
            raise ScenarioError("members", members, "must be country codes or a number")
        if isinstance(members, int):
            order = self.bloc.accession_order
            if not 0 <= members <= len(order):
                raise ScenarioError("members", members, f"must be between 0 and {len(order)} (the accession order)")
            return tuple(order[:members])
        out: list[str] = []
        for code in members:
            if code not in self.codes:
                raise ScenarioError("members", code, f"unknown country (known: {', '.join(self.codes)})")
            if code == self.dominant and not self.allow_dominant_member:
                raise ScenarioError("members", code, "the dominant supplier may not join the bloc in this scenario")
            if code not in out:
                out.append(code)
        return tuple(out)


def scenario_names() -> list[str]:
    """Names of the scenarios shipped with blocsim."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def _read_toml(field_name: str, path: Path, shown: Any, error=None) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file: any problem is one ``error(field_name, shown, why)``."""
    error = error or ScenarioError
    if path.is_dir():
        raise error(field_name, shown, "is a directory, not a .toml file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(field_name, shown, f"cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(field_name, shown, f"is not UTF-8 text (byte {exc.start}): not a TOML file") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise error(field_name, shown, f"is not valid TOML: {exc}") from None


def load_scenario(name_or_path: str | Path, overrides: dict[str, float] | None = None) -> Scenario:
    """Load and validate a scenario by shipped name (e.g. ``"rare_earths"``) or TOML path.

    ``overrides`` maps dotted parameter paths to values (``model/uncertainty.py``)."""
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ScenarioError(
            "scenario", name_or_path, f"must be a shipped scenario name ({', '.join(scenario_names())}) or a .toml path"
        )
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if "/" in str(name_or_path) or "\\" in str(name_or_path) or not path.exists():
            raise ScenarioError(
                "scenario", str(name_or_path), f"unknown scenario (shipped: {', '.join(scenario_names())})"
            )
    elif not path.exists():
        raise ScenarioError("scenario", str(name_or_path), "file not found")
    data, _ = _read_toml("scenario", path, str(name_or_path))
    if overrides:
        from model.uncertainty import prepare

        data = prepare(data, overrides)
    return scenario_from_dict(data)


def _event_from_table(where: str, data: Any) -> Event:
    """An event from a TOML table or parsed ``--event``: only the keys of its kind, each required one present."""
    if not isinstance(data, dict):
        raise ScenarioError(where, data, "must be a table with kind, start, duration, ...")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in EVENT_KEYS:
        raise ScenarioError(f"{where}.kind", kind, f"unknown event (known: {', '.join(EVENT_KINDS)})")
    allowed = EVENT_KEYS[kind]
    for key in data:
        if key != "kind" and key not in allowed:
            raise ScenarioError(f"{where}.{key}", data[key], f"does not apply to {kind} (keys: {', '.join(allowed)})")
    for key in (
        "start",
        "duration",
        *(("share",) if kind in ("export_quota", "export_licence") else ()),
        *(("factor",) if kind == "demand_shock" else ()),
    ):
        if key not in data:
            raise ScenarioError(f"{where}.{key}", None, f"is required for {kind}")
    return _build(Event, where, data)


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    """Build and validate a scenario from parsed TOML."""
    if not isinstance(data, dict):
        raise ScenarioError("scenario", data, "must be a table")
    uncertain = data.get("uncertain")  # ranges of uncertain parameters: checked after the scenario itself
    data = {k: v for k, v in data.items() if k != "uncertain"}
    known = {f.name for f in fields(Scenario)}
    for key in data:
        if key not in known:
            raise ScenarioError(key, data[key], f"unknown key (known: {', '.join(sorted(known))})")
    for key in ("name", "dominant", "market", "bloc", "dumping", "defaults", "countries", "end_uses", "storage"):
        if key not in data:
            raise ScenarioError(key, None, "is required")
    countries = []
    if not isinstance(data["countries"], list) or not data["countries"]:
        raise ScenarioError("countries", data["countries"], "must be a non-empty list of [[countries]] tables")
    for i, raw in enumerate(data["countries"]):
        where = f"countries[{raw.get('code', i) if isinstance(raw, dict) else i}]"
        if not isinstance(raw, dict):
            raise ScenarioError(where, raw, "must be a table")
        roles = {}
        for role, cls in (("mining", Role), ("refining", Role), ("consumer", Consumer)):
            if role in raw:
                roles[role] = _build(cls, f"{where}.{role}", raw[role])
        rest = {k: v for k, v in raw.items() if k not in roles}
        countries.append(_build(Country, where, rest, **roles))
    codes = [c.code for c in countries]
    for code in codes:
        if codes.count(code) > 1:
            raise ScenarioError("countries.code", code, "appears twice")
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list):
        raise ScenarioError(
            "events", raw_events, "must be a list of [[events]] tables (write [[events]], not [events])"
        )
    events = tuple(_event_from_table(f"events[{i}]", e) for i, e in enumerate(raw_events))
    if not isinstance(data["end_uses"], list):
        raise ScenarioError("end_uses", data["end_uses"], "must be a list of [[end_uses]] tables")
    end_uses = tuple(_build(EndUse, f"end_uses[{i}]", u) for i, u in enumerate(data["end_uses"]))
    sc = Scenario(
        name=data["name"],
        product=data.get("product", ""),
        description=data.get("description", ""),
        vintage=data.get("vintage", ""),
        dominant=data["dominant"],
        allow_dominant_member=data.get("allow_dominant_member", False),
        steps=data.get("steps", 240),
        market=_build(Market, "market", data["market"]),
        bloc=_build(BlocParams, "bloc", data["bloc"]),
        dumping=_build(Dumping, "dumping", data["dumping"]),
        defaults=_build(Defaults, "defaults", data["defaults"]),
        countries=tuple(countries),
        end_uses=end_uses,
        storage=_build(Storage, "storage", data["storage"]),
        events=events,
        **_firm_tables(data, codes),
    )
    sc.check()
    if uncertain is not None:
        from model.uncertainty import parse_uncertain

        parse_uncertain(uncertain, data, check_bounds=False)
    return sc


def _firm_tables(data: dict[str, Any], country_codes: list[str]) -> dict[str, Any]:
    """The optional firm tables of issue 8: [finance], [[firms]], [[projects]], [dominant_policy]."""
    out: dict[str, Any] = {}
    for key in ("finance", "dominant_policy"):
        if key not in data:
            raise ScenarioError(key, None, "is required")
    if "finance" in data:
        out["finance"] = _build(Finance, "finance", data["finance"])
    if "dominant_policy" in data:
        out["dominant_policy"] = _build(DominantPolicy, "dominant_policy", data["dominant_policy"])
    if "contracts" in data:
        out["contracts"] = _build(Contracts, "contracts", data["contracts"])
    for key, cls in (("firms", Firm), ("projects", Project)):
        raw = data.get(key, [])
        if not isinstance(raw, list):
            raise ScenarioError(key, raw, f"must be a list of [[{key}]] tables")
        out[key] = tuple(_build(cls, f"{key}[{r.get('name', i) if isinstance(r, dict) else i}]", r)
                         for i, r in enumerate(raw))
    codes = set(country_codes)
    shares: dict[tuple[str, str], float] = {}
    for f in out["firms"]:  # one firm (name) may own plants in several countries and stages
        if not isinstance(f.country, str) or f.country not in codes:
            raise ScenarioError(f"firms[{f.name}].country", f.country, "unknown country")
        shares[(f.country, f.stage)] = shares.get((f.country, f.stage), 0.0) + f.share
    for (code, stage), total in shares.items():
        if total > 1.0 + 1e-9:
            raise ScenarioError(f"firms[{code}.{stage}].share", round(total, 9), "shares of a country role exceed 1")
    for p in out["projects"]:
        if not isinstance(p.country, str) or p.country not in codes:
            raise ScenarioError(f"projects[{p.name}].country", p.country, "unknown country")
    return out


EVENT_SYNTAX = "like 'export_ban:start=60,duration=24'"


def parse_event(text: str) -> Event:
    """Parse ``kind:key=value,key=value`` (the CLI's ``--event``) into an Event."""
    if not isinstance(text, str):
        raise ScenarioError("event", text, f"must be a string {EVENT_SYNTAX}")
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    if kind not in EVENT_KINDS:
        raise ScenarioError("event", text, f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
    values: dict[str, Any] = {"kind": kind}
    allowed = EVENT_KEYS[kind]
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = part.partition("=")
        key, val = key.strip(), val.strip()
        if not eq or key not in ALL_EVENT_KEYS:
            raise ScenarioError("event", text, f"bad part {part!r} (use {'=, '.join(ALL_EVENT_KEYS)}=)")
        if key not in allowed:
            raise ScenarioError(f"event.{key}", val, f"does not apply to {kind} (keys: {', '.join(allowed)})")
        if key in values:
            raise ScenarioError(f"event.{key}", val, f"is given twice in {text!r}")
        if key in ("target", "issuer"):
            values[key] = val
        elif key in ("start", "duration"):
            try:
                values[key] = int(val)
            except ValueError:
                raise ScenarioError(f"event.{key}", val, "must be a whole number") from None
        else:
            try:
                values[key] = int(val) if key in ("announce", "delay") else float(val)
            except ValueError:
                raise ScenarioError(f"event.{key}", val, "must be a number") from None
    for key in ("start", "duration"):
        if key not in values:
            raise ScenarioError(f"event.{key}", None, f"is required in {text!r}")
    if kind in ("export_quota", "export_licence") and "share" not in values:
        raise ScenarioError("event.share", None, f"is required for {kind} in {text!r}")
    if kind == "demand_shock" and "factor" not in values:
        raise ScenarioError("event.factor", None, f"is required for demand_shock in {text!r}")
    return _build(Event, "event", values)


def validate_run(
    scenario: Any,
    members: Any = None,
    floor: Any = None,
    instrument: Any = "levy",
    seed: Any = None,
    events: Any = (),
    dumping: Any = None,
    member_stockpile_months: Any = None,
    steps: Any = None,
    record_plants: Any = True,
) -> dict[str, Any]:
    """Check one run's options exactly as ``BlocModel`` takes them; return them normalised.

    The one validation layer of a run: the CLI and the sweep runner call it
    before any work, so every bad option is one ``ScenarioError`` naming the
    option and the value (never a TypeError from deep inside the model).
    """
    if not isinstance(scenario, Scenario):
        hint = f" (use load_scenario({scenario!r}))" if isinstance(scenario, str) else ""
        raise ScenarioError("scenario", scenario, f"must be a Scenario{hint}")
    if members is not None and not isinstance(members, (str, numbers.Integral, list, tuple, set, frozenset)):
        raise ScenarioError("members", members, "must be country codes, a number k, or None")
    if isinstance(members, numbers.Integral) and not isinstance(members, bool):
        members = int(members)
    listed = members
    if isinstance(members, str) and not members.strip().isdigit():
        listed = [m.strip() for m in members.split(",") if m.strip()]
    if isinstance(listed, (list, tuple, set, frozenset)):
        for code in listed:
            if not isinstance(code, str):
                raise ScenarioError("members", code, "must be a country code (a string)")
        if isinstance(listed, (list, tuple)):
            dup = [c for c in listed if list(listed).count(c) > 1]
            if dup:
                raise ScenarioError("members", dup[0], "appears twice")
    codes = scenario.resolve_members(members)
    floor = 0.0 if floor is None else floor
    if not _is_real(floor) or not math.isfinite(floor) or not 0 <= floor <= MAX_PRICE:
        raise ScenarioError("floor", floor, f"must be a number >= 0 and <= {MAX_PRICE:g} ($/kg)")
    floor = float(floor)
    if instrument is not None and not (
        isinstance(instrument, str)
        or (isinstance(instrument, (list, tuple, set, frozenset)) and all(isinstance(i, str) for i in instrument))
    ):
        raise ScenarioError(
            "instrument", instrument, "must be levy, cfd, buffer, procurement or a combination like levy+buffer"
        )
    from model.model import parse_instruments

    instruments = parse_instruments(instrument)
    if floor > 0 and not instruments:
        raise ScenarioError("instrument", instrument, "a floor needs an instrument: levy, cfd, buffer or procurement")
    if floor > 0 and not codes:
        raise ScenarioError("floor", floor, "a floor needs bloc members (members = none)")
    seed = 0 if seed is None else seed
    if type(seed).__name__ != "SeedSequence":
        seed = _int("seed", seed, 0, MAX_SEED)
    if isinstance(events, (str, Event)) or not isinstance(events, (list, tuple)):
        raise ScenarioError("events", events, f"must be a list of events (strings {EVENT_SYNTAX})")
    parsed = []
    for i, e in enumerate(events):
        if isinstance(e, Event):
            e.check(f"events[{i}]")
            parsed.append(e)
        else:
            parsed.append(parse_event(e))
    if dumping is not None:
        dumping = _bool("dumping", dumping)
    if member_stockpile_months is not None:
        member_stockpile_months = _num("member_stockpile_months", member_stockpile_months, 0.0, 24.0)
    horizon = scenario.steps if steps is None else _int("steps", steps, 1, MAX_STEPS)
    record_plants = _bool("record_plants", record_plants)
    for e in parsed:
        if e.start >= horizon:
            raise ScenarioError("event.start", e.start, f"starts after the last month (steps = {horizon})")
    return {
        "members": list(codes),
        "floor": floor,
        "instrument": "+".join(sorted(instruments)) or None,
        "seed": seed,
        "events": tuple(parsed),
        "dumping": dumping,
        "member_stockpile_months": member_stockpile_months,
        "steps": None if steps is None else horizon,
        "record_plants": record_plants,
    }
