r"""Kumar et al.'s two-layer network for the polynomial-regression grokking task.

The network is :math:`f(x) = \alpha \cdot \frac1N \sum_i \phi(w_i \cdot x)`
with :math:`\phi(z) = z + \frac{\varepsilon}{2} z^2`: only the first layer
trains, the readout is fixed at :math:`\alpha / N` per unit. Built from a seed
without touching torch's global random state, like the other factories.
"""

from __future__ import annotations

import math
import numbers

from .._optional import missing_dependency

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:
    if exc.name != "torch":
        raise
    raise missing_dependency("torch", "the Kumar et al. network") from exc

from .._validation import check_int
from .torch_models import _seeded

__all__ = ["KumarNetwork", "LinQuad", "make_kumar_network"]


class LinQuad(nn.Module):
    r"""The activation :math:`\phi(z) = z + \frac{\varepsilon}{2} z^2` of Kumar et al. (2024).

    Parameters
    ----------
    eps : float
        Task alignment :math:`\varepsilon`: 0 gives a linear network.
    """

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + 0.5 * self.eps * z * z

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


class KumarNetwork(nn.Module):
    r"""Two-layer network :math:`f(x) = \alpha \cdot \operatorname{mean}_i \phi(w_i \cdot x)`.

    Build it with :func:`make_kumar_network`. The first layer ``hidden``
    (no bias) is the only parameter; the readout :math:`\alpha / N` is a
    buffer, so optimisers and the telescoping tracker see only ``W``.
    """

    def __init__(self, hidden: nn.Linear, eps: float, alpha: float) -> None:
        super().__init__()
        self.hidden = hidden
        self.activation = LinQuad(eps)
        self.alpha = float(alpha)
        width = hidden.out_features
        readout = torch.full((width,), self.alpha / width, dtype=hidden.weight.dtype)
        self.register_buffer("readout", readout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.hidden(x)) @ self.readout


def _check_real(value, name: str, *, positive: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > 0 if positive else value >= 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}.")
    return float(value)


def make_kumar_network(
    dim: int,
    width: int,
    *,
    eps: float,
    alpha: float = 1.0,
    dtype: torch.dtype | None = None,
    random_state=None,
) -> KumarNetwork:
    r"""Kumar et al.'s two-layer network of the polynomial-regression grokking task.

    Parameters
    ----------
    dim : int
        Input dimension :math:`D`.
    width : int
        Hidden units :math:`N`.
    eps : float
        Task alignment :math:`\varepsilon \ge 0` of the activation
        :math:`\phi(z) = z + \frac{\varepsilon}{2} z^2` (small: the initial
        tangent kernel is nearly linear, misaligned with a quadratic target).
    alpha : float
        Output scale :math:`\alpha > 0` (large: lazy training).
    dtype : torch.dtype, optional
        Parameter dtype (default torch's default, float32).
    random_state : int, RandomState, Generator or None
        Seed of the first layer (see :ref:`random-state`).

    Returns
    -------
    KumarNetwork
        ``f(x)`` of shape ``(n,)``; its one parameter is ``hidden.weight``
        of shape ``(width, dim)``, entries drawn from :math:`N(0, 1)`.

    Raises
    ------
    ValueError
        For a size below 1, a negative ``eps`` or a non-positive ``alpha``.

    Notes
    -----
    .. math::

        f(x) = \frac{\alpha}{N} \sum_{i=1}^{N} \phi(w_i^\top x),

    with inputs scaled as :math:`x \sim N(0, I_D / D)` (see
    :func:`effcomplexity.datasets.quadratic_teacher`), so that
    :math:`w_i^\top x` is of order one at initialisation. The readout does
    not train ("without readouts" in Kumar et al.'s code); trained by
    full-batch gradient descent on the mean squared error at learning rate
    :math:`N / \alpha^2`, the network fits the training set first and
    generalises much later at small :math:`\varepsilon`.

    References
    ----------
    T. Kumar, B. Bordelon, S. J. Gershman, C. Pehlevan. "Grokking as the
    transition from lazy to rich training dynamics". ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import models
    >>> net = models.make_kumar_network(10, 50, eps=0.25, random_state=0)
    >>> [name for name, _ in net.named_parameters()]
    ['hidden.weight']
    >>> net(torch.zeros(3, 10)).shape
    torch.Size([3])
    """
    dim = check_int(dim, "dim")
    width = check_int(width, "width")
    eps = _check_real(eps, "eps", positive=False)
    alpha = _check_real(alpha, "alpha", positive=True)
    with _seeded(random_state):
        hidden = nn.Linear(dim, width, bias=False, dtype=dtype)
        with torch.no_grad():
            hidden.weight.normal_(0.0, 1.0)
    return KumarNetwork(hidden, eps, alpha)
