"""The ``blocsim`` command line.

``blocsim run`` runs one scenario and prints its summary; bad input gets one
line naming the field and value, exit status 2, and nothing written.

Each subcommand is one ``cmd_NAME`` function, registered in ``COMMANDS``; they
import the model and the runner themselves, so ``blocsim --help`` and argument
errors never load Mesa, pandas or the model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

EXAMPLES = """\
examples:
  blocsim run --scenario rare_earths --members EU,US,JP --floor 110 --instrument levy --seed 1
  blocsim run --members 5 --floor 110 --instrument cfd --event export_ban:start=60,duration=24 --json
  blocsim run --members none --dumping off --out baseline.parquet
  blocsim sweep experiments/configs/quick.toml --out results/quick
  blocsim sweep experiments/configs/membership_floor.toml --out results/mf --workers 2
  blocsim sweep experiments/configs/membership_floor.toml --out results/mf --backend dask --scheduler tcp://host:8786
  blocsim plot results/mf
  blocsim sweep experiments/configs/morris_quick.toml --out results/morris --workers 2
  blocsim sensitivity results/morris
  blocsim robustness results/morris --require 'member_capacity_retained>=1' --require 'fiscal_cost<5e9'
"""

def _summary_label(key: str) -> tuple[str, str]:
    """(label, unit) of a summary metric, from ``experiments.metrics`` (one place)."""
    from experiments.metrics import METRICS, UNITS

    label = METRICS.get(key, key)
    unit = UNITS.get(key, "")
    suffix = f", {unit}"
    return (label[: -len(suffix)] if label.endswith(suffix) else label), unit


def _number(flag: str, kind: type, minimum: float, what: str):
    """An argparse type: a ``kind`` number >= ``minimum``, else one message naming flag and value."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} = {text!r}: must be {what}") from None
        if not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"{flag} = {text!r}: must be {what}")
        return value

    return parse


