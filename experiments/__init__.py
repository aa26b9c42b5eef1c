"""Experiment definitions and their runner (``ssltheory experiment NAME --scale S --out DIR``).

Each experiment module exposes ``DESCRIPTION`` (one line) and ``PARTS``, a dict from part name to
a function ``run_part(scale: str, out: Path, seed: int) -> list[Path]`` that writes
``out/<part>.csv`` and ``out/<part>.png`` and returns the paths written. The registry of
experiment names lives in :mod:`ssltheory.experiments.runner`.
"""
