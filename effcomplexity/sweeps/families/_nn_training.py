"""The training loop of a network unit, with checkpoints to resume it.

A network unit trains one torch model and records a row at chosen epochs (or
steps) with :func:`~._nn_measures.measure_checkpoint`. Randomness comes from
the unit's seed only and torch runs on one thread inside a unit, so a unit
gives the same numbers in any process. A long unit saves model, optimiser,
tracker and random states at its checkpoints and resumes from the last one
after an interruption.

A checkpoint is written atomically (temporary file, fsync of the file and its
folder, rename) and records the stamp of the unit and run that wrote it
(:func:`effcomplexity.sweeps.store.checkpoint_stamp`): one with another stamp
is ignored, with a warning, and one that does not load (truncated, empty,
garbage) is set aside as ``checkpoint.pt.corrupt``, with a warning; either
way the unit trains from the start.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...exceptions import RunReplacedError
from ._nn_measures import measure_checkpoint, tracker_left_at
from ._nn_problem import Problem

__all__ = ["RunReplacedError", "torch_unit", "train_and_record"]

logger = logging.getLogger(__name__)

_CHECKPOINT = "checkpoint.pt"
# Suffix of a checkpoint set aside because it does not load.
_CORRUPT = ".corrupt"
# Keys of a training state; a file without them is not a checkpoint.
_STATE_KEYS = frozenset({"model", "optimizer", "order", "torch_rng", "tracker", "rows", "done"})


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


def _tracker(model, problem: Problem, opts: Mapping[str, Any], seed: int):
    """A telescoping tracker on every training input and a fixed test subsample."""
    from ... import nn as ecnn

    m = min(int(opts["telescoping_eval"]), problem.X_test.shape[0])
    # The first m test rows: the test split is already a random draw.
    tracker = ecnn.TelescopingTracker(
        model,
        problem.X_train,
        problem.targets_train,
        X_eval=problem.X_test[:m],
        method=opts["telescoping"],
        n_probes=int(opts["n_probes"]) if opts["telescoping"] == "probe" else None,
        loss="mse",
        random_state=seed,
    )
    return tracker, m


def train_and_record(
    make_model: Callable[[], Any],
    make_optimizer: Callable[[Any], Any],
    problem: Problem,
    record_at: Sequence[int],
    opts: Mapping[str, Any],
    seed: int,
    checkpoint_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    by_step: bool = False,
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
    by_step : bool
        Count mini-batch training in optimisation steps rather than epochs:
        ``record_at`` are then steps, the batches of epoch ``e`` a shuffle
        drawn from ``(seed, e)`` alone (so a resumed unit continues the same
        sequence mid-epoch), the last batch of an epoch possibly smaller.
        Full-batch training counts steps either way.

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
            rows[at] = measure_checkpoint(model, init_model, problem, opts, seed, tracker, m, at)
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
            elif by_step:
                batches = [_step_batch(n, problem.batch_size, seed, done)]
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
        left = tracker_left_at(rows) if tracker is not None else None
        return [{**rows[t], "tracker_left_at": left} for t in record_at]


def _step_batch(n: int, batch_size: int, seed: int, step: int):
    """Rows of the batch of optimisation step ``step + 1``: a shuffle per epoch, from its seed."""
    import numpy as np
    import torch

    per_epoch = -(-n // batch_size)
    epoch, k = divmod(step, per_epoch)
    epoch_seed = int(np.random.SeedSequence([int(seed), epoch]).generate_state(1)[0])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed))
    return order[k * batch_size : (k + 1) * batch_size]
