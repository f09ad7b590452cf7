"""A design over uncertain parameters on 2 processes, streamed to parquet: runs/s and peak memory,
extrapolated to a 20,000-run design.

    python benchmarks/bench_design.py [--samples 12] [--steps 240] [--workers 2]

The design: a Latin hypercube over morris_quick's 5 uncertain parameters x the headline grid
(membership 1/3/6 x floor 0/1.0/1.3 x levy/cfd = 18 policy runs per future); 20,000 runs would be
1,112 futures. The cut-down run measures throughput and how the sweep process's memory grows per
run; the full design is expanded (RunSpecs, not run) to measure what holding its run list costs, and
a 20,000-row runs.parquet is written to time the periodic fold. Nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.config import experiment_from_dict  # noqa: E402
from experiments.runner import run_sweep  # noqa: E402
from experiments.storage import write_parquet  # noqa: E402

FULL = 20_000


def design_text(samples: int, steps: int) -> str:
    text = (ROOT / "experiments" / "configs" / "morris_quick.toml").read_text()
    for old, new in {
        'name = "morris_quick"': 'name = "bench_design"',
        "steps = 240": f"steps = {steps}",
        'instrument = ["levy"]': 'instrument = ["levy", "cfd"]',
        'kind = "morris"': 'kind = "lhs"',
        "samples = 10 ": f"samples = {samples} ",
        "levels = 4\n": "",
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def proc_mb(pid: int, file: str = "status", key: str = "VmRSS:") -> float:
    """A memory figure of a process from ``/proc/PID/file`` (kB), MB; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    return proc_mb(pid)


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


class Sampler(threading.Thread):
    """Samples the RSS of this process and of its process tree every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak_self = self.peak_tree = 0.0
        self.cpu: dict[int, float] = {}  # CPU seconds of each descendant, last seen

    @staticmethod
    def cpu_s(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            tree, todo = 0.0, [me]
            while todo:
                pid = todo.pop()
                tree += rss_mb(pid)
                todo += children(pid)
                if pid != me:
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), self.cpu_s(pid))
            self.peak_self = max(self.peak_self, rss_mb(me))
            self.peak_tree = max(self.peak_tree, tree)
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=12, help="futures in the cut-down run (default 12: 216 runs)")
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    text = design_text(args.samples, args.steps)
    exp = experiment_from_dict(tomllib.loads(text), text)
    n = exp.n_runs
    per_future = n // args.samples
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; cut-down design: {args.samples} futures x "
        f"{per_future} policy runs = {n} runs of {args.steps} months on {args.workers} processes\n"
    )

    tmp = Path(tempfile.mkdtemp())
    sampler = Sampler()
    base = rss_mb(os.getpid())
    sampler.start()
    t = time.perf_counter()
    df = run_sweep(exp, tmp / "out", backend="processes", workers=args.workers, progress=False)
    wall = time.perf_counter() - t
    sampler.stop.set()
    sampler.join()
    assert df["error"].isna().all(), df["error"].dropna().head()
    rate = n / wall
    after = rss_mb(os.getpid())
    size = (tmp / "out" / "runs.parquet").stat().st_size

    # the full design's run list, expanded but not run
    full_samples = -(-FULL // per_future)
    full_text = design_text(full_samples, args.steps)
    before_full = rss_mb(os.getpid())
    t = time.perf_counter()
    full = experiment_from_dict(tomllib.loads(full_text), full_text)
    specs = full.runs()
    expand = time.perf_counter() - t
    specs_mb = rss_mb(os.getpid()) - before_full
    n_full = len(specs)
    del specs

    # folding a 20,000-row runs.parquet (done every 5 s and at the end)
    big = pd.concat([df] * (-(-n_full // n)), ignore_index=True).iloc[:n_full]
    big["run_id"] = [f"r{i}" for i in range(len(big))]
    t = time.perf_counter()
    write_parquet(big, tmp / "big.parquet")
    fold = time.perf_counter() - t
    rows_mb = big.memory_usage(deep=True).sum() / 2**20

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    maxrss_children = usage.ru_maxrss / 1024
    cpu_per_run = sum(sampler.cpu.values()) / n  # the workers' CPU time: does not depend on the load
    load = os.getloadavg()[0]
    print("| measure | value |")
    print("|---|---:|")
    print(f"| wall time, {n} runs | {wall:.1f} s |")
    print(f"| runs/s on {args.workers} processes | {rate:.2f} |")
    print(f"| mean s inside a run (wall) | {df['wall_time'].mean():.3f} |")
    print(f"| workers' CPU s per run | {cpu_per_run:.3f} |")
    print(
        f"| runs/s on {args.workers} idle cores (= {args.workers} / CPU s per run) | {args.workers / cpu_per_run:.2f} |"
    )
    print(f"| load average (1 min) at the end | {load:.1f} |")
    print(f"| peak RSS, sweep process | {sampler.peak_self:.0f} MB |")
    print(f"| peak RSS, sweep process + forkserver + workers | {sampler.peak_tree:.0f} MB |")
    print(f"| largest single worker (ru_maxrss of children) | {maxrss_children:.0f} MB |")
    print(f"| sweep process growth over the run | {after - base:.0f} MB |")
    print(f"| runs.parquet | {size / n:.0f} bytes/run |")
    print(f"| full design: {n_full} runs ({full_samples} futures) expanded in | {expand:.1f} s, {specs_mb:.0f} MB |")
    print(f"| {n_full} rows in memory (pandas) | {rows_mb:.0f} MB |")
    print(
        f"| writing a {n_full}-row runs.parquet (one fold) | {fold:.2f} s, "
        f"{(tmp / 'big.parquet').stat().st_size / 2**20:.1f} MB |"
    )
    hours = n_full / rate / 3600
    idle = n_full * cpu_per_run / args.workers / 3600
    print(
        f"\nextrapolated: {n_full} runs at {rate:.2f} runs/s = {hours:.1f} h on {args.workers} processes "
        f"({idle:.1f} h on {args.workers} idle cores); "
        f"memory ~ {sampler.peak_tree:.0f} MB + {specs_mb + rows_mb:.0f} MB (run list and rows)"
    )


if __name__ == "__main__":
    main()
