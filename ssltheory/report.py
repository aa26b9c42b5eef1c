"""The ideal-ness report, for the demo and for ``ssltheory score``: verdict, certificate, scores.

Learned codes are judged on *views* (THEORY.md section 2 [derived]): augmented views grouped into
the augmentation's equivalence classes (each source image its own class, or the label when the
augmentation is "another image with the same label"), drawn by one reference augmentation that
is named in the report (`ssltheory.ssl.views`). A section holds:

- the exact verdict of :func:`ssltheory.is_ideal` on the views at a stated tolerance (relative to
  the largest singular value of the centred class codes): which condition fails (invariance,
  distinct codes, affine independence, dimension) and its certificate (e.g. the two views of one
  image whose codes differ most, or an invariant task no linear probe realizes);
- the scores of `ssltheory.metrics.score_all` (`Scores`): the headline ``ideal_score`` and its
  components (invariance ratio, affine rank and conditioning, dimension deficit, held-out
  predictability of M, the worst invariant task found), and the baselines;
- probe accuracies measured by the caller (e.g. a linear probe of the labels), reported as given.

Writers: `write_report` (several sections: ``report.json``, ``report.md``, ``report.png``; the demo)
and `write_score_report` (one representation, with per-class and worst-task figures;
``ssltheory score --report``). Every number in a figure or the Markdown is read from what was
written.

Example::

    section = score_representation(Z, classes, tol=1e-2, augmentation={"kind": "simclr", "strength": 1.0},
                                   accuracies={"linear probe": 0.93})
    write_report("demo_out", {"dissl": section}, title="Demo")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from ssltheory.conditions import is_ideal
from ssltheory.equivalence import as_classes
from ssltheory.errors import InputError
from ssltheory.files import atomic_write_text, jsonable, save_figure, write_json
from ssltheory.metrics import SCORES, Scores, invariance_ratio, score_all, split_views


def score_representation(
    features,
    classes,
    *,
    probe: str = "linear",
    tol: float | None = None,
    augmentation: Mapping | None = None,
    accuracies: Mapping[str, float] | None = None,
    extra: Mapping | None = None,
    random_state=0,
) -> dict:
    """Verdict and scores of one representation on its views; a JSON-ready report section.

    One `ssltheory.metrics.score_all` (which runs the linear verdict once), then `score_section`.

    Args:
        features: (n, d) codes, one row per view (numpy, or a torch tensor on any device).
        classes: (n,) class of each view (the maximal invariant M of the reference augmentation:
            the source image, or the label), at least two classes, at least 2 views each.
        probe: ``"linear"`` or ``"universal"``, the probe family of the verdict.
        tol: relative tolerance of the verdict and the scores, in [0, 1), or None for the one
            rule (`ssltheory.view_statistics.tolerance_rule`: max(K, d) x eps of the dtype as given).
        augmentation: name of the augmentation that drew the views (e.g. ``{"kind": "simclr",
            "strength": 1.0}``), carried into the output.
        accuracies: name -> accuracy in [0, 1], measured by the caller, reported as given.
        extra: JSON-ready facts to carry along.
        random_state: seed of the held-out split of the scores.

    Returns:
        `score_section`'s dict.
    """
    if probe not in ("linear", "universal"):
        raise InputError(f"probe must be 'linear' or 'universal', got {probe!r}")
    _check_accuracies(accuracies)
    scores = score_all(features, classes, tol=tol, augmentation=augmentation, random_state=random_state)
    return score_section(scores, features=features, classes=classes, probe=probe, accuracies=accuracies, extra=extra)


def _check_accuracies(accuracies) -> None:
    for name, value in dict(accuracies or {}).items():
        if not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise InputError(f"accuracies[{name!r}] must be a number in [0, 1], got {value!r}")


def score_section(
    scores: Scores,
    *,
    features=None,
    classes=None,
    probe: str = "linear",
    accuracies: Mapping[str, float] | None = None,
    extra: Mapping | None = None,
) -> dict:
    """The report section of scores already computed (`score_all`): no score is recomputed.

    The verdict is the one `score_all` ran (linear probes, at ``scores.tol``); for ``probe=
    "universal"`` `is_ideal` runs once more on ``features`` / ``classes`` at the same tolerance.

    Returns:
        ``{"n_points", "n_classes", "dim", "probe", "tol", "tol_rule", "augmentation", "verdict",
        "failing", "ideal_score", "scores", "singular_values", "tol_line", "accuracies",
        "extra"}``: ``verdict`` is the `IdealVerdict`'s ``to_dict()`` (with ``ideal``,
        ``n_points``, ``n_classes``, ``mode``, its conditions and certificate), ``failing`` the
        names of the failing conditions, ``scores`` the `Scores` dict.
    """
    _check_accuracies(accuracies)
    accuracies = dict(accuracies or {})
    if probe == "linear":
        verdict = scores.verdict
    else:
        from ssltheory.view_statistics import to_numpy

        verdict = is_ideal(to_numpy(features), classes, probe=probe, tol=scores.tol)
    singular = np.asarray(scores.affine_singular_values, dtype=float)
    return {
        "n_points": scores.n_points,
        "n_classes": scores.n_classes,
        "dim": scores.dim,
        "probe": probe,
        "tol": float(scores.tol),
        "tol_rule": scores.tol_rule,
        "augmentation": None if scores.augmentation is None else dict(scores.augmentation),
        "verdict": jsonable(verdict.to_dict(), nonfinite="string"),
        "failing": [name for name, c in verdict.conditions.items() if not c.ok],
        "ideal_score": scores.ideal_score,
        "scores": jsonable(scores.to_dict(), nonfinite="string"),
        "singular_values": singular.tolist(),
        "tol_line": scores.tol * float(singular[0]) if singular.size else 0.0,
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
        raise InputError("sections is empty; give at least one scored representation")
    for name, section in sections.items():
        missing = {"singular_values", "tol_line", "verdict", "scores", "accuracies", "n_classes"} - set(section)
        if missing:
            raise InputError(
                f"sections[{name!r}] lacks {', '.join(sorted(missing))}; build it with score_representation"
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "title": title,
        "notes": notes,
        "sections": {k: jsonable(v, nonfinite="string") for k, v in sections.items()},
    }
    paths = {"json": out / "report.json", "md": out / "report.md", "png": out / "report.png"}
    write_json(paths["json"], report)
    written = json.loads(paths["json"].read_text())  # draw and tabulate from what was written
    atomic_write_text(paths["md"], _markdown(written, paths["png"].name))
    _figure(written, paths["png"])
    return paths


# ----------------------------------------------------------------------------------------------
# text


def _fmt(value) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        return value
    return f"{float(value):.4g}"


def scores_table(scores: Mapping) -> list[str]:
    """Markdown rows of the registered scores (`metrics.SCORES`) and the headline's components."""
    rows = [
        ("ideal_score", scores["ideal_score"], SCORES["ideal_score"].meaning),
        ("ideal (verdict on the views)", bool(scores["ideal"]), "failing: " + (", ".join(scores["failing"]) or "none")),
        ("affine_rank", scores["affine_rank"], f"of K - 1 = {scores['n_classes'] - 1}, at tol {scores['tol']}"),
        ("dimension_deficit", scores["dimension_deficit"], "max(0, K - 1 - d)"),
        ("cover_fraction", scores["cover_fraction"], "Cover's bound on separable dichotomies at d"),
    ]
    rows += [(name, scores[name], info.meaning) for name, info in SCORES.items() if name != "ideal_score"]
    return [
        "| score | value | meaning |",
        "|---|---|---|",
        *[f"| {name} | {_fmt(value)} | {meaning} |" for name, value, meaning in rows],
    ]


