"""Grokking in Kumar et al.'s polynomial regression: full-batch gradient descent, rows per step."""

from __future__ import annotations

from ..._validation import is_integer as is_int
from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import check_choice, check_positive, load_data, unit_seed
from ._nn_problem import NETWORK_DEFAULTS, Problem, check_network_options
from ._nn_tracking import TRACKING_COLUMNS, mark_tracking
from ._nn_training import train_and_record

__all__ = ["POLYNOMIAL_GROKKING", "TORCH_DTYPES"]

#: The ``dtype`` option's values and their torch names.
TORCH_DTYPES = ("float32", "float64")


class PolynomialGrokkingFamily(SweepFamily):
    r"""Kumar et al.'s two-layer network learning a quadratic teacher by gradient descent.

    A unit is one (``eps``, ``alpha``) pair; it trains
    :func:`~effcomplexity.models.make_kumar_network` (``width`` hidden units,
    only the first layer trains) by full-batch plain gradient descent on the
    mean squared error at learning rate ``lr_scale * width / alpha**2``
    (Kumar et al.: ``lr_scale = 1``), with no regularisation, and records a
    row after each step of the ``step`` grid (0 is the network at
    initialisation). The data are the spec's regression dataset
    (``quadratic_teacher``). Rows report ``train_mse`` / ``test_mse`` as
    their errors (no 0-1 error), the weight norm, the telescoping
    ``p_train``, ``p_test`` and their ratio ``p_ratio`` (tracker on, with
    probes, by default) and the selected measures. Rows are
    ``telescoping="diverged"`` from the first step whose tracking gap
    exceeds the tolerance, with that step in ``tracker_left_at``. The units of
    one replicate share the initial first layer and the probes, so settings
    compare in pairs.
    """

    name = "polynomial_grokking"
    axes = (
        Axis("eps", minimum=0, dtype="float64"),
        Axis("alpha", minimum=0, dtype="float64"),
        Axis("step", minimum=0),
    )
    reports_progress = True
    unit_axis = "eps"
    defaults = {
        "width": 500,
        "lr_scale": 1.0,
        "dtype": "float32",
        "loss": "mse",
        **NETWORK_DEFAULTS,
        "measures": ("weights", "llc"),
        "telescoping": "probe",
        "n_probes": 10,
        "telescoping_eval": 500,
    }
    extra_columns = TRACKING_COLUMNS
    description = "Kumar et al.'s two-layer network on a quadratic teacher, full-batch GD"

    @property
    def unit_axes(self) -> tuple[str, ...]:
        return ("eps", "alpha")

    def validate(self, spec, where):
        opts = spec.resolved_model_kwargs()
        check_choice(opts, "loss", ("mse",), where)
        check_choice(opts, "dtype", TORCH_DTYPES, where)
        check_positive(opts, "lr_scale", where)
        if not is_int(opts["width"]) or opts["width"] < 1:
            raise ValueError(f"width must be a positive integer in {where}.")
        if "sharpness" in opts["measures"]:
            raise ValueError(
                f"measures may not include 'sharpness' in {where}: it needs class labels, "
                f"which a regression does not have."
            )
        if any(a <= 0 for a in spec.grid["alpha"]):
            raise ValueError(f"grid['alpha'] values must be > 0 in {where}.")
        check_network_options(opts, where)

    def cost(self, spec, params, points):
        width = spec.resolved_model_kwargs()["width"]
        return float(max(p["step"] for p in points) * width)

    def run(self, spec, params, points, ctx: UnitContext):
        import torch

        from ...models.kumar import make_kumar_network

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        if data.task != "regression" or data.y_train.ndim != 1:
            raise ValueError(
                f"The {self.name!r} family needs a regression dataset with one target "
                f"(quadratic_teacher); {data.name!r} is a {data.task}."
            )
        dtype = getattr(torch, opts["dtype"])
        problem = Problem.regression(
            torch.tensor(data.X_train, dtype=dtype),
            torch.tensor(data.X_test, dtype=dtype),
            data.y_train,
            data.y_test,
            batch_size=None,
        )
        eps, alpha = float(params["eps"]), float(params["alpha"])
        width = int(opts["width"])
        # One seed per replicate, not per unit: every (eps, alpha) starts from one W and probes.
        seed = unit_seed(ctx.seed, self.name)

        def make_model():
            return make_kumar_network(
                data.n_features, width, eps=eps, alpha=alpha, dtype=dtype, random_state=seed
            )

        def make_optimizer(model):
            lr = float(opts["lr_scale"]) * width / alpha**2
            return torch.optim.SGD(model.parameters(), lr=lr)

        steps = [int(pt["step"]) for pt in points]
        rows = train_and_record(
            make_model, make_optimizer, problem, steps, opts, seed, ctx.checkpoint_dir, ctx.progress
        )
        mark_tracking(rows, steps)
        n_params = width * data.n_features
        for point, row in zip(points, rows, strict=True):
            row.update(point, n_params=n_params)
        return rows, data


POLYNOMIAL_GROKKING = register_family(PolynomialGrokkingFamily())
