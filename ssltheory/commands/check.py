"""``ssltheory check``: is a representation ideal for linear / universal probes? (THEORY.md T1, T2)

    ssltheory check FEATURES.npy --classes CLASSES.npy [--probe linear|universal] [--tol T] [--verify-lp] [--json]

FEATURES.npy holds the codes (n, d); CLASSES.npy one non-negative integer class id per row (n,).
Exit 0: ideal; 1: checked and not ideal (the output carries the certificate); 2: bad input, with
one line on stderr naming the problem (raised here as ValueError, printed by ``ssltheory.cli``).
The JSON output has exactly DESIGN.md's fields: ideal, probe, n_points, n_classes, dim,
conditions (name -> {ok, value, detail}), certificate (null or {task, witness}).
"""

from __future__ import annotations

import argparse
import json

from ssltheory.files import load_npy

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("features", metavar="FEATURES.npy", help="codes, a float array of shape (n, d)")
    parser.add_argument("--classes", metavar="CLASSES.npy", required=True, help="class ids, non-negative integers, shape (n,)")
    parser.add_argument("--probe", choices=("linear", "universal"), default="linear", help="probe family (default: linear)")
    parser.add_argument(
        "--tol", type=float, default=None, metavar="T",
        help="relative tolerance: values at or below T x (largest singular value of the centred class codes) count as 0 "
        "(default: max(K, d) x machine epsilon of the features' dtype)",
    )
    parser.add_argument(
        "--verify-lp", action="store_true",
        help="also confirm a failure certificate with an exact LP on larger problems (slower; small ones always are)",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")


def run(args: argparse.Namespace) -> int:
    from ssltheory.conditions import is_ideal

    features = load_npy(args.features, "features")
    classes = load_npy(args.classes, "classes")
    verdict = is_ideal(features, classes, probe=args.probe, tol=args.tol, verify_lp=True if args.verify_lp else None)
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2))
    else:
        print(verdict.summary())
    return 0 if verdict.ok else 1
