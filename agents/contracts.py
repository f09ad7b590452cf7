"""Firm-level and concessionary instruments the bloc authority can hold (issue 8, section 4).

Both subclass ``agents.instruments.Instrument``; register them with
``INSTRUMENTS.update(CONTRACTS)`` (``agents/instruments.py``) to use them as
``instrument="levy+dod_mp"`` or ``"cfd+concessional"``.

- ``dod_mp`` -- the **DoD-MP Materials contract** as signed (July 2025): a floor of
  ``STRIKE`` = 110 $/kg on one firm's NdPr oxide (MP Materials' separation plant), sold or
  stockpiled, for ``TERM`` = 120 months; the government receives ``UPSIDE`` = 30 % of the
  price above the floor; at most ``VOLUME_CAP`` t/month are covered. Settled each month on
  the firm's realised netback over all its sales (wherever sold, not only into the bloc):
  ``pay = (STRIKE - p) x q`` below the strike, ``-UPSIDE x (p - STRIKE) x q`` above it, booked
  as the plant's ``subsidy`` flow (so its cash identity holds) and as the authority's
  ``cfd_paid``. The firm's expected price counts the floor on the covered share.
- ``concessional`` -- **concessionary finance** (EU-Japan funds, JOGMEC, Project Vault's
  $10 bn): the authority lends ``LEND_SHARE`` of a member project's capex at ``RATE``
  instead of the market rate, within ``BUDGET``; the project is appraised at its cost of
  capital less the interest saving on the lent share. The fiscal cost is the interest
  subsidy ``(market rate - RATE) x loan`` a month plus the loans lost when a borrower closes
  insolvent (its share of the written-off debt); reported in ``fiscal_cost`` (see below).

Fiscal reporting: ``dod_mp`` uses the authority's ``cfd_paid`` flow. ``concessional``
keeps ``interest_subsidy`` and ``losses`` ($, cumulative) on itself; to enter the
authority's budget it needs a flow key in ``agents.authority.FLOWS`` (e.g. ``finance_cost``)
added to ``net_fiscal`` -- the lead engineer's files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.instruments import Instrument
from agents.producers import KG

if TYPE_CHECKING:
    from agents.producers import Plant

# DoD-MP contract, shared data (rare_earths.csv): dod_mp_price_floor, dod_mp_upside_share, dod_mp_floor_duration
STRIKE = 110.0  # $/kg NdPr oxide (MP/DoD Jul 2025)
UPSIDE = 0.30  # share of the price above the floor to the government (Nasdaq/Reuters)
TERM = 120  # months (MP release: 10 years)
VOLUME_CAP = 10000.0 / 12.0  # t/month: assumed, MP's 10X magnet plan of 10 kt/yr (mp_10x_magnet_capacity) as the cap
FIRM = "MP Materials"

# concessionary finance: assumed figures (Project Vault: $10 bn of EXIM lending, project_vault_exim)
BUDGET = 10.0e9  # $ lending budget
RATE = 0.02  # a year: concessional rate (assumed; EXIM/JOGMEC-type lending, range 0-0.04)
LEND_SHARE = 0.5  # of capex (assumed, range 0.3-0.8)


class DodMpContract(Instrument):
    """A 110 $/kg floor on MP Materials' NdPr oxide with 30 % upside sharing, 10 years, capped volume."""

    name = "dod_mp"

    def in_term(self) -> bool:
        return self.model.month < TERM

    def _covered(self, plant: Plant) -> bool:
        return plant.stage == "refined" and getattr(plant, "firm", "") == FIRM

    def guarantee(self, plant: Plant) -> tuple[float, float]:
        if not self._covered(plant) or not self.in_term():
            return 0.0, 0.0
        expected = max(plant.sales_trend, 1e-9)
        return min(1.0, VOLUME_CAP / expected), STRIKE

    def close_month(self) -> None:
        """Settle the month's covered sales of the firm (plants have settled their own sales)."""
        if not self.in_term():
            return
        for plant in self.model.refiners:
            if not self._covered(plant) or plant.sold <= 1e-9:
                continue
            q = min(plant.sold, VOLUME_CAP)
            p = plant.revenue / (plant.sold * KG)
            per_kg = STRIKE - p if p < STRIKE else -UPSIDE * (p - STRIKE)
            pay = per_kg * q * KG  # negative above the strike: the government's upside share
            plant.book("subsidy", pay)
            self.auth.flows["cfd_paid"] += pay


class ConcessionalFinance(Instrument):
    """The authority lends part of members' project capex at a concessional rate, within a budget."""

    name = "concessional"

    def __init__(self, authority) -> None:
        super().__init__(authority)
        self.lent = 0.0  # $ outstanding principal lent (not amortised here: a bullet loan)
        self.loans: dict[int, float] = {}  # id(plant) -> $ lent to it
        self.interest_subsidy = 0.0  # $ cumulative
        self.losses = 0.0  # $ cumulative
        self._plants: dict[int, Plant] = {}

    def terms(self, project, plant: Plant | None) -> tuple[float, float]:
        """(loan $, cost-of-capital reduction a year) offered to a project, or (0, 0)."""
        if project.country not in self.auth.members:
            return 0.0, 0.0
        loan = min(LEND_SHARE * project.capex, max(0.0, BUDGET - self.lent))
        if loan <= 0:
            return 0.0, 0.0
        market = self.model.config.finance.interest_rate
        return loan, (market - RATE) * loan / project.capex

    def lend(self, plant: Plant, loan: float) -> None:
        self.lent += loan
        self.loans[id(plant)] = self.loans.get(id(plant), 0.0) + loan
        self._plants[id(plant)] = plant

    def close_month(self) -> None:
        market = self.model.config.finance.interest_rate
        for key, loan in list(self.loans.items()):
            plant = self._plants[key]
            if plant.written_off > 0:  # the borrower closed insolvent: the loan is lost
                self.losses += loan
                self.lent -= loan
                del self.loans[key]
                continue
            self.interest_subsidy += (market - RATE) / 12.0 * loan


CONTRACTS: dict[str, type[Instrument]] = {cls.name: cls for cls in (DodMpContract, ConcessionalFinance)}
