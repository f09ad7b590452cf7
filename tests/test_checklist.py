"""Every bad input of the 0.1.0 new-user report, re-run: one clear error each, no traceback, nothing silent."""

from __future__ import annotations

import newuser_checklist


def test_every_reported_bad_input_gets_a_clear_error(capsys):
    counts = newuser_checklist.main(verbose=True)
    out = capsys.readouterr().out
    bad = [line for line in out.splitlines() if line.split(" ")[0] in ("traceback", "silent", "unclear")]
    assert not bad, "\n".join(bad)
    api_bad = [line for line in out.splitlines() if line.startswith(("api raw", "api silent"))]
    assert not api_bad, "\n".join(api_bad)
    assert counts.get("clear", 0) + counts.get("skipped", 0) == 148
