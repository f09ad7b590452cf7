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

SUMMARY_LABELS = {
    "price_bloc_mean": ("bloc oxide price, mean", "$/kg"),
    "price_world_mean": ("rest-of-world oxide price, mean", "$/kg"),
    "price_home_mean": ("dominant supplier's home price, mean", "$/kg"),
    "peak_price_ratio_bloc": ("bloc peak price / pre-event mean", "x"),
    "unmet_bloc_share": ("bloc unmet demand share", ""),
    "member_supply_share_end": ("members' share of bloc supply, last 12 months", ""),
    "dominant_share_bloc_end": ("dominant supplier's share of bloc supply, last 12 months", ""),
    "member_capacity_start": ("members' separation capacity at start", "t/month"),
    "member_capacity_end": ("members' separation capacity at end", "t/month"),
    "member_mining_capacity_end": ("members' mining capacity at end", "t/month"),
    "member_exits": ("member plant exits (each time one goes offline)", ""),
    "member_plants_exited": ("member plants that exited at least once", ""),
    "fiscal_cost": ("fiscal cost to the bloc (CfD + stock - levy)", "$"),
    "levy_revenue": ("levy revenue", "$"),
    "cfd_paid": ("CfD payments", "$"),
    "consumer_cost_bloc": ("bloc consumers' spending on oxide", "$"),
    "dumping_loss": ("dominant supplier's dumping loss", "$"),
    "stock_authority_end": ("joint stockpile at end", "t"),
}


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
        help="floor instrument: levy, cfd, buffer, or a combination like levy+buffer (default: %(default)s)",
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

    app = sub.add_parser(
        "app",
        help="open the interactive model page (Mesa SolaraViz; needs the app extra)",
        description="Serve the interactive model page (experiments/app.py, Mesa's SolaraViz) with `solara run`: "
        'controls, step/run/reset, live plots and the run\'s summary. Needs: pip install -e ".[app]"',
    )
    app.add_argument("--host", default="localhost", help="host to listen on (default: %(default)s)")
    app.add_argument("--port", type=int, default=8765, help="port (default: %(default)s; 0 = any free port)")
    app.add_argument("--no-open", action="store_true", help="do not open a browser")
    return parser


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
        "instrument": "+".join(sorted(model.authority.instruments)),
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
    policy = f"floor {floor:g} $/kg via {'+'.join(sorted(model.authority.instruments))}" if floor > 0 else "no floor"
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
    width = max(len(label) for label, _ in SUMMARY_LABELS.values())
    for key, value in summary.items():
        label, unit = SUMMARY_LABELS.get(key, (key, ""))
        if isinstance(value, float) and math.isnan(value):
            text = "n/a"
        elif unit == "$":
            text = f"{value / 1e9:,.2f} bn $"
        elif unit == "":
            text = f"{value:.1%}" if "share" in key else f"{value:,.0f}"
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
        if args.command == "app":
            return cmd_app(args)
    except BlocsimError as exc:
        print(f"blocsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("blocsim: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
