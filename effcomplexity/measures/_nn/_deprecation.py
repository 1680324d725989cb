"""The old ways of passing data to the network measures, accepted for one release.

Every network measure takes the model first, then the training data as
``X, y``, and everything else by keyword. The decorators here rewrite a call
in one of the earlier spellings into that form and emit a ``FutureWarning``
that shows the new call; the wrapped function keeps its new signature (for
``inspect.signature``, Sphinx and doctests).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ._layers import eval_mode, to_model_device

#: The release in which the old spellings stop working.
REMOVED_IN = "0.2.0"


def warn_old_spelling(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Emit the ``FutureWarning`` of an old spelling, showing the new call."""
    warnings.warn(
        f"{old} is deprecated and stops working in effcomplexity {REMOVED_IN}; call {new} instead.",
        FutureWarning,
        stacklevel=stacklevel,
    )


def _rewrites(convert: Callable[[tuple, dict], tuple[tuple, dict, str, str] | None]):
    """Decorator: ``convert(args, kwargs)`` returns the new call and both spellings, or None."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            converted = convert(args, kwargs)
            if converted is not None:
                args, kwargs, old, new = converted
                warn_old_spelling(old, new)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def _keywords(names: Sequence[str]) -> str:
    return "".join(f", {name}={name}" for name in names)


def positional_to_keyword(name: str, leading: Sequence[str], moved: Sequence[str]):
    """Accept ``moved`` (once positional after ``leading``) positionally, with a warning.

    ``path_norm(model, 2)`` becomes ``path_norm(model, p=2)``.
    """

    def convert(args: tuple, kwargs: dict):
        if len(args) <= len(leading):
            return None
        extra = args[len(leading) :]
        if len(extra) > len(moved):
            raise TypeError(
                f"{name}() takes {len(leading)} positional arguments but {len(args)} were given."
            )
        given = moved[: len(extra)]
        for key, value in zip(given, extra, strict=True):
            if key in kwargs:
                raise TypeError(f"{name}() got multiple values for argument {key!r}.")
            kwargs[key] = value
        old = f"{name}({', '.join([*leading, *given])})"
        new = f"{name}({', '.join(leading)}{_keywords(given)})"
        return args[: len(leading)], kwargs, old, new

    return _rewrites(convert)


def _is_array(value) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray))


def split_data(data) -> tuple:
    """``(X, y)`` from an old ``data`` argument: an (X, y) pair, or batches as ``X``."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(map(_is_array, data)):
        return data[0], data[1]
    return data, None


def loss_and_data(name: str, extra: Sequence[str] = ()):
    """Accept the old ``name(model, loss_fn, data, *extra)`` with a warning.

    The new call is ``name(model, X, y, loss_fn=loss_fn, ...)`` for
    ``data=(X, y)``, and ``name(model, batches, loss_fn=loss_fn, ...)`` for a
    DataLoader or list of batches. The old spelling is recognised by a
    callable second argument (no input array is callable) or a ``data``
    keyword.
    """

    def convert(args: tuple, kwargs: dict):
        old_positional = len(args) >= 2 and callable(args[1]) and not _is_array(args[1])
        if not old_positional and "data" not in kwargs:
            return None
        args = list(args)
        model = args.pop(0) if args else kwargs.pop("model")
        if old_positional:
            loss_fn = args.pop(0)
        elif "loss_fn" in kwargs:
            loss_fn = kwargs.pop("loss_fn")
        else:
            loss_fn = args.pop(0) if args else None
        data = args.pop(0) if args else kwargs.pop("data")
        if "data" in kwargs:
            raise TypeError(f"{name}() got multiple values for argument 'data'.")
        if len(args) > len(extra):
            raise TypeError(f"{name}() got too many positional arguments.")
        given = list(extra[: len(args)])
        for key, value in zip(given, args, strict=True):
            if key in kwargs:
                raise TypeError(f"{name}() got multiple values for argument {key!r}.")
            kwargs[key] = value
        X, y = split_data(data)
        kwargs["loss_fn"] = loss_fn
        new_args = (model, X) if y is None else (model, X, y)
        data_words = "loader" if y is None else "X, y"
        old = f"{name}(model, loss_fn, data{''.join(', ' + key for key in given)})"
        new = f"{name}(model, {data_words}, loss_fn=loss_fn{_keywords(given)})"
        return new_args, kwargs, old, new

    return _rewrites(convert)


