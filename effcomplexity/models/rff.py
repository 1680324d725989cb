"""Random Fourier features with the conventions of the double-descent literature."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_random_state

__all__ = ["RandomFourierFeatures"]


class RandomFourierFeatures(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Random Fourier features ``cos(v_k @ x)``, ``sin(v_k @ x)`` of a Gaussian kernel.

    The feature map of Rahimi and Recht (2007) as used in the double-descent
    experiments of Belkin et al. (2019) and Curth et al. (2023): frequencies
    :math:`v_k \sim N(0, \sigma^{-2} I)` with bandwidth :math:`\sigma`, and one
    cosine and one sine column per frequency, without any scaling factor.

    Parameters
    ----------
    n_features : int, default=100
        Number of *real* output columns, not counting the bias column. Columns
        come in pairs ``cos(v_1 . x), sin(v_1 . x), cos(v_2 . x), sin(v_2 . x), ...``
        truncated to ``n_features``, so ``ceil(n_features / 2)`` frequencies are
        drawn and an odd count ends with a cosine.
    bandwidth : float, default=5.0
        Kernel bandwidth :math:`\sigma`; frequencies have standard deviation
        ``1 / bandwidth`` (0.2 for the default, as in the cited experiments on
        MNIST pixels scaled to [0, 1]).
    include_bias : bool, default=False
        Prepend a column of ones (the intercept column of Curth et al., penalised
        like every other coefficient by a minimum-norm fit).
    random_state : int, RandomState, Generator or None, default=None
        Seed of the frequency draw (see :ref:`random-state`), drawn at ``fit``.

    Attributes
    ----------
    random_weights_ : ndarray of shape (n_features_in, ceil(n_features / 2))
        The frequencies :math:`v_k`, one per column.
    n_features_in_ : int
        Number of input columns seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in,)
        Input column names, when ``X`` has string column names.

    Notes
    -----
    The feature map is

    .. math::

        \phi(x) = [1,]\ \cos(v_1^\top x), \sin(v_1^\top x), \ldots,
        \qquad v_k \sim N(0, \sigma^{-2} I_d).

    **Counting.** This follows Curth et al.'s public code, whose composite axis
    ``N`` counts real columns of the interleaved cosine/sine matrix (their
    interpolation threshold sits at ``N = n``) and whose intercept column is
    added on top. Belkin et al. count complex features
    :math:`e^{i v_k^\top x}`, each of which is a cosine/sine pair here, so their
    ``N`` corresponds to ``n_features = 2 N``.

    **Nesting.** Frequencies are drawn one at a time, so for a fixed integer
    seed the frequencies of the ``N``-feature map are exactly the first ones
    of any larger map, and its columns equal the first ``N`` columns of the
    larger map (to the last bit of the product :math:`X V`, which BLAS may
    round differently for different widths): a sweep along the feature axis
    adds features to one draw, as Curth et al. do by slicing one precomputed
    matrix.

    **Scaling.** No :math:`\sqrt{2/N}` factor is applied. Minimum-norm and
    ordinary least-squares predictions do not depend on a common scale of the
    features; ridge penalties do.

    References
    ----------
    A. Rahimi, B. Recht. "Random Features for Large-Scale Kernel Machines".
    NeurIPS 2007.

    M. Belkin, D. Hsu, S. Ma, S. Mandal. "Reconciling modern machine-learning
    practice and the classical bias-variance trade-off". PNAS 116(32), 2019.

    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from effcomplexity.models import RandomFourierFeatures
    >>> X = np.random.default_rng(0).uniform(size=(4, 3))
    >>> small = RandomFourierFeatures(n_features=3, random_state=0).fit_transform(X)
    >>> large = RandomFourierFeatures(n_features=8, random_state=0).fit_transform(X)
    >>> small.shape, large.shape
    ((4, 3), (4, 8))
    >>> bool(np.allclose(small, large[:, :3], rtol=0, atol=1e-14))
    True
    """

    def __init__(
        self,
        n_features: int = 100,
        *,
        bandwidth: float = 5.0,
        include_bias: bool = False,
        random_state=None,
    ):
        self.n_features = n_features
        self.bandwidth = bandwidth
        self.include_bias = include_bias
        self.random_state = random_state

    def _check_params(self) -> None:
        if (
            not isinstance(self.n_features, numbers.Integral)
            or isinstance(self.n_features, bool)
            or self.n_features < 1
        ):
            raise ValueError(f"n_features must be a positive integer, got {self.n_features!r}.")
        if (
            not isinstance(self.bandwidth, numbers.Real)
            or isinstance(self.bandwidth, bool)
            or not np.isfinite(self.bandwidth)
            or self.bandwidth <= 0
        ):
            raise ValueError(f"bandwidth must be a positive finite number, got {self.bandwidth!r}.")

    def fit(self, X, y=None) -> RandomFourierFeatures:
        """Draw the frequencies for inputs of the width of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)
            Only its width is used.
        y : ignored

        Returns
        -------
        self : RandomFourierFeatures
        """
        self._check_params()
        X = validate_data(self, X, dtype=np.float64)
        rng = check_random_state(self.random_state)
        n_frequencies = (int(self.n_features) + 1) // 2
        # One row per frequency, drawn in order: a prefix of frequencies is the
        # same whatever the total, which makes the feature axis nested.
        draws = rng.standard_normal((n_frequencies, X.shape[1]))
        self.random_weights_ = np.ascontiguousarray(draws.T) / float(self.bandwidth)
        self._n_features_out = int(self.n_features) + int(bool(self.include_bias))
        return self

    def transform(self, X) -> np.ndarray:
        """Map ``X`` to its random Fourier features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)

        Returns
        -------
        ndarray of shape (n_samples, n_features + include_bias)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        projection = X @ self.random_weights_
        n_cols = int(self.n_features)
        start = int(bool(self.include_bias))
        out = np.empty((X.shape[0], start + n_cols), dtype=np.float64)
        if start:
            out[:, 0] = 1.0
        features = out[:, start:]
        np.cos(projection, out=features[:, 0::2])
        np.sin(projection[:, : n_cols // 2], out=features[:, 1::2])
        return out
