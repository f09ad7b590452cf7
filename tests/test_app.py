"""The interactive page (experiments/app.py): its components without a browser, then end to end in Chromium.

The component tests use solara's test tools (``solara.render`` and ``rc.find``, as Mesa tests its
SolaraViz). The end-to-end test serves the page with ``blocsim app`` on loopback and drives it with
headless Chromium through Playwright; it is skipped, with the reason, where Chromium or Playwright is
missing (CI installs both: see .ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

solara = pytest.importorskip("solara", reason="the app extra is not installed: pip install -e '.[app]'")
v = pytest.importorskip("ipyvuetify")
ipywidgets = pytest.importorskip("ipywidgets")

from experiments import app  # noqa: E402
from model.recorder import COLUMNS  # noqa: E402
from model.scenario import scenario_names  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BLOCSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def render_page():
    """The page inside an AppLayout (as ``solara run`` serves it), so the sidebar's controls render too."""
    box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    return rc


def summary_html(rc) -> str:
    """The summary component's HTML (its head line, and its table once the model has stepped)."""
    found = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets if "month " in w.unsafe_innerHTML]
    assert len(found) == 1
    return found[0]


def summary_value(rc, label: str) -> float:
    m = re.search(rf"<td>{re.escape(label)}</td><td[^>]*>([^<]+)</td>", summary_html(rc))
    assert m, f"{label!r} not in the summary table"
    return float(m.group(1).replace(",", ""))


# ------------------------------------------------------------------ pieces
def test_every_mapped_series_is_a_recorder_column_or_skipped():
    model = app.AppModel()
    model.run(3)
    for title in app.PLOTS:
        unit, lines = app.plot_series(model, title)
        assert unit, title
        assert lines, f"{title}: no line drawn"
        for values in lines.values():
            assert len(values) == 3
    for column, unit in app.SERIES.values():
        for c in (column,) if isinstance(column, str) else column:
            if c in COLUMNS:  # the recorder documents the unit we show (shares are %)
                assert unit == "%" or COLUMNS[c][0] == unit, c


def test_missing_columns_are_skipped_and_new_unmet_columns_join(monkeypatch):
    model = app.AppModel()
    model.run(2)
    monkeypatch.setitem(app.SERIES, "unmet bloc", ("unmet_bloc_no_such_column", "t/month"))
    model.datacollector.model_vars["unmet_batteries"] = [1.0, 2.0]  # as the end-use demand will add
    unit, lines = app.plot_series(model, app.UNMET_PLOT)
    assert unit == "t/month"
    assert "unmet bloc" not in lines
    np.testing.assert_allclose(lines["batteries"], [1.0, 2.0])


def test_shares_are_percent_of_bloc_supply():
    model = app.AppModel(members=3, floor=0.0)
    model.run(6)
    _, lines = app.plot_series(model, "Share of bloc supply")
    c = model.recorder.column
    expected = 100 * c("supply_bloc_member") / c("supply_bloc")
    np.testing.assert_allclose(lines["members' share"], expected)
    total = lines["members' share"] + lines["dominant supplier's share"] + lines["authority stock's share"]
    assert np.all(total <= 100 + 1e-6)


def test_budget_flows_in_millions():
    model = app.AppModel(members=3, floor=110.0, instrument="levy")
    model.run(12)
    unit, lines = app.plot_series(model, "Authority's budget flows")
    assert unit == "M$/month"
    np.testing.assert_allclose(lines["levy revenue"], model.recorder.column("levy_revenue") / 1e6)


def test_controls_cover_scenarios_instruments_and_the_export_control():
    params = app.model_params()
    assert params["scenario_name"]["values"] == scenario_names()
    choices = params["instrument"]["values"]
    from agents.authority import INSTRUMENTS

    assert choices[: len(INSTRUMENTS)] == list(INSTRUMENTS)
    assert "+".join(INSTRUMENTS) in choices
    assert params["export_kind"]["values"] == ["none", "export_ban", "export_quota"]
    model = app.AppModel(export_kind="export_ban", export_start=5, export_duration=7, export_target="all")
    assert [(e.kind, e.start, e.duration, e.target) for e in model.events[-1:]] == [("export_ban", 5, 7, "all")]
    assert app.AppModel(export_kind="none").events == app.AppModel().events


def test_members_as_codes_size_or_reactive():
    assert app.AppModel(members=2).members == ("EU", "US")
    assert app.AppModel(members=["JP", "EU", "XX"]).members == ("EU", "JP")  # accession order, unknown dropped
    assert app.AppModel(members=solara.Reactive(["US"])).members == ("US",)
    assert app.AppModel(members=0).members == ()


def test_summary_rows_have_units():
    model = app.AppModel(members=3, floor=110.0)
    assert app.summary_rows(model) == []
    model.run(12)
    rows = app.summary_rows(model)
    assert len(rows) == len(model.summary())
    assert all(unit for _, _, unit in rows)


