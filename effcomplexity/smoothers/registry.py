r"""The smoother registry: which weights on the training labels make a prediction.

A fitted regressor is a *linear smoother* when its prediction at ``x`` is a
weighted sum of the training labels, :math:`f(x) = s(x)^\top y`, with weights
:math:`s(x)` that do not depend on ``y`` once the model's structure is fixed.
Each supported family registers a :class:`Smoother` subclass that answers, for
one fitted estimator and its training inputs, what :math:`s(x)` is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

from .._validation import (
    TrainingMismatchError,
    check_fitted,
    check_inputs,
    check_labels,
    check_reproduces_predictions,
    check_sample_weight,
    warn_unverified,
)

__all__ = [
    "Smoother",
    "get_smoother",
    "register_smoother",
    "register_unsupported",
    "registered_types",
    "smooth",
    "smoother_matrix",
    "staged_predictions",
    "unregister_smoother",
]

# Keys are classes or fully qualified class names ("package.module.Class"); a
# name lets a family register without importing an optional dependency.
_REGISTRY: dict[type | str, type[Smoother]] = {}
# The families registered when the package is imported, restored by unregister_smoother.
_BUILTIN: dict[type | str, type[Smoother]] = {}
# Types that look like a family but are not linear smoothers: why, and what to use.
_UNSUPPORTED: dict[str, str] = {}
# Identity columns per block when exact values replay a smoother on the identity.
IDENTITY_BLOCK = 512


class Smoother:
    """Smoother weights of one fitted estimator, bound to its training inputs.

    The public methods validate and reshape their arguments once and call
    protected hooks that receive validated arrays (``X`` None or a checked 2-D
    array, ``Y`` a finite ``(n_train, k)`` array). Subclasses implement
    ``_matrix(X)``; they should also implement ``_smooth(Y, X)`` (``S(X) @ Y``
    without forming ``S``) and, where a cheaper route exists,
    ``_row_norms_sq(X)`` and ``_trace()``; staged families implement
    ``n_stages()``, ``_staged_smooth(Y, X)`` and ``_staged_row_norms_sq(X)``
    (and ``_staged_trace()`` when cheaper than replaying the identity). Set
    ``exact_norms_are_cheap = True`` when the norms never form a dense
    ``(m, n)`` matrix, so ``method="auto"`` always takes the exact path.

    Parameters
    ----------
    estimator : fitted estimator
        Used as it is; never refit.
    X_train : array-like of shape (n_train, n_features)
        The inputs the estimator was fitted on, in the same order.
    sample_weight : array-like of shape (n_train,), optional
        The weights the estimator was fitted with, for families that set
        ``supports_sample_weight``; others raise ``ValueError``.

    Attributes
    ----------
    n_train : int
        Number of training points (columns of ``S``).
    sample_weight : ndarray of shape (n_train,) or None
        The fit's sample weights, or ``None`` for an unweighted fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> knn = KNeighborsRegressor(n_neighbors=2).fit(X, X[:, 0])
    >>> smoother = ec.get_smoother(knn, X)
    >>> smoother.n_train, round(smoother.trace(), 10)   # tr(S) = n / k
    (10, 5.0)
    """

    #: ``row_norms_sq`` avoids dense (m, n) matrices (``method="auto"`` uses it).
    exact_norms_are_cheap: bool = False
    #: The family computes per-stage values (boosting rounds, cumulative trees).
    supports_staged: bool = False
    #: The family builds the weighted smoother of a fit with ``sample_weight``.
    supports_sample_weight: bool = False
    #: The family takes scipy.sparse ``X_train`` and ``X`` (CSR, CSC or any format
    #: scipy converts to them), measured as the equal dense arrays; others raise
    #: ``TypeError`` naming the conversion.
    accepts_sparse: bool = False
    #: The fitted model records enough of its training rows (stored inputs, an
    #: order-dependent factorisation, bootstrap samples) that a shuffled, scaled or
    #: other ``X_train`` raises. Families that cannot tell set it to False (a
    #: property where it depends on the fit) and say why in ``unverified_reason``;
    #: measures then issue ``UnverifiedTrainingDataWarning`` unless ``y_train`` is given.
    verifies_X_train: bool = True
    #: Why ``X_train`` cannot be verified, completing "X_train cannot be verified for
    #: {Estimator}: ...".
    unverified_reason: str = "the model records nothing that identifies its training rows"

    def __init__(self, estimator, X_train, *, sample_weight=None):
        self._check_fitted(estimator)
        self.estimator = estimator
        self.X_train = self._check_X(X_train, name="X_train")
        self.n_train = self.X_train.shape[0]
        self.sample_weight = check_sample_weight(sample_weight, self.n_train)
        if self.sample_weight is not None and not self.supports_sample_weight:
            raise ValueError(
                f"{type(estimator).__name__}: smoothers of fits with sample_weight are not "
                f"available for this family. Refit without sample_weight, or measure with "
                f"effcomplexity.generalized_degrees_of_freedom."
            )
        self._validate()

    # -- hooks for subclasses -------------------------------------------------
    @classmethod
    def _family_for(cls, estimator) -> type[Smoother]:
        """The class that measures ``estimator``: this one, unless one registered
        type holds models of several families (bagging of trees or of any members)."""
        return cls

    def _check_fitted(self, estimator) -> None:
        """Raise ``NotFittedError`` unless ``estimator`` is fitted.

        The default is scikit-learn's rule (:func:`check_fitted`); families of
        other libraries override it with their own record of a fit.
        """
        check_fitted(estimator)

    def _check_X(self, X, *, name: str = "X") -> np.ndarray:
        """Validate inputs for this estimator (override for non-sklearn models)."""
        return check_inputs(self._densify(X, name), name=name, estimator=self.estimator)

    def _densify(self, X, name: str):
        """A scipy.sparse ``X`` as a dense array where the family takes it, else an error.

        The smoother of the dense array is that of the sparse one: the model's
        arithmetic on the stored values and on the implicit zeros is the same.
        """
        if not sp.issparse(X):
            return X
        if not self.accepts_sparse:
            raise TypeError(
                f"{name} is a scipy.sparse matrix ({X.format}), which the smoother of "
                f"{type(self.estimator).__name__} does not take. Convert it with "
                f"{name}.toarray() (the model's predictions on the dense array are the same)."
            )
        return check_inputs(X, name=name, estimator=self.estimator, allow_sparse=True).toarray()

    def _validate(self) -> None:
        """Family-specific checks once ``X_train`` is known (rows, options)."""

    def _resolve_X(self, X) -> np.ndarray | None:
        """``None`` stands for the training inputs; anything else is validated."""
        return None if X is None else self._check_X(X)

    # -- the primitives ---------------------------------------------------------
    # -- public methods: validate and reshape once, then call the hooks ---------
    def matrix(self, X=None) -> np.ndarray:
        """Dense smoother matrix: rows are ``s(x)`` for the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (m, n_features), optional
            Evaluation inputs; ``None`` means the training inputs.

        Returns
        -------
        ndarray of shape (m, n_train)
        """
        X = self._resolve_X(X)
        return self._checked(self._matrix(X), (self._m(X), self.n_train), "matrix")

    def smooth(self, Y, X=None) -> np.ndarray:
        """``S(X) @ Y`` for labels ``Y`` of shape (n_train,) or (n_train, k).

        Returns an array of shape (m,) or (m, k): 1-D labels give a 1-D result.
        """
        Y, was_1d = check_labels(Y, self.n_train)
        X = self._resolve_X(X)
        out = self._checked(self._smooth(Y, X), (self._m(X), Y.shape[1]), "smooth")
        return out[:, 0] if was_1d else out

    def row_norms_sq(self, X=None) -> np.ndarray:
        """Squared Euclidean norms ``||s(x)||^2`` of the rows of ``S(X)``."""
        X = self._resolve_X(X)
        return self._checked(self._row_norms_sq(X), (self._m(X),), "row_norms_sq")

    def trace(self) -> float:
        """``tr(S)`` on the training inputs."""
        return float(self._checked(self._trace(), (), "trace"))

    # -- every public result is checked, so a broken family fails at its first call
    def _m(self, X: np.ndarray | None) -> int:
        return self.n_train if X is None else X.shape[0]

    def _checked(self, value, shape: tuple, method: str) -> np.ndarray:
        """``value`` as an array, if it has ``shape`` and only finite entries."""
        out = np.asarray(value)
        if out.shape != shape and not (shape == () and out.shape == (1,)):
            raise ValueError(
                f"{type(self).__name__}.{method} returned an array of shape {out.shape} for "
                f"{type(self.estimator).__name__} with {self.n_train} training rows; expected "
                f"shape {shape}. The smoother registered for this family is broken: fix it "
                f"or unregister it with effcomplexity.unregister_smoother."
            )
        if out.dtype.kind not in "biuf" or not np.all(np.isfinite(out)):
            raise ValueError(
                f"{type(self).__name__}.{method} returned NaN, infinite or non-real values "
                f"for {type(self.estimator).__name__}: smoother weights must be finite. The "
                f"smoother registered for this family is broken: fix it or unregister it "
                f"with effcomplexity.unregister_smoother."
            )
        return out.reshape(shape)

    # -- staged families (boosting rounds, cumulative trees) -------------------
    def n_stages(self) -> int:
        """Number of stages reported by the staged methods."""
        raise TypeError(f"{type(self.estimator).__name__} has no stages.")

    def staged_row_norms_sq(self, X=None) -> np.ndarray:
        """``||s_t(x)||^2`` after every stage ``t``: array of shape (n_stages, m)."""
        X = self._resolve_X(X)
        norms = self._staged_row_norms_sq(X)
        return self._checked(norms, (self.n_stages(), self._m(X)), "staged_row_norms_sq")

    def staged_smooth(self, Y, X=None) -> Iterator[np.ndarray]:
        """Iterate over ``S_t(X) @ Y`` after every stage ``t``.

        The inputs are checked when this is called, not when iteration starts;
        each stage is a fresh array, 1-D when ``Y`` is.
        """
        Y, was_1d = check_labels(Y, self.n_train)
        X = self._resolve_X(X)
        stages = self._staged_smooth(Y, X)
        shape = (self._m(X), Y.shape[1])
        checked = (self._checked(F, shape, "staged_smooth") for F in stages)
        return (F[:, 0] for F in checked) if was_1d else checked

    def staged_trace(self) -> np.ndarray:
        """``tr(S_t)`` on the training inputs after every stage: shape (n_stages,)."""
        trace = self._staged_trace()
        return self._checked(trace, (self.n_stages(),), "staged_trace").astype(float)

    # -- hooks for families: arguments already validated ------------------------
    # ``X`` is None (the training inputs) or a validated 2-D array; ``Y`` is a
    # finite (n_train, k) float array.
    def _matrix(self, X: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement _matrix.")

    def _smooth(self, Y: np.ndarray, X: np.ndarray | None) -> np.ndarray:
        # Families override this with a matrix-free route (leaf means, replay, a solve).
        return self._matrix(X) @ Y

    def _row_norms_sq(self, X: np.ndarray | None) -> np.ndarray:
        S = self._matrix(X)
        return np.einsum("ij,ij->i", S, S)

    def _trace(self) -> float:
        return float(np.trace(self._matrix(None)))

    def _no_stages(self) -> TypeError:
        return TypeError(
            f"{type(self.estimator).__name__} has no stages: staged measures apply to "
            f"boosting and tree ensembles."
        )

    def _staged_row_norms_sq(self, X: np.ndarray | None) -> np.ndarray:
        raise self._no_stages()

    def _staged_smooth(self, Y: np.ndarray, X: np.ndarray | None) -> Iterator[np.ndarray]:
        raise self._no_stages()

    def _staged_trace(self) -> np.ndarray:
        # The diagonal of S_t from the stages replayed on blocks of identity columns.
        n = self.n_train
        out = np.zeros(self.n_stages())
        for block in identity_blocks(n):
            for t, SE in enumerate(self._staged_smooth(identity_columns(n, block), None)):
                out[t] += float(np.trace(np.asarray(SE)[block]))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.estimator).__name__}, n_train={self.n_train})"


def identity_blocks(n: int, size: int = IDENTITY_BLOCK) -> Iterator[slice]:
    """Consecutive blocks of ``size`` column indices covering ``0 .. n - 1``."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def identity_columns(n: int, block: slice) -> np.ndarray:
    """Columns ``block`` of the ``n x n`` identity."""
    E = np.zeros((n, block.stop - block.start))
    E[np.arange(block.start, block.stop), np.arange(E.shape[1])] = 1.0
    return E


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _function_smoother(matrix_function: Callable) -> type[Smoother]:
    """Wrap a plain ``matrix_function(estimator, X_train, X)`` as a Smoother class."""

    class FunctionSmoother(Smoother):
        def _matrix(self, X):
            Xe = self.X_train if X is None else X
            S = np.asarray(matrix_function(self.estimator, self.X_train, Xe), dtype=float)
            if S.shape != (Xe.shape[0], self.n_train):
                raise ValueError(
                    f"{matrix_function.__name__} returned shape {S.shape}; expected "
                    f"{(Xe.shape[0], self.n_train)} (one row per input, one column "
                    f"per training point)."
                )
            return S

    FunctionSmoother.__name__ = f"FunctionSmoother[{matrix_function.__name__}]"
    FunctionSmoother.__qualname__ = FunctionSmoother.__name__
    return FunctionSmoother


