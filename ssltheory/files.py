"""Writing files whole, reading arrays back safely (`load_npy`), and the one conversion to JSON types
(`jsonable`, so every JSON file encodes numbers the same way): every file the project writes
(reports, figures, CSVs, checkpoints, results) goes through here, so that a reader never sees half
of one.

The recipe is the usual one: write to a temporary file in the destination's own folder (same file
system, so the rename is atomic), flush and fsync it, then ``os.replace`` it over the destination.
On any error the temporary file is removed and the destination is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ssltheory.errors import InputError

if TYPE_CHECKING:
    import numpy as np

_NPY_MAGIC = b"\x93NUMPY"


def jsonable(obj: Any, nonfinite: str = "null") -> Any:
    """``obj`` as plain JSON types: dict keys become strings, tuples lists; numpy arrays and
    scalars and torch tensors (anything with ``tolist``) Python numbers or lists; bools stay
    bools; other objects (paths, fractions) their ``str``. A non-finite float (JSON has no NaN)
    becomes None when ``nonfinite="null"``, or its name ("nan", "inf", "-inf") when "string"."""
    if nonfinite not in ("null", "string"):
        raise InputError(f"nonfinite must be 'null' or 'string', got {nonfinite!r}")
    if isinstance(obj, dict):
        return {str(k): jsonable(v, nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, nonfinite) for v in obj]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return None if nonfinite == "null" else str(obj)
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays / scalars, torch tensors
        return jsonable(obj.tolist(), nonfinite)
    return str(obj)


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


def append_json_line(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` (made `jsonable`) as one line to the JSON-lines file ``path``, flushed.

    The one exception to whole-file writing: a log grows by lines. A process killed mid-line leaves
    at most a half-written last line, which the readers drop (``ssltheory.ssl.runs.read_metrics``).
    """
    with open(path, "a") as f:
        f.write(json.dumps(jsonable(record)) + "\n")
        f.flush()


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
    """Write ``obj`` as JSON (numbers converted by :func:`ssltheory.files.jsonable`, non-finite
    floats as null) to ``path`` whole, with a final newline; returns ``path``."""
    text = json.dumps(jsonable(obj), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 130) -> Path:
    """Save a matplotlib figure as PNG at ``path`` whole (tight bounding box); returns ``path``."""
    path = Path(path)
    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return path


def writable_folder(path: str | os.PathLike) -> Path:
    """Create folder ``path`` (and its parents) and check that a file can be written in it, so a
    long job refuses an unusable output folder before it starts; returns ``path``.

    Raises ``ValueError`` when ``path`` is an existing file, ``OSError`` naming ``path`` when the
    folder cannot be created or written (read-only, full, permission denied).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} exists and is not a directory; give a folder")
    path.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    return path


def load_npy(path: str, what: str) -> np.ndarray:
    """Read one array from a .npy file, refusing pickles; ValueError naming the problem.

    numpy is imported here, not at the top: command modules import this module to build their
    parsers, and ``--help`` stays as light as argparse (docs/ARCHITECTURE.md, "help light").
    """
    import numpy as np

    file = Path(path)
    if not file.exists():
        raise InputError(f"{what} file not found: {file}")
    if file.is_dir():
        raise InputError(f"{what} path is a directory, not a .npy file: {file}")
    with open(file, "rb") as handle:
        magic = handle.read(len(_NPY_MAGIC))
    if magic[:2] == b"PK":
        raise InputError(f"{what} file {file} is an .npz archive; expected one array saved with numpy.save (.npy)")
    if magic != _NPY_MAGIC:
        raise InputError(f"{what} file {file} is not a .npy file (no NumPy header)")
    try:
        return np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{what} file {file} could not be read (truncated or corrupt .npy?): {reason}") from None
