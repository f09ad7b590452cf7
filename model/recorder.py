"""StepRecorder: computes the per-step table and records it through Mesa's DataCollector.

``BlocModel.datacollector`` is a ``mesa.DataCollector``: its
``get_model_vars_dataframe()`` has one row per month (column ``step``) and the
columns of ``COLUMNS``, which documents each with its unit (a price of an empty
segment is NaN); ``get_agenttype_vars_dataframe(Plant)`` has capacity, status
and cash per plant and month. The row is computed once a month
(``compute_row``). The collector is Mesa's own class with a leaner ``collect``
(``BlocCollector``): it stores exactly what ``mesa.DataCollector.collect`` would
(the same ``model_vars`` lists and agent-type records, so Mesa's own
``get_*_dataframe`` methods build the same DataFrames), without one reporter
call and one ``deepcopy`` per value.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.authority import net_fiscal
from agents.firms import FIRM_COLUMNS, firm_columns

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
    "supply_bloc": ("t/month", "refined product delivered into the bloc segment (incl. re-exports into it)"),
    "reexports_bloc": ("t/month", "refined product re-sold out of the bloc segment to others (links)"),
    "supply_bloc_member": ("t/month", "of which from member separation plants"),
    "supply_bloc_dominant": ("t/month", "of which from the dominant supplier"),
    "supply_bloc_authority": ("t/month", "of which released from the joint stockpile"),
    "supply_home": ("t/month", "refined product delivered into the home segment"),
    "supply_world": ("t/month", "refined product delivered into the rest of the world"),
    "concentrate_traded": ("t/month", "concentrate sold by all mines"),
    "refined_output": ("t/month", "refined product made by all separation plants"),
    "demand_bloc": ("t/month", "bloc consumers' reference demand (at the reference price)"),
    "consumption_bloc": ("t/month", "bloc consumption, incl. stockpile draws"),
    "unmet_bloc": ("t/month", "bloc demand at the normal price left unserved (all end uses)"),
    "demand_home": ("t/month", "home-market consumers' reference demand"),
    "consumption_home": ("t/month", "home-market consumption"),
    "unmet_home": ("t/month", "home-market demand at the normal price left unserved"),
    "demand_world": ("t/month", "rest-of-world consumers' reference demand"),
    "consumption_world": ("t/month", "rest-of-world consumption"),
    "unmet_world": ("t/month", "rest-of-world demand at the normal price left unserved"),
    "rationed_bloc": ("t/month", "bloc demand willing to pay above the price left unserved (rationing)"),
    "rationed_world": ("t/month", "rest-of-world demand willing to pay above the price left unserved"),
    "rationed_home": ("t/month", "home-market demand willing to pay above the price left unserved"),
    "consumption_total": ("t/month", "world consumption, all segments"),
    "capacity_mining_member": ("t/month", "installed mining capacity of members"),
    "capacity_refining_member": ("t/month", "installed separation capacity of members"),
    "capacity_mining_dominant": ("t/month", "installed mining capacity of the dominant supplier"),
    "capacity_refining_dominant": ("t/month", "installed separation capacity of the dominant supplier"),
    "capacity_mining_other": ("t/month", "installed mining capacity of non-members"),
    "capacity_refining_other": ("t/month", "installed separation capacity of non-members"),
    "online_refining_member": ("t/month", "members' separation capacity not mothballed"),
    "online_mining_member": ("t/month", "members' mining capacity not mothballed"),
    "output_refining_member": ("t/month", "refined product made by member separation plants"),
    "leakage_bloc": ("t/month", "refined product re-sold into the bloc from other segments (links)"),
    "stock_traders_bloc": ("t", "private (traders') stocks in the bloc segment"),
    "stock_traders_other": ("t", "private (traders') stocks in the home and world segments"),
    "consumer_surplus_bloc": ("$/month", "bloc consumers' surplus (interpolated demand curves)"),
    "lost_use_value_bloc": ("$/month", "bloc unmet demand valued at each end use's value of lost use"),
    "producer_surplus_member": ("$/month", "member plants' sales revenue less variable costs"),
    "producer_surplus_dominant": ("$/month", "the dominant supplier's revenue less variable costs"),
    "producer_surplus_other": ("$/month", "other plants' revenue less variable costs"),
    "levy_rate": ("$/kg", "import levy per kg on non-member oxide into the bloc"),
    "procurement_spend": ("$/month", "joint-procurement purchases"),
    "procurement_income": ("$/month", "joint-procurement sales"),
    "storage_cost": ("$/month", "the authority's stock storage cost"),
    "fiscal_net": ("$/month", "the authority's net fiscal cost this month (see agents.authority)"),
    "buffer_fund": ("$", "buffer-stock fund left (NaN without a buffer)"),
    "money_residual": ("$/month", "paid - received - transport - transship - levy - link rent, both stages (0)"),
    "stock_authority": ("t", "stock held by the bloc authority (buffer and procurement)"),
    "stock_consumers_bloc": ("t", "strategic stockpiles of member consumers"),
    "stock_consumers_other": ("t", "strategic stockpiles of non-member consumers"),
    "inventory_refiners": ("t", "unsold refined product held by separation plants"),
    "levy_revenue": ("$/month", "import levy collected by the authority"),
    "cfd_paid": ("$/month", "contract-for-difference payments to members (negative: paid back)"),
    "buffer_spend": ("$/month", "buffer-stock purchases"),
    "buffer_income": ("$/month", "buffer-stock sales"),
    "consumer_spend_bloc": ("$/month", "what bloc consumers paid for refined product"),
    "member_exits_cum": ("count", "member plants gone offline for lack of cash, cumulative"),
    "exits_cum": ("count", "all plants gone offline for lack of cash, cumulative"),
    "dumping_active": ("0/1", "the dominant supplier is dumping into the bloc"),
    "dumping_price": ("$/kg", "its dumping price (NaN when not dumping)"),
    "dumped": ("t/month", "volume sold at the dumping price"),
    "dumping_realised": ("$/kg", "netback the dominant supplier realised on dumped volume (NaN if none)"),
    "dumping_loss_cum": ("$", "its below-cost loss from dumping, cumulative"),
    "dominant_unit_cost": ("$/kg", "dominant supplier's refined unit cost (inventory book value)"),
    # ---- issue 8 (firms): appended block, computed by agents.firms.firm_columns ----
    **FIRM_COLUMNS,
}


def columns_for(scenario) -> dict[str, tuple[str, str]]:
    """``COLUMNS`` plus one unmet-demand column per end use of the scenario."""
    out = dict(COLUMNS)
    for u in scenario.end_uses:
        out[f"unmet_bloc_{u.name}"] = ("t/month", f"bloc unmet demand of end use {u.name}")
    return out


# per-plant columns of ``get_agenttype_vars_dataframe(Plant)``: name -> Plant attribute
PLANT_COLUMNS: dict[str, str] = {
    "country": "code", "stage": "stage", "capacity": "capacity", "status": "status", "cash": "cash",
    "firm": "firm", "sold": "sold", "debt": "debt", "net_worth": "net_worth",
}


class BlocCollector(mesa.DataCollector):
    """A ``mesa.DataCollector`` whose ``collect`` stores the recorder's row and the plants' rows directly.

    What it stores, and where, is what Mesa's ``collect`` stores for these reporters: one value per
    model column appended to ``model_vars[name]``, and per plant ``(model.time, unique_id, *values)``
    in ``_agenttype_records[model.time][Plant]``, plants in the order of ``model.agents``. Mesa
    deep-copies each value first; every value here is an immutable scalar (float, str), so the copy
    is the value itself. ``get_model_vars_dataframe`` and ``get_agenttype_vars_dataframe`` are Mesa's.
    With ``plant_type`` None (``BlocModel(record_plants=False)``) it keeps the model's rows only.
    """

    def __init__(self, recorder: StepRecorder, columns, plant_type: type | None) -> None:
        super().__init__(
            model_reporters={name: recorder._reporter(name) for name in columns},
            agenttype_reporters={plant_type: dict(PLANT_COLUMNS)} if plant_type else {},
        )
        self._recorder = recorder
        self._names = tuple(columns)
        self._plant_type = plant_type
        self._plant_values = attrgetter(*PLANT_COLUMNS.values())
        self._plants: list = []

    def collect(self, model) -> None:
        row = self._recorder._row
        time = model.time
        self._collection_steps.append(time)
        self._validated = True
        model_vars = self.model_vars
        for name in self._names:
            model_vars[name].append(row[name])
        if self._plant_type is None:
            return
        values = self._plant_values
        records = [(time, a.unique_id, *values(a)) for a in self._plants_in_order(model)]
        self._agenttype_records[time] = {self._plant_type: records}

    def _plants_in_order(self, model) -> list:
        """The model's plants in the order of ``model.agents`` (by ``unique_id``, the order agents were
        created in), sorted again only when a plant has been added since the last month."""
        n = len(model.mines) + len(model.refiners)
        if n != len(self._plants):
            self._plants = sorted(model.plants, key=attrgetter("unique_id"))
        return self._plants


class StepRecorder:
    """Computes ``COLUMNS`` every month and collects them with a Mesa DataCollector (``BlocCollector``),
    with one row per plant and month as well unless ``plants`` is False."""

    def __init__(self, model: BlocModel, plants: bool = True) -> None:
        from agents.producers import Plant

        self.model = model
        self._row: dict[str, float] = {}
        self.collector = BlocCollector(self, columns_for(model.config), Plant if plants else None)
        # refined product held before month 0 (t): for the material balance
        self.initial_stock = (
            sum(c.stock for c in model.consumers)
            + sum(p.inventory for p in model.refiners)
            + model.authority.stock
            + sum(t.stock for t in model.traders)
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
        row["concentrate_traded"] = sum(conc.traded) - sum(conc.leaked)  # sold by mines (re-sales once)
        # one pass over the plants collects the terms of each plant sum, in plant order (then ``sum``)
        dominant = m.config.dominant
        capacity = {(stage, g): [] for stage in ("mining", "refining") for g in ("member", "dominant", "other")}
        surplus = {"member": 0.0, "dominant": 0.0, "other": 0.0}
        online_mining_member = []
        for p in m.mines:
            group = p.group
            capacity[("mining", group)].append(p.capacity)
            if group == "member":
                online_mining_member.append(p.online_capacity)
            surplus[group] += p.revenue - p.variable_cost_month
        output, online_refining_member, inventory, output_member = [], [], [], []
        dom = None
        for p in m.refiners:
            group = p.group
            output.append(p.output)
            capacity[("refining", group)].append(p.capacity)
            if group == "member":
                online_refining_member.append(p.online_capacity)
                output_member.append(p.output)
            inventory.append(p.inventory)
            surplus[group] += p.revenue - p.variable_cost_month
            if dom is None and p.code == dominant:
                dom = p
        row["refined_output"] = sum(output)
        by = {"bloc": [0.0] * 4, "home": [0.0] * 4, "world": [0.0] * 4}  # demand, consumed, unmet, rationed
        stock_bloc = stock_other = spend_bloc = cs = lost = 0.0
        unmet_uses = [0.0] * len(m.config.end_uses)
        for c in m.consumers:  # one pass: segment totals, and the bloc's stocks, spending and surplus
            k = c.segment
            agg = by["bloc" if k == seg.bloc else "home" if k == seg.home else "world"]
            agg[0] += c.reference_demand
            agg[1] += c.consumed
            agg[2] += c.unmet
            agg[3] += c.rationed
            if k == seg.bloc:
                stock_bloc += c.stock
                spend_bloc += c.spend
                cs += c.surplus
                lost += sum(q * v for q, v in zip(c.unmet_by_use, m.voll, strict=True)) * 1000.0
                for i, q in enumerate(c.unmet_by_use):
                    unmet_uses[i] += q
            else:
                stock_other += c.stock
        for name, agg in by.items():
            row[f"demand_{name}"] = agg[0]
            row[f"consumption_{name}"] = agg[1]
            row[f"unmet_{name}"] = agg[2]
            row[f"rationed_{name}"] = agg[3]
        row["consumption_total"] = sum(a[1] for a in by.values())
        for (stage, group), values in capacity.items():
            row[f"capacity_{stage}_{group}"] = sum(values)
        row["online_refining_member"] = sum(online_refining_member)
        row["stock_authority"] = auth.stock
        row["stock_consumers_bloc"] = stock_bloc
        row["stock_consumers_other"] = stock_other
        row["inventory_refiners"] = sum(inventory)
        for key in (
            "levy_revenue", "cfd_paid", "buffer_spend", "buffer_income",
            "procurement_spend", "procurement_income", "storage_cost",
        ):
            row[key] = auth.flows[key]
        row["fiscal_net"] = net_fiscal(auth.flows)
        buf = next((i for i in auth.instruments if i.name == "buffer"), None)
        row["buffer_fund"] = buf.fund if buf else np.nan
        row["levy_rate"] = auth.applied_levy["refined"]
        row["money_residual"] = sum(
            o.money["paid"] - o.money["received"] - o.money["transport"] - o.money["transship"]
            - o.money["levy"] - o.money["link_rent"]
            for o in (conc, ref)
        )
        row["leakage_bloc"] = ref.leaked[seg.bloc]
        row["reexports_bloc"] = ref.reexported[seg.bloc]
        row["stock_traders_bloc"] = sum(t.stock for t in m.traders if t.segment == seg.bloc)
        row["stock_traders_other"] = sum(t.stock for t in m.traders if t.segment != seg.bloc)
        row["online_mining_member"] = sum(online_mining_member)
        row["output_refining_member"] = sum(output_member)
        for g, v in surplus.items():
            row[f"producer_surplus_{g}"] = v
        row["consumer_surplus_bloc"] = cs
        row["lost_use_value_bloc"] = lost
        for u, q in zip(m.config.end_uses, unmet_uses, strict=True):
            row[f"unmet_bloc_{u.name}"] = q
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
        row["dominant_unit_cost"] = (
            dom.inventory_cost / dom.inventory / 1000.0 if dom and dom.inventory > 1e-9 else np.nan
        )
        # ---- issue 8 (firms): appended block ----
        row.update(firm_columns(m))
        return row

    def column(self, name: str) -> np.ndarray:
        """One column of the months recorded so far."""
        return np.asarray(self.collector.model_vars[name], dtype=float)
