"""Stochastic-gradient Langevin dynamics as a :class:`torch.optim.Optimizer`.

The sampler of :func:`~effcomplexity.nn.local_learning_coefficient`, usable
in any training-style loop: compute a mean loss, call ``backward()``, then
``step()``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable

import torch

__all__ = ["SGLD"]

#: Discretisations of the Langevin dynamics.
INTEGRATORS = ("leimkuhler-matthews", "euler")


def check_real(value, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float, if it is a positive (or, with ``allow_zero``, non-negative) real."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {bound} finite number, got {value!r}.")
    return float(value)


class SGLD(torch.optim.Optimizer):
    r"""Stochastic-gradient Langevin dynamics, localised at the starting weights.

    Each :meth:`step` moves every parameter :math:`w` by the gradient of the
    mean loss held in ``w.grad``, a pull back to the parameter's value when
    the sampler was created, :math:`w^*`, and Gaussian noise, so that the
    iterates sample the localised tempered posterior
    :math:`p(w) \propto \exp(-n\beta L(w) - \tfrac{\gamma}{2}\lVert w -
    w^*\rVert^2)`.

    Parameters
    ----------
    params : iterable of torch.Tensor or dict
        Parameters to sample, or parameter groups (dicts that may override
        ``lr``, ``n_beta``, ``localization`` and ``integrator``), as for any
        :class:`torch.optim.Optimizer`. Their values now are the centre
        :math:`w^*`.
    lr : float
        Step size :math:`\epsilon > 0`.
    n_beta : float
        :math:`n\beta`, the factor of the gradient of the mean loss
        (:math:`n` samples at inverse temperature :math:`\beta`; devinterp's
        ``nbeta``).
    localization : float
        Strength :math:`\gamma \ge 0` of the Gaussian prior centred at
        :math:`w^*`; 0 for plain SGLD.
    integrator : {"euler", "leimkuhler-matthews"}
        ``"euler"`` is the step of Welling and Teh (2011);
        ``"leimkuhler-matthews"`` adds the mean of this step's and the last
        step's noise instead, which removes the first-order step-size bias of
        the sampled variance at the same cost.
    generator : torch.Generator, optional
        Source of the noise, on the parameters' device; default torch's
        global generator.

    Attributes
    ----------
    param_groups : list of dict
        The parameter groups with their settings, as for any optimiser.
    state : dict
        Per parameter: its ``"centre"`` :math:`w^*` and, with
        Leimkuhler-Matthews, the last step's noise ``"previous_noise"``.
    generator : torch.Generator or None
        The source of the noise.

    Raises
    ------
    ValueError
        For a non-positive ``lr`` or ``n_beta``, a negative ``localization``
        or an unknown ``integrator``.

    Notes
    -----
    With :math:`g = \nabla L_B(w)` the gradient in ``w.grad`` (the mean loss
    on this step's batch) and :math:`\xi_t \sim \mathcal N(0, I)`,

    .. math::

        w_{t+1} = w_t - \frac{\epsilon}{2}\bigl(n\beta\, g
            + \gamma (w_t - w^*)\bigr) + \sqrt{\epsilon}\,\eta_t,

    with :math:`\eta_t = \xi_t` (Euler) or
    :math:`\eta_t = (\xi_t + \xi_{t-1})/2` (Leimkuhler and Matthews 2013,
    :math:`\xi_{-1}` drawn at the first step). A parameter whose ``grad`` is
    None is a parameter the loss does not depend on: the prior and the noise
    still move it, as the posterior requires. The noise is drawn one
    parameter at a time, in the order of the groups; at the first
    Leimkuhler-Matthews step each parameter draws :math:`\xi_{-1}` before
    :math:`\xi_0`.

    References
    ----------
    M. Welling, Y. W. Teh. "Bayesian Learning via Stochastic Gradient
    Langevin Dynamics". ICML 2011.

    B. Leimkuhler, C. Matthews. "Rational Construction of Stochastic
    Numerical Methods for Molecular Sampling". Applied Mathematics Research
    eXpress, 2013(1):34-56, 2013.

    E. Lau, Z. Furman, G. Wang, D. Murfet, S. Wei. "The Local Learning
    Coefficient: A Singularity-Aware Complexity Measure". arXiv:2308.12108,
    2023.

    Examples
    --------
    Sampling the posterior of a linear model's weights:

    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(100, 2, generator=g, dtype=torch.float64)
    >>> y = X @ torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> sampler = ecnn.SGLD(model.parameters(), lr=1e-3, n_beta=100.0, localization=1.0,
    ...                     generator=torch.Generator().manual_seed(1))
    >>> for step in range(200):
    ...     sampler.zero_grad()
    ...     torch.nn.functional.mse_loss(model(X), y).backward()
    ...     sampler.step()
    >>> model.weight.detach().abs().max().item() < 10
    True
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        n_beta: float,
        *,
        localization: float = 0.0,
        integrator: str = "euler",
        generator: torch.Generator | None = None,
    ) -> None:
        defaults = {
            "lr": check_real(lr, "lr", allow_zero=False),
            "n_beta": check_real(n_beta, "n_beta", allow_zero=False),
            "localization": check_real(localization, "localization", allow_zero=True),
            "integrator": integrator,
        }
        self.generator = generator
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a parameter group; its parameters' values now are their centre."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group["integrator"] not in INTEGRATORS:
            raise ValueError(
                f"integrator must be one of {INTEGRATORS}, got {group['integrator']!r}."
            )
        for name in ("lr", "n_beta"):
            check_real(group[name], name, allow_zero=False)
        check_real(group["localization"], "localization", allow_zero=True)
        for p in group["params"]:
            self.state[p]["centre"] = p.detach().clone()

    def _noise(self, p: torch.Tensor) -> torch.Tensor:
        return torch.randn(p.shape, generator=self.generator, dtype=p.dtype, device=p.device)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One Langevin step of every parameter from its ``.grad``.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the loss (with gradients) and returns it.

        Returns
        -------
        loss : torch.Tensor or None
            The closure's loss, when a closure is given.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, noise_scale = group["lr"], math.sqrt(group["lr"])
            lm = group["integrator"] == "leimkuhler-matthews"
            for p in group["params"]:
                state = self.state[p]
                if lm and "previous_noise" not in state:
                    state["previous_noise"] = self._noise(p)
                drift = group["localization"] * (p - state["centre"])
                if p.grad is not None:
                    drift.add_(p.grad, alpha=group["n_beta"])
                p.add_(drift, alpha=-0.5 * lr)
                noise = self._noise(p)
                if lm:  # the mean of this step's and the last step's noise
                    p.add_(noise + state["previous_noise"], alpha=noise_scale / 2)
                    state["previous_noise"] = noise
                else:
                    p.add_(noise, alpha=noise_scale)
        return loss
