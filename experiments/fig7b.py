"""Fig. 7b analogue: held-out ISSL log-loss against linear-probe accuracy over a random CISSL sweep.

The paper's Fig. 7b [paper] plots, for about 80 CISSL models of a random hyperparameter sweep, the
ISSL log-loss (how well a linear head predicts the maximal invariant M from Z) against
linear-probe accuracy, and finds that a lower log-loss goes with a higher accuracy. Here: the CISSL
runs of the score-validation sweep (`ssltheory.experiments.score_validation`, a random design over z_dim,
batch size, steps and augmentation strength, on the patch task and MNIST), each scored on the
views of the one reference augmentation (each validation image its own class, so M is the source
image): x = `ssltheory.metrics.heldout_log_loss` (a linear softmax head fitted on training views,
log-loss on held-out views, nats; log K is chance), y = the run's linear-probe test accuracy.
Spearman and Pearson correlations over all CISSL runs and within each dataset.

Writes ``<out>/fig7b.csv`` (one row per CISSL run) and ``fig7b.png``. The runs are shared with
score-validation (the same cache under ``<out>``), so running both into one folder trains each run once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssltheory.errors import InputError
from ssltheory.experiments import score_validation
from ssltheory.files import save_figure
from ssltheory.metrics import heldout_log_loss, split_views
from ssltheory.plotting import pyplot, read_csv, write_csv

DESCRIPTION = (
    "Fig. 7b analogue: held-out ISSL log-loss (linear head "
    "predicting M) against linear-probe accuracy, random CISSL sweep"
)


def rows_from(measurements: list[dict]) -> list[dict]:
    """One row per CISSL run: factors, accuracy, held-out ISSL log-loss and chance (log K)."""
    rows = []
    for m in measurements:
        r = m["row"]
        if r["method"] != "cissl":
            continue
        classes = m["classes"]
        mask = split_views(classes, random_state=r["seed"])
        rows.append(
            {
                **{k: r[k] for k in ("data", "z_dim", "steps", "aug_strength", "batch_size", "seed")},
                "linear_accuracy": r["linear_accuracy"],
                "issl_log_loss": heldout_log_loss(m["codes"], classes, mask),
                "chance_log_loss": float(np.log(len(np.unique(classes)))),
            }
        )
    return rows


def correlations(rows: list[dict]) -> dict:
    """{"all" | "data=X": (n, spearman, pearson)} of log-loss against accuracy."""
    out = {}
    data = np.array([r["data"] for r in rows])
    groups = {"all": np.ones(len(rows), bool), **{f"data={d}": data == d for d in dict.fromkeys(data.tolist())}}
    x = np.array([float(r["issl_log_loss"]) for r in rows])
    y = np.array([float(r["linear_accuracy"]) for r in rows])
    for name, sel in groups.items():
        pearson = float(np.corrcoef(x[sel], y[sel])[0, 1]) if sel.sum() > 2 else float("nan")
        out[name] = (int(sel.sum()), score_validation.spearman(x[sel], y[sel]), pearson)
    return out


def run(scale: str, out_dir, seed: int = 0) -> list[Path]:
    """Measure (or read back) the sweep's runs; write fig7b.csv and fig7b.png into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = rows_from(score_validation.collect(out, scale, seed))
    if len(rows) < 3:
        raise InputError(f"the {scale} sweep has {len(rows)} CISSL runs; Fig. 7b needs at least 3")
    csv_path, png_path = out / "fig7b.csv", out / "fig7b.png"
    write_csv(csv_path, rows)
    rows = [{k: (v if k == "data" else float(v)) for k, v in r.items()} for r in read_csv(csv_path)]
    corr = correlations(rows)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for i, d in enumerate(dict.fromkeys(r["data"] for r in rows)):
        sel = [r for r in rows if r["data"] == d]
        n, rho, pearson = corr[f"data={d}"]
        ax.scatter(
            [r["issl_log_loss"] for r in sel],
            [r["linear_accuracy"] for r in sel],
            s=18,
            c=f"C{i}",
            label=f"{d}: n={n}, Spearman {rho:+.2f}, Pearson {pearson:+.2f}",
        )
    n, rho, pearson = corr["all"]
    chance = rows[0]["chance_log_loss"]
    ax.axvline(chance, color="0.5", ls=":", lw=1)
    ax.text(chance, ax.get_ylim()[0], " chance (log K)", fontsize=7, rotation=90, va="bottom", ha="right")
    ax.set_xlabel("held-out ISSL log-loss: linear head predicting M (source image), nats")
    ax.set_ylabel("linear-probe accuracy (test)")
    ax.set_title(f"Fig. 7b analogue: {n} CISSL runs, Spearman {rho:+.2f}, Pearson {pearson:+.2f}", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    save_figure(fig, png_path)
    plt.close(fig)
    return [csv_path, png_path]


PARTS = {"fig7b": run}
