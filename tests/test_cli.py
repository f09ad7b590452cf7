"""The `blocsim` command: summaries, parquet output, and bad input (exit 2, nothing written)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from experiments.cli import main


def test_help_documents_run(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--scenario",
        "--members",
        "--floor",
        "--instrument",
        "--seed",
        "--steps",
        "--event",
        "--dumping",
        "--json",
        "--out",
    ):
        assert flag in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("blocsim ")


def test_run_prints_summary_and_writes_parquet(tmp_path, capsys):
    out = tmp_path / "run.parquet"
    code = main(
        [
            "run",
            "--members",
            "EU,US,JP",
            "--floor",
            "110",
            "--instrument",
            "levy",
            "--seed",
            "1",
            "--steps",
            "36",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "bloc oxide price" in text and "EU, US, JP" in text
    df = pd.read_parquet(out)
    assert len(df) == 36 and df.step.tolist() == list(range(36))
    meta = pq.read_schema(out).metadata
    assert meta[b"blocsim.seed"] == b"1" and meta[b"blocsim.members"] == b"EU,US,JP"


def test_run_json_is_one_object(capsys):
    code = main(
        [
            "run",
            "--members",
            "3",
            "--steps",
            "24",
            "--json",
            "--event",
            "export_ban:start=12,duration=6",
            "--dumping",
            "off",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unmet_bloc_share"] > 0 and "fiscal_cost" in data


def test_json_same_seed_same_summary(capsys):
    main(["run", "--members", "2", "--steps", "24", "--json", "--seed", "5"])
    a = capsys.readouterr().out
    main(["run", "--members", "2", "--steps", "24", "--json", "--seed", "5"])
    assert capsys.readouterr().out == a


@pytest.mark.parametrize(
    "args, message",
    [
        (["--members", "EU,XX"], "members = 'XX'"),
        (["--members", "CN"], "members = 'CN'"),
        (["--scenario", "atlantis"], "scenario = 'atlantis'"),
        (["--floor", "-3"], "--floor = '-3'"),
        (["--floor", "abc"], "--floor = 'abc'"),
        (["--floor", "100", "--instrument", "subsidy"], "instrument = 'subsidy'"),
        (["--event", "export_ban:start=10"], "event.duration"),
        (["--event", "volcano:start=1,duration=2"], "volcano"),
        (["--seed", "-1"], "--seed = '-1'"),
        (["--dumping", "maybe"], "--dumping"),
        (["--out", "NOWHERE/run.parquet"], "--out"),
        (["--out", "run.csv"], "--out"),
        (["--floor", "1e300"], "floor = 1e+300"),
        (["--members", "none", "--floor", "110"], "a floor needs bloc members"),
        (["--event", "export_ban:start=500,duration=2"], "event.start = 500"),
        (["--event", "export_ban:start=1,start=2,duration=2"], "given twice"),
        (["--event", "export_ban:start=1,duration=2,factor=2"], "does not apply to export_ban"),
        (["--members", "EU,EU"], "appears twice"),
        (["--scenario", "."], "scenario = '.'"),
        (["--out", "/proc/run.parquet"], "cannot write in '/proc'"),
    ],
)
def test_bad_input_exit_2_nothing_written(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    if "--out" not in args:
        args = args + ["--out", "run.parquet"]
    assert exit_code(["run", "--steps", "6", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def exit_code(argv):
    """main()'s status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_console_script_exit_status(tmp_path):
    """The installed entry point exits with 2 and no traceback on bad input."""
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "run", "--members", "XX"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "members = 'XX'" in proc.stderr and "Traceback" not in proc.stderr


def test_out_checked_before_the_run(tmp_path, monkeypatch, capsys):
    """--out that is a directory or another file is refused before anything runs; a blocsim table is replaced."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.parquet").mkdir()
    (tmp_path / "notes.parquet").write_text("my notes")
    import model

    def boom(*a, **k):
        raise AssertionError("the model must not run")

    monkeypatch.setattr(model, "BlocModel", boom)
    assert exit_code(["run", "--out", "d.parquet"]) == 2
    assert exit_code(["run", "--out", "notes.parquet"]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and "not a table written by `blocsim run`" in err and "Traceback" not in err
    assert (tmp_path / "notes.parquet").read_text() == "my notes"
    monkeypatch.undo()
    assert main(["run", "--steps", "3", "--out", str(tmp_path / "ok.parquet")]) == 0
    assert main(["run", "--steps", "4", "--out", str(tmp_path / "ok.parquet")]) == 0  # a blocsim table: replaced
    assert len(pd.read_parquet(tmp_path / "ok.parquet")) == 4


def test_json_is_valid_without_nan_or_infinity(capsys):
    from experiments.cli import _json_safe

    assert [_json_safe(v) for v in (float("inf"), float("-inf"), float("nan"), 1.5, 3)] == [None, None, None, 1.5, 3]
    assert main(["run", "--members", "none", "--steps", "6", "--json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["member_capacity_end"] == 0


def test_help_and_argument_errors_do_not_load_the_model():
    code = (
        "import sys\n"
        "from experiments.cli import main\n"
        "for argv in (['--help'], ['run', '--help'], ['run', '--floor', 'abc'], ['rnu']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = sorted(m for m in ('mesa', 'model', 'numpy', 'pandas', 'matplotlib') if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "LOADED []" in proc.stdout, proc.stdout + proc.stderr


def test_scenarios_lists_every_shipped_scenario(capsys):
    from model import load_scenario, scenario_names

    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = scenario_names()
    assert len(lines) == len(names) >= 6
    for line, name in zip(lines, names, strict=True):
        sc = load_scenario(name)
        assert line.split()[0] == name
        assert sc.description in line and sc.vintage in line
