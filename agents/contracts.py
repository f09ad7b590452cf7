"""Firm-level and concessionary instruments the bloc authority can hold (issue 8, section 4).

Both subclass ``agents.instruments.Instrument``; register them with
``INSTRUMENTS.update(CONTRACTS)`` (``agents/instruments.py``) to use them as
``instrument="levy+dod_mp"`` or ``"cfd+concessional"``.

- ``dod_mp`` -- the **DoD-MP Materials contract** as signed (July 2025): a floor of
  ``dod_strike`` = 110 $/kg on one firm's NdPr oxide (MP Materials' separation plant), sold or
  stockpiled, for ``dod_term_months`` = 120; the government receives ``dod_upside_share`` = 30 % of the
  price above the floor; at most ``dod_volume_cap`` t/month are covered. Settled each month on
  the firm's production (``q`` = output, sold or kept in stock, each tonne once), at its realised
  netback over all its sales (wherever sold, not only into the bloc), or at its segment's price
  in a month it sold nothing:
  ``pay = (strike - p) x q`` below the strike, ``-upside x (p - strike) x q`` above it, booked
  as the plant's ``subsidy`` flow (so its cash identity holds) and as the authority's
  ``cfd_paid``. The firm's expected price counts the floor on the covered share.
- ``concessional`` -- **concessionary finance** (EU-Japan funds, JOGMEC, Project Vault's
  $10 bn): the authority lends ``concessional_lend_share`` of a member project's capex at ``concessional_rate``
  instead of the market rate, within ``concessional_budget``; the project is appraised at its cost of
  capital less the interest saving on the lent share. The fiscal cost is the interest
  subsidy ``(market rate - concessional_rate) x loan`` a month plus the loans lost when a borrower closes
  insolvent (its share of the written-off debt); reported in ``fiscal_cost`` (see below).

Terms (strike, upside share, term, volume cap, the firm; budget, rate, lent share) are in the
scenario's ``[contracts]`` table. Fiscal reporting: ``dod_mp`` uses the authority's ``cfd_paid``
flow; ``concessional`` its ``finance_cost`` flow (interest subsidy and loans lost), both in
``net_fiscal``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.instruments import Instrument
from agents.producers import KG

if TYPE_CHECKING:
    from agents.producers import Plant

class _Contract(Instrument):
    """A contract's terms come from the scenario's ``[contracts]`` table."""

    def __init__(self, authority) -> None:
        super().__init__(authority)
        terms = self.model.config.contracts
        if terms is None:
            from model.scenario import ScenarioError

            raise ScenarioError("instrument", self.name, "needs a [contracts] table in the scenario")
        self.c = terms


class DodMpContract(_Contract):
    """A 110 $/kg floor on MP Materials' NdPr oxide with 30 % upside sharing, 10 years, capped volume."""

    name = "dod_mp"

    def in_term(self) -> bool:
        return self.model.month < self.c.dod_term_months

    def _covered(self, plant: Plant) -> bool:
        return plant.stage == "refined" and getattr(plant, "firm", "") == self.c.dod_firm

    def guarantee(self, plant: Plant) -> tuple[float, float]:
        if not self._covered(plant) or not self.in_term():
            return 0.0, 0.0
        expected = max(plant.sales_trend, 1e-9)
        return min(1.0, self.c.dod_volume_cap / expected), self.c.dod_strike

    def close_month(self) -> None:
        """Settle the month's covered production of the firm, sold or stockpiled (plants have settled
        their own sales): each tonne is settled once, when made -- at the realised netback of the
        month's sales, or at the plant's segment price when it sold nothing (product kept in stock)."""
        if not self.in_term():
            return
        for plant in self.model.refiners:
            if not self._covered(plant) or plant.output <= 1e-9:
                continue
            q = min(plant.output, self.c.dod_volume_cap)
            if plant.sold > 1e-9:
                p = plant.revenue / (plant.sold * KG)
            else:
                p = self.model.last_price("refined", self.model.home_segment(plant))
            strike = self.c.dod_strike
            per_kg = strike - p if p < strike else -self.c.dod_upside_share * (p - strike)
            pay = per_kg * q * KG  # negative above the strike: the government's upside share
            plant.book("subsidy", pay)
            self.auth.flows["cfd_paid"] += pay


class ConcessionalFinance(_Contract):
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
        c = self.c
        loan = min(c.concessional_lend_share * project.capex, max(0.0, c.concessional_budget - self.lent))
        if loan <= 0:
            return 0.0, 0.0
        market = self.model.config.finance.interest_rate
        return loan, (market - c.concessional_rate) * loan / project.capex

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
                self.auth.flows["finance_cost"] += loan
                self.lent -= loan
                del self.loans[key]
                continue
            subsidy = (market - self.c.concessional_rate) / 12.0 * loan
            self.interest_subsidy += subsidy
            self.auth.flows["finance_cost"] += subsidy


CONTRACTS: dict[str, type[Instrument]] = {cls.name: cls for cls in (DodMpContract, ConcessionalFinance)}
