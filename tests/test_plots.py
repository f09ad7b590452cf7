"""Figures: bands inside the metric's range, facets named, coinciding lines distinguishable, units, logs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import experiments.plots as plots
from experiments.metrics import METRICS


def results(tmp_path, stockpiles=(None,), failed=0):
    """A synthetic results folder: 2 memberships that coincide, 2 floors, 2 replicates, a share from 0 to 1."""
    rows = []
    for stock in stockpiles:
        for membership in ("1", "3"):
            for floor in (0.0, 1.2):
                for rep in range(2):
                    row = {
                        "run_id": f"{membership}-{floor}-{stock}-r{rep}",
                        "point_id": "p",
                        "replicate": rep,
                        "seed": rep,
                        "membership": membership,
                        "size": int(membership),
                        "members": "EU",
                        "floor_level": floor,
                        "floor": floor * 80,
                        "instrument": "levy",
                        "dumping": True,
                        "events": "export_ban:start=6,duration=3",
                        "member_stockpile_months": np.nan if stock is None else stock,
                        "error": None,
                        "wall_time": 0.1,
                    }
                    row.update({m: 1.0 for m in METRICS})
                    row["shortfall_share"] = float(rep)  # 0 and 1: a t-interval far outside 0-1
                    rows.append(row)
    for row in rows[:failed]:
        row["error"] = "RuntimeError: boom"
    (tmp_path / "runs.parquet").unlink(missing_ok=True)
    pd.DataFrame(rows).to_parquet(tmp_path / "runs.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"experiment_file": 'floor_mode = "relative"\n'}))
    return tmp_path


@pytest.fixture
def captured(monkeypatch):
    figs = {}
    real = plots._save

    def save(fig, out, name, title=""):
        figs[name] = fig
        return real(fig, out, name, title)

    monkeypatch.setattr(plots, "_save", save)
    return figs


def test_bands_stay_in_the_metrics_range_and_lines_are_distinguishable(tmp_path, captured):
    plots.plot_results(results(tmp_path), metrics=["shortfall_share"])
    ax = captured["lines_shortfall_share"].axes[0]
    for band in ax.collections:
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() >= 0 and ys.max() <= 100  # percent of demand
    lines = [line for line in ax.get_lines() if line.get_label() in ("1", "3")]
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0].get_ydata(), lines[1].get_ydata())  # they coincide...
    assert lines[0].get_marker() != lines[1].get_marker()  # ...and still look different
    assert lines[0].get_linestyle() != lines[1].get_linestyle()
    legend = captured["lines_shortfall_share"].axes[-1].get_legend()
    assert "bloc members" in legend.get_title().get_text()
    assert "%" in ax.get_ylabel()
    assert "n = 2" in captured["lines_shortfall_share"]._suptitle.get_text()


def test_facets_are_named_in_the_figure(tmp_path, captured):
    plots.plot_results(results(tmp_path, stockpiles=(0.0, 2.0)), metrics=["shortfall_share"])
    fig = captured["heatmap_shortfall_share__member_stockpile_months-2.0"]
    assert "member stockpiles: 2 months" in fig._suptitle.get_text()


def test_failed_runs_are_counted_and_progress_is_shown(tmp_path):
    said = []
    files = plots.plot_results(results(tmp_path, failed=2), metrics=["shortfall_share"], log=said.append)
    assert any("2 of 8 runs failed" in line for line in said)
    assert any("[1/1] shortfall_share" in line for line in said)
    assert files and all(f.stat().st_size > 0 for f in files)
    assert not list((tmp_path / "figures").glob("*.tmp"))


def test_plot_refuses_what_is_not_a_sweep(tmp_path):
    from model.scenario import ScenarioError

    results(tmp_path)
    for metrics, why in [(["seed"], "unknown metric"), (["run_id"], "unknown metric"), ([""], "at least one")]:
        with pytest.raises(ScenarioError, match=why):
            plots.plot_results(tmp_path, metrics=metrics)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ScenarioError, match="not written by `blocsim sweep`"):
        plots.plot_results(tmp_path)
    (tmp_path / "runs.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(ScenarioError, match="damaged"):
        plots.plot_results(tmp_path)
