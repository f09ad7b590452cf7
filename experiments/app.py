"""blocsim's interactive model page, built with Mesa's ``SolaraViz``.

Run it with ``blocsim app`` (or ``solara run experiments.app``); it needs the
``app`` extra (``pip install -e ".[app]"``). The page follows Mesa's examples:
a ``SolaraViz`` with model parameters (Mesa's ``UserInputs``: scenario, floor,
instruments, dumping, one export control, seed), Mesa's controller (Reset, run
with the play button, Step), and components that redraw every step: the plots
in ``PLOTS`` and the run's summary table. The bloc's members are picked in a
card of their own (a multi-select in accession order, or a size); like all
model parameters they apply on Reset.

Every plotted line goes through ``SERIES`` (name -> recorder column, unit); a
column the recorder does not have is skipped, and any further ``unmet_*``
column the recorder adds (e.g. by end use) joins the unmet-demand plot.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Callable, Sequence
from html import escape

import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from mesa.visualization import SolaraViz

from agents.instruments import INSTRUMENTS as _REGISTRY
from experiments.cli import _summary_label
from experiments.metrics import METRICS
from model.model import BlocModel
from model.scenario import Event, load_scenario, scenario_names

INSTRUMENTS: tuple[str, ...] = tuple(_REGISTRY)  # the registered floor instruments, by name

DEFAULT_SCENARIO = "rare_earths"
DEFAULT_MEMBERS = 3  # first k of the accession order (EU, US, JP in rare_earths), as the CLI's default
EXPORT_KINDS = ("none", "export_ban", "export_quota")
FLOOR_MAX = 250.0  # $/kg, slider range

# One mapping for every plotted line: name -> (recorder column, or (numerator, denominator) for a
# share in %, unit). Lines whose columns the recorder lacks are skipped.
SERIES: dict[str, tuple[str | tuple[str, str], str]] = {
    "bloc refined": ("price_bloc_refined", "$/kg"),
    "home refined": ("price_home_refined", "$/kg"),
    "world refined": ("price_world_refined", "$/kg"),
    "bloc concentrate": ("price_bloc_concentrate", "$/kg"),
    "home concentrate": ("price_home_concentrate", "$/kg"),
    "world concentrate": ("price_world_concentrate", "$/kg"),
    "members' share": (("supply_bloc_member", "supply_bloc"), "%"),
    "dominant supplier's share": (("supply_bloc_dominant", "supply_bloc"), "%"),
    "authority stock's share": (("supply_bloc_authority", "supply_bloc"), "%"),
    "leaked through third countries": (("leakage_bloc", "supply_bloc"), "%"),
    "members' on-line separation": ("online_refining_member", "t/month"),
    "members' installed separation": ("capacity_refining_member", "t/month"),
    "members' installed mining": ("capacity_mining_member", "t/month"),
    "unmet bloc": ("unmet_bloc", "t/month"),
    "unmet home": ("unmet_home", "t/month"),
    "unmet world": ("unmet_world", "t/month"),
    "authority's stock": ("stock_authority", "t"),
    "member consumers' stocks": ("stock_consumers_bloc", "t"),
    "traders' stocks, bloc": ("stock_traders_bloc", "t"),
    "traders' stocks, elsewhere": ("stock_traders_other", "t"),
    "other consumers' stocks": ("stock_consumers_other", "t"),
    "refiners' unsold stock": ("inventory_refiners", "t"),
    "levy revenue": ("levy_revenue", "$/month"),
    "CfD paid": ("cfd_paid", "$/month"),
    "buffer purchases": ("buffer_spend", "$/month"),
    "buffer sales": ("buffer_income", "$/month"),
    "procurement purchases": ("procurement_spend", "$/month"),
    "procurement sales": ("procurement_income", "$/month"),
    "net fiscal cost": ("fiscal_net", "$/month"),
}

# The plots: title -> names in SERIES (all of one unit). The floor is drawn on the refined price.
UNMET_PLOT = "Unmet demand (at the normal price)"
PLOTS: dict[str, tuple[str, ...]] = {
    "Refined (oxide) price": ("bloc refined", "home refined", "world refined"),
    "Concentrate price": ("bloc concentrate", "home concentrate", "world concentrate"),
    "Share of bloc supply": (
        "members' share",
        "dominant supplier's share",
        "authority stock's share",
        "leaked through third countries",
    ),
    "Members' capacity": ("members' on-line separation", "members' installed separation", "members' installed mining"),
    UNMET_PLOT: ("unmet bloc", "unmet home", "unmet world"),
    "Stockpiles": (
        "authority's stock",
        "member consumers' stocks",
        "traders' stocks, bloc",
        "traders' stocks, elsewhere",
        "other consumers' stocks",
        "refiners' unsold stock",
    ),
    "Authority's budget flows": (
        "levy revenue",
        "CfD paid",
        "buffer purchases",
        "buffer sales",
        "procurement purchases",
        "procurement sales",
        "net fiscal cost",
    ),
}
# display scaling of a unit: unit -> (factor, axis unit)
SCALE = {"$/month": (1e-6, "M$/month"), "$": (1e-9, "bn $")}

# summary metrics: key -> (label, unit); keys the summary lacks are skipped, new keys are shown as they come
SUMMARY_LABELS = {key: _summary_label(key) for key in METRICS}


def instrument_choices(instruments: Sequence[str] = INSTRUMENTS) -> list[str]:
    """Every non-empty combination of the model's instruments, singles first: ``levy``, ..., ``levy+cfd``, ..."""
    return ["+".join(c) for k in range(1, len(instruments) + 1) for c in itertools.combinations(instruments, k)]


