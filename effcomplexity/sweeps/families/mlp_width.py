"""Width sweeps of a fully connected ReLU network on any labelled dataset, tracked by default.

The family of the telescoping width sweep (Jeffares et al. 2024): a network
with ``depth`` hidden layers of ``width`` ReLU units on the dataset's flat
inputs, trained by mini-batch SGD on the squared error to one-hot targets,
with the telescoping tracker following it from initialisation so that every
row carries ``p_train`` and ``p_test`` with their probe standard errors.
"""

from __future__ import annotations

from ..._validation import is_integer as is_int
from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import check_choice, check_positive, load_data, unit_seed
from ._nn_measures import measure_columns
from ._nn_problem import NETWORK_DEFAULTS, Problem, check_network_options
from ._nn_training import train_and_record

__all__ = ["MLP_WIDTH"]


def _problem(data, opts) -> Problem:
    import torch

    return Problem.from_labels(
        torch.tensor(data.X_train, dtype=torch.float32).reshape(data.n_train, -1),
        torch.tensor(data.X_test, dtype=torch.float32).reshape(data.n_test, -1),
        data.labels_train,
        data.labels_test,
        n_classes=data.n_classes,
        loss=opts["loss"],
        batch_size=int(opts["batch_size"]),
    )


def mlp_parameters(n_features: int, width: int, n_classes: int, depth: int) -> int:
    """Weights and biases of ``make_mlp(n_features, width, n_classes, depth)``."""
    return (n_features + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_classes


class MLPWidthFamily(SweepFamily):
    """A ReLU MLP ``d-w-...-w-K`` on the spec's dataset, trained by mini-batch SGD.

    A unit is one width; it trains once and records a row after each epoch
    of the ``epoch`` grid (0 is the network at initialisation). The inputs
    are the dataset's features, flattened; the ``K`` outputs are fitted to
    one-hot targets by the mean squared error (``loss="mse"``, the default,
    where the telescoping smoother exists) or by cross-entropy. The
    telescoping tracker is on by default with ``n_probes`` probes over every
    training input and the first ``telescoping_eval`` test inputs; a row
    whose tracked predictions have left the network's says
    ``telescoping="diverged"`` and leaves ``p_train`` and ``p_test`` missing.
    Only the ``weights`` measure is on by default.
    """

    name = "mlp_width"
    axes = (Axis("width"), Axis("epoch", minimum=0))
    reports_progress = True
    unit_axis = "width"
    defaults = {
        "depth": 1,
        "loss": "mse",
        "lr": 0.1,
        "momentum": 0.0,
        "batch_size": 100,
        **NETWORK_DEFAULTS,
        "measures": ("weights",),
        "telescoping": "probe",
        "n_probes": 10,
    }
    extra_columns = measure_columns()
    description = "ReLU MLP d-w-K by mini-batch SGD on squared loss, telescoping p per epoch"

    def validate(self, spec, where):
        opts = spec.resolved_model_kwargs()
        check_choice(opts, "loss", ("mse", "cross_entropy"), where)
        check_positive(opts, "lr", where)
        momentum = opts["momentum"]
        if isinstance(momentum, bool) or not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1) in {where}, got {momentum!r}.")
        for name in ("batch_size", "depth"):
            if not is_int(opts[name]) or opts[name] < 1:
                raise ValueError(
                    f"{name} must be a positive integer in {where}, got {opts[name]!r}."
                )
        if opts["batch_size"] > spec.n_train:
            raise ValueError(
                f"batch_size = {opts['batch_size']} exceeds n_train = {spec.n_train} in {where}; "
                f"use a batch of at most n_train rows."
            )
        check_network_options(opts, where)

    def cost(self, spec, params, points):
        # Units differ only in width: epochs times parameters orders them.
        data = load_data(spec, spec.seeds[0])
        depth = int(spec.resolved_model_kwargs()["depth"])
        count = mlp_parameters(data.n_features, int(params["width"]), data.n_classes, depth)
        return float(max(p["epoch"] for p in points) * count)

    def run(self, spec, params, points, ctx: UnitContext):
        import torch

        from ...models.torch_models import make_mlp

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        if data.task != "classification":
            raise ValueError(
                f"The mlp_width family fits class labels; the {spec.dataset!r} dataset of "
                f"spec {spec.name!r} is a {data.task} task."
            )
        problem = _problem(data, opts)
        width = int(params["width"])
        seed = unit_seed(ctx.seed, ctx.key)
        n_features = int(problem.X_train.shape[1])

        def make_model():
            return make_mlp(n_features, width, data.n_classes, opts["depth"], random_state=seed)

        def make_optimizer(model):
            return torch.optim.SGD(model.parameters(), lr=opts["lr"], momentum=opts["momentum"])

        rows = train_and_record(
            make_model,
            make_optimizer,
            problem,
            [p["epoch"] for p in points],
            opts,
            seed,
            ctx.checkpoint_dir,
            ctx.progress,
        )
        n_params = mlp_parameters(n_features, width, data.n_classes, int(opts["depth"]))
        for point, row in zip(points, rows, strict=True):
            row.update(width=width, epoch=point["epoch"], n_params=n_params)
        return rows, data


MLP_WIDTH = register_family(MLPWidthFamily())
