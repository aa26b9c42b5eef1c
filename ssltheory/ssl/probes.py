"""Probes on frozen, un-augmented features (the ``ssltheory probe RUN`` command is ``ssltheory.commands.probe``).

The paper scores a representation by how well a probe family F fits invariant tasks (THEORY.md
section 0: LIN, UNI; kNN and bounded MLPs as extensions). Here the probes are fitted on the
labelled training split and every hyperparameter (weight decay, MLP epoch, k) is chosen on a
validation split, never on test: docs/REFERENCE.md notes that the authors' code picks them on test.

- :func:`extract_features`: encoder + images -> float32 features (N, d).
- :class:`LinearProbe`: multinomial logistic regression (LIN), full batch, L-BFGS in torch with a
  feature-covariance preconditioner, started from LDA and warm-started along a weight-decay grid.
- :class:`MLPProbe`: two hidden layers with BatchNorm (docs/REFERENCE.md: 2048 wide), Adam, the epoch
  chosen on validation (a finite stand-in for UNI).
- :class:`KNNProbe`: cosine k-nearest neighbours.

Estimators follow scikit-learn: ``fit(X, y)`` / ``predict`` / ``score`` and ``random_state``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.augment import Normalize, default_normalization
from ssltheory.ssl.data import load_dataset, stratified_indices
from ssltheory.ssl.runs import load_run
from ssltheory.validation import as_features, as_labels

#: Default weight-decay grid of the linear probe, strongest first (the warm-start direction).
DEFAULT_WEIGHT_DECAYS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


# --------------------------------------------------------------------------------------------
# validation helpers


def _as_features(X, name: str = "X") -> np.ndarray:
    """The shared feature check (:func:`ssltheory.validation.as_features`) as float32, torch accepted."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    return as_features(X, name, dtype=np.float32)


def _as_targets(y, n: int, name: str = "y") -> np.ndarray:
    """The shared label check (:func:`ssltheory.validation.as_labels`), torch accepted."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    return as_labels(y, n, name, other="the feature matrix", unit="rows")


def _check_fitted(estimator, attr: str = "classes_"):
    if not hasattr(estimator, attr):
        raise InputError(f"this {type(estimator).__name__} is not fitted yet; call fit first")


class ProbeAccuracy:
    """``score(X, y)``, the one accuracy of every probe here: the fraction of the labels y (n,)
    that ``predict(X)`` gets right on features X (n, d) (scikit-learn's ``score`` of a classifier)."""

    def score(self, X, y) -> float:
        X = _as_features(X)
        y = _as_targets(y, len(X))
        return float((self.predict(X) == y).mean())


def _encode(y: np.ndarray, classes: np.ndarray, name: str) -> np.ndarray:
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    if not np.all(classes[idx] == y):
        raise InputError(f"{name} has labels not seen in the training labels: {sorted(set(y) - set(classes))[:5]}")
    return idx


def _validation_split(y: np.ndarray, fraction: float, random_state: int):
    """Stratified (fit, val) index arrays; classes with one member stay in fit."""
    counts = np.bincount(y)
    val = stratified_indices(y, fraction, random_state)
    val = val[counts[y[val]] >= 2]
    return np.setdiff1d(np.arange(len(y)), val), val


# --------------------------------------------------------------------------------------------
# features


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    images,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    keep_on_device: bool = False,
):
    """Frozen features of ``images``: the encoder in eval mode, no augmentation, no gradients.

    Args:
        encoder: maps a float batch (B, C, H, W) to (B, d) (or to something flattened to that).
        images: uint8 or float (N, C, H, W), tensor or array; uint8 is divided by 255.
        batch_size: images per forward pass.
        device: where the encoder runs (the encoder is moved there).
        transform: applied to each [0, 1] float batch on the device before the encoder, e.g. the
            run's :class:`~ssltheory.ssl.augment.Normalize`.

        keep_on_device: return a float32 torch tensor on ``device`` instead of a host array (the
            scoring engine then computes on the device).

    Returns:
        float32 numpy array (N, d) (or tensor, see ``keep_on_device``). The encoder's train/eval
        mode is restored afterwards.
    """
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images))
    if images.ndim != 4:
        raise InputError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if len(images) == 0:
        raise InputError("images is empty")
    if int(batch_size) != batch_size or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = torch.device(device)
    was_training = encoder.training
    encoder.eval().to(device)
    chunks = []
    try:
        for start in range(0, len(images), int(batch_size)):
            x = images[start : start + int(batch_size)].to(device)
            x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
            if transform is not None:
                x = transform(x)
            z = encoder(x)
            z = z.reshape(len(x), -1).float()
            chunks.append(z if keep_on_device else z.cpu())
    finally:
        encoder.train(was_training)
    return torch.cat(chunks) if keep_on_device else torch.cat(chunks).numpy()


