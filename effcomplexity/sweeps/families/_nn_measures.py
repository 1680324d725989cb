"""The network measure registry: what a network sweep records at each checkpoint.

Every row of a network family holds the train and test error and loss, the
weight norm, the telescoping effective parameters when the unit tracks them,
and the columns of the registered measures its ``measures`` option selects. A
measure is a :class:`NetworkMeasure` (a name, the columns it fills with their
dtypes, and a function of the :class:`Checkpoint`) added with
:func:`register_measure`; the built-in suite is ``weights``, ``sharpness``,
``hessian`` and ``llc``, in that column order. The registry is read when the
network families are defined (their columns and the ``measures`` default), so a
further built-in measure is registered here, below the others.

Nothing here imports torch at import time: the measures import it when they
run, so listing the families' columns stays cheap.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import DTYPES, RESERVED_COLUMNS

if TYPE_CHECKING:
    from ._nn_problem import Problem

__all__ = [
    "BASE_COLUMNS",
    "TELESCOPING_MODES",
    "TRACKING_TOLERANCE",
    "Checkpoint",
    "NetworkMeasure",
    "get_measure",
    "measure_checkpoint",
    "measure_columns",
    "measure_names",
    "measure_seed",
    "register_measure",
    "suite_columns",
    "telescoping_columns",
    "tracker_left_at",
]

logger = logging.getLogger(__name__)

#: How a row's ``p_train`` / ``p_test`` were obtained.
TELESCOPING_MODES = ("off", "exact", "probe")

#: Relative RMS distance between the telescoping model's predictions and the network's
#: above which p_train and p_test are not reported (the row says "diverged"); tracked
#: runs stay near 1e-2 while they follow the network.
TRACKING_TOLERANCE = 0.1

#: Columns every network row has besides the common ones and the measures'.
BASE_COLUMNS: dict[str, str] = {
    "train_loss": "float64",
    "test_loss": "float64",
    "weight_norm": "float64",
    "telescoping": "str",
    "telescoping_m": "Int64",
    "telescoping_gap": "float64",
    "p_ratio": "float64",
    "p_ratio_se": "float64",
    "tracker_left_at": "Int64",
}


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What a measure sees: the trained model at one recorded time."""

    model: Any
    init_model: Any
    problem: Problem
    options: Mapping[str, Any]
    seed: int


@dataclasses.dataclass(frozen=True)
class NetworkMeasure:
    """One entry of the per-checkpoint suite.

    Attributes
    ----------
    name : str
        Name used in the ``measures`` option.
    columns : mapping of str to str
        Columns it fills, with their pandas dtypes.
    compute : callable
        ``compute(checkpoint) -> dict`` of column values.
    applies : callable
        ``applies(model) -> bool``: whether the measure is defined for this
        model; a measure that does not apply leaves its columns missing.
    """

    name: str
    columns: Mapping[str, str]
    compute: Callable[[Checkpoint], dict]
    applies: Callable[[Any], bool] = lambda model: True


# Registration order is column order and the order of the ``measures`` default.
_REGISTRY: dict[str, NetworkMeasure] = {}


def _check_measure(measure: NetworkMeasure) -> None:
    if not isinstance(measure, NetworkMeasure):
        raise TypeError(
            f"register_measure takes a NetworkMeasure instance, not {type(measure).__name__}."
        )
    name = measure.name
    if not isinstance(name, str) or not name:
        raise ValueError("A network measure needs a non-empty string name.")
    columns = dict(measure.columns)
    if not columns:
        raise ValueError(f"Network measure {name!r} fills no column: declare its columns.")
    bad = {column: dtype for column, dtype in columns.items() if dtype not in DTYPES}
    if bad:
        raise ValueError(f"Network measure {name!r}: column dtypes must be in {DTYPES}, got {bad}.")
    taken = set(RESERVED_COLUMNS) | set(BASE_COLUMNS)
    for other in _REGISTRY.values():
        if other.name != name:
            taken |= set(other.columns)
    clash = sorted(set(columns) & taken)
    if clash:
        raise ValueError(
            f"Network measure {name!r} redeclares column(s) {clash}, which every network "
            f"row or another registered measure already fills."
        )


def register_measure(measure: NetworkMeasure) -> NetworkMeasure:
    """Add a measure to the per-checkpoint suite of every network family.

    Parameters
    ----------
    measure : NetworkMeasure
        An instance; its declarations are checked here, once.

    Returns
    -------
    NetworkMeasure
        ``measure``, so a module can write ``LLC = register_measure(NetworkMeasure(...))``.

    Raises
    ------
    TypeError
        When ``measure`` is not a :class:`NetworkMeasure`.
    ValueError
        For a bad declaration (no name, no column, an unsupported dtype, a
        column another measure or every network row already has) or a name
        already registered for another measure.
    """
    _check_measure(measure)
    if measure.name in _REGISTRY and _REGISTRY[measure.name] is not measure:
        raise ValueError(f"A network measure named {measure.name!r} is already registered.")
    _REGISTRY[measure.name] = measure
    return measure


