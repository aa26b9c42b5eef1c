"""Side-by-side benchmarks of ssltheory against the tools a user would otherwise pick (issue 7).

Run ``ssltheory bench [--quick] [--json] [--only NAME ...]``. Each benchmark times our code and a
baseline *alternately* on the same inputs, drops warm-up calls, and reports the median of the
timed repeats as one JSON row (schema in :mod:`benchmarks._harness`)::

    {"name", "ours_s", "baseline_s", "ratio", "ratio_def", "target", "meets_target", "status", "details"}

``ratio`` is defined per row so that its ``target`` reads naturally: a speed-up
``baseline_s / ours_s`` where the target is "at least N times faster" (``>= 5``), a slowdown
``ours_s / baseline_s`` where the target is "at most N times slower" (``<= 1.2``); ``ratio_def``
spells out which. A full run writes ``benchmarks/RESULTS.md``; nothing in that file is typed by hand.

======================  =====================================================================
``--only`` name         module: ours versus the baseline
======================  =====================================================================
``probe``               :mod:`benchmarks.probe_fit`: LinearProbe vs scikit-learn lbfgs
``ideal``               :mod:`benchmarks.ideal`: ``is_ideal(probe="linear")`` vs one numpy SVD
``losses``              :mod:`benchmarks.losses`: SimCLR, CISSL, DINO, DISSL vs
                        :mod:`benchmarks.reference_losses` (or lightly, when installed)
``throughput``          :mod:`benchmarks.throughput`: trainer step, batched vs per-image augment
``gpu``                 :mod:`benchmarks.gpu`: ResNet-18 two-view epoch on 50,000 32x32 images
======================  =====================================================================

Shared pieces: :mod:`benchmarks._harness` (timer, rows, machine), :mod:`benchmarks.report`
(RESULTS.md), :mod:`benchmarks.cli` (the command).
"""