def _check_key(estimator_type, function: str) -> type | str:
    if isinstance(estimator_type, type):
        return estimator_type
    parts = estimator_type.split(".") if isinstance(estimator_type, str) else []
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise TypeError(
            f"{function} takes an estimator class or its qualified name "
            f"'package.module.Class' (e.g. 'sklearn.svm.SVR'), not {estimator_type!r}."
        )
    return estimator_type


def _resolve(name: str) -> type | None:
    """The class a dotted name refers to, if its module is already imported.

    Both the public path (``"sklearn.svm.SVR"``) and the defining module
    (``"sklearn.svm._classes.SVR"``) resolve to the same class. Nothing is
    imported, not even by a module's lazy ``__getattr__``: a name whose module
    is not loaded cannot match any live estimator yet.
    """
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        obj = sys.modules.get(".".join(parts[:i]))
        for attr in parts[i:]:
            obj = vars(obj).get(attr) if hasattr(obj, "__dict__") else None
        if isinstance(obj, type):
            return obj
    return None


def _same_type(key: type | str, other: type | str) -> bool:
    """Whether two registry keys (classes or dotted names) name the same class."""
    if key == other:
        return True
    names = [k if isinstance(k, str) else _qualified_name(k) for k in (key, other)]
    if names[0] == names[1]:
        return True
    classes = [k if isinstance(k, type) else _resolve(k) for k in (key, other)]
    if classes[0] is not None and classes[1] is not None:
        return classes[0] is classes[1]
    # A module not loaded yet: a public path names the class its package re-exports
    # ("pkg.Class" for "pkg._module.Class").
    (module_a, _, name_a), (module_b, _, name_b) = (n.rpartition(".") for n in names)
    shorter, longer = sorted((module_a, module_b), key=len)
    return name_a == name_b and longer.startswith(shorter + ".")


