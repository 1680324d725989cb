r"""The SGLD sampler takes exactly the Langevin step it documents.

Oracle: the update written out by hand in the test for a linear model with
squared loss, whose gradient has the closed form
:math:`\nabla L(w) = \frac{2}{n} X^\top (X w - y)`, with the same noise
drawn from a second generator seeded identically:
:math:`w \leftarrow w - \frac{\epsilon}{2}(n\beta\,\nabla L + \gamma (w - w^*))
+ \sqrt{\epsilon}\,\eta` with :math:`\eta = \xi_t` (Euler) or
:math:`(\xi_t + \xi_{t-1})/2` (Leimkuhler-Matthews).
"""

from __future__ import annotations

import math

import pytest
import torch

from effcomplexity import nn as ecnn

torch.set_num_threads(1)

G = torch.Generator().manual_seed(0)
X = torch.randn(20, 3, generator=G, dtype=torch.float64)
Y = torch.randn(20, 1, generator=G, dtype=torch.float64)


def _closed_form_gradient(w: torch.Tensor) -> torch.Tensor:
    return 2.0 / X.shape[0] * X.T @ (X @ w.T - Y)


@pytest.mark.parametrize("integrator", ["euler", "leimkuhler-matthews"])
@pytest.mark.parametrize("localization", [0.0, 2.5])
def test_steps_match_the_hand_written_update(integrator, localization):
    lr, n_beta = 1e-2, 7.0
    model = torch.nn.Linear(3, 1, bias=False).double()
    w_star = model.weight.detach().clone()
    sampler = ecnn.SGLD(
        model.parameters(),
        lr=lr,
        n_beta=n_beta,
        localization=localization,
        integrator=integrator,
        generator=torch.Generator().manual_seed(5),
    )
    noise = torch.Generator().manual_seed(5)  # the same draws, in the same order
    w = w_star.clone()
    previous = None
    if integrator == "leimkuhler-matthews":
        previous = torch.randn(w.shape, generator=noise, dtype=w.dtype)
    for _ in range(4):
        sampler.zero_grad()
        torch.nn.functional.mse_loss(model(X), Y).backward()
        sampler.step()
        xi = torch.randn(w.shape, generator=noise, dtype=w.dtype)
        eta = xi if previous is None else (xi + previous) / 2
        if previous is not None:
            previous = xi
        w = (
            w
            - lr / 2 * (n_beta * _closed_form_gradient(w).T + localization * (w - w_star))
            + math.sqrt(lr) * eta
        )
        torch.testing.assert_close(model.weight.detach(), w, rtol=1e-12, atol=1e-14)


def test_parameter_without_gradient_moves_by_prior_and_noise():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    sampler = ecnn.SGLD(
        [p], lr=0.04, n_beta=1.0, localization=3.0, generator=torch.Generator().manual_seed(2)
    )
    with torch.no_grad():
        p.add_(1.0)  # away from the centre (1, -2)
    sampler.step()
    xi = torch.randn(2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    expected = torch.tensor([2.0, -1.0], dtype=torch.float64) - 0.02 * 3.0 + 0.2 * xi
    torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=1e-14)


def test_groups_override_settings_and_closure_returns_loss():
    a = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    b = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    sampler = ecnn.SGLD(
        [{"params": [a]}, {"params": [b], "lr": 0.0625}],
        lr=0.01,
        n_beta=1.0,
        generator=torch.Generator().manual_seed(3),
    )

    def closure():
        sampler.zero_grad()
        loss = (a.sum() + b.sum()) * 0.0
        loss.backward()
        return loss

    assert float(sampler.step(closure).detach()) == 0.0
    draws = torch.randn(4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(a.detach(), 0.1 * draws[:2])
    torch.testing.assert_close(b.detach(), 0.25 * draws[2:])


def test_state_dict_round_trip_continues_the_same_chain():
    def make():
        p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
        return p, ecnn.SGLD(
            [p], lr=0.01, n_beta=2.0, localization=1.0, integrator="leimkuhler-matthews"
        )

    p1, s1 = make()
    torch.manual_seed(0)
    s1.step()
    p2, s2 = make()
    with torch.no_grad():
        p2.copy_(p1)
    s2.load_state_dict(s1.state_dict())
    torch.manual_seed(1)
    s1.step()
    torch.manual_seed(1)
    s2.step()
    torch.testing.assert_close(p1, p2, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0.0}, "lr must be a positive"),
        ({"n_beta": -1.0}, "n_beta must be a positive"),
        ({"localization": -0.5}, "localization must be a non-negative"),
        ({"integrator": "heun"}, "integrator must be one of"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    settings = {"lr": 0.01, "n_beta": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        ecnn.SGLD([torch.nn.Parameter(torch.zeros(1))], **settings)
