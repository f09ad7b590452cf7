"""Run metrics for sweeps: the names and short labels of ``model.summary``'s metrics.

Every metric is defined once, with its formula, in ``model/summary.py`` (and in
``docs/model.md``); this module only lists them with a label for tables and
figures and evaluates them on a finished run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from model.summary import METRIC_NAMES

if TYPE_CHECKING:
    from model.model import BlocModel

METRICS: dict[str, str] = {
    "shortfall_share": "bloc unmet demand / demand during the export control",
    "peak_price_ratio": "peak bloc price during the control / pre-event mean",
    "price_at_top": "1 if the bloc price reached the top of the demand range",
    "recovery_months": "months from the control's end to recovery (3 months in band)",
    "recovery_censored": "1 if the bloc had not recovered by the horizon",
    "crisis_cost": "excess spending + value of lost use, control + 12 months, $",
    "crisis_lost_use": "value of lost use, control + 12 months, $",
    "leakage_share": "share of bloc supply re-exported through third countries during the control",
    "stockpile_cover": "bloc stocks before the control, months of demand",
    "member_capacity_retained": "members' on-line separation capacity, end / start",
    "member_output_retained": "members' separation output, last 12 / first 12 months",
    "member_capacity_end": "members' installed separation capacity at the end, t/month",
    "member_plants_exited": "member plants that went offline at least once",
    "member_exit_episodes": "times member plants went offline",
    "member_closures": "member plants closed for good",
    "self_sufficiency": "members' separation output / bloc consumption, last 12 months",
    "supply_hhi": "Herfindahl index of bloc supply by origin",
    "dominant_share_bloc": "dominant supplier's share of bloc supply",
    "dumping_margin": "dominant supplier's cost minus its dumping price, $/kg",
    "dumping_loss": "dominant supplier's dumping loss, $",
    "fiscal_cost": "present value of the bloc's net fiscal cost, $",
    "levy_revenue": "import levy collected, $",
    "cfd_paid": "CfD payments net of paybacks, $",
    "buffer_result": "buffer stock's trading result incl. stock at book cost, $",
    "consumer_cost_bloc": "bloc consumers' spending on oxide, $",
    "consumer_surplus_bloc_pv": "present value of bloc consumer surplus, $",
    "producer_surplus_member_pv": "present value of member producers' surplus, $",
    "producer_surplus_dominant_pv": "present value of the dominant supplier's producer surplus, $",
    "producer_surplus_other_pv": "present value of other producers' surplus, $",
    "welfare_bloc_pv": "bloc welfare: consumer + member producer surplus - fiscal cost, $",
    "burden_max_member": "the largest member's share of the fiscal cost, $",
    "price_bloc_mean": "mean bloc oxide price, $/kg",
    "price_world_mean": "mean rest-of-world oxide price, $/kg",
    "price_home_mean": "mean oxide price in the dominant supplier's home market, $/kg",
    "price_volatility": "s.d. of monthly log changes of the bloc price",
    "unmet_bloc_share": "bloc unmet demand / demand, whole run",
}
UNITS: dict[str, str] = {
    "shortfall_share": "share",
    "peak_price_ratio": "x",
    "price_at_top": "0/1",
    "recovery_months": "months",
    "recovery_censored": "0/1",
    "crisis_cost": "$",
    "crisis_lost_use": "$",
    "leakage_share": "share",
    "stockpile_cover": "months",
    "member_capacity_retained": "x",
    "member_output_retained": "x",
    "member_capacity_end": "t/month",
    "member_plants_exited": "count",
    "member_exit_episodes": "count",
    "member_closures": "count",
    "self_sufficiency": "share",
    "supply_hhi": "index 0-1",
    "dominant_share_bloc": "share",
    "dumping_margin": "$/kg",
    "dumping_loss": "$",
    "fiscal_cost": "$",
    "levy_revenue": "$",
    "cfd_paid": "$",
    "buffer_result": "$",
    "consumer_cost_bloc": "$",
    "consumer_surplus_bloc_pv": "$",
    "producer_surplus_member_pv": "$",
    "producer_surplus_dominant_pv": "$",
    "producer_surplus_other_pv": "$",
    "welfare_bloc_pv": "$",
    "burden_max_member": "$",
    "price_bloc_mean": "$/kg",
    "price_world_mean": "$/kg",
    "price_home_mean": "$/kg",
    "price_volatility": "log points",
    "unmet_bloc_share": "share",
}
assert tuple(UNITS) == METRIC_NAMES, "experiments.metrics.UNITS must list model.summary.METRIC_NAMES in order"
assert tuple(METRICS) == METRIC_NAMES, "experiments.metrics.METRICS must list model.summary.METRIC_NAMES in order"


def run_metrics(model: BlocModel, df: pd.DataFrame | None = None) -> dict[str, float]:
    """All of ``METRICS`` for a finished run (``df`` is accepted for compatibility and unused)."""
    return model.summary()
