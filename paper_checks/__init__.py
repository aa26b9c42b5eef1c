"""Every claim of the paper and of docs/THEORY.md as an executable check with a verdict.

Dubois, Hashimoto, Ermon, Liang, "Improving Self-Supervised Learning by Characterizing
Idealized Representations", NeurIPS 2022. Modules:

- ``registry.py``: claims (id, statement, provenance, paper value, one check per scale) and
  running them (`select`, `run_claim`);
- ``theory_probes.py`` (T1, T2, T5), ``theory_efficiency.py`` (T3, T4, P2),
  ``theory_objectives.py`` (T6-T9, P3): the theory, checked by LPs, enumeration and exact arithmetic;
- ``empirical.py``: the paper's training claims (E1-E9) through ``ssltheory.ssl.train``, and the
  ImageNet tables (E10-E12, pending-gpu with their configurations);
- ``paper_numbers.py``: the paper's reported numbers, a transcription, never our measurement;
- ``report.py``: the table, JSON and RESULTS.md; ``cli.py``: ``ssltheory paper-check``.

Example::

    from ssltheory.paper_checks import CheckContext, run_claim, select
    [run_claim(c, CheckContext(scale="quick")).verdict for c in select(["T5"])]
"""

from ssltheory.paper_checks.registry import CheckContext, Claim, ClaimResult, Outcome, all_claims, run_claim, select

__all__ = ["CheckContext", "Claim", "ClaimResult", "Outcome", "all_claims", "run_claim", "select"]