def _registered_key(estimator_type: type | str) -> type | str | None:
    """The key under which ``estimator_type`` is registered, however it is spelled."""
    if estimator_type in _REGISTRY:
        return estimator_type
    return next((key for key in _REGISTRY if _same_type(key, estimator_type)), None)


def _type_name(estimator_type: type | str) -> str:
    if isinstance(estimator_type, type):
        return estimator_type.__name__
    return estimator_type.rsplit(".", 1)[-1]


def register_smoother(estimator_type: type | str, *, replace: bool = False):
    """Register the smoother of an estimator family (a decorator).

    Decorate either a :class:`Smoother` subclass, or a plain function
    ``matrix(estimator, X_train, X) -> ndarray (m, n_train)``; a function only
    gives the dense matrix, so ``smooth`` and norms then form it. Every
    result is checked for shape and finiteness when it is used, so a broken
    smoother fails at its first call with a message naming it.

    Parameters
    ----------
    estimator_type : type or str
        The estimator class (subclasses are covered too), or its qualified
        name to avoid importing it: the public import path
        (``"sklearn.svm.SVR"``) or the defining module
        (``"sklearn.svm._classes.SVR"``).
    replace : bool
        Allow replacing a built-in family's smoother; without it, registering
        over a built-in family raises. :func:`unregister_smoother` restores
        the built-in one.

    Returns
    -------
    decorator
        Returns the decorated object unchanged.

    Raises
    ------
    TypeError
        If ``estimator_type`` is neither a class nor a dotted name, or the
        decorated object is neither a Smoother subclass nor a function.
    ValueError
        If the type has a built-in smoother and ``replace`` is false.

    See Also
    --------
    unregister_smoother : undo a registration.

    Examples
    --------
    >>> import numpy as np
    >>> import effcomplexity as ec
    >>> class MeanRegressor:
    ...     def fit(self, X, y):
    ...         self.mean_ = np.mean(y)
    ...         return self
    ...     def predict(self, X):
    ...         return np.full(len(X), self.mean_)
    >>> @ec.register_smoother(MeanRegressor)
    ... def mean_smoother(estimator, X_train, X):
    ...     return np.full((len(X), len(X_train)), 1.0 / len(X_train))
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> est = MeanRegressor().fit(X, [1.0, 2.0, 3.0, 6.0])
    >>> float(ec.effective_parameters(est, X))
    1.0
    >>> ec.unregister_smoother(MeanRegressor)
    """
    key = _check_key(estimator_type, "register_smoother")
    existing = _registered_key(key)
    if existing is not None and existing in _BUILTIN and not replace:
        raise ValueError(
            f"{_type_name(key)} already has a built-in smoother "
            f"({_BUILTIN[existing].__name__}). Pass replace=True to register_smoother to "
            f"replace it; effcomplexity.unregister_smoother({_type_name(key)}) restores it."
        )

    def decorator(obj):
        if isinstance(obj, type) and issubclass(obj, Smoother):
            factory = obj
        elif callable(obj) and not isinstance(obj, type):
            factory = _function_smoother(obj)
        else:
            raise TypeError(
                "register_smoother decorates a Smoother subclass or a function "
                "matrix(estimator, X_train, X)."
            )
        # A type spelled another way replaces its entry instead of shadowing it.
        _REGISTRY[key if existing is None else existing] = factory
        return obj

    return decorator


