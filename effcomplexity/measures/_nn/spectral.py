"""Per-layer singular-value diagnostics and heavy-tailed spectral exponents."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._layers import weight_layers

__all__ = ["fit_power_law", "spectral_diagnostics"]

_COLUMNS = [
    "layer",
    "kind",
    "shape",
    "n_eigenvalues",
    "stable_rank",
    "log_spectral_norm",
    "log_frobenius_norm",
    "alpha",
    "alpha_weighted",
    "xmin",
    "n_tail",
    "ks_distance",
    "status",
]


def fit_power_law(values, *, min_tail: int = 10) -> tuple[float, float, int, float]:
    r"""Continuous power-law fit of the upper tail by maximum likelihood.

    Parameters
    ----------
    values : array-like of positive float
        Samples (here eigenvalues).
    min_tail : int
        Fewest points allowed above :math:`x_{min}`.

    Returns
    -------
    alpha : float
        Exponent of the density :math:`p(x) \propto x^{-\alpha}`,
        :math:`x \ge x_{min}`.
    xmin : float
    n_tail : int
        Number of values :math:`\ge x_{min}`.
    ks_distance : float
        Kolmogorov-Smirnov distance between the tail and the fitted law.

    Raises
    ------
    ValueError
        If fewer than ``min_tail`` positive values are given.

    Notes
    -----
    For each candidate :math:`x_{min}` (every distinct value leaving at least
    ``min_tail`` points in the tail) the maximum-likelihood exponent is

    .. math::

        \hat\alpha = 1 + n \Bigl(\sum_{i: x_i \ge x_{min}}
        \log \frac{x_i}{x_{min}}\Bigr)^{-1},

    and :math:`x_{min}` is the candidate minimising
    :math:`D = \max_x |S(x) - P(x)|`, with :math:`S` the empirical CDF of the
    tail and :math:`P(x) = 1 - (x / x_{min})^{1 - \hat\alpha}` (Clauset,
    Shalizi and Newman 2009). The standard error of :math:`\hat\alpha` is
    about :math:`(\hat\alpha - 1)/\sqrt{n}`.

    References
    ----------
    A. Clauset, C. R. Shalizi, M. E. J. Newman. "Power-law distributions in
    empirical data". SIAM Review 51(4), 2009.

    Examples
    --------
    The quantiles of a power law with :math:`\alpha = 3` and :math:`x_{min} = 1`:

    >>> import numpy as np
    >>> from effcomplexity import nn as ecnn
    >>> u = (np.arange(2000) + 0.5) / 2000
    >>> alpha, xmin, n_tail, ks_distance = ecnn.fit_power_law((1 - u) ** -0.5)
    >>> round(alpha, 2), round(xmin, 2), n_tail
    (3.0, 1.0, 2000)
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[x > 0]
    n_all = x.size
    if n_all < max(min_tail, 2):
        raise ValueError(f"need at least {max(min_tail, 2)} positive values, got {n_all}.")
    logs = np.log(x)
    # suffix sums of log x give every candidate's likelihood in one pass
    suffix = np.cumsum(logs[::-1])[::-1]
    best = (math.inf, math.nan, math.nan, 0)
    candidates = np.unique(x[: n_all - min_tail + 1])
    starts = np.searchsorted(x, candidates, side="left")
    for xmin, start in zip(candidates, starts, strict=True):
        n = n_all - start
        total = suffix[start] - n * math.log(xmin)
        if total <= 0:
            continue
        alpha = 1.0 + n / total
        tail = x[start:]
        fitted = 1.0 - (tail / xmin) ** (1.0 - alpha)
        upper = np.arange(1, n + 1) / n
        lower = np.arange(0, n) / n
        distance = float(max(np.max(np.abs(upper - fitted)), np.max(np.abs(lower - fitted))))
        if distance < best[0]:
            best = (distance, alpha, float(xmin), int(n))
    distance, alpha, xmin, n_tail = best
    if n_tail == 0:
        raise ValueError("all candidate tails are constant; no power law can be fitted.")
    return float(alpha), xmin, n_tail, distance