def verdict_lines(section: Mapping) -> list[str]:
    """Markdown lines: the verdict on the views, each condition, and the certificate when not ideal."""
    verdict = section["verdict"]
    aug = section.get("augmentation")
    on = f"{section['n_points']} views of {section['n_classes']} classes" + (
        f" drawn by the reference augmentation {aug.get('kind')} (s = {aug.get('strength')})" if aug else ""
    )
    decided = (
        "exact rational arithmetic"
        if verdict.get("mode") == "exact"
        else f"tolerance {section['tol']:.3g} x s_1 ({section.get('tol_rule', 'given')})"
    )
    lines = [
        f"Verdict on {on}, d = {section['dim']}, {section['probe']} probes, decided by {decided}: "
        f"**{'ideal' if verdict['ideal'] else 'not ideal'}**"
        + (f" (failing: {', '.join(section['failing'])})" if section.get("failing") else "")
        + ".",
        "",
    ]
    for cond, entry in verdict.get("conditions", {}).items():
        lines.append(f"- {cond}: {'ok' if entry.get('ok') else 'FAILS'} - {entry.get('detail', '')}")
    cert = verdict.get("certificate")
    if cert:
        witness = cert.get("witness") or {}
        lines += ["", f"Certificate ({witness.get('kind', 'certificate')}):"]
        if witness.get("kind") == "not-invariant":
            lines.append(
                f"views {witness.get('pair')} are views of one class ({witness.get('class')}) whose codes "
                f"differ by {_fmt(witness.get('distance'))} > tolerance {_fmt(witness.get('tolerance'))}."
            )
        if cert.get("task") is not None:
            lines.append(
                f"the invariant task `{cert.get('task')}` (one label per class) is realized by no "
                f"{section['probe']} probe."
            )
        lines.append(f"witness: `{json.dumps(witness)[:400]}`")
    return lines