def unregister_smoother(estimator_type: type | str) -> None:
    """Undo :func:`register_smoother` for an estimator type.

    A built-in family replaced with ``replace=True`` gets its built-in
    smoother back; any other registration is removed.

    Parameters
    ----------
    estimator_type : type or str
        The class or its qualified name, spelled as in
        :func:`register_smoother` (public path or defining module).

    Returns
    -------
    None
        The registry is changed in place.

    Raises
    ------
    TypeError
        If ``estimator_type`` is neither a class nor a dotted name.
    ValueError
        If nothing is registered for the type, or its built-in smoother is
        in place (built-in families cannot be removed, only replaced).

    Examples
    --------
    >>> import numpy as np
    >>> import effcomplexity as ec
    >>> class Constant:
    ...     pass
    >>> def zeros(estimator, X_train, X):
    ...     return np.zeros((len(X), len(X_train)))
    >>> zeros = ec.register_smoother(Constant)(zeros)
    >>> ec.unregister_smoother(Constant)
    >>> ec.unregister_smoother(Constant)
    Traceback (most recent call last):
    ...
    ValueError: No smoother is registered for Constant.
    """
    key = _check_key(estimator_type, "unregister_smoother")
    existing = _registered_key(key)
    if existing is None:
        raise ValueError(f"No smoother is registered for {_type_name(key)}.")
    if existing in _BUILTIN:
        if _REGISTRY[existing] is _BUILTIN[existing]:
            raise ValueError(
                f"{_type_name(key)} has the built-in smoother {_BUILTIN[existing].__name__}, "
                f"which cannot be removed; register_smoother({_type_name(key)}, "
                f"replace=True) replaces it."
            )
        _REGISTRY[existing] = _BUILTIN[existing]
    else:
        del _REGISTRY[existing]


