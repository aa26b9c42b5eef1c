"""One conversion to JSON types, shared by the verdicts, the reports, the paper checks and the
benchmarks (so every JSON file of the project encodes numbers the same way)."""

from __future__ import annotations

import math
from typing import Any


def jsonable(obj: Any, nonfinite: str = "null") -> Any:
    """``obj`` as plain JSON types: dict keys become strings, tuples lists; numpy arrays and
    scalars and torch tensors (anything with ``tolist``) Python numbers or lists; bools stay
    bools; other objects (paths, fractions) their ``str``. A non-finite float (JSON has no NaN)
    becomes None when ``nonfinite="null"``, or its name ("nan", "inf", "-inf") when "string"."""
    if nonfinite not in ("null", "string"):
        raise ValueError(f"nonfinite must be 'null' or 'string', got {nonfinite!r}")
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
