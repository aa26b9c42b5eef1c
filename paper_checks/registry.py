"""The registry of claims: every statement of the paper and of docs/THEORY.md as an executable check.

A *claim* has an id (``T1.1`` ... ``T9``, ``P2``, ``P3`` for docs/THEORY.md's statements, ``E1`` ...
``E12`` for the paper's empirical claims), its statement, its provenance tag (``paper`` / ``code`` /
``derived``, as in docs/THEORY.md), the paper's value where the paper reports one (a transcription,
`ssltheory.paper_numbers`), and one check function per scale (``quick``: seconds, run by the
test suite; ``cpu``: minutes on two cores; ``gpu``: the paper's configuration). A check returns an
:class:`Outcome`: a verdict, the measured value and a short evidence dict. Verdicts:

- ``pass``: the check ran and resolved the claim in its direction (for an empirical comparison:
  every difference beyond its tolerance, docs/THEORY.md section 3);
- ``inconclusive``: an empirical comparison ran but some difference lies within its tolerance (and
  none against the claim): the data cannot tell the claim from its negation; never a pass;
- ``fail``: the check ran and contradicts the claim; the evidence holds the counterexample or the
  difference resolved against it;
- ``refuted``: a ``derived`` statement (worked out for this project, not the paper's) whose check
  found a counterexample: a result, not a failure (docs/THEORY.md). The evidence holds the
  counterexample and a corrected claim is registered beside it; never counted as a pass;
- ``pending-gpu``: a ``gpu``-scale check on a machine without a CUDA device (or without data), or an
  ImageNet-scale claim, with the configuration it would run;
- ``error``: the check could not run (an exception, e.g. a module it needs is missing); never
  counted as a pass.

Claims are registered by the modules of this package (``theory_*.py``, ``empirical.py``) when they
are imported; :func:`all_claims` imports them.
"""

from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ssltheory.errors import InputError
from ssltheory.files import jsonable

if TYPE_CHECKING:
    import numpy as np

SCALES = ("quick", "cpu", "gpu")
PROVENANCES = ("paper", "code", "derived")
VERDICTS = ("pass", "inconclusive", "fail", "refuted", "pending-gpu", "error")

#: Modules that register claims, imported by :func:`all_claims` in this order.
CLAIM_MODULES = (
    "ssltheory.paper_checks.theory_probes",
    "ssltheory.paper_checks.theory_efficiency",
    "ssltheory.paper_checks.theory_objectives",
    "ssltheory.paper_checks.empirical",
)


@dataclass(frozen=True)
class CheckContext:
    """What a check may use besides its own code.

    Args:
        scale: one of :data:`SCALES`.
        seed: base seed; a check derives its generators with :meth:`rng`, so a run is reproducible.
        data_dir: dataset root for checks that read real data (MNIST idx files, CIFAR-10,
            TinyImageNet); ``None`` when not given.
        device: ``"cpu"``, ``"cuda"`` or ``None`` (let the check choose).
        work_dir: a directory for training runs and other artefacts; ``None`` means a temporary one.
        reuse_arms: methods whose per-seed results a method-pair claim (E1, E2) takes from its
            stored result in ``stored`` instead of training them again (``paper-check --reuse-arms``).
        stored: claim id -> its stored cpu-scale result (a ``ClaimResult.to_dict()`` with its run
            info), read from results_cpu.json when ``reuse_arms`` is given.
    """

    scale: str = "quick"
    seed: int = 0
    data_dir: Path | None = None
    device: str | None = None
    work_dir: Path | None = None
    reuse_arms: tuple[str, ...] = ()
    stored: dict | None = field(default=None, compare=False, hash=False)

    def rng(self, *salt: int | str) -> np.random.Generator:
        """A generator seeded by (seed, salt...); strings are hashed stably (not by ``hash``)."""
        import numpy as np  # here, not at the top: the command's parser reads this module (SCALES)

        words = [self.seed]
        for s in salt:
            words.append(s if isinstance(s, int) else int.from_bytes(str(s).encode()[:8].ljust(8, b"\0"), "little"))
        return np.random.default_rng(words)

    def pick(self, quick: Any, cpu: Any, gpu: Any = None) -> Any:
        """The value for this scale; ``gpu`` defaults to the ``cpu`` value (theory needs no GPU)."""
        return {"quick": quick, "cpu": cpu, "gpu": cpu if gpu is None else gpu}[self.scale]


@dataclass
class Outcome:
    """What a check found.

    Args:
        verdict: one of :data:`VERDICTS`.
        measured: a short human-readable summary of what was measured (one table cell).
        evidence: a small JSON-serialisable dict: counts, the counterexample, the seeds, tolerances.
        seeds: the seeds the check used.
        spread: a short text giving the spread over seeds (e.g. ``"std 0.8 pt over 3 seeds"``).
    """

    verdict: str
    measured: str
    evidence: dict = field(default_factory=dict)
    seeds: list = field(default_factory=list)
    spread: str | None = None


CheckFn = Callable[[CheckContext], Outcome]


