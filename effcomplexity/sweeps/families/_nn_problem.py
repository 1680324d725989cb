"""What a network unit trains on: its tensors, its loss and the shared network options.

A :class:`Problem` holds the training and test tensors of one unit, what the
loss compares the outputs with, and how training batches them. The options
every network family accepts (which measures, telescoping, checkpointing) are
declared once here, with their defaults and checks, so the families add only
their own. Nothing here imports torch at import time.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from ._nn_measures import TELESCOPING_MODES, measure_names

__all__ = ["NETWORK_DEFAULTS", "Problem", "check_network_options"]


@dataclasses.dataclass
class Problem:
    """Tensors and training set-up of one network unit.

    Attributes
    ----------
    X_train, X_test : torch.Tensor
        Model inputs.
    targets_train, targets_test : torch.Tensor
        What the loss compares the outputs with: one-hot rows for ``"mse"``,
        class indices for ``"cross_entropy"``, real targets for a regression.
    labels_train, labels_test : torch.Tensor or None
        Integer classes (errors, margins, sharpness); ``None`` for a
        regression, whose rows then carry no 0-1 error and whose weight
        measures are the architecture-free norms only.
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

    @property
    def is_regression(self) -> bool:
        """Whether the targets are real numbers without classes."""
        return self.labels_train is None

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
        dtype=None,
    ) -> Problem:
        """The problem of inputs and integer labels: one-hot targets for ``"mse"``.

        ``dtype`` is the dtype of the one-hot targets (default float32): that
        of the inputs and the network.
        """
        import torch

        labels_train = torch.as_tensor(labels_train, dtype=torch.int64)
        labels_test = torch.as_tensor(labels_test, dtype=torch.int64)
        if loss == "mse":
            eye = torch.eye(n_classes, dtype=dtype or torch.float32)
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

    @classmethod
    def regression(cls, X_train, X_test, y_train, y_test, *, batch_size: int | None) -> Problem:
        """The problem of inputs and real targets, trained on the mean squared error.

        The targets take the dtype of ``X_train``; a row then reports
        ``train_mse`` / ``test_mse`` as its errors and no 0-1 error.
        """
        import torch

        dtype = X_train.dtype
        return cls(
            X_train=X_train,
            X_test=X_test,
            targets_train=torch.as_tensor(y_train, dtype=dtype),
            targets_test=torch.as_tensor(y_test, dtype=dtype),
            labels_train=None,
            labels_test=None,
            loss="mse",
            batch_size=batch_size,
        )


#: Options every network family accepts, with their defaults.
NETWORK_DEFAULTS: dict[str, Any] = {
    "measures": tuple(measure_names()),
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
    known = measure_names()
    unknown = sorted(set(measures) - set(known))
    if unknown:
        raise ValueError(
            f"Unknown measure(s) {unknown} in {where}; choose among {known} "
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