def export_event(kind: str, start: int, duration: int, target: str, share: float) -> list[Event]:
    """The page's export control as the model's events (none for ``kind == "none"``)."""
    if kind == "none":
        return []
    return [Event(kind=kind, start=int(start), duration=int(duration), target=target, share=float(share))]


class AppModel(BlocModel):
    """A ``BlocModel`` built from the page's controls (Mesa's Reset calls this with them).

    ``members``: codes, a number k (first k of the accession order), or a ``solara.Reactive``
    holding either (the page's member card); codes not in the scenario's accession order are dropped.
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        members=DEFAULT_MEMBERS,
        floor: float = 0.0,
        instrument: str = INSTRUMENTS[0],
        dumping: bool = True,
        export_kind: str = "none",
        export_start: int = 60,
        export_duration: int = 24,
        export_target: str = "members",
        export_share: float = 0.5,
        seed: int = 1,
    ) -> None:
        scenario = load_scenario(scenario_name)
        if isinstance(members, solara.Reactive):
            members = members.value
        if not isinstance(members, int):
            order = scenario.bloc.accession_order
            members = [c for c in order if c in set(members)]
        super().__init__(
            scenario,
            members=members,
            floor=float(floor),
            instrument=instrument,
            seed=int(seed),
            events=export_event(export_kind, export_start, export_duration, export_target, export_share),
            dumping=bool(dumping),
        )


def model_params(scenario_name: str = DEFAULT_SCENARIO, members=DEFAULT_MEMBERS) -> dict:
    """SolaraViz's ``model_params``: Mesa's inputs for every control but the members (passed as given)."""
    steps = load_scenario(scenario_name).steps
    return {
        "scenario_name": {"type": "Select", "value": scenario_name, "values": scenario_names(), "label": "Scenario"},
        "members": members,
        "floor": {
            "type": "SliderFloat",
            "value": 0.0,
            "min": 0.0,
            "max": FLOOR_MAX,
            "step": 5.0,
            "label": "Price floor on oxide, $/kg (0 = none)",
        },
        "instrument": {
            "type": "Select",
            "value": INSTRUMENTS[0],
            "values": instrument_choices(),
            "label": "Floor instrument(s)",
        },
        "dumping": {"type": "Checkbox", "value": True, "label": "Dumping by the dominant supplier"},
        "export_kind": {"type": "Select", "value": "none", "values": list(EXPORT_KINDS), "label": "Export control"},
        "export_start": {
            "type": "SliderInt",
            "value": 60,
            "min": 0,
            "max": steps - 1,
            "step": 1,
            "label": "... starts in month",
        },
        "export_duration": {
            "type": "SliderInt",
            "value": 24,
            "min": 1,
            "max": steps,
            "step": 1,
            "label": "... lasts, months",
        },
        "export_target": {
            "type": "Select",
            "value": "members",
            "values": ["members", "all"],
            "label": "... against (buyers)",
        },
        "export_share": {
            "type": "SliderFloat",
            "value": 0.5,
            "min": 0.0,
            "max": 1.0,
            "step": 0.05,
            "label": "... quota: share of last year's exports",
        },
        "seed": {"type": "SliderInt", "value": 1, "min": 0, "max": 999, "step": 1, "label": "Random seed"},
    }


# ------------------------------------------------------------------ data for the plots and the table
def _has(model: BlocModel, column: str | tuple[str, str]) -> bool:
    cols = model.datacollector.model_vars
    return all(c in cols for c in ((column,) if isinstance(column, str) else column))


def _values(model: BlocModel, column: str | tuple[str, str]) -> np.ndarray:
    col = model.recorder.column
    if isinstance(column, str):
        return col(column)
    num, den = col(column[0]), col(column[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1.0), np.nan)


def plot_series(model: BlocModel, title: str) -> tuple[str, dict[str, np.ndarray]]:
    """One plot's axis label (with unit) and its lines, name -> values by month (scaled to the axis unit)."""
    names = list(PLOTS[title])
    series = {n: SERIES[n] for n in names}
    if title == UNMET_PLOT:  # new unmet_* columns (e.g. by end use) join in, unit from the recorder
        mapped = {c for c, _ in SERIES.values() if isinstance(c, str)}
        units = _recorder_units()
        for column in model.datacollector.model_vars:
            if column.startswith("unmet_") and column not in mapped:
                series[column.removeprefix("unmet_").replace("_", " ")] = (column, units.get(column, "t/month"))
    lines = {n: _values(model, c) for n, (c, _) in series.items() if _has(model, c)}
    unit = next(iter(series.values()))[1]
    factor, unit = SCALE.get(unit, (1.0, unit))
    if factor != 1.0:
        lines = {n: v * factor for n, v in lines.items()}
    return unit, lines


