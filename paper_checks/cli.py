"""`ssltheory paper-check`: run the paper's claims as executable checks.

    ssltheory paper-check --scale quick|cpu|gpu [CLAIM ...] [--json] [--out DIR]
                          [--seed N] [--data-dir PATH] [--device cpu|cuda] [--list] [--render-only]
                          [--reuse-arms METHOD[,METHOD]]

CLAIM is an id or an id prefix (``T7`` selects T7.1 and T7.2a-d, ``E5`` selects E5 and E5.mnist,
``P`` selects P2 and P3); none means every claim. Prints
a table (id, statement, provenance, paper value, measured, verdict), or with ``--json`` a list of
objects. ``--out DIR`` also writes DIR/paper_checks.json and DIR/RESULTS.md and trains under DIR/runs,
where a finished run of the same configuration (from an earlier process) is probed, not trained
again, so arms can be trained ahead in another process. A ``cpu``-scale run
merges its results into paper_checks/results_cpu.json and rewrites paper_checks/RESULTS.md and
paper_checks/empirical_cpu.png; ``--render-only`` rewrites those two from the stored results.
``--reuse-arms dino,dissl`` (cpu scale, E1/E2) takes those arms' per-seed accuracies from the
claim's stored result instead of training them again, so a new baseline joins a stored comparison.

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

from ssltheory.errors import InputError
from ssltheory.files import atomic_write_text, writable_folder
from ssltheory.paper_checks.registry import SCALES, CheckContext, all_claims, run_claim, select


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "claims",
        nargs="*",
        metavar="CLAIM",
        help="claim ids or prefixes (T1.1, T7, E3, T, E, theory, empirical); default: all",
    )
    parser.add_argument(
        "--scale",
        choices=SCALES,
        default="quick",
        help="quick: seconds (CI); cpu: minutes on two cores, writes paper_checks/RESULTS.md; "
        "gpu: the paper's configurations (needs CUDA and --data-dir)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of result objects")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write paper_checks.json and RESULTS.md here; runs go under OUT/runs, and a finished "
        "run there of the same configuration is probed, not trained again",
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed of every check (default 0)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="dataset root for the empirical checks (MNIST idx files at cpu scale; "
        "tinyimagenet/ and cifar10/ under it at gpu scale)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default=None,
        help="cpu makes the gpu-scale training checks report pending-gpu; default: CUDA when available",
    )
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument(
        "--reuse-arms",
        default=None,
        metavar="METHOD[,METHOD]",
        help="cpu scale, E1/E2: take these methods' per-seed accuracies from the claim's stored result "
        "(results_cpu.json) instead of training them again, e.g. E2 --reuse-arms dino,dissl "
        "after adding a baseline; the result names the run they came from",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing: re-judge the stored cpu results and redraw paper_checks/RESULTS.md "
        "and its figure from results_cpu.json",
    )


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
            raise InputError(f"--render-only: no stored cpu results ({store.name}); run --scale cpu first")
        try:
            json.loads(store.read_text(encoding="utf-8"))["results"]
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"--render-only: {store.name} is damaged ({err}); nothing rewritten") from None
        entries = report.record_cpu_run(
            [],
            {},
            [c.id for c in all_claims()],
            store,
            report.RESULTS_MD,
            report.RESULTS_LOCK,
            report.EMPIRICAL_PNG,
            report.EMPIRICAL_CSV,
        )
        print(f"[paper-check] rendered {len(entries)} stored results into {report.RESULTS_MD}", file=sys.stderr)
        return 0
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise InputError(f"--data-dir {args.data_dir} is not a directory")
    if args.out is not None:
        writable_folder(args.out)  # refuse an unusable --out before the checks run
    reuse, stored = _reuse_arms(args, claims)
    ctx = CheckContext(
        scale=args.scale,
        seed=args.seed,
        data_dir=args.data_dir,
        device=args.device,
        work_dir=(args.out / "runs") if args.out is not None else None,
        reuse_arms=reuse,
        stored=stored,
    )
    from ssltheory.progress import Progress  # here: tqdm stays out of --help

    results = []
    with Progress(len(claims), f"paper-check {args.scale}", unit="claim") as bar:
        for claim in claims:
            bar.write(f"[paper-check] {claim.id} ({args.scale}) ...")
            result = run_claim(claim, ctx)
            bar.write(f"[paper-check] {claim.id}: {result.verdict} ({result.seconds:.1f} s) {result.measured}")
            results.append(result)
            bar.update(1, last=claim.id)

    from ssltheory.paper_checks import report

    info = report.run_info(_command_words(args), args.seed, args.scale)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    else:
        print(report.format_table(results))
    if args.out is not None:
        report.write_json(args.out / "paper_checks.json", results, info)
        atomic_write_text(
            args.out / "RESULTS.md", report.render_results_md([{**r.to_dict(), "run": info} for r in results])
        )
    if args.scale == "cpu":
        order = [c.id for c in all_claims()]
        report.record_cpu_run(
            results,
            info,
            order,
            report.RESULTS_JSON,
            report.RESULTS_MD,
            report.RESULTS_LOCK,
            report.EMPIRICAL_PNG,
            report.EMPIRICAL_CSV,
        )
        print(f"[paper-check] wrote {report.RESULTS_MD}", file=sys.stderr)
    return 1 if any(r.verdict in ("fail", "error") for r in results) else 0


def _reuse_arms(args: argparse.Namespace, claims: list) -> tuple[tuple[str, ...], dict | None]:
    """``--reuse-arms``: the methods and the stored results they come from, checked before anything
    trains (a bad request stops with one line, and the store is left as it is)."""
    if args.reuse_arms is None:
        return (), None
    from ssltheory.paper_checks import empirical, report
    from ssltheory.ssl.methods import METHODS

    methods = tuple(m.strip() for m in args.reuse_arms.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if not methods or unknown:
        raise InputError(f"--reuse-arms takes method names ({', '.join(METHODS)}), got {args.reuse_arms!r}")
    if args.scale != "cpu":
        raise InputError(f"--reuse-arms reuses stored cpu-scale results; it needs --scale cpu, not {args.scale}")
    if not report.RESULTS_JSON.exists():
        raise InputError(f"--reuse-arms: no stored cpu results ({report.RESULTS_JSON.name}); run --scale cpu first")
    stored = {e["id"]: e for e in json.loads(report.RESULTS_JSON.read_text(encoding="utf-8"))["results"]}
    ctx = CheckContext(scale=args.scale, seed=args.seed, reuse_arms=methods, stored=stored)
    used = [c.id for c in claims if c.id in empirical.METHOD_PAIRS]
    if not used:
        raise InputError(f"--reuse-arms applies to {' and '.join(empirical.METHOD_PAIRS)} only; select one of them")
    for claim_id in used:
        better, worse = empirical.METHOD_PAIRS[claim_id]
        empirical.reused_accuracies(ctx, claim_id, (better, *worse))
    return methods, stored


def _command_words(args: argparse.Namespace) -> list[str]:
    """The options that define the run, for the record in RESULTS.md (no machine paths)."""
    words = [f"--scale {args.scale}"] + list(args.claims)
    if args.seed:
        words.append(f"--seed {args.seed}")
    if args.data_dir is not None:
        words.append("--data-dir DATA")
    if args.device is not None:
        words.append(f"--device {args.device}")
    if args.reuse_arms is not None:
        words.append(f"--reuse-arms {args.reuse_arms}")
    return words
