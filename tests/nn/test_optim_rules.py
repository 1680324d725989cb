"""The optimisers' update rules the telescoping tracker uses are torch.optim's own.

Oracle: ``torch.optim.SGD``, ``Adam`` and ``AdamW`` themselves. A tiny network
is trained for several steps by the optimiser and, in parallel, by the rules
of ``optim_rules`` applied to its flattened parameters and gradients; the
parameters must agree after every step to float64 precision.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from effcomplexity.measures._nn import optim_rules as rules

torch.set_num_threads(1)

G0 = torch.Generator().manual_seed(0)
X = torch.randn(10, 3, generator=G0, dtype=torch.float64)
Y = torch.randn(10, 2, generator=G0, dtype=torch.float64)
N_STEPS = 6


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _gradient(model: nn.Module, theta: torch.Tensor, step: int) -> torch.Tensor:
    """Gradient of the loss on this step's half of the data, at parameters ``theta``."""
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    model.zero_grad()
    rows = slice(0, 5) if step % 2 else slice(5, 10)
    nn.functional.mse_loss(model(X[rows]), Y[rows]).backward()
    return _flat(p.grad for p in model.parameters()).reshape(-1, 1)


def _set_grads(model: nn.Module, g: torch.Tensor) -> None:
    offset = 0
    for p in model.parameters():
        p.grad = g.reshape(-1)[offset : offset + p.numel()].reshape(p.shape).clone()
        offset += p.numel()


def _by_rules(kind: str, settings: dict):
    """Parameters after each step when the rules, not the optimiser, make the update."""
    model = _net()
    theta = _flat(p.detach() for p in model.parameters()).reshape(-1, 1).clone()
    lr, wd = settings["lr"], settings.get("weight_decay", 0.0)
    buffer = m = v = v_max = None
    history = []
    for t in range(1, N_STEPS + 1):
        g = _gradient(model, theta.reshape(-1), t)
        if kind == "SGD":
            g = rules.coupled_weight_decay(g, theta, wd)
            momentum = settings.get("momentum", 0.0)
            if momentum:
                buffer = rules.sgd_momentum_buffer(
                    buffer,
                    g,
                    first=float(t == 1),
                    momentum=momentum,
                    dampening=settings.get("dampening", 0.0),
                )
            U = rules.sgd_update(
                g, buffer, lr=lr, momentum=momentum, nesterov=float(settings.get("nesterov", 0))
            )
        else:
            if kind == "Adam":
                g = rules.coupled_weight_decay(g, theta, wd)
            beta1, beta2 = settings.get("betas", (0.9, 0.999))
            m = rules.adam_first_moment(m, g, beta1=beta1)
            denom, v, v_max = rules.adam_denominator(
                v,
                g,
                beta2=beta2,
                eps=settings.get("eps", 1e-8),
                step=t,
                max_exp_avg_sq=v_max,
                amsgrad=settings.get("amsgrad", False),
            )
            U = rules.adam_update(m, denom, lr=lr, bias1=1 - beta1**t)
            if kind == "AdamW":
                U = U + rules.decoupled_weight_decay(theta, lr, wd)
        theta = theta + U
        history.append(theta.reshape(-1).clone())
    return history


def _by_torch(kind: str, settings: dict):
    model = _net()
    optimizer = getattr(torch.optim, kind)(model.parameters(), **settings)
    probe = copy.deepcopy(model)
    history = []
    for t in range(1, N_STEPS + 1):
        theta = _flat(p.detach() for p in model.parameters())
        g = _gradient(probe, theta, t).reshape(-1)
        _set_grads(model, g)
        optimizer.step()
        history.append(_flat(p.detach() for p in model.parameters()).clone())
    return history


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.02}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5}),
    ("AdamW", {"lr": 0.02, "betas": (0.9, 0.98), "weight_decay": 1.0, "amsgrad": True}),
]


@pytest.mark.parametrize(("kind", "settings"), CASES, ids=lambda c: str(c))
def test_rules_reproduce_torch_optim_step_by_step(kind, settings):
    for step, (ours, theirs) in enumerate(
        zip(_by_rules(kind, settings), _by_torch(kind, settings), strict=True), start=1
    ):
        assert not torch.equal(ours, _flat(p.detach() for p in _net().parameters()))
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14, msg=f"step {step}")


def test_per_coordinate_hyperparameters_follow_each_parameter_group():
    # Two groups with different lr and momentum, as the tracker sees them: (p, 1) columns.
    model = _net()
    first, rest = list(model.parameters())[:2], list(model.parameters())[2:]
    settings = [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.03, "momentum": 0.5, "nesterov": True}]
    optimizer = torch.optim.SGD(
        [{"params": first, **settings[0]}, {"params": rest, **settings[1]}], lr=1.0
    )
    sizes = [sum(p.numel() for p in first), sum(p.numel() for p in rest)]

    def column(values):
        return torch.cat(
            [
                torch.full((n, 1), float(v), dtype=torch.float64)
                for n, v in zip(sizes, values, strict=True)
            ]
        )

    lr, mom = column([0.1, 0.03]), column([0.9, 0.5])
    nesterov = column([0.0, 1.0])
    theta = _flat(p.detach() for p in model.parameters()).reshape(-1, 1).clone()
    probe, buffer = copy.deepcopy(model), None
    for t in range(1, N_STEPS + 1):
        g = _gradient(probe, theta.reshape(-1), t)
        _set_grads(model, g)
        optimizer.step()
        buffer = rules.sgd_momentum_buffer(
            buffer, g, first=float(t == 1), momentum=mom, dampening=0.0
        )
        theta = theta + rules.sgd_update(g, buffer, lr=lr, momentum=mom, nesterov=nesterov)
        torch.testing.assert_close(
            theta.reshape(-1), _flat(p.detach() for p in model.parameters()), rtol=1e-12, atol=1e-14
        )
