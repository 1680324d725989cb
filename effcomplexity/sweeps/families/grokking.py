"""Grokking on modular addition: full-batch AdamW, rows at recorded steps."""

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

__all__ = ["GROKKING"]

_ARCHITECTURES = ("mlp", "transformer")


def _problem(data, opts) -> Problem:
    import torch

    if opts["architecture"] == "transformer":
        X_train = torch.as_tensor(data.metadata["pairs_train"], dtype=torch.int64)
        X_test = torch.as_tensor(data.metadata["pairs_test"], dtype=torch.int64)
    else:
        X_train = torch.tensor(data.X_train, dtype=torch.float32)
        X_test = torch.tensor(data.X_test, dtype=torch.float32)
    return Problem.from_labels(
        X_train,
        X_test,
        data.labels_train,
        data.labels_test,
        n_classes=data.n_classes,
        loss=opts["loss"],
        batch_size=None,
    )


class GrokkingFamily(SweepFamily):
    """Modular addition learnt by a small network with full-batch AdamW.

    A unit is one (weight decay, training fraction) pair; it trains once and
    records a row after each step of the ``step`` grid (0 is the network at
    initialisation). The default model is Gromov's two-layer MLP: the
    concatenated one-hot codes of ``a`` and ``b`` (``2 p`` inputs), ``width``
    quadratic units, ``p`` outputs, no biases, trained on the mean squared
    error to one-hot targets, so the telescoping smoother applies (on by
    default, with probes). ``architecture="transformer"`` trains
    :func:`~effcomplexity.models.torch_models.make_transformer` (``width`` is
    its ``d_mlp``) on cross-entropy, with ``telescoping="off"``. The split
    comes from ``modulus``, the ``train_fraction`` axis and the spec's
    ``data_seed``; the spec's ``n_train`` and ``n_test`` are not used (the
    table's ``n_train`` and ``n_test`` columns report the realised split).

    The tracker follows AdamW as Jeffares et al. do, each step's update linear
    in the gradient with that step's preconditioner held fixed. It follows the
    network only while training stays below the edge of stability (see
    :class:`~effcomplexity.nn.TelescopingTracker`): with lr 2e-3 that holds
    through grokking at weight decay 16 (the quick size) and fails from about
    step 90 at weight decay 4, whose rows from then on say
    ``telescoping="diverged"`` with ``p_train`` and ``p_test`` missing.
    """

    name = "grokking"
    requires = ("torch",)
    axes = (
        Axis("weight_decay", minimum=0, dtype="float64"),
        Axis("train_fraction", minimum=0, dtype="float64"),
        Axis("step", minimum=0),
    )
    reports_progress = True
    unit_axis = "weight_decay"
    defaults = {
        "architecture": "mlp",
        "modulus": 97,
        "width": 256,
        "loss": "mse",
        "lr": 1e-3,
        "betas": (0.9, 0.98),
        "d_model": 128,
        "n_heads": 4,
        **NETWORK_DEFAULTS,
        "telescoping": "probe",
        "n_probes": 4,
        "telescoping_eval": 500,
    }
    extra_columns = measure_columns()
    description = "modular addition by Gromov's quadratic MLP (or a transformer), full-batch AdamW"

    @property
    def unit_axes(self) -> tuple[str, ...]:
        return ("weight_decay", "train_fraction")

    def validate(self, spec, where):
        opts = spec.resolved_model_kwargs()
        check_choice(opts, "architecture", _ARCHITECTURES, where)
        check_choice(opts, "loss", ("mse", "cross_entropy"), where)
        check_positive(opts, "lr", where)
        for name, minimum in (("modulus", 2), ("width", 1), ("d_model", 1), ("n_heads", 1)):
            if not is_int(opts[name]) or opts[name] < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum} in {where}.")
        check_betas(opts, where)
        check_train_fractions(spec, where)
        check_network_options(opts, where)

    def cost(self, spec, params, points):
        return float(max(p["step"] for p in points) * params["train_fraction"])

    def run(self, spec, params, points, ctx: UnitContext):
        import torch

        from ... import datasets
        from ...models.torch_models import make_mlp, make_transformer

        opts = spec.resolved_model_kwargs()
        p = int(opts["modulus"])
        data = datasets.modular_addition(
            modulus=p,
            train_fraction=float(params["train_fraction"]),
            random_state=ctx.seed if spec.data_seed is None else spec.data_seed,
        )
        problem = _problem(data, opts)
        seed = unit_seed(ctx.seed, ctx.key)

        def make_model():
            if opts["architecture"] == "transformer":
                return make_transformer(
                    p, opts["d_model"], opts["n_heads"], opts["width"], random_state=seed
                )
            return make_mlp(
                2 * p, opts["width"], p, 1, activation="quadratic", bias=False, random_state=seed
            )

        def make_optimizer(model):
            return torch.optim.AdamW(
                model.parameters(),
                lr=opts["lr"],
                betas=tuple(opts["betas"]),
                weight_decay=float(params["weight_decay"]),
            )

        steps = [pt["step"] for pt in points]
        rows = train_and_record(
            make_model,
            make_optimizer,
            problem,
            steps,
            opts,
            seed,
            ctx.checkpoint_dir,
            ctx.progress,
        )
        n_params = sum(q.numel() for q in make_model().parameters())
        for point, row in zip(points, rows, strict=True):
            row.update(point, n_params=n_params)
        return rows, data


GROKKING = register_family(GrokkingFamily())
