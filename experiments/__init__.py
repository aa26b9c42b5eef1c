"""Experiment definitions and their runner (``ssltheory experiment NAME --scale S --out DIR``).

Each experiment module exposes ``DESCRIPTION`` (one line) and ``PARTS``, a dict from part name to
a function ``run_part(scale: str, out: Path, seed: int) -> list[Path]`` that writes
``out/<part>.csv`` and ``out/<part>.png`` and returns the paths written. The registry of
experiment names is :data:`EXPERIMENTS` below (light: ``--help`` texts read it); the runner is
:mod:`ssltheory.experiments.runner`.
"""

#: experiment name -> module defining DESCRIPTION and PARTS
EXPERIMENTS: dict[str, str] = {
    "synthetic": "ssltheory.experiments.synthetic",
    "score-validation": "ssltheory.experiments.score_validation",
    "controlled": "ssltheory.experiments.controlled",
    "paper-analogues": "ssltheory.experiments.paper_analogues",
    "fig7b": "ssltheory.experiments.fig7b",
}

SCALES = ("quick", "cpu", "gpu")
