"""Write ``benchmarks/RESULTS.md`` from the rows of one run (never edited by hand).

The file holds the command, the machine (CPU model, cores, threads, torch / numpy / scipy /
scikit-learn versions, date), the load average before and after the run (the cores may be shared
with other processes), the table, the details of each row, and the raw JSON rows.

``ssltheory bench --only NAME ... --update FILE`` re-measures some rows of an existing report:
:func:`update_results` keeps the report's header (the first run's command and machine) and
its other rows, replaces those rows, and stamps each with ``measured`` (date, command, load).
"""

from __future__ import annotations

import json
from pathlib import Path

from ssltheory.benchmarks.harness import Row
from ssltheory.errors import InputError
from ssltheory.files import atomic_write_text

RAW_HEADING = "## Raw rows (JSON)"


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _meets(row: Row) -> str:
    return "-" if row.meets_target is None else ("yes" if row.meets_target else "**no**")


def render(rows: list[Row], machine: dict, command: str, elapsed_s: float, load_before, load_after) -> str:
    """The text of RESULTS.md from the rows: the command that wrote it, its time, the machine, the
    load before and after, a table, each row's details and the rows as JSON lines."""
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` in {elapsed_s:.0f} s on {machine['date_utc']} UTC. Regenerate with the same command;",
        "do not edit by hand. How each benchmark works: `benchmarks/*.py` docstrings.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    for key in (
        "cpu",
        "logical_cores",
        "threads_used",
        "platform",
        "python",
        "torch",
        "numpy",
        "scipy",
        "scikit_learn",
        "kornia",
        "cuda",
    ):
        lines.append(f"| {key} | {machine.get(key)} |")
    lines += [
        f"| load average (1, 5, 15 min) before | {load_before} |",
        f"| load average (1, 5, 15 min) after | {load_after} |",
        "",
        "The cores may be shared with other processes during the run; the load averages above show how",
        "busy the machine was (other engineers share these cores). Ours and the baseline are timed",
        "alternately on the same inputs (in one process; for the throughput rows, in alternating child",
        "processes), warm-up calls dropped, median of the timed repeats, so contention hits both sides.",
        "",
    ]
    return "\n".join(lines) + "\n" + _results_section(rows)


def _results_section(rows: list[Row]) -> str:
    """From "## Results" to the end: the table, each row's details and the rows as JSON lines."""
    lines = [
        "## Results",
        "",
        "`ratio` is `baseline_s / ours_s` (a speed-up) where the target reads `>= N`, and",
        "`ours_s / baseline_s` (a slowdown) where it reads `<= N`.",
    ]
    if any("measured" in r.details for r in rows):
        lines += [
            "Rows whose details carry `measured` were re-run later, each at the date, by the command and",
            "at the load shown there (`ssltheory bench --only NAME --update FILE`); the machine section",
            "describes the first run.",
        ]
    lines += [
        "",
        "| name | ours_s | baseline_s | ratio | ratio = | target | meets | status |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {_fmt(r.ours_s, '.4f')} | {_fmt(r.baseline_s, '.4f')} | {_fmt(r.ratio, '.2f')} | "
            f"{r.ratio_def} | {_cell(r.target)} | {_meets(r)} | {r.status} |"
        )
    lines += ["", "## Details", ""]
    for r in rows:
        lines.append(f"- **{r.name}**: " + "; ".join(f"{k} = {_short(v)}" for k, v in r.details.items()))
    lines += ["", RAW_HEADING, "", "```json"]
    lines += [json.dumps(r.to_dict()) for r in rows]
    lines += ["```", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def write_results(
    path: str | Path, rows: list[Row], machine: dict, command: str, elapsed_s: float, load_before, load_after
) -> Path:
    """Render and write atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render(rows, machine, command, elapsed_s, load_before, load_after))
    return path


def read_rows(text: str) -> list[Row]:
    """The rows of a report written by :func:`render` (its raw JSON block)."""
    head, sep, raw = text.partition(RAW_HEADING)
    if not sep or "```json" not in raw:
        raise InputError(f"not a report written by ssltheory bench: no {RAW_HEADING!r} section with a JSON block")
    block = raw.split("```json", 1)[1].split("```", 1)[0]
    return [Row(**json.loads(line)) for line in block.splitlines() if line.strip()]


def update_results(path: str | Path, rows: list[Row], measured: str) -> Path:
    """Replace ``rows`` (by name) in the report at ``path``, each stamped ``measured``; keep the rest.

    Rows not in the report yet are added at the end. Written atomically.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--update {path}: no such report; write one first with ssltheory bench --out {path}")
    text = path.read_text()
    old = read_rows(text)
    header = text.split("## Results", 1)[0]
    new = {r.name: Row(**{**r.to_dict(), "details": {**r.to_dict()["details"], "measured": measured}}) for r in rows}
    merged = [new.pop(r.name, r) for r in old] + list(new.values())
    atomic_write_text(path, header + _results_section(merged))
    return path