def test_cli_app_is_documented_and_help_stays_light(capsys):
    from experiments.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["app", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--no-open" in out and "SolaraViz" in out
    code = (
        "import sys, contextlib, io\n"
        "from experiments.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as f, contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert ' app ' in f.getvalue(), f.getvalue()\n"
        "assert 'solara' not in sys.modules and 'mesa.visualization' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ the page, rendered without a browser
def test_page_steps_and_redraws():
    rc = render_page()
    step = rc.find(v.Btn, children=["Step"])
    step.assert_single()
    rc.find(v.Btn, children=["Reset"]).assert_single()
    assert "Step the model" in summary_html(rc)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        step.widget.click()  # one model step and the redraw of every component
        times.append(time.perf_counter() - t)
    assert "month 5 of 240" in summary_html(rc)
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) >= len(app.PLOTS)
    drawn = [w.value for w in images]
    step.widget.click()
    assert all(a != b for a, b in zip(drawn, (w.value for w in images), strict=True)), "a plot was not redrawn"
    # speed is measured in benchmarks/bench_app.py, not asserted here
    print(f"step + redraw: {[round(t * 1000) for t in times]} ms")


def test_floor_and_members_apply_on_reset():
    rc = render_page()
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert "no floor" in summary_html(rc)
    rc.find(v.Slider, label="Price floor on oxide, $/kg (0 = none)").widget.v_model = 120.0
    rc.find(v.Select, label="Floor instrument(s)").widget.v_model = "cfd"
    rc.find(v.Select, label="Members (accession order)").widget.v_model = ["KR", "EU"]
    rc.find(v.Checkbox, label="Dumping by the dominant supplier").widget.v_model = False
    rc.find(v.Btn, children=["Reset"]).widget.click()
    for _ in range(3):
        rc.find(v.Btn, children=["Step"]).widget.click()
    html = summary_html(rc)
    assert "month 3 of 240" in html
    assert "members: EU, KR" in html
    assert "floor 120 $/kg via cfd" in html
    assert "dumping off" in html
    assert summary_value(rc, "CfD payments net of paybacks") > 0  # bn $: the CfD pays members up to the floor


def test_bloc_size_slider_picks_the_first_k():
    rc = render_page()
    rc.find(v.Slider, label="Bloc size (first k in accession order)").widget.v_model = 5
    rc.find(v.Btn, children=["Reset"]).widget.click()
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert "members: EU, US, JP, KR, AU" in summary_html(rc)


# ------------------------------------------------------------------ end to end, in a real browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def browser():
    """Playwright and the Chromium executable, or a skip that says what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (Python) is not installed: pip install -e '.[test,app]'")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"no Chromium at {CHROMIUM} or on PATH: apt-get install -y chromium (or set BLOCSIM_CHROMIUM)")
    return sync_playwright, CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


@pytest.fixture
def server(tmp_path):
    """`blocsim app` on a free loopback port; yields its URL and stops it (by its own process id)."""
    port = _free_port()
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "app", "--host", "127.0.0.1", "--port", str(port), "--no-open"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"blocsim app did not start: {log.read()[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _summary(page, label: str) -> float:
    cell = page.locator("table.blocsim-summary tr", has_text=label).locator("td").nth(1)
    return float(cell.inner_text().replace(",", ""))


def test_browser_floor_changes_the_run(browser, server, tmp_path):
    sync_playwright, chromium = browser
    shots = Path(os.environ.get("BLOCSIM_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = chrome.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(server, timeout=90_000)
            step = page.get_by_role("button", name="Step")
            step.wait_for(timeout=90_000)
            head = page.locator("p", has_text="month ")

            def do_step(n: int) -> float:
                """Click Step n times; the last click's time until the page shows the new month, s."""
                took = 0.0
                for _ in range(n):
                    before = head.first.inner_text()
                    t = time.perf_counter()
                    step.click()
                    page.wait_for_function(
                        "b => !document.body.innerText.includes(b)", arg=before.strip(), timeout=30_000
                    )
                    took = time.perf_counter() - t
                return took

            do_step(12)
            assert "no floor" in head.first.inner_text()
            assert _summary(page, "CfD payments net of paybacks") == 0

            # a floor of 150 $/kg paid as a CfD: set the slider with the keyboard, Reset, step again
            slider = page.locator(".v-input", has_text="Price floor on oxide").locator("[role=slider]")
            slider.focus()
            for _ in range(30):  # 30 steps of 5 $/kg
                slider.press("ArrowRight")
            page.locator(".v-input", has_text="Floor instrument(s)").click()
            page.get_by_role("option", name="cfd", exact=True).click()
            page.get_by_role("button", name="Reset").click()
            page.wait_for_function("() => document.body.innerText.includes('Step the model')", timeout=30_000)
            redraw = do_step(12)
            text = head.first.inner_text()
            assert "floor 150 $/kg via cfd" in text, text
            assert "month 12 of 240" in text, text
            assert _summary(page, "CfD payments net of paybacks") > 0
            assert _summary(page, "members' installed separation capacity at the end") > 0
            print(f"browser: Step click to redrawn page {redraw * 1000:.0f} ms")
            page.set_viewport_size({"width": 1500, "height": 2350})  # the whole page: its plots and the summary
            page.wait_for_timeout(1000)
            shot = shots / "app.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
        finally:
            chrome.close()
