"""What experiments draw and the tables they draw from: CSV rows (written whole through
:func:`ssltheory.files.atomic_output`), the Agg pyplot, log-scaled axes. Figures are saved by
:func:`ssltheory.files.save_figure`.

Shared by every experiment module, so that a figure and the CSV it was drawn from are always
written the same way.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ssltheory.files import atomic_output


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write ``rows`` (dicts with the keys of the first as columns; floats to 10 significant
    digits) to ``path`` whole; returns ``path``. The folder must exist."""
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in row.items()})
    return Path(path)


def read_csv(path: Path) -> list[dict]:
    """Rows of a CSV written by :func:`write_csv`, as dicts of strings."""
    with open(path) as f:
        return list(csv.DictReader(f))


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_ticks(ax, ticks) -> None:
    """Log-scaled x axis labelled with the plotted values as plain numbers."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sorted(set(ticks))))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
