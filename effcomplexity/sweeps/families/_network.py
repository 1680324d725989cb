"""Training and per-checkpoint measurement shared by the network sweep families.

A network unit trains one torch model and records a row at chosen epochs (or
steps): train and test error and loss, the weight-measure suite, sharpness
and PAC-Bayes, the Hessian's effective dimensionality and, when enabled, the
telescoping effective parameters. Randomness comes from the unit's seed only
and torch runs on one thread inside a unit, so a unit gives the same numbers
in any process. A long unit saves model, optimiser, tracker and random states
at its checkpoints and resumes from the last one after an interruption.

A checkpoint is written atomically (temporary file, fsync of the file and its
folder, rename) and records the stamp of the unit and run that wrote it
(:func:`effcomplexity.sweeps.store.checkpoint_stamp`): one with another stamp
is ignored, with a warning, and one that does not load (truncated, empty,
garbage) is set aside as ``checkpoint.pt.corrupt``, with a warning; either
way the unit trains from the start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...exceptions import RunReplacedError

__all__ = [
    "MEASURES",
    "TELESCOPING_MODES",
    "NetworkMeasure",
    "Problem",
    "log_spaced",
    "measure_columns",
    "register_measure",
    "train_and_record",
]

logger = logging.getLogger(__name__)

#: How a row's ``p_train`` / ``p_test`` were obtained.
TELESCOPING_MODES = ("off", "exact", "probe")
_LOSSES = ("mse", "cross_entropy")
_CHECKPOINT = "checkpoint.pt"
# Suffix of a checkpoint set aside because it does not load.
_CORRUPT = ".corrupt"
# Keys of a training state; a file without them is not a checkpoint.
_STATE_KEYS = frozenset({"model", "optimizer", "order", "torch_rng", "tracker", "rows", "done"})


def log_spaced(stop: int, num: int, *, start: int = 1, zero: bool = True) -> tuple[int, ...]:
    """About ``num`` distinct integers spaced evenly in log scale up to ``stop``.

    Parameters
    ----------
    stop : int
        Last value (included).
    num : int
        Number of values requested; fewer come back when rounding merges some.
    start : int
        First positive value.
    zero : bool
        Also record 0 (the network at initialisation).

    Returns
    -------
    tuple of int
        Strictly increasing.

    Examples
    --------
    >>> from effcomplexity.sweeps import log_spaced
    >>> log_spaced(1000, 4)
    (0, 1, 10, 100, 1000)
    """
    if stop < start or num < 1:
        raise ValueError(f"log_spaced needs stop >= start >= 1 and num >= 1, got {stop}, {num}.")
    values = np.unique(np.round(np.geomspace(start, stop, num)).astype(int))
    return ((0,) if zero else ()) + tuple(int(v) for v in values)


@dataclasses.dataclass
class Problem:
    """Tensors and training set-up of one network unit.

    Attributes
    ----------
    X_train, X_test : torch.Tensor
        Model inputs.
    targets_train, targets_test : torch.Tensor
        What the loss compares the outputs with: one-hot rows for ``"mse"``,
        class indices for ``"cross_entropy"``.
    labels_train, labels_test : torch.Tensor
        Integer classes (errors, margins, sharpness).
    loss : {"mse", "cross_entropy"}
    batch_size : int or None
        Mini-batch size; ``None`` trains on the full batch (one step per
        recorded unit of time).
    input_shape : tuple of int or None
        Shape of one input for the weight measures of a convolutional model.
    """

    X_train: Any
    X_test: Any
    targets_train: Any
    targets_test: Any
    labels_train: Any
    labels_test: Any
    loss: str
    batch_size: int | None
    input_shape: tuple[int, ...] | None = None

    def loss_fn(self):
        import torch

        return torch.nn.MSELoss() if self.loss == "mse" else torch.nn.CrossEntropyLoss()

    @classmethod
    def from_labels(
        cls,
        X_train,
        X_test,
        labels_train,
        labels_test,
        *,
        n_classes: int,
        loss: str,
        batch_size: int | None,
        input_shape: tuple[int, ...] | None = None,
    ) -> Problem:
        """The problem of inputs and integer labels: one-hot targets for ``"mse"``."""
        import torch

        labels_train = torch.as_tensor(labels_train, dtype=torch.int64)
        labels_test = torch.as_tensor(labels_test, dtype=torch.int64)
        if loss == "mse":
            eye = torch.eye(n_classes, dtype=torch.float32)
            targets_train, targets_test = eye[labels_train], eye[labels_test]
        else:
            targets_train, targets_test = labels_train, labels_test
        return cls(
            X_train=X_train,
            X_test=X_test,
            targets_train=targets_train,
            targets_test=targets_test,
            labels_train=labels_train,
            labels_test=labels_test,
            loss=loss,
            batch_size=batch_size,
            input_shape=input_shape,
        )


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


#: The per-checkpoint measures, in column order; ``measures`` selects among them.
MEASURES: dict[str, NetworkMeasure] = {}


def register_measure(measure: NetworkMeasure) -> NetworkMeasure:
    """Add a measure to the per-checkpoint suite of every network family."""
    MEASURES[measure.name] = measure
    return measure


def _is_chain(model) -> bool:
    from ...models.torch_models import ModularAdditionTransformer

    return not isinstance(model, ModularAdditionTransformer)


# Names weight_measures computes for any architecture (no feed-forward chain needed).
_ANY_ARCHITECTURE = ("params", "param_norm", "fro_dist", "log_prod_fro", "log_sum_fro")


def _weights(cp: Checkpoint) -> dict:
    from ... import nn as ecnn

    if _is_chain(cp.model):
        values = ecnn.weight_measures(
            cp.model,
            cp.init_model,
            X=cp.problem.X_train,
            y=cp.problem.labels_train,
            input_shape=cp.problem.input_shape,
        )
    else:
        # The transformer reads integer tokens, which the margin helpers would cast
        # to floats: only the architecture-free norms apply.
        values = ecnn.weight_measures(cp.model, cp.init_model, measures=list(_ANY_ARCHITECTURE))
    return {str(k): float(v) for k, v in values.items()}


def _sharpness(cp: Checkpoint) -> dict:
    from ... import nn as ecnn

    values = ecnn.pac_bayes_measures(
        cp.model,
        cp.problem.X_train,
        cp.problem.labels_train,
        cp.init_model,
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
        cp.problem.loss_fn(),
        (cp.problem.X_train, cp.problem.targets_train),
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
    with warnings.catch_warnings():
        # The sweep's chains are short by design (see LLC_MINIBATCH); divergence still warns.
        warnings.filterwarnings("ignore", "local_learning_coefficient: the loss traces have not")
        result = ecnn.local_learning_coefficient(
            cp.model,
            problem.loss_fn(),
            (problem.X_train, problem.targets_train),
            random_state=cp.seed,
            **llc_settings(problem.batch_size, len(problem.X_train)),
        )
    return {"llc": float(result.estimate), "llc_se": float(result.std_error)}


def _weight_columns() -> dict[str, str]:
    from ...measures._nn.norms import MEASURE_NAMES

    return dict.fromkeys(MEASURE_NAMES, "float64")


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

register_measure(NetworkMeasure("weights", _weight_columns(), _weights))
register_measure(
    NetworkMeasure("sharpness", dict.fromkeys(_PAC_BAYES_COLUMNS, "float64"), _sharpness, _is_chain)
)
register_measure(NetworkMeasure("hessian", {"n_eff": "float64"}, _hessian))
register_measure(NetworkMeasure("llc", {"llc": "float64", "llc_se": "float64"}, _llc))

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
}


def measure_columns() -> dict[str, str]:
    """Extra columns of a network family's table, with their dtypes, in order."""
    columns = dict(BASE_COLUMNS)
    for measure in MEASURES.values():
        for name, dtype in measure.columns.items():
            columns.setdefault(name, dtype)
    return columns


