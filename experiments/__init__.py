"""blocsim's experiments: declared sweeps, their runner, metrics, storage, analysis, plots and the CLI."""

from experiments.config import Experiment, RunSpec, load_experiment
from experiments.runner import execute_run, run_sweep

__all__ = ["Experiment", "RunSpec", "execute_run", "load_experiment", "run_sweep"]