def _recorder_units() -> dict[str, str]:
    try:
        from model.recorder import COLUMNS
    except ImportError:  # pragma: no cover
        return {}
    return {k: v[0] for k, v in COLUMNS.items()}


def summary_rows(model: BlocModel) -> list[tuple[str, str, str]]:
    """The run's summary (``model.summary()``) as (metric, value, unit) rows."""
    if model.recorder.n == 0:
        return []
    rows = []
    for key, value in model.summary().items():
        label, unit = SUMMARY_LABELS.get(key, (key.replace("_", " "), ""))
        if isinstance(value, float) and math.isnan(value):
            text = "n/a"
        elif unit == "$":
            text, unit = f"{value / 1e9:,.2f}", "bn $"
        elif unit == "" and "share" in key:
            text, unit = f"{100 * value:.1f}", "%"
        elif unit == "":
            text, unit = f"{value:,.0f}", "count"
        else:
            text = f"{value:,.2f}"
        rows.append((label, text, unit))
    return rows


# ------------------------------------------------------------------ components
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")


class LivePlot:
    """One plot's matplotlib figure, kept for the model's lifetime; each redraw only updates its lines.

    Drawn on the server as Mesa's plot components are; building a figure's axes and ticks anew costs
    more than drawing it, so the page builds each figure once per model.
    """

    def __init__(self, title: str) -> None:
        self.fig = Figure(figsize=(5.6, 3.8), dpi=80)
        self.ax = self.fig.add_axes((0.13, 0.32, 0.84, 0.61))  # fixed margins: a layout engine is slower
        self.ax.set_title(title, fontsize=10)
        self.ax.set_xlabel("month")
        self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax.grid(alpha=0.3)
        self.lines: dict[str, Line2D] = {}
        self.floor: Line2D | None = None

    def update(self, unit: str, lines: dict[str, np.ndarray], floor: float | None = None) -> Figure:
        ax = self.ax
        changed = False
        for name, values in lines.items():
            if name not in self.lines:
                (self.lines[name],) = ax.plot([], [], label=name, color=COLORS[len(self.lines) % len(COLORS)], lw=1.4)
                changed = True
            self.lines[name].set_data(np.arange(len(values)), values)
        if floor and self.floor is None:
            self.floor = ax.axhline(floor, color="gray", ls="--", lw=1, label=f"floor ({floor:g} $/kg)")
            changed = True
        ax.set_ylabel(unit)
        n = max((len(v) for v in lines.values()), default=0)
        ax.set_xlim(0, max(n - 1, 1))
        ax.relim()
        ax.autoscale_view(scalex=False)
        if changed:
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)
        return self.fig


_LIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {title: LivePlot}


def figure(model: BlocModel, title: str) -> Figure:
    """The figure of ``PLOTS[title]`` for this model, updated to its last step."""
    plots = _LIVE.setdefault(model, {})
    live = plots.get(title) or plots.setdefault(title, LivePlot(title))
    unit, lines = plot_series(model, title)
    floor = model.authority.floor if title == "Refined (oxide) price" and model.authority.floor > 0 else None
    return live.update(unit, lines, floor)


def make_plot(title: str) -> Callable:
    """A SolaraViz component (a function of the model) drawing ``PLOTS[title]``."""

    def component(model: BlocModel):
        return solara.FigureMatplotlib(figure(model, title), format="png", dependencies=[model, model.steps])

    component.__name__ = f"Plot {title}"
    return component


def SummaryTable(model: BlocModel):
    """SolaraViz component: the run's summary metrics with units."""
    rows = summary_rows(model)
    members = ", ".join(model.members) or "none (no bloc)"
    floor = model.authority.floor
    policy = f"floor {floor:g} $/kg via {'+'.join(sorted(model.authority.names))}" if floor > 0 else "no floor"
    head = escape(
        f"{model.config.name}: month {model.recorder.n} of {model.horizon} · members: {members} · {policy} · "
        f"dumping {'on' if model.dumping_enabled else 'off'}"
    )
    if not rows:
        return solara.HTML(tag="div", unsafe_innerHTML=f"<p>{head}</p><p>Step the model to see its summary.</p>")
    body = "".join(
        f"<tr><td>{escape(label)}</td><td style='text-align:right; padding: 0 6px'>{escape(value)}</td>"
        f"<td>{escape(unit)}</td></tr>"
        for label, value, unit in rows
    )
    return solara.HTML(
        tag="div",
        unsafe_innerHTML=f"<p>{head}</p><table class='blocsim-summary'>"
        f"<tr><th>metric</th><th>value</th><th>unit</th></tr>{body}</table>",
    )


COMPONENTS = [*(make_plot(t) for t in PLOTS), SummaryTable]


@solara.component
def MemberPicker(model: solara.Reactive, members: solara.Reactive):
    """Pick the bloc: a multi-select in accession order, or its size (the first k); applies on Reset."""
    order = list(model.value.config.bloc.accession_order)
    chosen = order[: members.value] if isinstance(members.value, int) else [c for c in order if c in members.value]

    def pick(codes):
        members.value = [c for c in order if c in set(codes)]

    with solara.Card("Bloc members"):
        solara.SliderInt(
            "Bloc size (first k in accession order)",
            value=len(chosen),
            min=0,
            max=len(order),
            on_value=lambda k: members.set(int(k)),
        )
        solara.SelectMultiple("Members (accession order)", values=chosen, all_values=order, on_value=pick)
        solara.Text("Applies on Reset, like the model parameters.")


@solara.component
def Page():
    """The page: Mesa's SolaraViz with blocsim's controls and components."""
    members = solara.use_reactive(DEFAULT_MEMBERS)
    first = solara.use_memo(lambda: AppModel(members=DEFAULT_MEMBERS), [])
    model = solara.use_reactive(first)
    params = solara.use_memo(lambda: model_params(members=members), [])
    with solara.Sidebar():
        MemberPicker(model, members)
    SolaraViz(model, components=COMPONENTS, model_params=params, name="blocsim: a critical-minerals trading bloc")


__all__ = [
    "AppModel",
    "COMPONENTS",
    "Page",
    "PLOTS",
    "SERIES",
    "instrument_choices",
    "model_params",
    "plot_series",
    "summary_rows",
]