def _markdown(report: dict, figure_name: str) -> str:
    lines = [f"# {report['title']}", ""]
    if report["notes"]:
        lines += [report["notes"], ""]
    lines += [
        "| representation | views | K | d | ideal (on views) | "
        "failing | ideal_score | invariance ratio | affine rank |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report["sections"].items():
        sc = s["scores"]
        lines.append(
            f"| {name} | {s['n_points']} | {s['n_classes']} | {s['dim']} "
            f"| {'yes' if s['verdict']['ideal'] else 'no'} | "
            f"{', '.join(s['failing']) or '-'} | {sc['ideal_score']:.3f} | {sc['invariance_ratio']:.3g} | "
            f"{sc['affine_rank']} / {s['n_classes'] - 1} |"
        )
    names = sorted({k for s in report["sections"].values() for k in s["accuracies"]})
    if names:
        lines += ["", "| representation | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for name, s in report["sections"].items():
            cells = [f"{s['accuracies'][k]:.3f}" if k in s["accuracies"] else "" for k in names]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, s in report["sections"].items():
        lines += ["", f"## {name}", "", *verdict_lines(s), "", *scores_table(s["scores"])]
        for key, value in s.get("extra", {}).items():
            lines.append(f"- {key}: {json.dumps(value)}")
        lines += [f"- note: {note}" for note in s["scores"].get("notes", [])]
        lines += [f"- note: {note}" for note in _chance_notes(s)]
    lines += ["", f"![singular values and probe accuracies]({figure_name})", ""]
    return "\n".join(lines)


def _chance(name: str, n_labels: int | None) -> float:
    """Chance accuracy of an accuracy named ``name``: 1/2 for a binary task, else 1 / n_labels."""
    return 0.5 if "binary" in name or "task" in name else (1.0 / n_labels if n_labels else 0.0)


def _chance_notes(section: Mapping) -> list[str]:
    n_labels = section.get("extra", {}).get("n_labels")
    out = []
    for name, value in section["accuracies"].items():
        chance = _chance(name, n_labels)
        if value < chance:
            out.append(
                f"{name} {value:.3f} is below chance ({chance:.3f}): the probe fitted on the training "
                "points does worse than a constant on the held-out points, i.e. the codes do not "
                "carry this task from one set of points to the other."
            )
    return out


# ----------------------------------------------------------------------------------------------
# figures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def spectrum_axes(ax, series, K: int) -> None:
    """Singular values on a log axis scaled to the data: values below the lowest tolerance line
    are drawn at a floor just under it (hollow markers), so the axis spans the data and the line.

    ``series``: list of (label, singular values, tol_line, colour).
    """
    lines = [t for _, _, t, _ in series if t and t > 0]
    tops = [float(np.max(s)) for _, s, _, _ in series if len(s) and np.max(s) > 0]
    floor = (min(lines) / 3.0) if lines else (min(tops) * 1e-3 if tops else 1e-3)
    for label, s, tol_line, color in series:
        s = np.asarray(s, dtype=float)
        if not s.size:
            continue
        x = np.arange(1, s.size + 1)
        above = s > floor
        ax.semilogy(x, np.maximum(s, floor), "-", color=color, lw=1, label=label)
        ax.semilogy(x[above], s[above], "o", color=color, ms=3)
        if (~above).any():
            ax.semilogy(x[~above], np.full((~above).sum(), floor), "o", mfc="none", color=color, ms=3)
        if tol_line and tol_line > 0:
            ax.axhline(tol_line, color=color, ls="--", lw=1)
    ax.axvline(K - 1, color="gray", ls=":", lw=1, label=f"K - 1 = {K - 1}")
    ax.set_ylim(floor / 1.5, (max(tops) * 2.0) if tops else 1.0)
    ax.set(
        xlabel="index",
        ylabel="singular value",
        title="centred class codes (dashed: tol x largest; hollow: below the floor)",
    )
    ax.title.set_fontsize(9)
    ax.xaxis.get_major_locator().set_params(integer=True)


def _figure(report: dict, path: Path) -> None:
    plt = _plt()
    sections = report["sections"]
    fig, (ax_sv, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.4))
    spectrum_axes(
        ax_sv,
        [(name, s["singular_values"], s["tol_line"], f"C{i}") for i, (name, s) in enumerate(sections.items())],
        max(s["n_classes"] for s in sections.values()),
    )
    ax_sv.legend(fontsize=7, loc="lower left")

    names = sorted({k for s in sections.values() for k in s["accuracies"]}) + ["ideal_score"]
    width = 0.8 / max(1, len(sections))
    for i, (name, s) in enumerate(sections.items()):
        values = {**s["accuracies"], "ideal_score": s["scores"]["ideal_score"]}
        xs = [j + i * width for j, k in enumerate(names) if k in values]
        ys = [values[k] for k in names if k in values]
        bars = ax_acc.bar(xs, ys, width=width, color=f"C{i}", label=name)
        ax_acc.bar_label(bars, fmt="%.2f", fontsize=7)
    n_labels = next(iter(sections.values())).get("extra", {}).get("n_labels")
    for j, k in enumerate(names):
        if k == "ideal_score":
            continue
        chance = _chance(k, n_labels)
        x0, x1 = j - width / 2, j - width / 2 + 0.8
        ax_acc.hlines(chance, x0, x1, colors="k", linestyles=":", lw=1)
        ax_acc.text(x1, chance, " chance", fontsize=6, va="bottom", ha="right")
    ax_acc.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, rotation=12, fontsize=8)
    ax_acc.set(
        ylim=(min(0.0, *[s["scores"]["ideal_score"] for s in sections.values()]), 1.12),
        ylabel="accuracy / score",
        title="probe accuracies and ideal_score (dotted: chance)",
    )
    ax_acc.title.set_fontsize(9)
    # the legend goes below the axes, where it covers no bar label
    ax_acc.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(sections), frameon=False)
    fig.suptitle(report["title"])
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# the report of one scored representation (``ssltheory score --report``)


