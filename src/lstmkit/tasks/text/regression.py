r"""The n-gram branch's logistic regression, fitted in memory or out of core.

The objective is scikit-learn's ``LogisticRegression(C)`` (L2 penalty, intercept not
penalised), for ``N`` texts with features ``x_i`` and classes ``y_i``:

.. math::

    J(W, b) = \frac{1}{N} \sum_i \ell(W x_i + b, y_i) + \frac{1}{2CN} \lVert W \rVert^2

with ``\ell(z, y) = \log(1 + e^z) - y z`` for two classes (one weight vector, class 1 against
class 0) and ``\ell(z, y) = \log \sum_k e^{z_k} - z_y`` for more (one row of ``W`` per class),
minimised by L-BFGS with scikit-learn's settings (``gtol`` 1e-4, ``maxls`` 50,
``ftol`` 64 machine epsilons, at most ``max_iter`` iterations).

* A matrix of at most :data:`IN_MEMORY_NONZERO` entries is fitted by scikit-learn itself
  (read through the memory map: the same numbers as a matrix in memory).
* A larger one is fitted here, out of core: each evaluation of ``J`` and its gradient reads
  the matrix a block of rows at a time (:meth:`~lstmkit.data.store.csr.MappedCsr.blocks`),
  so memory holds one block, the weights and L-BFGS's history, whatever the number of texts.
  It minimises the same ``J``; only floating-point sums differ (in the order of the blocks).

Shapes: features ``(N, F)`` sparse, labels ``(N,)`` in ``0..K-1`` -> ``coef (K', F)``, ``intercept
(K',)`` with ``K' = 1`` for two classes, else ``K`` (scikit-learn's ``coef_`` and ``intercept_``).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize
from scipy.special import expit, logsumexp, softmax

from lstmkit.data.store.csr import MappedCsr

IN_MEMORY_NONZERO = 1 << 24
"""Up to this many entries (about 128 MB of values and columns) scikit-learn fits the matrix whole."""
BLOCK_NONZERO = 1 << 22
"""Entries read at a time by the out-of-core fit."""


def fit_logistic_regression(features: MappedCsr, labels: np.ndarray, num_classes: int, C: float,
                            max_iter: int = 2000, in_memory_nonzero: int | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``(coef, intercept)`` minimising ``J`` (module docstring) on ``features`` and ``labels``."""
    labels = np.asarray(labels, dtype=np.int64)
    limit = IN_MEMORY_NONZERO if in_memory_nonzero is None else in_memory_nonzero
    if features.nnz <= limit:
        from sklearn.linear_model import LogisticRegression

        solver = LogisticRegression(C=C, max_iter=max_iter).fit(features.matrix(), labels)
        return solver.coef_, solver.intercept_
    return _fit_out_of_core(features, labels, num_classes, C, max_iter)


def _fit_out_of_core(features: MappedCsr, labels: np.ndarray, num_classes: int, C: float,
                     max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    n, f = features.shape
    binary = num_classes == 2
    k = 1 if binary else num_classes
    l2 = 1.0 / (C * n)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = theta[: k * f].reshape(k, f), theta[k * f:]  # (K', F), (K',)
        loss, grad_w, grad_b = 0.0, np.zeros((k, f)), np.zeros(k)
        for start, block in features.blocks(BLOCK_NONZERO):
            y = labels[start: start + block.shape[0]]
            z = block @ weights.T + bias  # (B, K')
            if binary:
                z = z[:, 0]
                loss += float(np.sum(np.logaddexp(0.0, z) - y * z))
                residual = (expit(z) - y)[:, None]  # (B, 1)
            else:
                loss += float(np.sum(logsumexp(z, axis=1) - z[np.arange(len(y)), y]))
                residual = softmax(z, axis=1)
                residual[np.arange(len(y)), y] -= 1.0  # (B, K)
            grad_w += (block.T @ residual).T
            grad_b += residual.sum(axis=0)
        value = loss / n + 0.5 * l2 * float(np.dot(weights.ravel(), weights.ravel()))
        grad = np.concatenate([(grad_w / n + l2 * weights).ravel(), grad_b / n])
        return value, grad

    result = optimize.minimize(objective, np.zeros(k * f + k), method="L-BFGS-B", jac=True,
                               options={"maxiter": max_iter, "maxls": 50, "gtol": 1e-4,
                                        "ftol": 64 * np.finfo(float).eps})
    if not result.success and result.nit >= max_iter:
        warnings.warn(f"the n-gram regression did not converge in {max_iter} iterations", stacklevel=2)
    theta = result.x
    return theta[: k * f].reshape(k, f).astype(np.float32), theta[k * f:].astype(np.float32)


__all__ = ["IN_MEMORY_NONZERO", "fit_logistic_regression"]
