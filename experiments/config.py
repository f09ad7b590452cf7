"""Experiments: declared in TOML, validated, expanded into runs.

An experiment names a scenario, a grid (membership x floor x instrument x
dumping x event sets x member stockpiles), a number of replicates, the months
to run, a root seed, and which per-step series to keep. ``Experiment.runs()``
expands it into ``RunSpec``s, each with its own seed drawn from the root seed
through ``numpy.random.SeedSequence`` keyed by the grid point and the
replicate index -- so a run's result does not depend on backend, worker count
or order, and any row can be re-run alone (``blocsim run --seed SEED``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.scenario import (
    MAX_PRICE,
    MAX_SEED,
    MAX_STEPS,
    BlocsimError,
    ScenarioError,
    _read_toml,
    load_scenario,
    parse_event,
)

__all__ = ["Experiment", "RunSpec", "load_experiment", "ExperimentError", "CONFIG_DIR"]

MAX_REPLICATES = 100_000
MAX_RUNS = 1_000_000  # grid points x replicates: refused above this before anything is expanded
MAX_RELATIVE_FLOOR = 100.0  # x members' full cost

CONFIG_DIR = Path(__file__).parent / "configs"
GRID_KEYS = ("membership", "floor", "instrument", "dumping", "events", "member_stockpile_months")
TOP_KEYS = ("name", "description", "scenario", "seed", "replicates", "steps", "keep_series", "floor_mode", "grid")


class ExperimentError(ScenarioError):
    """An experiment file is invalid: the message names the field and the value."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything ``experiments.runner.execute_run`` needs."""

    run_id: str
    point_id: str
    replicate: int
    seed: int
    scenario: str
    membership: str  # as declared: "3", "EU+US", "random:3"
    members: tuple[str, ...]
    size: int
    floor_level: float  # as declared (absolute $/kg or relative to members' full cost)
    floor: float  # $/kg
    instrument: str
    dumping: bool
    events: tuple[str, ...]
    member_stockpile_months: float | None
    steps: int
    keep_series: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """The grid parameters, as columns of the runs table."""
        return {
            "membership": self.membership,
            "size": self.size,
            "members": ",".join(self.members),
            "floor_level": self.floor_level,
            "floor": self.floor,
            "instrument": self.instrument,
            "dumping": self.dumping,
            "events": ";".join(self.events),
            "member_stockpile_months": np.nan if self.member_stockpile_months is None else self.member_stockpile_months,
        }


@dataclass(frozen=True)
class Experiment:
    name: str
    scenario: str
    seed: int
    replicates: int
    steps: int
    membership: tuple[Any, ...]
    floor: tuple[float, ...]
    floor_mode: str
    instrument: tuple[str, ...]
    dumping: tuple[bool, ...]
    events: tuple[tuple[str, ...], ...]
    member_stockpile_months: tuple[float | None, ...]
    keep_series: tuple[str, ...] = ()
    description: str = ""
    text: str = field(default="", repr=False)  # the file's contents, for the manifest

    @property
    def digest(self) -> str:
        """SHA-256 of the parsed experiment (its values, not its bytes: comments and layout do not count)."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__ if f not in ("text", "description")}
        key = json.dumps(values, sort_keys=True, default=_plain)
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def text_digest(self) -> str:
        """SHA-256 of the experiment file's bytes (what blocsim 0.1.0 recorded)."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def n_runs(self) -> int:
        """Grid points x replicates (without expanding the runs)."""
        sizes = (self.membership, self.floor, self.instrument, self.dumping, self.events, self.member_stockpile_months)
        return math.prod(len(v) for v in sizes) * self.replicates

    def points(self) -> list[dict[str, Any]]:
        """The grid points, in declaration order."""
        return [
            dict(zip(GRID_KEYS, combo, strict=True))
            for combo in itertools.product(
                self.membership, self.floor, self.instrument, self.dumping, self.events, self.member_stockpile_months
            )
        ]

    def runs(self) -> list[RunSpec]:
        """Every run: grid points x replicates."""
        sc = load_scenario(self.scenario)
        out = []
        for point in self.points():
            key = json.dumps({**point, "floor_mode": self.floor_mode}, sort_keys=True, default=list)
            digest = hashlib.sha256(key.encode()).digest()
            point_key = int.from_bytes(digest[:4], "little")  # seeds: keyed by the point alone (as in 0.1.0)
            # the run id names everything that makes the run: the point, the root seed, scenario and months
            ident = json.dumps(
                {
                    **point,
                    "floor_mode": self.floor_mode,
                    "seed": self.seed,
                    "scenario": self.scenario,
                    "steps": self.steps,
                },
                sort_keys=True,
                default=list,
            )
            point_id = hashlib.sha256(ident.encode()).hexdigest()[:10]
            for rep in range(self.replicates):
                ss = np.random.SeedSequence(self.seed, spawn_key=(point_key, rep))
                seed = int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
                members, label = _members(sc, point["membership"], ss)
                floor = float(point["floor"])
                if self.floor_mode == "relative" and floor > 0:
                    floor = round(floor * members_full_cost(sc, members), 6)
                out.append(
                    RunSpec(
                        run_id=f"{point_id}-r{rep}",
                        point_id=point_id,
                        replicate=rep,
                        seed=seed,
                        scenario=self.scenario,
                        membership=label,
                        members=members,
                        size=len(members),
                        floor_level=float(point["floor"]),
                        floor=floor,
                        instrument=point["instrument"],
                        dumping=point["dumping"],
                        events=tuple(point["events"]),
                        member_stockpile_months=point["member_stockpile_months"],
                        steps=self.steps,
                        keep_series=self.keep_series,
                    )
                )
        return out