def write_score_report(
    out_dir,
    Z,
    classes,
    scores: Scores,
    *,
    source: Mapping | None = None,
    verdict: Mapping | None = None,
    images=None,
    image_classes: str | None = None,
    seed: int = 0,
) -> Path:
    """Write ``out_dir/report.md`` with ``spectrum.png``, ``invariance.png`` and ``worst_task.png``.

    Args:
        out_dir: directory (created).
        Z: (n, d) codes scored; classes: (n,) class ids (as given to `score_all`).
        scores: the `Scores` of ``Z``.
        source: what was scored and how the views were made (JSON-ready), shown at the top.
        verdict: a section from `score_representation` (its verdict and certificate are shown), or None.
        images: uint8 (N, C, H, W) source images when the views came from images (view-major
            rows, `ssltheory.ssl.views.sample_views`), else None.
        image_classes: "images" (class m is image m) or "labels", with ``images``.
        seed: the ``random_state`` given to `score_all` (to redraw its training / held-out split).

    Returns the path of report.md.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--report {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    eq = as_classes(np.asarray(classes), len(Z))
    Z = np.asarray(Z, dtype=np.float64)
    K = eq.n_classes
    data = scores.to_dict()
    task = np.asarray(scores.worst_task)
    s = np.asarray(scores.affine_singular_values)
    tol_line = (scores.tol or 0.0) * (float(s[0]) if s.size else 0.0)

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    spectrum_axes(ax, [("class codes", s, tol_line, "C0")], K)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save_figure(fig, out / "spectrum.png", dpi=110)
    plt.close(fig)
    _invariance_figure(
        out / "invariance.png", invariance_ratio(Z, eq, stats=scores.statistics).per_class, scores.invariance_ratio
    )
    mask = split_views(eq, random_state=np.random.default_rng(seed))  # the split score_all drew
    _worst_task_figure(out / "worst_task.png", Z, eq, task, mask, scores, images, image_classes)

    group1 = np.flatnonzero(task == 1)
    text = [
        "# Score report",
        "",
        f"Source: {json.dumps(jsonable(dict(source or {})))}",
        "",
        scores.format().replace("\n", "  \n"),
        "",
    ]
    if verdict is not None:
        text += [*verdict_lines(verdict), ""]
    text += [
        *scores_table(data),
        "",
        "## Spectrum of the class codes",
        "",
        "![spectrum](spectrum.png)",
        "",
        f"Singular values of the centred class-code matrix; the line is tol x s_1 = {scores.tol} x "
        f"{_fmt(float(s[0]) if s.size else 0.0)}. Affine independence (THEORY.md T1.2) needs K - 1 = {K - 1} "
        f"of them above it; {scores.affine_rank} are.",
        "",
        "## Invariance per class",
        "",
        "![invariance](invariance.png)",
        "",
        "## Worst invariant task found",
        "",
        "![worst task](worst_task.png)",
        "",
        f"Group 1 = classes {group1[:20].tolist()}{' ...' if group1.size > 20 else ''} ({group1.size} of {K}); "
        f"held-out accuracy of the linear probe {_fmt(scores.worst_task_accuracy)}"
        + (
            " (below chance 0.5: the probe fitted on the training views does worse than a constant on the "
            "held-out views)"
            if scores.worst_task_accuracy < 0.5
            else ""
        )
        + ".",
        "",
    ]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(text))
    return path


def _invariance_figure(path: Path, per_class: np.ndarray, overall: float) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    order = np.argsort(per_class)[::-1]
    ax.bar(np.arange(per_class.size), per_class[order], width=1.0, color="C0")
    ax.axhline(overall, color="C3", ls="--", label=f"overall {overall:.3f}")
    ax.set_xlabel("class (sorted)")
    ax.set_ylabel("within / total mean square")
    ax.set_title("invariance ratio per class (0 = invariant)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _probe_direction(Z: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge direction w (d,) regressing y in {-1, +1} on centred Z (relative penalty ridge * s_1^2)."""
    X = Z - Z.mean(axis=0)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    lam = ridge * (s[0] ** 2 if s.size else 0.0)
    return Vt.T @ ((s / (s**2 + lam + 1e-300)) * (U.T @ (y - y.mean())))


