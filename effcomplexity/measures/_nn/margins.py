"""Output margins of a classifier on its training points."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._deprecation import positional_to_keyword
from ._layers import as_input_tensor, as_label_tensor, eval_mode, forward

__all__ = ["accuracy", "margin", "margins"]


def _check_outputs(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if outputs.dim() == 1:
        outputs = outputs[:, None]
    if outputs.dim() != 2:
        raise ValueError(
            f"the model must return one row of class scores per input, got shape "
            f"{tuple(outputs.shape)}."
        )
    n_classes = max(outputs.shape[1], 2)
    if y.numel() and int(y.max()) >= n_classes:
        raise ValueError(
            f"labels go up to {int(y.max())} but the model has {outputs.shape[1]} outputs."
        )
    return outputs


def margins_from_outputs(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-point margins ``f(x)_y - max_{j != y} f(x)_j`` from model outputs.

    A single output column is a binary logit: the scores are ``(0, f(x))``.
    """
    outputs = _check_outputs(outputs, y)
    y = y.to(outputs.device)
    if outputs.shape[1] == 1:
        sign = 2.0 * y.to(outputs.dtype) - 1.0
        return sign * outputs[:, 0]
    rows = torch.arange(outputs.shape[0], device=outputs.device)
    correct = outputs[rows, y]
    others = outputs.clone()
    others[rows, y] = -torch.inf
    return correct - others.max(dim=1).values


def predicted_labels(outputs: torch.Tensor) -> torch.Tensor:
    """Argmax class of each row (a single column is a binary logit, class 1 if > 0)."""
    if outputs.dim() == 1:
        outputs = outputs[:, None]
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0).to(torch.int64)
    return outputs.argmax(dim=1)


def margins(model: nn.Module, X, y, *, batch_size: int | None = None) -> np.ndarray:
    """Margin of every point: ``f(x_i)_{y_i} - max_{j != y_i} f(x_i)_j``.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning one score per class (or one binary logit).
    X : array-like or torch.Tensor of shape (n, ...)
    y : array-like of int, shape (n,)
    batch_size : int, optional
        Rows per forward pass (all at once by default).

    Returns
    -------
    ndarray of shape (n,)
        Negative where a point is misclassified.
    """
    X_t = as_input_tensor(X, model)
    y_t = as_label_tensor(y, X_t.shape[0])
    with eval_mode(model):
        outputs = forward(model, X_t, batch_size)
    return margins_from_outputs(outputs, y_t).detach().cpu().to(torch.float64).numpy()


def accuracy(model: nn.Module, X, y, *, batch_size: int | None = None) -> float:
    """Fraction of points whose highest-scoring class is the label (eval mode)."""
    X_t = as_input_tensor(X, model)
    y_t = as_label_tensor(y, X_t.shape[0])
    with eval_mode(model):
        outputs = forward(model, X_t, batch_size)
    _check_outputs(outputs, y_t)
    return float((predicted_labels(outputs).cpu() == y_t).to(torch.float64).mean())


@positional_to_keyword("margin", ("model", "X", "y"), ("quantile",))
def margin(
    model: nn.Module, X, y, *, quantile: float = 0.1, batch_size: int | None = None
) -> float:
    r"""Output margin of a classifier: a low quantile of its per-point margins.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning one score (logit) per class; a model with a
        single output is read as a binary logit with scores ``(0, f(x))``.
    X : array-like or torch.Tensor of shape (n, ...)
        Training inputs.
    y : array-like of int, shape (n,)
        Class labels in ``0 .. n_classes - 1``.
    quantile : float
        Quantile of the per-point margins, in [0, 1] (default 0.1: the 10th
        percentile of Jiang et al.).
    batch_size : int, optional
        Rows per forward pass (all at once by default).

    Returns
    -------
    float
        :math:`\gamma`; negative when more than the ``quantile`` fraction of
        points is misclassified.

    Raises
    ------
    ValueError
        If ``quantile`` is outside [0, 1], ``X`` and ``y`` disagree in length,
        a label exceeds the number of outputs, or ``X`` is empty.

    Notes
    -----
    .. math::

        \gamma = Q_q\bigl(\{ f(x_i)_{y_i} - \max_{j \neq y_i} f(x_i)_j \}_{i=1}^{m}\bigr),

    with :math:`Q_q` the empirical quantile computed by ``numpy.quantile``
    (linear interpolation between order statistics). The model runs in eval
    mode (dropout off, batch norm on running statistics) and the training flag
    of every submodule is restored afterwards.

    References
    ----------
    Y. Jiang, B. Neyshabur, H. Mobahi, D. Krishnan, S. Bengio. "Fantastic
    Generalization Measures and Where to Find Them". ICLR 2020.

    P. L. Bartlett, D. J. Foster, M. Telgarsky. "Spectrally-normalized margin
    bounds for neural networks". NeurIPS 2017.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> model = torch.nn.Linear(2, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.eye(2))
    >>> ecnn.margin(model, torch.tensor([[3.0, 1.0], [0.0, 2.0]]), [0, 1], quantile=0.0)
    2.0
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must lie in [0, 1], got {quantile!r}.")
    values = margins(model, X, y, batch_size=batch_size)
    if values.size == 0:
        raise ValueError("X is empty.")
    return float(np.quantile(values, quantile))
