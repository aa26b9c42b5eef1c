"""The atomic writers (ssltheory.files) and the progress meter (ssltheory.progress)."""

from __future__ import annotations

import io
import json

import pytest

from ssltheory.files import atomic_output, atomic_write_text, write_json
from ssltheory.progress import Progress


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_output(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer died")
    assert json.loads(path.read_text()) == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_write_json_refuses_nothing_finite_and_writes_nonfinite_as_null(tmp_path):
    path = write_json(tmp_path / "b.json", {"a": float("nan"), "b": (1, 2)})
    assert json.loads(path.read_text()) == {"a": None, "b": [1, 2]}


def test_atomic_output_keeps_the_extension_for_format_sniffing_writers(tmp_path):
    with atomic_output(tmp_path / "f.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path


def test_progress_off_a_terminal_prints_plain_lines_with_the_postfix():
    out = io.StringIO()
    with Progress(4, "train toy", interval=0, file=out) as bar:
        for _ in range(4):
            bar.update(1, loss=0.5)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # one a step at interval 0, no repeated final line
    assert lines[-1].startswith("train toy: 100%") and "4/4" in lines[-1] and "loss=0.5" in lines[-1]
    assert "\r" not in out.getvalue()


def test_progress_prints_a_closing_line_when_the_interval_hid_the_last_steps():
    out = io.StringIO()
    with Progress(100, "job", interval=3600, file=out) as bar:
        bar.update(37)
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[-1]]
    assert "37/100" in out.getvalue()


def test_progress_disabled_prints_nothing():
    out = io.StringIO()
    with Progress(3, "quiet", file=out, disable=True) as bar:
        bar.update(3)
        bar.write("hidden")
    assert out.getvalue() == ""


def test_progress_interval_from_the_environment_is_checked(monkeypatch):
    monkeypatch.setenv("SSLTHEORY_PROGRESS_INTERVAL", "soon")
    with pytest.raises(ValueError, match="SSLTHEORY_PROGRESS_INTERVAL"):
        Progress(1, "x", file=io.StringIO())
    monkeypatch.setenv("SSLTHEORY_PROGRESS_INTERVAL", "0")
    assert Progress(1, "x", file=io.StringIO()).interval == 0.0
