"""The ``blocsim`` command line.

``blocsim run`` runs one scenario and prints its summary; bad input gets one
line naming the field and value, exit status 2, and nothing written.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from model.scenario import BlocsimError, ScenarioError, parse_event

EXAMPLES = """\
examples:
  blocsim run --scenario rare_earths --members EU,US,JP --floor 110 --instrument levy --seed 1
  blocsim run --members 5 --floor 110 --instrument cfd --event export_ban:start=60,duration=24 --json
  blocsim run --members none --dumping off --out baseline.parquet
  blocsim sweep experiments/configs/quick.toml --out results/quick
  blocsim sweep experiments/configs/membership_floor.toml --out results/mf --workers 2
  blocsim sweep experiments/configs/membership_floor.toml --out results/mf --backend dask --scheduler tcp://host:8786
  blocsim plot results/mf
"""

def _summary_label(key: str) -> tuple[str, str]:
    """(label, unit) of a summary metric, from ``experiments.metrics.METRICS`` (one place)."""
    from experiments.metrics import METRICS

    text = METRICS.get(key, key)
    label, _, unit = text.rpartition(", ")
    if unit in ("$", "$/kg", "t/month", "months"):
        return label, unit
    return text, ""


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
    parser.add_argument("--version", action="version", version=f"blocsim {_version()}")
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
        choices=["serial", "processes", "dask"],
        default="processes",
        help="serial, a local process pool (default), or Dask",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="with --backend dask: address of a running Dask scheduler (default: a LocalCluster)",
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")

    plot = sub.add_parser(
        "plot",
        help="figures of a sweep's results",
        description="Write heatmaps, metric-vs-floor lines and price paths to RESULTS/figures/ (PNG and PDF).",
    )
    plot.add_argument("results", type=Path, help="a results directory written by blocsim sweep")
    plot.add_argument("--metrics", default=None, help="comma-separated metrics to plot (default: the key ones)")

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
    return parser


def cmd_sweep(args: argparse.Namespace) -> int:
    from experiments import load_experiment, run_sweep

    if args.scheduler and args.backend != "dask":
        raise ScenarioError("--scheduler", args.scheduler, "only applies with --backend dask")
    experiment = load_experiment(args.experiment)
    n = experiment.n_runs
    print(f"blocsim sweep: {experiment.name}: {n} runs -> {args.out} ({args.backend})", file=sys.stderr)
    try:
        df = run_sweep(
            experiment,
            args.out,
            backend=args.backend,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
        )
    except KeyboardInterrupt:
        print(
            f"blocsim: interrupted; finished runs are saved in {args.out}: run the same command to resume",
            file=sys.stderr,
        )
        return 130
    failed = int(df["error"].notna().sum())
    print(f"{len(df) - failed} runs done, {failed} failed: {args.out / 'runs.parquet'}")
    if failed:
        for _, row in df[df["error"].notna()].head(5).iterrows():
            print(f"  failed {row['run_id']}: {str(row['error'])[:200]}", file=sys.stderr)
        return 1
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from experiments.plots import plot_results

    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    files = plot_results(args.results, metrics=metrics)
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


def cmd_run(args: argparse.Namespace) -> int:
    from model import BlocModel, load_scenario  # imported here: `blocsim --help` stays fast

    if args.out is not None and args.out.suffix != ".parquet":
        raise ScenarioError("--out", str(args.out), "must end in .parquet")
    if args.out is not None and not args.out.parent.exists():
        raise ScenarioError("--out", str(args.out), f"directory {str(args.out.parent)!r} does not exist")
    scenario = load_scenario(args.scenario)
    events = [parse_event(e) for e in args.event]
    model = BlocModel(
        scenario,
        members=args.members,
        floor=args.floor,
        instrument=args.instrument,
        seed=args.seed,
        events=events,
        dumping=None if args.dumping is None else args.dumping == "on",
        steps=args.steps,
    )
    model.run()
    summary = model.summary()
    if args.out is not None:
        write_parquet_atomic(model.datacollector.get_model_vars_dataframe(), args.out, run_metadata(model, args))
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in summary.items()}))
    else:
        print(format_summary(model, summary))
        if args.out is not None:
            print(f"\nper-step table: {args.out} ({model.recorder.n} rows)")
    return 0


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
        if isinstance(value, float) and math.isnan(value):
            text = "n/a"
        elif unit == "$":
            text = f"{value / 1e9:,.2f} bn $"
        elif unit == "":
            text = f"{value:.1%}" if "share" in key else f"{value:,.0f}" if value == int(value) else f"{value:.3g}"
        else:
            text = f"{value:,.2f} {unit}"
        lines.append(f"  {label:<{width}}  {text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.command == "plot":
            return cmd_plot(args)
        if args.command == "scenarios":
            return cmd_scenarios(args)
        if args.command == "validate":
            return cmd_validate(args)
    except BlocsimError as exc:
        print(f"blocsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("blocsim: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