#: Options every network family accepts, with their defaults.
NETWORK_DEFAULTS: dict[str, Any] = {
    "measures": tuple(MEASURES),
    "telescoping": "off",
    "telescoping_eval": 500,
    "n_probes": 10,
    "hessian_k": 10,
    "hessian_z": 1.0,
    "sharpness_samples": 5,
    "checkpoint_every": None,
    "save_models": False,
}


def check_network_options(opts: Mapping[str, Any], where: str) -> None:
    """Raise ValueError for a bad value of a shared network option."""
    measures = opts["measures"]
    if isinstance(measures, str) or not isinstance(measures, Sequence):
        raise ValueError(f"measures must be a sequence of names in {where}, got {measures!r}.")
    unknown = sorted(set(measures) - set(MEASURES))
    if unknown:
        raise ValueError(
            f"Unknown measure(s) {unknown} in {where}; choose among {list(MEASURES)} "
            f"(train/test error and loss are always recorded)."
        )
    if opts["telescoping"] not in TELESCOPING_MODES:
        raise ValueError(
            f"telescoping must be one of {TELESCOPING_MODES} in {where}, "
            f"got {opts['telescoping']!r}."
        )
    if opts["telescoping"] != "off" and opts["loss"] != "mse":
        raise ValueError(
            f"telescoping needs loss='mse' in {where} (the telescoping smoother exists for "
            f"squared loss only); set telescoping='off' or loss='mse'."
        )
    for name, minimum in (("telescoping_eval", 1), ("n_probes", 2), ("hessian_k", 1)):
        value = opts[name]
        if not _is_int(value) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum} in {where}, got {value!r}.")
    if not _is_int(opts["sharpness_samples"]) or opts["sharpness_samples"] < 1:
        raise ValueError(f"sharpness_samples must be a positive integer in {where}.")
    z = opts["hessian_z"]
    if not isinstance(z, numbers.Real) or not z > 0:
        raise ValueError(f"hessian_z must be positive in {where}, got {z!r}.")
    every = opts["checkpoint_every"]
    if every is not None and (not _is_int(every) or every < 1):
        raise ValueError(f"checkpoint_every must be None or a positive integer in {where}.")
    if not isinstance(opts["save_models"], bool):
        raise ValueError(f"save_models must be True or False in {where}.")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# -- one unit ----------------------------------------------------------------------------


