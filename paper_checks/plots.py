"""The figure of the empirical claims at ``cpu`` scale: every compared difference of E1-E9 as a
panel of two arms, their per-seed values and means, the tolerance and the verdict (title colour:
green pass, orange inconclusive, red fail).

Drawn from the stored entries (``paper_checks/results_cpu.json``) by ``record_cpu_run``, so it
always shows the numbers of RESULTS.md: ``paper_checks/empirical_cpu.png`` with the CSV it was
drawn from, ``paper_checks/empirical_cpu.csv`` (claim, panel, arm, seed, value).
"""

from __future__ import annotations

from pathlib import Path

from ssltheory.files import save_figure
from ssltheory.paper_checks.empirical import comparisons
from ssltheory.plotting import pyplot, write_csv


def _pair(title: str, a: str, b: str, cmp: dict, unit: str = "accuracy") -> dict:
    return {
        "title": title,
        "a": a,
        "b": b,
        "values_a": list(cmp["values_a"]),
        "values_b": list(cmp["values_b"]),
        "diff": float(cmp["diff"]),
        "tolerance": float(cmp["tolerance"]),
        "unit": unit,
    }


def comparison_panels(entry: dict) -> list[dict]:
    """The compared differences of one stored empirical result, each as {"title", "a", "b",
    "values_a", "values_b", "diff", "tolerance", "unit"} (the claim says a > b). Empty for a claim
    without comparisons (theory claims, pending-gpu, error)."""
    ev, cid = entry.get("evidence") or {}, entry["id"]
    if entry.get("verdict") not in ("pass", "fail", "inconclusive") or not comparisons(ev):
        return []
    if cid in ("E1", "E2"):
        a, b = ("CISSL", "SimCLR") if cid == "E1" else ("DISSL", str(ev.get("best_baseline", "dino")).upper())
        return [_pair(f"{cid}: linear probe, z={ev.get('z_dim')}", a, b, ev)]
    if cid == "E3":
        small, large = ev["dims"]
        return [_pair("E3: linear head + linear probe", f"z={large}", f"z={small}", ev)]
    if cid == "E4":
        small, large = ev["dims"]
        return [_pair(f"E4: gain z={small}->{large}", "linear head/probe", "MLP head/probe", ev, "accuracy gain")]
    if cid.startswith("E5"):
        weak, strong = ev["strengths"]
        return [
            _pair(f"{cid} ({ev.get('data')}): {100 * float(f):g}% of the labels", f"s={strong}", f"s={weak}", cmp)
            for f, cmp in ev["label_fractions"].items()
        ]
    if cid == "E6":
        small, large = ev["dims"]
        return [
            _pair(
                f"E6: accuracy lost at d={small} (vs d={large})",
                "linear head/probe",
                "MLP head/probe",
                ev,
                "accuracy lost",
            )
        ]
    if cid == "E7":
        return [
            _pair("E7: linear probe, d >= K-1", "linear head", "MLP head", ev["linear_probe"]),
            _pair("E7: MLP probe, d < K-1", "MLP head", "linear head", ev["mlp_probe"]),
        ]
    if cid in ("E8", "E9"):
        before, after = ev["rows"]
        return [_pair(f"{cid}: {m.upper()}", after, before, cmp) for m, cmp in ev["methods"].items()]
    return []


#: Title colour of a panel by its claim's verdict.
VERDICT_COLOURS = {"pass": "tab:green", "inconclusive": "tab:orange", "fail": "tab:red"}


def plot_empirical(entries: list[dict], png_path: Path, csv_path: Path) -> list[Path]:
    """Draw every panel of ``entries`` (one column per panel, wrapped at 4) and write its CSV.
    Returns the written paths, or [] when no entry has a comparison."""
    panels = [(e, p) for e in entries for p in comparison_panels(e)]
    if not panels:
        return []
    rows = [
        {"claim": e["id"], "verdict": e["verdict"], "panel": p["title"], "arm": arm, "seed": i, "value": float(v)}
        for e, p in panels
        for arm, values in ((p["a"], p["values_a"]), (p["b"], p["values_b"]))
        for i, v in enumerate(values)
    ]
    write_csv(csv_path, rows)
    plt = pyplot()
    n_cols = min(4, len(panels))
    n_rows = -(-len(panels) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.3 * n_cols, 2.9 * n_rows), squeeze=False)
    for ax, (entry, p) in zip(axes.flat, panels):
        for x, (values, colour) in enumerate(((p["values_a"], "tab:blue"), (p["values_b"], "tab:grey"))):
            mean = sum(values) / len(values)
            ax.hlines(mean, x - 0.25, x + 0.25, color=colour, lw=2)
            ax.scatter([x] * len(values), values, color=colour, s=14, zorder=3)
        lo = min(p["values_a"] + p["values_b"])
        hi = max(p["values_a"] + p["values_b"])
        pad = max(0.02, 0.25 * (hi - lo))
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlim(-0.6, 1.6)
        if p["unit"] != "accuracy":
            ax.axhline(0.0, color="black", lw=0.5)
        ax.set_xticks([0, 1], [p["a"], p["b"]], fontsize=7)
        ax.set_ylabel(p["unit"], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        colour = VERDICT_COLOURS[entry["verdict"]]
        ax.set_title(
            f"{p['title']}\n{entry['verdict']}: diff {100 * p['diff']:+.1f} pt, tol {100 * p['tolerance']:.1f}",
            fontsize=7,
            color=colour,
        )
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle("Empirical claims at cpu scale (lines: means; dots: seeds)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, png_path)
    plt.close(fig)
    return [png_path, csv_path]