def weight_measures_init():
    """Accept the old ``weight_measures(model, init_model, X=X, y=y)`` with a warning."""

    def convert(args: tuple, kwargs: dict):
        if len(args) < 2:
            return None
        second = args[1]
        old = isinstance(second, nn.Module) or (second is None and ("X" in kwargs or "y" in kwargs))
        if not old:
            return None
        if len(args) > 2:
            raise TypeError("weight_measures() got too many positional arguments.")
        if "init_model" in kwargs:
            raise TypeError("weight_measures() got multiple values for argument 'init_model'.")
        kwargs["init_model"] = second
        shown = [key for key in ("X", "y") if key in kwargs]
        old_call = f"weight_measures(model, init_model{_keywords(shown)})"
        data = ", ".join(shown)
        new = f"weight_measures(model{', ' + data if data else ''}, init_model=init_model)"
        return args[:1], kwargs, old_call, new

    return _rewrites(convert)


def _shape(value) -> tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else np.shape(value)


def _could_be_targets(model: nn.Module, X, third) -> bool:
    """Whether ``third`` has a shape the new ``y`` allows: (n,) for one output, or (n, K)."""
    head = to_model_device(X[:1], next(model.parameters()))
    with eval_mode(model):
        out = model(head)
    K = 1 if out.dim() == 1 else out.shape[1]
    targets = [(len(X), K)] + ([(len(X),)] if K == 1 else [])
    return _shape(third) in targets


def tracker_data():
    """Accept the old ``TelescopingTracker(model, X_train, X_eval, y_train=y)`` with a warning.

    The old spelling is recognised by the keywords ``X_train`` or ``y_train``,
    or by a third positional argument that can only be held-out inputs (rows
    shaped like those of ``X`` but not a target array of ``len(X)`` rows). A
    third argument that fits both is read as ``y``, with a warning.
    """
    name = "TelescopingTracker"

    def convert(args: tuple, kwargs: dict):
        self, *rest = args
        old_keywords = [key for key in ("X_train", "y_train") if key in kwargs]
        if not old_keywords:
            if len(rest) != 3 or "X_eval" in kwargs or "y" in kwargs:
                return None
            model, X, third = rest
            shape, x_shape = _shape(third), _shape(X)
            if len(shape) == 0 or shape[1:] != x_shape[1:]:
                return None
            if shape[0] == x_shape[0] and _could_be_targets(model, X, third):
                warnings.warn(
                    f"the third argument of {name} is now the targets y; it was the held-out "
                    "inputs X_eval before. Pass held-out inputs as X_eval=X_eval, and y=y by "
                    "keyword to silence this warning.",
                    FutureWarning,
                    stacklevel=3,
                )
                return None
        if len(rest) > 3:
            raise TypeError(f"{name}() got too many positional arguments.")
        model = rest[0] if rest else kwargs.pop("model")
        X = rest[1] if len(rest) > 1 else kwargs.pop("X_train")
        if len(rest) > 2:
            if "X_eval" in kwargs:
                raise TypeError(f"{name}() got multiple values for argument 'X_eval'.")
            kwargs["X_eval"] = rest[2]
        y = kwargs.pop("y_train", None)
        shown = (", y" if y is not None else "") + (
            ", X_eval=X_eval" if kwargs.get("X_eval") is not None else ""
        )
        old = (
            f"{name}(model, X_train"
            + (", X_eval" if kwargs.get("X_eval") is not None else "")
            + (", y_train=y_train" if y is not None else "")
            + ")"
        )
        return (self, model, X, y), kwargs, old, f"{name}(model, X{shown})"

    return _rewrites(convert)
