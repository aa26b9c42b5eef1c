"""Checks of docs/THEORY.md T1 (linear ideal), T2 (universal ideal) and T5 (Cover's count).

Each check draws random codes with fixed seeds (more and larger at ``cpu`` scale) and tests the
statement's conclusion by an independent computation: the library's exact LP
(`ssltheory.geometry.linearly_separable`) for realizability on one side, and on the other side a
different object: a hull-intersection LP written here, an exact rational rank (sympy), an exact
null vector, an explicit probe or network built here in numpy, or a count by enumeration. Where the
library also answers the question (`is_ideal`, `radon_split`, `cover_count`), its answer is
compared too, so a check fails if either the statement or the library's encoding of it is wrong.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

from ssltheory.geometry import linearly_separable
from ssltheory.paper_checks.registry import CheckContext, Outcome, register

# --------------------------------------------------------------------------- shared helpers


def hulls_intersect(Z: np.ndarray, mask: np.ndarray) -> bool:
    """Do conv{Z[mask]} and conv{Z[~mask]} meet? Feasibility LP in the convex weights
    (lambda >= 0, mu >= 0, sum lambda = sum mu = 1, Z_S^T lambda = Z_rest^T mu); written here so
    that it is independent of the separability LP it is compared with."""
    A, B = Z[mask], Z[~mask]
    na, nb, d = len(A), len(B), Z.shape[1]
    A_eq = np.zeros((d + 2, na + nb))
    A_eq[:d, :na], A_eq[:d, na:] = A.T, -B.T
    A_eq[d, :na], A_eq[d + 1, na:] = 1.0, 1.0
    b_eq = np.r_[np.zeros(d), 1.0, 1.0]
    res = linprog(np.zeros(na + nb), A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status not in (0, 2):
        raise RuntimeError(f"hull-intersection LP ended with status {res.status}: {res.message}")
    return res.status == 0


def _binary_tasks(K: int) -> np.ndarray:
    """The library's binary tasks (non-constant, up to complement), shape (2^(K-1) - 1, K)."""
    from ssltheory.tasks import enumerate_binary_tasks

    return np.asarray(enumerate_binary_tasks(K), dtype=int)


def exact_affine_rank(C: np.ndarray) -> int:
    """rank[c_1 - c_0, ..., c_{K-1} - c_0] in exact rational arithmetic (sympy); C (K, d) holds
    integers or floats that are converted exactly."""
    import sympy

    rows = [[sympy.Rational(Fraction(float(v))) for v in (C[m] - C[0])] for m in range(1, len(C))]
    if not rows:
        return 0
    return int(sympy.Matrix(rows).rank())


def _classes(labels: np.ndarray):
    from ssltheory.equivalence import EquivalenceClasses

    return EquivalenceClasses.from_labels(labels)


def _ideal_ok(Z: np.ndarray, labels: np.ndarray, probe: str) -> bool:
    from ssltheory.conditions import is_ideal

    return bool(is_ideal(Z, _classes(labels), probe=probe).ok)


def _random_codes(rng: np.random.Generator, family: str, K: int, d: int) -> np.ndarray:
    """Class codes (K, d): ``grid`` = small integers (ties, collinearity and touching hulls are
    common), ``gauss`` = general position."""
    if family == "grid":
        return rng.integers(-2, 3, size=(K, d)).astype(float)
    return rng.normal(size=(K, d))


# --------------------------------------------------------------------------- T1.1