def _worst_task_figure(path: Path, Z, eq, task, mask, scores: Scores, images, image_classes) -> None:
    plt = _plt()
    y = np.where(task[eq.labels] == 1, 1.0, -1.0)
    w = _probe_direction(Z[mask], y[mask], scores.ridge)
    proj = (Z - Z[mask].mean(axis=0)) @ w
    show_images = images is not None and image_classes == "images"
    fig = plt.figure(figsize=(9 if show_images else 5.5, 3.8))
    ax = fig.add_subplot(1, 2 if show_images else 1, 1)
    held = ~mask
    bins = np.histogram_bin_edges(proj[held], bins=30)
    ax.hist(proj[held & (y > 0)], bins=bins, alpha=0.6, label="group 1 (held-out views)")
    ax.hist(proj[held & (y < 0)], bins=bins, alpha=0.6, label="group 0 (held-out views)")
    ax.set_xlabel("projection on the probe direction")
    below = " (below chance 0.5)" if scores.worst_task_accuracy < 0.5 else ""
    ax.set_title(f"worst task: accuracy {scores.worst_task_accuracy:.3f}{below}", fontsize=9)
    ax.legend(fontsize=7)
    if show_images:
        _example_images(fig, images, task)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _example_images(fig, images, task, per_group: int = 6) -> None:
    """Up to ``per_group`` source images of each group, in two rows, on the right half of ``fig``."""
    pictures = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    for row, group in enumerate((1, 0)):
        members = np.flatnonzero(task == group)[:per_group]
        for j, m in enumerate(members):
            ax = fig.add_subplot(2, 2 * per_group, row * 2 * per_group + per_group + j + 1)
            picture = pictures[m].transpose(1, 2, 0)
            ax.imshow(
                picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray" if picture.shape[-1] == 1 else None
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"group {group}", fontsize=8)
