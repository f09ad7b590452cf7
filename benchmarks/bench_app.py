"""The interactive page's responsiveness: one Step (model step + redraw of every component), in process.

Renders experiments/app.py's page with solara's test tools (no browser) and times clicks on Step, which
run one model month and redraw the seven plots and the summary, as the server does for a browser.
The browser round trip (click to redrawn page) is printed by tests/test_app.py's end-to-end test
(`pytest tests/test_app.py -k browser -s`). Needs the app extra: pip install -e ".[test,app]".
"""

from __future__ import annotations

import os
import statistics
import time

import ipyvuetify as v
import solara

from experiments.app import Page


def main(months: int = 60) -> None:
    box, rc = solara.render(solara.AppLayout(children=[Page()]), handle_error=False)
    step = rc.find(v.Btn, children=["Step"]).widget
    wall, cpu = [], []
    for _ in range(months):
        t, c = time.perf_counter(), time.process_time()
        step.click()
        wall.append(1000 * (time.perf_counter() - t))
        cpu.append(1000 * (time.process_time() - c))
    for name, ms in (("wall", sorted(wall)), ("CPU", sorted(cpu))):
        print(
            f"default scenario, {months} Steps, step + redraw ({name}): median {statistics.median(ms):.0f} ms, "
            f"90th percentile {ms[int(0.9 * len(ms))]:.0f} ms, max {ms[-1]:.0f} ms"
        )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
