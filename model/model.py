"""BlocModel: the Mesa model of a critical-minerals trading bloc.

State: the countries' roles as agents (mines, separation plants, consumers),
one bloc authority, and the market's last prices. One step is one month, in
this order (``step``):

1. events: export controls and demand shocks in force this month;
   consumers set their demand by end use; strategies (controls, dumping) decide;
2. concentrate market: mines offer, separation plants bid -- cleared by
   ``market.run_stage`` (transport, levy, links between segments, caps);
3. refined market: plants offer their output (CfD-covered volume apart),
   consumers bid by end use and offer strategic stock, traders buy and sell
   under the competitive-storage rule, the authority's buffer or procurement
   stock bids and offers -- cleared the same way;
4. settle: cash, stocks, consumption, unmet demand, the authority's budget;
5. decisions: investment, exit, restart;
6. record: one row of the per-step table (``model.recorder``).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager

import mesa
import numpy as np

from agents.authority import BlocAuthority
from agents.consumers import ConsumerState, use_curve
from agents.dominant import DominantStrategy
from agents.firms import build_plants
from agents.firms import decisions as firm_decisions
from agents.instruments import INSTRUMENTS, Instrument
from agents.producers import Plant, ProducerState, RefinerState
from agents.projects import Pipeline
from agents.strategies import Dumping, ExportControls
from agents.traders import StockTrader
from model.market import Segments, StageOutcome, TradeHistory, run_stage
from model.recorder import StepRecorder
from model.scenario import MAX_STEPS, Event, Scenario, ScenarioError, _int, validate_run
from model.summary import summarise


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a month, and restore its state after it.

    A month allocates hundreds of thousands of short-lived objects (quotes, offers, a stage's books)
    that live long enough to be promoted to the collector's oldest generation, which then triggers
    full collections over every object of the model: 12-16 % of a month at 6,000-60,000 agents
    (``benchmarks/README.md``). Reference counting still frees them as they die (a month leaves no
    reference cycles: tested), and the collector runs between months. Nothing in a run depends on when
    it runs, so results are unchanged.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_instruments(instrument: str | tuple[str, ...] | list[str] | None) -> frozenset[str]:
    """``"levy"``, ``"cfd+buffer"``, ``["levy", "cfd"]`` or None -> a set of instruments."""
    if instrument is None or instrument == "" or instrument == "none":
        return frozenset()
    parts = instrument.replace(",", "+").split("+") if isinstance(instrument, str) else list(instrument)
    out = set()
    for p in parts:
        p = p.strip()
        if p not in INSTRUMENTS:
            raise ScenarioError("instrument", p, f"unknown instrument (known: {', '.join(INSTRUMENTS)})")
        out.add(p)
    return frozenset(out)


class BlocModel(mesa.Model):
    """A trading bloc's price floor against a dominant supplier, month by month.

    ``members``: codes, a number k (first k of the accession order) or None.
    ``floor``: $/kg refined (0/None = no floor). ``instrument``: ``levy``,
    ``cfd``, ``buffer``, ``procurement`` or a combination like ``"levy+buffer"``.
    ``events``: extra events (``Event`` or CLI strings) on top of the scenario's.
    ``dumping``: override the scenario's dumping switch.
    ``member_stockpile_months``: give every member consumer this stockpile target.
    ``record_plants``: keep one row per plant and month in the DataCollector (its agent-type table) as
    well as the per-step model table; False keeps the model table only -- what a sweep needs
    (``mesa.batch_run`` copies every model column into each plant's row: ~200 MB per 240-month run).
    """

    def __init__(
        self,
        scenario: Scenario,
        members=None,
        floor: float | None = None,
        instrument: str | None = "levy",
        seed: int | np.random.SeedSequence | None = None,
        events=(),
        dumping: bool | None = None,
        member_stockpile_months: float | None = None,
        steps: int | None = None,
        record_plants: bool = True,
    ) -> None:
        opts = validate_run(  # the one validation layer: a bad option is one ScenarioError naming it
            scenario, members, floor, instrument, seed, events, dumping, member_stockpile_months, steps, record_plants
        )
        seed = opts["seed"]
        super().__init__(rng=np.random.default_rng(seed))
        self.seed = seed
        self.config = scenario  # the Scenario (Mesa reserves `model.scenario`)
        self.members = tuple(opts["members"])
        floor = opts["floor"]
        self.instruments = parse_instruments(opts["instrument"])
        dumping, member_stockpile_months = opts["dumping"], opts["member_stockpile_months"]
        self.events: tuple[Event, ...] = scenario.events + opts["events"]
        for ev in self.events:
            if ev.issuer and ev.issuer not in scenario.codes:
                raise ScenarioError("event.issuer", ev.issuer, f"unknown country (known: {', '.join(scenario.codes)})")
        self.dumping_enabled = scenario.dumping.enabled if dumping is None else dumping
        self.horizon = scenario.steps if opts["steps"] is None else opts["steps"]
        self.month = 0
        self.segments = Segments()
        mk = scenario.market
        self.use_curves = [
            use_curve(u, mk.reference_price, mk.demand_floor_ratio, mk.demand_steps, mk.reservation_spread)
            for u in scenario.end_uses
        ]
        # the curves' values at a price (per kind), shared by all consumers: a segment's consumers see
        # the same prices (``ConsumerState._curve_terms``)
        self.use_curve_memo: dict[tuple[str, float], tuple] = {}
        self.history = {"concentrate": TradeHistory(), "refined": TradeHistory()}
        # value of lost use per end use, $/kg: the top of its switching range x voll_multiple
        self.voll = [
            u.reservation * (1.0 + mk.reservation_spread) * mk.reference_price * mk.voll_multiple
            for u in scenario.end_uses
        ]
        self._last_prices = {
            "concentrate": [mk.initial_concentrate_price] * 3,
            "refined": [mk.reference_price] * 3,
        }
        self._segment = {c.code: self._segment_for(c.code) for c in scenario.countries}
        self.exits_log: list[tuple[int, str, str]] = []
        self.bloc_supply_by_origin: dict[str, float] = {}  # t of oxide delivered into the bloc, whole run

        self.authority = BlocAuthority(self, self.members, float(floor), self.instruments)
        self.mines: list[ProducerState] = []
        self.refiners: list[RefinerState] = []
        self.consumers: list[ConsumerState] = []
        d = scenario.defaults
        for c in scenario.countries:
            if c.consumer:
                months = c.consumer.stockpile_months
                if member_stockpile_months is not None and c.code in self.members:
                    months = member_stockpile_months
                self.consumers.append(ConsumerState(self, c.code, c.consumer, d, months))
        # issue 8: one plant per firm inside each country role (agents.firms), the project
        # pipeline (agents.projects) and the dominant supplier's policy (agents.dominant)
        self.mines, self.refiners = build_plants(self)
        self.traders = [StockTrader(self, k) for k in (self.segments.bloc, self.segments.home, self.segments.world)]
        # one ExportControls per issuing country and stage, shared by its plants (the cap is the country's)
        stages = ("concentrate", "refined")
        issuers = {self.issuer_of(e) for e in self.events if e.is_control} | {scenario.dominant}
        self.export_controls = {
            (code, stage): ExportControls(tuple(e for e in self.events if e.is_control and self.issuer_of(e) == code))
            for code in issuers
            for stage in stages
        }
        self.dominant_policy = DominantStrategy(
            self, scenario.dominant_policy, [self.export_controls[(scenario.dominant, s)] for s in stages]
        )
        dumper = None
        for plant in self.plants:
            self.join_export_controls(plant)
            if plant.code == scenario.dominant and self.dumping_enabled and isinstance(plant, RefinerState):
                if dumper is None:
                    dumper = Dumping(scenario.dumping, self.dominant_policy)
                    plant.strategies.append(dumper)
        self.pipeline = Pipeline(self)
        self.start_capacity = {  # members' capacity at the start, t/month
            "mining": sum(p.capacity for p in self.mines if p.code in self.members),
            "refining": sum(p.capacity for p in self.refiners if p.code in self.members),
            "refining_online": sum(p.online_capacity for p in self.refiners if p.code in self.members),
        }
        self._plant_start = {id(p): p.capacity for p in self.plants}
        self.recorder = StepRecorder(self, plants=opts["record_plants"])
        self.datacollector = self.recorder.collector  # a mesa.DataCollector
        self.concentrate: StageOutcome | None = None
        self.refined: StageOutcome | None = None

    # ------------------------------------------------------------ structure
    @property
    def plants(self) -> list[Plant]:
        return [*self.mines, *self.refiners]

    def _segment_for(self, code: str) -> int:
        if code in self.members:
            return self.segments.bloc
        if code == self.config.dominant:
            return self.segments.home
        return self.segments.world

    def segment_of(self, code: str) -> int:
        """The market segment a country's buyers are in."""
        return self._segment[code]

    def home_segment(self, agent) -> int:
        """The segment an agent trades in at home (no transport, no levy)."""
        if isinstance(agent, Instrument):
            return self.segments.bloc
        return agent.segment  # plants, traders and consumers know theirs (fixed for the run)

    def join_export_controls(self, plant: Plant) -> None:
        """Give a plant its country's export controls, if the country issues any (at the start, and for
        every plant a project adds). A plant without strategies sells competitively."""
        controls = self.export_controls.get((plant.code, plant.stage))
        if controls is not None:
            plant.strategies.append(controls)

    def issuer_of(self, event: Event) -> str:
        """The country that imposes an export control (default: the dominant supplier)."""
        return event.issuer or self.config.dominant

    def segment_targeted(self, event: Event, segment: int) -> bool:
        """Whether an export control applies to a segment (relative to its issuer's home segment)."""
        return segment in self.segments.targets(event.target, self._segment[self.issuer_of(event)])

    def segment_demand(self, segment: int) -> float:
        """Reference demand of a segment's consumers this month, t/month."""
        return sum(c.reference_demand for c in self.consumers if self._segment[c.code] == segment)

    def group_of(self, code: str) -> str:
        if code in self.members:
            return "member"
        return "dominant" if code == self.config.dominant else "other"

    def last_price(self, stage: str, segment: int) -> float:
        return self._last_prices[stage][segment]

    # ------------------------------------------------------------ aggregates
    def member_capacity_share(self, stage: str) -> float:
        plants = self.refiners if stage == "refined" else self.mines
        total = sum(p.online_capacity for p in plants)
        return sum(p.online_capacity for p in plants if p.code in self.members) / total if total else 0.0

    def member_refined_cost(self) -> float:
        """Lowest unit cost of an online member separation plant, incl. concentrate, $/kg."""
        y = self.config.market.refining_yield
        conc = self._last_prices["concentrate"][self.segments.bloc]
        if conc != conc:
            conc = self.config.market.initial_concentrate_price
        costs = [conc / y + p.role.min_cost for p in self.refiners if p.code in self.members and p.online_capacity > 0]
        return min(costs) if costs else self.config.market.reference_price

    def bloc_reference_demand(self) -> float:
        return sum(c.reference_demand for c in self.consumers if c.code in self.members)

    def member_demand_shares(self) -> dict[str, float]:
        """Each member's share of bloc reference demand this month (members without demand: 0)."""
        d = {c.code: c.reference_demand for c in self.consumers if c.code in self.members}
        total = sum(d.values())
        return {code: (d.get(code, 0.0) / total if total > 0 else 0.0) for code in self.members}

    def burden(self) -> dict[str, float]:
        """Each member's share of the bloc's fiscal cost, $, in proportion to its demand (assumed)."""
        cost = self.summary()["fiscal_cost"]
        return {code: share * cost for code, share in self.member_demand_shares().items()}

    def record_exit(self, plant: Plant) -> None:
        self.exits_log.append((self.month, plant.code, plant.stage))

    # ------------------------------------------------------------------ step
    def step(self) -> None:
        """One month (see the module docstring for the order), with the cyclic garbage collector
        paused until its end (``gc_paused``)."""
        with gc_paused():
            self.month = self.steps - 1
            shock = 1.0
            for ev in self.events:
                if ev.kind == "demand_shock" and ev.active(self.month):
                    shock *= ev.factor
            sd = self.config.market.demand_noise
            noise = self.rng.lognormal(-0.5 * sd**2, sd, size=len(self.consumers))
            for c, z in zip(self.consumers, noise, strict=True):
                c.shock = shock
                c.update_demand(float(z))
            for p in self.plants:
                for strat in p.strategies:
                    strat.update(p)
            self.authority.reset_flows()

            self.concentrate = run_stage(self, "concentrate", self.mines, self.refiners, self.history["concentrate"])
            bids, offers = self.authority.quotes("refined", self.bloc_reference_demand())
            for t in self.traders:
                b, o = t.quotes(self.segment_demand(t.segment))
                bids += [(q, t.segment) for q in b]
                offers += o
            for c in self.consumers:
                offers += c.offers()
                bids += [(q, c.segment) for q in c.stock_bids()]
            self.refined = run_stage(
                self, "refined", self.refiners, [], self.history["refined"], offers, bids, demand=self.consumers
            )

            for c in self.consumers:
                c.finish_month(self.refined.prices[c.segment])
            for t in self.traders:
                t.finish_month(self.refined.prices[t.segment])
            for stage, out in (("concentrate", self.concentrate), ("refined", self.refined)):
                for k in range(3):
                    if not math.isnan(out.prices[k]):
                        self._last_prices[stage][k] = out.prices[k]
            for p in self.plants:
                p.observe_price()
                p.finish_month()
            self.authority.close_month()

            firm_decisions(self)  # issue 8: stale prices, quota policy, projects, finance, exit (agents.firms)
            self.recorder.record()
            for p in self.plants:
                p.clear_month()
            for c in self.consumers:
                c.clear_month()
            for t in self.traders:
                t.clear_month()
            if self.steps >= self.horizon:
                self.running = False

    def run(self, steps: int | None = None) -> BlocModel:
        """Run ``steps`` months (default: the horizon set at construction)."""
        if steps is not None:
            steps = _int("steps", steps, 0, MAX_STEPS)
        n = self.horizon - self.steps if steps is None else steps
        self.horizon = max(self.horizon, self.steps + n)
        for _ in range(n):
            self.step()
        return self

    def firm_summary(self):
        """The run so far per firm facility: a pandas DataFrame, one row per plant (firm, country, stage),
        with its installed capacity at the start and now (t/month), on-line capacity, cash, debt and net
        worth ($), times it went offline, and its status; aggregate by ``country`` for country figures."""
        import pandas as pd

        rows = [
            {
                "firm": p.firm,
                "country": p.code,
                "stage": p.stage,
                "group": p.group,
                "capacity_start": self._plant_start.get(id(p), 0.0),
                "capacity_end": p.capacity,
                "online_end": p.online_capacity,
                "cash": p.cash,
                "debt": p.debt,
                "net_worth": p.net_worth,
                "exits": float(p.exits),
                "status": p.status,
            }
            for p in self.plants
        ]
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, float]:
        """Headline results of the run so far (see ``model.summary``)."""
        return summarise(self)
