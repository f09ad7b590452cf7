"""PRIM, the Patient Rule Induction Method (Friedman & Fisher 1999), for scenario discovery.

Given futures ``x`` (one row per run, one column per uncertain parameter) and a
0/1 outcome ``y`` (1 = the case of interest, e.g. a policy failed), PRIM finds
boxes -- limits on a few parameters -- inside which the cases of interest are
concentrated:

- peeling: starting from the box holding every remaining point, repeatedly cut
  off the ``peel_alpha`` quantile of points at the lower or upper end of one
  parameter, choosing the cut that most improves the objective, while the box
  keeps at least ``mass_min`` of all points;
- pasting: then repeatedly widen a restricted limit by the ``paste_alpha``
  quantile of the points just outside it, while that raises the box's mean;
- covering: remove the points of the chosen box and look for the next box.

Each step is recorded on the box's ``trajectory`` (coverage = share of all
cases of interest inside the box, density = share of the box's points that are
cases of interest, mass = share of all points inside the box). The conventions
(quantiles, tie-breaks, stopping rules, objectives ``original`` = the box mean
and ``lenient1`` = gain in mean per point removed) follow the EMA workbench's
``prim`` so the two can be checked against each other (tests/test_prim.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Prim", "PrimBox", "quantile"]

OBJECTIVES = ("original", "lenient1")


def quantile(data: np.ndarray, q: float) -> float:
    """The ``q`` quantile as PRIM uses it (sdtoolkit's rule): the midpoint between the two order
    statistics around ``(n - 1) q``, moved outwards past ties so a cut always separates distinct values."""
    data = np.sort(np.asarray(data, dtype=float))
    i = (len(data) - 1) * q
    lo, hi = math.floor(i), math.ceil(i)
    if q > 0.5:
        while data[lo] == data[hi] and lo > 0:
            lo -= 1
    else:
        while data[lo] == data[hi] and hi < len(data) - 1:
            hi += 1
    return float((data[lo] + data[hi]) / 2)


@dataclass
class PrimBox:
    """A box found by PRIM, with its peeling-and-pasting trajectory; ``selected`` indexes the reported box."""

    columns: list[str]
    init: np.ndarray  # (2, d): lower, upper limits of all the data
    limits: list[np.ndarray] = field(default_factory=list)  # (2, d) per step
    stats: list[dict] = field(default_factory=list)
    indices: list[np.ndarray] = field(default_factory=list)
    selected: int = -1

    @property
    def trajectory(self) -> pd.DataFrame:
        return pd.DataFrame(self.stats)

    def restricted(self, i: int | None = None) -> list[str]:
        lim = self.limits[self.selected if i is None else i]
        return [c for j, c in enumerate(self.columns) if (lim[:, j] != self.init[:, j]).any()]

    def limits_table(self, i: int | None = None) -> pd.DataFrame:
        """The restricted parameters' limits of step ``i`` (default: the selected box)."""
        i = self.selected if i is None else i
        lim = self.limits[i]
        rows = []
        for j, c in enumerate(self.columns):
            if (lim[:, j] != self.init[:, j]).any():
                rows.append({"parameter": c, "low": lim[0, j], "high": lim[1, j]})
        return pd.DataFrame(rows, columns=["parameter", "low", "high"])

    def __getattr__(self, name: str):
        if name in ("coverage", "density", "mass", "res_dim", "n", "k"):
            return self.stats[self.selected][name]
        raise AttributeError(name)


class Prim:
    """PRIM over a DataFrame of numeric parameters ``x`` and a 0/1 outcome ``y``."""

    def __init__(
        self,
        x: pd.DataFrame,
        y: np.ndarray,
        objective: str = "original",
        peel_alpha: float = 0.05,
        paste_alpha: float = 0.05,
        mass_min: float = 0.05,
    ) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}")
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError("y must be one-dimensional, one value per row of x")
        if not set(np.unique(y)) <= {0.0, 1.0}:
            raise ValueError("y must be 0/1 (cases of interest = 1)")
        self.columns = list(x.columns)
        self.x = x.to_numpy(dtype=float)
        self.y = y
        self.n = len(y)
        self.objective = objective
        self.peel_alpha, self.paste_alpha, self.mass_min = peel_alpha, paste_alpha, mass_min
        self.init = np.vstack([self.x.min(axis=0), self.x.max(axis=0)])
        self.remaining = np.arange(self.n)
        self.boxes: list[PrimBox] = []

    # ------------------------------------------------------------------ helpers
    def _obj(self, y_old: np.ndarray, y_new: np.ndarray) -> float:
        if self.objective == "original":
            return float(np.mean(y_new)) if len(y_new) else -1.0
        mean_old = np.mean(y_old)
        mean_new = np.mean(y_new) if len(y_new) else 0.0
        if mean_old == mean_new or len(y_old) == len(y_new):
            return 0.0
        return float((mean_new - mean_old) / abs(len(y_old) - len(y_new)))

    def _n_restricted(self, lim: np.ndarray) -> int:
        return int((lim != self.init).any(axis=0).sum())

    def _record(self, box: PrimBox, lim: np.ndarray, idx: np.ndarray) -> None:
        y = self.y[idx]
        k = float(y.sum())
        box.limits.append(lim.copy())
        box.indices.append(idx)
        box.stats.append(
            {
                "coverage": k / max(float(self.y.sum()), 1.0),
                "density": k / len(y) if len(y) else math.nan,
                "mean": float(np.mean(y)) if len(y) else math.nan,
                "res_dim": self._n_restricted(lim),
                "mass": len(y) / self.n,
                "n": len(y),
                "k": k,
            }
        )

    @staticmethod
    def _best(candidates: list[tuple[float, int, np.ndarray, np.ndarray]]):
        """The candidate with the highest objective, then the fewest restricted dimensions; first on ties."""
        best = None
        for cand in candidates:
            if best is None or (cand[0], cand[1]) > (best[0], best[1]):
                best = cand
        return best

    # ------------------------------------------------------------------ phases
    def _peel(self, box: PrimBox) -> None:
        while True:
            idx, lim = box.indices[-1], box.limits[-1]
            xb = self.x[idx]
            mass_old = len(idx) / self.n
            candidates = []
            for j in range(len(self.columns)):
                xj = xb[:, j]
                for side in (1, 0):  # upper, then lower
                    if side == 1:
                        cut = quantile(xj, 1 - self.peel_alpha)
                        keep = xj <= cut
                    else:
                        cut = quantile(xj, self.peel_alpha)
                        keep = xj >= cut
                    new_lim = lim.copy()
                    new_lim[side, j] = cut
                    new_idx = idx[keep]
                    obj = self._obj(self.y[idx], self.y[new_idx])
                    candidates.append((obj, len(self.columns) - self._n_restricted(new_lim), new_lim, new_idx))
            if not candidates:
                return
            obj, _, new_lim, new_idx = self._best(candidates)
            mass_new = len(new_idx) / self.n
            if mass_new >= self.mass_min and mass_new < mass_old and obj > 0:
                self._record(box, new_lim, new_idx)
            else:
                return

    def _in(self, x: np.ndarray, lim: np.ndarray, dims: list[int]) -> np.ndarray:
        if not dims:
            return np.ones(len(x), dtype=bool)
        return ((lim[0, dims] <= x[:, dims]) & (x[:, dims] <= lim[1, dims])).all(axis=1)

    def _paste(self, box: PrimBox) -> None:
        xr = self.x[self.remaining]
        while True:
            idx, lim = box.indices[-1], box.limits[-1]
            mass_old = len(idx) / self.n
            dims = [j for j in range(len(self.columns)) if (lim[:, j] != self.init[:, j]).any()]
            candidates = []
            for j in dims:
                for side in (0, 1):  # lower, then upper
                    slab = lim.copy()
                    if side == 0:
                        slab[:, j] = self.init[0, j], lim[0, j]
                    else:
                        slab[:, j] = lim[1, j], self.init[1, j]
                    data = xr[self._in(xr, slab, dims), j]
                    if side == 0:
                        value = quantile(data, 1 - self.paste_alpha) if data.size else self.init[0, j]
                    else:
                        value = quantile(data, self.paste_alpha) if data.size else self.init[1, j]
                    new_lim = lim.copy()
                    new_lim[side, j] = value
                    new_idx = self.remaining[self._in(xr, new_lim, dims)]
                    obj = self._obj(self.y[idx], self.y[new_idx])
                    candidates.append((obj, len(self.columns) - self._n_restricted(new_lim), new_lim, new_idx))
            if not candidates:
                return
            obj, _, new_lim, new_idx = self._best(candidates)
            mass_new = len(new_idx) / self.n
            if (
                mass_new >= self.mass_min
                and mass_new > mass_old
                and obj > 0
                and np.mean(self.y[new_idx]) > np.mean(self.y[idx])
            ):
                self._record(box, new_lim, new_idx)
            else:
                return

    # ------------------------------------------------------------------ public
    def find_box(self, threshold: float | None = None) -> PrimBox | None:
        """Peel and paste one box from the remaining points; None if none remain.

        ``selected`` is the last step (as in the EMA workbench) unless ``threshold`` is given:
        then the step with the highest coverage among those with density >= threshold
        (else the densest step).
        """
        if len(self.remaining) == 0:
            return None
        box = PrimBox(self.columns, self.init)
        self._record(box, self.init, self.remaining.copy())
        self._peel(box)
        self._paste(box)
        box.selected = len(box.stats) - 1
        if threshold is not None:
            traj = box.trajectory
            ok = traj.index[traj["density"] >= threshold]
            box.selected = int(traj.loc[ok, "coverage"].idxmax()) if len(ok) else int(traj["density"].idxmax())
        self.boxes.append(box)
        self.remaining = np.setdiff1d(self.remaining, box.indices[box.selected])
        return box

    def find_boxes(self, max_boxes: int = 3, threshold: float = 0.8, min_lift: float = 1.1) -> list[PrimBox]:
        """Covering: boxes one after another, each on the points the earlier ones left, while a box
        restricts some parameter and its density is at least ``min_lift`` x the remaining base rate."""
        out = []
        for _ in range(max_boxes):
            if len(self.remaining) == 0 or self.y[self.remaining].sum() == 0:
                break
            base = float(np.mean(self.y[self.remaining]))
            box = self.find_box(threshold)
            if box is None or box.res_dim == 0 or box.density < min_lift * base:
                break
            out.append(box)
        return out
