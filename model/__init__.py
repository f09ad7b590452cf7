"""blocsim's model: the Mesa model, market clearing, scenarios and their data."""

from model.model import BlocModel
from model.scenario import BlocsimError, ScenarioError, load_scenario, scenario_names

__all__ = ["BlocModel", "BlocsimError", "ScenarioError", "load_scenario", "scenario_names"]
__version__ = "0.1.0"
