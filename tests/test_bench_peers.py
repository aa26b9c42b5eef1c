"""The new loss rows of `ssltheory bench` and `--peers`: equal computations raced, pending without lightly.

Never asserts on timings: only that both sides computed the same loss and gradients, and that the
lightly comparison says "pending" (with the reason) where lightly does not import.
"""

from __future__ import annotations

import json

from ssltheory import cli


def _rows(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_new_loss_rows_race_equal_values_and_gradients(capsys):
    assert (
        cli.main(["bench", "--quick", "--json", "--repeats", "1", "--only", "loss_swav", "loss_barlow", "loss_simsiam"])
        == 0
    )
    rows = {r["name"]: r for r in _rows(capsys)}
    assert set(rows) == {"loss_swav", "loss_barlow", "loss_simsiam"}
    for name, row in rows.items():
        assert row["status"] == "ok" and row["details"]["values_agree"] and row["details"]["grads_agree"], name


def test_peers_rows_are_pending_without_lightly_and_ok_with_it(capsys):
    try:
        import lightly.loss  # noqa: F401

        expected = "ok"
    except ImportError:
        expected = "pending"
    assert cli.main(["bench", "--peers", "--quick", "--json", "--repeats", "1"]) == 0
    rows = _rows(capsys)
    assert [r["name"] for r in rows] == [
        "peer_loss_simclr",
        "peer_loss_dino",
        "peer_loss_swav",
        "peer_loss_barlow",
        "peer_loss_simsiam",
    ]
    for row in rows:
        assert row["status"] == expected, row
        if expected == "pending":
            assert "lightly" in row["details"]["reason"]
        else:
            assert row["details"]["values_agree"] and row["details"]["grads_agree"]


def test_peers_and_only_together_is_a_usage_error(capsys):
    assert cli.main(["bench", "--peers", "--only", "losses"]) == 2
    assert "--peers" in capsys.readouterr().err
