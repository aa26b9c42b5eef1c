"""``progress.ticking``: a job whose units take long still prints its meter off a terminal.

No timed assertion: the tests wait for the lines themselves (an event set by the output), however
slowly the background thread is scheduled.
"""

from __future__ import annotations

import io
import threading

from ssltheory.progress import Progress, ticking


class Lines(io.StringIO):
    """A text output that sets ``reached`` once it holds ``wanted`` lines."""

    def __init__(self, wanted: int):
        super().__init__()
        self.wanted, self.reached = wanted, threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if len([line for line in self.getvalue().splitlines() if line]) >= self.wanted:
            self.reached.set()
        return written


def test_ticking_prints_the_meter_while_no_unit_finishes():
    out = Lines(3)
    with Progress(3, "job", unit="part", interval=0.0, file=out) as bar, ticking(bar, every=0.01):
        assert out.reached.wait(timeout=60), out.getvalue()  # three lines while no unit has finished
        lines_while_waiting = [line for line in out.getvalue().splitlines() if line]
        bar.update(3)
    assert len(lines_while_waiting) >= 3
    assert all(line.startswith("job:") and "0/3" in line for line in lines_while_waiting)
    assert "3/3" in out.getvalue().splitlines()[-1]


def test_ticking_stops_with_the_block():
    out = Lines(1)
    with Progress(1, "job", interval=0.0, file=out) as bar:
        with ticking(bar, every=0.01):
            assert out.reached.wait(timeout=60)  # it ticked at least once
        # the ticking thread is joined when the block ends: nothing more can come from it
        assert not [t for t in threading.enumerate() if t.name == "progress-ticking" and t.is_alive()]
