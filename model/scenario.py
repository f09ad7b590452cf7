"""Scenarios: validated, frozen model configurations loaded from TOML.

A scenario holds the data (countries, roles, costs, demand), the bloc's
candidate accession order and policy parameters, the dominant supplier's
dumping parameters, and optional events. ``load_scenario`` reads a shipped
scenario by name (``model/scenarios/NAME.toml``) or a path; any bad value
raises ``ScenarioError`` naming the field and value.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "BlocsimError",
    "ScenarioError",
    "Role",
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
    "SCENARIO_DIR",
]

SCENARIO_DIR = Path(__file__).parent / "scenarios"
EVENT_KINDS = ("export_ban", "export_quota", "demand_shock")
TARGETS = ("members", "all")


class BlocsimError(ValueError):
    """Bad input from a user: the message names the field and the value."""


class ScenarioError(BlocsimError):
    """A scenario, event or run option is invalid."""

    def __init__(self, field_name: str, value: Any, why: str) -> None:
        self.field = field_name
        self.value = value
        super().__init__(f"{field_name} = {value!r}: {why}")


def _num(where: str, value: Any, lo: float | None = 0.0, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(where, value, "must be a finite number")
    if lo is not None and value < lo:
        raise ScenarioError(where, value, f"must be >= {lo}")
    if hi is not None and value > hi:
        raise ScenarioError(where, value, f"must be <= {hi}")
    return float(value)


def _int(where: str, value: Any, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ScenarioError(where, value, f"must be a whole number >= {lo}")
    return value


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
        _num(f"{where}.capacity", self.capacity)
        _num(f"{where}.full_cost", self.full_cost)
        _num(f"{where}.fixed_cost", self.fixed_cost)
        _int(f"{where}.lead_time", self.lead_time, 1)
        _num(f"{where}.potential", self.potential)
        _num(f"{where}.backing", self.backing)
        if not isinstance(self.tranches, (list, tuple)) or not self.tranches:
            raise ScenarioError(f"{where}.tranches", self.tranches, "must be a non-empty list of [share, cost]")
        total = 0.0
        for i, tr in enumerate(self.tranches):
            if not isinstance(tr, (list, tuple)) or len(tr) != 2:
                raise ScenarioError(f"{where}.tranches[{i}]", tr, "must be [share, cost]")
            total += _num(f"{where}.tranches[{i}] share", tr[0], 0.0, 1.0)
            _num(f"{where}.tranches[{i}] cost", tr[1])
        if abs(total - 1.0) > 1e-6:
            raise ScenarioError(f"{where}.tranches", self.tranches, "shares must add up to 1")
        object.__setattr__(self, "tranches", tuple((float(s), float(c)) for s, c in self.tranches))

    @property
    def marginal_cost(self) -> float:
        """Cash cost of the dearest tranche, $/kg (also the cost of new capacity)."""
        return max(c for _, c in self.tranches)

    @property
    def min_cost(self) -> float:
        return min(c for _, c in self.tranches)


@dataclass(frozen=True)
class Consumer:
    """A consuming role: monthly demand for refined product."""

    demand: float  # t/month at the reference price, start of the run
    stockpile_months: float = 0.0  # strategic stock target, months of demand

    def check(self, where: str) -> None:
        _num(f"{where}.demand", self.demand)
        _num(f"{where}.stockpile_months", self.stockpile_months, 0.0, 24.0)


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


@dataclass(frozen=True)
class Market:
    reference_price: float
    initial_concentrate_price: float
    transport_concentrate: float
    transport_refined: float
    concentrate_floor_ratio: float
    refining_yield: float
    price_memory_months: float
    demand_choke_ratio: float
    demand_floor_ratio: float
    demand_steps: int

    def check(self, where: str) -> None:
        _num(f"{where}.reference_price", self.reference_price, 1e-6)
        _num(f"{where}.initial_concentrate_price", self.initial_concentrate_price)
        _num(f"{where}.transport_concentrate", self.transport_concentrate)
        _num(f"{where}.transport_refined", self.transport_refined)
        _num(f"{where}.concentrate_floor_ratio", self.concentrate_floor_ratio, 0.0, 1.0)
        _num(f"{where}.refining_yield", self.refining_yield, 1e-6, 1.0)
        _num(f"{where}.price_memory_months", self.price_memory_months, 1.0)
        _num(f"{where}.demand_choke_ratio", self.demand_choke_ratio, 1.0)
        _num(f"{where}.demand_floor_ratio", self.demand_floor_ratio, 1e-3, 1.0)
        _int(f"{where}.demand_steps", self.demand_steps, 2)


@dataclass(frozen=True)
class BlocParams:
    accession_order: tuple[str, ...]
    buffer_purchase_share: float
    buffer_target_months: float
    buffer_max_months: float
    buffer_release_ratio: float
    buffer_release_share: float

    def check(self, where: str) -> None:
        if not isinstance(self.accession_order, (list, tuple)) or not all(
            isinstance(c, str) for c in self.accession_order
        ):
            raise ScenarioError(f"{where}.accession_order", self.accession_order, "must be a list of country codes")
        object.__setattr__(self, "accession_order", tuple(self.accession_order))
        _num(f"{where}.buffer_purchase_share", self.buffer_purchase_share, 0.0, 1.0)
        _num(f"{where}.buffer_target_months", self.buffer_target_months)
        _num(f"{where}.buffer_max_months", self.buffer_max_months)
        _num(f"{where}.buffer_release_ratio", self.buffer_release_ratio, 1.0)
        _num(f"{where}.buffer_release_share", self.buffer_release_share, 0.0, 1.0)


@dataclass(frozen=True)
class Dumping:
    enabled: bool
    trigger_member_share: float
    trigger_on_floor: bool
    price_ratio: float
    volume_share: float
    loss_budget: float
    stop_member_share: float

    def check(self, where: str) -> None:
        for name in ("enabled", "trigger_on_floor"):
            if not isinstance(getattr(self, name), bool):
                raise ScenarioError(f"{where}.{name}", getattr(self, name), "must be true or false")
        _num(f"{where}.trigger_member_share", self.trigger_member_share, 0.0, 1.0)
        _num(f"{where}.price_ratio", self.price_ratio, 0.0, 1.0)
        _num(f"{where}.volume_share", self.volume_share, 0.0, 10.0)
        _num(f"{where}.loss_budget", self.loss_budget)
        _num(f"{where}.stop_member_share", self.stop_member_share, 0.0, 1.0)


@dataclass(frozen=True)
class Defaults:
    cash_months: float
    cash_cap_months: float
    mothball_cost_share: float
    restart_delay: int
    close_after: int
    invest_rate: float
    invest_min: float
    stock_buy_ratio: float
    stock_fill_months: float
    adjust_months: float
    max_substitution_rate: float
    elasticity_short: float
    elasticity_long: float
    demand_growth: float

    def check(self, where: str) -> None:
        _num(f"{where}.cash_months", self.cash_months)
        _num(f"{where}.cash_cap_months", self.cash_cap_months)
        _num(f"{where}.mothball_cost_share", self.mothball_cost_share, 0.0, 1.0)
        _int(f"{where}.restart_delay", self.restart_delay)
        _int(f"{where}.close_after", self.close_after)
        _num(f"{where}.invest_rate", self.invest_rate, 0.0, 5.0)
        _num(f"{where}.invest_min", self.invest_min)
        _num(f"{where}.stock_buy_ratio", self.stock_buy_ratio)
        _num(f"{where}.stock_fill_months", self.stock_fill_months, 1.0)
        _num(f"{where}.adjust_months", self.adjust_months, 1.0)
        _num(f"{where}.max_substitution_rate", self.max_substitution_rate, 0.0, 1.0)
        _num(f"{where}.elasticity_short", self.elasticity_short, -5.0, 0.0)
        _num(f"{where}.elasticity_long", self.elasticity_long, -5.0, 0.0)
        _num(f"{where}.demand_growth", self.demand_growth, -0.5, 1.0)


@dataclass(frozen=True)
class Event:
    """A scheduled shock: ``export_ban``, ``export_quota`` or ``demand_shock``.

    ``start`` is the first affected month (step), ``duration`` in months.
    """

    kind: str
    start: int
    duration: int
    target: str = "members"  # export controls: "members" (the bloc) or "all" foreign buyers
    share: float = 0.0  # export_quota: share of the previous 12 months' exports
    factor: float = 1.0  # demand_shock: demand multiplier

    def check(self, where: str) -> None:
        if self.kind not in EVENT_KINDS:
            raise ScenarioError(f"{where}.kind", self.kind, f"unknown event (known: {', '.join(EVENT_KINDS)})")
        _int(f"{where}.start", self.start, 0)
        _int(f"{where}.duration", self.duration, 1)
        if self.target not in TARGETS:
            raise ScenarioError(f"{where}.target", self.target, "must be 'members' or 'all'")
        _num(f"{where}.share", self.share, 0.0, 1.0)
        _num(f"{where}.factor", self.factor, 0.0, 10.0)

    def active(self, step: int) -> bool:
        return self.start <= step < self.start + self.duration


@dataclass(frozen=True)
class Scenario:
    name: str
    product: str
    dominant: str
    allow_dominant_member: bool
    steps: int
    market: Market
    bloc: BlocParams
    dumping: Dumping
    defaults: Defaults
    countries: tuple[Country, ...]
    events: tuple[Event, ...] = field(default_factory=tuple)

    def check(self, where: str = "scenario") -> None:
        _int("steps", self.steps, 1)
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


def load_scenario(name_or_path: str | Path, overrides: dict[str, float] | None = None) -> Scenario:
    """Load and validate a scenario by shipped name (e.g. ``"rare_earths"``) or TOML path.

    ``overrides`` maps dotted parameter paths to values (``model/uncertainty.py``)."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(
                "scenario", str(name_or_path), f"unknown scenario (shipped: {', '.join(scenario_names())})"
            )
    elif not path.exists():
        raise ScenarioError("scenario", str(name_or_path), "file not found")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("scenario", str(path), f"is not valid TOML: {exc}") from None
    if overrides:
        from model.uncertainty import prepare

        data = prepare(data, overrides)
    return scenario_from_dict(data)


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    """Build and validate a scenario from parsed TOML."""
    if "uncertain" in data:  # ranges of uncertain parameters: checked, then set aside (model/uncertainty.py)
        from model.uncertainty import strip_uncertain

        data = strip_uncertain(data)
    known = {f.name for f in fields(Scenario)}
    for key in data:
        if key not in known:
            raise ScenarioError(key, data[key], f"unknown key (known: {', '.join(sorted(known))})")
    for key in ("name", "dominant", "market", "bloc", "dumping", "defaults", "countries"):
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
    events = tuple(_build(Event, f"events[{i}]", e) for i, e in enumerate(data.get("events", [])))
    sc = Scenario(
        name=str(data["name"]),
        product=str(data.get("product", "")),
        dominant=data["dominant"],
        allow_dominant_member=bool(data.get("allow_dominant_member", False)),
        steps=data.get("steps", 240),
        market=_build(Market, "market", data["market"]),
        bloc=_build(BlocParams, "bloc", data["bloc"]),
        dumping=_build(Dumping, "dumping", data["dumping"]),
        defaults=_build(Defaults, "defaults", data["defaults"]),
        countries=tuple(countries),
        events=events,
    )
    sc.check()
    return sc


def parse_event(text: str) -> Event:
    """Parse ``kind:key=value,key=value`` (the CLI's ``--event``) into an Event."""
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    if kind not in EVENT_KINDS:
        raise ScenarioError("event", text, f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
    values: dict[str, Any] = {"kind": kind}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = part.partition("=")
        if not eq or key not in ("start", "duration", "target", "share", "factor"):
            raise ScenarioError("event", text, f"bad part {part!r} (use start=, duration=, target=, share=, factor=)")
        if key == "target":
            values[key] = val
        else:
            try:
                values[key] = int(val) if key in ("start", "duration") else float(val)
            except ValueError:
                raise ScenarioError(f"event.{key}", val, "must be a number") from None
    for key in ("start", "duration"):
        if key not in values:
            raise ScenarioError(f"event.{key}", None, f"is required in {text!r}")
    if kind == "export_quota" and "share" not in values:
        raise ScenarioError("event.share", None, f"is required for export_quota in {text!r}")
    if kind == "demand_shock" and "factor" not in values:
        raise ScenarioError("event.factor", None, f"is required for demand_shock in {text!r}")
    return _build(Event, "event", values)
