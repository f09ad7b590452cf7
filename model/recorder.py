"""StepRecorder: computes the per-step table and records it through Mesa's DataCollector.

``BlocModel.datacollector`` is a ``mesa.DataCollector``: its
``get_model_vars_dataframe()`` has one row per month (column ``step``) and the
columns of ``COLUMNS``, which documents each with its unit (a price of an empty
segment is NaN); ``get_agenttype_vars_dataframe(Plant)`` has capacity, status
and cash per plant and month. The row is computed once a month
(``compute_row``) and each model reporter reads its value; storing it costs
the same as preallocated arrays would (``benchmarks/bench_model.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from model.model import BlocModel

# name -> (unit, meaning)
COLUMNS: dict[str, tuple[str, str]] = {
    "step": ("month", "month index, 0 = first month"),
    "price_bloc_refined": ("$/kg", "refined (oxide) price in the bloc segment"),
    "price_home_refined": ("$/kg", "refined price in the dominant supplier's home market"),
    "price_world_refined": ("$/kg", "refined price in the rest of the world"),
    "price_bloc_concentrate": ("$/kg", "concentrate price in the bloc segment (NdPr oxide equivalent)"),
    "price_home_concentrate": ("$/kg", "concentrate price in the dominant supplier's home market"),
    "price_world_concentrate": ("$/kg", "concentrate price in the rest of the world"),
    "supply_bloc": ("t/month", "refined product delivered into the bloc segment"),
    "supply_bloc_member": ("t/month", "of which from member separation plants"),
    "supply_bloc_dominant": ("t/month", "of which from the dominant supplier"),
    "supply_bloc_authority": ("t/month", "of which released from the joint stockpile"),
    "supply_home": ("t/month", "refined product delivered into the home segment"),
    "supply_world": ("t/month", "refined product delivered into the rest of the world"),
    "concentrate_traded": ("t/month", "concentrate sold by all mines"),
    "refined_output": ("t/month", "refined product made by all separation plants"),
    "demand_bloc": ("t/month", "bloc consumers' reference demand (at the reference price)"),
    "consumption_bloc": ("t/month", "bloc consumption, incl. stockpile draws"),
    "unmet_bloc": ("t/month", "bloc essential demand (bid at the choke price) left unserved"),
    "demand_home": ("t/month", "home-market consumers' reference demand"),
    "consumption_home": ("t/month", "home-market consumption"),
    "unmet_home": ("t/month", "home-market essential demand left unserved"),
    "demand_world": ("t/month", "rest-of-world consumers' reference demand"),
    "consumption_world": ("t/month", "rest-of-world consumption"),
    "unmet_world": ("t/month", "rest-of-world essential demand left unserved"),
    "consumption_total": ("t/month", "world consumption, all segments"),
    "capacity_mining_member": ("t/month", "installed mining capacity of members"),
    "capacity_refining_member": ("t/month", "installed separation capacity of members"),
    "capacity_mining_dominant": ("t/month", "installed mining capacity of the dominant supplier"),
    "capacity_refining_dominant": ("t/month", "installed separation capacity of the dominant supplier"),
    "capacity_mining_other": ("t/month", "installed mining capacity of non-members"),
    "capacity_refining_other": ("t/month", "installed separation capacity of non-members"),
    "online_refining_member": ("t/month", "members' separation capacity not mothballed"),
    "stock_authority": ("t", "joint stockpile held by the bloc authority"),
    "stock_consumers_bloc": ("t", "strategic stockpiles of member consumers"),
    "stock_consumers_other": ("t", "strategic stockpiles of non-member consumers"),
    "inventory_refiners": ("t", "unsold refined product held by separation plants"),
    "levy_revenue": ("$/month", "import levy collected by the authority"),
    "cfd_paid": ("$/month", "contract-for-difference top-ups paid to members"),
    "buffer_spend": ("$/month", "joint-stockpile purchases"),
    "buffer_income": ("$/month", "joint-stockpile sales"),
    "consumer_spend_bloc": ("$/month", "what bloc consumers paid for refined product"),
    "member_exits_cum": ("count", "member plants gone offline for lack of cash, cumulative"),
    "exits_cum": ("count", "all plants gone offline for lack of cash, cumulative"),
    "dumping_active": ("0/1", "the dominant supplier is dumping into the bloc"),
    "dumping_price": ("$/kg", "its dumping price (NaN when not dumping)"),
    "dumped": ("t/month", "volume sold at the dumping price"),
    "dumping_realised": ("$/kg", "netback the dominant supplier realised on dumped volume (NaN if none)"),
    "dumping_loss_cum": ("$", "its below-cost loss from dumping, cumulative"),
    "dominant_unit_cost": ("$/kg", "dominant supplier's refined unit cost (inventory book value)"),
}


class StepRecorder:
    """Computes ``COLUMNS`` every month and collects them with a Mesa DataCollector."""

    def __init__(self, model: BlocModel) -> None:
        from agents.producers import Plant

        self.model = model
        self._row: dict[str, float] = {}
        self.collector = mesa.DataCollector(
            model_reporters={name: self._reporter(name) for name in COLUMNS},
            agenttype_reporters={
                Plant: {"country": "code", "stage": "stage", "capacity": "capacity", "status": "status", "cash": "cash"}
            },
        )
        # refined product held before month 0 (t): for the material balance
        self.initial_stock = (
            sum(c.stock for c in model.consumers) + sum(p.inventory for p in model.refiners) + model.authority.stock
        )

    def _reporter(self, name: str):
        return lambda _model: self._row[name]

    @property
    def n(self) -> int:
        """Months recorded so far."""
        return len(self.collector.model_vars["step"])

    def record(self) -> None:
        """Compute this month's row and collect it."""
        self._row = self.compute_row()
        self.collector.collect(self.model)

    def compute_row(self) -> dict[str, float]:
        """This month's values of every column in ``COLUMNS``."""
        m = self.model
        seg = m.segments
        conc, ref = m.concentrate, m.refined
        auth = m.authority
        row: dict[str, float] = {"step": m.month}
        for k, name in ((seg.bloc, "bloc"), (seg.home, "home"), (seg.world, "world")):
            row[f"price_{name}_refined"] = ref.prices[k]
            row[f"price_{name}_concentrate"] = conc.prices[k]
            row[f"supply_{name}"] = ref.traded[k]
        row["supply_bloc_member"] = ref.from_members[seg.bloc]
        row["supply_bloc_dominant"] = ref.from_dominant[seg.bloc]
        row["supply_bloc_authority"] = ref.from_authority[seg.bloc]
        row["concentrate_traded"] = sum(conc.traded)
        row["refined_output"] = sum(p.output for p in m.refiners)
        by = {"bloc": [0.0] * 3, "home": [0.0] * 3, "world": [0.0] * 3}  # demand, consumed, unmet
        stock_bloc = stock_other = spend_bloc = 0.0
        for c in m.consumers:
            k = m.segment_of(c.code)
            agg = by["bloc" if k == seg.bloc else "home" if k == seg.home else "world"]
            agg[0] += c.reference_demand
            agg[1] += c.consumed
            agg[2] += c.unmet
            if k == seg.bloc:
                stock_bloc += c.stock
                spend_bloc += c.spend
            else:
                stock_other += c.stock
        for name, agg in by.items():
            row[f"demand_{name}"] = agg[0]
            row[f"consumption_{name}"] = agg[1]
            row[f"unmet_{name}"] = agg[2]
        row["consumption_total"] = sum(a[1] for a in by.values())
        for stage, plants in (("mining", m.mines), ("refining", m.refiners)):
            for group in ("member", "dominant", "other"):
                row[f"capacity_{stage}_{group}"] = sum(p.capacity for p in plants if m.group_of(p.code) == group)
        row["online_refining_member"] = sum(p.online_capacity for p in m.refiners if p.code in m.members)
        row["stock_authority"] = auth.stock
        row["stock_consumers_bloc"] = stock_bloc
        row["stock_consumers_other"] = stock_other
        row["inventory_refiners"] = sum(p.inventory for p in m.refiners)
        for key in ("levy_revenue", "cfd_paid", "buffer_spend", "buffer_income"):
            row[key] = auth.flows[key]
        row["consumer_spend_bloc"] = spend_bloc
        row["member_exits_cum"] = sum(1 for _, code, _ in m.exits_log if code in m.members)
        row["exits_cum"] = len(m.exits_log)
        dump = next((s for p in m.refiners for s in p.strategies if s.name == "dumping"), None)
        active = bool(dump and dump.active)
        row["dumping_active"] = float(active)
        row["dumping_price"] = dump.price if active else np.nan
        row["dumped"] = ref.dumped
        row["dumping_realised"] = ref.dump_value / ref.dumped if ref.dumped > 1e-9 else np.nan
        row["dumping_loss_cum"] = dump.loss if dump else 0.0
        dom = next((p for p in m.refiners if p.code == m.config.dominant), None)
        row["dominant_unit_cost"] = (
            dom.inventory_cost / dom.inventory / 1000.0 if dom and dom.inventory > 1e-9 else np.nan
        )
        return row

    def column(self, name: str) -> np.ndarray:
        """One column of the months recorded so far."""
        return np.asarray(self.collector.model_vars[name], dtype=float)
