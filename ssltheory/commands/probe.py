"""``ssltheory probe RUN``: fit probes on a trained run's frozen features and print their accuracies.

Thin: parses the flags, calls :func:`ssltheory.ssl.probes.probe_run` (imported, with torch, only
when the command runs, so ``--help`` is fast) and prints one line per probe, or one JSON object.
"""

from __future__ import annotations

import argparse
import json

from ssltheory.commands import seed_argument

#: The probe families of ``probe_run``.
PROBES = ("linear", "mlp", "knn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``ssltheory probe``."""
    parser.add_argument("run", metavar="RUN", help="run directory written by `ssltheory train`")
    parser.add_argument(
        "--probe", nargs="+", default=["linear"], choices=PROBES, help="probe families to fit (default: linear)"
    )
    parser.add_argument(
        "--labels-fraction",
        type=float,
        default=1.0,
        help="fraction of the train and val labels used, stratified (default 1)",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        nargs="+",
        default=None,
        help="linear probe weight-decay grid, chosen on val (default: LinearProbe's grid, 1e-1 down to 1e-6)",
    )
    parser.add_argument("--mlp-width", type=int, default=2048, help="MLP probe hidden width (default 2048)")
    parser.add_argument("--mlp-epochs", type=int, default=50, help="MLP probe epochs (default 50)")
    parser.add_argument(
        "--knn-k", type=int, nargs="+", default=[20], help="k of the kNN probe (several: chosen on val)"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--seed", type=seed_argument, default=0, help="seed of the label subset and the probes")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Print the probes' accuracies (JSON with ``--json``); exit 0."""
    from ssltheory.ssl.probes import probe_run

    result = probe_run(
        args.run,
        args.probe,
        labels_fraction=args.labels_fraction,
        weight_decay=args.weight_decay,
        mlp_width=args.mlp_width,
        mlp_epochs=args.mlp_epochs,
        knn_k=args.knn_k,
        batch_size=args.batch_size,
        device=args.device,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(
        f"{result['run']}: {result['method']} on {result['data']}, d={result['dim']}, "
        f"{result['n_train']} train / {result['n_val']} val / {result['n_test']} test labels"
    )
    for name in PROBES:
        if f"{name}_accuracy" in result:
            extra = {
                "linear": lambda: f"weight decay {result['linear_weight_decay']:g}",
                "mlp": lambda: f"epoch {result['mlp_best_epoch']}",
                "knn": lambda: f"k {result['knn_k']}",
            }[name]()
            print(
                f"  {name:6s} test {result[f'{name}_accuracy']:.4f}  "
                f"val {result[f'{name}_val_accuracy']:.4f}  ({extra})"
            )
    return 0
