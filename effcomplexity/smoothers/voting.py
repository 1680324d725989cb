"""Smoother of averaged ensembles: scikit-learn's ``VotingRegressor``.

The prediction of a voting ensemble is a weighted average of its members'
predictions, so its smoother is the weighted average of the members'
smoothers, whatever their families. Curth et al.'s ensembles of boosters are
voting ensembles of the same booster with different seeds, staged per round.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.ensemble import VotingRegressor

from .._validation import check_reproduces_predictions, warn_unverified
from .registry import (
    Smoother,
    build_smoother,
    identity_blocks,
    identity_columns,
    register_smoother,
)

__all__ = ["VotingMembersSmoother", "VotingSmoother", "staged_over_members"]


@register_smoother(VotingRegressor)
class VotingSmoother(Smoother):
    r"""Smoother of a fitted :class:`~sklearn.ensemble.VotingRegressor`.

    The prediction is the weighted average of the members' predictions, so
    the smoother is the weighted average of the members' smoothers; every
    member must be a registered family (any, including boosters, trees and
    linear models). Dropped members are skipped. With Curth et al.'s
    ensembles of boosters (the same booster with different seeds) the
    ensemble is staged: stage ``t`` averages every member after ``t`` rounds,
    which requires staged members with equal numbers of stages.

    Parameters
    ----------
    estimator : VotingRegressor
        Fitted, used as it is.
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.
    sample_weight : array-like of shape (n,), optional
        The weights of a weighted fit, handed to every member's smoother (as
        ``fit`` hands them to every member); members that cannot use them raise.

    Raises
    ------
    TypeError
        If a member's type has no registered smoother.

    Notes
    -----
    With weights :math:`w_j` and member smoothers :math:`S^{(j)}`,

    .. math::

        S(X) = \frac{\sum_j w_j S^{(j)}(X)}{\sum_j w_j}, \qquad
        S_t(X) = \frac{\sum_j w_j S^{(j)}_t(X)}{\sum_j w_j}.

    Squared row norms involve cross terms between members, so exact norms
    are computed from the averaged weights themselves (the dense matrix, or
    replayed identity columns per stage); the random-probe path only needs
    the members' ``smooth``. ``tr(S)`` is the weighted average of the
    members' traces.

    References
    ----------
    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    An ensemble of boosters with different seeds, staged per boosting round:

    >>> import numpy as np
    >>> from sklearn.ensemble import GradientBoostingRegressor, VotingRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    >>> boosters = [
    ...     (f"seed{s}", GradientBoostingRegressor(n_estimators=4, max_features=1, random_state=s))
    ...     for s in range(3)
    ... ]
    >>> vote = VotingRegressor(boosters).fit(X, y)
    >>> ec.staged_effective_parameters(vote, X, y_train=y).shape
    (4,)
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    #: ``VotingRegressor.fit(sample_weight=...)`` hands the weights to every member.
    supports_sample_weight = True

    def _validate(self) -> None:
        est = self.estimator
        members = list(est.estimators_)
        if est.weights is None:
            weights = np.ones(len(members))
        else:
            weights = np.array(
                [
                    w
                    for (_, member), w in zip(est.estimators, est.weights, strict=True)
                    if not (isinstance(member, str) and member == "drop")
                ],
                dtype=float,
            )
        self._members = [
            build_smoother(member, self.X_train, sample_weight=self.sample_weight)
            for member in members
        ]
        self._weights = weights / weights.sum()
        stages = {m.n_stages() for m in self._members if m.supports_staged}
        self.supports_staged = all(m.supports_staged for m in self._members) and len(stages) == 1

    @property
    def verifies_X_train(self) -> bool:
        # The members share X_train: one member that checks it checks it for all.
        return any(m.verifies_X_train for m in self._members)

    @property
    def unverified_reason(self) -> str:
        return (
            "none of its members can check it ("
            + "; ".join(
                f"{type(m.estimator).__name__}: {m.unverified_reason}" for m in self._members
            )
            + ")"
        )

    def _stage_count_error(self) -> TypeError:
        counts = [m.n_stages() if m.supports_staged else None for m in self._members]
        return TypeError(
            f"This VotingRegressor has no common stages: stage t averages every member "
            f"after t stages, so all members must be staged with equal numbers of "
            f"stages (members' stages: {counts}). Use effective_parameters for the "
            f"whole ensemble."
        )

    def _matrix(self, X):
        return sum(w * m._matrix(X) for w, m in zip(self._weights, self._members, strict=True))

    def _smooth(self, Y, X):
        return sum(w * m._smooth(Y, X) for w, m in zip(self._weights, self._members, strict=True))

    def _trace(self) -> float:
        return float(sum(w * m._trace() for w, m in zip(self._weights, self._members, strict=True)))

    def n_stages(self) -> int:
        """Number of stages shared by all members."""
        if not self.supports_staged:
            raise self._stage_count_error()
        return self._members[0].n_stages()

    def _staged_smooth(self, Y, X) -> Iterator[np.ndarray]:
        # The weighted average of the members' S_t(X) @ Y; checked before iterating.
        if not self.supports_staged:
            raise self._stage_count_error()
        stages = [m._staged_smooth(Y, X) for m in self._members]
        return (
            sum(w * part for w, part in zip(self._weights, parts, strict=True))
            for parts in zip(*stages, strict=True)
        )

    def _staged_trace(self) -> np.ndarray:
        # Traces are linear: the weighted sum of the members' exact staged traces.
        if not self.supports_staged:
            raise self._stage_count_error()
        members = zip(self._weights, self._members, strict=True)
        return sum(w * np.asarray(m._staged_trace(), dtype=float) for w, m in members)

    def _staged_row_norms_sq(self, X) -> np.ndarray:
        # Cross terms between members: from the averaged weights, on identity columns.
        n_stages = self.n_stages()
        n = self.n_train
        out = np.zeros((n_stages, n if X is None else X.shape[0]))
        for block in identity_blocks(n):
            for t, F in enumerate(self._staged_smooth(identity_columns(n, block), X)):
                out[t] += np.einsum("ij,ij->i", F, F)
        return out


