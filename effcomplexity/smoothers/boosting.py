"""Smoothers of gradient-boosted trees.

With squared-error loss, every boosting round fits a tree to the current
residuals and adds ``learning_rate`` times its leaf means, so the fitted model
is a linear smoother once the tree structures are fixed (Bühlmann and Yu,
2003). This module registers the smoothers of scikit-learn's
:class:`~sklearn.ensemble.GradientBoostingRegressor` and
:class:`~sklearn.ensemble.HistGradientBoostingRegressor`, staged after every
round. Ensembles of boosters (Curth et al.) are
:class:`~sklearn.ensemble.VotingRegressor` objects, whose smoother lives in
``voting.py``.

Two engines compute the same weights:

* *replay* applies the fitted trees to a label matrix ``Y``: residuals, leaf
  means of the residuals, one tree after another. It costs
  ``O((n + m) k)`` per tree and never forms an ``n x n`` matrix; applied to
  random probes it is the matrix-free path, applied to the identity it is the
  plain exact path.
* *leaf factors* express every round's leaf values as linear functionals of
  ``y`` in the space of all leaves: contingency tables of leaf memberships
  (counting), one triangular inversion and one Gram product give the squared
  weight norms of every input after every round, without ``n x n`` matrices.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)

from .._threads import single_blas_thread
from .._validation import check_n_train, training_mismatch
from ._leaves import LeafMap
from .registry import (
    Smoother,
    identity_blocks,
    identity_columns,
    register_smoother,
    register_unsupported,
)

__all__ = [
    "GradientBoostingSmoother",
    "HistGradientBoostingSmoother",
]

_GDF_HINT = (
    "For models that are not linear smoothers, measure complexity with "
    "effcomplexity.generalized_degrees_of_freedom, which refits the model on "
    "perturbed labels."
)

for _classifier in (GradientBoostingClassifier, HistGradientBoostingClassifier):
    register_unsupported(
        _classifier,
        "classifier boosting fits trees to gradients of the log-loss, so its "
        "predictions are not a weighted sum of the training labels. " + _GDF_HINT,
    )

#: The leaf-factor engine keeps a few (L, L) float64 matrices, L the total
#: number of leaves over all rounds; above this it replays on identity columns.
MAX_FACTOR_LEAVES = 4096

#: Columns of the identity replayed at once by the exact replay path.
_REPLAY_CHUNK = 512

#: The exact paths: leaf factors, or the dense recursion replayed on identity columns.
_PATHS = ("factors", "dense")

#: Relative cost of one unit of work of each path (process time measured on
#: MNIST boosters with one BLAS thread; only the ratios matter). ``cube``: one
#: ``L^3`` unit of the triangular inversion and product; ``pair``: one
#: (row, pair of rounds) entry gathered from a leaf table; ``train`` and
#: ``eval``: one (round, row, column) update of the replayed residuals and of
#: the evaluated rows; ``block``: the fixed cost of one round on one block.
_COST = {"cube": 0.016, "pair": 1.5, "train": 1.2, "eval": 2.0, "block": 1e4}

#: Probes the exact paths are compared with when ``method="auto"`` decides.
_PROBES_FOR_COST = 100

#: Rows gathered at once by the leaf-factor engine.
_ROW_CHUNK = 8192


def _last(stages: Iterator[np.ndarray]) -> np.ndarray:
    """The final item of a staged computation."""
    return deque(stages, maxlen=1)[0]


# -- leaf-factor engine --------------------------------------------------------------


def _lower_contingency(leaves: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Counts ``C[a, b]`` of training rows in leaf ``a`` and leaf ``b``, ``a``'s round later.

    ``leaves`` is (n_groups, n) global leaf indices; the result is the strictly
    block-lower part of ``A^T A`` (zero on and above the diagonal blocks).
    """
    n_total = int(offsets[-1])
    C = np.zeros((n_total, n_total))
    for g in range(1, leaves.shape[0]):
        lo, hi = offsets[g], offsets[g + 1]
        codes = (leaves[g] - lo) * lo + leaves[:g]
        C[lo:hi, :lo] = np.bincount(codes.ravel(), minlength=(hi - lo) * lo).reshape(hi - lo, lo)
    return C


