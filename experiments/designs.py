"""Designs over uncertain parameters, crossed with an experiment's policy grid.

An experiment file may add, besides its ``[grid]``::

    [uncertain]            # optional: ranges added to (or replacing) the scenario's own [uncertain] table
    "market.concentrate_floor_ratio" = { low = 0.4, high = 0.8, why = "..." }

    [design]
    kind = "morris"        # "lhs" (scipy.stats.qmc.LatinHypercube), "sobol" (SALib sample.sobol), "morris" (SALib)
    samples = 8            # LHS: points; Sobol: base samples N (a power of 2; N x (k + 2) points);
                           # Morris: trajectories r ((k + 1) x r points)
    seed = 1               # of the design (the runs' seeds come from the experiment's seed as before)
    parameters = ["..."]   # a subset of the uncertain paths (default: all of them)
    levels = 4             # Morris grid levels (even)

Each design point (a "future") is crossed with every policy run of the grid
(membership x floor x instrument x ... x replicates). The runs of a policy cell
and replicate share their seed across futures (common random numbers), so the
differences between futures come from the parameters, not from the noise. The
parameters reach the model as scenario overrides (``model/uncertainty.py``) and
are stored as ``u.PATH`` columns of ``runs.parquet`` beside ``sample`` (the
future's index). Relative floors are set from the scenario's base costs: the
policy is fixed in $/kg before the future is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from experiments.config import Experiment, ExperimentError, RunSpec, check_table, experiment_from_dict
from model.scenario import ScenarioError
from model.uncertainty import Uncertain, parse_uncertain, raw_scenario

__all__ = ["KINDS", "Design", "DesignExperiment", "DesignRunSpec", "design_experiment", "unit_design"]

KINDS = ("lhs", "sobol", "morris")
DESIGN_KEYS = ("kind", "samples", "seed", "parameters", "levels")


@dataclass(frozen=True)
class Design:
    kind: str
    samples: int
    seed: int
    parameters: tuple[str, ...]
    levels: int = 4

    def n_points(self) -> int:
        """Design points (futures)."""
        k = len(self.parameters)
        return {"lhs": self.samples, "sobol": self.samples * (k + 2), "morris": self.samples * (k + 1)}[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "samples": self.samples,
            "seed": self.seed,
            "levels": self.levels,
            "parameters": list(self.parameters),
            "points": self.n_points(),
        }


def unit_design(kind: str, samples: int, seed: int, k: int, levels: int = 4) -> np.ndarray:
    """The design in the unit hypercube: an (n_points, k) array of quantiles in [0, 1].

    Deterministic in its arguments, so an analysis can rebuild it from the manifest.
    """
    if kind == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=k, rng=np.random.default_rng(seed)).random(samples)
    problem = {"num_vars": k, "names": [f"x{i}" for i in range(k)], "bounds": [[0.0, 1.0]] * k}
    if kind == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    if kind == "morris":
        from SALib.sample import morris

        return morris.sample(problem, samples, num_levels=levels, seed=seed)
    raise ValueError(f"unknown design kind {kind!r}")


@dataclass(frozen=True)
class DesignRunSpec(RunSpec):
    """A run of a design: a policy run plus one future (its index and parameter values)."""

    sample: int = -1
    overrides: tuple[tuple[str, float], ...] = ()

    def params(self) -> dict[str, Any]:
        return {**super().params(), "sample": self.sample, **{f"u.{p}": v for p, v in self.overrides}}


@dataclass(frozen=True)
class DesignExperiment(Experiment):
    """An experiment whose policy grid is crossed with a design over uncertain parameters."""

    design: Design | None = None
    uncertain: tuple[Uncertain, ...] = field(default_factory=tuple)

    @property
    def n_runs(self) -> int:
        return super().n_runs * self.design.n_points()

    @property
    def parameters(self) -> tuple[Uncertain, ...]:
        """The uncertain parameters the design varies, in design order."""
        by_path = {u.path: u for u in self.uncertain}
        return tuple(by_path[p] for p in self.design.parameters)

    def unit(self) -> np.ndarray:
        d = self.design
        return unit_design(d.kind, d.samples, d.seed, len(d.parameters), d.levels)

    def futures(self) -> list[tuple[tuple[str, float], ...]]:
        """Each design point as ((path, value), ...)."""
        params = self.parameters
        return [tuple((u.path, u.value(q)) for u, q in zip(params, row, strict=True)) for row in self.unit()]

    @property
    def design_info(self) -> dict[str, Any]:
        """What an analysis needs to rebuild the design (stored in the manifest)."""
        return {**self.design.as_dict(), "uncertain": {u.path: u.as_dict() for u in self.parameters}}

    def runs(self) -> list[RunSpec]:
        """Every run: futures x (grid points x replicates), future by future."""
        base = super().runs()
        names = [f.name for f in fields(RunSpec)]
        out: list[RunSpec] = []
        for j, overrides in enumerate(self.futures()):
            for spec in base:
                kw = {n: getattr(spec, n) for n in names}
                kw["run_id"] = f"{spec.point_id}-s{j:05d}-r{spec.replicate}"
                out.append(DesignRunSpec(**kw, sample=j, overrides=overrides))
        return out


def _whole(where: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ExperimentError(where, value, f"must be a whole number >= {lo}")
    return value


def design_experiment(data: dict[str, Any], text: str = "") -> DesignExperiment:
    """Validate an experiment with ``[design]`` (and optionally ``[uncertain]``) tables."""
    rest = {k: v for k, v in data.items() if k not in ("design", "uncertain")}
    base = experiment_from_dict(rest, text)
    if "design" not in data:
        raise ExperimentError("uncertain", data["uncertain"], "needs a [design] table (kind = lhs, sobol or morris)")
    spec = check_table("design", data["design"], DESIGN_KEYS, "design.")
    raw = raw_scenario(base.scenario)
    try:
        uncertain = parse_uncertain(raw.get("uncertain", {}), raw, check_bounds=False)
        extra = data.get("uncertain", {})
        # the experiment's own ranges add to (or replace) the scenario's
        uncertain.update(parse_uncertain(extra, raw, check_bounds=True))
    except ScenarioError as exc:
        prefix = f"{exc.field} = {exc.value!r}: "
        raise ExperimentError(exc.field, exc.value, str(exc).removeprefix(prefix)) from None
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ExperimentError("design.kind", kind, f"must be one of {', '.join(KINDS)}")
    samples = _whole("design.samples", spec.get("samples"), 2 if kind != "sobol" else 1)
    if kind == "sobol" and samples & (samples - 1):
        raise ExperimentError("design.samples", samples, "a Sobol design needs a power of 2 (e.g. 64, 128, 256)")
    seed = _whole("design.seed", spec.get("seed", 0), 0)
    levels = _whole("design.levels", spec.get("levels", 4), 2)
    if "levels" in spec and kind != "morris":
        raise ExperimentError("design.levels", levels, "only applies to kind = 'morris'")
    if levels % 2:
        raise ExperimentError("design.levels", levels, "Morris levels must be even (e.g. 4)")
    params = spec.get("parameters", list(uncertain))
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise ExperimentError("design.parameters", params, "must be a list of uncertain parameter paths")
    if not params:
        raise ExperimentError(
            "design.parameters", params, "no uncertain parameters: add an [uncertain] table to the scenario or here"
        )
    for p in params:
        if p not in uncertain:
            raise ExperimentError(
                "design.parameters", p, f"is not an uncertain parameter (declared: {', '.join(uncertain) or 'none'})"
            )
    if len(set(params)) != len(params):
        raise ExperimentError("design.parameters", params, "lists a parameter twice")
    if kind != "lhs" and len(params) < 2:
        raise ExperimentError("design.parameters", params, f"a {kind} design needs at least 2 parameters")
    design = Design(kind, samples, seed, tuple(params), levels)
    values = {f.name: getattr(base, f.name) for f in fields(base)}
    return DesignExperiment(**values, design=design, uncertain=tuple(uncertain.values()))


def is_design(experiment: Experiment) -> bool:
    return isinstance(experiment, DesignExperiment)


def n_points(experiment: Experiment) -> int:
    return experiment.design.n_points() if is_design(experiment) else 1


def describe(experiment: Experiment) -> str:
    """One line: the design and how many runs it makes."""
    if not is_design(experiment):
        return f"grid: {experiment.n_runs} runs"
    d = experiment.design
    cells = experiment.n_runs // d.n_points()
    return (
        f"{d.kind} design over {len(d.parameters)} parameters: {d.n_points()} futures x {cells} policy runs "
        f"= {experiment.n_runs} runs"
    )