class VotingMembersSmoother(VotingSmoother):
    r"""Smoother of a ``VotingRegressor`` staged over its members.

    Stage ``m`` (``m = 1 .. M``) is the weighted average of the first ``m``
    fitted members, in the order of ``estimators`` (dropped members
    skipped), with their voting weights renormalised: the smoother of the
    ``VotingRegressor`` built from those members alone. The last stage is
    the whole ensemble. Build it with :func:`staged_over_members`.

    Notes
    -----
    With weights :math:`w_j` and member smoothers :math:`S^{(j)}`,

    .. math::

        S_m(X) = \frac{\sum_{j \le m} w_j S^{(j)}(X)}{\sum_{j \le m} w_j}.
    """

    def _validate(self) -> None:
        super()._validate()
        if self._weights[0] <= 0.0:
            raise ValueError(
                f"The first member of this {type(self.estimator).__name__} has voting weight "
                f"0, so the average of the first member alone is undefined. Put a member "
                f"with a positive weight first."
            )
        self.supports_staged = True

    def n_stages(self) -> int:
        """Number of members (stage ``m`` averages the first ``m``)."""
        return len(self._members)

    def _staged_smooth(self, Y, X) -> Iterator[np.ndarray]:
        def stages():
            total, weight = 0.0, 0.0
            for w, member in zip(self._weights, self._members, strict=True):
                total = total + w * member._smooth(Y, X)
                weight += w
                yield total / weight

        return stages()

    def _staged_trace(self) -> np.ndarray:
        # Traces are linear: running weighted means of the members' exact traces.
        traces = np.array([member._trace() for member in self._members], dtype=float)
        return np.cumsum(self._weights * traces) / np.cumsum(self._weights)


def staged_over_members(
    estimator: VotingRegressor, X_train, *, y_train=None, sample_weight=None
) -> VotingMembersSmoother:
    r"""Smoother of a fitted ``VotingRegressor`` whose stages add its members one by one.

    Stage ``m`` is the average of the first ``m`` members, so the staged
    measures of the returned smoother trace the ensemble axis of Curth et
    al.'s boosting and forest figures (the number of averaged models) on one
    fitted ensemble: pass it as the estimator of
    :func:`~effcomplexity.staged_effective_parameters`,
    :func:`~effcomplexity.staged_degrees_of_freedom` or
    :func:`~effcomplexity.staged_predictions` (with ``X_train=None``).

    Parameters
    ----------
    estimator : VotingRegressor
        Fitted; every member must be a registered family.
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.
    y_train : array-like of shape (n,), optional
        The training labels: ``S(X_train) @ y_train`` must equal the
        ensemble's predictions, as in :func:`~effcomplexity.get_smoother`.
    sample_weight : array-like of shape (n,), optional
        The fit's sample weights, handed to every member's smoother.

    Returns
    -------
    VotingMembersSmoother
        A :class:`~effcomplexity.Smoother` with one stage per fitted member.

    Raises
    ------
    TypeError
        If ``estimator`` is not a ``VotingRegressor``, or a member's type has
        no registered smoother.
    ValueError
        If the first member's voting weight is 0.

    See Also
    --------
    effcomplexity.staged_effective_parameters : the staged measure it feeds.

    Notes
    -----
    Bagging ensembles and forests are staged over their members already;
    a ``VotingRegressor`` of staged members (boosters of equal length) is
    staged over boosting rounds by :func:`~effcomplexity.get_smoother`.

    References
    ----------
    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import VotingRegressor
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> vote = VotingRegressor(
    ...     [(f"k{k}", KNeighborsRegressor(n_neighbors=k)) for k in (1, 2, 5)]
    ... ).fit(X, X[:, 0])
    >>> by_member = ec.staged_over_members(vote, X)
    >>> ec.staged_degrees_of_freedom(by_member, None)   # running means of n / k
    array([30. , 22.5, 17. ])
    """
    if not isinstance(estimator, VotingRegressor):
        raise TypeError(
            f"staged_over_members takes a fitted VotingRegressor, not "
            f"{type(estimator).__name__}; forests and bagging ensembles are staged over "
            f"their members by staged_effective_parameters directly."
        )
    smoother = VotingMembersSmoother(estimator, X_train, sample_weight=sample_weight)
    if y_train is None:
        if not smoother.verifies_X_train:
            warn_unverified(smoother)
    else:
        check_reproduces_predictions(smoother, y_train)
    return smoother