def get_measure(name: str) -> NetworkMeasure:
    """The registered network measure called ``name``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown network measure {name!r}; choose one of {measure_names()}."
        ) from None


def measure_names() -> list[str]:
    """Names of the registered network measures, in column order."""
    return list(_REGISTRY)


def measure_columns() -> dict[str, str]:
    """Extra columns of a network family's table, with their dtypes, in order."""
    columns = dict(BASE_COLUMNS)
    for measure in _REGISTRY.values():
        for name, dtype in measure.columns.items():
            columns.setdefault(name, dtype)
    return columns


# -- the built-in suite -----------------------------------------------------------------


def _is_chain(model) -> bool:
    from ...models.torch_models import ModularAdditionTransformer

    return not isinstance(model, ModularAdditionTransformer)


#: Columns of the ``weights`` measure: the names ``effcomplexity.nn.weight_measures``
#: computes, in its order (``measures._nn.norms.MEASURE_NAMES``, which imports torch).
WEIGHT_COLUMNS = (
    "params",
    "param_norm",
    "fro_dist",
    "spec_dist",
    "fro_over_spec",
    "log_prod_spec",
    "log_sum_spec",
    "log_prod_fro",
    "log_sum_fro",
    "margin",
    "inverse_margin",
    "log_prod_spec_over_margin",
    "log_sum_spec_over_margin",
    "log_prod_fro_over_margin",
    "log_sum_fro_over_margin",
    "log_spec_init_main",
    "log_spec_orig_main",
    "path_norm",
    "path_norm_over_margin",
    "spectral_complexity",
    "spectral_complexity_over_margin",
)

# Names weight_measures computes for any architecture (no feed-forward chain needed).
_ANY_ARCHITECTURE = ("params", "param_norm", "fro_dist", "log_prod_fro", "log_sum_fro")


def _weights(cp: Checkpoint) -> dict:
    from ... import nn as ecnn

    if _is_chain(cp.model) and not cp.problem.is_regression:
        values = ecnn.weight_measures(
            cp.model,
            cp.problem.X_train,
            cp.problem.labels_train,
            init_model=cp.init_model,
            input_shape=cp.problem.input_shape,
        )
    else:
        # The transformer reads integer tokens, which the margin helpers would cast
        # to floats, and a regression has no margins: only the architecture-free norms apply.
        values = ecnn.weight_measures(
            cp.model, init_model=cp.init_model, measures=list(_ANY_ARCHITECTURE)
        )
    return {str(k): float(v) for k, v in values.items()}


def _sharpness(cp: Checkpoint) -> dict:
    from ... import nn as ecnn

    values = ecnn.pac_bayes_measures(
        cp.model,
        cp.problem.X_train,
        cp.problem.labels_train,
        init_model=cp.init_model,
        n_samples=int(cp.options["sharpness_samples"]),
        random_state=cp.seed,
    )
    return {str(k): float(v) for k, v in values.items()}


def _hessian(cp: Checkpoint) -> dict:
    from ... import nn as ecnn

    n_params = sum(p.numel() for p in cp.model.parameters() if p.requires_grad)
    k = min(int(cp.options["hessian_k"]), n_params)
    n_eff = ecnn.effective_dimensionality(
        cp.model,
        cp.problem.X_train,
        cp.problem.targets_train,
        loss_fn=cp.problem.loss_fn(),
        z=float(cp.options["hessian_z"]),
        k=k,
        random_state=cp.seed,
    )
    return {"n_eff": float(n_eff)}


#: SGLD chains of the ``llc`` measure when the network trains on minibatches:
#: 2 Euler (plain SGLD) chains of 20 + 40 steps at step size 1e-3 and
#: localization 100, on the training batch size. They cost at most about 5
#: training epochs of the quick MNIST-1D sweep and land within 8% of 4 chains of
#: 400 + 800 steps at the same settings (benchmarks/test_speed_llc.py); far
#: shorter than the function's defaults, they are for comparing one network
#: across checkpoints, not for the absolute value.
LLC_MINIBATCH = {
    "n_chains": 2,
    "n_burnin": 20,
    "n_samples": 40,
    "step_size": 1e-3,
    "localization": 100.0,
    "integrator": "euler",
}
#: The same when the network trains on the full batch, where a training epoch is
#: one step: 2 chains of 10 + 30 steps on 32-row minibatches at step size 2e-3.
#: On the quick grokking MLP they cost about 8 full-batch steps per checkpoint
#: and land within 5% of 4 chains of 400 + 800 steps at the same step size
#: (benchmarks/test_speed_llc.py).
LLC_FULL_BATCH = {
    **LLC_MINIBATCH,
    "batch_size": 32,
    "n_burnin": 10,
    "n_samples": 30,
    "step_size": 2e-3,
}


