"""Side-by-side benchmarks of ssltheory against the tools a user would otherwise pick.

Run ``ssltheory bench [--quick] [--json] [--only NAME ...]``. Each benchmark times our code and a
baseline *alternately* on the same inputs, drops warm-up calls, and reports the median of the
timed repeats as one JSON row (schema in :mod:`ssltheory.benchmarks.harness`)::

    {"name", "ours_s", "baseline_s", "ratio", "ratio_def", "target", "meets_target", "status", "details"}

``ratio`` is defined per row so that its ``target`` reads naturally: a speed-up
``baseline_s / ours_s`` where the target is "at least N times faster" (``>= 5``), a slowdown
``ours_s / baseline_s`` where the target is "at most N times slower" (``<= 1.2``); ``ratio_def``
spells out which. A full run writes ``benchmarks/RESULTS.md``; nothing in that file is typed by hand.

======================  =====================================================================
``--only`` name         module: ours versus the baseline
======================  =====================================================================
``probe``               :mod:`ssltheory.benchmarks.probe_fit`: LinearProbe vs scikit-learn lbfgs
``ideal``               :mod:`ssltheory.benchmarks.ideal`: ``is_ideal(probe="linear")`` vs one numpy SVD
``losses``              :mod:`ssltheory.benchmarks.losses`: SimCLR, CISSL, DINO, DISSL vs
                        :mod:`ssltheory.benchmarks.reference_losses` (or lightly, when installed)
``throughput``          :mod:`ssltheory.benchmarks.throughput`: trainer step, batched vs per-image augment
``gpu``                 :mod:`ssltheory.benchmarks.gpu`: ResNet-18 two-view epoch on 50,000 32x32 images
``startup``             :mod:`ssltheory.benchmarks.startup`: ``ssltheory COMMAND --help`` vs
                        ``python -c "import argparse"``
``scoring``             :mod:`ssltheory.benchmarks.scoring`: ``ssltheory score`` / ``check --tol 0.01`` on
                        8,000 x 2,048 views vs ``np.linalg.eigvalsh(Z.T @ Z)``; score_all on 800 x 128 vs 2 s
======================  =====================================================================

Shared pieces: :mod:`ssltheory.benchmarks.harness` (timer, rows, machine), :mod:`ssltheory.benchmarks.report`
(RESULTS.md), :mod:`ssltheory.benchmarks.cli` (the command).
"""
