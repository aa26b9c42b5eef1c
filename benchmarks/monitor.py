"""Benchmark: the training monitor's overhead at its default setting (``ssltheory train --monitor-every``).

The monitor (`ssltheory.monitor.IdealnessMonitor`, 64 images x 4 views of the reference
augmentation, every `DEFAULT_EVERY` steps) must cost at most 5% of training time. Side by side in
one process, alternately for ``rounds`` rounds: the demo's CPU recipe (``--preset cpu``: DISSL,
small CNN, batch 128 on the embedded patches) trains ``steps`` steps (each step timed by the
trainer's callback, the first two of a run left out as warm-up), then the monitor scores that
run's encoder twice (each call timed). With t_step the median seconds per training step and
t_score the median seconds per scoring:

    baseline_s = DEFAULT_EVERY * t_step            (training between two scorings)
    ours_s     = DEFAULT_EVERY * t_step + t_score  (the same with one scoring)

Row ``monitor_overhead``: ``ratio = ours_s / baseline_s`` (a slowdown), target ``<= 1.05``.
Running 2 x 200 steps per side instead would take minutes per round on a shared CPU and measure
the same two quantities; ``details`` keeps both medians and their spread.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ssltheory.benchmarks.harness import SLOWDOWN, BenchConfig, Row, error_row, median, slowdown_row, spread

NAME = "monitor"
ROW = "monitor_overhead"
TARGET = 1.05


def run(config: BenchConfig) -> list[Row]:
    """The ``monitor_overhead`` row (module docstring), when ``config`` wants it."""
    if not config.wants(ROW):
        return []
    try:
        return [_measure(config)]
    except Exception as exc:  # reported as a row, the other benchmarks go on
        return [error_row(ROW, SLOWDOWN, f"<= {TARGET:g}", exc)]


def _measure(config: BenchConfig) -> Row:
    import torch

    from ssltheory.monitor import DEFAULT_EVERY, DEFAULT_IMAGES, DEFAULT_VIEWS, IdealnessMonitor
    from ssltheory.ssl.data import load_dataset
    from ssltheory.ssl.runs import load_run
    from ssltheory.ssl.train import TrainConfig, train

    torch.set_num_threads(config.threads)
    rounds = config.rounds(1, 3)
    steps = 6 if config.quick else 20
    dataset = load_dataset("patches")
    step_times: list[float] = []
    score_times: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for r in range(rounds):
            marks: list[float] = []
            run_config = TrainConfig.from_flags(
                "cpu",
                method="dissl",
                data="patches",
                steps=steps,
                quiet=True,
                seed=config.seed + r,
                out=str(Path(folder) / f"run{r}"),
            )
            marks.append(time.perf_counter())
            run_dir = train(run_config, callback=lambda step, record: marks.append(time.perf_counter()) and False)
            step_times += [b - a for a, b in zip(marks[2:], marks[3:])]  # the first two steps warm up
            encoder, saved = load_run(run_dir)
            monitor = IdealnessMonitor(
                encoder, dataset.test.images, mean=saved["mean"], std=saved["std"], seed=config.seed
            )
            monitor.score(0)  # warm-up: lazy imports of the scoring path
            for _ in range(2):
                started = time.perf_counter()
                monitor.score(0)
                score_times.append(time.perf_counter() - started)
    t_step, t_score = median(step_times), median(score_times)
    details = {
        "setting": f"every {DEFAULT_EVERY} steps, {DEFAULT_IMAGES} images x {DEFAULT_VIEWS} views",
        "recipe": "ssltheory train --preset cpu --method dissl --data patches",
        "seconds_per_step": spread(step_times),
        "seconds_per_scoring": spread(score_times),
        "rounds": rounds,
        "steps_per_round": steps,
    }
    return slowdown_row(ROW, DEFAULT_EVERY * t_step + t_score, DEFAULT_EVERY * t_step, TARGET, details)