def llc_settings(batch_size: int | None, n: int) -> dict:
    """Keyword arguments of the ``llc`` measure for a network trained on ``batch_size`` rows.

    Minibatch training uses :data:`LLC_MINIBATCH` on its own batch size;
    full-batch training (``batch_size`` None) uses :data:`LLC_FULL_BATCH`.
    The batch never exceeds the ``n`` training rows.
    """
    settings = {**LLC_MINIBATCH, "batch_size": batch_size} if batch_size else dict(LLC_FULL_BATCH)
    settings["batch_size"] = min(int(settings["batch_size"]), n)
    return settings


def _llc(cp: Checkpoint) -> dict:
    from ... import nn as ecnn

    problem = cp.problem
    settings = llc_settings(problem.batch_size, len(problem.X_train))
    # A family whose networks are sharper than the default step allows sets its own.
    if cp.options.get("llc_step_size") is not None:
        settings["step_size"] = float(cp.options["llc_step_size"])
    with warnings.catch_warnings():
        # The sweep's chains are short by design (see LLC_MINIBATCH); divergence still warns.
        warnings.filterwarnings("ignore", "local_learning_coefficient: the loss traces have not")
        result = ecnn.local_learning_coefficient(
            cp.model,
            problem.X_train,
            problem.targets_train,
            loss_fn=problem.loss_fn(),
            random_state=cp.seed,
            **settings,
        )
    return {"llc": float(result.estimate), "llc_se": float(result.std_error)}


_PAC_BAYES_COLUMNS = (
    "sigma",
    "mag_sigma",
    "pacbayes_init",
    "pacbayes_orig",
    "pacbayes_flatness",
    "pacbayes_mag_init",
    "pacbayes_mag_orig",
    "pacbayes_mag_flatness",
)

register_measure(NetworkMeasure("weights", dict.fromkeys(WEIGHT_COLUMNS, "float64"), _weights))
register_measure(
    NetworkMeasure("sharpness", dict.fromkeys(_PAC_BAYES_COLUMNS, "float64"), _sharpness, _is_chain)
)
register_measure(NetworkMeasure("hessian", {"n_eff": "float64"}, _hessian))
register_measure(NetworkMeasure("llc", {"llc": "float64", "llc_se": "float64"}, _llc))


# -- one checkpoint's row ---------------------------------------------------------------


