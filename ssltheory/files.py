"""Writing files whole: every file the project writes (reports, figures, CSVs, checkpoints,
results) goes through here, so that a reader never sees half of one.

The recipe is the usual one: write to a temporary file in the destination's own folder (same file
system, so the rename is atomic), flush and fsync it, then ``os.replace`` it over the destination.
On any error the temporary file is removed and the destination is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from ssltheory._json import jsonable


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path``.

    For writers that want a file name (``fig.savefig(tmp)``, ``torch.save(obj, tmp)``,
    ``np.save(tmp, a)``). ``suffix`` is the temporary file's extension (default: that of ``path``,
    so that writers choosing a format by extension choose the right one). The folder must exist.
    """
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole (temporary file, fsync, rename); returns ``path``."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole; returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (numbers converted by :func:`ssltheory._json.jsonable`, non-finite
    floats as null) to ``path`` whole, with a final newline; returns ``path``."""
    text = json.dumps(jsonable(obj), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 130) -> Path:
    """Save a matplotlib figure as PNG at ``path`` whole (tight bounding box); returns ``path``."""
    path = Path(path)
    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return path