@dataclass(frozen=True)
class Claim:
    """One claim and its checks.

    Args:
        id: ``T<n>[.<m>][letter]`` or ``P<n>`` for docs/THEORY.md statements, ``E<n>[.<name>]`` for
            empirical claims.
        statement: the claim, in one or two sentences.
        provenance: ``paper``, ``code`` or ``derived`` (docs/THEORY.md's tags).
        group: ``theory`` or ``empirical``.
        checks: scale -> check function; every scale of :data:`SCALES` must be present.
        paper_value: what the paper reports, where it reports a number (a transcription of the
            paper, `ssltheory.paper_numbers`), else None.
    """

    id: str
    statement: str
    provenance: str
    group: str
    checks: Mapping[str, CheckFn]
    paper_value: str | None = None


@dataclass
class ClaimResult:
    """A claim's check as run at one scale: the claim's fields plus the outcome and its timing."""

    id: str
    statement: str
    provenance: str
    group: str
    scale: str
    paper_value: str | None
    measured: str
    verdict: str
    evidence: dict
    seeds: list
    spread: str | None
    seconds: float

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "statement": self.statement,
            "provenance": self.provenance,
            "group": self.group,
            "scale": self.scale,
            "paper_value": self.paper_value,
            "measured": self.measured,
            "verdict": self.verdict,
            "evidence": jsonable(self.evidence, nonfinite="string"),
            "seeds": jsonable(self.seeds, nonfinite="string"),
            "spread": self.spread,
            "seconds": round(self.seconds, 3),
        }


_REGISTRY: dict[str, Claim] = {}


def register(
    id: str,
    statement: str,
    provenance: str,
    *,
    group: str,
    check: CheckFn | None = None,
    quick: CheckFn | None = None,
    cpu: CheckFn | None = None,
    gpu: CheckFn | None = None,
    paper_value: str | None = None,
) -> Claim:
    """Add a claim. Give ``check`` (one function for every scale, reading ``ctx.scale``) or all of
    ``quick``, ``cpu`` and ``gpu``."""
    if provenance not in PROVENANCES:
        raise InputError(f"provenance must be one of {PROVENANCES}, got {provenance!r}")
    if id in _REGISTRY:
        raise InputError(f"claim id {id!r} is registered twice")
    if check is not None:
        checks = {s: check for s in SCALES}
    else:
        checks = {"quick": quick, "cpu": cpu, "gpu": gpu}
        missing = [s for s, f in checks.items() if f is None]
        if missing:
            raise InputError(f"claim {id} has no check for scale(s) {missing}")
    claim = Claim(
        id=id, statement=statement, provenance=provenance, group=group, checks=checks, paper_value=paper_value
    )
    _REGISTRY[id] = claim
    return claim


def all_claims() -> list[Claim]:
    """Every registered claim, theory first, in registration order."""
    for name in CLAIM_MODULES:
        importlib.import_module(name)
    return list(_REGISTRY.values())


def _matches(claim: Claim, selector: str) -> bool:
    """``T7`` selects ``T7.1`` and ``T7.2a``; ``T7.2`` selects ``T7.2a``; ``T1`` does not select
    ``T10``; a letter alone (``T``, ``E``) selects every id starting with it; ``theory`` and
    ``empirical`` select a group."""
    cid, sel = claim.id.lower(), selector.lower()
    if cid == sel or sel == claim.group:
        return True
    if sel.isalpha() and len(sel) == 1:
        return cid.startswith(sel)
    return cid.startswith(sel) and (cid[len(sel)] == "." or cid[len(sel)].isalpha())


def select(selectors: list[str] | None) -> list[Claim]:
    """The claims named by ``selectors`` (ids, id prefixes, or a group), or every claim when empty.

    Raises:
        ValueError: a selector names no claim.
    """
    claims = all_claims()
    if not selectors:
        return claims
    chosen: list[Claim] = []
    for sel in selectors:
        hits = [c for c in claims if _matches(c, sel)]
        if not hits:
            known = ", ".join(c.id for c in claims)
            raise InputError(f"unknown claim id {sel!r}; known ids: {known}")
        chosen.extend(c for c in hits if c not in chosen)
    return chosen


def run_claim(claim: Claim, ctx: CheckContext) -> ClaimResult:
    """Run ``claim``'s check for ``ctx.scale``. An exception becomes verdict ``error`` with the
    exception and the last traceback frames as evidence (never a pass, never hidden)."""
    if ctx.scale not in SCALES:
        raise InputError(f"scale must be one of {SCALES}, got {ctx.scale!r}")
    start = time.perf_counter()
    try:
        out = claim.checks[ctx.scale](ctx)
        if out.verdict not in VERDICTS:
            raise RuntimeError(f"check returned unknown verdict {out.verdict!r}")
        if out.verdict == "fail" and claim.provenance == "derived":
            out = Outcome("refuted", out.measured, out.evidence, seeds=out.seeds, spread=out.spread)
    except Exception as exc:  # a crash is reported as such, with its evidence
        tb = traceback.format_exception(exc)
        out = Outcome(
            "error",
            f"check raised {type(exc).__name__}",
            {"error": f"{type(exc).__name__}: {exc}", "traceback_tail": "".join(tb[-3:])[-1500:]},
        )
    return ClaimResult(
        id=claim.id,
        statement=claim.statement,
        provenance=claim.provenance,
        group=claim.group,
        scale=ctx.scale,
        paper_value=claim.paper_value,
        measured=out.measured,
        verdict=out.verdict,
        evidence=out.evidence,
        seeds=list(out.seeds),
        spread=out.spread,
        seconds=time.perf_counter() - start,
    )
