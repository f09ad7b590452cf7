"""blocsim's experiments: declared sweeps, their runner, metrics, storage, analysis, plots and the CLI.

The names below are imported on first use (PEP 562), so ``blocsim --help`` does not load the model.
"""

from importlib import import_module

__all__ = ["Experiment", "RunSpec", "execute_run", "load_experiment", "run_sweep"]
_WHERE = {
    "Experiment": "experiments.config",
    "RunSpec": "experiments.config",
    "load_experiment": "experiments.config",
    "execute_run": "experiments.runner",
    "run_sweep": "experiments.runner",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