def _prefix_pair_sums(
    Q: np.ndarray, a: np.ndarray, b: np.ndarray, off_diagonal_weight: float
) -> np.ndarray:
    """Per-row sums of ``Q[a_g, b_h]`` over the groups ``h <= g <= t``, for every ``t``.

    ``a`` and ``b`` are (n_groups, n_rows) global leaf indices. Pairs with
    ``h < g`` carry ``off_diagonal_weight`` (2 for a symmetric quadratic form).
    Returns an array of shape (n_groups, n_rows).
    """
    n_groups, n_rows = a.shape
    Qf = Q.ravel()
    out = np.empty((n_groups, n_rows))
    for start in range(0, n_rows, _ROW_CHUNK):
        rows = slice(start, start + _ROW_CHUNK)
        a_rows = a[:, rows] * Q.shape[1]
        b_rows = b[:, rows]
        total = np.zeros(a_rows.shape[1])
        for g in range(n_groups):
            if g:
                total += off_diagonal_weight * np.take(Qf, a_rows[g] + b_rows[:g]).sum(axis=0)
            total += np.take(Qf, a_rows[g] + b_rows[g])
            out[g, rows] = total
    return out


class _LeafFactors:
    """Leaf values of every round as linear functionals of ``y``, in leaf coordinates.

    With ``A`` the (n, L) indicator of training rows in the leaves of all
    groups (rounds, in order), ``s`` the per-leaf scale (``learning_rate /
    (count + l2)``), ``c`` the leaf sizes and ``C_<`` the strictly block-lower
    part of ``A^T A``, the leaf values are ``v = G y`` with ``G = M A^T``,
    ``M = T^{-1} diag(s)`` and ``T = I + diag(s) C_<``. Since
    ``diag(s) A^T A diag(s) = T diag(s) + diag(s) T^T - diag(2 s - s^2 c)``,
    the Gram matrix of the rows of ``G`` is

        ``G G^T = M + M^T - K K^T``,  ``K = T^{-1} diag(sqrt(2 s - s^2 c))``.

    Both ``M`` and ``K`` are lower triangular, so one triangular inversion and
    one triangular product (LAPACK ``trtri`` and ``lauum``) give it.
    """

    def __init__(self, fit_leaves: np.ndarray, offsets: np.ndarray, scale: np.ndarray):
        counts = np.bincount(fit_leaves.ravel(), minlength=int(offsets[-1])).astype(float)
        T = _lower_contingency(fit_leaves, offsets)
        T *= scale[:, None]
        T[np.diag_indices_from(T)] = 1.0
        # LAPACK reads one triangle; the transpose of a C array is its Fortran layout.
        T_inv_t, info = lapack.dtrtri(T.T, lower=0, unitdiag=1, overwrite_c=1)
        _check_lapack(info, "dtrtri")
        T_inv = T_inv_t.T
        del T, T_inv_t
        #: ``M = T^{-1} diag(s)``: the value of leaf ``a`` is ``sum_b M[a, b] (A^T y)_b``.
        self.M = T_inv * scale
        e = scale * (2.0 - scale * counts)
        if np.all(e >= 0):
            T_inv *= np.sqrt(e)
            # K K^T for lower-triangular K: reversing rows and columns makes K upper
            # triangular, where LAPACK's lauum forms U U^T in its upper triangle.
            KKt, info = lapack.dlauum(np.asfortranarray(T_inv[::-1, ::-1]), lower=0, overwrite_c=1)
            _check_lapack(info, "dlauum")
            KKt = KKt[::-1, ::-1]
        else:
            KKt = np.tril((T_inv * e) @ T_inv.T)
        del T_inv
        #: Lower triangle of ``G G^T`` (zeros above): every pair the engine reads
        #: is (leaf of a later or the same round, leaf of an earlier round).
        self.gram = self.M - KKt
        self.gram[np.diag_indices_from(self.gram)] += np.diag(self.M)


def _check_lapack(info: int, routine: str) -> None:
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK {routine} failed (info={info}).")


# -- boosting ------------------------------------------------------------------------


