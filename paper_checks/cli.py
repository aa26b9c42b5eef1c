"""`ssltheory paper-check`: run the paper's claims as executable checks.

    ssltheory paper-check --scale quick|cpu|gpu [CLAIM ...] [--json] [--out DIR]
                          [--seed N] [--data-dir PATH] [--device cpu|cuda] [--list] [--render-only]

CLAIM is an id or an id prefix (``T7`` selects T7.1 and T7.2a-d, ``E5`` selects E5 and E5.mnist,
``P`` selects P2 and P3); none means every claim. Prints
a table (id, statement, provenance, paper value, measured, verdict), or with ``--json`` a list of
objects. ``--out DIR`` also writes DIR/paper_checks.json and DIR/RESULTS.md. A ``cpu``-scale run
merges its results into paper_checks/results_cpu.json and rewrites paper_checks/RESULTS.md and
paper_checks/empirical_cpu.png; ``--render-only`` rewrites those two from the stored results.

Verdicts: pass, inconclusive, fail, refuted, pending-gpu, error (paper_checks/registry.py); the
table ends with the count of each. ``--render-only`` also re-judges the stored empirical results by
the current rule (docs/THEORY.md section 3) without training anything.

Exit status: 0 when no claim fails (pass, inconclusive, refuted or pending-gpu: a refuted [derived]
statement is a result, reported with its counterexample), 1 when a check fails or cannot run
(verdict ``fail`` or ``error``), 2 for bad input (unknown claim id, bad scale, missing directory).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssltheory.paper_checks.registry import SCALES, CheckContext, all_claims, run_claim, select


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("claims", nargs="*", metavar="CLAIM",
                        help="claim ids or prefixes (T1.1, T7, E3, T, E, theory, empirical); default: all")
    parser.add_argument("--scale", choices=SCALES, default="quick",
                        help="quick: seconds (CI); cpu: minutes on two cores, writes paper_checks/RESULTS.md; "
                             "gpu: the paper's configurations (needs CUDA and --data-dir)")
    parser.add_argument("--json", action="store_true", help="print a JSON list of result objects")
    parser.add_argument("--out", type=Path, default=None, help="also write paper_checks.json and RESULTS.md here")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every check (default 0)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="dataset root for the empirical checks (MNIST idx files at cpu scale; "
                             "tinyimagenet/ and cifar10/ under it at gpu scale)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="cpu makes the gpu-scale training checks report pending-gpu; default: CUDA when available")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument("--render-only", action="store_true",
                        help="run nothing: re-judge the stored cpu results and redraw paper_checks/RESULTS.md "
                             "and its figure from results_cpu.json")


def run(args: argparse.Namespace) -> int:
    claims = select(args.claims)  # ValueError (exit 2) on an unknown id
    if args.list:
        for c in claims:
            print(f"{c.id:8s} [{c.provenance}] [{c.group}] {c.statement}")
        return 0
    if args.render_only:
        from ssltheory.paper_checks import report

        store = report.RESULTS_JSON
        if not store.exists():
            raise ValueError(f"--render-only: no stored cpu results ({store.name}); run --scale cpu first")
        try:
            json.loads(store.read_text(encoding="utf-8"))["results"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"--render-only: {store.name} is damaged ({err}); nothing rewritten") from None
        entries = report.record_cpu_run([], {}, [c.id for c in all_claims()], store, report.RESULTS_MD,
                                        report.RESULTS_LOCK, report.EMPIRICAL_PNG, report.EMPIRICAL_CSV)
        print(f"[paper-check] rendered {len(entries)} stored results into {report.RESULTS_MD}", file=sys.stderr)
        return 0
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise ValueError(f"--data-dir {args.data_dir} is not a directory")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a directory")
    ctx = CheckContext(scale=args.scale, seed=args.seed, data_dir=args.data_dir, device=args.device,
                       work_dir=(args.out / "runs") if args.out is not None else None)
    results = []
    for claim in claims:
        print(f"[paper-check] {claim.id} ({args.scale}) ...", file=sys.stderr, flush=True)
        result = run_claim(claim, ctx)
        print(f"[paper-check] {claim.id}: {result.verdict} ({result.seconds:.1f} s) {result.measured}",
              file=sys.stderr, flush=True)
        results.append(result)

    from ssltheory.paper_checks import report

    info = report.run_info(_command_words(args), args.seed, args.scale)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    else:
        print(report.format_table(results))
    if args.out is not None:
        report.write_json(args.out / "paper_checks.json", results, info)
        report._atomic_write(args.out / "RESULTS.md", report.render_results_md([{**r.to_dict(), "run": info} for r in results]))
    if args.scale == "cpu":
        order = [c.id for c in all_claims()]
        report.record_cpu_run(results, info, order, report.RESULTS_JSON, report.RESULTS_MD, report.RESULTS_LOCK,
                              report.EMPIRICAL_PNG, report.EMPIRICAL_CSV)
        print(f"[paper-check] wrote {report.RESULTS_MD}", file=sys.stderr)
    return 1 if any(r.verdict in ("fail", "error") for r in results) else 0


def _command_words(args: argparse.Namespace) -> list[str]:
    """The options that define the run, for the record in RESULTS.md (no machine paths)."""
    words = [f"--scale {args.scale}"] + list(args.claims)
    if args.seed:
        words.append(f"--seed {args.seed}")
    if args.data_dir is not None:
        words.append("--data-dir DATA")
    if args.device is not None:
        words.append(f"--device {args.device}")
    return words
