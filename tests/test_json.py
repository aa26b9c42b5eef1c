"""ssltheory.files.jsonable: the one conversion to JSON types every JSON file of the project uses."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ssltheory.files import jsonable


def test_numpy_torch_tuples_paths_and_keys_become_plain_json():
    torch = pytest.importorskip("torch")
    obj = {
        1: (np.int64(3), np.float32(0.5), np.bool_(True)),
        "a": np.arange(3).reshape(1, 3),
        "t": torch.tensor(2.5),
        "p": Path("x/y"),
        "f": Fraction(1, 3),
        "n": None,
        "b": False,
    }
    out = jsonable(obj)
    assert out == {"1": [3, 0.5, True], "a": [[0, 1, 2]], "t": 2.5, "p": "x/y", "f": "1/3", "n": None, "b": False}
    assert type(out["1"][0]) is int and type(out["1"][2]) is bool
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_non_finite_floats_become_null_or_their_name(value):
    assert jsonable([value]) == [None]
    assert jsonable([value], nonfinite="string") == [str(float(value))]


def test_bad_nonfinite_option_is_refused():
    with pytest.raises(ValueError, match="nonfinite must be 'null' or 'string'"):
        jsonable(1.0, nonfinite="drop")
