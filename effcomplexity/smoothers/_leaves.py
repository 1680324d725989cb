"""Leaf membership of fitted scikit-learn trees, shared by tree and boosting smoothers.

A tree's smoother is ``A D A^T`` with ``A`` the (n, L) leaf-indicator matrix;
everything the families need starts from the compact leaf index of each row,
which :class:`LeafMap` gives for the trees of every scikit-learn ensemble
(histogram boosting has its own tree format and numbers its leaves itself).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LeafMap", "as_tree_input", "leaf_numbering"]


def as_tree_input(X: np.ndarray) -> np.ndarray:
    """Convert validated inputs once to the float32, C-contiguous array trees read.

    Calling the low-level ``tree_.apply`` on this array avoids the per-call
    validation and copy of the estimator-level ``apply``.
    """
    return np.ascontiguousarray(X, dtype=np.float32)


def leaf_numbering(tree) -> tuple[np.ndarray, int]:
    """Compact leaf number of every node of a fitted tree.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        The low-level ``estimator.tree_`` of a fitted tree.

    Returns
    -------
    node_to_leaf : ndarray of int64, shape (node_count,)
        ``0 .. n_leaves - 1`` for leaves in node order, ``-1`` for split nodes.
    n_leaves : int
    """
    is_leaf = tree.children_left == -1
    return np.where(is_leaf, np.cumsum(is_leaf) - 1, -1), int(is_leaf.sum())


class LeafMap:
    """Compact leaf index of any rows in every tree of a fitted ensemble.

    The one map from inputs to leaves that the tree, forest, bagging and
    gradient-boosting smoothers share. Leaves of tree ``b`` are numbered
    ``0 .. n_leaves[b] - 1`` locally and ``offsets[b] + local`` globally.

    Parameters
    ----------
    trees : list of sklearn.tree._tree.Tree
        The low-level ``tree_`` of each member.
    features : list of (ndarray or None), optional
        The input columns each tree was fitted on (bagging with
        ``max_features``); ``None`` for all columns.
    """

    def __init__(self, trees, features=None):
        self.trees = list(trees)
        self.features = [None] * len(self.trees) if features is None else list(features)
        numbering = [leaf_numbering(tree) for tree in self.trees]
        self.node_to_leaf = [node_to_leaf for node_to_leaf, _ in numbering]
        self.n_leaves = np.array([n_b for _, n_b in numbering], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_leaves)])

    def local(self, X: np.ndarray) -> np.ndarray:
        """Local leaf (trees, rows) of validated inputs ``X``."""
        X32 = as_tree_input(X)
        leaves = np.empty((len(self.trees), X32.shape[0]), dtype=np.int64)
        for b, (tree, feats) in enumerate(zip(self.trees, self.features, strict=True)):
            Xb = X32 if feats is None else np.ascontiguousarray(X32[:, feats])
            np.take(self.node_to_leaf[b], tree.apply(Xb), out=leaves[b])
        return leaves

    def to_global(self, local: np.ndarray) -> np.ndarray:
        """Global leaf ids of local leaves (trees, rows)."""
        return local + self.offsets[:-1, None]

    def recorded_sizes(self, *, weighted: bool = True) -> list[np.ndarray]:
        """Leaf sizes each tree recorded when fitted (weighted or raw counts)."""
        attr = "weighted_n_node_samples" if weighted else "n_node_samples"
        return [getattr(tree, attr)[tree.children_left == -1] for tree in self.trees]