def _record_builtins() -> None:
    """Mark everything registered so far as built-in (called once the families load)."""
    _BUILTIN.update(_REGISTRY)


def register_unsupported(estimator_type: type | str, reason: str) -> None:
    """Record why an estimator type has no smoother, for a precise error message.

    Parameters
    ----------
    estimator_type : type or str
        The class or its fully qualified name.
    reason : str
        What makes the type unsupported and what to use instead.
    """
    key = estimator_type if isinstance(estimator_type, str) else _qualified_name(estimator_type)
    _UNSUPPORTED[key] = reason


def registered_types() -> dict[str, type[Smoother]]:
    """Registered estimator families, by qualified class name."""
    return {
        (key if isinstance(key, str) else _qualified_name(key)): factory
        for key, factory in _REGISTRY.items()
    }


def _lookup(estimator) -> type[Smoother] | None:
    by_name = None
    for cls in type(estimator).__mro__:
        factory = _REGISTRY.get(cls) or _REGISTRY.get(_qualified_name(cls))
        if factory is not None:
            return factory
        if by_name is None:
            # Names given by their public path ("sklearn.svm.SVR") resolve to the class.
            by_name = {
                _resolve(key): value for key, value in _REGISTRY.items() if isinstance(key, str)
            }
        factory = by_name.get(cls)
        if factory is not None:
            return factory
    return None


