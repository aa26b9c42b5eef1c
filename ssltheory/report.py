"""The ideal-ness report: is a learned representation ideal for linear probes, and how far from it?

Given the features of labelled points (learned codes are never exactly invariant), the report
takes each class's code to be its mean feature, ``c_m = mean{z_i : M(x_i) = m}``, and asks the
theory core (:func:`ssltheory.is_ideal`) whether those K codes are ideal for the probe family at a
stated tolerance: for linear probes, whether they are affinely independent (THEORY.md T1.2 [paper]),
with a certificate (an invariant binary task no linear probe realizes) when they are not. Beside
the exact verdict it reports the continuous scores of THEORY.md section 2 [derived]:

- the singular values of the centred class-code matrix (K, d), whose number above
  ``tol * largest`` is the effective affine rank (K - 1 when ideal), and their conditioning
  (smallest over largest of the first K - 1);
- the invariance ratio: within-class over total sum of squares of the point features (0 when the
  encoder is invariant);
- the dimension deficit max(0, K - 1 - d);
- probe accuracies measured by the caller (e.g. test accuracy of a linear probe, the minimum over
  invariant binary tasks), reported as given.

It writes ``report.json`` (everything), ``report.md`` (the same, for people) and ``report.png``
(matplotlib, Agg backend): the singular values with the tolerance line, and the probe accuracies.
Every number in the figure and the Markdown is read from the dict written to ``report.json``.

Example::

    section = score_representation(Z, labels, tol=1e-2, accuracies={"linear probe": 0.93})
    write_report("demo_out", {"dissl": section}, title="Demo")
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from ssltheory._json import jsonable
from ssltheory._validate import as_features, as_labels
from ssltheory.conditions import is_ideal
from ssltheory.equivalence import EquivalenceClasses
from ssltheory.metrics import affine_conditioning, dimension_deficit, invariance_ratio

#: Default tolerance, relative to the largest singular value of the centred class codes.
DEFAULT_TOL = 1e-2


def score_representation(
    features,
    labels,
    *,
    probe: str = "linear",
    tol: float = DEFAULT_TOL,
    accuracies: Mapping[str, float] | None = None,
    extra: Mapping | None = None,
) -> dict:
    """Score one representation; return a JSON-ready dict (a report section).

    Args:
        features: (n, d) array, one feature vector per point.
        labels: (n,) non-negative integer class of each point (the maximal invariant M: the label
            under label augmentation, the source image for patches); at least two classes.
        probe: ``"linear"`` or ``"universal"``, the probe family of the verdict.
        tol: relative tolerance of the verdict, a fraction of the largest singular value of the
            centred class-code matrix (passed to :func:`ssltheory.is_ideal`).
        accuracies: name -> accuracy in [0, 1], measured by the caller, reported as given.
        extra: JSON-ready facts to carry along (e.g. the worst task found), reported as given.

    Returns:
        ``{"n_points", "n_classes", "dim", "probe", "tol", "invariance_ratio",
        "singular_values", "tol_line", "effective_affine_rank", "conditioning",
        "dimension_deficit", "verdict", "accuracies", "extra"}`` where ``verdict`` is the class-code
        verdict's ``to_dict()``.
    """
    Z = as_features(features, "features")
    y = as_labels(labels, len(Z), "labels")
    if probe not in ("linear", "universal"):
        raise ValueError(f"probe must be 'linear' or 'universal', got {probe!r}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and 0 <= tol < 1):
        raise ValueError(f"tol must lie in [0, 1), got {tol!r}")
    accuracies = dict(accuracies or {})
    for name, value in accuracies.items():
        if not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise ValueError(f"accuracies[{name!r}] must be a number in [0, 1], got {value!r}")

    classes = EquivalenceClasses.from_labels(y)
    if classes.n_classes < 2:
        raise ValueError("labels has a single class; ideal-ness needs at least two")
    codes = classes.class_codes(Z)  # (K, d): mean feature of each class
    K, d = codes.shape
    conditioning = affine_conditioning(Z, classes, tol)
    singular = np.asarray(conditioning.singular_values, dtype=float)  # (min(K, d),), descending
    verdict = is_ideal(codes, EquivalenceClasses.from_labels(np.arange(K)), probe=probe, tol=tol)
    return {
        "n_points": int(len(Z)),
        "n_classes": int(K),
        "dim": int(d),
        "probe": probe,
        "tol": float(tol),
        "invariance_ratio": invariance_ratio(Z, classes).value,
        "singular_values": singular.tolist(),
        "tol_line": tol * float(singular[0]) if singular.size else 0.0,
        "effective_affine_rank": int(conditioning.rank),
        "conditioning": float(conditioning.condition),
        "dimension_deficit": dimension_deficit(K, d),
        "verdict": jsonable(verdict.to_dict(), nonfinite="string"),
        "accuracies": {k: float(v) for k, v in accuracies.items()},
        "extra": jsonable(dict(extra or {}), nonfinite="string"),
    }


def write_report(out_dir, sections: Mapping[str, dict], *, title: str = "Ideal-ness report", notes: str = "") -> dict:
    """Write ``report.json``, ``report.md`` and ``report.png`` into ``out_dir``; return their paths.

    Args:
        out_dir: directory, created if needed.
        sections: name -> dict from :func:`score_representation` (one per representation).
        title: first heading of the Markdown and the figure.
        notes: free text placed under the title (how the numbers were made).
    """
    if not sections:
        raise ValueError("sections is empty; give at least one scored representation")
    for name, section in sections.items():
        missing = {"singular_values", "tol_line", "verdict", "accuracies", "n_classes"} - set(section)
        if missing:
            raise ValueError(f"sections[{name!r}] lacks {', '.join(sorted(missing))}; build it with score_representation")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"title": title, "notes": notes, "sections": {k: jsonable(v, nonfinite="string") for k, v in sections.items()}}
    paths = {"json": out / "report.json", "md": out / "report.md", "png": out / "report.png"}
    _atomic_write(paths["json"], json.dumps(report, indent=2))
    written = json.loads(paths["json"].read_text())  # draw and tabulate from what was written
    _atomic_write(paths["md"], _markdown(written, paths["png"].name))
    _figure(written, paths["png"])
    return paths


# ----------------------------------------------------------------------------------------------


def _markdown(report: dict, figure_name: str) -> str:
    lines = [f"# {report['title']}", ""]
    if report["notes"]:
        lines += [report["notes"], ""]
    lines += [
        "| representation | K | d | probe | tol | ideal | eff. affine rank | conditioning | invariance ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report["sections"].items():
        lines.append(
            f"| {name} | {s['n_classes']} | {s['dim']} | {s['probe']} | {s['tol']:g} | "
            f"{'yes' if s['verdict']['ideal'] else 'no'} | {s['effective_affine_rank']} / {s['n_classes'] - 1} | "
            f"{s['conditioning']:.3g} | {s['invariance_ratio']:.3g} |"
        )
    names = sorted({k for s in report["sections"].values() for k in s["accuracies"]})
    if names:
        lines += ["", "| representation | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for name, s in report["sections"].items():
            cells = [f"{s['accuracies'][k]:.3f}" if k in s["accuracies"] else "" for k in names]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, s in report["sections"].items():
        lines += ["", f"## {name}", "", "Conditions on the class codes (mean feature per class):", ""]
        for cond, entry in s["verdict"].get("conditions", {}).items():
            ok = entry.get("ok") if isinstance(entry, dict) else entry
            detail = entry.get("detail", "") if isinstance(entry, dict) else ""
            lines.append(f"- {cond}: {'ok' if ok else 'FAILS'}{' - ' + str(detail) if detail else ''}")
        for key, value in s.get("extra", {}).items():
            lines.append(f"- {key}: {json.dumps(value)}")
        cert = s["verdict"].get("certificate")
        if cert:
            lines += ["", f"Certificate: the invariant task `{cert.get('task')}` (one label per class) is not "
                      f"realized by any {s['probe']} probe; witness: `{json.dumps(cert.get('witness'))[:400]}`"]
    lines += ["", f"![singular values and probe accuracies]({figure_name})", ""]
    return "\n".join(lines)


def _figure(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = report["sections"]
    fig, (ax_sv, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, s) in enumerate(sections.items()):
        sv = np.asarray(s["singular_values"], dtype=float)
        color = f"C{i}"
        ax_sv.semilogy(np.arange(1, len(sv) + 1), np.maximum(sv, 1e-12), "o-", color=color, ms=3, label=name)
        ax_sv.axhline(s["tol_line"], color=color, ls="--", lw=1, label=f"{name}: tol {s['tol']:g} x largest")
    K = max(s["n_classes"] for s in sections.values())
    ax_sv.axvline(K - 1, color="gray", ls=":", lw=1, label="K - 1")
    ax_sv.set(xlabel="index", ylabel="singular value", title="centred class codes")
    ax_sv.xaxis.get_major_locator().set_params(integer=True)
    ax_sv.legend(fontsize=7)

    names = sorted({k for s in sections.values() for k in s["accuracies"]})
    width = 0.8 / max(1, len(sections))
    for i, (name, s) in enumerate(sections.items()):
        if not s["accuracies"]:
            continue
        xs = [j + i * width for j, k in enumerate(names) if k in s["accuracies"]]
        ys = [s["accuracies"][k] for k in names if k in s["accuracies"]]
        bars = ax_acc.bar(xs, ys, width=width, color=f"C{i}", label=name)
        ax_acc.bar_label(bars, fmt="%.2f", fontsize=7)
    ax_acc.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, rotation=15, fontsize=8)
    ax_acc.set(ylim=(0, 1.05), ylabel="accuracy", title="probe accuracies")
    if names:
        ax_acc.legend(fontsize=7)
    fig.suptitle(report["title"])
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    os.replace(tmp, path)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)
