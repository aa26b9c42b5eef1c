"""ssltheory.testing, the public testing module: its strategies' attached answers against the
oracles, its assertion helpers, the import without hypothesis, and docs/TESTING.md's examples run
as written (every ``python`` block executed, its ``test_*`` functions called)."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssltheory import EquivalenceClasses, is_ideal
from ssltheory.testing import assert_ideal, assert_invariant_task_realizable, assert_not_ideal, oracles, strategies

REPO = Path(__file__).resolve().parents[1]
TESTING_MD = REPO / "docs" / "TESTING.md"


# ---------------------------------------------------------------- the attached answers
@given(strategies.class_codes())
def test_every_attached_answer_is_the_exact_oracles(world):
    for probe in ("linear", "universal"):
        assert oracles.exact_is_ideal(world.Z, world.classes, probe) == world.ideal[probe], (world.kind, probe)
        if world.ideal[probe]:
            assert world.ideal_at_tolerance[probe] in (True, None)
        else:
            assert world.ideal_at_tolerance[probe] is False
    held = np.ldexp(world.lattice[world.classes].astype(np.float64), world.transform["scale_exponent"])
    assert (held == world.Z).all() or world.kind == "non-invariant"  # the floats hold the lattice exactly
    if world.kind == "dependent":
        assert oracles.exact_dependence_holds(world.codes, world.certificate["lambda"])
        assert len(world.certificate["lambda"]) >= 2
    if world.kind == "shared":
        m, m2 = world.certificate["classes"]
        assert (world.codes[m] == world.codes[m2]).all()
    if world.kind == "non-invariant":
        i, j = world.certificate["pair"]
        assert world.classes[i] == world.classes[j] and not (world.Z[i] == world.Z[j]).all()
    if world.kind == "deficient":
        assert world.Z.shape[1] < world.n_classes - 1


@given(strategies.ideal_codes(near_degenerate=True), st.sampled_from(["linear", "universal"]))
def test_near_degenerate_ideal_codes_are_ideal_exactly_and_at_the_tolerance_where_determined(world, probe):
    assert is_ideal(world.Z, world.classes, probe=probe, exact=True).ok
    if world.ideal_at_tolerance[probe] is not None:
        assert is_ideal(world.Z, world.classes, probe=probe).ok


@given(strategies.general_position_points(st.integers(1, 6), st.integers(1, 4)))
def test_general_position_points_are_affinely_independent_in_every_small_subset(Z):
    N, d = Z.shape
    m = min(N, d + 1)
    for start in range(N - m + 1):
        assert oracles.exact_affine_rank(Z[start : start + m]) == m - 1


@given(st.sampled_from(["labels", "pairs", "views"]).flatmap(strategies.equivalence_classes))
def test_equivalence_classes_are_partitions_numbered_by_first_appearance(classes):
    assert isinstance(classes, EquivalenceClasses)
    first_seen = list(dict.fromkeys(classes.labels.tolist()))
    assert first_seen == list(range(classes.n_classes))
    assert sorted(i for members in classes.members for i in members.tolist()) == list(range(classes.n_points))


@given(st.integers(2, 6).flatmap(lambda K: st.tuples(st.just(K), strategies.invariant_tasks(K, n_labels=None))))
def test_invariant_tasks_are_nonconstant_labels_one_per_class(drawn):
    K, task = drawn
    assert task.shape == (K,) and task.min() >= 0 and len(set(task.tolist())) >= 2


def test_fraction_of_profile_scales_the_loaded_profile():
    from hypothesis import settings

    assert strategies.fraction_of_profile(0.5).max_examples == max(1, round(settings.default.max_examples / 2))
    with pytest.raises(ValueError, match="share must be a positive multiple"):
        strategies.fraction_of_profile(0)


# ---------------------------------------------------------------- oracles
def test_worst_erm_risk_by_enumeration_on_theory_md_t3_example():
    # THEORY.md T3: class A codes {0, 1}, class B code {3}; after seeing the A point at 0, a threshold
    # at 0.5 is an ERM that mislabels the other A point: worst risk 1/3 (uniform masses).
    Z = np.array([[0.0], [1.0], [3.0]])
    assert oracles.worst_erm_risk_by_enumeration(Z, [0, 0, 1], [0], "linear") == Fraction(1, 3)
    # seeing both classes: a linear probe must keep 0 and 3 apart; 1 can go either way
    assert oracles.worst_erm_risk_by_enumeration(Z, [0, 0, 1], [0, 2], "linear") == Fraction(1, 3)
    assert oracles.worst_erm_risk_by_enumeration(Z, [0, 0, 1], [0, 1, 2], "linear") == 0
    # invariant codes: the worst risk is the mass of the unseen classes (T3's equality)
    invariant = np.array([[0.0], [0.0], [3.0]])
    assert oracles.worst_erm_risk_by_enumeration(invariant, [0, 0, 1], [0], "universal") == Fraction(1, 3)


@given(strategies.ideal_codes(max_classes=4, max_dim=3, offsets=False, scales=False, max_points_per_class=2), st.data())
def test_worst_erm_risk_of_invariant_ideal_codes_is_the_missing_mass(world, data):
    # THEORY.md T3: for invariant population-ideal encoders the worst ERM risk is the mass of the
    # classes the sample has not seen; the library's LP branch and bound agrees
    from ssltheory.efficiency import worst_erm_risk

    task = data.draw(strategies.invariant_tasks(world.n_classes))
    y = task[world.classes]
    n = len(y)
    sample = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    seen = set(world.classes[sample].tolist())
    missing = Fraction(sum(1 for m in world.classes if m not in seen), n)
    for probe in ("linear", "universal"):
        assert oracles.worst_erm_risk_by_enumeration(world.Z, y, sample, probe) == missing
        assert worst_erm_risk(world.Z, y, sample, probe).risk == pytest.approx(float(missing), abs=1e-12)


# ---------------------------------------------------------------- assertion helpers
def test_assertion_messages_are_the_certificates():
    line = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    with pytest.raises(AssertionError, match=r"(?s)NOT IDEAL.*task \(label per class\): \[0, 1, 0\].*lambda_exact"):
        assert_ideal(line, [0, 1, 2])
    assert assert_not_ideal(line, [0, 1, 2]).certificate.task.tolist() == [0, 1, 0]
    with pytest.raises(AssertionError, match=r"(?s)it is ideal:.*affine_independence: 2"):
        assert_not_ideal(np.eye(3), [0, 1, 2])
    assert assert_ideal(np.eye(3), [0, 1, 2]).ok
    with pytest.raises(
        AssertionError, match=r"task \[0, 1, 0\] is not realized .* the point \[1.0, 1.0\] lies in the hull"
    ):
        assert_invariant_task_realizable(line, [0, 1, 2], [0, 1, 0])
    W, b = assert_invariant_task_realizable(line, [0, 1, 2], [0, 0, 1])
    assert min(oracles.strict_margins(W, b, line, [0, 0, 1])) > 0
    shared = np.array([[0.0], [1.0], [1.0]])
    assert assert_invariant_task_realizable(shared, [0, 1, 2], [0, 1, 1], probe="universal") is None
    with pytest.raises(AssertionError, match=r"points 1 and 2 share the code \[1.0\] but get labels 0 and 1"):
        assert_invariant_task_realizable(shared, [0, 1, 2], [0, 0, 1], probe="universal")


# ---------------------------------------------------------------- the extra
def test_importing_the_strategies_without_hypothesis_names_the_extra():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from ssltheory.testing import oracles, assert_ideal\n"
        "try:\n    from ssltheory.testing import strategies\n"
        "except ImportError as error:\n    print(error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'ssltheory[testing]'" in out.stdout


# ---------------------------------------------------------------- docs/TESTING.md, run as written
def python_blocks_of_testing_md() -> list[str]:
    return re.findall(r"```python\n(.*?)```", TESTING_MD.read_text(), flags=re.S)


def test_testing_md_has_its_three_examples():
    assert len(python_blocks_of_testing_md()) == 3


@pytest.mark.parametrize("index", range(3))
def test_testing_md_example_runs(index, capsys):
    namespace: dict = {"__name__": f"testing_md_example_{index + 1}"}
    exec(compile(python_blocks_of_testing_md()[index], f"docs/TESTING.md (example {index + 1})", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert tests, "an example defines no test_ function"
    for test in tests:
        test()
    if index == 1:
        with capsys.disabled():  # the shrunk counterexample, printed for the reader
            print("\n" + "\n".join(line for line in capsys.readouterr().out.splitlines() if "counterexample" in line))
