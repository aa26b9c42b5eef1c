"""Write ``benchmarks/RESULTS.md`` from the rows of one run (never edited by hand).

The file holds the command, the machine (CPU model, cores, threads, torch / numpy / scipy /
scikit-learn versions, date), the load average before and after the run (the cores may be shared
with other processes), the table, the details of each row, and the raw JSON rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ssltheory.benchmarks.harness import Row


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
    for key in ("cpu", "logical_cores", "threads_used", "platform", "python", "torch", "numpy", "scipy", "scikit_learn",
                "kornia", "cuda"):
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
        "## Results",
        "",
        "`ratio` is `baseline_s / ours_s` (a speed-up) where the target reads `>= N`, and",
        "`ours_s / baseline_s` (a slowdown) where it reads `<= N`.",
        "",
        "| name | ours_s | baseline_s | ratio | ratio = | target | meets | status |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.name} | {_fmt(r.ours_s, '.4f')} | {_fmt(r.baseline_s, '.4f')} | {_fmt(r.ratio, '.2f')} | "
                     f"{r.ratio_def} | {_cell(r.target)} | {_meets(r)} | {r.status} |")
    lines += ["", "## Details", ""]
    for r in rows:
        lines.append(f"- **{r.name}**: " + "; ".join(f"{k} = {_short(v)}" for k, v in r.details.items()))
    lines += ["", "## Raw rows (JSON)", "", "```json"]
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


def write_results(path: str | Path, rows: list[Row], machine: dict, command: str, elapsed_s: float, load_before,
                  load_after) -> Path:
    """Render and write atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(render(rows, machine, command, elapsed_s, load_before, load_after))
    os.replace(tmp, path)
    return path
