"""Grokking of modular addition by Nanda et al.'s one-layer transformer."""

from __future__ import annotations

from ..._validation import is_integer as is_int
from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import (
    check_betas,
    check_choice,
    check_positive,
    check_train_fractions,
    unit_seed,
)
from ._nn_measures import measure_columns
from ._nn_problem import NETWORK_DEFAULTS, Problem, check_network_options
from ._nn_training import train_and_record

__all__ = ["GROKKING_TRANSFORMER"]

_ACTIVATIONS = ("relu", "gelu", "tanh", "quadratic")


class GrokkingTransformerFamily(SweepFamily):
    """(a + b) mod p learnt by a one-layer transformer with full-batch AdamW.

    A unit is one (weight decay, training fraction) pair; it trains
    :func:`~effcomplexity.models.make_grokking_transformer` on the sequences
    ``a b =`` of the training pairs (cross-entropy on the logits at ``=``)
    once, full batch, and records a row after each step of the ``step`` grid
    (0 is the network at initialisation): train and test loss and error, the
    weight norm (Euclidean norm of every parameter) and the measures of the
    ``measures`` option, by default the norm suite of
    :func:`~effcomplexity.nn.weight_measures` (its transformer convention),
    the PAC-Bayes sharpness, the Hessian's effective dimensionality
    ``n_eff`` and the local learning coefficient ``llc``. The LLC's chains
    are the sweeps' short full-batch chains
    (``_nn_measures.LLC_FULL_BATCH``) at step size ``llc_step_size``
    (default 5e-4): the default 2e-3 diverges once the transformer has
    memorised its training pairs (quick size, step 300), 5e-4 does not; the
    estimate of such short chains grows with the step size, so it compares
    checkpoints of one run, not runs at other settings. Checkpoints resume
    an interrupted unit like the other network families. The split comes
    from ``modulus``, the ``train_fraction`` axis and the spec's
    ``data_seed``; the spec's ``n_train`` and ``n_test`` are not used.
    """

    name = "grokking_transformer"
    axes = (
        Axis("weight_decay", minimum=0, dtype="float64"),
        Axis("train_fraction", minimum=0, dtype="float64"),
        Axis("step", minimum=0),
    )
    reports_progress = True
    unit_axis = "weight_decay"
    defaults = {
        "modulus": 113,
        "d_model": 128,
        "n_heads": 4,
        "d_mlp": 512,
        "n_layers": 1,
        "activation": "relu",
        "layer_norm": False,
        "lr": 1e-3,
        "betas": (0.9, 0.98),
        "llc_step_size": 5e-4,
        **NETWORK_DEFAULTS,
    }
    extra_columns = measure_columns()
    description = "modular addition by Nanda et al.'s one-layer transformer, full-batch AdamW"

    @property
    def unit_axes(self) -> tuple[str, ...]:
        return ("weight_decay", "train_fraction")

    def validate(self, spec, where):
        opts = {**spec.resolved_model_kwargs(), "loss": "cross_entropy"}
        check_choice(opts, "activation", _ACTIVATIONS, where)
        check_positive(opts, "lr", where)
        check_positive(opts, "llc_step_size", where)
        for name, minimum in (
            ("modulus", 2),
            ("d_model", 1),
            ("n_heads", 1),
            ("d_mlp", 1),
            ("n_layers", 1),
        ):
            if not is_int(opts[name]) or opts[name] < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum} in {where}.")
        if opts["d_model"] % opts["n_heads"]:
            raise ValueError(f"d_model must be divisible by n_heads in {where}.")
        if not isinstance(opts["layer_norm"], bool):
            raise ValueError(f"layer_norm must be True or False in {where}.")
        check_betas(opts, where)
        check_train_fractions(spec, where)
        check_network_options(opts, where)

    def cost(self, spec, params, points):
        return float(max(p["step"] for p in points) * params["train_fraction"])

    def run(self, spec, params, points, ctx: UnitContext):
        import torch

        from ... import datasets
        from ...models.transformer import make_grokking_transformer, modular_addition_tokens

        opts = {**spec.resolved_model_kwargs(), "loss": "cross_entropy", "telescoping": "off"}
        p = int(opts["modulus"])
        data = datasets.modular_addition(
            modulus=p,
            train_fraction=float(params["train_fraction"]),
            random_state=ctx.seed if spec.data_seed is None else spec.data_seed,
        )
        problem = Problem.from_labels(
            modular_addition_tokens(data.metadata["pairs_train"], p),
            modular_addition_tokens(data.metadata["pairs_test"], p),
            data.labels_train,
            data.labels_test,
            n_classes=p,
            loss="cross_entropy",
            batch_size=None,
        )
        seed = unit_seed(ctx.seed, ctx.key)

        def make_model():
            return make_grokking_transformer(
                p,
                int(opts["d_model"]),
                int(opts["n_heads"]),
                None,
                int(opts["d_mlp"]),
                n_layers=int(opts["n_layers"]),
                activation=opts["activation"],
                layer_norm=opts["layer_norm"],
                random_state=seed,
            )

        def make_optimizer(model):
            return torch.optim.AdamW(
                model.parameters(),
                lr=opts["lr"],
                betas=tuple(opts["betas"]),
                weight_decay=float(params["weight_decay"]),
            )

        rows = train_and_record(
            make_model,
            make_optimizer,
            problem,
            [pt["step"] for pt in points],
            opts,
            seed,
            ctx.checkpoint_dir,
            ctx.progress,
        )
        n_params = sum(q.numel() for q in make_model().parameters())
        for point, row in zip(points, rows, strict=True):
            row.update(point, n_params=n_params)
        return rows, data


GROKKING_TRANSFORMER = register_family(GrokkingTransformerFamily())