def get_smoother(estimator, X_train, *, y_train=None, sample_weight=None) -> Smoother:
    """Bind a fitted estimator and its training inputs to its family's smoother.

    Reuse the returned object to compute several quantities of one model: it
    caches factorizations (SVDs, leaf memberships) between calls.

    Parameters
    ----------
    estimator : fitted estimator or Smoother
    X_train : array-like of shape (n, n_features) or None
        The training inputs, in the order used to fit.
        With a Smoother, ``None`` or the inputs it was built on; other
        inputs raise :class:`~effcomplexity.TrainingMismatchError`.
    y_train : array-like of shape (n,) or (n, k), optional
        The training labels. When given, ``S(X_train) @ y_train`` must equal the
        model's own predictions on ``X_train`` (see the user guide: families
        that record nothing about their training rows can only be checked so).
        Without it, such families issue
        :class:`~effcomplexity.exceptions.UnverifiedTrainingDataWarning`.
    sample_weight : array-like of shape (n,), optional
        The weights the model was fitted with (scikit-learn does not record
        them); the weighted smoother is built where the family allows it.

    Returns
    -------
    Smoother
        The family's :class:`Smoother`, bound to ``estimator`` and ``X_train``.

    Raises
    ------
    TypeError
        If no smoother is registered for the estimator's type.
    TrainingMismatchError
        If ``X_train`` (or ``y_train``) does not match the fit.

    Warns
    -----
    UnverifiedTrainingDataWarning
        Once, when ``y_train`` is not given and the family cannot check
        ``X_train`` on its own (``Smoother.verifies_X_train`` is false).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> smoother = ec.get_smoother(Ridge(alpha=1.0).fit(X, X[:, 0]), X, y_train=X[:, 0])
    >>> smoother.matrix(X[:2]).shape
    (2, 20)
    """
    return _bind(estimator, X_train, y_train, sample_weight, warn=True)


def _bind(estimator, X_train, y_train, sample_weight, *, warn: bool) -> Smoother:
    """:func:`get_smoother`; ``warn=False`` leaves the unverified-input warning out."""
    if isinstance(estimator, Smoother):
        _check_bound_inputs(estimator, X_train)
        if sample_weight is not None and (
            estimator.sample_weight is None
            or not np.array_equal(
                estimator.sample_weight, check_sample_weight(sample_weight, estimator.n_train)
            )
        ):
            raise ValueError(
                "This Smoother was built with other sample weights: pass sample_weight to "
                "get_smoother when building it."
            )
        check_reproduces_predictions(estimator, y_train)
        return estimator
    factory = _lookup(estimator)
    reason = _UNSUPPORTED.get(_qualified_name(type(estimator)))
    if factory is None and reason is not None:
        raise TypeError(f"{type(estimator).__name__} has no smoother: {reason}")
    if factory is None:
        supported = ", ".join(sorted(name.rsplit(".", 1)[-1] for name in registered_types()))
        raise TypeError(
            f"No smoother is registered for {type(estimator).__name__}. Supported types: "
            f"{supported}. To add a family, decorate a Smoother subclass (or a function "
            f"matrix(estimator, X_train, X)) with "
            f"effcomplexity.register_smoother({type(estimator).__name__}); for models that "
            f"are not linear smoothers use effcomplexity.generalized_degrees_of_freedom."
        )
    factory = factory._family_for(estimator)
    # Without weights, the two-argument call that every Smoother subclass accepts.
    if sample_weight is None:
        smoother = factory(estimator, X_train)
    else:
        smoother = factory(estimator, X_train, sample_weight=sample_weight)
    if y_train is None:
        if warn and not smoother.verifies_X_train:
            warn_unverified(smoother)
    else:
        check_reproduces_predictions(smoother, y_train)
    return smoother