def spectral_diagnostics(
    model: nn.Module,
    *,
    min_eigenvalues: int = 20,
    min_tail: int = 10,
    rtol: float = 1e-10,
) -> pd.DataFrame:
    r"""Singular-value statistics and heavy-tail exponent of every weight layer.

    Parameters
    ----------
    model : torch.nn.Module
        A feed-forward network (see
        :func:`~effcomplexity.nn.weight_measures`); batch norm
        is folded into the preceding layer.
    min_eigenvalues : int
        Layers with fewer non-zero eigenvalues get ``alpha = NaN`` and a
        status saying so (default 20).
    min_tail : int
        Fewest eigenvalues in the fitted tail (default 10).
    rtol : float
        Eigenvalues below ``rtol`` times the largest count as zero.

    Returns
    -------
    pandas.DataFrame
        One row per weight layer, in forward order, with columns ``layer``,
        ``kind``, ``shape`` (the weight's own shape), ``n_eigenvalues``,
        ``stable_rank``, ``log_spectral_norm``, ``log_frobenius_norm``
        (natural logarithms), ``alpha``, ``alpha_weighted``, ``xmin``,
        ``n_tail``, ``ks_distance`` and ``status`` (``"ok"``, or why ``alpha``
        is missing). No layer is dropped.

    Raises
    ------
    TypeError
        If the model is not a feed-forward chain (the message names the layer).

    Notes
    -----
    A layer's matrix :math:`W` is its weight with kernels reshaped to
    ``(out, -1)``. The empirical spectral density is that of the
    eigenvalues :math:`\lambda_j = s_j^2` of :math:`W^\top W` (the squared
    singular values, :math:`\min(\text{out}, \text{in})` of them):

    .. math::

        \text{stable rank} = \frac{\lVert W \rVert_F^2}{\lVert W \rVert_2^2}
        = \frac{\sum_j \lambda_j}{\lambda_{max}}, \qquad
        \hat\alpha_w = \alpha \log_{10} \lambda_{max},

    and :math:`\alpha` is the power-law exponent of the upper tail of the
    :math:`\lambda_j`, :math:`p(\lambda) \propto \lambda^{-\alpha}`,
    fitted by :func:`fit_power_law`. Martin and Mahoney read
    :math:`2 \lesssim \alpha \lesssim 6` as heavy-tailed,
    well-trained layers; random matrices give large :math:`\alpha`. The
    exponent does not depend on the scale of :math:`W`.

    References
    ----------
    C. H. Martin, M. W. Mahoney. "Implicit Self-Regularization in Deep Neural
    Networks: Evidence from Random Matrix Theory and Implications for
    Learning". JMLR 22(165), 2021.

    C. H. Martin, T. S. Peng, M. W. Mahoney. "Predicting trends in the quality
    of state-of-the-art neural networks without access to training or testing
    data". Nature Communications 12, 4122, 2021.

    A. Clauset, C. R. Shalizi, M. E. J. Newman. "Power-law distributions in
    empirical data". SIAM Review 51(4), 2009.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]))
    >>> row = ecnn.spectral_diagnostics(net).iloc[0]
    >>> float(row["stable_rank"]), row["status"][:7]
    (1.5625, 'too few')
    """
    rows = []
    for layer in weight_layers(model):
        singular = torch.linalg.svdvals(layer.matrix).numpy()
        eig = singular**2
        row = {
            "layer": layer.name,
            "kind": layer.kind,
            "shape": tuple(layer.weight.shape),
            "n_eigenvalues": int(eig.size),
            "stable_rank": math.nan,
            "log_spectral_norm": math.nan,
            "log_frobenius_norm": math.nan,
            "alpha": math.nan,
            "alpha_weighted": math.nan,
            "xmin": math.nan,
            "n_tail": 0,
            "ks_distance": math.nan,
            "status": "ok",
        }
        largest = float(eig.max()) if eig.size else 0.0
        if largest == 0.0:
            row["status"] = "zero matrix"
            rows.append(row)
            continue
        row["stable_rank"] = float(eig.sum() / largest)
        row["log_spectral_norm"] = 0.5 * math.log(largest)
        row["log_frobenius_norm"] = 0.5 * math.log(float(eig.sum()))
        positive = eig[eig > rtol * largest]
        if positive.size < max(min_eigenvalues, min_tail):
            row["status"] = (
                f"too few non-zero eigenvalues to fit a power law ({positive.size} < "
                f"{max(min_eigenvalues, min_tail)})"
            )
        else:
            try:
                alpha, xmin, n_tail, distance = fit_power_law(positive, min_tail=min_tail)
            except ValueError as err:
                row["status"] = f"power-law fit failed: {err}"
            else:
                row.update(
                    alpha=alpha,
                    alpha_weighted=alpha * math.log10(largest),
                    xmin=xmin,
                    n_tail=n_tail,
                    ks_distance=distance,
                )
        rows.append(row)
    return pd.DataFrame(rows, columns=_COLUMNS)