_floor_arg = _number("--floor", float, 0.0, "a number >= 0 ($/kg)")
_seed_arg = _number("--seed", int, 0, "a whole number >= 0")
_steps_arg = _number("--steps", int, 1, "a whole number >= 1")
_workers_arg = _number("--workers", int, 1, "a whole number >= 1")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("blocsim")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"blocsim {_version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and a one-line message (argparse's default status is 2 too)."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised via main()
        self.print_usage(sys.stderr)
        self.exit(2, f"blocsim: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="blocsim",
        description="blocsim: an agent-based (Mesa) market simulation of a critical-minerals trading bloc "
        "-- price floors for member supply against dumping and export bans.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser(
        "run",
        help="run one scenario and print its summary",
        description="Run one scenario month by month and print its summary.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--scenario", default="rare_earths", help="shipped scenario name or a .toml path (default: %(default)s)"
    )
    run.add_argument(
        "--members",
        default="EU,US,JP",
        help="bloc members: country codes (EU,US,JP), a number k (first k of the accession order), "
        "or 0/none for no bloc (default: %(default)s)",
    )
    run.add_argument("--floor", type=_floor_arg, default=0.0, help="price floor for oxide, $/kg; 0 = none (default: 0)")
    run.add_argument(
        "--instrument",
        default="levy",
        help="floor instrument: levy, cfd, buffer, procurement, or a combination like levy+buffer"
        " (default: %(default)s)",
    )
    run.add_argument("--seed", type=_seed_arg, default=1, help="random seed (default: %(default)s)")
    run.add_argument("--steps", type=_steps_arg, default=None, help="months to run (default: the scenario's, 240)")
    run.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="KIND:KEY=VALUE,...",
        help="add an event, repeatable: export_ban:start=60,duration=24[,target=members|all]; "
        "export_quota:start=24,duration=36,share=0.6[,target=all]; demand_shock:start=12,duration=24,factor=1.3",
    )
    run.add_argument(
        "--dumping",
        choices=["on", "off"],
        default=None,
        help="dumping by the dominant supplier (default: the scenario's)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--out", type=Path, default=None, help="write the per-step table to this parquet file")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario number, repeatable: finance.cost_of_capital=0.12, countries.US.mining.fixed_cost=5 "
        "(the u.* columns of a design's runs.parquet; docs/uncertainty.md)",
    )

    sweep = sub.add_parser(
        "sweep",
        help="run a declared experiment (membership x floor x ... x replicates)",
        description="Run every run of an experiment file not yet in OUT; re-running resumes. "
        "Results: OUT/runs.parquet (one row per run), OUT/manifest.json, OUT/series/.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("experiment", help="experiment TOML file (see experiments/configs/)")
    sweep.add_argument("--out", type=Path, required=True, help="results directory (created; resumed if it exists)")
    sweep.add_argument("--workers", type=_workers_arg, default=None, help="parallel workers (default: all cores)")
    sweep.add_argument(
        "--backend",
        choices=["auto", "serial", "processes", "dask"],
        default="auto",
        help="auto (default: serial for small sweeps, where starting processes would cost more than it saves, "
        "else a local process pool), serial, processes, or Dask",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="with --backend dask: address of a running Dask scheduler (default: a LocalCluster)",
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument(
        "--no-wait",
        action="store_true",
        help="if another sweep of the same experiment is writing into OUT, stop instead of waiting for it",
    )

    plot = sub.add_parser(
        "plot",
        help="figures of a sweep's results",
        description="Write heatmaps, metric-vs-floor lines and price paths to RESULTS/figures/ (PNG and PDF).",
    )
    plot.add_argument("results", type=Path, help="a results directory written by blocsim sweep")
    plot.add_argument("--metrics", default=None, help="comma-separated metrics to plot (default: the key ones)")
    plot.add_argument("--no-progress", action="store_true", help="do not list figures as they are written")

    app = sub.add_parser(
        "app",
        help="open the interactive model page (Mesa SolaraViz; needs the app extra)",
        description="Serve the interactive model page (experiments/app.py, Mesa's SolaraViz) with `solara run`: "
        'controls, step/run/reset, live plots and the run\'s summary. Needs: pip install -e ".[app]"',
    )
    app.add_argument("--host", default="localhost", help="host to listen on (default: %(default)s)")
    app.add_argument("--port", type=int, default=8765, help="port (default: %(default)s; 0 = any free port)")
    app.add_argument("--no-open", action="store_true", help="do not open a browser")

    sub.add_parser(
        "scenarios",
        help="list the shipped scenarios",
        description="List every shipped scenario, one per line: name, one-line description, data vintage.",
    )
    validate = sub.add_parser(
        "validate",
        help="run the historical episodes and write a model-vs-observed report",
        description="Run the scripted historical episodes (../shared/data/episodes.csv) with each mineral's default "
        "calibration and write OUT/validation.md and figures: pass/fail per stylized fact with its tolerance band.",
    )
    validate.add_argument("--episode", default=None, help="run only this episode (e.g. B_Ga; default: all)")
    validate.add_argument("--out", type=Path, default=Path("validation"), help="report directory (default: validation)")
    add_uncertainty_parsers(sub)
    return parser


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_uncertainty_parsers(sub) -> None:
    """``blocsim sensitivity`` and ``blocsim robustness``: analyses of a design's results (docs/uncertainty.md)."""
    sens = sub.add_parser(
        "sensitivity",
        help="Sobol indices or Morris screening of a design's results",
        description="Sobol first-order and total indices (sobol designs) or Morris mu*, sigma (morris designs) of "
        "each metric w.r.t. each uncertain parameter, per policy cell and pooled over cells, with bootstrap 95% "
        "intervals. Writes OUT/sensitivity.parquet, .csv and .png (OUT defaults to RESULTS/sensitivity) and says "
        "how many runs the indices rest on and whether that is enough.",
    )
    sens.add_argument("results", type=Path, help="a results directory written by blocsim sweep for a [design]")
    sens.add_argument("--metrics", default=None, help="comma-separated metrics (default: all)")
    sens.add_argument("--figure-metrics", default=None, help="comma-separated metrics to plot (default: key ones)")
    sens.add_argument(
        "--resamples",
        type=_number("--resamples", int, 10, "a whole number >= 10"),
        default=1000,
        help="bootstrap resamples for the intervals (default: %(default)s)",
    )
    sens.add_argument("--out", type=Path, default=None, help="output directory (default: RESULTS/sensitivity)")

    rob = sub.add_parser(
        "robustness",
        help="share of sampled futures in which each policy meets thresholds; PRIM boxes where it fails",
        description="For each policy (membership, floor, instrument) the share of the design's futures in which "
        "it meets every --require threshold, with a figure, and PRIM boxes (scenario discovery) describing the "
        "futures where it fails. Writes OUT/robustness.{parquet,csv,png} and OUT/prim_boxes.{parquet,csv} "
        "(OUT defaults to RESULTS/robustness).",
    )
    rob.add_argument("results", type=Path, help="a results directory written by blocsim sweep for a [design]")
    rob.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="METRIC>=VALUE",
        help="a threshold a policy must meet, repeatable: 'member_capacity_retained>=1', "
        "'fiscal_cost<5e9' (operators >=, <=, >, <, ==)",
    )
    rob.add_argument("--no-prim", action="store_true", help="skip scenario discovery")
    rob.add_argument(
        "--threshold",
        type=_number("--threshold", float, 0.0, "a share between 0 and 1"),
        default=0.8,
        help="PRIM: the density a box should reach (default: %(default)s)",
    )
    rob.add_argument(
        "--max-boxes",
        type=_number("--max-boxes", int, 1, "a whole number >= 1"),
        default=2,
        help="PRIM: boxes per policy (default: %(default)s)",
    )
    rob.add_argument("--out", type=Path, default=None, help="output directory (default: RESULTS/robustness)")


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from experiments.sensitivity import load_design_results, plot_cells, plot_sensitivity, sensitivity, summary
    from experiments.storage import write_parquet

    _, manifest = load_design_results(args.results)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    table = sensitivity(args.results, metrics=metrics, resamples=args.resamples)
    out = args.out or args.results / "sensitivity"
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(table, out / "sensitivity.parquet")
    table.to_csv(out / "sensitivity.csv", index=False)
    fig_metrics = [m.strip() for m in args.figure_metrics.split(",")] if args.figure_metrics else None
    fig = plot_sensitivity(table, out / "sensitivity.png", fig_metrics)
    cells_fig = plot_cells(table, out / "sensitivity_cells.png", fig_metrics)
    print(summary(table, manifest))
    pooled = table[(table["cell"] == "pooled") & (table["note"] == "")]
    key = "ST" if manifest["design"]["kind"] == "sobol" else "mu_star"
    for metric, d in pooled.groupby("metric", sort=False):
        top = d.sort_values(key, ascending=False).head(3)
        print(f"  {metric}: " + ", ".join(f"{r.parameter} {key}={getattr(r, key):.3g}" for r in top.itertuples()))
    for f in (out / "sensitivity.parquet", out / "sensitivity.csv", fig, cells_fig):
        print(f)
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    from experiments.robustness import plot_robustness, robustness
    from experiments.storage import write_parquet
    from model.scenario import ScenarioError

    if args.threshold > 1:
        raise ScenarioError("--threshold", args.threshold, "must be a share between 0 and 1")
    table, boxes, info = robustness(
        args.results, args.require, prim=not args.no_prim, threshold=args.threshold, max_boxes=args.max_boxes
    )
    out = args.out or args.results / "robustness"
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(table, out / "robustness.parquet")
    table.to_csv(out / "robustness.csv", index=False)
    files = [out / "robustness.parquet", out / "robustness.csv", plot_robustness(table, info, out / "robustness.png")]
    if not args.no_prim:
        write_parquet(boxes, out / "prim_boxes.parquet")
        boxes.to_csv(out / "prim_boxes.csv", index=False)
        files += [out / "prim_boxes.parquet", out / "prim_boxes.csv"]
    pcols = info["policy_columns"]
    print(
        f"robustness: {len(table)} policies x {info['futures_per_policy']} futures ({info['runs']} runs, "
        f"{info['errors']} failed with an error and left out); meets all of: {' and '.join(args.require)}"
    )
    for r in table.sort_values("share", ascending=False).itertuples():
        policy = ", ".join(f"{c}={getattr(r, c)}" for c in pcols)
        print(f"  {policy}: {r.share:.0%} [{r.share_low:.0%}, {r.share_high:.0%}] of {r.futures}")
    if len(boxes) and "coverage" in boxes:
        print(
            "where policies fail (PRIM boxes; coverage = share of the policy's failures inside, density = "
            "share of the box's futures that fail):"
        )
        for b, d in list(boxes[boxes["box"] > 0].groupby([*pcols, "box"], sort=False))[:10]:
            lims = "; ".join(f"{r.low:.3g} <= {r.parameter} <= {r.high:.3g}" for r in d.itertuples())
            r0 = d.iloc[0]
            print(
                f"  {', '.join(map(str, b[:-1]))} box {b[-1]}: {lims} "
                f"(coverage {r0.coverage:.0%}, density {r0.density:.0%}, mass {r0.mass:.0%})"
            )
    for f in files:
        print(f)
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    """Serve experiments/app.py with `solara run` (solara and Mesa's visualization are imported only there)."""
    import importlib.util
    import os
    import subprocess

    missing = [m for m in ("solara", "altair") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f'blocsim: error: the app needs {", ".join(missing)}: install the app extra, pip install -e ".[app]"',
            file=sys.stderr,
        )
        return 2
    # the page as a module (not a file path, which would put experiments/ itself on sys.path)
    cmd = [sys.executable, "-m", "solara", "run", "experiments.app", "--host", args.host, "--port", str(args.port)]
    cmd += ["--production", "--no-check-version", "--no-open" if args.no_open else "--open"]
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}  # no usage reports from a research tool
    if os.name == "posix":  # become the server: Ctrl-C and kill reach it directly
        sys.stdout.flush()
        os.execve(sys.executable, cmd, env)
    return subprocess.call(cmd, env=env)