def _check_bound_inputs(smoother: Smoother, X_train) -> None:
    """Raise unless ``X_train`` is None or the inputs ``smoother`` was built on.

    A Smoother is bound to its training inputs; another ``X_train`` passed
    with it would otherwise be ignored without a word.
    """
    if X_train is None or X_train is smoother.X_train:
        return
    X = np.asarray(smoother._check_X(X_train, name="X_train"))
    bound = np.asarray(smoother.X_train)
    if X.shape != bound.shape:
        detail = f"it has shape {X.shape}, the Smoother's has shape {bound.shape}"
    else:
        try:
            same = np.array_equal(X, bound, equal_nan=True)
        except TypeError:  # object columns (a pipeline's raw inputs) have no NaN test
            same = np.array_equal(X, bound)
        if same:
            return
        detail = "its values or row order differ"
    raise TrainingMismatchError(
        f"X_train does not match the inputs this {type(smoother).__name__} was built on: "
        f"{detail}. A Smoother is bound to its training inputs: pass X_train=None (or the "
        f"same inputs) and the evaluation inputs as X, or bind the estimator to other "
        f"training inputs with get_smoother(estimator, X_train)."
    )


def build_smoother(estimator, X_train, *, sample_weight=None) -> Smoother:
    """:func:`get_smoother` without ``y_train`` and without the unverified-input warning.

    For smoothers built inside another family (pipeline steps, voting members),
    whose own public call checks or warns once for the whole model.
    """
    return _bind(estimator, X_train, None, sample_weight, warn=False)


def smoother_matrix(estimator, X_train, X=None, *, y_train=None, sample_weight=None) -> np.ndarray:
    """Dense smoother matrix ``S(X)`` of a fitted estimator.

    Row ``j`` holds the weights :math:`s(x_j)` that the model puts on the
    training labels, so that ``smoother_matrix(est, X_train, X) @ y_train``
    equals ``est.predict(X)``.

    Parameters
    ----------
    estimator : fitted estimator
        A registered family (see :func:`register_smoother`), used as it is.
    X_train : array-like of shape (n_train, n_features)
        The inputs the estimator was fitted on, in the same order.
    X : array-like of shape (m, n_features), optional
        Evaluation inputs; ``None`` means ``X_train``.
    y_train : array-like of shape (n_train,) or (n_train, k), optional
        The training labels: checked first, as in :func:`get_smoother`.
    sample_weight : array-like of shape (n_train,), optional
        The fit's sample weights, as in :func:`get_smoother`.

    Returns
    -------
    ndarray of shape (m, n_train)

    Raises
    ------
    TypeError
        If the estimator's type has no registered smoother.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If the inputs are not finite 2-D arrays of the fitted width, or
        ``X_train`` does not match the training set where that is detectable.

    See Also
    --------
    effcomplexity.smooth : S(X) @ Y without forming S.
    effcomplexity.effective_parameters : The measure computed from these weights.
    effcomplexity.register_smoother : Add a model family.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> knn = KNeighborsRegressor(n_neighbors=2).fit(X, [0.0, 1.0, 2.0, 3.0])
    >>> ec.smoother_matrix(knn, X, [[0.2]])
    array([[0.5, 0.5, 0. , 0. ]])
    """
    smoother = get_smoother(estimator, X_train, y_train=y_train, sample_weight=sample_weight)
    return smoother.matrix(X)