@contextlib.contextmanager
def torch_unit(seed: int) -> Iterator[None]:
    """One torch thread and a private global generator seeded by ``seed``.

    The caller's thread count and global random state are restored afterwards.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            yield
    finally:
        torch.set_num_threads(threads)


def _atomic_save(obj, path: Path) -> None:
    """``torch.save`` to ``path`` atomically and durably (fsync file and folder)."""
    import torch

    from ..store import _write_atomically

    try:
        _write_atomically(path, lambda handle: torch.save(obj, handle))
    except FileNotFoundError:
        if path.parent.exists():
            raise
        # The folder is created before training starts; only a newer run removes it.
        raise RunReplacedError(
            f"Cannot save {path.name}: its folder {path.parent} was removed, so another run "
            f"replaced the one training this unit; stopping it."
        ) from None


def _set_aside(path: Path, why: str) -> None:
    corrupt = path.with_name(path.name + _CORRUPT)
    os.replace(path, corrupt)
    logger.warning(
        "Checkpoint %s %s; set aside as %s, training this unit from the start.",
        path,
        why,
        corrupt.name,
    )


def _read_checkpoint(path: Path | None, stamp: Mapping[str, Any] | None) -> dict | None:
    """The training state at ``path`` if it loads and was written with ``stamp``, else None.

    A file that does not load is set aside; one with another stamp is removed; both
    with a warning. Without ``stamp`` (a unit run outside a store) any state loads.
    """
    import torch

    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
        if not isinstance(state, dict) or not _STATE_KEYS <= set(state):
            raise ValueError("not a training state")
    except Exception as exc:  # truncated, empty, garbage: whatever torch raises
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        _set_aside(path, f"is damaged ({type(exc).__name__}: {reason})")
        return None
    found = state.get("stamp")
    if stamp is not None and found != dict(stamp):
        logger.warning(
            "Ignoring checkpoint %s: it was written for %s, not for %s (another run, spec or "
            "version); training this unit from the start.",
            path,
            found or "an unknown run",
            dict(stamp),
        )
        path.unlink(missing_ok=True)
        return None
    return state


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
                out = model(X)
                targets = getattr(problem, f"targets_{split}")
                labels = getattr(problem, f"labels_{split}")
                row[f"{split}_loss"] = float(loss_fn(out, targets))
                row[f"{split}_error"] = float((out.argmax(dim=1) != labels).double().mean())
                # Common MSE column: squared error summed over outputs, mean over rows.
                row[f"{split}_mse"] = (
                    float(((out - targets) ** 2).sum(dim=1).mean())
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


def _tracker(model, problem: Problem, opts: Mapping[str, Any], seed: int):
    """A telescoping tracker on every training input and a fixed test subsample."""
    from ... import nn as ecnn

    m = min(int(opts["telescoping_eval"]), problem.X_test.shape[0])
    # The first m test rows: the test split is already a random draw.
    tracker = ecnn.TelescopingTracker(
        model,
        problem.X_train,
        problem.X_test[:m],
        y_train=problem.targets_train,
        method=opts["telescoping"],
        n_probes=int(opts["n_probes"]) if opts["telescoping"] == "probe" else None,
        loss="mse",
        random_state=seed,
    )
    return tracker, m


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


def _measure(
    model, init_model, problem: Problem, opts, seed: int, tracker, m: int, at: int
) -> dict:
    row = _evaluate(model, problem)
    row["telescoping"] = opts["telescoping"]
    row["telescoping_m"] = m if tracker is not None else None
    if tracker is not None:
        gap = _tracking_gap(model, tracker, problem.X_test[:m])
        row["telescoping_gap"] = gap
        if np.isfinite(gap) and gap <= TRACKING_TOLERANCE:
            row["p_train"], row["p_train_se"] = tracker.p_train(return_std=True)
            row["p_test"], row["p_test_se"] = tracker.p_test(return_std=True)
        else:
            # The linearised model no longer follows the network: its smoother measures
            # nothing the network does, so p_train and p_test are left missing, not reported.
            row["telescoping"] = "diverged"
            logger.warning(
                "Telescoping predictions are %.3g (relative RMS) from the network's at %d; "
                "p_train and p_test are left missing from here.",
                gap,
                at,
            )
    # Each checkpoint's measures draw from their own seed, not the training stream.
    measure_seed = int(np.random.SeedSequence([seed, int(at)]).generate_state(1)[0])
    cp = Checkpoint(model, init_model, problem, opts, measure_seed)
    for name in opts["measures"]:
        measure = MEASURES[name]
        if measure.applies(model):
            row.update(measure.compute(cp))
    return row


def train_and_record(
    make_model: Callable[[], Any],
    make_optimizer: Callable[[Any], Any],
    problem: Problem,
    record_at: Sequence[int],
    opts: Mapping[str, Any],
    seed: int,
    checkpoint_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict]:
    """Train one network and measure it at the recorded epochs (or steps).

    Parameters
    ----------
    make_model : callable
        ``make_model()`` returns the initial network (seeded by the caller).
    make_optimizer : callable
        ``make_optimizer(model)`` returns its optimiser.
    problem : Problem
    record_at : sequence of int
        Epochs (mini-batch training) or steps (full batch) after which a row
        is recorded; 0 is the network at initialisation.
    opts : mapping
        The family's resolved options (``measures``, ``telescoping``, ...).
    seed : int
        Seeds the data order and the measures' randomness.
    checkpoint_dir : pathlib.Path, optional
        Where to save and find the training state (created if missing, in a
        parent folder that must exist). A state that does not load is set
        aside as ``checkpoint.pt.corrupt``; one written with another stamp
        than the current :func:`~effcomplexity.sweeps.store.checkpoint_stamp`
        is ignored; both with a warning, and training starts afresh.
    progress : callable, optional
        Called with the number of epochs (or steps) just trained.

    Returns
    -------
    list of dict
        One row per entry of ``record_at``, in that order.

    Raises
    ------
    RunReplacedError
        When the checkpoint folder's parent vanished while the unit trained:
        a newer run into the same results store replaced this one.
    """
    import torch

    from ..store import checkpoint_stamp

    record_at = [int(t) for t in record_at]
    targets = set(record_at)
    total = max(record_at)
    every = opts["checkpoint_every"] or max(1, total // 20)
    path = None
    if checkpoint_dir is not None:
        path = Path(checkpoint_dir) / _CHECKPOINT
        try:
            # Not parents=True: a folder whose run was replaced is not made again.
            path.parent.mkdir(exist_ok=True)
        except FileNotFoundError:
            raise RunReplacedError(
                f"Cannot create {path.parent}: its parent folder was removed, so another run "
                f"replaced the one that started this unit; stopping it."
            ) from None
    stamp = checkpoint_stamp()
    state = _read_checkpoint(path, stamp)
    with torch_unit(seed):

        def start():
            model = make_model()
            init_model = make_model()
            init_model.load_state_dict(model.state_dict())
            optimizer = make_optimizer(model)
            order = torch.Generator().manual_seed(int(seed))
            tracker, m = (None, 0)
            if opts["telescoping"] != "off":
                tracker, m = _tracker(model, problem, opts, seed)
            return model, init_model, optimizer, order, tracker, m

        model, init_model, optimizer, order, tracker, m = start()
        rows: dict[int, dict] = {}
        done = 0
        if state is not None:
            try:
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                order.set_state(state["order"])
                torch.set_rng_state(state["torch_rng"])
                if tracker is not None:
                    tracker.load_state_dict(state["tracker"])
                rows = {int(k): v for k, v in state["rows"].items()}
                done = int(state["done"])
            except Exception as exc:  # loads, but is not this unit's state
                _set_aside(path, f"does not fit this unit ({type(exc).__name__}: {exc})")
                # Start again exactly as a fresh unit does: same seed, same draws.
                torch.manual_seed(int(seed))
                model, init_model, optimizer, order, tracker, m = start()
                rows, done = {}, 0
            else:
                logger.info("Resuming a network unit at %d of %d from %s.", done, total, path)
                if progress is not None:
                    progress(done)

        def save() -> None:
            if path is None:
                return
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "order": order.get_state(),
                "torch_rng": torch.get_rng_state(),
                "tracker": None if tracker is None else tracker.state_dict(),
                "rows": {str(k): v for k, v in rows.items()},
                "done": done,
                "stamp": stamp,
            }
            _atomic_save(state, path)

        def record(at: int) -> None:
            rows[at] = _measure(model, init_model, problem, opts, seed, tracker, m, at)
            if opts["save_models"] and checkpoint_dir is not None:
                _atomic_save(model.state_dict(), Path(checkpoint_dir) / f"model-{at}.pt")

        if done == 0 and 0 in targets and 0 not in rows:
            record(0)
        loss_fn = problem.loss_fn()
        n = problem.X_train.shape[0]
        model.train()
        while done < total:
            if problem.batch_size is None:
                batches = [None]
            else:
                batches = torch.randperm(n, generator=order).split(problem.batch_size)
            for idx in batches:
                X = problem.X_train if idx is None else problem.X_train[idx]
                y = problem.targets_train if idx is None else problem.targets_train[idx]
                optimizer.zero_grad()
                loss_fn(model(X), y).backward()
                if tracker is not None:
                    tracker.step(optimizer, idx)
                optimizer.step()
            done += 1
            if done in targets:
                record(done)
            if done in targets or done % every == 0 or done == total:
                save()
            if progress is not None:
                progress(1)
        return [rows[t] for t in record_at]