class _BoostingSmoother(Smoother):
    """Squared-error boosting of trees: shared engines for the registered families.

    Subclasses set, in ``_validate``: ``_fit_leaves`` (n_rounds, n) compact
    leaf of every training row in every round's tree, as the tree saw it
    during fitting; ``_n_leaves`` (n_rounds,); ``_scale`` (total leaves,)
    the factor turning a leaf's residual sum into its contribution; and
    ``_intercept`` (the initial model is the training mean). They implement
    ``_eval_leaves(X)`` for the prediction path.
    """

    supports_staged = True
    #: Weighted fits replay weighted leaf means (the leaf-factor engine is unweighted).
    supports_sample_weight = True
    verifies_X_train = False
    unverified_reason = "the leaf sizes its trees record do not change when the rows are shuffled"

    _fit_leaves: np.ndarray
    _n_leaves: np.ndarray
    _scale: np.ndarray
    _intercept: bool

    def _set_structure(self, fit_leaves, n_leaves, scale, intercept: bool) -> None:
        self._fit_leaves = np.ascontiguousarray(fit_leaves, dtype=np.int64)
        self._n_leaves = np.asarray(n_leaves, dtype=np.int64)
        self._scale = np.asarray(scale, dtype=float)
        self._intercept = bool(intercept)
        self._offsets = np.concatenate([[0], np.cumsum(self._n_leaves)])
        #: Row weights of a weighted fit (``None``: every row once).
        self._row_weight = self.sample_weight
        #: ``None``: the exact path is chosen by cost per call; else one of ``_PATHS``.
        self._exact_path: str | None = None
        self._factors: _LeafFactors | None = None
        self._sums: list[sp.csr_matrix] | None = None
        self._train_eval_leaves: np.ndarray | None = None

    def _eval_leaves(self, X: np.ndarray) -> np.ndarray:
        """(n_rounds, m) compact leaves of the rows of ``X`` on the prediction path."""
        raise NotImplementedError

    def _leaves_for(self, X: np.ndarray | None) -> np.ndarray:
        if X is not None:
            return self._eval_leaves(X)
        if self._train_eval_leaves is None:
            self._train_eval_leaves = self._eval_leaves(self.X_train)
        return self._train_eval_leaves

    # -- replay engine ------------------------------------------------------------
    def _leaf_sum_operators(self) -> list[sp.csr_matrix]:
        """Per round, the sparse (L, n) operator summing rows of a matrix by leaf."""
        if self._sums is None:
            n = self.n_train
            self._sums = []
            w = np.ones(n) if self._row_weight is None else self._row_weight
            for leaves, n_leaves in zip(self._fit_leaves, self._n_leaves, strict=True):
                order = np.argsort(leaves, kind="stable")
                indptr = np.concatenate([[0], np.cumsum(np.bincount(leaves, minlength=n_leaves))])
                self._sums.append(sp.csr_matrix((w[order], order, indptr), shape=(n_leaves, n)))
        return self._sums

    def _leaf_values(self, R: np.ndarray) -> Iterator[np.ndarray]:
        """Yield every round's (leaves, k) values, updating the residuals ``R`` in place.

        ``R`` starts as the labels minus the initial model; after round ``t``
        it is ``(I - S_t) Y`` on the training rows.
        """
        scales = np.split(self._scale, self._offsets[1:-1])
        rounds = zip(self._leaf_sum_operators(), scales, self._fit_leaves, strict=True)
        for sums, scale, fit in rounds:
            V = (sums @ R) * scale[:, None]
            R -= V[fit]
            yield V

    def _initial_residuals(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Residuals of the initial model, and its (k,) prediction (``None`` for zero)."""
        R = np.array(Y, dtype=float, order="C")
        if not self._intercept:
            return R, None
        w = self._row_weight
        mean = R.mean(axis=0) if w is None else (w @ R) / w.sum()
        R -= mean
        return R, mean

    def _replay(self, Y: np.ndarray, X: np.ndarray | None) -> Iterator[np.ndarray]:
        """Yield ``S_t(X) @ Y`` after every round (one array, updated in place)."""
        eval_leaves = self._leaves_for(X)
        R, mean = self._initial_residuals(Y)
        F = np.zeros((eval_leaves.shape[1], R.shape[1]))
        if mean is not None:
            F += mean
        for V, ev in zip(self._leaf_values(R), eval_leaves, strict=True):
            F += V[ev]
            yield F

    def _dense_norms(self, X: np.ndarray | None) -> np.ndarray:
        """Staged ``||s_t(x)||^2`` from the recursion replayed on identity columns.

        On the training rows ``S_t = I - R_t`` with ``R_t`` the replayed
        residuals, so their norms need no evaluated copy:
        ``||s_t(x_i)||^2 = 1 - 2 R_t[i, i] + ||R_t[i]||^2``.
        """
        n = self.n_train
        out = np.zeros((self.n_stages(), n if X is None else X.shape[0]))
        for block in identity_blocks(n, _REPLAY_CHUNK):
            E = identity_columns(n, block)
            if X is not None:
                for t, F in enumerate(self._replay(E, X)):
                    out[t] += np.einsum("ij,ij->i", F, F)
                continue
            rows = np.arange(block.start, block.stop)
            own = (rows, rows - block.start)
            R, _ = self._initial_residuals(E)
            for t, _ in enumerate(self._leaf_values(R)):
                out[t] += np.einsum("ij,ij->i", R, R)
                out[t, rows] += 1.0 - 2.0 * R[own]
        return out

    def _dense_trace(self) -> np.ndarray:
        """Staged ``tr(S_t) = n - tr(R_t)`` from the residuals replayed on identity columns."""
        n = self.n_train
        out = np.full(self.n_stages(), float(n))
        for block in identity_blocks(n, _REPLAY_CHUNK):
            rows = np.arange(block.start, block.stop)
            R, _ = self._initial_residuals(identity_columns(n, block))
            for t, _ in enumerate(self._leaf_values(R)):
                out[t] -= R[rows, rows - block.start].sum()
        return out

    # -- choice of the exact path -------------------------------------------------
    def _path_costs(self, m: int) -> dict[str, float]:
        """Estimated cost of exact norms of ``m`` evaluated rows (every round) per path.

        Leaf factors cost ``O(L^3 + n T^2)`` once (then cached) and
        ``O(m T^2)`` per call; the dense recursion ``O(T n (n + m))`` per call.
        """
        n = self.n_train
        n_groups = self.n_stages() + int(self._intercept)
        n_total = int(self._offsets[-1]) + int(self._intercept)
        pairs = n_groups * (n_groups + 1) / 2.0
        if n_total > MAX_FACTOR_LEAVES or self._row_weight is not None:
            factors = np.inf
        else:
            factors = _COST["pair"] * m * pairs
            if self._factors is None:
                factors += _COST["cube"] * float(n_total) ** 3 + _COST["pair"] * n * pairs
        blocks = -(-n // _REPLAY_CHUNK)
        dense = self.n_stages() * (n * (_COST["train"] * n + _COST["eval"] * m))
        dense += _COST["block"] * self.n_stages() * blocks
        return {"factors": factors, "dense": dense}

    def _probe_cost(self, m: int, n_probes: int) -> float:
        """Estimated cost of replaying ``n_probes`` probes through every round."""
        return self.n_stages() * (
            n_probes * (_COST["train"] * self.n_train + _COST["eval"] * m) + _COST["block"]
        )

    def _path(self, m: int) -> str:
        """The exact path for ``m`` evaluated rows: the forced one, else the cheapest."""
        if self._exact_path is not None:
            if self._exact_path not in _PATHS:
                raise ValueError(f"_exact_path must be one of {_PATHS} or None.")
            return self._exact_path
        cost = self._path_costs(m)
        return min(_PATHS, key=cost.__getitem__)

    @property
    def exact_norms_are_cheap(self) -> bool:
        """Whether exact norms on the training rows cost no more than probes would.

        Compares the cheaper exact path with ``_PROBES_FOR_COST`` replayed
        probes (the default of the probe path) at ``m = n``.
        """
        n = self.n_train
        return min(self._path_costs(n).values()) <= self._probe_cost(n, _PROBES_FOR_COST)

    # -- leaf-factor engine -------------------------------------------------------
    def _global_leaves(self, local: np.ndarray) -> np.ndarray:
        """Global leaf indices (groups, rows), the intercept as group 0 if present."""
        shift = int(self._intercept)
        glob = local + (self._offsets[:-1, None] + shift)
        if self._intercept:
            glob = np.vstack([np.zeros((1, local.shape[1]), dtype=np.int64), glob])
        return glob

    def _leaf_factors(self) -> _LeafFactors:
        if self._factors is None:
            scale = self._scale
            if self._intercept:
                scale = np.concatenate([[1.0 / self.n_train], scale])
            offsets = self._offsets
            if self._intercept:
                offsets = np.concatenate([[0], offsets + 1])
            # One BLAS thread: the threaded triangular routines lose many times over
            # when another process holds a core, and gain little when none does.
            with single_blas_thread():
                self._factors = _LeafFactors(self._global_leaves(self._fit_leaves), offsets, scale)
        return self._factors

    def _factor_norms(self, X: np.ndarray | None) -> np.ndarray:
        glob = self._global_leaves(self._leaves_for(X))
        norms = _prefix_pair_sums(self._leaf_factors().gram, glob, glob, 2.0)
        return norms[int(self._intercept) :]

    # -- the primitives -----------------------------------------------------------
    def n_stages(self) -> int:
        """Number of boosting rounds."""
        return int(self._fit_leaves.shape[0])

    def _matrix(self, X):
        return _last(self._replay(np.eye(self.n_train), X))

    def _smooth(self, Y, X):
        return _last(self._replay(Y, X))

    def _staged_smooth(self, Y, X) -> Iterator[np.ndarray]:
        # A fresh array per round (the replay updates one array in place); with
        # Y = y_train these equal the estimator's staged_predict(X).
        for F in self._replay(Y, X):
            yield F.copy()

    def _staged_row_norms_sq(self, X):
        # Leaf factors or the dense recursion on identity columns, whichever an
        # operation count says is cheaper for this model and m (the factors are
        # built once per smoother and reused).
        m = self.n_train if X is None else X.shape[0]
        if self._path(m) == "factors":
            return self._factor_norms(X)
        return self._dense_norms(X)

    def _row_norms_sq(self, X):
        return self._staged_row_norms_sq(X)[-1]

    def _staged_trace(self) -> np.ndarray:
        # From the leaf factors, tr(S_t) = sum_i sum_{h <= g <= t} M[a_g(i), a_h(i)]
        # over the leaves a_g(i) of training row i; from the dense recursion,
        # n - tr(R_t); whichever is cheaper.
        if self._path(self.n_train) == "dense":
            return self._dense_trace()
        fit = self._global_leaves(self._fit_leaves)
        ev = self._global_leaves(self._leaves_for(None))
        sums = _prefix_pair_sums(self._leaf_factors().M, ev, fit, 1.0)
        return sums[int(self._intercept) :].sum(axis=1)

    def _trace(self) -> float:
        return float(self._staged_trace()[-1])


def _check_leaf_counts(counts: np.ndarray, recorded: np.ndarray, estimator, t: int) -> None:
    if not np.array_equal(counts, recorded):
        raise training_mismatch(
            estimator, f"the leaf sizes of round {t} differ from those the fitted trees recorded"
        )


@register_smoother(GradientBoostingRegressor)
class GradientBoostingSmoother(_BoostingSmoother):
    r"""Smoother of a fitted :class:`~sklearn.ensemble.GradientBoostingRegressor`.

    Supported: ``loss="squared_error"``, ``subsample=1.0``, no early stopping
    (``n_iter_no_change=None``), and ``init`` of ``"zero"``, ``None`` (the
    training mean) or a :class:`~sklearn.dummy.DummyRegressor` with strategy
    ``"mean"`` or the constant 0. Any ``max_depth``, ``max_leaf_nodes``,
    ``max_features``, ``learning_rate`` and ``ccp_alpha``. Stages are the
    boosting rounds. scikit-learn fits gradient boosting on one output; for
    several outputs fit one model per output (Curth et al. fit one booster
    per class).

    Parameters
    ----------
    estimator : GradientBoostingRegressor
        Fitted, used as it is.
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.
    sample_weight : array-like of shape (n,), optional
        The weights of a weighted fit, checked against the weighted leaf
        sizes the trees recorded; a weighted fit without them raises.
        Weighted smoothers use the replay path only.

    Raises
    ------
    ValueError
        For configurations whose predictions are not linear in ``y`` or
        whose training rows scikit-learn does not record (another loss,
        ``subsample < 1``, early stopping, a median, quantile or nonzero
        constant ``init``, sample weights that are not passed), and for an
        ``X_train`` that does not match the fitted trees.

    Notes
    -----
    With ``S_0`` the initial smoother (``0`` for ``init="zero"``,
    :math:`\mathbf{1}\mathbf{1}^\top / n` for the mean), ``L_t`` the
    leaf-averaging operator of round ``t`` on the training rows and ``L_{X,t}``
    its rows at the evaluation inputs, and :math:`\nu` the learning rate,

    .. math::

        S_t = S_{t-1} + \nu L_t (I - S_{t-1}), \qquad
        S_{X,t} = S_{X,t-1} + \nu L_{X,t} (I - S_{t-1}).

    ``L_t = A_t D_t A_t^\top`` (``A_t`` the leaf indicator, ``D_t`` the
    inverse leaf sizes) has rank at most the number of leaves. Stacking the
    leaves of all rounds (the mean, if used, as one more leaf holding every
    row with scale ``1/n``), the leaf values of all rounds are :math:`G y`
    with

    .. math::

        G = (I + \nu D C_<)^{-1} \nu D A^\top, \qquad
        G G^\top = M + M^\top - K K^\top,

    where ``C_<`` is the block-lower part of the contingency table
    :math:`A^\top A` (counted, not multiplied),
    :math:`M = (I + \nu D C_<)^{-1} \nu D` and
    :math:`K = (I + \nu D C_<)^{-1} (2 \nu D - \nu^2 D^2 \operatorname{diag}(A^\top A))^{1/2}`.
    Row ``j`` of :math:`S_{X,t}` is the sum of the rows of ``G`` for the
    leaves of ``x_j`` in rounds ``<= t``, so its squared norm after every round
    is a running sum of entries of :math:`G G^\top`. For ``L`` leaves in
    all, ``T`` rounds and ``m`` inputs this costs :math:`O(L^3 + m T^2)`
    (one triangular inversion, one triangular product) and never forms an
    ``n x n`` matrix. The alternative, the recurrence replayed on identity
    columns, costs :math:`O(T n (n + m))`; each call takes whichever path an
    operation count says is cheaper for its model and ``m`` (the dense one
    when many leaves share few rows).

    References
    ----------
    J. H. Friedman. "Greedy function approximation: a gradient boosting
    machine". Annals of Statistics 29(5), 2001.

    P. Bühlmann, B. Yu. "Boosting with the L2 loss: regression and
    classification". Journal of the American Statistical Association 98, 2003.

    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import GradientBoostingRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    >>> gb = GradientBoostingRegressor(n_estimators=5, max_depth=1, init="zero").fit(X, y)
    >>> smoother = ec.get_smoother(gb, X, y_train=y)  # reused: caches leaves and factors
    >>> p_train = ec.staged_effective_parameters(smoother, X)  # one value per round
    >>> p_train.shape
    (5,)
    >>> staged = list(smoother.staged_smooth(y, X))  # staged predictions, same pass
    >>> bool(np.allclose(staged, list(gb.staged_predict(X))))
    True
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    def _validate(self) -> None:
        est = self.estimator
        name = type(est).__name__
        if est.loss != "squared_error":
            raise ValueError(
                f"{name}(loss={est.loss!r}) is not a linear smoother: only "
                f"loss='squared_error' makes leaf values means of residuals. {_GDF_HINT}"
            )
        if est.subsample < 1.0:
            raise ValueError(
                f"{name}(subsample={est.subsample}) fits every tree on a random subsample "
                f"that scikit-learn does not record, so the smoother weights cannot be "
                f"recovered. Refit with subsample=1.0. {_GDF_HINT}"
            )
        if est.n_iter_no_change is not None:
            raise ValueError(
                f"{name}(n_iter_no_change={est.n_iter_no_change}) stops early on a random "
                f"validation split of the training rows that scikit-learn does not "
                f"record. Refit with n_iter_no_change=None. {_GDF_HINT}"
            )
        intercept = _init_is_mean(est)
        trees = [tree.tree_ for tree in np.ravel(est.estimators_)]
        if self.sample_weight is None:
            root = trees[0]
            if not np.isclose(root.weighted_n_node_samples[0], root.n_node_samples[0], rtol=1e-12):
                raise _unrecorded_weights(est)
            check_n_train(self.X_train, int(root.n_node_samples[0]), est, "its first tree")
        self._leaf_map = LeafMap(trees)
        fit_leaves = self._leaf_map.local(self.X_train)
        weighted = self._leaf_map.recorded_sizes(weighted=True)
        recorded = self._leaf_map.recorded_sizes(weighted=False)
        scale = []
        w = self.sample_weight
        for t, (leaves, n_t) in enumerate(zip(fit_leaves, self._leaf_map.n_leaves, strict=True)):
            if w is None:
                if not np.array_equal(weighted[t], recorded[t]):
                    raise _unrecorded_weights(est)
                counts = np.bincount(leaves, minlength=n_t)
                _check_leaf_counts(counts, recorded[t], est, t)
            else:
                # Rows of zero weight are left out of the tree's own counts.
                _check_leaf_counts(np.bincount(leaves[w > 0], minlength=n_t), recorded[t], est, t)
                counts = np.bincount(leaves, weights=w, minlength=n_t)
                if not np.allclose(counts, weighted[t], rtol=1e-10, atol=0.0):
                    raise training_mismatch(
                        est,
                        f"the weighted leaf sizes of round {t} differ from those the fitted "
                        f"trees recorded",
                        "Pass the sample_weight the model was fitted with.",
                    )
            scale.append(est.learning_rate / counts)
        self._set_structure(fit_leaves, self._leaf_map.n_leaves, np.concatenate(scale), intercept)
        self._train_eval_leaves = self._fit_leaves

    def _eval_leaves(self, X: np.ndarray) -> np.ndarray:
        return self._leaf_map.local(X)


def _unrecorded_weights(est) -> ValueError:
    return ValueError(
        f"{type(est).__name__} was fitted with sample weights, which scikit-learn does not "
        f"record; weighted leaf means need them: pass the same sample_weight. {_GDF_HINT}"
    )


def _init_is_mean(est) -> bool:
    """Whether the initial model of a gradient booster is the training mean (else 0)."""
    init = est.init_
    if isinstance(init, str) and init == "zero":
        return False
    if isinstance(init, DummyRegressor):
        if init.strategy == "mean":
            return True
        if init.strategy == "constant" and np.all(np.asarray(init.constant_) == 0):
            return False
    raise ValueError(
        f"{type(est).__name__}(init={est.init!r}) starts from a model that is not a "
        f"linear smoother of the labels handled here. Supported: init='zero', init=None "
        f"(the mean), or DummyRegressor(strategy='mean') or strategy='constant' with "
        f"constant=0 (a nonzero constant, the median or a quantile is not linear in y). "
        f"{_GDF_HINT}"
    )


@register_smoother(HistGradientBoostingRegressor)
class HistGradientBoostingSmoother(_BoostingSmoother):
    r"""Smoother of a fitted :class:`~sklearn.ensemble.HistGradientBoostingRegressor`.

    Supported: ``loss="squared_error"``, any ``l2_regularization``,
    ``max_leaf_nodes``, ``max_depth``, ``max_features``, ``learning_rate`` and
    interaction constraints (they restrict splits, not leaf values). Early
    stopping is supported only when it kept every training row (scoring on
    the training loss with ``validation_fraction=None``, or on ``X_val``
    passed to ``fit``); the default ``early_stopping="auto"`` is off below
    10,000 rows. Stages are the boosting iterations. scikit-learn fits
    histogram boosting on one output.

    Parameters
    ----------
    estimator : HistGradientBoostingRegressor
        Fitted, used as it is.
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.
    sample_weight : array-like of shape (n,), optional
        The weights of a weighted fit (leaf values are then weighted sums of
        residuals over weighted leaf sizes). scikit-learn does not record
        whether the model was fitted with weights: pass ``y_train`` to have
        that checked. Weighted smoothers use the replay path only.

    Raises
    ------
    ValueError
        For another loss, monotonic constraints (they clip leaf values),
        early stopping on a held-out split of the training rows, or an
        ``X_train`` that does not match the fitted trees.

    Notes
    -----
    The initial model is the training mean; a leaf's value is
    :math:`\nu \sum_{i \in \text{leaf}} r_i / (n_\text{leaf} + \lambda)` with
    ``r`` the residuals, :math:`\nu` the learning rate and :math:`\lambda` the
    ``l2_regularization``, so the recurrence of
    :class:`GradientBoostingSmoother` holds with
    :math:`L_t = A_t \operatorname{diag}(1/(n_\text{leaf} + \lambda)) A_t^\top`,
    no longer a projection when :math:`\lambda > 0`. A tree that could not
    split keeps the value 0. Training rows are placed in leaves as during
    fitting (binned), evaluation inputs as by ``predict`` (raw thresholds).
    scikit-learn computes residuals in float32, so its predictions agree with
    this exact smoother to about 1e-8 relative, not to machine precision.

    References
    ----------
    G. Ke et al. "LightGBM: a highly efficient gradient boosting decision
    tree". NeurIPS 2017.

    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import HistGradientBoostingRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(80, 3)), rng.normal(size=80)
    >>> hgb = HistGradientBoostingRegressor(max_iter=4, l2_regularization=1.0).fit(X, y)
    >>> bool(np.allclose(ec.smooth(hgb, X, y, y_train=y), hgb.predict(X)))
    True
    """

    unverified_reason = (
        "the leaf sizes its trees record do not change when the rows are shuffled, and "
        "it does not record sample weights"
    )

    def _validate(self) -> None:
        est = self.estimator
        name = type(est).__name__
        if est.loss != "squared_error":
            raise ValueError(
                f"{name}(loss={est.loss!r}) is not a linear smoother: only "
                f"loss='squared_error' makes leaf values sums of residuals. {_GDF_HINT}"
            )
        if _has_monotonic_constraints(est.monotonic_cst):
            raise ValueError(
                f"{name} was fitted with monotonic constraints, which clip leaf values; "
                f"clipping is not linear in y. Refit with monotonic_cst=None. {_GDF_HINT}"
            )
        predictors = [iteration[0] for iteration in est._predictors]
        n_used = int(predictors[0].nodes["count"][0])
        # A validation split leaves fewer rows in the trees; without one, fewer rows
        # mean another X_train, reported as such below.
        split = est.do_early_stopping_ and est.validation_fraction is not None
        if split and n_used != self.n_train:
            raise ValueError(
                f"{name} stopped early on a random validation split of the training rows "
                f"(validation_fraction={est.validation_fraction}), which scikit-learn does "
                f"not record. Refit with early_stopping=False, or with "
                f"validation_fraction=None. {_GDF_HINT}"
            )
        check_n_train(self.X_train, n_used, est, "its first tree")
        self._leaf_predictors = [_leaf_index_predictor(p) for p in predictors]
        X_binned = np.ascontiguousarray(est._bin_mapper.transform(self._preprocess(self.X_train)))
        missing_bin = est._bin_mapper.missing_values_bin_idx_
        fit_leaves, n_leaves, scale = [], [], []
        for t, (predictor, leaf_predictor) in enumerate(
            zip(predictors, self._leaf_predictors, strict=True)
        ):
            leaves = leaf_predictor.predict_binned(X_binned, missing_bin, 1).astype(np.int64)
            is_leaf = predictor.nodes["is_leaf"].astype(bool)
            n_t = int(is_leaf.sum())
            counts = np.bincount(leaves, minlength=n_t)
            _check_leaf_counts(counts, predictor.nodes["count"][is_leaf].astype(np.int64), est, t)
            if self.sample_weight is not None:
                # Squared error with weights: hessians are the weights.
                counts = np.bincount(leaves, weights=self.sample_weight, minlength=n_t)
            if n_t == 1:
                # scikit-learn leaves a tree that could not split at the value 0.
                scale.append(np.zeros(1))
            else:
                # Same denominator as scikit-learn's leaf values, its 1e-15 included.
                scale.append(est.learning_rate / (counts + est.l2_regularization + 1e-15))
            fit_leaves.append(leaves)
            n_leaves.append(n_t)
        self._set_structure(np.array(fit_leaves), n_leaves, np.concatenate(scale), True)

    def _preprocess(self, X: np.ndarray) -> np.ndarray:
        """The estimator's own input preprocessing (categorical encoding, dtype)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return self.estimator._preprocess_X(X, reset=False)

    def _eval_leaves(self, X: np.ndarray) -> np.ndarray:
        Xp = self._preprocess(X)
        known_categories, feature_map = self.estimator._bin_mapper.make_known_categories_bitsets()
        return np.array(
            [
                p.predict(Xp, known_categories, feature_map, 1).astype(np.int64)
                for p in self._leaf_predictors
            ]
        )


def _has_monotonic_constraints(monotonic_cst) -> bool:
    if monotonic_cst is None:
        return False
    values = monotonic_cst.values() if isinstance(monotonic_cst, dict) else monotonic_cst
    return bool(np.any(np.asarray(list(values)) != 0))


def _leaf_index_predictor(predictor):
    """A copy of a histogram tree whose leaves predict their own compact index."""
    # A private scikit-learn module, imported only where histogram trees are read.
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    nodes = predictor.nodes.copy()
    leaves = np.flatnonzero(nodes["is_leaf"])
    nodes["value"][leaves] = np.arange(leaves.size)
    return TreePredictor(nodes, predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets)