def cmd_sweep(args: argparse.Namespace) -> int:
    from experiments import load_experiment, run_sweep
    from experiments.runner import SweepTerminated
    from experiments.storage import check_out_dir
    from model.scenario import ScenarioError

    if args.scheduler and args.backend != "dask":
        raise ScenarioError("--scheduler", args.scheduler, "only applies with --backend dask")
    experiment = load_experiment(args.experiment)
    check_out_dir(args.out)
    n = experiment.n_runs
    _stderr(f"blocsim sweep: {experiment.name}: {n:,} runs -> {args.out} ({args.backend})")
    try:
        df = run_sweep(
            experiment,
            args.out,
            backend=args.backend,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            wait=not args.no_wait,
            log=_stderr,
        )
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, SweepTerminated) else "interrupted"
        saved = (
            f"finished runs are saved in {args.out}: run the same command to resume"
            if args.out.exists()
            else "no run had finished, nothing was kept"
        )
        _stderr(f"blocsim: {what}; {saved}")
        return 143 if isinstance(exc, SweepTerminated) else 130
    except OSError as exc:  # disk full, a directory removed under our feet, ...
        raise ScenarioError(
            "--out",
            str(args.out),
            f"{exc.strerror or exc}: finished runs are saved; fix this and run the same command to resume",
        ) from None
    failed = int(df["error"].notna().sum()) if len(df) else 0
    print(f"{len(df) - failed} runs done, {failed} failed: {args.out / 'runs.parquet'}")
    if failed:
        for _, row in df[df["error"].notna()].head(5).iterrows():
            _stderr(f"  failed {row['run_id']}: {str(row['error'])[:200]}")
        return 1
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from experiments.plots import plot_results

    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics is not None else None
    progress = None if args.no_progress else _stderr
    files = plot_results(args.results, metrics=metrics, log=progress)
    for f in files:
        print(f)
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    """``blocsim scenarios``: every shipped scenario, one per line (name, description, data vintage)."""
    from model import load_scenario, scenario_names

    for name in scenario_names():
        sc = load_scenario(name)
        print(f"{name:<18}  {sc.description or sc.product}  [data: {sc.vintage or 'not stated'}]")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """``blocsim validate``: the historical episodes, model vs observed (``experiments.validation``)."""
    from experiments.validation import run_validation

    report = run_validation(args.out, episode=args.episode)
    print(report.summary_text())
    print(f"report: {report.path}")
    return 0


