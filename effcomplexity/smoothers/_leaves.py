"""Leaf membership of fitted scikit-learn trees, shared by tree and boosting smoothers.

A tree's smoother is ``A D A^T`` with ``A`` the (n, L) leaf-indicator matrix;
everything the families need starts from the compact leaf index of each row.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_tree_input", "compact_leaves", "leaf_numbering"]


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


def compact_leaves(tree, X32: np.ndarray) -> tuple[np.ndarray, int]:
    """Leaf of every row, numbered ``0 .. n_leaves - 1``.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        The low-level ``estimator.tree_`` of a fitted tree.
    X32 : ndarray of float32, C-contiguous
        Inputs from :func:`as_tree_input`.

    Returns
    -------
    leaves : ndarray of int64, shape (n_rows,)
    n_leaves : int
    """
    node_to_leaf, n_leaves = leaf_numbering(tree)
    return node_to_leaf[tree.apply(X32)], n_leaves
