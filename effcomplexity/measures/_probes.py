"""The Monte-Carlo core shared by every probe estimator in the package.

One probe generator (:func:`random_probes`) and one mean-and-standard-error
rule (:func:`mean_std_error`). Hutchinson and Hutch++ (``trace.py``), random
probe effective parameters (``effective.py``), Hessian traces and spectral
densities (``nn/hessian.py``) and linearised-training effective parameters
(``nn/telescoping.py``) all draw and summarise their probes here, so every
estimator reports the same standard error the same way.

The smoother measures also share one default seed (``DEFAULT_PROBE_SEED``,
so two identical calls return identical numbers), one check of the probe
arguments (:func:`check_probe_kind`) and one warning category,
:class:`ProbeEstimateWarning`, for estimates chosen by ``method="auto"``.
Seeds follow the package's one rule, :func:`check_random_state`.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_random_state

PROBE_KINDS = ("rademacher", "gaussian")
#: Default ``random_state`` of the smoother measures' probes.
DEFAULT_PROBE_SEED = 0


class ProbeEstimateWarning(UserWarning):
    """A measure was estimated with random probes instead of computed exactly.

    Issued when ``method="auto"`` chooses probes because the exact route would
    form too large a dense smoother matrix. The estimate is reproducible (see
    ``random_state``) and ``return_std=True`` reports its standard error.
    Silence it with
    ``warnings.filterwarnings("ignore", category=effcomplexity.ProbeEstimateWarning)``,
    or pass ``method="probe"`` (or ``"exact"``) to choose the route yourself.

    Attributes
    ----------
    args : tuple of str
        ``(message,)``: the measure, the number of probes, the sizes against
        the exact-route budget and the seed used.

    Examples
    --------
    >>> import warnings
    >>> import effcomplexity as ec
    >>> issubclass(ec.ProbeEstimateWarning, UserWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", category=ec.ProbeEstimateWarning)
    ...     warnings.warn("estimated with probes", ec.ProbeEstimateWarning)  # silenced
    """


def check_probe_kind(kind) -> str:
    """Raise ``ValueError`` unless ``kind`` is one of ``PROBE_KINDS``."""
    if not isinstance(kind, str) or kind not in PROBE_KINDS:
        raise ValueError(f"probe must be one of {PROBE_KINDS}, got {kind!r}.")
    return kind


def random_probes(n: int, k: int, kind: str = "rademacher", random_state=None) -> np.ndarray:
    """Draw ``k`` probe vectors of length ``n`` with ``E[z z^T] = I``.

    Parameters
    ----------
    n, k : int
        Probe length and count.
    kind : {"rademacher", "gaussian"}
        Rademacher probes (+-1) have the lower variance for traces and
        squared norms; Gaussian probes make every estimate rotation-invariant.
    random_state : int, RandomState, Generator or None
        See :ref:`random-state`.

    Returns
    -------
    ndarray of shape (n, k)
    """
    check_probe_kind(kind)
    rng = check_random_state(random_state)
    if kind == "rademacher":
        return rng.randint(0, 2, size=(n, k)).astype(np.float64) * 2.0 - 1.0
    return rng.standard_normal((n, k))


def mean_std_error(samples, axis: int = -1) -> tuple:
    r"""Sample mean of independent estimates and its standard error.

    Parameters
    ----------
    samples : array-like
        Independent, identically distributed estimates along ``axis`` (one
        per probe).
    axis : int
        The axis of the probes.

    Returns
    -------
    mean : float or ndarray
    std_error : float or ndarray
        :math:`s / \sqrt{k}` with the unbiased sample standard deviation
        :math:`s` of the ``k`` estimates; NaN when ``k < 2``. Floats when
        ``samples`` is one-dimensional.
    """
    samples = np.asarray(samples, dtype=float)
    k = samples.shape[axis]
    mean = samples.mean(axis=axis)
    if k < 2:
        se = np.full_like(mean, np.nan)
    else:
        se = samples.std(axis=axis, ddof=1) / np.sqrt(k)
    if samples.ndim == 1:
        return float(mean), float(se)
    return mean, se


def paired_ratio_std_error(numerator, denominator) -> tuple[float, float]:
    r"""Ratio of two probe means computed from the same probes, and its standard error.

    Parameters
    ----------
    numerator, denominator : array-like of shape (k,)
        The two estimates of each of ``k`` probes, paired: entry ``j`` of
        both comes from probe ``j``.

    Returns
    -------
    ratio : float
        :math:`R = \bar a / \bar b`; NaN where :math:`\bar b = 0`.
    std_error : float
        Delta-method standard error of :math:`R` with the probes' sample
        covariance, :math:`\frac{1}{|\bar b| \sqrt{k}} \sqrt{s_a^2 - 2 R
        s_{ab} + R^2 s_b^2}`; NaN when ``k < 2`` or :math:`\bar b = 0`.

    Notes
    -----
    Shared probes make the two means correlated, usually positively, so the
    standard error of the ratio is smaller than the one that treats them as
    independent (:math:`s_{ab} = 0`).
    """
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"numerator and denominator must be 1-D and paired, got shapes {a.shape} and {b.shape}."
        )
    k = a.shape[0]
    if b.mean() == 0:
        return float("nan"), float("nan")
    ratio = float(a.mean() / b.mean())
    if k < 2:
        return ratio, float("nan")
    cov = np.cov(a, b, ddof=1)
    var = (cov[0, 0] - 2.0 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / k
    return ratio, float(np.sqrt(max(var, 0.0)) / abs(b.mean()))