def _json_safe(value):
    """None for NaN and infinities: JSON has no literal for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def cmd_run(args: argparse.Namespace) -> int:
    from experiments.storage import check_out_file
    from model import BlocModel, load_scenario
    from model.scenario import ScenarioError, validate_run

    if args.out is not None:
        check_out_file(args.out)
    scenario = load_scenario(args.scenario, overrides=_overrides(args.set))
    options = validate_run(
        scenario,
        members=args.members,
        floor=args.floor,
        instrument=args.instrument,
        seed=args.seed,
        events=list(args.event),
        dumping=None if args.dumping is None else args.dumping == "on",
        steps=args.steps,
    )
    model = BlocModel(scenario, **options)
    model.run()
    summary = model.summary()
    if args.out is not None:
        try:
            write_parquet_atomic(model.datacollector.get_model_vars_dataframe(), args.out, run_metadata(model, args))
        except OSError as exc:
            raise ScenarioError("--out", str(args.out), f"cannot be written: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps({k: _json_safe(v) for k, v in summary.items()}, allow_nan=False))
    else:
        print(format_summary(model, summary))
        if args.out is not None:
            print(f"\nper-step table: {args.out} ({model.recorder.n} rows)")
    return 0


def _overrides(items: list[str]) -> dict[str, float]:
    """``--set PATH=VALUE`` pairs as scenario overrides."""
    from model.scenario import ScenarioError

    out = {}
    for item in items:
        path, eq, value = item.partition("=")
        try:
            out[path.strip()] = float(value)
        except ValueError:
            raise ScenarioError("--set", item, "must be PATH=NUMBER, e.g. finance.cost_of_capital=0.12") from None
        if not eq or not path.strip():
            raise ScenarioError("--set", item, "must be PATH=NUMBER, e.g. finance.cost_of_capital=0.12")
    return out


def run_metadata(model, args) -> dict[str, str]:
    """Provenance stored in the parquet file's metadata."""
    import mesa
    import numpy

    import model as model_pkg

    return {
        "blocsim_version": model_pkg.__version__,
        "mesa_version": mesa.__version__,
        "numpy_version": numpy.__version__,
        "scenario": model.config.name,
        "members": ",".join(model.members),
        "floor": str(model.authority.floor),
        "instrument": "+".join(sorted(model.authority.names)),
        "seed": str(model.seed),
        "events": json.dumps([e.__dict__ for e in model.events]),
        "dumping": str(model.dumping_enabled),
        "overrides": json.dumps(_overrides(getattr(args, "set", []))),
        "command": " ".join(sys.argv),
    }