def check_t1_1(ctx: CheckContext) -> Outcome:
    """Per split S of the classes: LIN-realizable (LP) iff conv(S) and conv(rest) are disjoint
    (hull LP). Encoders need not be invariant: every point gets its own code."""
    rng = ctx.rng("T1.1")
    n_instances = ctx.pick(14, 90)
    max_K = ctx.pick(5, 6)
    n_splits = n_realizable = n_inst_ideal = 0
    disagreements = []
    for i in range(n_instances):
        family = ("grid", "gauss", "clustered")[i % 3]
        K = int(rng.integers(3, max_K + 1))
        sizes = rng.integers(1, 4, size=K)
        labels = np.repeat(np.arange(K), sizes)
        n = len(labels)
        if family == "clustered":  # affinely independent centres plus small spread: often ideal
            d = K - 1
            Z = np.vstack([np.zeros((1, d)), np.eye(d)])[labels] + 0.05 * rng.normal(size=(n, d))
        else:
            d = int(rng.integers(1, 4))
            Z = _random_codes(rng, family, n, d)
        all_realizable = no_meeting = True
        for task in _binary_tasks(K):
            y = task[labels]
            sep = linearly_separable(Z, y)
            meet = hulls_intersect(Z, y == 1)
            n_splits += 1
            n_realizable += sep
            all_realizable &= sep
            no_meeting &= not meet
            if sep == meet:
                disagreements.append(
                    {
                        "instance": i,
                        "family": family,
                        "codes": Z.round(4).tolist(),
                        "classes": labels.tolist(),
                        "task": task.tolist(),
                        "separable": sep,
                        "hulls_meet": meet,
                    }
                )
        n_inst_ideal += all_realizable
    ok = not disagreements
    return Outcome(
        "pass" if ok else "fail",
        f"{n_splits - len(disagreements)}/{n_splits} splits agree (LP vs hulls)",
        {
            "instances": n_instances,
            "splits": n_splits,
            "splits_realizable": n_realizable,
            "instances_with_every_binary_task_realizable": n_inst_ideal,
            "disagreements": disagreements[:3],
            "n_disagreements": len(disagreements),
        },
        seeds=[ctx.seed],
    )


# --------------------------------------------------------------------------- T1.2 / T1.3


def _t1_instances(ctx: CheckContext, salt: str, n: int):
    """Invariant encoders: class codes C (K, d) on the integer grid or Gaussian, 1-3 points per
    class sharing the class code. Yields (K, d, C, labels, Z)."""
    rng = ctx.rng(salt)
    max_K = ctx.pick(4, 5)
    for i in range(n):
        K = int(rng.integers(3, max_K + 1))
        d = int(rng.integers(1, K + 1))
        C = _random_codes(rng, "grid" if i % 2 == 0 else "gauss", K, d)
        labels = np.repeat(np.arange(K), rng.integers(1, 4, size=K))
        yield K, d, C, labels, C[labels]


def _all_tasks(K: int, k: int) -> np.ndarray:
    from ssltheory.tasks import enumerate_tasks

    return np.asarray(enumerate_tasks(K, k), dtype=int)


def check_t1_2(ctx: CheckContext) -> Outcome:
    """(a) every task, any k, LIN-realizable <=> (b) every binary task <=> (c) exact affine rank
    K - 1; d < K - 1 forces (c) false; `is_ideal(probe="linear")` agrees with (c)."""
    n = ctx.pick(16, 60)
    rng = ctx.rng("T1.2/tasks")
    rows, bad = [], []
    for i, (K, d, C, labels, Z) in enumerate(_t1_instances(ctx, "T1.2", n)):
        b = all(linearly_separable(Z, t[labels]) for t in _binary_tasks(K))
        # (a): all tasks for small K at cpu scale; otherwise the one-class-per-label task plus random ones
        if ctx.scale != "quick" and K <= 4:
            tasks = _all_tasks(K, K)  # every task up to renaming labels
        else:
            tasks = np.vstack([np.arange(K)] + [rng.integers(0, 3, size=K) for _ in range(6)])
        a = b and all(linearly_separable(Z, t[labels]) for t in tasks)
        c = exact_affine_rank(C) == K - 1
        lib = _ideal_ok(Z, labels, "linear")
        rows.append((a, b, c, d < K - 1))
        if not (a == b == c == lib) or (d < K - 1 and c):
            bad.append(
                {
                    "instance": i,
                    "codes": C.tolist(),
                    "a_every_task": a,
                    "b_every_binary": b,
                    "c_affinely_independent": c,
                    "is_ideal_linear": lib,
                }
            )
    n_ideal = sum(r[2] for r in rows)
    return Outcome(
        "pass" if not bad else "fail",
        f"(a)=(b)=(c)=is_ideal on {n - len(bad)}/{n} encoders ({n_ideal} ideal)",
        {
            "encoders": n,
            "ideal": n_ideal,
            "not_ideal": n - n_ideal,
            "dimension_deficient": sum(r[3] for r in rows),
            "counterexamples": bad[:3],
        },
        seeds=[ctx.seed],
    )


