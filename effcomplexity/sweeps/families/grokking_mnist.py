"""Grokking on MNIST from a large initialisation (Omnigrok): AdamW minibatches, rows per step."""

from __future__ import annotations

from ..._validation import is_integer as is_int
from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import check_choice, check_positive, load_data, unit_seed
from ._nn_problem import NETWORK_DEFAULTS, Problem, check_network_options
from ._nn_tracking import TRACKING_COLUMNS, mark_tracking
from ._nn_training import train_and_record
from .grokking_polynomial import TORCH_DTYPES

__all__ = ["MNIST_GROKKING"]

_ACTIVATIONS = ("relu", "tanh", "gelu")


class MNISTGrokkingFamily(SweepFamily):
    r"""Liu et al.'s MNIST MLP with every initial parameter scaled, trained by AdamW.

    A unit is one initialisation scale :math:`\alpha` (the ``init_scale``
    axis): :func:`~effcomplexity.models.make_mlp` with ``depth`` hidden
    layers of ``width`` units (784-200-200-10 by default) at PyTorch's
    default initialisation, then every parameter, biases included,
    multiplied by :math:`\alpha` (Omnigrok). It trains on the mean squared
    error to one-hot targets with ``torch.optim.AdamW`` (``lr``,
    ``weight_decay``) on shuffled minibatches of ``batch_size`` in ``dtype``
    (float64 by default: in float32, Adam's preconditioner on the tiny
    second moments of a large-:math:`\alpha` network makes the telescoping
    :math:`\hat p` meaningless), and records a row after each optimisation
    step of the ``step`` grid. Rows report 0-1 and squared errors, the weight
    norm, the telescoping ``p_train``, ``p_test`` and ``p_ratio``, and the
    selected measures; rows are ``telescoping="diverged"`` from the first
    step whose tracking gap exceeds the tolerance (``tracker_left_at``). The
    scales of one replicate multiply the same initial network and share the
    probes and the batch order, so they compare in pairs.
    """

    name = "mnist_grokking"
    axes = (Axis("init_scale", minimum=0, dtype="float64"), Axis("step", minimum=0))
    reports_progress = True
    unit_axis = "init_scale"
    defaults = {
        "width": 200,
        "depth": 2,
        "activation": "relu",
        "lr": 1e-3,
        "weight_decay": 0.01,
        "batch_size": 200,
        "dtype": "float64",
        "loss": "mse",
        **NETWORK_DEFAULTS,
        "measures": ("weights", "llc"),
        "telescoping": "probe",
        "n_probes": 10,
        "telescoping_eval": 200,
    }
    extra_columns = TRACKING_COLUMNS
    description = "MNIST MLP with its initialisation scaled by init_scale, AdamW, rows per step"

    def validate(self, spec, where):
        opts = spec.resolved_model_kwargs()
        check_choice(opts, "loss", ("mse", "cross_entropy"), where)
        check_choice(opts, "dtype", TORCH_DTYPES, where)
        check_choice(opts, "activation", _ACTIVATIONS, where)
        check_positive(opts, "lr", where)
        if not opts["weight_decay"] >= 0:
            raise ValueError(f"weight_decay must be >= 0 in {where}.")
        for name in ("width", "depth", "batch_size"):
            if not is_int(opts[name]) or opts[name] < 1:
                raise ValueError(f"{name} must be a positive integer in {where}.")
        if opts["batch_size"] > spec.n_train:
            raise ValueError(
                f"batch_size = {opts['batch_size']} exceeds n_train = {spec.n_train} in {where}."
            )
        if any(a <= 0 for a in spec.grid["init_scale"]):
            raise ValueError(f"grid['init_scale'] values must be > 0 in {where}.")
        check_network_options(opts, where)

    def cost(self, spec, params, points):
        opts = spec.resolved_model_kwargs()
        w = opts["width"]
        return float(max(p["step"] for p in points) * (784 * w + (opts["depth"] - 1) * w * w))

    def run(self, spec, params, points, ctx: UnitContext):
        import torch

        from ...models.torch_models import make_mlp

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        if data.labels_train is None:
            raise ValueError(f"The {self.name!r} family needs a classification dataset (mnist).")
        dtype = getattr(torch, opts["dtype"])
        problem = Problem.from_labels(
            torch.tensor(data.X_train, dtype=dtype),
            torch.tensor(data.X_test, dtype=dtype),
            data.labels_train,
            data.labels_test,
            n_classes=data.n_classes,
            loss=opts["loss"],
            batch_size=int(opts["batch_size"]),
            dtype=dtype,
        )
        scale = float(params["init_scale"])
        # One seed per replicate, not per unit: every scale multiplies the same initial
        # network and the tracker draws the same probes, so the scales compare in pairs.
        seed = unit_seed(ctx.seed, self.name)

        def make_model():
            model = make_mlp(
                data.n_features,
                int(opts["width"]),
                data.n_classes,
                int(opts["depth"]),
                activation=opts["activation"],
                dtype=dtype,
                random_state=seed,
            )
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(scale)
            return model

        def make_optimizer(model):
            return torch.optim.AdamW(
                model.parameters(), lr=opts["lr"], weight_decay=opts["weight_decay"]
            )

        steps = [int(pt["step"]) for pt in points]
        rows = train_and_record(
            make_model,
            make_optimizer,
            problem,
            steps,
            opts,
            seed,
            ctx.checkpoint_dir,
            ctx.progress,
            by_step=True,
        )
        mark_tracking(rows, steps)
        n_params = sum(p.numel() for p in make_model().parameters())
        for point, row in zip(points, rows, strict=True):
            row.update(point, n_params=n_params)
        return rows, data


MNIST_GROKKING = register_family(MNISTGrokkingFamily())
