"""Uncertain parameters: ranges or distributions over a scenario's numbers, and overrides.

A scenario (or an experiment file) may carry an ``[uncertain]`` table mapping a
dotted parameter path to a range or a distribution::

    [uncertain]
    "defaults.elasticity_long" = { low = -1.0, high = -0.3, why = "shared data range" }
    "market.transport_refined" = { dist = "triangular", low = 1, mode = 2, high = 4 }
    "countries.US.mining.fixed_cost" = { low = 2, high = 6 }
    "countries.CN.mining.tranches.1.1" = { dist = "loguniform", low = 20, high = 45 }

Paths walk the scenario's TOML: table keys, countries by their ``code``, list
items by index. Distributions: ``uniform`` (the default: ``low``, ``high``),
``triangular`` (``low``, ``mode``, ``high``) and ``loguniform`` (``0 < low``).
Whole-number parameters (``finance.restart_delay``, ``lead_time``...) are rounded.
``why`` records the reasoning for the range. See docs/uncertainty.md.

``apply(raw, {path: value})`` returns a copy of a parsed scenario with the
values replaced; ``model.load_scenario(name, overrides=...)`` loads one.
"""

from __future__ import annotations

import copy
import math
import numbers
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.scenario import SCENARIO_DIR, ScenarioError, scenario_names

__all__ = [
    "DISTS",
    "Uncertain",
    "apply",
    "get",
    "parse_uncertain",
    "prepare",
    "raw_scenario",
    "scenario_uncertain",
    "strip_uncertain",
]

DISTS = ("uniform", "triangular", "loguniform")
KEYS = ("dist", "low", "high", "mode", "why")


@dataclass(frozen=True)
class Uncertain:
    """One uncertain parameter: where it is, its distribution, its base value and why."""

    path: str
    low: float
    high: float
    dist: str = "uniform"
    mode: float | None = None
    base: float = math.nan
    integer: bool = False
    why: str = ""

    def value(self, q: float) -> float:
        """The parameter value at quantile ``q`` in [0, 1] (the inverse of its distribution function)."""
        q = min(max(float(q), 0.0), 1.0)
        lo, hi = self.low, self.high
        if self.dist == "uniform" or hi == lo:
            x = lo + q * (hi - lo)
        elif self.dist == "loguniform":
            x = math.exp(math.log(lo) + q * (math.log(hi) - math.log(lo)))
        else:  # triangular
            c = (self.mode - lo) / (hi - lo)
            x = (
                lo + math.sqrt(q * (hi - lo) * (self.mode - lo))
                if q < c
                else hi - math.sqrt((1 - q) * (hi - lo) * (hi - self.mode))
            )
        x = min(max(x, lo), hi)  # no rounding error outside the range
        return float(round(x)) if self.integer else float(x)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dist": self.dist, "low": self.low, "high": self.high}
        if self.mode is not None:
            out["mode"] = self.mode
        out.update({"base": self.base, "integer": self.integer, "why": self.why})
        return out


def _field(path: str, table: str = "uncertain") -> str:
    return f'{table}."{path}"'


def _walk(raw: Any, path: str, table: str = "uncertain") -> tuple[Any, Any]:
    """(container, key) of ``path`` in the parsed scenario ``raw``; ScenarioError if it is not there
    (its field is ``TABLE."PATH"``: where the path was given)."""

    def _field(path: str) -> str:
        return f'{table}."{path}"'

    if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
        raise ScenarioError(_field(path), path, "must be a dotted parameter path like 'market.transport_refined'")
    parts = path.split(".")
    node = raw
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "the scenario"
        if isinstance(node, dict):
            if part not in node:
                known = ", ".join(sorted(k for k in node if k != "uncertain"))
                raise ScenarioError(_field(path), part, f"unknown parameter: no {part!r} in {here} (known: {known})")
            key = part
        elif isinstance(node, list):
            codes = [item.get("code") for item in node if isinstance(item, dict)]
            if part in codes:
                key = codes.index(part)
            elif part.isdigit() and int(part) < len(node):
                key = int(part)
            else:
                hint = f"known codes: {', '.join(map(str, codes))}" if any(codes) else f"{len(node)} items"
                raise ScenarioError(_field(path), part, f"unknown parameter: no {part!r} in {here} ({hint})")
        else:
            raise ScenarioError(_field(path), part, f"unknown parameter: {here} is a number, not a table")
        if depth == len(parts) - 1:
            return node, key
        node = node[key]
    raise AssertionError("unreachable")  # pragma: no cover


