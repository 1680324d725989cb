"""Smoother of a scikit-learn pipeline: the final model's, on transformed inputs."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from .._validation import check_feature_names, check_inputs
from .registry import Smoother, build_smoother, register_smoother, register_unsupported

__all__ = ["LABEL_FREE_TRANSFORMERS", "PipelineSmoother"]

#: Transformers whose ``fit`` never reads ``y``, by qualified class name. A
#: pipeline step of any other type is refused: supervised steps such as
#: ``SelectKBest(f_regression)`` use the labels without declaring it, and the
#: fitted pipeline then reproduces its predictions exactly while not being a
#: linear smoother of ``y``. Add the qualified name of a transformer you know
#: to be unsupervised to accept it.
LABEL_FREE_TRANSFORMERS: set[str] = {
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.Normalizer",
    "sklearn.preprocessing._data.QuantileTransformer",
    "sklearn.preprocessing._data.PowerTransformer",
    "sklearn.preprocessing._data.Binarizer",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.preprocessing._polynomial.SplineTransformer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.decomposition._pca.PCA",
    "sklearn.decomposition._incremental_pca.IncrementalPCA",
    "sklearn.decomposition._truncated_svd.TruncatedSVD",
    "sklearn.decomposition._kernel_pca.KernelPCA",
    "sklearn.decomposition._fastica.FastICA",
    "sklearn.decomposition._nmf.NMF",
    "sklearn.decomposition._sparse_pca.SparsePCA",
    "sklearn.decomposition._factor_analysis.FactorAnalysis",
    "sklearn.kernel_approximation.RBFSampler",
    "sklearn.kernel_approximation.Nystroem",
    "sklearn.kernel_approximation.SkewedChi2Sampler",
    "sklearn.kernel_approximation.AdditiveChi2Sampler",
    "sklearn.kernel_approximation.PolynomialCountSketch",
    "sklearn.random_projection.GaussianRandomProjection",
    "sklearn.random_projection.SparseRandomProjection",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._knn.KNNImputer",
    "sklearn.feature_selection._variance_threshold.VarianceThreshold",
    "effcomplexity.models.rff.RandomFourierFeatures",
}

register_unsupported(
    "sklearn.compose._target.TransformedTargetRegressor",
    "it fits its regressor on transformed labels and maps predictions back, so they are "
    "not a linear function of y unless the transform is the identity. Measure its "
    "regressor_ on the transformed labels instead (transformer_.transform(y)).",
)


def _is_passthrough(step) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


def _needs_labels(step) -> bool:
    try:
        return bool(get_tags(step).target_tags.required)
    except (AttributeError, TypeError):
        return False


def _qualified(step) -> str:
    return f"{type(step).__module__}.{type(step).__qualname__}"


def _label_dependent_part(step) -> str | None:
    """Name of the first part of a step that is not known to ignore ``y``, else None.

    Pipelines, feature unions and column transformers are label-free when all
    their parts are.
    """
    if _is_passthrough(step) or (isinstance(step, str) and step == "drop"):
        return None
    if isinstance(step, Pipeline):
        parts = [part for _, part in step.steps]
    elif hasattr(step, "transformer_list"):
        parts = [part for _, part in step.transformer_list]
    elif hasattr(step, "transformers_"):
        parts = [part for _, part, _ in step.transformers_]
    else:
        return None if _qualified(step) in LABEL_FREE_TRANSFORMERS else type(step).__name__
    for part in parts:
        found = _label_dependent_part(part)
        if found is not None:
            return found
    return None


@register_smoother(Pipeline)
class PipelineSmoother(Smoother):
    r"""Smoother of a :class:`sklearn.pipeline.Pipeline` ending in a supported family.

    The earlier steps are treated as a fixed feature map :math:`\phi` fitted on
    the training inputs alone (scaling, polynomial or random features, PCA),
    so the pipeline's smoother is the final step's smoother on the transformed
    inputs. Any registered family can be the final step; everything is
    delegated through :func:`effcomplexity.smoothers.get_smoother`.

    A step whose fit uses the labels (a target encoder, supervised feature
    selection) makes the weights depend on ``y`` and the pipeline is then not
    a linear smoother, although it reproduces the fitted predictions exactly.
    Only transformers listed in ``LABEL_FREE_TRANSFORMERS`` (scalers,
    polynomial and spline features, encoders, imputers, PCA and other
    decompositions, random features and projections, variance thresholds;
    nested pipelines, feature unions and column transformers of these) may
    precede the final step; any other raises ``TypeError``.

    ``sample_weight`` is handed to the final step's smoother, the transformers
    being fixed maps whatever weights they were fitted with.

    ``X_train`` and ``X`` are the pipeline's raw inputs. Arrays are validated
    like any other input; pandas DataFrames are handed to the first step as
    they are (after a width check), so column names reach column transformers.
    Sparse outputs of intermediate steps are densified.

    Notes
    -----
    .. math::

        s_{pipe}(x) = s_{final}\big(\phi(x);\ \phi(X_{train})\big).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> import effcomplexity as ec
    >>> from effcomplexity.models import MinNormLeastSquares, RandomFourierFeatures
    >>> X = np.random.default_rng(0).uniform(size=(15, 4))
    >>> model = make_pipeline(
    ...     RandomFourierFeatures(n_features=40, bandwidth=0.5, random_state=0),
    ...     MinNormLeastSquares(),
    ... ).fit(X, np.arange(15.0))
    >>> round(ec.effective_parameters(model, X), 8)   # 40 features interpolate 15 points
    15.0
    """

    supports_sample_weight = True

    def _check_X(self, X, *, name: str = "X"):
        if hasattr(X, "columns") and hasattr(X, "iloc"):
            check_feature_names(X, self.estimator, name=name)
            expected = getattr(self.estimator, "n_features_in_", None)
            if X.ndim != 2 or (expected is not None and X.shape[1] != expected):
                raise ValueError(
                    f"{name} has {X.shape[1]} columns, but the pipeline was fitted with "
                    f"{expected}. Pass the inputs the pipeline was trained on (X_train) or "
                    f"evaluated on (X), with the same columns."
                )
            if X.shape[0] == 0:
                raise ValueError(f"{name} has no rows.")
            return X
        return check_inputs(self._densify(X, name), name=name, estimator=self.estimator)

    def _validate(self) -> None:
        steps = self.estimator.steps
        final_name, final = steps[-1]
        if _is_passthrough(final):
            raise TypeError(
                "The pipeline's final step is 'passthrough': it has no model whose "
                "smoother could be computed. End the pipeline with a supported regressor."
            )
        for name, step in steps[:-1]:
            if not _is_passthrough(step) and _needs_labels(step):
                raise TypeError(
                    f"Pipeline step {name!r} ({type(step).__name__}) is fitted on the labels, "
                    f"so the pipeline's prediction is not a fixed linear function of y. "
                    f"Only unsupervised transformers may precede the final step."
                )
            unknown = _label_dependent_part(step)
            if unknown is not None:
                raise TypeError(
                    f"Pipeline step {name!r} contains {unknown}, which is not known to be "
                    f"fitted without the labels (supervised steps such as SelectKBest make "
                    f"the pipeline's prediction depend on y beyond a linear smoother). "
                    f"Only unsupervised transformers listed in "
                    f"effcomplexity.smoothers.pipeline.LABEL_FREE_TRANSFORMERS may precede "
                    f"the final step; if {unknown}'s fit ignores y, add its qualified name "
                    f"there."
                )
        try:
            self.final = build_smoother(
                final, self._transform(self.X_train), sample_weight=self.sample_weight
            )
        except TypeError as err:
            raise TypeError(
                f"The pipeline's final step {final_name!r} is not supported: {err}"
            ) from err

    def _transform(self, X) -> np.ndarray:
        for _, step in self.estimator.steps[:-1]:
            if not _is_passthrough(step):
                X = step.transform(X)
        if hasattr(X, "toarray"):
            X = X.toarray()
        return X

    def _final_X(self, X):
        # X is validated against the pipeline; the final step checks its own inputs.
        return None if X is None else self._transform(X)

    def _matrix(self, X):
        return self.final.matrix(self._final_X(X))

    def _smooth(self, Y, X):
        return self.final.smooth(Y, self._final_X(X))

    def _row_norms_sq(self, X):
        return self.final.row_norms_sq(self._final_X(X))

    def _trace(self) -> float:
        return self.final.trace()

    @property
    def exact_norms_are_cheap(self) -> bool:
        return self.final.exact_norms_are_cheap

    @property
    def verifies_X_train(self) -> bool:
        return self.final.verifies_X_train

    @property
    def unverified_reason(self) -> str:
        return f"its final step's {self.final.unverified_reason}"

    def _mismatch_cause(self) -> str | None:
        cause = getattr(self.final, "_mismatch_cause", None)
        return cause() if cause is not None else None

    @property
    def supports_staged(self) -> bool:
        return self.final.supports_staged

    def n_stages(self) -> int:
        return self.final.n_stages()

    def _staged_row_norms_sq(self, X):
        return self.final.staged_row_norms_sq(self._final_X(X))

    def _staged_smooth(self, Y, X) -> Iterator[np.ndarray]:
        return self.final.staged_smooth(Y, self._final_X(X))

    def _staged_trace(self) -> np.ndarray:
        return self.final.staged_trace()
