"""Deep double descent on MNIST-1D: networks of growing width, rows per epoch."""

from __future__ import annotations

from ..._validation import is_integer as is_int
from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import check_choice, check_positive, load_data, unit_seed
from ._nn_measures import measure_columns
from ._nn_problem import NETWORK_DEFAULTS, Problem, check_network_options
from ._nn_training import train_and_record

__all__ = ["MNIST1D"]

_ARCHITECTURES = ("mlp", "cnn")


def _as_tensors(data, opts):
    import torch

    shape = (1, data.n_features) if opts["architecture"] == "cnn" else (data.n_features,)
    return Problem.from_labels(
        torch.tensor(data.X_train, dtype=torch.float32).reshape(-1, *shape),
        torch.tensor(data.X_test, dtype=torch.float32).reshape(-1, *shape),
        data.labels_train,
        data.labels_test,
        n_classes=data.n_classes,
        loss=opts["loss"],
        batch_size=int(opts["batch_size"]),
        input_shape=shape,
    )


class MNIST1DFamily(SweepFamily):
    """Greydanus's MLP 40-w-w-10 (or a Conv1d net of w channels), trained by SGD.

    A unit is one width; it trains once and records a row after each epoch
    of the ``epoch`` grid (0 is the network at initialisation). The labels
    are the spec's dataset (``mnist1d``, with the spec's ``label_noise``).
    """

    name = "mnist1d"
    requires = ("torch",)
    axes = (Axis("width"), Axis("epoch", minimum=0))
    reports_progress = True
    unit_axis = "width"
    defaults = {
        "architecture": "mlp",
        "depth": 2,
        "loss": "cross_entropy",
        "lr": 0.01,
        "momentum": 0.9,
        "batch_size": 100,
        **NETWORK_DEFAULTS,
    }
    extra_columns = measure_columns()
    description = "MLP 40-w-w-10 (or Conv1d) on MNIST-1D by SGD, rows per recorded epoch"

    def validate(self, spec, where):
        opts = spec.resolved_model_kwargs()
        check_choice(opts, "architecture", _ARCHITECTURES, where)
        check_choice(opts, "loss", ("cross_entropy", "mse"), where)
        check_positive(opts, "lr", where)
        if not 0 <= opts["momentum"] < 1:
            raise ValueError(f"momentum must be in [0, 1) in {where}, got {opts['momentum']!r}.")
        for name in ("batch_size", "depth"):
            if not is_int(opts[name]) or opts[name] < 1:
                raise ValueError(f"{name} must be a positive integer in {where}.")
        if opts["batch_size"] > spec.n_train:
            raise ValueError(
                f"batch_size = {opts['batch_size']} exceeds n_train = {spec.n_train} in {where}."
            )
        check_network_options(opts, where)

    def cost(self, spec, params, points):
        w = params["width"]
        return float(max(p["epoch"] for p in points) * (40 * w + w * w + 10 * w + 1))

    def run(self, spec, params, points, ctx: UnitContext):
        import torch

        from ...models.torch_models import make_cnn, make_mlp

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        problem = _as_tensors(data, opts)
        width = int(params["width"])
        seed = unit_seed(ctx.seed, ctx.key)

        def make_model():
            if opts["architecture"] == "cnn":
                return make_cnn(
                    1,
                    data.n_classes,
                    data.n_features,
                    channels=(width,) * opts["depth"],
                    random_state=seed,
                )
            return make_mlp(
                data.n_features, width, data.n_classes, opts["depth"], random_state=seed
            )

        def make_optimizer(model):
            return torch.optim.SGD(model.parameters(), lr=opts["lr"], momentum=opts["momentum"])

        epochs = [p["epoch"] for p in points]
        rows = train_and_record(
            make_model,
            make_optimizer,
            problem,
            epochs,
            opts,
            seed,
            ctx.checkpoint_dir,
            ctx.progress,
        )
        n_params = sum(p.numel() for p in make_model().parameters())
        for point, row in zip(points, rows, strict=True):
            row.update(width=width, epoch=point["epoch"], n_params=n_params)
        return rows, data


MNIST1D = register_family(MNIST1DFamily())
