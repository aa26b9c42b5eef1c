"""``progress.ticking``: a job whose units take long still prints its meter off a terminal."""

from __future__ import annotations

import io
import time

from ssltheory.progress import Progress, ticking


def test_ticking_prints_the_meter_while_no_unit_finishes():
    out = io.StringIO()
    with Progress(3, "job", unit="part", interval=0.0, file=out) as bar, ticking(bar, every=0.01):
        time.sleep(0.2)
        lines_while_waiting = [line for line in out.getvalue().splitlines() if line]
        bar.update(3)
    assert len(lines_while_waiting) >= 3
    assert all(line.startswith("job:") and "0/3" in line for line in lines_while_waiting)
    assert "3/3" in out.getvalue().splitlines()[-1]


def test_ticking_stops_with_the_block():
    out = io.StringIO()
    with Progress(1, "job", interval=0.0, file=out) as bar:
        with ticking(bar, every=0.01):
            time.sleep(0.05)
        after_block = out.getvalue()
        time.sleep(0.05)
        assert out.getvalue() == after_block
