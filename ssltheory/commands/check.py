"""``ssltheory check``: is a representation ideal for linear / universal probes? (THEORY.md T1, T2)

    ssltheory check FEATURES.npy --classes CLASSES.npy [--probe linear|universal] [--tol T]
                    [--verify auto|exact|float-lp|none] [--exact] [--json]

FEATURES.npy holds the codes (n, d); CLASSES.npy one non-negative integer class id per row (n,).
Exit 0: ideal; 1: checked and not ideal (the output carries the certificate); 2: bad input, with
one line on stderr naming the problem (raised here as InputError, printed by ``ssltheory.cli``).
The JSON output has the fields of docs/ARCHITECTURE.md ("Command line"): ideal, probe, n_points,
n_classes, dim, conditions (name -> {ok, value, detail}), certificate (null or {task, witness}),
plus mode ("tolerance" or "exact"). ``--exact`` decides the verdict in rational arithmetic (a proof; K up to a few
hundred); ``--verify`` says how a certificate is re-checked (witness ``verification``).
"""

from __future__ import annotations

import argparse
import json

from ssltheory.commands import add_tolerance_argument
from ssltheory.files import load_npy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory check``."""
    parser.add_argument("features", metavar="FEATURES.npy", help="codes, a float array of shape (n, d)")
    parser.add_argument(
        "--classes", metavar="CLASSES.npy", required=True, help="class ids, non-negative integers, shape (n,)"
    )
    parser.add_argument(
        "--probe", choices=("linear", "universal"), default="linear", help="probe family (default: linear)"
    )
    add_tolerance_argument(parser)
    parser.add_argument(
        "--verify",
        choices=("auto", "exact", "float-lp", "none"),
        default="auto",
        help="how a failure certificate is re-checked: exact (rational "
        "arithmetic, K x d up to a few hundred thousand), "
        "float-lp (a HiGHS LP), none; auto (default): exact when the codes are small",
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="decide the verdict itself in exact rational arithmetic (a proof, not a judgement at a tolerance)",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")


def run(args: argparse.Namespace) -> int:
    """``ssltheory check``: the exact verdict on FEATURES.npy and CLASSES.npy; exit 0 ideal,
    1 not ideal (2, bad input, is the caller's)."""
    from ssltheory.conditions import is_ideal

    features = load_npy(args.features, "features")
    classes = load_npy(args.classes, "classes")
    verdict = is_ideal(features, classes, probe=args.probe, tol=args.tol, verify=args.verify, exact=args.exact)
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2))
    else:
        print(verdict.summary())
    return 0 if verdict.ok else 1