def smooth(estimator, X_train, Y, X=None, *, y_train=None, sample_weight=None) -> np.ndarray:
    """``S(X) @ Y`` for a label matrix ``Y``, without forming ``S`` where possible.

    Parameters
    ----------
    estimator : fitted estimator
    X_train : array-like of shape (n_train, n_features)
    Y : array-like of shape (n_train,) or (n_train, k)
        Labels (or random probes) on the training points.
    X : array-like of shape (m, n_features), optional
        Evaluation inputs; ``None`` means ``X_train``.
    y_train, sample_weight : array-like, optional
        The training labels (checked first) and the fit's sample weights, as
        in :func:`get_smoother`.

    Returns
    -------
    ndarray of shape (m,) or (m, k)
        Same dimensionality as ``Y``. With ``Y = y_train`` this is the
        model's prediction.

    See Also
    --------
    effcomplexity.smoother_matrix : The dense weights.
    effcomplexity.staged_predictions : The same per boosting stage.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 1.0, 2.0, 6.0])
    >>> knn = KNeighborsRegressor(n_neighbors=2).fit(X, y)
    >>> ec.smooth(knn, X, y, [[0.2], [2.9]])   # the model's predictions
    array([0.5, 4. ])
    """
    smoother = get_smoother(estimator, X_train, y_train=y_train, sample_weight=sample_weight)
    return smoother.smooth(Y, X)


def staged_predictions(estimator, X_train, y_train, X=None, *, sample_weight=None) -> np.ndarray:
    r"""Predictions after every stage of a staged model, from its smoother.

    For a forest or bagging ensemble stage ``t`` averages the first ``t``
    members; for boosting it is the model after ``t`` rounds. Together with
    :func:`effcomplexity.staged_effective_parameters` on the same inputs, a
    sweep gets test error and :math:`\hat p` for every stage from one fitted
    model.

    Parameters
    ----------
    estimator : fitted estimator or Smoother
        A registered family with stages (``supports_staged``). Pass the
        object returned by :func:`effcomplexity.smoothers.get_smoother` to
        reuse its leaf memberships across calls.
    X_train : array-like of shape (n, n_features) or None
        The training inputs, in the order used to fit.
        With a Smoother, ``None`` or the inputs it was built on; other
        inputs raise :class:`~effcomplexity.TrainingMismatchError`.
    y_train : array-like of shape (n,) or (n, k)
        The training labels. For classifiers, pass one-hot labels with
        columns in ``classes_`` order to obtain ``predict_proba``. They are
        smoothed, not checked (any labels give their staged smooth): to
        check ``X_train`` of a family that warns
        (:class:`~effcomplexity.exceptions.UnverifiedTrainingDataWarning`), pass a
        Smoother bound with ``get_smoother(..., y_train=...)``.
    X : array-like of shape (m, n_features), optional
        Evaluation inputs; ``None`` means ``X_train``.
    sample_weight : array-like of shape (n,), optional
        The fit's sample weights, as in :func:`get_smoother`.

    Returns
    -------
    ndarray of shape (n_stages, m) or (n_stages, m, k)
        Same trailing dimensionality as ``y_train``.

    Raises
    ------
    TypeError
        If the estimator's family has no stages.

    Notes
    -----
    Stage ``t`` is :math:`S_t(X)\, y`; the last stage equals
    ``estimator.predict(X)`` (``predict_proba`` for classifiers).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    >>> forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    >>> staged = ec.staged_predictions(forest, X, y, X[:10])
    >>> staged.shape
    (5, 10)
    >>> bool(np.allclose(staged[-1], forest.predict(X[:10])))
    True
    """
    smoother = get_smoother(estimator, X_train, sample_weight=sample_weight)
    if not smoother.supports_staged:
        raise TypeError(
            f"{type(smoother.estimator).__name__} has no stages: staged predictions apply "
            f"to boosting and tree ensembles. Use its predict method."
        )
    Y, was_1d = check_labels(y_train, smoother.n_train, name="y_train")
    stages = np.stack(list(smoother.staged_smooth(Y, X)))
    return stages[..., 0] if was_1d else stages
