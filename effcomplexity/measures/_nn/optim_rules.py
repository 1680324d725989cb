r"""The update rules of ``torch.optim.SGD``, ``Adam`` and ``AdamW``, written out.

:class:`~effcomplexity.nn.TelescopingTracker` applies an optimiser's update
not to one gradient but to many label-linear gradient columns at once, so it
needs the rules themselves rather than the optimiser. Each function here
takes a gradient ``G`` of shape ``(p, r)`` (``r`` columns; ``r = 1`` is an
ordinary gradient) and hyperparameters that broadcast against it: Python
floats, or per-coordinate tensors of shape ``(p, 1)`` when the coordinates
come from parameter groups with different settings. The update ``U`` they
return is what the optimiser adds to the parameters, so
:math:`\theta_{t+1} = \theta_t + U`. ``tests/nn/test_optim_rules.py`` checks
every rule against ``torch.optim`` itself, step by step.

For a parameter :math:`\theta` with gradient :math:`g`, learning rate
:math:`\eta` and step :math:`t = 1, 2, \dots`:

* SGD: coupled weight decay :math:`g \leftarrow g + \lambda\theta`; momentum
  buffer :math:`b_1 = g`, :math:`b_t = \mu b_{t-1} + (1 - \tau) g`; update
  :math:`-\eta b_t`, or :math:`-\eta (g + \mu b_t)` with Nesterov.
* Adam: coupled weight decay as for SGD; :math:`m_t = \beta_1 m_{t-1} + (1 -
  \beta_1) g`, :math:`v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2` (``amsgrad``:
  its running maximum); update :math:`-\eta\, m_t / (1 - \beta_1^t) /
  (\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon)`.
* AdamW: Adam without coupled decay, plus :math:`-\eta\lambda\theta`.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "adam_denominator",
    "adam_first_moment",
    "adam_update",
    "coupled_weight_decay",
    "decoupled_weight_decay",
    "sgd_momentum_buffer",
    "sgd_update",
]


def coupled_weight_decay(G: torch.Tensor, theta: torch.Tensor, weight_decay) -> torch.Tensor:
    """Gradient with L2 weight decay added, as SGD and Adam apply it: ``G + wd * theta``."""
    return G + weight_decay * theta


def decoupled_weight_decay(theta: torch.Tensor, lr, weight_decay) -> torch.Tensor:
    """AdamW's decay of the parameters, a part of the update: ``-lr * wd * theta``."""
    return -lr * weight_decay * theta


def sgd_momentum_buffer(
    buffer: torch.Tensor | None, G: torch.Tensor, *, first, momentum, dampening
) -> torch.Tensor:
    """SGD's momentum buffer after gradient ``G``.

    ``first`` is 1 where this is the coordinate's first step (the buffer
    starts as the gradient itself, undamped) and 0 elsewhere.
    """
    if buffer is None:
        buffer = torch.zeros_like(G)
    first = torch.as_tensor(first, dtype=G.dtype, device=G.device)
    return torch.where(first > 0, G, momentum * buffer + (1 - dampening) * G)


def sgd_update(
    G: torch.Tensor, buffer: torch.Tensor | None, *, lr, momentum=0.0, nesterov=0.0
) -> torch.Tensor:
    """SGD's update from gradient ``G`` and the buffer after it (None without momentum).

    ``nesterov`` is 1 where Nesterov momentum applies and 0 elsewhere.
    """
    if buffer is None:
        return -lr * G
    nesterov = torch.as_tensor(nesterov, dtype=G.dtype, device=G.device)
    return -lr * torch.where(nesterov > 0, G + momentum * buffer, buffer)


def adam_first_moment(m: torch.Tensor | None, G: torch.Tensor, *, beta1) -> torch.Tensor:
    """Adam's first moment after gradient ``G``: ``beta1 * m + (1 - beta1) * G``."""
    if m is None:
        m = torch.zeros_like(G)
    return beta1 * m + (1 - beta1) * G


def adam_denominator(
    exp_avg_sq: torch.Tensor | None,
    grad: torch.Tensor,
    *,
    beta2: float,
    eps: float,
    step: int,
    max_exp_avg_sq: torch.Tensor | None = None,
    amsgrad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    r"""Adam's per-coordinate denominator at ``step`` after gradient ``grad``.

    Returns the denominator :math:`\sqrt{v_t} / \sqrt{1 - \beta_2^t} +
    \epsilon` and the new ``exp_avg_sq`` and ``max_exp_avg_sq`` (None
    without ``amsgrad``); the inputs are not modified. ``grad`` already
    carries any coupled weight decay.
    """
    v = torch.zeros_like(grad) if exp_avg_sq is None else exp_avg_sq.clone()
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    v_max = None
    if amsgrad:
        previous = torch.zeros_like(grad) if max_exp_avg_sq is None else max_exp_avg_sq
        v_max = torch.maximum(previous, v)
    used = v if v_max is None else v_max
    denom = (used.sqrt() / math.sqrt(1 - beta2**step)).add_(eps)
    return denom, v, v_max


def adam_update(m: torch.Tensor, denom: torch.Tensor, *, lr, bias1) -> torch.Tensor:
    r"""Adam's update from the first moment ``m`` after this step's gradient.

    ``bias1`` is :math:`1 - \beta_1^t`; ``denom`` is :func:`adam_denominator`'s.
    """
    return -(lr / bias1 / denom) * m
