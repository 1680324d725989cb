"""Smoothers of decision trees, random forests, extra trees and bagged trees.

A fitted regression tree predicts the (weighted) mean of the training labels
in the leaf an input falls into; a classification tree's ``predict_proba`` is
the same mean of one-hot labels. A tree is therefore a linear smoother,
``S = A_X D A^T C``: ``A`` (n, L) and ``A_X`` (m, L) are the leaf indicators of
the training and evaluation inputs, ``C`` the diagonal of in-bag
multiplicities and ``D`` the inverse weighted leaf sizes. Forests and bagging
average such smoothers over their trees.

Everything here works on these leaf factors; only
:meth:`~effcomplexity.Smoother.matrix` forms a dense smoother:

* ``smooth`` takes weighted leaf means of ``Y`` tree by tree, in
  ``O((n + m) k)`` time and memory per tree;
* exact squared row norms, for the full ensemble or for every number of
  trees, come either from contingency tables between pairs of trees
  (``O((n + m) B^2)`` counting, whatever the leaf sizes) or from the sparse
  co-membership lists of each evaluation row (``O(m B N)`` for leaves of
  ``N`` rows), whichever an operation count says is cheaper; temporaries are
  bounded blocks, never a pass over an ``(n, n)`` matrix per tree.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .._validation import check_n_train, training_mismatch
from ._leaves import LeafMap
from .registry import Smoother, register_smoother

__all__ = [
    "BaggedTreesSmoother",
    "DecisionTreeSmoother",
    "ForestSmoother",
]

#: Regression criteria whose leaf value is the weighted mean of the labels.
_MEAN_CRITERIA = ("squared_error", "friedman_mse", "poisson")
#: Largest number of entries of one temporary array (keys, sparse products).
_BLOCK_ENTRIES = 1 << 22
#: Largest dense accumulator of the staged co-membership route (8 MB).
_ACCUMULATOR_ENTRIES = 1 << 20
#: Contingency tables of an ensemble are kept between calls up to this many entries.
_CACHED_TABLE_ENTRIES = 1 << 22
#: Relative cost of one unit of work of each exact route (process time measured
#: on MNIST forests; only the ratios matter). ``pair``: one row of one pair of
#: trees in the contingency route (``resampled``: the factor for training rows
#: of resampled trees, gathered and weighted); ``table``: one entry of a
#: contingency table; ``product``: one (evaluation row, tree, training row)
#: co-membership in the sparse product; ``accumulate``: the same in the staged
#: accumulation; ``zero``: one entry of its dense accumulator.
_COST = {
    "pair": 1.0,
    "resampled": 2.5,
    "table": 0.3,
    "product": 2.6,
    "accumulate": 6.0,
    "zero": 0.2,
}

_GDF_HINT = (
    "For models that are not linear smoothers of the training labels, use "
    "effcomplexity.generalized_degrees_of_freedom."
)


def _check_tree_estimator(tree, owner: str) -> None:
    """Raise unless ``tree`` is a fitted scikit-learn tree that averages labels."""
    if isinstance(tree, DecisionTreeRegressor):
        if tree.criterion not in _MEAN_CRITERIA:
            raise ValueError(
                f"{owner} uses criterion={tree.criterion!r}, whose leaves predict a "
                f"median, not a mean of the training labels. Smoother weights exist for "
                f"criterion in {_MEAN_CRITERIA}. {_GDF_HINT}"
            )
    elif not isinstance(tree, DecisionTreeClassifier):
        raise TypeError(
            f"{owner} contains a {type(tree).__name__}; tree smoothers need "
            f"DecisionTreeRegressor or DecisionTreeClassifier members. {_GDF_HINT}"
        )
    if getattr(tree, "monotonic_cst", None) is not None:
        raise ValueError(
            f"{owner} was fitted with monotonic_cst, which clips leaf values so they "
            f"are no longer leaf means. {_GDF_HINT}"
        )


def _indices(index: np.ndarray, nnz: int) -> np.ndarray:
    """Sparse-matrix index array in 32 bits where it fits (faster sparse products)."""
    fits = max(nnz, int(index.max(initial=0))) < np.iinfo(np.int32).max
    return index.astype(np.int32 if fits else np.int64, copy=False)


def _row_chunks(work: np.ndarray, budget: int) -> Iterator[slice]:
    """Split rows into consecutive slices of about ``budget`` summed ``work`` each."""
    block = np.cumsum(work) // budget
    edges = np.concatenate([[0], np.flatnonzero(np.diff(block)) + 1, [work.size]])
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        yield slice(int(start), int(stop))


class _LeafEnsembleSmoother(Smoother):
    """Average of ``B`` tree smoothers, stored as leaf factors.

    Subclasses describe the fitted trees in :meth:`_members`; everything else
    is shared. Trees are numbered ``b = 0 .. B-1`` in the estimator's order and
    leaves get global ids ``offsets[b] + local leaf``.
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    exact_norms_are_cheap = True
    supports_sample_weight = True
    #: Set by ``_members`` when the ensemble recorded which rows each tree drew.
    _rows_recorded = False
    unverified_reason = (
        "the leaf sizes its trees record do not change when the rows are shuffled, and "
        "no tree recorded which rows it drew"
    )

    @property
    def verifies_X_train(self) -> bool:
        return self._rows_recorded

    def _members(self) -> tuple[list, list, list]:
        """Fitted trees, their feature indices (or ``None``) and in-bag counts.

        Returns ``(trees, features, counts)``: ``counts[b]`` is an array of
        length ``n_train`` with the weight of every training row in tree
        ``b``'s fit (its multiplicity in the sample, or its sample weight), or
        ``None`` when every row was used once.
        """
        raise NotImplementedError

    # -- setup ------------------------------------------------------------------
    def _validate(self) -> None:
        trees, features, counts = self._members()
        owner = type(self.estimator).__name__
        for tree in trees:
            _check_tree_estimator(tree, owner)
        self._trees = [tree.tree_ for tree in trees]
        self._features = [
            None if f is None or np.array_equal(f, np.arange(self.X_train.shape[1])) else f
            for f in features
        ]
        self.n_trees = len(self._trees)
        n = self.n_train
        self._leaf_map = LeafMap(self._trees, self._features)
        self._n_leaves, self._offsets = self._leaf_map.n_leaves, self._leaf_map.offsets
        self._train_leaves = self._leaf_map.to_global(self._leaf_map.local(self.X_train))
        if all(c is None for c in counts):
            self._counts = None
        else:
            self._counts = np.ones((self.n_trees, n))
            for b, c in enumerate(counts):
                if c is not None:
                    self._counts[b] = c
        n_total = int(self._offsets[-1])
        flat = self._train_leaves.ravel()
        if self._counts is None:
            self._leaf_weight = np.bincount(flat, minlength=n_total).astype(np.float64)
            self._leaf_sq = self._leaf_weight
            self._leaf_members = self._leaf_weight.astype(np.int64)
        else:
            c = self._counts.ravel()
            self._leaf_weight = np.bincount(flat, weights=c, minlength=n_total)
            self._leaf_sq = np.bincount(flat, weights=c * c, minlength=n_total)
            self._leaf_members = np.bincount(flat[c > 0], minlength=n_total)
        self._check_leaf_sizes()
        self._member_matrix_cache = None
        self._row_weight_cache = None
        self._table_cache = {}
        table_entries = int(np.dot(self._n_leaves, self._offsets[:-1]))
        self._cache_tables = table_entries <= _CACHED_TABLE_ENTRIES

    def _check_leaf_sizes(self) -> None:
        """Leaf sizes of ``X_train`` must be those the trees recorded when fitted:
        the number of rows in every leaf (``n_node_samples``) and their total
        weight (``weighted_n_node_samples``)."""
        members = np.concatenate(self._leaf_map.recorded_sizes(weighted=False))
        recorded = np.concatenate(self._leaf_map.recorded_sizes(weighted=True))
        wrong_rows = self._leaf_members != members
        mismatch = wrong_rows | ~np.isclose(self._leaf_weight, recorded, rtol=1e-10, atol=1e-8)
        if mismatch.any():
            leaf = int(np.flatnonzero(mismatch)[0])
            b = int(np.searchsorted(self._offsets, leaf, side="right")) - 1
            what = "row counts" if wrong_rows[leaf] else "weighted sizes"
            raise training_mismatch(
                self.estimator,
                f"the leaf sizes ({what}) of tree {b} differ from those it recorded when "
                f"fitted (leaf {leaf - int(self._offsets[b])}: "
                f"{self._leaf_members[leaf]} rows of weight {self._leaf_weight[leaf]:g}, "
                f"recorded {int(members[leaf])} rows of weight {recorded[leaf]:g})",
                f"If the model was fitted with sample_weight, pass the same sample_weight; "
                f"class_weight makes leaf weights depend on the labels and is not "
                f"supported. {_GDF_HINT}",
            )

    def _eval_leaves(self, X) -> np.ndarray:
        """Global leaf ids (B, m) of validated evaluation rows; ``None`` is the training set."""
        if X is None:
            return self._train_leaves
        return self._leaf_map.to_global(self._leaf_map.local(X))

    def _member_matrix(self) -> sp.csr_array:
        """(total leaves, n) matrix ``A^T C``: row ``(b, l)`` holds the in-bag
        multiplicities of the training rows in leaf ``l`` of tree ``b``."""
        if self._member_matrix_cache is None:
            rows = self._train_leaves.ravel()
            cols = np.tile(np.arange(self.n_train), self.n_trees)
            if self._counts is None:
                data = np.ones(rows.size)
            else:
                data = self._counts.ravel()
                keep = data > 0
                rows, cols, data = rows[keep], cols[keep], data[keep]
            H = sp.csr_array((data, (rows, cols)), shape=(int(self._offsets[-1]), self.n_train))
            self._member_matrix_cache = sp.csr_array(
                (H.data, _indices(H.indices, H.nnz), _indices(H.indptr, H.nnz)), shape=H.shape
            )
        return self._member_matrix_cache

    def _row_weights(self) -> np.ndarray:
        """(B, n) weights ``c_b(i) / N_b(leaf_b(i))``: row ``i``'s weight in its own leaf."""
        if self._row_weight_cache is None:
            w = 1.0 / self._leaf_weight[self._train_leaves]
            if self._counts is not None:
                w *= self._counts
            self._row_weight_cache = w
        return self._row_weight_cache

    def _weight_rows(self, leaves: np.ndarray) -> sp.csr_array:
        """(m, total leaves) matrix ``A_X D`` for evaluation leaves (B, m)."""
        B, m = leaves.shape
        cols = np.ascontiguousarray(leaves.T).ravel()
        indptr = np.arange(0, m * B + 1, B)
        return sp.csr_array(
            (1.0 / self._leaf_weight[cols], _indices(cols, m * B), _indices(indptr, m * B)),
            shape=(m, int(self._offsets[-1])),
        )

    # -- primitives ------------------------------------------------------------
    def _matrix(self, X):
        leaves = self._eval_leaves(X)
        S = self._weight_rows(leaves) @ self._member_matrix()
        return S.toarray() / self.n_trees

    def _leaf_means(self, b: int, Y: np.ndarray) -> np.ndarray:
        """(L_b, k) weighted means of ``Y`` over the leaves of tree ``b``."""
        start, stop = self._offsets[b], self._offsets[b + 1]
        sums = self._member_matrix()[start:stop] @ Y
        return sums / self._leaf_weight[start:stop, None]

    def _smooth(self, Y, X):
        # Weighted leaf means of Y averaged over the trees: O((n + m) k) per tree.
        out = None
        for SY in self._tree_smooth(Y, X):
            out = SY if out is None else out + SY
        return out / self.n_trees

    def _tree_smooth(self, Y, X) -> Iterator[np.ndarray]:
        """Yield ``S_b(X) @ Y`` for every tree ``b`` in order."""
        Y = np.asarray(Y, dtype=np.float64)
        leaves = self._eval_leaves(X)
        for b in range(self.n_trees):
            yield self._leaf_means(b, Y)[leaves[b] - self._offsets[b]]

    def _trace(self) -> float:
        # Mean over trees of each training row's weight in its own leaf.
        return float(self._row_weights().sum() / self.n_trees)

    def _row_norms_sq(self, X) -> np.ndarray:
        r"""Exact ``||s(x)||^2`` for the rows of validated ``X``, from the leaf factors.

        Parameters
        ----------
        X : array-like of shape (m, n_features), optional
            Evaluation inputs; ``None`` means the training inputs.

        Returns
        -------
        ndarray of shape (m,)

        Notes
        -----
        Tree ``b`` gives row ``i`` the weight
        :math:`s_b(x)_i = c_b(i) 1[l_b(i) = l_b(x)] / N_b(l_b(x))` (``c_b`` the
        in-bag multiplicities, ``N_b`` the weighted leaf sizes), and the
        ensemble of ``t`` trees averages them. Then

        .. math::

            t^2 \lVert s_t(x) \rVert^2 = \sum_{a \le t} \Big( 2 \sum_{b < a}
            \frac{G_{ab}(l_a(x), l_b(x))}{N_a(l_a(x)) N_b(l_b(x))}
            + \frac{\sum_i c_a(i)^2 1[l_a(i) = l_a(x)]}{N_a(l_a(x))^2} \Big),

        where :math:`G_{ab} = A_a^\top C_a C_b A_b` is the ``L_a x L_b``
        contingency table of two trees' leaves, counted in ``O(n)``: a sum
        over pairs of trees of small table look-ups, ``O((n + m) t^2)`` in all.
        When leaves are small, summing the sparse rows
        :math:`\sum_b s_b(x)` directly costs ``O(m t N)`` for leaves of
        ``N`` rows instead; the cheaper route is chosen from operation counts.
        Neither forms a dense ``(m, n)`` matrix.

        References
        ----------
        A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
        Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.
        """
        leaves = self._eval_leaves(X)
        cost = self._route_costs(leaves)
        if cost["contingency"] <= cost["product"]:
            return self._staged_norms_contingency(leaves)[-1]
        return self._norms_product(leaves)

    # -- exact norms: the two routes ---------------------------------------------
    def _route_costs(self, leaves: np.ndarray) -> dict[str, float]:
        """Operation counts of the exact routes for evaluation leaves (B, m)."""
        B, m = leaves.shape
        members = (
            np.full(B, self.n_train)
            if self._counts is None
            else np.count_nonzero(self._counts, axis=1)
        )
        resampled = 1.0 if self._counts is None else _COST["resampled"]
        pairs = resampled * float(np.dot(members, np.arange(B))) + m * B * (B - 1) / 2.0
        table = float(np.dot(self._n_leaves, self._offsets[:-1]))
        comembers = float(self._leaf_members[leaves].sum())
        return {
            "contingency": _COST["pair"] * pairs + _COST["table"] * table,
            "product": _COST["product"] * comembers,
            "accumulate": _COST["accumulate"] * comembers + _COST["zero"] * m * self.n_train,
        }

    def _norms_product(self, leaves: np.ndarray) -> np.ndarray:
        """``||s(x)||^2`` from sparse products ``(A_X D)(A^T C)``, a block of rows at a time."""
        H = self._member_matrix()
        work = self._leaf_members[leaves].sum(axis=0)
        out = np.empty(leaves.shape[1])
        for rows in _row_chunks(work, _BLOCK_ENTRIES):
            S = self._weight_rows(leaves[:, rows]) @ H
            out[rows] = np.add.reduceat(S.data**2, S.indptr[:-1])
        return out / self.n_trees**2

    def _contingency_blocks(self, a: int) -> Iterator[tuple]:
        r"""Contingency tables of tree ``a`` against trees ``b < a``, a block of trees at a time.

        Yields ``(b0, b1, table, keys)``: ``table[(g - offsets[b0]) * L_a + l]``
        is :math:`\sum_i c_a(i) c_b(i) 1[l_a(i) = l] 1[g_b(i) = g] / N_b(g)`
        for the global leaves ``g`` of trees ``b0 <= b < b1``; ``keys`` are the
        training rows' own entries when every row is in tree ``a``'s sample,
        else ``None``. Small tables are kept for later calls.
        """
        cached = self._table_cache.get(a)
        if cached is not None:
            for b0, b1, table in cached:
                yield b0, b1, table, None
            return
        off, n_a = self._offsets, int(self._n_leaves[a])
        if self._counts is None:
            rows, c_a, n_rows = slice(None), None, self.n_train
        else:
            rows = np.flatnonzero(self._counts[a])
            c_a, n_rows = self._counts[a, rows], rows.size
        train_local = self._train_leaves[a, rows] - off[a]
        weights = self._row_weights()
        store = [] if self._cache_tables else None
        b0 = 0
        while b0 < a:
            # keys and table of a block stay within the temporary-array budget
            by_keys = b0 + _BLOCK_ENTRIES // n_rows
            by_table = np.searchsorted(off, off[b0] + _BLOCK_ENTRIES // n_a, side="right") - 1
            b1 = int(min(a, max(b0 + 1, min(by_keys, by_table))))
            keys = self._train_leaves[b0:b1, rows] * n_a
            keys += train_local - off[b0] * n_a
            w = weights[b0:b1, rows] if c_a is None else weights[b0:b1, rows] * c_a
            size = int(off[b1] - off[b0]) * n_a
            table = np.bincount(keys.ravel(), weights=w.ravel(), minlength=size)
            if store is not None:
                store.append((b0, b1, table))
            yield b0, b1, table, keys if c_a is None else None
            b0 = b1
        if store is not None:
            self._table_cache[a] = store

    def _staged_norms_contingency(self, leaves: np.ndarray) -> np.ndarray:
        """Cumulative ``||s_t(x)||^2`` for every number of trees ``t`` from contingency tables."""
        B, m = leaves.shape
        off, N = self._offsets, self._leaf_weight
        on_train = leaves is self._train_leaves
        increments = np.empty((B, m))
        for a in range(B):
            n_a = int(self._n_leaves[a])
            eval_local = leaves[a] - off[a]
            N_eval = N[leaves[a]]
            cross = np.zeros(m)
            for b0, b1, table, keys in self._contingency_blocks(a):
                if keys is not None and on_train:
                    cross += table.take(keys).sum(axis=0)
                    continue
                width = max(1, _BLOCK_ENTRIES // (b1 - b0))
                for c0 in range(0, m, width):
                    cols = slice(c0, c0 + width)
                    keys = leaves[b0:b1, cols] * n_a
                    keys += eval_local[cols] - off[b0] * n_a
                    cross[cols] += table.take(keys).sum(axis=0)
            increments[a] = 2.0 * cross / N_eval + self._leaf_sq[leaves[a]] / N_eval**2
        stages = np.arange(1, B + 1, dtype=np.float64)
        return np.cumsum(increments, axis=0) / stages[:, None] ** 2

    def _staged_norms_accumulate(self, leaves: np.ndarray) -> np.ndarray:
        """Cumulative ``||s_t(x)||^2`` by accumulating unnormalised rows a block at a time."""
        B, m = leaves.shape
        n = self.n_train
        H = self._member_matrix()
        ptr, cols = H.indptr.astype(np.int64), H.indices.astype(np.int64)
        N = self._leaf_weight
        member_weight = H.data / np.repeat(N, np.diff(ptr))
        increments = np.empty((B, m))
        block = max(1, _ACCUMULATOR_ENTRIES // n)
        for start in range(0, m, block):
            stop = min(m, start + block)
            acc = np.zeros((stop - start) * n)
            row_start = np.arange(stop - start, dtype=np.int64) * n
            for a in range(B):
                e = leaves[a, start:stop]
                lens = self._leaf_members[e]
                ends = np.cumsum(lens)
                seg = ends - lens
                # positions of each row's leaf members in the member lists, then in acc
                pos = np.arange(ends[-1]) + np.repeat(ptr[e] - seg, lens)
                flat = cols.take(pos) + np.repeat(row_start, lens)
                w = member_weight.take(pos)
                old = acc.take(flat)
                cross = np.add.reduceat(old * w, seg)
                acc[flat] = old + w
                increments[a, start:stop] = 2.0 * cross + self._leaf_sq[e] / N[e] ** 2
        stages = np.arange(1, B + 1, dtype=np.float64)
        return np.cumsum(increments, axis=0) / stages[:, None] ** 2


class _StagedEnsembleSmoother(_LeafEnsembleSmoother):
    """Tree ensembles: stage ``t`` is the average of the first ``t`` trees."""

    supports_staged = True

    def n_stages(self) -> int:
        """Number of trees: stage ``t`` averages trees ``1 .. t``."""
        return self.n_trees

    def _staged_row_norms_sq(self, X) -> np.ndarray:
        r"""Exact ``||s_t(x)||^2`` for every number of trees ``t``, in one pass.

        Parameters
        ----------
        X : array-like of shape (m, n_features), optional
            Evaluation inputs; ``None`` means the training inputs.

        Returns
        -------
        ndarray of shape (n_trees, m)
            Row ``t - 1`` holds the squared norms of the average of the first
            ``t`` trees.

        Notes
        -----
        Each tree adds one increment to :math:`t^2 \lVert s_t(x) \rVert^2`
        (see :meth:`row_norms_sq`), so all stages cost what the last one does.
        For small leaves the increments come from accumulating the
        unnormalised rows :math:`t\, s_t(x)` a block of evaluation rows at a
        time instead: each tree adds its weights to the ``N`` training rows of
        the leaf and reads the accumulated values there.
        """
        leaves = self._eval_leaves(X)
        cost = self._route_costs(leaves)
        if cost["contingency"] <= cost["accumulate"]:
            return self._staged_norms_contingency(leaves)
        return self._staged_norms_accumulate(leaves)

    def _staged_trace(self) -> np.ndarray:
        """Exact ``tr(S_t)`` for every number of trees ``t``: shape (n_trees,).

        The trace of one tree is the sum of each training row's weight in its
        own leaf; stage ``t`` averages the first ``t`` trees.
        """
        per_tree = self._row_weights().sum(axis=1)
        return np.cumsum(per_tree) / np.arange(1, self.n_trees + 1)

    def _staged_smooth(self, Y, X) -> Iterator[np.ndarray]:
        """Yield ``S_t(X) @ Y`` for ``t = 1 .. n_trees``, one tree's work per stage.

        Parameters
        ----------
        Y : array-like of shape (n_train, k)
            Labels or probes on the training rows.
        X : array-like of shape (m, n_features), optional
            Evaluation inputs; ``None`` means the training inputs.

        Yields
        ------
        ndarray of shape (m, k)
        """
        total = None
        for t, SY in enumerate(self._tree_smooth(Y, X), start=1):
            total = SY if total is None else total + SY
            yield total / t


@register_smoother(DecisionTreeRegressor)
@register_smoother(DecisionTreeClassifier)
class DecisionTreeSmoother(_LeafEnsembleSmoother):
    r"""Smoother of a fitted decision tree (regressor, or classifier probabilities).

    ``s(x)`` puts weight ``1 / N(l)`` on each of the ``N(l)`` training rows in
    the leaf ``l`` that ``x`` falls into. For a classifier, ``S @ Y`` with
    ``Y`` the one-hot labels (columns in ``classes_`` order) is
    ``predict_proba``. Covers ``ExtraTreeRegressor``/``Classifier`` too.

    Parameters
    ----------
    estimator : DecisionTreeRegressor or DecisionTreeClassifier
        Fitted without class weights; regressors with a mean-valued
        criterion (``"squared_error"``, ``"friedman_mse"``, ``"poisson"``).
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.
    sample_weight : array-like of shape (n,), optional
        The weights of a weighted fit: leaf means are then weighted means.
        The tree records every leaf's weight, so a fit with weights that are
        not passed (or other weights) raises ``TrainingMismatchError``.

    Raises
    ------
    ValueError
        If ``X_train`` does not have the training set's row count or leaf
        sizes, or the tree's leaves are not label means.

    Notes
    -----
    .. math::

        s(x)_i = \frac{1[l(x_i) = l(x)]}{N(l(x))}, \qquad
        \lVert s(x) \rVert^2 = \frac{1}{N(l(x))},

    so :math:`\hat p_{train}` is the number of leaves and
    :math:`\hat p_{test} = \frac{n}{m} \sum_j 1 / N(l(x_j))`.

    References
    ----------
    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> tree = DecisionTreeRegressor(max_leaf_nodes=8, random_state=0)
    >>> y = rng.normal(size=100)
    >>> tree = tree.fit(X, y)
    >>> round(ec.effective_parameters(tree, X, y_train=y), 10)   # p_train = number of leaves
    8.0
    """

    def _members(self):
        tree = self.estimator.tree_
        if self.sample_weight is None:
            _check_unweighted(self.estimator, tree)
            check_n_train(
                self.X_train, int(tree.n_node_samples[0]), self.estimator, "tree_.n_node_samples"
            )
        return [self.estimator], [None], [self.sample_weight]


def _check_unweighted(estimator, tree) -> None:
    """Raise if a tree's root weighs other than its row count: a weighted fit."""
    rows, weight = int(tree.n_node_samples[0]), float(tree.weighted_n_node_samples[0])
    if np.isclose(rows, weight, rtol=1e-12, atol=0.0):
        return
    if getattr(estimator, "class_weight", None) is not None:
        raise ValueError(
            f"{type(estimator).__name__}(class_weight={estimator.class_weight!r}) weights "
            f"every row by its class (a sample_weight that depends on the labels), so "
            f"predict_proba is not a linear smoother of them. Refit with class_weight=None. "
            f"{_GDF_HINT}"
        )
    raise training_mismatch(
        estimator,
        f"the tree was fitted with sample weights (its {rows} training rows weigh "
        f"{weight:g} in all), which scikit-learn does not record",
        "Pass the same sample_weight.",
    )


def _bincount_samples(indices: np.ndarray, n: int, owner: str, b: int) -> np.ndarray:
    """In-bag multiplicity of each of the ``n`` training rows in member ``b``'s sample."""
    indices = np.asarray(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(
            f"X_train has {n} rows, but member {b} of {owner} was fitted on row "
            f"{int(indices.max())} (from estimators_samples_). Pass the exact training "
            f"inputs, in the order used to fit the model."
        )
    return np.bincount(indices, minlength=n)


def _check_recorded_rows(smoother: Smoother) -> None:
    """Compare ``X_train``'s row count with the one the ensemble's sampler used.

    scikit-learn regenerates ``estimators_samples_`` from this count, so it is
    read where the installed version keeps it.
    """
    n_fitted = getattr(smoother.estimator, "_n_samples", None)
    if n_fitted is not None:
        check_n_train(smoother.X_train, int(n_fitted), smoother.estimator, "the fitted ensemble")


@register_smoother(RandomForestRegressor)
@register_smoother(RandomForestClassifier)
@register_smoother(ExtraTreesRegressor)
@register_smoother(ExtraTreesClassifier)
class ForestSmoother(_StagedEnsembleSmoother):
    r"""Smoother of a random forest or extra-trees ensemble (regressor or classifier).

    The forest averages its trees' smoothers; each tree weights the training
    rows by their multiplicity in its bootstrap sample, read from the public
    ``estimators_samples_`` (``bootstrap=False``: every row once). Stages are
    cumulative numbers of trees, in ``estimators_`` order. For classifiers,
    ``S @ Y`` with one-hot labels is ``predict_proba``.

    Parameters
    ----------
    estimator : RandomForest or ExtraTrees Regressor or Classifier
        Fitted, with ``bootstrap`` on or off and any ``max_samples``.
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.
    sample_weight : array-like of shape (n,), optional
        The weights of a fit with ``bootstrap=False`` (every tree then takes
        weighted leaf means). With ``bootstrap=True`` scikit-learn draws the
        samples with these probabilities and records them in
        ``estimators_samples_``, so they need not be passed.

    Raises
    ------
    ValueError
        If ``X_train``'s rows do not match the bootstrap samples or the leaf
        sizes recorded by the trees, or a tree's leaves are not label means.

    Notes
    -----
    .. math::

        s(x)_i = \frac{1}{B} \sum_{b=1}^{B}
        \frac{c_b(i)\, 1[l_b(x_i) = l_b(x)]}{\sum_{i'} c_b(i')\, 1[l_b(x_{i'}) = l_b(x)]},

    with :math:`c_b(i)` the number of times row ``i`` was drawn for tree ``b``.

    References
    ----------
    L. Breiman. "Random Forests". Machine Learning 45, 2001.

    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(200, 4)), rng.normal(size=200)
    >>> forest = RandomForestRegressor(n_estimators=20, max_leaf_nodes=10,
    ...                                random_state=0).fit(X, y)
    >>> p = ec.staged_effective_parameters(forest, X, X[:50])
    >>> p.shape
    (20,)
    """

    def _members(self):
        est = self.estimator
        n, owner = self.n_train, type(self.estimator).__name__
        _check_recorded_rows(self)
        samples = est.estimators_samples_
        counts = []
        for b, indices in enumerate(samples):
            if not est.bootstrap:
                # Without bootstrap every tree is fitted with the forest's sample_weight;
                # with it, the weights only drew the samples (estimators_samples_).
                check_n_train(self.X_train, len(indices), est, "estimators_samples_")
                counts.append(self.sample_weight)
            else:
                if est.max_samples is None:
                    check_n_train(self.X_train, len(indices), est, "estimators_samples_")
                counts.append(_bincount_samples(indices, n, owner, b))
        # Bootstrap counts are tied to row positions: shuffled rows change the leaf weights.
        self._rows_recorded = bool(est.bootstrap)
        return list(est.estimators_), [None] * len(counts), counts


@register_smoother(BaggingRegressor)
@register_smoother(BaggingClassifier)
class BaggedTreesSmoother(_StagedEnsembleSmoother):
    r"""Smoother of bagged decision trees (``BaggingRegressor``/``Classifier``).

    Each member tree sees the columns in ``estimators_features_`` (with
    repeats when ``bootstrap_features=True``) and weights the training rows
    by their multiplicity in ``estimators_samples_``. Stages are cumulative
    numbers of members. For ``BaggingClassifier`` with tree members,
    ``S @ Y`` with one-hot labels is ``predict_proba``.

    Parameters
    ----------
    estimator : BaggingRegressor or BaggingClassifier
        Fitted, with decision-tree members.
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.

    Raises
    ------
    ValueError
        If ``X_train``'s rows do not match the members' samples or leaf sizes.

    Notes
    -----
    .. math::

        s(x)_i = \frac{1}{B} \sum_{b=1}^{B}
        \frac{c_b(i)\, 1[l_b(x_{i, F_b}) = l_b(x_{F_b})]}
        {\sum_{i'} c_b(i')\, 1[l_b(x_{i', F_b}) = l_b(x_{F_b})]},

    with :math:`F_b` the features and :math:`c_b` the sample multiplicities
    of member ``b``. Bagging of other families (least squares, ridge,
    neighbours: any registered member) is measured by
    :class:`~effcomplexity.smoothers.bagging.BaggingSmoother`.

    References
    ----------
    L. Breiman. "Bagging Predictors". Machine Learning 24, 1996.
    """

    @classmethod
    def _family_for(cls, estimator):
        # Bagged trees share leaf factors; bagging of any other family averages smoothers.
        members = getattr(estimator, "estimators_", [])
        if all(isinstance(m, (DecisionTreeRegressor, DecisionTreeClassifier)) for m in members):
            return cls
        from .bagging import BaggingSmoother

        return BaggingSmoother

    def _members(self):
        est = self.estimator
        n, owner = self.n_train, type(self.estimator).__name__
        _check_recorded_rows(self)
        counts = [
            _bincount_samples(indices, n, owner, b)
            for b, indices in enumerate(est.estimators_samples_)
        ]
        counts = [None if np.all(c == 1) else c for c in counts]
        self._rows_recorded = any(c is not None for c in counts)
        return list(est.estimators_), list(est.estimators_features_), counts
