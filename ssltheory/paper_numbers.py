"""The paper's reported numbers, as transcribed: one place for every "paper" column.

THE PAPER'S NUMBERS, NOT OURS. Dubois et al. (NeurIPS 2022), Tables 1-5 and Figs 7a/7c, as
transcribed from the paper by a third party (the body was not read whole; Figs 7a/7c are read off
the figures, approximately), and the authors' README's single-seed reproduction of Table 1, which
differs from Table 1 itself. Our own measurements never come from this module: `paper_checks`
prints these beside the measured values, and `experiments/paper_analogues.py` beside its analogue.

Accuracies are linear-probe top-1 in percent unless said otherwise; ``(mean, sd)`` pairs are over
3 seeds (Table 1).
"""

from __future__ import annotations

SOURCE = "transcription of the paper (Dubois et al., NeurIPS 2022)"

#: Table 1: TinyImageNet, ResNet-18, linear probe, mean and sd over 3 seeds. Rows are cumulative.
#: The distillation baseline is the best of DINO, SwAV and SimSiam.
TABLE1 = {
    "contrastive": {
        "SimCLR": (44.9, 0.2),
        "CISSL": (45.8, 0.0),
        "+ dim": (47.6, 0.1),
        "+ epochs": (48.7, 0.1),
        "+ coarse aug": (51.0, 0.1),
    },
    "distillation": {
        "best of DINO / SwAV / SimSiam": (43.5, 0.2),
        "DISSL": (45.5, 0.1),
        "+ dim": (47.9, 0.1),
        "+ epochs": (49.2, 0.1),
        "+ coarse aug": (50.6, 0.2),
    },
}

#: The authors' README: the same rows, one seed each (a reproduction, not Table 1).
README_TABLE1 = {
    "contrastive": {"SimCLR": 45.2, "CISSL": 45.8, "+ dim": 47.6, "+ epochs": 48.7, "+ coarse aug": 51.2},
    "distillation": {"DINO": 43.3, "DISSL": 45.1, "+ dim": 48.0, "+ epochs": 49.0, "+ coarse aug": 50.7},
}

#: Table 2, MLP probing on TinyImageNet: DISSL trained for MLP probes (other rows not transcribed).
TABLE2 = {"DISSL for MLP probes, all labels": (47.5, 0.2), "DISSL for MLP probes, 10-shot (2,000 labels)": (26.1, 0.1)}

#: Table 3: ImageNet, ResNet-50, 100 epochs, batch 2560, linear probe; CISSL and DISSL with d = 8192.
TABLE3 = {"SimCLR": 65.1, "SwAV": 64.6, "Barlow Twins": 66.1, "CISSL": 67.7, "DISSL": 68.9}

#: Table 4: SwAV's multi-crop setting (2 x 160 + 4 x 96), ImageNet: (100 epochs, 400 epochs).
TABLE4 = {"SwAV": (69.5, 73.5), "DISSL": (70.7, 74.0)}

#: Table 5: transfer with linear probes from ImageNet: (SwAV, DISSL).
TABLE5 = {
    "Food": (75.5, 77.9),
    "CIFAR-10": (92.0, 93.6),
    "CIFAR-100": (76.2, 77.6),
    "Cars": (58.2, 62.2),
    "Aircraft": (49.1, 48.1),
    "DTD": (72.6, 73.9),
    "Pets": (86.9, 88.0),
    "Caltech": (92.0, 91.5),
    "Flowers": (94.7, 95.3),
}

#: Fig. 7a (DISSL, approximate, fractions of 1): accuracy at 200 / 1k / 10k / 100k labels per strength s.
FIG7A = {
    "labels": (200, 1_000, 10_000, 100_000),
    "fractions": (0.002, 0.01, 0.1, 1.0),
    1.0: (0.075, 0.178, 0.33, 0.44),
    0.5: (0.06, 0.138, 0.28, 0.39),
    0.25: (0.025, 0.047, 0.125, 0.20),
}

#: Fig. 7c (CISSL, 1000 epochs, approximate, fractions of 1) at z = 128 / 512 / 2048 / 8192.
FIG7C = {
    "z": (128, 512, 2048, 8192),
    "linear head + linear probe": (0.403, 0.470, 0.484, 0.488),
    "MLP head + MLP probe": (0.430, 0.477, 0.491, 0.490),
}


def pm(row: tuple[float, float]) -> str:
    """``(mean, sd)`` as ``"44.9 ± 0.2"``."""
    return f"{row[0]:.1f} ± {row[1]:.1f}"


def table1_step(family: str, before: str, after: str) -> str:
    """One step of Table 1, e.g. ``"CISSL 45.8 ± 0.0 -> + dim 47.6 ± 0.1"``."""
    rows = TABLE1[family]
    return f"{before} {pm(rows[before])} -> {after} {pm(rows[after])}"


def transfer_wins() -> tuple[int, int]:
    """(datasets where DISSL's Table 5 accuracy exceeds SwAV's, datasets)."""
    return sum(d > s for s, d in TABLE5.values()), len(TABLE5)