def _plain(value: Any) -> Any:
    """JSON form of the parsed values a digest covers (dataclasses by their fields, sequences as lists)."""
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return list(value)


def members_full_cost(sc, members: tuple[str, ...]) -> float:
    """Members' full cost of oxide, $/kg: capacity-weighted mean full cost of their mines divided
    by the refining yield, plus that of their separation plants (weighted by potential where
    members have no capacity; the candidates' where members have no such role)."""

    def mean_full(codes, role):
        roles = [getattr(sc.country(c), role) for c in codes if getattr(sc.country(c), role)]
        if not roles:
            return None
        w = [r.capacity for r in roles]
        if sum(w) <= 0:
            w = [r.potential for r in roles]
        if sum(w) <= 0:
            w = [1.0] * len(roles)
        return sum(wi * r.full_cost for wi, r in zip(w, roles, strict=True)) / sum(w)

    pool = sc.bloc.accession_order
    mining = mean_full(members, "mining") or mean_full(pool, "mining") or 0.0
    refining = mean_full(members, "refining") or mean_full(pool, "refining") or 0.0
    return mining / sc.market.refining_yield + refining


def _members(sc, spec: Any, ss: np.random.SeedSequence) -> tuple[tuple[str, ...], str]:
    if isinstance(spec, str) and spec.startswith("random:"):
        k = int(spec.split(":", 1)[1])
        rng = np.random.default_rng(ss.spawn(1)[0])
        order = list(sc.bloc.accession_order)
        chosen = set(rng.choice(order, size=k, replace=False).tolist()) if k else set()
        return tuple(c for c in order if c in chosen), spec
    if isinstance(spec, int):
        return sc.resolve_members(spec), str(spec)
    members = sc.resolve_members(list(spec))
    return members, "+".join(members) if members else "none"


def _list(where: str, value: Any) -> list:
    if not isinstance(value, list) or not value:
        raise ExperimentError(where, value, "must be a non-empty list")
    return value


