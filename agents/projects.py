"""The project pipeline: lumpy capacity decided by NPV with a real-options band.

Each ``[[projects]]`` entry is a named project (capacity, capex, lead time,
cash cost, fixed cost, ramp-up). A project is **committed** (under construction
at the start, built whatever the NPV) or a **candidate**, decided once a month
from ``earliest`` on:

    NPV = (n - c) * Q * KG * A_u - f * Q * KG * A_f - K * A_k

where ``n`` is the firm's expected netback of the stage, ``c`` the cash cost net of by-product
credits (``byproduct_credit``: co-products' revenue per kg, the C1 cash-cost convention),
``f`` the fixed cost ($/kg of monthly capacity a month), ``Q`` the capacity,
``K`` the capex; ``A_u`` the discounted sum of utilisation over the project's
life (ramp-up from ``ramp_start`` to ``design_utilisation``), ``A_f`` of the
operating months, ``A_k`` of the construction months (capex is paid evenly
while building). Discounting at the owner's cost of capital. A candidate is
built when ``NPV > entry_band x K`` (Dixit 1989: the entry trigger sits above
the zero-NPV price; exit, in ``Plant.decide``, below the cash cost by the exit
band). The **incentive price** is the oxide price at which NPV = 0.

Expected netback ``n``: from moving averages (``price_memory_months``) of the
owner segment's prices -- the concentrate price for a mine, the oxide price less
the concentrate in it for a separation plant -- with the oxide price raised where
an instrument covers a member's sales (``authority.guaranteed_price``). The
incentive price, reported in oxide terms, maps the stage netback to the oxide
price with ``mine_price_share`` (a mine earns that share of the oxide price, a
separation plant the rest; the 2024 split).

Capex is paid month by month while building, financed by debt and equity at
the owner's terms (``Plant.finance_capex``); at completion the capacity joins the
owner's plant and ramps up over ``ramp_months``.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

from agents.producers import KG, ProducerState, RefinerState

if TYPE_CHECKING:
    from model.model import BlocModel
    from model.scenario import Project

CANDIDATE, BUILDING, BUILT = "candidate", "building", "built"


@dataclass
class ProjectState:
    spec: Project
    status: str = CANDIDATE
    decided: int = -1  # month of the decision
    paid: float = 0.0  # capex paid so far, $
    plant: object | None = None  # the owner's plant in this country and stage
    npv: float = float("nan")  # last appraisal, $
    a_u: float = 0.0
    a_f: float = 0.0
    a_k: float = 0.0
    generic: bool = False  # a generic expansion of a country role (long-run supply), not a named project
    order: int = -1  # position in the pipeline's list (sums over projects keep that order)

    @property
    def stage_name(self) -> str:
        return "concentrate" if self.spec.stage == "mining" else "refined"


class Pipeline:
    """Every project of the scenario, appraised and built month by month."""

    def __init__(self, model: BlocModel) -> None:
        self.model = model
        self.fin = model.config.finance
        self.projects = [ProjectState(p) for p in model.config.projects]
        mk = model.config.market
        self.oxide_expect = [mk.reference_price] * 3  # expected oxide price per segment, $/kg
        self.conc_expect = [mk.initial_concentrate_price] * 3  # expected concentrate price per segment, $/kg
        # look-ups by key (issue 12: scanning every plant and project per new project made a wave of
        # generic decisions quadratic in the number of countries)
        self._countries = {c.code: c for c in model.config.countries}
        self._factor_cache: dict[tuple[float, int, int], tuple[float, float, float]] = {}
        self._generic_count: dict[tuple[str, str], int] = {}  # generic projects created per country role
        self._building: dict[tuple[str, str], list[ProjectState]] = {}  # projects being built per role
        self._plants: dict[tuple[str, str], list] | None = None  # plants per (country, stage), in model order
        self._owned: dict[tuple[str, str, str], object] = {}  # the first plant per (firm, country, stage)
        self._firms = {}
        for f in model.config.firms:  # the first [[firms]] entry of a name, as a scan would find
            self._firms.setdefault(f.name, f)
        for i, ps in enumerate(self.projects):
            ps.order = i
        for ps in self.projects:
            self._factors(ps, self._rate(ps))
        for c in model.config.countries:
            if c.code == model.config.dominant:
                continue
            for stage, role in (("mining", c.mining), ("refining", c.refining)):
                if role is not None and self.fin.generic_size > 0 and role.potential > role.capacity:
                    self._add(self._generic(c.code, stage, role, 1))

    def _add(self, ps: ProjectState) -> None:
        ps.order = len(self.projects)
        self.projects.append(ps)

    def _index_plants(self) -> dict[tuple[str, str], list]:
        """Plants per (country, stage) and the first plant per (firm, country, stage), built once from
        the model's lists (kept up to date by ``_owner_plant``, the only place plants are added)."""
        if self._plants is None:
            self._plants = {}
            for stage, plants in (("mining", self.model.mines), ("refining", self.model.refiners)):
                for pl in plants:
                    self._plants.setdefault((pl.code, stage), []).append(pl)
                    self._owned.setdefault((pl.firm, pl.code, stage), pl)
        return self._plants

    def _generic(self, code: str, stage: str, role, n: int, earliest: int = 0) -> ProjectState:
        """A generic expansion of a country role: ``generic_size`` t/month at the role's marginal cash
        and fixed cost, its lead time, and the capex that makes its NPV zero at the role's full cost
        (the long-run supply curve beyond the named pipeline); decided from month ``earliest`` on."""
        from model.scenario import Project

        size = self.fin.generic_size
        # each generic line is its own entrant firm, with its own balance sheet: exit is per line (the
        # most indebted, highest-cost lines go first), not the whole country role at once
        spec = Project(name=f"{code} {stage} expansion {n}", firm=f"{code} {stage} entrant {n}", country=code,
                       stage=stage, capacity=size, capex=1.0, lead_time=role.lead_time,
                       cash_cost=role.marginal_cost, fixed_cost=role.fixed_cost)
        ps = ProjectState(spec, generic=True)
        self._generic_count[(code, stage)] = self._generic_count.get((code, stage), 0) + 1
        self._factors(ps, self._rate(ps))
        q = size * KG
        capex = ((role.full_cost - role.marginal_cost) * q * ps.a_u - role.fixed_cost * q * ps.a_f) / ps.a_k
        rate = self.fin.capex_mining if stage == "mining" else self.fin.capex_refining
        capex = max(capex, 0.25 * rate * size)
        ps.spec = dataclasses.replace(spec, capex=capex, earliest=earliest)
        return ps

    # ------------------------------------------------------------ appraisal
    def _rate(self, ps: ProjectState) -> float:
        firm = self._firms.get(ps.spec.firm)
        if firm is not None and firm.cost_of_capital >= 0:
            return firm.cost_of_capital
        return self.fin.cost_of_capital

    def _factors(self, ps: ProjectState, rate: float) -> None:
        fin, p = self.fin, ps.spec
        ramp = p.ramp_months if p.ramp_months > 0 else fin.ramp_months
        key = (rate, p.lead_time, ramp)
        cached = self._factor_cache.get(key)
        if cached is None:  # the same rate, lead time and ramp give the same factors: computed once
            d = (1.0 + rate) ** (-1.0 / 12.0)
            a_k = sum(d**t for t in range(p.lead_time)) / p.lead_time
            a_u = a_f = 0.0
            for t in range(fin.asset_life_months):
                disc = d ** (p.lead_time + t)
                prog = min(1.0, fin.ramp_start + (1.0 - fin.ramp_start) * t / ramp)
                a_u += disc * fin.design_utilisation * prog
                a_f += disc
            cached = self._factor_cache[key] = (a_u, a_f, a_k)
        ps.a_u, ps.a_f, ps.a_k = cached

    def stage_share(self, ps: ProjectState) -> float:
        s = self.fin.mine_price_share
        return s if ps.spec.stage == "mining" else 1.0 - s

    def incentive_price(self, ps: ProjectState, rate: float | None = None) -> float:
        """Oxide price at which the project's NPV is zero, $/kg."""
        if rate is not None:
            keep = (ps.a_u, ps.a_f, ps.a_k)
            self._factors(ps, rate)
        p = ps.spec
        q = p.capacity * KG
        if q * ps.a_u <= 0:  # no capacity, or no output within the plant's life: no price pays for it
            netback = math.inf
        else:
            netback = p.net_cash_cost + (p.fixed_cost * q * ps.a_f + p.capex * ps.a_k) / (q * ps.a_u)
        if rate is not None:
            ps.a_u, ps.a_f, ps.a_k = keep
        return netback / self.stage_share(ps)

    def npv(self, ps: ProjectState, oxide_price: float, netback: float | None = None) -> float:
        """NPV at an oxide price (the stage earning its ``stage_share``), or at a stage netback."""
        p = ps.spec
        q = p.capacity * KG
        n = oxide_price * self.stage_share(ps) if netback is None else netback
        return (n - p.net_cash_cost) * q * ps.a_u - p.fixed_cost * q * ps.a_f - p.capex * ps.a_k

    def expected_netback(self, ps: ProjectState) -> float:
        """The stage netback the owner expects: the concentrate price (mines) or the oxide price less
        the concentrate in it (separation), from moving averages of its segment's prices, with the
        oxide price raised by what an instrument covers."""
        k = self.model.segment_of(ps.spec.country)
        conc = self.conc_expect[k]
        if ps.spec.stage == "mining":
            return conc
        return self.expected_oxide(ps) - conc / self.model.config.market.refining_yield

    def expected_oxide(self, ps: ProjectState) -> float:
        """The oxide price the owner expects in its segment, raised by what an instrument covers."""
        m = self.model
        k = m.segment_of(ps.spec.country)
        base = self.oxide_expect[k]
        member = ps.spec.country in m.authority.members
        proxy = SimpleNamespace(
            stage="refined", member=member, code=ps.spec.country, bloc_sales_share=1.0 if member else 0.0,
            sales_trend=ps.spec.capacity * self.fin.design_utilisation, online_capacity=ps.spec.capacity,
        )
        return m.authority.guaranteed_price(proxy, base)

    # ------------------------------------------------------------ the month
    def observe(self) -> None:
        m = self.model
        w = 1.0 / m.config.market.price_memory_months
        for k in range(3):
            p = m.last_price("refined", k)
            if p == p:
                self.oxide_expect[k] += w * (p - self.oxide_expect[k])
            c = m.last_price("concentrate", k)
            if c == c:
                self.conc_expect[k] += w * (c - self.conc_expect[k])

    def threat(self) -> float:
        """Rivals' separation capacity being built, t/month (for the dominant supplier)."""
        dom = self.model.config.dominant
        return sum(ps.spec.capacity for ps in self.projects
                   if ps.status == BUILDING and ps.spec.stage == "refining" and ps.spec.country != dom)

    def lowest_incentive_price(self) -> float:
        """Lowest oxide incentive price among rivals' refining candidates and projects being built, $/kg."""
        dom = self.model.config.dominant
        prices = [self.incentive_price(ps) for ps in self.projects
                  if ps.status != BUILT and ps.spec.stage == "refining" and ps.spec.country != dom]
        return min(prices) if prices else float("inf")

    def decide(self, model: BlocModel) -> None:
        self.observe()
        month = model.month
        for ps in [ps for ps in self.projects if ps.status != BUILT]:
            p = ps.spec
            if ps.status == CANDIDATE and month >= p.earliest:
                lender, loan, saving = self._concession(ps)
                if saving > 0:  # appraised at the cost of capital less the interest saved
                    keep = (ps.a_u, ps.a_f, ps.a_k)
                    self._factors(ps, max(0.0, self._rate(ps) - saving))
                ps.npv = self.npv(ps, 0.0, self.expected_netback(ps))
                if saving > 0:
                    ps.a_u, ps.a_f, ps.a_k = keep
                if p.committed or ps.npv > self.fin.entry_band * p.capex:
                    ps.status, ps.decided = BUILDING, month
                    building = self._building.setdefault((p.country, p.stage), [])
                    bisect.insort(building, ps, key=lambda q: q.order)
                    ps.plant = self._owner_plant(ps)
                    if lender is not None and loan > 0:
                        self._borrow(ps.plant, lender, loan, p.capex)
                    if ps.generic:
                        self._respawn(ps)
            if ps.status == BUILDING:
                pay = min(p.capex / p.lead_time, p.capex - ps.paid)
                ps.plant.finance_capex(pay)
                ps.paid += pay
                if month - ps.decided + 1 >= p.lead_time:
                    ramp = p.ramp_months if p.ramp_months > 0 else self.fin.ramp_months
                    ps.plant.add_capacity(p.capacity, p.net_cash_cost, p.fixed_cost, ramp)
                    ps.status = BUILT
                    self._building[(p.country, p.stage)].remove(ps)

    def _concession(self, ps: ProjectState):
        """(lender, loan $, cost-of-capital saving) from a concessional-finance instrument, if any."""
        for inst in self.model.authority.instruments:
            terms = getattr(inst, "terms", None)
            if terms is not None:
                loan, saving = terms(ps.spec, None)
                if loan > 0:
                    return inst, loan, saving
        return None, 0.0, 0.0

    def _borrow(self, plant, lender, loan: float, capex: float) -> None:
        """The plant's debt on this project is partly the authority's concessional loan: its interest
        rate becomes the blend of the market and concessional rates over its debt."""
        rate = lender.c.concessional_rate
        lender.lend(plant, loan)
        debt = plant.debt + plant.debt_share * capex
        if debt > 0:
            loan = min(loan, plant.debt_share * capex)
            plant.interest_rate = (plant.interest_rate * (debt - loan) + rate * loan) / debt

    def _respawn(self, ps: ProjectState) -> None:
        """Once a generic expansion is decided, the next one becomes a candidate while potential remains."""
        p = ps.spec
        m = self.model
        country = self._countries[p.country]
        role = country.mining if p.stage == "mining" else country.refining
        key = (p.country, p.stage)
        installed = sum(pl.capacity for pl in self._index_plants().get(key, ()))
        building = sum(q.spec.capacity for q in self._building.get(key, ()))
        if installed + building + p.capacity <= role.potential:
            n = self._generic_count[key]
            # one generic decision per country role per interval: a firm adds a line at a time
            self._add(self._generic(p.country, p.stage, role, n + 1, earliest=m.month + self.fin.generic_interval))

    def _owner_plant(self, ps: ProjectState):
        """The owner's plant in the project's country and stage; a new firm's plant if none."""
        m = self.model
        p = ps.spec
        plants = m.mines if p.stage == "mining" else m.refiners
        self._index_plants()
        owned = self._owned.get((p.firm, p.country, p.stage))
        if owned is not None:
            return owned
        country = self._countries[p.country]
        role = country.mining if p.stage == "mining" else country.refining
        if role is None:  # a country with no such role in the data: use the project's own figures
            from model.scenario import Role

            role = Role(0.0, ((1.0, p.net_cash_cost),), p.net_cash_cost, p.fixed_cost, p.lead_time, p.capacity)
        firm = self._firms.get(p.firm)
        cls = ProducerState if p.stage == "mining" else RefinerState
        mk = m.config.market
        price = mk.initial_concentrate_price if p.stage == "mining" else mk.reference_price
        plant = cls(m, p.country, role, m.config.defaults, price, firm, 0.0)
        plant.firm = p.firm
        plant.fixed_rate = p.fixed_cost
        if firm is None or firm.cash < 0:
            plant.cash = plant.cash_open = 0.0
        plant.fixed_assets = 0.0
        plants.append(plant)
        m.join_export_controls(plant)  # a new plant in an issuing country is bound by its controls
        self._plants.setdefault((p.country, p.stage), []).append(plant)
        self._owned.setdefault((p.firm, p.country, p.stage), plant)
        return plant