# --------------------------------------------------------------------------------------------
# linear probe


class LinearProbe(ProbeAccuracy):
    """Multinomial logistic regression on standardised features (the LIN probe family).

    Objective, for one weight decay lam (standardised features x, W of shape (k, d), bias b):

        mean_i CE(softmax(W x_i + b), y_i) + lam / 2 * ||W||_F^2        (bias not penalised)

    which is scikit-learn's ``LogisticRegression(C=1 / (lam * n_train))`` on the same standardised
    features. Solved full batch in float32 by L-BFGS (Armijo backtracking) whose initial inverse
    Hessian is (alpha * Cov(x) + lam)^-1 per class, alpha = 1 / k, the curvature of the softmax at
    uniform predictions: a Newton-like step for the quadratic part of the loss. The first fit
    starts from linear discriminant analysis (``_Problem.lda_start``); along a grid of weight
    decays (strongest first) each later fit starts from the previous solution; the one with the
    best validation accuracy is kept (ties: the stronger decay).

    Args:
        weight_decay: one value (no selection), a sequence (grid), or None for
            :data:`DEFAULT_WEIGHT_DECAYS`.
        max_iter: L-BFGS iterations per weight decay.
        tol: stop when the largest gradient entry is below ``tol`` or the objective changes by less
            than ``tol * 1e-3`` relative.
        validation_fraction: held out of the fit data (stratified) for the selection when
            ``fit`` gets no validation set; the chosen decay is then refitted on all fit data.
        standardize: centre and scale features with the training mean / std.
        device: torch device of the solver.
        random_state: seed of the validation split.

    Attributes after fit: ``classes_``, ``weight_decay_``, ``val_accuracy_`` (None without
    selection), ``val_scores_`` (decay -> validation accuracy), ``coef_`` (k, d) and
    ``intercept_`` (k,) in the original feature scale, ``n_iter_``.

    Usage::

        probe = LinearProbe().fit(Z_train, y_train, Z_val, y_val)
        test_accuracy = probe.score(Z_test, y_test)
    """

    def __init__(
        self,
        weight_decay: float | Sequence[float] | None = None,
        *,
        max_iter: int = 300,
        tol: float = 1e-4,
        validation_fraction: float = 0.1,
        standardize: bool = True,
        device: str | torch.device = "cpu",
        random_state: int = 0,
    ):
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.device = device
        self.random_state = random_state

    def _grid(self) -> list[float]:
        wd = self.weight_decay
        grid = list(DEFAULT_WEIGHT_DECAYS) if wd is None else ([wd] if np.isscalar(wd) else list(wd))
        if not grid or any(not (math.isfinite(float(v)) and float(v) >= 0) for v in grid):
            raise InputError(f"weight_decay must be non-negative finite values, got {wd!r}")
        return sorted((float(v) for v in grid), reverse=True)

    def fit(self, X, y, X_val=None, y_val=None) -> "LinearProbe":
        """Fit on features X (n, d) and labels y (n,); select the weight decay on (X_val, y_val),
        or on a stratified ``validation_fraction`` of X when they are not given."""
        X = _as_features(X)
        y = _as_targets(y, len(X))
        grid = self._grid()
        if self.max_iter < 1:
            raise InputError(f"max_iter must be positive, got {self.max_iter}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise InputError("y has a single class; a probe needs at least 2")
        yi = np.searchsorted(self.classes_, y)
        internal = X_val is None and len(grid) > 1
        if X_val is not None:
            X_val = _as_features(X_val, "X_val")
            if X_val.shape[1] != X.shape[1]:
                raise InputError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
            if y_val is None:
                raise InputError("X_val is given but y_val is not")
            y_val = _encode(_as_targets(y_val, len(X_val), "y_val"), self.classes_, "y_val")
            fit_idx = np.arange(len(X))
        elif internal:
            if not 0 < self.validation_fraction < 1:
                raise InputError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
            fit_idx, val_idx = _validation_split(yi, self.validation_fraction, self.random_state)
            X_val, y_val = X[val_idx], yi[val_idx]
        else:
            fit_idx = np.arange(len(X))

        device = torch.device(self.device)
        k = len(self.classes_)
        problem = _Problem(X if len(fit_idx) == len(X) else X[fit_idx], yi[fit_idx], k, self.standardize, device)
        mean, scale = problem.mean, problem.scale
        Xv = None if X_val is None else (torch.from_numpy(np.ascontiguousarray(X_val)).to(device) - mean) / scale
        params = problem.lda_start()
        self.val_scores_ = {}
        self.n_iter_ = {}
        best = None
        for lam in grid:
            params, n_iter = problem.solve(lam, params, self.max_iter, self.tol)
            self.n_iter_[lam] = n_iter
            if Xv is None:
                best = (lam, None, params)
                continue
            acc = float((_logits(Xv, params).argmax(1).cpu().numpy() == y_val).mean())
            self.val_scores_[lam] = acc
            if best is None or acc > best[1]:
                best = (lam, acc, params)
        self.weight_decay_, self.val_accuracy_, params = best
        if internal:  # refit the chosen decay on every fit example, from the chosen solution
            problem = _Problem(X, yi, k, self.standardize, device)
            mean, scale = problem.mean, problem.scale
            params, _ = problem.solve(self.weight_decay_, params, self.max_iter, self.tol)
        W, b = params[:, :-1], params[:, -1]
        self._mean, self._scale, self._params = mean, scale, params
        self.coef_ = (W / scale).cpu().numpy().astype(np.float64)
        self.intercept_ = (b - W @ (mean / scale)).cpu().numpy().astype(np.float64)
        return self

    def decision_function(self, X) -> np.ndarray:
        """Scores W x + b, float (n, k), columns in ``classes_`` order."""
        _check_fitted(self, "_params")
        X = _as_features(X)
        if X.shape[1] != self.coef_.shape[1]:
            raise InputError(f"X has {X.shape[1]} features but the probe was fitted on {self.coef_.shape[1]}")
        Xt = (torch.from_numpy(np.ascontiguousarray(X)).to(self._mean.device) - self._mean) / self._scale
        return _logits(Xt, self._params).cpu().numpy()

    def predict_proba(self, X) -> np.ndarray:
        return torch.softmax(torch.from_numpy(self.decision_function(X)), 1).numpy()

    def predict(self, X) -> np.ndarray:
        _check_fitted(self, "_params")
        return self.classes_[self.decision_function(X).argmax(1)]


def _logits(X: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Scores (n, k) of features X (n, d) under params (k, d + 1) = [W | b]."""
    return torch.addmm(params[:, -1], X, params[:, :-1].T)


#: Ridge of the LDA starting point, relative to the mean eigenvalue of the feature covariance
#: (chosen on the benchmark's mixtures: 0.01-0.03 start closest to the optimum; 0.1 and above
#: approach the zero start).
LDA_RIDGE = 0.03

#: Rows per block of the CPU evaluation and of the column statistics (a block of d = 512 float32
#: features is 2 MiB): float32 sums over a block, float64 across blocks.
_CPU_BLOCK_ROWS = 1024


def _covariance_eig(X: np.ndarray, max_rows: int = 4096, max_dim: int = 4096):
    """Eigen-decomposition (eigenvalues (d,), eigenvectors (d, d), float32 torch tensors) of the
    second-moment matrix of the standardised features X (n, d), estimated on at most
    ``max_rows`` evenly spaced rows: it only preconditions, so an estimate suffices, but far
    fewer rows (~ 4 d or less) under-estimate the small eigenvalues and the solver then needs
    many more iterations. Above ``max_dim`` features the decomposition costs more than it saves:
    (None, None), i.e. the preconditioner treats the standardised features as uncorrelated.

    The product is numpy's (its BLAS recognises S^T S as a symmetric rank-k update, half the
    work of torch's general product on one CPU thread)."""
    if X.shape[1] > max_dim:
        return None, None
    S = np.ascontiguousarray(X[:: -(-len(X) // max_rows)])
    cov = torch.from_numpy((S.T @ S) / np.float32(len(S)))
    eigval, eigvec = torch.linalg.eigh(cov)
    return eigval.clamp_min(0), eigvec


def _column_sums(X: np.ndarray, square: bool) -> np.ndarray:
    """Float64 (d,) sums of the columns of X (n, d) (of their squares when ``square``): float32
    sums within blocks of rows, float64 across blocks (rounding error ~ block size * eps, not
    n * eps, at the speed of a float32 reduction)."""
    total = np.zeros(X.shape[1])
    for start in range(0, len(X), _CPU_BLOCK_ROWS):
        block = X[start : start + _CPU_BLOCK_ROWS]
        total += np.einsum("ij,ij->j", block, block) if square else block.sum(0)
    return total


def _standardize(X: np.ndarray, standardize: bool):
    """(standardised copy of X (n, d) float32, mean (d,), scale (d,)) with the training mean and
    the population standard deviation (scale 1 where a feature is constant; mean 0 and scale 1
    without standardisation), as scikit-learn's ``StandardScaler``.

    In numpy on purpose: column reductions over a row-major (n, d) array are an order of magnitude
    faster there than torch's ``var_mean(dim=0)`` on one CPU thread, and no transposed copy is
    needed."""
    n, d = X.shape
    if not standardize:
        return np.array(X, dtype=np.float32, order="C"), np.zeros(d, np.float32), np.ones(d, np.float32)
    mean = (_column_sums(X, square=False) / n).astype(np.float32)
    centred = np.subtract(X, mean, dtype=np.float32)
    std = np.sqrt(_column_sums(centred, square=True) / n)
    scale = np.where(std > 1e-12, std, 1.0).astype(np.float32)
    centred *= 1.0 / scale
    return centred, mean, scale


class _Problem:
    """Standardised features X (n, d), labels and the preconditioner's eigenbasis, shared by the
    fits along the weight-decay grid.

    ``mean`` and ``scale`` (d,) are torch tensors on ``device``: the training mean and population
    standard deviation (see :func:`_standardize`)."""

    def __init__(self, X_raw: np.ndarray, y: np.ndarray, k: int, standardize: bool, device: torch.device):
        X, mean, scale = _standardize(X_raw, standardize)
        eigval, eigvec = _covariance_eig(X)
        self.eigval, self.eigvec = (None, None) if eigvec is None else (eigval.to(device), eigvec.to(device))
        self.mean, self.scale = torch.from_numpy(mean).to(device), torch.from_numpy(scale).to(device)
        self.X, self.y, self.k = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device), k

    def lda_start(self) -> torch.Tensor:
        """Starting parameters (k, d + 1) = [W | b]: linear discriminant analysis with the total
        covariance, W_c = (Cov + r I)^-1 mu_c and b_c = -W_c . mu_c / 2 + log pi_c (class means
        mu_c and frequencies pi_c of the standardised features; r = LDA_RIDGE times the mean
        eigenvalue). [derived] For Gaussian classes sharing a covariance this is the Bayes
        posterior's softmax, so it starts the solver near the logistic optimum: on the
        benchmark's mixtures it saves 3-5 of 10-25 L-BFGS iterations against a zero start. The
        total covariance (between-class scatter included) keeps W bounded when the classes are
        separable, where the within-class covariance would make it huge."""
        k, (n, d) = self.k, self.X.shape
        counts = torch.bincount(self.y, minlength=k).to(self.X.dtype)
        means = torch.zeros(k, d, dtype=self.X.dtype, device=self.X.device).index_add_(0, self.y, self.X)
        means /= counts.clamp_min(1)[:, None]  # a class absent from these rows starts at W_c = 0
        if self.eigvec is None:
            W = means / (1.0 + LDA_RIDGE)
        else:
            ridge = LDA_RIDGE * float(self.eigval.mean())
            W = ((means @ self.eigvec) / (self.eigval + ridge)) @ self.eigvec.T
        b = torch.log(counts.clamp_min(0.5) / n) - 0.5 * (W * means).sum(1)
        return torch.cat([W, b[:, None]], 1)

    def solve(self, lam: float, params: torch.Tensor, max_iter: int, tol: float):
        """Fit weight decay ``lam`` from ``params`` (k, d + 1). Returns (params, iterations)."""
        return _fit_softmax(self.X, self.y, self.k, lam, params, self.eigval, self.eigvec, max_iter, tol)


def _fit_softmax(
    X: torch.Tensor,
    y: torch.Tensor,
    k: int,
    lam: float,
    params0: torch.Tensor,
    eigval: torch.Tensor,
    eigvec: torch.Tensor,
    max_iter: int,
    tol: float,
):
    """Minimise mean CE + lam/2 ||W||^2 over params (k, d + 1) = [W | b] by preconditioned L-BFGS.

    X is (n, d), y (n,) class indices. One evaluation costs two matrix products with X (the
    logits and the gradient R^T X, R the softmax residual); everything else is O(nk). On a CPU
    both products run on the same block of rows while it is in cache (one pass over X instead of
    two), with the small matrix on the left (logits^T = W X_b^T, (k, rows)): 10-20% faster per
    evaluation than two whole-matrix products at d = 512 and k = 10 or 100 on one thread. On an
    accelerator the whole of X is one block. Returns (params, iterations)."""
    n, d = X.shape
    rows = _CPU_BLOCK_ROWS if X.device.type == "cpu" else n
    blocks = [(X[s : s + rows], y[s : s + rows].view(1, -1)) for s in range(0, n, rows)]
    minus_one = torch.full((1, min(rows, n)), -1.0, dtype=X.dtype, device=X.device)
    alpha = 1.0 / k
    inv_b = 1.0 / alpha
    if eigvec is None:
        inv_diag = 1.0 / (alpha + lam)
    else:
        inv_w = 1.0 / (alpha * eigval + lam + 1e-6 * alpha)  # (d,)

    def value_and_grad(p):
        W, b = p[:, :-1].contiguous(), p[:, -1:].contiguous()  # (k, d), (k, 1)
        grad_w = torch.zeros_like(W)
        grad_b = torch.zeros_like(b)
        cross_entropy = torch.zeros((), dtype=X.dtype, device=X.device)
        for Xb, yb in blocks:
            logits = torch.addmm(b, W, Xb.T)  # (k, rows)
            cross_entropy -= logits.gather(0, yb).sum()
            top = logits.amax(0)  # (rows,); amax + exp + sum is faster than logsumexp, then exp
            resid = logits.sub_(top).exp_()
            total = resid.sum(0)
            cross_entropy += (top + total.log()).sum()
            resid.div_(total)  # softmax, in place of the logits
            resid.scatter_add_(0, yb, minus_one[:, : yb.shape[1]])  # minus the one-hot labels
            grad_w.addmm_(resid, Xb)
            grad_b.add_(resid.sum(1, keepdim=True))
        grad = torch.cat([grad_w.add_(W, alpha=lam * n), grad_b], 1).div_(n)
        loss = cross_entropy / n + 0.5 * lam * (W**2).sum()
        return loss, grad

    def precondition(g):
        out = torch.empty_like(g)
        if eigvec is None:
            out[:, :-1] = inv_diag * g[:, :-1]
        else:
            out[:, :-1] = ((g[:, :-1] @ eigvec) * inv_w) @ eigvec.T
        out[:, -1] = inv_b * g[:, -1]
        return out

    return _lbfgs(value_and_grad, params0.clone(), precondition, max_iter, tol)


def _lbfgs(value_and_grad, x, precondition, max_iter: int, tol: float, history: int = 10):
    """Minimise a smooth convex function by L-BFGS with initial inverse Hessian
    gamma * precondition(.) and Armijo backtracking. Returns (x, iterations)."""
    f, g = value_and_grad(x)
    pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []
    gamma = 1.0
    it = 0
    for it in range(1, max_iter + 1):
        if g.abs().max().item() <= tol:
            return x, it - 1
        q = g.clone()
        alphas = []
        for s, yv, rho in reversed(pairs):
            a = rho * torch.sum(s * q)
            q -= a * yv
            alphas.append(a)
        r = gamma * precondition(q)
        for (s, yv, rho), a in zip(pairs, reversed(alphas)):
            b = rho * torch.sum(yv * r)
            r += (a - b) * s
        direction = -r
        slope = torch.sum(g * direction).item()
        if slope >= 0:  # not a descent direction: restart from the preconditioned gradient
            pairs.clear()
            direction = -precondition(g)
            slope = torch.sum(g * direction).item()
        step = 1.0
        while True:
            x_new = x + step * direction
            f_new, g_new = value_and_grad(x_new)
            if f_new.item() <= f.item() + 1e-4 * step * slope or step < 1e-8:
                break
            step *= 0.5
        s, yv = x_new - x, g_new - g
        sy = torch.sum(s * yv).item()
        if sy > 1e-10:
            pairs.append((s, yv, 1.0 / sy))
            if len(pairs) > history:
                pairs.pop(0)
            gamma = sy / torch.sum(yv * precondition(yv)).item()
        decrease = f.item() - f_new.item()
        x, f, g = x_new, f_new, g_new
        if len(pairs) > 1 and 0 <= decrease <= 1e-3 * tol * max(1.0, abs(f.item())):
            return x, it
    return x, it


# --------------------------------------------------------------------------------------------
# MLP probe


class MLPProbe(ProbeAccuracy):
    """Two hidden layers with BatchNorm and ReLU, then a linear layer (docs/REFERENCE.md's MLP probe,
    2048 wide; narrower is fine on a CPU). A finite member of THEORY.md's UNI family.

    Trained with Adam (cosine learning rate) on standardised features, minibatches of
    ``batch_size``; after each epoch the validation accuracy is measured and the weights of the best
    epoch are kept (early stopping chosen on validation, never on test).

    Args:
        hidden: widths of the two hidden layers (an int means both).
        epochs, batch_size, lr, weight_decay: optimisation.
        validation_fraction: held out of the fit data when ``fit`` gets no validation set.
        device, random_state: where it trains; the seed of the init, the batches and the split.

    Attributes after fit: ``classes_``, ``best_epoch_``, ``val_accuracy_``, ``model_``.
    """

    def __init__(
        self,
        hidden: int | Sequence[int] = 2048,
        *,
        epochs: int = 50,
        batch_size: int = 512,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        validation_fraction: float = 0.1,
        device: str | torch.device = "cpu",
        random_state: int = 0,
    ):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def fit(self, X, y, X_val=None, y_val=None) -> "MLPProbe":
        """Fit on features X (n, d) and labels y (n,); keep the epoch with the best accuracy on
        (X_val, y_val), or on a stratified ``validation_fraction`` of X when they are not given.
        """
        X = _as_features(X)
        y = _as_targets(y, len(X))
        hidden = (self.hidden, self.hidden) if np.isscalar(self.hidden) else tuple(self.hidden)
        if len(hidden) != 2 or min(hidden) < 1:
            raise InputError(f"hidden must be a positive width or two widths, got {self.hidden!r}")
        if self.epochs < 1 or self.batch_size < 2:
            raise InputError(f"need epochs >= 1 and batch_size >= 2, got {self.epochs} and {self.batch_size}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise InputError("y has a single class; a probe needs at least 2")
        yi = np.searchsorted(self.classes_, y)
        if X_val is None:
            fit_idx, val_idx = _validation_split(yi, self.validation_fraction, self.random_state)
            X_val, y_val = X[val_idx], yi[val_idx]
            X, yi = X[fit_idx], yi[fit_idx]
        else:
            X_val = _as_features(X_val, "X_val")
            if y_val is None:
                raise InputError("X_val is given but y_val is not")
            y_val = _encode(_as_targets(y_val, len(X_val), "y_val"), self.classes_, "y_val")
        device = torch.device(self.device)
        torch_gen = torch.Generator().manual_seed(self.random_state)
        Xt = torch.from_numpy(np.ascontiguousarray(X))
        self._mean = Xt.mean(0).to(device)
        std = Xt.std(0, unbiased=False)
        self._scale = torch.where(std > 1e-12, std, torch.ones_like(std)).to(device)
        Xt = (Xt.to(device) - self._mean) / self._scale
        yt = torch.from_numpy(yi).to(device)
        Xv = (torch.from_numpy(np.ascontiguousarray(X_val)).to(device) - self._mean) / self._scale
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            model = nn.Sequential(
                nn.Linear(X.shape[1], hidden[0]),
                nn.BatchNorm1d(hidden[0]),
                nn.ReLU(inplace=True),
                nn.Linear(hidden[0], hidden[1]),
                nn.BatchNorm1d(hidden[1]),
                nn.ReLU(inplace=True),
                nn.Linear(hidden[1], len(self.classes_)),
            ).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        batch = min(self.batch_size, len(Xt))
        steps_per_epoch = max(1, len(Xt) // batch)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs * steps_per_epoch)
        best_acc, best_state, best_epoch = -1.0, None, 0
        for epoch in range(1, self.epochs + 1):
            model.train()
            order = torch.randperm(len(Xt), generator=torch_gen).to(device)
            for s in range(steps_per_epoch):
                idx = order[s * batch : (s + 1) * batch]
                loss = F.cross_entropy(model(Xt[idx]), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            model.eval()
            with torch.no_grad():
                acc = float((model(Xv).argmax(1).cpu().numpy() == y_val).mean()) if len(Xv) else 0.0
            if acc > best_acc:
                best_acc, best_epoch = acc, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(best_state)
        self.model_ = model.eval()
        self.best_epoch_, self.val_accuracy_ = best_epoch, best_acc
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted labels (n,) of features X (n, d), in the labels' own values."""
        _check_fitted(self, "model_")
        X = _as_features(X)
        with torch.no_grad():
            Xt = (torch.from_numpy(np.ascontiguousarray(X)).to(self._mean.device) - self._mean) / self._scale
            return self.classes_[self.model_(Xt).argmax(1).cpu().numpy()]


# --------------------------------------------------------------------------------------------
# kNN probe


class KNNProbe(ProbeAccuracy):
    """Cosine k-nearest-neighbour classifier on features (an extension probe family).

    Each query takes the k training points of largest cosine similarity; the vote is uniform
    (``temperature=None``; ties go to the smallest label, as in scikit-learn) or weighted by
    exp(similarity / temperature) (the DINO kNN, temperature 0.07). ``k`` may be a sequence: the
    value with the best validation accuracy is chosen (on ``X_val`` or a stratified
    ``validation_fraction`` of the fit data, which is then put back for prediction).

    Attributes after fit: ``classes_``, ``k_``, ``val_scores_`` (k -> validation accuracy).
    """

    def __init__(
        self,
        k: int | Sequence[int] = 20,
        *,
        temperature: float | None = None,
        validation_fraction: float = 0.1,
        batch_size: int = 1024,
        device: str | torch.device = "cpu",
        random_state: int = 0,
    ):
        self.k = k
        self.temperature = temperature
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def fit(self, X, y, X_val=None, y_val=None) -> "KNNProbe":
        """Store features X (n, d) and labels y (n,) as the neighbour bank; with several ``k``, choose ``k_``
        by accuracy on (X_val, y_val), or on a stratified ``validation_fraction`` of X when not given.
        """
        X = _as_features(X)
        y = _as_targets(y, len(X))
        ks = [self.k] if np.isscalar(self.k) else list(self.k)
        if not ks or any(int(k) != k or k < 1 for k in ks):
            raise InputError(f"k must be positive integers, got {self.k!r}")
        if self.temperature is not None and not self.temperature > 0:
            raise InputError(f"temperature must be positive, got {self.temperature}")
        self.classes_ = np.unique(y)
        yi = np.searchsorted(self.classes_, y)
        self.val_scores_ = {}
        if len(ks) == 1:
            self.k_ = int(ks[0])
        else:
            if X_val is None:
                fit_idx, val_idx = _validation_split(yi, self.validation_fraction, self.random_state)
                bank, bank_y, Xq, yq = X[fit_idx], yi[fit_idx], X[val_idx], yi[val_idx]
            else:
                Xq = _as_features(X_val, "X_val")
                yq = _encode(_as_targets(y_val, len(Xq), "y_val"), self.classes_, "y_val")
                bank, bank_y = X, yi
            self._set_bank(bank, bank_y)
            for k in ks:
                self.val_scores_[int(k)] = float((self._predict_index(Xq, int(k)) == yq).mean())
            self.k_ = max(self.val_scores_, key=lambda k: (self.val_scores_[k], -k))
        self._set_bank(X, yi)
        return self

    def _set_bank(self, X: np.ndarray, yi: np.ndarray):
        device = torch.device(self.device)
        self._bank = F.normalize(torch.from_numpy(np.ascontiguousarray(X)).to(device), dim=1)
        self._bank_y = torch.from_numpy(yi).to(device)

    def _predict_index(self, X: np.ndarray, k: int) -> np.ndarray:
        k = min(k, len(self._bank))
        n_classes = len(self.classes_)
        out = []
        Xt = F.normalize(torch.from_numpy(np.ascontiguousarray(X)).to(self._bank.device), dim=1)
        for start in range(0, len(Xt), self.batch_size):
            sims = Xt[start : start + self.batch_size] @ self._bank.T
            top, idx = sims.topk(k, dim=1)
            weights = torch.ones_like(top) if self.temperature is None else torch.exp(top / self.temperature)
            votes = torch.zeros(len(top), n_classes, device=top.device, dtype=top.dtype)
            votes.scatter_add_(1, self._bank_y[idx], weights)
            out.append(votes.argmax(1).cpu())
        return torch.cat(out).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted labels (n,) of features X (n, d) by the vote of their ``k_`` nearest bank rows."""
        _check_fitted(self, "_bank")
        X = _as_features(X)
        if X.shape[1] != self._bank.shape[1]:
            raise InputError(f"X has {X.shape[1]} features but the probe was fitted on {self._bank.shape[1]}")
        return self.classes_[self._predict_index(X, self.k_)]


# --------------------------------------------------------------------------------------------
# probing a run


def labelled_subset(labels, fraction: float, random_state: int = 0) -> np.ndarray:
    """Indices of the labelled examples when only ``fraction`` of the labels are available:
    stratified, seeded, at least one per class (see :func:`ssltheory.ssl.data.stratified_indices`)."""
    labels = _as_targets(labels, len(labels), "labels")
    if not 0 < fraction <= 1:
        raise InputError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return np.arange(len(labels))
    return stratified_indices(labels, fraction, random_state)


def probe_run(
    run_dir: str | Path,
    probes: Sequence[str] = ("linear",),
    *,
    labels_fraction: float = 1.0,
    weight_decay: Sequence[float] | None = None,
    mlp_width: int = 2048,
    mlp_epochs: int = 50,
    knn_k: Sequence[int] = (20,),
    batch_size: int = 256,
    device: str = "cpu",
    seed: int = 0,
) -> dict:
    """Fit the requested probes on a trained run's frozen train features, select on val, score on
    test. The dataset is loaded exactly as the trainer loaded it, so test regions/images are the
    ones the encoder never trained on; images are normalised with the run's statistics (config
    "mean"/"std", else the augmentation defaults). Returns a flat dict: the run's facts, then per
    probe its test, val and train accuracies and the hyperparameter chosen on val."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"RUN {str(run_dir)!r} is not a directory (expected a `ssltheory train` run)")
    if not 0 < labels_fraction <= 1:
        raise InputError(f"labels fraction must be in (0, 1], got {labels_fraction}")
    unknown = sorted(set(probes) - {"linear", "mlp", "knn"})
    if unknown:
        raise InputError(f"unknown probe {unknown[0]!r}; choose linear, mlp or knn")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device} requested but CUDA is not available on this machine")
    encoder, config = load_run(run_dir)
    for key in ("data",):
        if key not in config:
            raise InputError(f"{run_dir / 'config.json'} has no {key!r} entry")
    dataset = load_dataset(config["data"], config.get("data_dir"))
    channels = dataset.channels
    if "mean" in config and "std" in config:
        mean, std = config["mean"], config["std"]
    else:
        mean, std = default_normalization(channels)
    transform = Normalize(mean, std).to(device)

    started = time.perf_counter()
    feats = {
        name: extract_features(encoder, getattr(dataset, name).images, batch_size, device, transform)
        for name in ("train", "val", "test")
    }
    labels = {name: getattr(dataset, name).labels.numpy() for name in ("train", "val", "test")}
    seconds_features = time.perf_counter() - started
    tr_idx = labelled_subset(labels["train"], labels_fraction, seed)
    va_idx = labelled_subset(labels["val"], labels_fraction, seed + 1)
    Xtr, ytr = feats["train"][tr_idx], labels["train"][tr_idx]
    Xva, yva = feats["val"][va_idx], labels["val"][va_idx]
    result = {
        "run": str(run_dir),
        "data": config["data"],
        "method": config.get("method"),
        "arch": config.get("arch"),
        "z_dim": config.get("z_dim"),
        "dim": int(feats["train"].shape[1]),
        "n_classes": dataset.n_classes,
        "labels_fraction": labels_fraction,
        "n_train": int(len(tr_idx)),
        "n_val": int(len(va_idx)),
        "n_test": int(len(labels["test"])),
        "seed": seed,
        "device": device,
        "seconds_features": round(seconds_features, 3),
    }
    if "linear" in probes:
        t0 = time.perf_counter()
        lin = LinearProbe(weight_decay, device=device, random_state=seed).fit(Xtr, ytr, Xva, yva)
        result.update(
            {
                "linear_accuracy": lin.score(feats["test"], labels["test"]),
                "linear_val_accuracy": lin.val_accuracy_,
                "linear_train_accuracy": lin.score(Xtr, ytr),
                "linear_weight_decay": lin.weight_decay_,
                "linear_val_scores": {f"{k:g}": v for k, v in lin.val_scores_.items()},
                "linear_seconds": round(time.perf_counter() - t0, 3),
            }
        )
    if "mlp" in probes:
        t0 = time.perf_counter()
        mlp = MLPProbe(mlp_width, epochs=mlp_epochs, device=device, random_state=seed).fit(Xtr, ytr, Xva, yva)
        result.update(
            {
                "mlp_accuracy": mlp.score(feats["test"], labels["test"]),
                "mlp_val_accuracy": mlp.val_accuracy_,
                "mlp_best_epoch": mlp.best_epoch_,
                "mlp_width": mlp_width,
                "mlp_seconds": round(time.perf_counter() - t0, 3),
            }
        )
    if "knn" in probes:
        t0 = time.perf_counter()
        knn = KNNProbe(list(knn_k), device=device, random_state=seed).fit(Xtr, ytr, Xva, yva)
        result.update(
            {
                "knn_accuracy": knn.score(feats["test"], labels["test"]),
                "knn_val_accuracy": knn.val_scores_.get(knn.k_, knn.score(Xva, yva)),
                "knn_k": knn.k_,
                "knn_seconds": round(time.perf_counter() - t0, 3),
            }
        )
    return result
