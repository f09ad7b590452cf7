"""Property tests: any edit of the shipped files or any command line is a clear error or a valid run.

Hypothesis mutates the shipped scenario and experiment files line by line (a value replaced by another
TOML value, a line deleted or repeated) and draws command lines of ``blocsim run``. Each outcome must be
either exit 2 with one ``blocsim: error:`` line naming a field, no traceback and nothing written, or a
run that finishes (exit 0, valid JSON without NaN/Infinity literals, the output written). The number of
inputs tried is printed (``pytest -s``) and asserted; ``BLOCSIM_PROPERTY_SCALE=20`` explores 20 times
as many, at random.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.cli import main
from model.scenario import SCENARIO_DIR

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_LINES = (SCENARIO_DIR / "rare_earths.toml").read_text().splitlines()
EXPERIMENT = (
    (ROOT / "experiments" / "configs" / "quick.toml")
    .read_text()
    .replace("replicates = 2", "replicates = 1")
    .replace("steps = 120", "steps = 12")
    .replace("membership = [1, 3, 6]", "membership = [1, 3]")
    .replace("floor = [0.0, 1.0, 1.3]", "floor = [0.0, 1.3]")
    .replace('instrument = ["levy", "cfd"]', 'instrument = ["levy"]')
    .replace("start=60,duration=12", "start=6,duration=3")
)
EXPERIMENT_LINES = EXPERIMENT.splitlines()
ASSIGNMENT = re.compile(r"^(\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*)(.*?)(\s*#.*)?$")

TOML_VALUES = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "1e300",
            "-1",
            "0",
            "0.0",
            "1",
            "true",
            "false",
            '"false"',
            '"true"',
            '""',
            '"EU"',
            '"XX"',
            '"levy"',
            '"random:2"',
            "[]",
            "[1, 1]",
            '["EU", "EU"]',
            "[[]]",
            "{}",
            "1000000000",
            "100000000000",
            '["export_ban:start=500,duration=2"]',
            '[["export_ban:start=1,duration=2,factor=3"]]',
        ]
    ),
    st.text(alphabet="abcXYZ09 _-+:.,", max_size=8).map(json.dumps),
)


@st.composite
def mutated(draw, lines: list[str]) -> str:
    """The file with 1-3 edits: a number scaled, a value replaced, a line deleted or a line repeated."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        editable = [i for i, line in enumerate(lines) if ASSIGNMENT.match(line)]
        i = draw(st.sampled_from(editable))
        how = draw(st.sampled_from(["scale", "scale", "scale", "replace", "replace", "delete", "repeat"]))
        m = ASSIGNMENT.match(lines[i])
        if how == "scale" and re.fullmatch(r"-?[0-9.]+(e[0-9+-]+)?", m.group(2).strip()):
            value = m.group(2).strip()
            factor = draw(st.sampled_from([0.0, 0.5, 0.9, 1.1, 2.0, 10.0]))
            new = str(int(int(value) * factor)) if value.lstrip("-").isdigit() else repr(float(value) * factor)
            lines[i] = m.group(1) + new + (m.group(3) or "")
        elif how in ("replace", "scale"):
            m = ASSIGNMENT.match(lines[i])
            lines[i] = m.group(1) + draw(TOML_VALUES) + (m.group(3) or "")
        elif how == "delete":
            lines[i] = ""
        else:
            lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


def call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def assert_clear_error(rc: int, err: str) -> None:
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("blocsim: error:")]
    assert len(lines) == 1, err
    assert re.match(r"blocsim: error: (argument )?\S+", lines[0])


