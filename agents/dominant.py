"""The dominant supplier's objective: its quota policy and its response to a bloc.

- **Quota policy.** The state groups' capacity grows at ``quota_growth`` a year
  (China's 2024 mining quota rose 5.9% to 270 kt REO, separation 254 kt; mining.com),
  whatever the margin -- not a planner that meets all demand at cash cost. The
  expansion is brownfield: paid at ``[finance].capex_*`` per t/month, financed by
  the groups' debt and state equity.
- **Response to a bloc or a floor.** When a floor is first in force, the
  dominant supplier answers with **retaliation** with probability
  ``retaliation_probability`` (an export licence regime or a ban on members,
  ``retaliation_delay`` months later, for ``retaliation_duration`` months), and
  otherwise stands ready to **predate** (``agents.strategies.Dumping``: limit
  pricing when rivals threaten its share, recoupment after they exit, within its
  loss budget). ``response`` records what happened: "none", "predation",
  "retaliation".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.producers import ACTIVE
from model.scenario import Event

if TYPE_CHECKING:
    from model.model import BlocModel
    from model.scenario import DominantPolicy


class DominantStrategy:
    """The dominant supplier's state-level policy (one per model)."""

    def __init__(self, model: BlocModel, params: DominantPolicy, controls: list) -> None:
        self.params = params
        self.code = model.config.dominant
        self.controls = controls  # the ExportControls strategies of its plants (one per stage)
        self.response = ""  # "", "predation" or "retaliation"
        self.retaliation: Event | None = None
        self._decided = False
        self.monthly_growth = (1.0 + params.quota_growth) ** (1.0 / 12.0) - 1.0

    # ------------------------------------------------------------ quota policy
    def expand(self, model: BlocModel) -> None:
        fin = model.config.finance
        for p in model.plants:
            if p.code != self.code or not p.state_group or p.status != ACTIVE:
                continue
            add = p.capacity * self.monthly_growth
            if add <= 0:
                continue
            rate = fin.capex_mining if p.stage == "concentrate" else fin.capex_refining
            p.finance_capex(add * rate)
            p.add_capacity(add, p.marginal_cost(), p.fixed_rate, 0)

    # ------------------------------------------------------------ response
    def respond(self, model: BlocModel) -> None:
        """Once, when a floor is first in force: retaliate with a probability, or stand ready to predate."""
        if self._decided or not model.authority.members or model.authority.floor <= 0:
            return
        self._decided = True
        p = self.params
        if model.rng.random() < p.retaliation_probability:
            self.response = "retaliation"
            ev = Event(
                kind=p.retaliation_kind, start=model.month + 1 + p.retaliation_delay,
                duration=p.retaliation_duration, target="members", share=p.retaliation_share,
            )
            self.retaliation = ev
            model.events = (*model.events, ev)
            for c in self.controls:
                c.add_event(ev)

    def may_predate(self, model: BlocModel) -> bool:
        return self.response != "retaliation"

    def decide(self, model: BlocModel) -> None:
        self.respond(model)
        self.expand(model)

    # ------------------------------------------------------------ what it watches
    def rival_share(self, model: BlocModel) -> float:
        """Rivals' share of world separation capacity, on line plus being built."""
        building = model.pipeline.threat()
        total = sum(p.online_capacity for p in model.refiners) + building
        rivals = sum(p.online_capacity for p in model.refiners if p.code != self.code) + building
        return rivals / total if total > 0 else 0.0

    def member_building(self, model: BlocModel) -> float:
        from agents.projects import BUILDING

        return sum(ps.spec.capacity for ps in model.pipeline.projects
                   if ps.status == BUILDING and ps.spec.country in model.authority.members)

    def member_incentive_price(self, model: BlocModel) -> float:
        from agents.projects import BUILT

        pl = model.pipeline
        prices = [pl.incentive_price(ps) for ps in pl.projects
                  if ps.status != BUILT and ps.spec.stage == "refining" and ps.spec.country in model.authority.members]
        return min(prices) if prices else float("nan")

    def rival_incentive_price(self, model: BlocModel) -> float:
        x = model.pipeline.lowest_incentive_price()
        return x if x < float("inf") else model.config.market.reference_price