def _no_duplicates(where: str, values: list[Any], declared: list[Any]) -> None:
    """Refuse a grid dimension that lists one value twice (its runs would collide)."""
    seen: dict[str, int] = {}
    for i, v in enumerate(values):
        key = json.dumps(v, sort_keys=True, default=list)
        if key in seen:
            raise ExperimentError(f"{where}[{i}]", declared[i], f"repeats {where}[{seen[key]}]: each value once")
        seen[key] = i


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment TOML file (a path, or a name in ``experiments/configs``)."""
    if isinstance(path, Experiment):
        return path
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ExperimentError("experiment", path, "must be a path to an experiment .toml file or a shipped name")
    p = Path(path)
    if not p.exists() and "/" not in str(path) and (CONFIG_DIR / f"{path}.toml").exists():
        p = CONFIG_DIR / f"{path}.toml"
    if not p.exists():
        raise ExperimentError("experiment", str(path), "file not found")
    data, text = _read_toml("experiment", p, str(path), ExperimentError)
    return experiment_from_dict(data, text)


def _whole(data: dict[str, Any], key: str, default: Any, lo: int, hi: int) -> int:
    v = data.get(key, default)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
        raise ExperimentError(key, v, f"must be a whole number >= {lo}")
    if v > hi:
        raise ExperimentError(key, v, f"must be a whole number <= {hi}")
    return int(v)


def check_table(where: str, value: Any, known: tuple[str, ...], prefix: str = "") -> dict[str, Any]:
    """``value`` must be a table whose keys are all in ``known``; errors name ``prefix + key``."""
    if not isinstance(value, dict):
        raise ExperimentError(where, value, "must be a table")
    for key in value:
        if key not in known:
            raise ExperimentError(f"{prefix}{key}", value[key], f"unknown key (known: {', '.join(known)})")
    return value


def experiment_from_dict(data: dict[str, Any], text: str = "") -> Experiment:
    if not isinstance(data, dict):
        raise ExperimentError("experiment", data, "must be a table")
    if "design" in data or "uncertain" in data:  # a design over uncertain parameters: experiments/designs.py
        from experiments.designs import design_experiment

        return design_experiment(data, text)
    check_table("experiment", data, TOP_KEYS)
    for key in ("name", "scenario", "grid"):
        if key not in data:
            raise ExperimentError(key, None, "is required")
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise ExperimentError("name", name, "must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ExperimentError("description", description, "must be a string")
    if not isinstance(data["scenario"], str):
        raise ExperimentError("scenario", data["scenario"], "must be a shipped scenario name or a .toml path")
    try:
        sc = load_scenario(data["scenario"])
    except BlocsimError as exc:
        raise ExperimentError("scenario", data["scenario"], str(exc)) from None
    grid = check_table("grid", data["grid"], GRID_KEYS, "grid.")

    seed = _whole(data, "seed", 0, 0, MAX_SEED)
    replicates = _whole(data, "replicates", 1, 1, MAX_REPLICATES)
    steps = _whole(data, "steps", sc.steps, 1, MAX_STEPS)
    floor_mode = data.get("floor_mode", "absolute")
    if floor_mode not in ("absolute", "relative"):
        raise ExperimentError(
            "floor_mode", floor_mode, "must be 'absolute' ($/kg) or 'relative' (x members' full cost)"
        )

    n_order = len(sc.bloc.accession_order)
    membership = []
    for i, m in enumerate(_list("grid.membership", grid.get("membership", [3]))):
        where = f"grid.membership[{i}]"
        if isinstance(m, dict) and set(m) == {"random"}:
            m = f"random:{m['random']}"
        if isinstance(m, str) and m.startswith("random:"):
            k = m.split(":", 1)[1]
            if not (k.isascii() and k.isdigit()) or int(k) > n_order:
                raise ExperimentError(where, m, f"random:k needs 0 <= k <= {n_order}")
            m = f"random:{int(k)}"
        elif isinstance(m, numbers.Integral) and not isinstance(m, bool):
            m = int(m)
            _resolve(sc, where, m)
        elif isinstance(m, list):
            if not all(isinstance(c, str) for c in m):
                raise ExperimentError(where, m, "must be a list of country codes (strings)")
            dup = [c for c in m if m.count(c) > 1]
            if dup:
                raise ExperimentError(where, m, f"lists {dup[0]!r} twice")
            _resolve(sc, where, m)
            m = tuple(m)
        else:
            raise ExperimentError(where, m, "must be a number k, a list of country codes, or 'random:k'")
        membership.append(m)
    _no_duplicates("grid.membership", membership, grid.get("membership", [3]))

    top = MAX_RELATIVE_FLOOR if floor_mode == "relative" else MAX_PRICE
    unit = "x members' full cost" if floor_mode == "relative" else "$/kg"
    floors = []
    declared = _list("grid.floor", grid.get("floor", [0.0]))
    for i, f in enumerate(declared):
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not math.isfinite(f) or f < 0:
            raise ExperimentError(f"grid.floor[{i}]", f, f"must be a finite number >= 0 ({unit})")
        if f > top:
            raise ExperimentError(f"grid.floor[{i}]", f, f"must be <= {top:g} ({unit})")
        floors.append(float(f))
    _no_duplicates("grid.floor", floors, declared)
    if any(f > 0 for f in floors):  # as for one run: a floor needs bloc members
        for i, m in enumerate(membership):
            if m in (0, (), "random:0"):
                raise ExperimentError(
                    f"grid.membership[{i}]",
                    grid["membership"][i],
                    "no bloc members, but grid.floor has floors > 0 (a floor needs members): "
                    "sweep the no-bloc baseline in its own experiment with floor = [0.0]",
                )

    from model.model import parse_instruments

    instruments = []
    declared = _list("grid.instrument", grid.get("instrument", ["levy"]))
    for i, ins in enumerate(declared):
        where = f"grid.instrument[{i}]"
        if not isinstance(ins, str) or not ins.strip():
            raise ExperimentError(
                where, ins, "must be an instrument name: levy, cfd, buffer, procurement, a+b, or 'none'"
            )
        try:
            parsed = parse_instruments(ins)
        except BlocsimError:
            raise ExperimentError(where, ins, "unknown instrument (levy, cfd, buffer, procurement, or a+b)") from None
        if not parsed and any(f > 0 for f in floors):
            raise ExperimentError(where, ins, "a floor needs an instrument, and grid.floor has floors > 0")
        instruments.append(ins)
    _no_duplicates("grid.instrument", ["+".join(sorted(parse_instruments(i))) for i in instruments], declared)

    dumping = []
    declared = _list("grid.dumping", grid.get("dumping", [sc.dumping.enabled]))
    for i, d in enumerate(declared):
        if not isinstance(d, bool):
            raise ExperimentError(f"grid.dumping[{i}]", d, "must be true or false")
        dumping.append(d)
    _no_duplicates("grid.dumping", dumping, declared)

    events = []
    declared = _list("grid.events", grid.get("events", [[]]))
    for i, group in enumerate(declared):
        if isinstance(group, str):
            group = [group]
        if not isinstance(group, list):
            raise ExperimentError(f"grid.events[{i}]", group, "must be a list of event strings")
        for e in group:
            if not isinstance(e, str):
                raise ExperimentError(
                    f"grid.events[{i}]", e, "must be an event string like 'export_ban:start=60,duration=24'"
                )
            try:
                ev = parse_event(e)
            except BlocsimError as exc:
                raise ExperimentError(f"grid.events[{i}]", e, f"bad event: {exc}") from None
            if ev.start >= steps:
                raise ExperimentError(f"grid.events[{i}]", e, f"starts after the last month (steps = {steps})")
        events.append(tuple(group))
    _no_duplicates("grid.events", [sorted(g) for g in events], declared)

    stock = []
    declared = _list("grid.member_stockpile_months", grid.get("member_stockpile_months", ["scenario"]))
    for i, s in enumerate(declared):
        if s == "scenario":
            stock.append(None)
        elif isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(s) or not 0 <= s <= 24:
            raise ExperimentError(f"grid.member_stockpile_months[{i}]", s, "must be 0-24 months or 'scenario'")
        else:
            stock.append(float(s))
    _no_duplicates("grid.member_stockpile_months", stock, declared)

    from model.recorder import columns_for

    known = columns_for(sc)  # COLUMNS and the scenario's unmet_bloc_<end use> columns
    keep = data.get("keep_series", [])
    if not isinstance(keep, list):
        raise ExperimentError("keep_series", keep, "must be a list of per-step column names")
    for col in keep:
        if not isinstance(col, str) or col not in known:
            raise ExperimentError(
                "keep_series", col, "unknown per-step column (model/recorder.py COLUMNS, or unmet_bloc_<end use>)"
            )
        if keep.count(col) > 1:
            raise ExperimentError("keep_series", col, "appears twice")

    n_points = math.prod(len(v) for v in (membership, floors, instruments, dumping, events, stock))
    if n_points * replicates > MAX_RUNS:
        raise ExperimentError(
            "replicates",
            replicates,
            f"{n_points:,} grid points x {replicates:,} replicates = {n_points * replicates:,} runs "
            f"(at most {MAX_RUNS:,} in one experiment)",
        )
    return Experiment(
        name=name,
        scenario=data["scenario"],
        seed=seed,
        replicates=replicates,
        steps=steps,
        membership=tuple(membership),
        floor=tuple(floors),
        floor_mode=floor_mode,
        instrument=tuple(instruments),
        dumping=tuple(dumping),
        events=tuple(events),
        member_stockpile_months=tuple(stock),
        keep_series=tuple(keep),
        description=description,
        text=text,
    )


def _resolve(sc, where: str, members: Any) -> None:
    try:
        sc.resolve_members(members)
    except BlocsimError as exc:
        raise ExperimentError(where, members, str(exc)) from None