def get(raw: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in a parsed scenario."""
    container, key = _walk(raw, path)
    return container[key]


def _number(path: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(_field(path), value, f"{what} must be a finite number")
    return float(value)


def apply(raw: Mapping[str, Any], values: Mapping[str, float]) -> dict[str, Any]:
    """A copy of the parsed scenario ``raw`` with each ``path`` set to its value.

    The path must exist and hold a number; whole-number parameters get whole numbers.
    """
    out = copy.deepcopy(dict(raw))
    for path, value in values.items():
        container, key = _walk(out, path, "overrides")
        old = container[key]
        if isinstance(old, bool) or not isinstance(old, (int, float)):
            raise ScenarioError(
                _field(path, "overrides"), old, "is not a number in the scenario, so it cannot be varied"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ScenarioError(_field(path, "overrides"), value, "the override must be a finite number")
        container[key] = int(round(value)) if isinstance(old, int) else value
    return out


def parse_uncertain(table: Any, raw: Mapping[str, Any], check_bounds: bool = True) -> dict[str, Uncertain]:
    """Validate an ``[uncertain]`` table against the parsed scenario ``raw``.

    Every path must exist and hold a number; ``low <= high`` (and ``low <= mode <= high``);
    the scenario's own value must lie in the range; with ``check_bounds`` the scenario must
    stay valid at ``low`` and at ``high``. Errors name the path and the value.
    """
    if not isinstance(table, dict):
        raise ScenarioError("uncertain", table, "must be a table of 'path' = { low = ..., high = ... }")
    base_raw = {k: v for k, v in raw.items() if k != "uncertain"}
    out: dict[str, Uncertain] = {}
    for path, spec in table.items():
        base = get(base_raw, path)
        if isinstance(base, bool) or not isinstance(base, numbers.Real):
            raise ScenarioError(_field(path), base, "is not a number in the scenario, so it cannot be uncertain")
        base = int(base) if isinstance(base, numbers.Integral) else float(base)
        if not isinstance(spec, dict):
            raise ScenarioError(_field(path), spec, "must be a table like { low = 1, high = 2 }")
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise ScenarioError(_field(path), spec, f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
        dist = spec.get("dist", "uniform")
        if dist not in DISTS:
            raise ScenarioError(_field(path), dist, f"unknown distribution (known: {', '.join(DISTS)})")
        for key in ("low", "high"):
            if key not in spec:
                raise ScenarioError(_field(path), spec, f"needs {key!r}")
        low = _number(path, spec["low"], "low")
        high = _number(path, spec["high"], "high")
        if low > high:
            raise ScenarioError(_field(path), spec, f"low ({low:g}) > high ({high:g})")
        mode = None
        if dist == "triangular":
            if "mode" not in spec:
                raise ScenarioError(_field(path), spec, "a triangular distribution needs 'mode'")
            mode = _number(path, spec["mode"], "mode")
            if not low <= mode <= high:
                raise ScenarioError(_field(path), spec, f"mode ({mode:g}) is outside [{low:g}, {high:g}]")
        elif "mode" in spec:
            raise ScenarioError(_field(path), spec, f"'mode' only applies to dist = 'triangular', not {dist!r}")
        if dist == "loguniform" and low <= 0:
            raise ScenarioError(_field(path), spec, "a loguniform distribution needs low > 0")
        if not low <= base <= high:
            raise ScenarioError(_field(path), base, f"the scenario's value is outside the range [{low:g}, {high:g}]")
        why = spec.get("why", "")
        if not isinstance(why, str):
            raise ScenarioError(_field(path), why, "'why' must be a string")
        integer = isinstance(base, int)
        if integer and (low != round(low) or high != round(high)):
            raise ScenarioError(_field(path), spec, "is a whole-number parameter: low and high must be whole numbers")
        u = Uncertain(path, low, high, dist, mode, float(base), integer, why)
        if check_bounds:
            _check_bounds(base_raw, u)
        out[path] = u
    return out


def _check_bounds(base_raw: Mapping[str, Any], u: Uncertain) -> None:
    from model.scenario import scenario_from_dict

    for name, value in (("low", u.low), ("high", u.high)):
        try:
            scenario_from_dict(apply(base_raw, {u.path: value}))
        except ScenarioError as exc:
            raise ScenarioError(_field(u.path), value, f"{name} makes the scenario invalid: {exc}") from None


def strip_uncertain(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a parsed scenario's ``[uncertain]`` table and return the scenario without it.

    (Paths, ranges and the scenario's own values are checked on every load; that the scenario is
    valid at every bound is checked by ``scenario_uncertain`` -- hundreds of builds -- and in the tests.)"""
    if "uncertain" in data:
        parse_uncertain(data["uncertain"], data, check_bounds=False)
    return {k: v for k, v in data.items() if k != "uncertain"}


def prepare(data: Mapping[str, Any], overrides: Mapping[str, float] | None) -> dict[str, Any]:
    """The parsed scenario with its ``[uncertain]`` table checked and removed, and ``overrides`` applied."""
    return apply(strip_uncertain(data), dict(overrides or {}))


def _path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(
                "scenario", str(name_or_path), f"unknown scenario (shipped: {', '.join(scenario_names())})"
            )
    elif not path.exists():
        raise ScenarioError("scenario", str(name_or_path), "file not found")
    return path


def raw_scenario(name_or_path: str | Path) -> dict[str, Any]:
    """A scenario's parsed TOML (shipped name or path), ``[uncertain]`` table included."""
    path = _path(name_or_path)
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("scenario", str(path), f"is not valid TOML: {exc}") from None


def scenario_uncertain(name_or_path: str | Path) -> dict[str, Uncertain]:
    """The uncertain parameters a scenario declares (empty if it has no ``[uncertain]`` table)."""
    raw = raw_scenario(name_or_path)
    return parse_uncertain(raw["uncertain"], raw) if "uncertain" in raw else {}