SCALE = int(os.environ.get("BLOCSIM_PROPERTY_SCALE", "1"))  # e.g. 20 for a long, random exploration
SETTINGS = settings(
    deadline=None,
    derandomize=SCALE == 1,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def scratch(base: Path) -> Path:
    d = base / uuid.uuid4().hex[:8]
    d.mkdir()
    return d


def judge_run(rc: int, stdout: str, err: str, out, tried: dict) -> None:
    """A ``blocsim run --json --out OUT``: a valid run (valid JSON, OUT written) or one clear error, nothing written."""
    if rc == 0:
        json.loads(stdout)  # valid JSON: no NaN or Infinity literals
        assert out.exists()
        tried["run"] += 1
    else:
        assert_clear_error(rc, err)
        assert not out.exists()
        tried["error"] += 1


def test_mutated_scenarios_error_clearly_or_run(tmp_path):
    tried = {"error": 0, "run": 0}

    @settings(SETTINGS, max_examples=100 * SCALE)
    @given(text=mutated(SCENARIO_LINES))
    def check(text):
        d = scratch(tmp_path)
        (d / "s.toml").write_text(text)
        out = d / "run.parquet"
        args = ["run", "--scenario", str(d / "s.toml"), "--members", "3", "--floor", "100", "--steps", "6"]
        judge_run(*call([*args, "--json", "--out", str(out)]), out, tried)
        shutil.rmtree(d)

    check()
    print(f"\nscenario mutations tried: {sum(tried.values())} ({tried['error']} clear errors, {tried['run']} runs)")
    assert sum(tried.values()) >= 80 and tried["error"] and tried["run"]


def test_mutated_experiments_error_clearly_or_run(tmp_path):
    tried = {"error": 0, "run": 0, "large": 0}

    @settings(SETTINGS, max_examples=60 * SCALE)
    @given(text=mutated(EXPERIMENT_LINES))
    def check(text):
        from experiments import load_experiment
        from experiments.config import ExperimentError

        d = scratch(tmp_path)
        (d / "e.toml").write_text(text)
        out = d / "res"
        try:
            exp = load_experiment(d / "e.toml")
        except ExperimentError:
            exp = None
        if exp is not None and exp.n_runs * exp.steps > 400:  # valid but too big to run here
            assert exp.n_runs <= 1_000_000
            tried["large"] += 1
            return
        rc, stdout, err = call(["sweep", str(d / "e.toml"), "--out", str(out), "--backend", "serial", "--no-progress"])
        if exp is None:
            assert_clear_error(rc, err)
            assert not out.exists()
            tried["error"] += 1
        else:
            assert rc == 0, err
            assert "0 failed" in stdout
            tried["run"] += 1
        shutil.rmtree(d)

    check()
    print(f"\nexperiment mutations tried: {sum(tried.values())} {tried}")
    assert sum(tried.values()) >= 50 and tried["error"] and tried["run"]


FLAG_VALUES = {
    "--members": st.sampled_from(
        ["EU,US", "3", "0", "none", "15", "-1", "CN", "EU,EU", "eu", "", "2.5", "XX", "EU,,US"]
    ),
    "--floor": st.sampled_from(["0", "100", "-1", "nan", "inf", "1e300", "abc", "1e5", "100001", ""]),
    "--instrument": st.sampled_from(["levy", "cfd", "buffer", "levy+buffer", "none", "", "levy+", "tariff", "5"]),
    "--seed": st.sampled_from(["0", "1", "-1", "1.5", "abc", str(2**64), str(2**64 - 1)]),
    "--steps": st.sampled_from(["1", "3", "6", "0", "-1", "1.7", "ten", "1e9", "6001"]),
    "--event": st.sampled_from(
        [
            "export_ban:start=2,duration=2",
            "export_ban:start=500,duration=2",
            "export_ban:start=1,start=2,duration=2",
            "export_ban:start=1,duration=2,factor=2",
            "export_quota:start=1,duration=2,share=0.5,target=all",
            "export_quota:start=1,duration=2",
            "demand_shock:start=1,duration=2,factor=1.3",
            "demand_shock:start=1,duration=2,factor=nan",
            "embargo:start=1,duration=2",
            "export_ban",
            "",
            ":::",
        ]
    ),
    "--dumping": st.sampled_from(["on", "off", "maybe"]),
    "--scenario": st.sampled_from(["rare_earths", "lithium", "README.md", "x.toml", ""]),
}


def test_random_command_lines_error_clearly_or_run(tmp_path):
    tried = {"error": 0, "run": 0}
    pairs = st.sampled_from(sorted(FLAG_VALUES)).flatmap(lambda f: st.tuples(st.just(f), FLAG_VALUES[f]))

    @settings(SETTINGS, max_examples=120 * SCALE)
    @given(flags=st.lists(pairs, max_size=5), text=st.text(max_size=6))
    def check(flags, text):
        d = scratch(tmp_path)
        out = d / "run.parquet"
        argv = ["run"]
        for flag, value in flags:
            argv += [flag, value]
        if not any(f == "--steps" for f, _ in flags):
            argv += ["--steps", "6"]
        if text and not text.startswith("-"):
            argv.append(text)  # a stray positional
        judge_run(*call([*argv, "--json", "--out", str(out)]), out, tried)
        shutil.rmtree(d)

    check()
    print(f"\ncommand lines tried: {sum(tried.values())} ({tried['error']} clear errors, {tried['run']} runs)")
    assert sum(tried.values()) >= 100 and tried["error"] and tried["run"]