def write_parquet_atomic(df, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``df`` to ``path`` with ``metadata`` in its schema; never half-written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from experiments.storage import atomic_write_bytes

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta.update({f"blocsim.{k}".encode(): str(v).encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(meta)
    atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp))


def format_summary(model, summary: dict[str, float]) -> str:
    members = ", ".join(model.members) or "none (no bloc)"
    floor = model.authority.floor
    policy = f"floor {floor:g} $/kg via {'+'.join(sorted(model.authority.names))}" if floor > 0 else "no floor"
    events = "; ".join(
        f"{e.kind} from month {e.start} for {e.duration}" + (f" ({e.target})" if e.kind != "demand_shock" else "")
        for e in model.events
    )
    lines = [
        f"blocsim run: {model.config.name} ({model.config.product}), {model.recorder.n} months, seed {model.seed}",
        f"  bloc members: {members}",
        f"  policy: {policy}; dumping {'on' if model.dumping_enabled else 'off'}",
        f"  events: {events or 'none'}",
        "",
    ]
    width = max(len(_summary_label(key)[0]) for key in summary)
    for key, value in summary.items():
        label, unit = _summary_label(key)
        if isinstance(value, float) and not math.isfinite(value):
            text = "n/a"
        elif unit == "$":
            text = f"{value / 1e9:,.2f} bn $"
        elif unit == "share":
            text = f"{value:.1%}"
        elif unit in ("count", "0/1"):
            text = f"{value:,.0f}"
        elif unit in ("x", "index 0-1", "log points", "months"):
            text = f"{value:.3g} {unit}" if unit != "index 0-1" else f"{value:.3f}"
        else:
            text = f"{value:,.2f} {unit}"
        lines.append(f"  {label:<{width}}  {text}")
    return "\n".join(lines)


COMMANDS = {
    "run": cmd_run,
    "sweep": cmd_sweep,
    "plot": cmd_plot,
    "sensitivity": cmd_sensitivity,
    "robustness": cmd_robustness,
    "app": cmd_app,
    "scenarios": cmd_scenarios,
    "validate": cmd_validate,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _stderr("blocsim: interrupted")
        return 130
    except Exception as exc:
        from model.scenario import BlocsimError

        if isinstance(exc, BlocsimError):
            _stderr(f"blocsim: error: {exc}")
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