def _evaluate(model, problem: Problem) -> dict[str, float]:
    import torch

    loss_fn = problem.loss_fn()
    row = {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for split in ("train", "test"):
                X = getattr(problem, f"X_{split}")
                if X is None:
                    continue
                out = model(X)
                targets = getattr(problem, f"targets_{split}")
                labels = getattr(problem, f"labels_{split}")
                row[f"{split}_loss"] = float(loss_fn(out, targets))
                # A regression has no classes: its errors are the MSE columns alone.
                row[f"{split}_error"] = (
                    float("nan")
                    if labels is None
                    else float((out.argmax(dim=1) != labels).double().mean())
                )
                # Common MSE column: squared error summed over outputs, mean over rows.
                row[f"{split}_mse"] = (
                    float(((out - targets) ** 2).reshape(out.shape[0], -1).sum(dim=1).mean())
                    if problem.loss == "mse"
                    else float("nan")
                )
    finally:
        model.train(was_training)
    with torch.no_grad():
        row["weight_norm"] = float(
            math.sqrt(sum(float((p.double() ** 2).sum()) for p in model.parameters()))
        )
    return row


def _tracking_gap(model, tracker, X_eval) -> float:
    """Relative RMS distance of the linearised predictions from the network's."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            net = model(X_eval).double().numpy()
    finally:
        model.train(was_training)
    linear = np.asarray(tracker.predictions("eval"), dtype=float).reshape(net.shape)
    scale = float(np.sqrt(np.mean(net**2)))
    gap = float(np.sqrt(np.mean((linear - net) ** 2)))
    return gap / scale if scale > 0 else gap


def telescoping_columns(model, tracker, X_eval, at: int) -> dict:
    """The tracker's ``p_train`` / ``p_test`` at one recorded time, if it still follows the network.

    Parameters
    ----------
    model : torch.nn.Module
    tracker : TelescopingTracker
        Following ``model`` since initialisation, with ``X_eval`` as its eval inputs.
    X_eval : tensor or None
        The tracker's eval inputs; None skips the tracking check (no eval rows).
    at : int
        The epoch (or step) recorded, for the log.

    Returns
    -------
    dict
        ``telescoping_gap`` (when ``X_eval`` is given) and ``p_train``,
        ``p_train_se``, ``p_test``, ``p_test_se``, ``p_ratio``, ``p_ratio_se``
        (the last four only with eval rows), or ``telescoping="diverged"`` when the gap exceeds
        :data:`TRACKING_TOLERANCE`.
    """
    row = {}
    if X_eval is not None:
        gap = _tracking_gap(model, tracker, X_eval)
        row["telescoping_gap"] = gap
        if not (np.isfinite(gap) and gap <= TRACKING_TOLERANCE):
            # The linearised model no longer follows the network: its smoother measures
            # nothing the network does, so p_train and p_test are left missing, not reported.
            logger.warning(
                "Telescoping predictions are %.3g (relative RMS) from the network's at %d; "
                "p_train and p_test are left missing from here.",
                gap,
                at,
            )
            row["telescoping"] = "diverged"
            return row
    row["p_train"], row["p_train_se"] = tracker.p_train(return_std=True)
    if tracker.n_eval_:
        row["p_test"], row["p_test_se"] = tracker.p_test(return_std=True)
        # Paired: the probes are shared, so the ratio's error uses their covariance.
        row["p_ratio"], row["p_ratio_se"] = tracker.p_ratio(return_std=True)
    return row


def measure_seed(seed: int, at: int) -> int:
    """Seed of one checkpoint's measures, derived from the run's seed and the time recorded."""
    return int(np.random.SeedSequence([seed, int(at)]).generate_state(1)[0])


def suite_columns(
    model, init_model, problem: Problem, opts, seed: int, names, *, skip_unsupported: bool = False
) -> dict:
    """Columns of the registered measures ``names`` that apply to ``model``.

    Parameters
    ----------
    model, init_model : torch.nn.Module
    problem : Problem
    opts : mapping
        ``sharpness_samples``, ``hessian_k`` and ``hessian_z``.
    seed : int
        Seed of the measures' random draws.
    names : sequence of str
        Registered measure names, in order.
    skip_unsupported : bool
        Leave out (with a log line) a measure that raises TypeError for an
        architecture it does not support, instead of raising.

    Returns
    -------
    dict
    """
    row = {}
    cp = Checkpoint(model, init_model, problem, opts, seed)
    for name in names:
        measure = get_measure(name)
        if not measure.applies(model):
            continue
        try:
            row.update(measure.compute(cp))
        except TypeError as exc:
            if not skip_unsupported:
                raise
            logger.info("Measure %r does not apply to this model (%s); left missing.", name, exc)
    return row


def tracker_left_at(rows: Mapping[int, dict]) -> int | None:
    """The first recorded time at which the tracker had left the network.

    Parameters
    ----------
    rows : mapping of int to dict
        One unit's rows by the epoch (or step) they record.

    Returns
    -------
    int or None
        The smallest recorded time whose ``telescoping_gap`` exceeds
        :data:`TRACKING_TOLERANCE` (or is not finite); None while the tracker
        follows the network at every recorded time, or when nothing is tracked.
    """
    for at in sorted(rows):
        gap = rows[at].get("telescoping_gap")
        if gap is not None and not (np.isfinite(gap) and gap <= TRACKING_TOLERANCE):
            return int(at)
    return None


def measure_checkpoint(
    model, init_model, problem: Problem, opts, seed: int, tracker, m: int, at: int
) -> dict:
    """The row of one recorded time: errors and losses, telescoping, selected measures.

    Parameters
    ----------
    model, init_model : torch.nn.Module
        The network now and at initialisation.
    problem : Problem
    opts : mapping
        The family's resolved options (``measures``, ``telescoping``, ...).
    seed : int
        The unit's seed; each checkpoint's measures draw from a seed derived
        from it and ``at``.
    tracker : TelescopingTracker or None
        Following the network since initialisation on the first ``m`` test rows.
    m : int
    at : int
        The epoch (or step) recorded.

    Returns
    -------
    dict
        Column values; a measure that does not apply to ``model`` leaves its
        columns out.
    """
    row = _evaluate(model, problem)
    row["telescoping"] = opts["telescoping"]
    row["telescoping_m"] = m if tracker is not None else None
    if tracker is not None:
        row.update(telescoping_columns(model, tracker, problem.X_test[:m], at))
    # Each checkpoint's measures draw from their own seed, not the training stream.
    row.update(
        suite_columns(model, init_model, problem, opts, measure_seed(seed, at), opts["measures"])
    )
    return row