def _exact_null_vector(C: np.ndarray) -> list[Fraction] | None:
    """A nonzero rational lambda with sum_m lambda_m c_m = 0 and sum_m lambda_m = 0, or None."""
    import sympy

    M = sympy.Matrix(
        [[sympy.Rational(Fraction(float(v))) for v in C[:, j]] for j in range(C.shape[1])] + [[1] * len(C)]
    )
    null = M.nullspace()
    if not null:
        return None
    return [Fraction(int(sympy.fraction(v)[0]), int(sympy.fraction(v)[1])) for v in null[0]]


def pinv_probe(C: np.ndarray, task: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """W (k, d), b (k,) solving W c_m + b = e_{task[m]} by the pseudo-inverse of [C, 1] (K, d+1)."""
    E = np.eye(k)[task]  # (K, k)
    sol = np.linalg.pinv(np.c_[C, np.ones(len(C))]) @ E  # (d+1, k)
    return sol[:-1].T, sol[-1]


def _realizes(W: np.ndarray, b: np.ndarray, Z: np.ndarray, y: np.ndarray, margin: float) -> bool:
    """Strict argmax: the label's score beats every other by at least ``margin``."""
    scores = Z @ W.T + b
    own = scores[np.arange(len(y)), y]
    other = np.where(np.eye(scores.shape[1], dtype=bool)[y], -np.inf, scores).max(axis=1)
    return bool(np.all(own - other >= margin))


def check_t1_3(ctx: CheckContext) -> Outcome:
    """Failure certificate: for dependent codes an exact null vector lambda gives a task whose two
    hulls share an exact rational point and which the LP finds unrealizable; the library's
    `radon_split` and `is_ideal` certificates are checked the same way. Success certificate: for
    independent codes the pseudo-inverse probe realizes random tasks (k = 2..K) with margin."""
    from ssltheory.conditions import is_ideal
    from ssltheory.geometry import probe_predict, pseudo_inverse_probe, radon_split

    n = ctx.pick(16, 60)
    rng = ctx.rng("T1.3/tasks")
    stats = {"dependent": 0, "independent": 0, "tasks_probed": 0}
    bad = []
    for i, (K, d, C, labels, Z) in enumerate(_t1_instances(ctx, "T1.3", n)):
        lam = _exact_null_vector(C)
        if lam is not None:
            stats["dependent"] += 1
            pos = [m for m in range(K) if lam[m] > 0]
            neg = [m for m in range(K) if lam[m] < 0]
            sp, sn = sum(lam[m] for m in pos), -sum(lam[m] for m in neg)
            Cq = [[Fraction(float(v)) for v in row] for row in C]
            point_pos = [sum(lam[m] * Cq[m][j] for m in pos) / sp for j in range(d)]
            point_neg = [sum(-lam[m] * Cq[m][j] for m in neg) / sn for j in range(d)]
            task = np.array([1 if lam[m] > 0 else 0 for m in range(K)])
            sep = linearly_separable(Z, task[labels])
            # the library's own certificates
            split = radon_split(C)
            lib_ok = (
                split is not None
                and hulls_intersect(C, split.task.astype(bool))
                and not linearly_separable(Z, split.task[labels])
            )
            verdict = is_ideal(Z, _classes(labels), probe="linear")
            cert = verdict.certificate
            cert_ok = (
                not verdict.ok
                and cert is not None
                and cert.task is not None
                and not linearly_separable(Z, np.asarray(cert.task)[labels])
            )
            if point_pos != point_neg or sep or not lib_ok or not cert_ok:
                bad.append(
                    {
                        "instance": i,
                        "codes": C.tolist(),
                        "null_vector": [str(x) for x in lam],
                        "common_point_exact": point_pos == point_neg,
                        "task_separable": sep,
                        "radon_split_certificate_valid": lib_ok,
                        "is_ideal_certificate_valid": cert_ok,
                    }
                )
        else:
            stats["independent"] += 1
            for _ in range(4):
                k = int(rng.integers(2, K + 1))
                task = rng.integers(0, k, size=K)
                W, b = pinv_probe(C, task, k)
                mine = _realizes(W, b, Z, task[labels], margin=0.5)
                Wl, bl = pseudo_inverse_probe(C, task)
                lib = bool(np.array_equal(np.asarray(probe_predict(Wl, bl, Z)), task[labels]))
                stats["tasks_probed"] += 1
                if not (mine and lib):
                    bad.append(
                        {
                            "instance": i,
                            "codes": C.tolist(),
                            "task": task.tolist(),
                            "pinv_probe_realizes": mine,
                            "library_probe_realizes": lib,
                        }
                    )
    return Outcome(
        "pass" if not bad else "fail",
        f"{stats['dependent']} failure and {stats['tasks_probed']} success certificates checked, {len(bad)} invalid",
        {**stats, "invalid": bad[:3]},
        seeds=[ctx.seed],
    )


# --------------------------------------------------------------------------- T1.4

#: docs/THEORY.md T1.4: the paper's Theorem 1 read literally is contradicted by these class codes.
T1_4_CODES = ((0.0, 1.0), (1.0, 1.0), (2.0, 1.0))
#: The argmax scores that predict M from them, as (w, b) on the first coordinate z: -2z+1, 0, 2z-3.
T1_4_SCORES = ((-2.0, 1.0), (0.0, 0.0), (2.0, -3.0))


def exact_linear_span_dim(C: np.ndarray) -> int:
    """dim span{c_0, ..., c_{K-1}}: the rank of the codes themselves (not of their differences),
    in exact rational arithmetic (sympy); condition (iii) of the paper's Theorem 1 in its words."""
    import sympy

    return int(sympy.Matrix([[sympy.Rational(Fraction(float(v))) for v in row] for row in C]).rank())


def literal_conditions(Z: np.ndarray, labels: np.ndarray, W: np.ndarray, b: np.ndarray) -> dict:
    """The three conditions of Theorem 1 in the paper's words [paper, section 3.1, as quoted], each
    checked independently of the library: (i) the given argmax probe (W (K, d), b (K,)) predicts M
    on every point, strictly; (ii) phi is invariant (one code per class, by comparison); (iii)
    dim(span{phi(x)}) >= K - 1 (exact rank of the codes)."""
    K = int(labels.max()) + 1
    invariant = all(np.array_equal(Z[labels == m][0], z) for m in range(K) for z in Z[labels == m])
    span = exact_linear_span_dim(Z)
    return {
        "i_M_argmax_predictable": _realizes(W, b, Z, labels, margin=1e-9),
        "ii_invariant": invariant,
        "iii_span_dim": span,
        "iii_span_at_least_K_minus_1": span >= K - 1,
    }


def _collinear_off_origin(rng: np.random.Generator) -> np.ndarray | None:
    """Three distinct integer points on a line a + s u that misses the origin (so their linear span
    is 2 = K - 1), in the line's order; None when the draw is degenerate."""
    a, u = rng.integers(-5, 6, size=2), rng.integers(-3, 4, size=2)
    if not u.any() or a[0] * u[1] - a[1] * u[0] == 0:  # no direction, or the line passes through 0
        return None
    s = np.sort(rng.choice(np.arange(-4, 5), size=3, replace=False))
    return (a + s[:, None] * u).astype(float)


def _line_probe(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax scores 2 t_m t(z) - t_m^2 (t the position along the line through C[0], C[2]): they
    predict the class of collinear codes in order; for T1_4_CODES they are T1_4_SCORES up to a
    positive affine change."""
    u = (C[2] - C[0]) / np.linalg.norm(C[2] - C[0])
    t = (C - C[0]) @ u
    return 2 * t[:, None] * u[None, :], -(t**2) - 2 * t * (C[0] @ u)


def check_t1_4(ctx: CheckContext) -> Outcome:
    """The paper's Theorem 1 read literally [paper's words] against the codes (0,1), (1,1), (2,1),
    two points per class: (i) the scores -2z+1, 0, 2z-3 of the first coordinate predict M, (ii) phi
    is invariant, (iii) the span has dimension 2 = K - 1; yet "middle versus ends" is not
    LIN-realizable (LP and a shared hull point), so phi is not sample optimal (it is not even
    population-ideal) and `is_ideal` says no. The same on random integer collinear triples on lines
    missing the origin. The strong reading (affinely independent codes) implies (i)-(iii) on random
    codes; (0,0), (1,0), (2,0) span one dimension, so they fail (iii) and do not contradict the
    literal statement."""
    rng = ctx.rng("T1.4")
    labels = np.repeat(np.arange(3), 2)
    fixed = np.array(T1_4_CODES)
    cases = [fixed]
    while len(cases) < ctx.pick(6, 40):
        C = _collinear_off_origin(rng)
        if C is not None:
            cases.append(C)
    bad, fixed_evidence = [], None
    for i, C in enumerate(cases):
        Z = C[labels]
        if i == 0:
            W = np.array([[w, 0.0] for w, _ in T1_4_SCORES])
            b = np.array([c for _, c in T1_4_SCORES])
        else:
            W, b = _line_probe(C)
        cond = literal_conditions(Z, labels, W, b)
        middle = linearly_separable(Z, np.array([0, 1, 0])[labels])
        shared_point = hulls_intersect(C, np.array([False, True, False]))
        lib_ideal = _ideal_ok(Z, labels, "linear")
        row = {
            "codes": C.tolist(),
            **cond,
            "middle_vs_ends_separable": middle,
            "middle_code_in_hull_of_ends": shared_point,
            "is_ideal_linear": lib_ideal,
        }
        if i == 0:
            fixed_evidence = {
                **row,
                "scores": "-2z+1, 0, 2z-3 (z = first coordinate)",
                "score_values_at_codes": (C[:, :1] @ W[:, :1].T + b).tolist(),
            }
        literal_holds = cond["i_M_argmax_predictable"] and cond["ii_invariant"] and cond["iii_span_at_least_K_minus_1"]
        if not literal_holds or middle or not shared_point or lib_ideal:
            bad.append(row)
    # the old example: collinear through the origin spans 1 dimension, so (iii) fails
    old = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    old_span = exact_linear_span_dim(old)
    if old_span != 1:
        bad.append({"codes": old.tolist(), "iii_span_dim": old_span})
    # the strong reading implies the literal conditions: affinely independent codes (exact rank K - 1)
    strong = 0
    for K, d, C, cls, Z in _t1_instances(ctx, "T1.4/strong", ctx.pick(12, 50)):
        if exact_affine_rank(C) != K - 1:
            continue
        strong += 1
        W, b = pinv_probe(C, np.arange(K), K)
        cond = literal_conditions(Z, cls, W, b)
        if not (cond["i_M_argmax_predictable"] and cond["ii_invariant"] and cond["iii_span_at_least_K_minus_1"]):
            bad.append({"strong_reading_codes": C.tolist(), **cond})
    return Outcome(
        "pass" if not bad else "fail",
        f"literal Theorem 1 contradicted: (0,1),(1,1),(2,1) meet (i)-(iii) (span 2 = K-1, scores -2z+1, 0, 2z-3), "
        f"middle vs ends not separable; {len(cases) - 1} more off-origin collinear triples alike; "
        f"strong reading implies (i)-(iii) on {strong} encoders",
        {
            "literal_reading": "not sufficient" if not bad else "the check failed: see counterexamples",
            "fixed_case": fixed_evidence,
            "random_collinear_triples": len(cases) - 1,
            "old_example": {
                "codes": old.tolist(),
                "iii_span_dim": old_span,
                "note": "spans 1 < K - 1 = 2: fails (iii), so it does not contradict the literal statement",
            },
            "strong_reading_encoders": strong,
            "counterexamples": bad[:3],
        },
        seeds=[ctx.seed],
    )


# --------------------------------------------------------------------------- T2


def relu_interpolator(u: np.ndarray, knots: np.ndarray, targets: np.ndarray):
    """The width-(K-1) one-hidden-layer ReLU network f(z) = A relu(W1 z + b1) + a0 with
    f(c_m) = targets[m] [derived, docs/THEORY.md T2].

    Args:
        u: (d,) projection direction keeping the K class codes distinct.
        knots: (K,) strictly increasing projections u . c_m (classes sorted by projection).
        targets: (K, k) values to interpolate, in the same order.
    Returns:
        (W1 (K-1, d), b1 (K-1,), A (k, K-1), a0 (k,)): the piecewise-linear interpolant along u,
        slope (targets[j+1] - targets[j]) / (knots[j+1] - knots[j]) between consecutive knots.
    """
    slopes = np.diff(targets, axis=0) / np.diff(knots)[:, None]  # (K-1, k)
    A = np.diff(np.vstack([np.zeros((1, targets.shape[1])), slopes]), axis=0).T  # (k, K-1)
    W1 = np.tile(u, (len(knots) - 1, 1))
    b1 = -knots[:-1]
    return W1, b1, A, targets[0].copy()


def _relu_net(params, Z: np.ndarray) -> np.ndarray:
    W1, b1, A, a0 = params
    return np.maximum(Z @ W1.T + b1, 0.0) @ A.T + a0


def check_t2(ctx: CheckContext) -> Outcome:
    """(i) By enumeration of every binary task on small integer codes with collisions: every task
    is UNI-realizable (a function of the code exists) iff no code is shared by two classes; the
    library's `is_ideal(probe="universal")`, which also requires invariance, agrees. (ii) For invariant
    encoders with distinct class codes (d = 1..5, K up to 8 / 24), the explicit width-(K-1) ReLU
    network built along a random projection realizes random tasks (k = 2..K) with margin 0.5 on every point."""
    rng = ctx.rng("T2")
    bad, n_shared, n_distinct = [], 0, 0
    for i in range(ctx.pick(25, 150)):
        K = int(rng.integers(2, 6))
        labels = np.repeat(np.arange(K), rng.integers(1, 3, size=K))
        Z = rng.integers(0, 3, size=(len(labels), int(rng.integers(1, 3)))).astype(float)
        codes = [tuple(z) for z in Z]
        shared = any(
            labels[a] != labels[b] for a, b in itertools.combinations(range(len(codes)), 2) if codes[a] == codes[b]
        )
        every = True
        for task in itertools.product(range(2), repeat=K):
            y = np.asarray(task)[labels]
            label_of = {}
            if any(label_of.setdefault(c, yy) != yy for c, yy in zip(codes, y)):
                every = False
                break
        # is_ideal also requires invariance (sample optimality, T3), so it must say "ideal" exactly
        # when every task is realizable and the encoder is invariant
        invariant = all(
            codes[a] == codes[b] for a, b in itertools.combinations(range(len(codes)), 2) if labels[a] == labels[b]
        )
        lib = _ideal_ok(Z, labels, "universal")
        n_shared += shared
        if every == shared or lib != (every and invariant):
            bad.append(
                {
                    "part": "enumeration",
                    "codes": Z.tolist(),
                    "classes": labels.tolist(),
                    "every_task_realizable": every,
                    "code_shared_by_two_classes": shared,
                    "invariant": invariant,
                    "is_ideal_universal": lib,
                }
            )
    n_nets = 0
    for i in range(ctx.pick(12, 60)):
        K = int(rng.integers(2, ctx.pick(9, 25)))
        d = int(rng.integers(1, 6))
        C = rng.integers(-3, 4, size=(K, d)).astype(float)
        if len({tuple(c) for c in C}) < K:
            continue  # the construction is for pairwise distinct class codes
        n_distinct += 1
        labels = np.repeat(np.arange(K), rng.integers(1, 3, size=K))
        Z = C[labels]
        for _ in range(20):  # a random direction keeps the distinct codes distinct almost surely
            u = rng.normal(size=d)
            proj = C @ u
            if np.min(np.diff(np.sort(proj))) > 1e-6 * (1 + np.abs(proj).max()):
                break
        order = np.argsort(proj)
        for _ in range(3):
            k = int(rng.integers(2, K + 1))
            task = rng.integers(0, k, size=K)
            params = relu_interpolator(u, proj[order], np.eye(k)[task[order]])
            n_nets += 1
            outputs = _relu_net(params, Z)  # (n, k); identity scores on top: argmax of the outputs
            ok = _realizes(np.eye(k), np.zeros(k), outputs, task[labels], margin=0.5)
            if not ok or params[0].shape[0] > K:
                bad.append({"part": "relu", "codes": C.tolist(), "task": task.tolist(), "width": params[0].shape[0]})
    return Outcome(
        "pass" if not bad else "fail",
        f"enumeration and {n_nets} ReLU interpolators (width <= K-1) agree with T2; {len(bad)} counterexamples",
        {
            "enumerated_encoders_with_shared_codes": n_shared,
            "distinct_code_encoders": n_distinct,
            "networks_checked": n_nets,
            "counterexamples": bad[:3],
        },
        seeds=[ctx.seed],
    )


# --------------------------------------------------------------------------- T5


def cover_formula(N: int, d: int) -> int:
    """2 sum_{i=0}^{d} binom(N-1, i), written out here to compare with the library's."""
    return 2 * sum(math.comb(N - 1, i) for i in range(d + 1))


def count_dichotomies(Z: np.ndarray) -> int:
    """Number of the 2^N labelings of the rows of Z that an affine probe realizes, by LP; labelings
    are enumerated up to complement (y and 1 - y are both realizable or neither)."""
    N = len(Z)
    count = 0
    for bits in itertools.product((0, 1), repeat=N - 1):
        y = np.array((0,) + bits)
        count += 2 * linearly_separable(Z, y)
    return count


def check_t5(ctx: CheckContext) -> Outcome:
    """Enumerated LIN-realizable dichotomies of N Gaussian points in R^d equal
    2 sum_{i<=d} binom(N-1, i) and the library's `cover_count`; the count is 2^N iff N <= d + 1."""
    from ssltheory.conditions import cover_count

    rng = ctx.rng("T5")
    cases = ctx.pick(
        [(5, 1), (6, 2), (6, 3), (7, 2), (5, 4), (7, 5)],
        [(5, 1), (6, 2), (6, 3), (7, 2), (5, 4), (7, 5), (9, 3), (10, 4), (10, 8), (11, 2)],
    )
    rows, bad = [], []
    for N, d in cases:
        Z = rng.normal(size=(N, d))
        counted, formula, lib = count_dichotomies(Z), cover_formula(N, d), int(cover_count(N, d))
        rows.append({"N": N, "d": d, "enumerated": counted, "formula": formula, "cover_count": lib})
        if not counted == formula == lib:
            bad.append(rows[-1])
    iff_bad = [
        (N, d)
        for N in range(1, 31)
        for d in range(1, 31)
        if (cover_formula(N, d) == 2**N) != (N <= d + 1) or int(cover_count(N, d)) != cover_formula(N, d)
    ]
    ten_in_eight = next((r["enumerated"] for r in rows if (r["N"], r["d"]) == (10, 8)), None)
    return Outcome(
        "pass" if not bad and not iff_bad else "fail",
        ", ".join(f"N={r['N']},d={r['d']}: {r['enumerated']}" for r in rows[:4])
        + (f", 10 in R^8: {ten_in_eight}/1024" if ten_in_eight is not None else ""),
        {"cases": rows, "mismatches": bad, "iff_2^N_violations": iff_bad[:5]},
        seeds=[ctx.seed],
    )


# --------------------------------------------------------------------------- registration

register(
    "T1.1",
    "Every invariant binary task is LIN-realizable iff, for every split S of the classes, "
    "conv{z: M(x) in S} and conv{z: M(x) not in S} are disjoint.",
    "paper",
    group="theory",
    check=check_t1_1,
)
register(
    "T1.2",
    "For invariant phi: every task (any k) LIN-realizable <=> every binary task <=> class codes "
    "affinely independent (rank K-1); so d >= K-1 is necessary.",
    "paper",
    group="theory",
    check=check_t1_2,
)
register(
    "T1.3",
    "Certificates: a null vector of [(c_m, 1)] gives an unrealizable task (shared hull point); "
    "for independent codes the pseudo-inverse probe realizes any task.",
    "derived",
    group="theory",
    check=check_t1_3,
)
register(
    "T1.4",
    "Theorem 1 in the paper's words ((i) M = f(phi(X)) for an argmax-affine f, (ii) invariance, (iii) "
    "dim span{phi(x)} >= K-1) is not sufficient: codes (0,1),(1,1),(2,1) meet (i)-(iii), yet 'middle vs ends' "
    "is not LIN-realizable; so the toolkit encodes the strong reading (affinely independent class codes), "
    "which implies (i)-(iii).",
    "derived",
    group="theory",
    check=check_t1_4,
    paper_value="Thm 1 (sec. 3.1): (i)-(iii) <=> sample optimal",
)
register(
    "T2",
    "Every invariant task is UNI-realizable iff no code is shared by two classes; d = 1 suffices, "
    "via a projection and a width-K ReLU interpolator.",
    "paper",
    group="theory",
    check=check_t2,
)
register(
    "T5",
    "N points in general position in R^d have 2*sum_{i<=d} C(N-1,i) LIN-realizable dichotomies; "
    "2^N iff N <= d+1 (10 codes in R^8: 1022/1024).",
    "derived",
    group="theory",
    check=check_t5,
    paper_value="1022/1024 for N=10, d=8",
)
