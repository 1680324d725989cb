"""Norm-based complexity measures of feed-forward networks (Jiang et al. suite)."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._deprecation import positional_to_keyword, weight_measures_init
from ._layers import (
    AttentionWatch,
    WeightLayer,
    check_same_architecture,
    folded_copy,
    layer_input_shapes,
    non_chain_part,
    weight_layers,
)
from .conv_norms import kernel_operator_norm, spatial_shape
from .margins import margin as _margin

__all__ = [
    "MEASURE_NAMES",
    "normalize_by_dataset_size",
    "path_norm",
    "spectral_complexity",
    "weight_measures",
]

logger = logging.getLogger(__name__)

#: Every name :func:`weight_measures` can return, in the order it returns them.
MEASURE_NAMES = (
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
_NEEDS_INIT = frozenset({"fro_dist", "spec_dist", "log_spec_init_main"})
_NEEDS_MARGIN = frozenset(
    {
        "margin",
        "inverse_margin",
        "log_prod_spec_over_margin",
        "log_sum_spec_over_margin",
        "log_prod_fro_over_margin",
        "log_sum_fro_over_margin",
        "log_spec_init_main",
        "log_spec_orig_main",
        "path_norm_over_margin",
        "spectral_complexity_over_margin",
    }
)
# Defined from the weight tensors alone, so they apply to any module's weights.
_GENERIC = frozenset(
    {
        "params",
        "param_norm",
        "fro_dist",
        "log_prod_fro",
        "log_sum_fro",
        "margin",
        "inverse_margin",
        "log_prod_fro_over_margin",
        "log_sum_fro_over_margin",
    }
)
_NEEDS_SPECTRAL = frozenset(
    {
        "spec_dist",
        "fro_over_spec",
        "log_prod_spec",
        "log_sum_spec",
        "log_prod_spec_over_margin",
        "log_sum_spec_over_margin",
        "log_spec_init_main",
        "log_spec_orig_main",
        "spectral_complexity",
        "spectral_complexity_over_margin",
    }
)
_CONV_NORMS = ("operator", "reshaped")
_PATH_NORMS = frozenset({"path_norm", "path_norm_over_margin"})


def _path_norm_refusal(part: str) -> TypeError:
    return TypeError(
        f"path_norm does not apply to this model: {part} makes it something other than a "
        "feed-forward chain of Linear/Conv layers with positively homogeneous activations "
        "(attention multiplies activations and normalises them by a softmax; an embedding "
        "reads token ids, not an all-ones input), so no sum over input-output paths exists. "
        "Use the norm measures of weight_measures (param_norm, log_prod_spec, log_sum_fro, "
        "spectral_complexity, ...), computed on the model's matrices by the convention of "
        "weight_measures, or the measures that only run the network: sharpness, "
        "pac_bayes_measures, the Hessian measures and local_learning_coefficient."
    )


# --------------------------------------------------------------------------- #
# Per-layer norms
# --------------------------------------------------------------------------- #


def _matrix_spectral_norm(matrix: torch.Tensor) -> float:
    return float(torch.linalg.svdvals(matrix)[0]) if matrix.numel() else 0.0


def _spectral_norms(
    layers: list[WeightLayer],
    weights: list[torch.Tensor],
    conv_norm: str,
    shapes: dict[str, tuple[int, ...]] | None,
) -> np.ndarray:
    values = []
    for layer, weight in zip(layers, weights, strict=True):
        if layer.kind.startswith("conv") and conv_norm == "operator":
            if layer.name not in shapes:
                raise ValueError(
                    f"convolution {layer.name!r} was not called in a forward pass, so its "
                    "input size is unknown; use conv_norm='reshaped'."
                )
            spatial = spatial_shape(layer.module, shapes[layer.name])
            values.append(kernel_operator_norm(layer.module, weight, spatial, "auto"))
        else:
            values.append(_matrix_spectral_norm(weight.reshape(weight.shape[0], -1)))
    return np.asarray(values, dtype=float)


def _resolve_input_shape(input_shape, X) -> tuple[int, ...] | None:
    if input_shape is not None:
        return tuple(int(s) for s in input_shape)
    if X is not None:
        return tuple(int(s) for s in np.shape(X)[1:])
    return None


def _conv_shapes(
    model: nn.Module, layers: list[WeightLayer], conv_norm: str, input_shape
) -> dict[str, tuple[int, ...]] | None:
    if conv_norm not in _CONV_NORMS:
        raise ValueError(f"conv_norm must be one of {_CONV_NORMS}, got {conv_norm!r}.")
    if conv_norm == "reshaped" or not any(la.kind.startswith("conv") for la in layers):
        return None
    if input_shape is None:
        raise ValueError(
            "the operator norm of a convolution depends on its input size: pass input_shape "
            "(one sample, without the batch dimension) or X, or use conv_norm='reshaped'."
        )
    return layer_input_shapes(model, layers, input_shape)


def _checked_layers(model: nn.Module, init_model: nn.Module | None, strict: bool = True):
    layers = weight_layers(model, strict=strict)
    if not layers:
        raise ValueError("the model has no weight layers.")
    init_layers = None
    if init_model is not None:
        init_layers = weight_layers(init_model, strict=strict)
        check_same_architecture(layers, init_layers)
    return layers, init_layers


def _spectral_complexity_value(
    layers: list[WeightLayer],
    spec: np.ndarray,
    init_layers: list[WeightLayer] | None,
) -> float:
    ratios = []
    for i, layer in enumerate(layers):
        diff = layer.matrix if init_layers is None else layer.matrix - init_layers[i].matrix
        two_one = float(torch.linalg.vector_norm(diff, dim=1).sum())
        ratios.append((two_one / spec[i]) ** (2.0 / 3.0))
    return float(np.prod(spec) * sum(ratios) ** 1.5)


@positional_to_keyword("spectral_complexity", ("model",), ("init_model",))
def spectral_complexity(
    model: nn.Module,
    *,
    init_model: nn.Module | None = None,
    input_shape: Sequence[int] | None = None,
    conv_norm: str = "operator",
) -> float:
    r"""Spectral complexity of Bartlett, Foster and Telgarsky (2017).

    Parameters
    ----------
    model : torch.nn.Module
        Feed-forward network (see :func:`weight_measures`).
    init_model : torch.nn.Module, optional
        Same architecture; its weights are the reference matrices
        :math:`M_i`. Without it :math:`M_i = 0`.
    input_shape : sequence of int, optional
        Shape of one input sample; needed for the operator norm of
        convolutions.
    conv_norm : {"operator", "reshaped"}
        Spectral norm of a convolution: the exact operator norm for
        ``input_shape`` (:func:`conv_operator_norm`) or that of the kernel
        reshaped to ``(out, -1)``.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If the model is not a feed-forward chain (the message names the layer).
    ValueError
        On mismatched architectures, or convolutions without ``input_shape``.

    Notes
    -----
    With :math:`A_i` the (batch-norm folded) weight matrices, activations
    assumed 1-Lipschitz,

    .. math::

        R_A = \Bigl(\prod_{i=1}^{d} \lVert A_i \rVert_2\Bigr)
        \Bigl(\sum_{i=1}^{d} \frac{\lVert A_i^\top - M_i^\top
        \rVert_{2,1}^{2/3}}{\lVert A_i \rVert_2^{2/3}}\Bigr)^{3/2},

    where :math:`\lVert B \rVert_{2,1}` sums the Euclidean norms of the
    columns of :math:`B`, so :math:`\lVert A^\top \rVert_{2,1}` sums the
    norms of the rows of ``weight`` (one per output unit or filter; kernels
    reshaped to ``(out, -1)``).

    References
    ----------
    P. L. Bartlett, D. J. Foster, M. Telgarsky. "Spectrally-normalized margin
    bounds for neural networks". NeurIPS 2017.

    Examples
    --------
    One layer with :math:`M = 0`: the spectral norm of its weight.

    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[3.0, -4.0]]))
    >>> round(ecnn.spectral_complexity(net), 6)
    5.0
    """
    layers, init_layers = _checked_layers(model, init_model)
    shapes = _conv_shapes(model, layers, conv_norm, _resolve_input_shape(input_shape, None))
    spec = _spectral_norms(layers, [la.weight for la in layers], conv_norm, shapes)
    return _spectral_complexity_value(layers, spec, init_layers)


def _path_input_shape(layers: list[WeightLayer], input_shape) -> tuple[int, ...]:
    if input_shape is not None:
        return tuple(int(s) for s in input_shape)
    first = layers[0]
    if first.kind == "linear":
        return (first.module.in_features,)
    raise ValueError(
        "path_norm of a network that starts with a convolution needs input_shape "
        "(one sample, without the batch dimension)."
    )


@positional_to_keyword("path_norm", ("model",), ("p",))
def path_norm(model: nn.Module, *, p: float = 2, input_shape: Sequence[int] | None = None) -> float:
    r"""Path norm of a feed-forward ReLU network, as Jiang et al. compute it.

    Parameters
    ----------
    model : torch.nn.Module
        Feed-forward network (see :func:`weight_measures`); batch norm is
        folded into the preceding layer first.
    p : float
        Exponent (default 2).
    input_shape : sequence of int, optional
        Shape of one input sample. Inferred from ``in_features`` when the
        first weight layer is ``Linear``; required for convolutional inputs.

    Returns
    -------
    float
        The ``p``-th power of the :math:`\ell_p` path norm.

    Raises
    ------
    TypeError
        If the model is not a feed-forward chain: recurrent layers, and
        attention, embeddings, layer norms, raw parameters or a softmax in the
        forward pass (transformers), for which no path norm exists; the
        message names the part and the measures that apply instead.
    ValueError
        If ``p <= 0`` or ``input_shape`` is needed and missing.

    Notes
    -----
    Every parameter, biases included, is replaced by :math:`|w|^p` and the
    network runs on one all-ones input; the outputs are summed:

    .. math::

        \mu_{\text{path}} = \sum_{k} f_{|w|^p}(\mathbf{1})_k
        = \sum_{\text{paths } \pi} \prod_{e \in \pi} |w_e|^p .

    With non-negative weights every ReLU is active, so the output is the sum
    over every input-to-output path of the product of its weights; a bias is
    a path starting from a constant unit input. The model itself is not
    modified (a float64 copy is used).

    References
    ----------
    B. Neyshabur, R. Tomioka, N. Srebro. "Norm-Based Capacity Control in
    Neural Networks". COLT 2015.

    B. Neyshabur, S. Bhojanapalli, D. McAllester, N. Srebro. "Exploring
    Generalization in Deep Learning". NeurIPS 2017.

    Y. Jiang et al. "Fantastic Generalization Measures and Where to Find
    Them". ICLR 2020.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[3.0, -4.0]]))
    >>> ecnn.path_norm(net)
    25.0
    """
    if not p > 0:
        raise ValueError(f"p must be positive, got {p!r}.")
    layers = weight_layers(model)
    if not layers:
        raise ValueError("the model has no weight layers.")
    part = non_chain_part(model)
    if part is not None:
        raise _path_norm_refusal(part)
    shape = _path_input_shape(layers, input_shape)
    clone = folded_copy(model, layers)
    watch = AttentionWatch()
    with torch.no_grad(), watch:
        for param in clone.parameters():
            param.copy_(param.abs().pow(p))
        out = clone(torch.ones((1, *shape), dtype=torch.float64))
    if watch.seen is not None:
        raise _path_norm_refusal(f"a call of {watch.seen} in its forward pass")
    return float(out.sum())


# --------------------------------------------------------------------------- #
# The suite
# --------------------------------------------------------------------------- #


def normalize_by_dataset_size(values: pd.Series, m: int) -> pd.Series:
    r"""Jiang et al.'s dataset-size normalisation of complexity measures.

    A measure :math:`\mu` enters a bound as :math:`\sqrt{\mu / m}`, so it is
    reported as :math:`\sqrt{\mu / m}`, and a log measure as
    :math:`\tfrac12(\mu - \log m)`. ``margin`` and ``sigma``-type entries
    (not complexity measures) are left as they are; a negative non-log
    measure becomes NaN.
    """
    if m < 1:
        raise ValueError(f"the dataset size must be positive, got {m!r}.")
    out = values.astype(float).copy()
    for name, value in out.items():
        if name == "margin" or str(name).startswith("sigma") or str(name).endswith("_sigma"):
            continue
        if str(name).startswith("log_"):
            out[name] = 0.5 * (value - math.log(m))
        else:
            out[name] = math.sqrt(value / m) if value >= 0 else math.nan
    return out


def _requested(measures, have_init: bool, have_margin: bool, chain_break: str | None) -> list[str]:
    if measures is None:
        names = list(MEASURE_NAMES)
        if chain_break is not None:
            logger.info("weight_measures: path_norm does not apply (%s); omitted.", chain_break)
            names = [n for n in names if n not in _PATH_NORMS]
        skipped_init = [n for n in names if n in _NEEDS_INIT and not have_init]
        skipped_margin = [n for n in names if n in _NEEDS_MARGIN and not have_margin]
        if skipped_init:
            logger.info("weight_measures: %s need init_model; omitted.", ", ".join(skipped_init))
        if skipped_margin:
            logger.info("weight_measures: %s need X and y; omitted.", ", ".join(skipped_margin))
        return [n for n in names if n not in skipped_init and n not in skipped_margin]
    names = [measures] if isinstance(measures, str) else list(measures)
    unknown = [n for n in names if n not in MEASURE_NAMES]
    if unknown:
        raise ValueError(f"unknown measures {unknown}; available: {list(MEASURE_NAMES)}.")
    missing_init = [n for n in names if n in _NEEDS_INIT and not have_init]
    if missing_init:
        raise ValueError(
            f"{missing_init} measure distance to the initial weights: pass init_model (a copy "
            "of the network saved before training)."
        )
    missing_margin = [n for n in names if n in _NEEDS_MARGIN and not have_margin]
    if missing_margin:
        raise ValueError(f"{missing_margin} need the training data: pass X and y.")
    if chain_break is not None and _PATH_NORMS & set(names):
        raise _path_norm_refusal(chain_break)
    return [n for n in MEASURE_NAMES if n in names]


@weight_measures_init()
def weight_measures(
    model: nn.Module,
    X=None,
    y=None,
    *,
    init_model: nn.Module | None = None,
    input_shape: Sequence[int] | None = None,
    margin_quantile: float = 0.1,
    conv_norm: str = "operator",
    measures: Sequence[str] | None = None,
    normalize: bool = False,
    dataset_size: int | None = None,
    batch_size: int | None = None,
) -> pd.Series:
    r"""Norm- and margin-based complexity measures of a trained network.

    Parameters
    ----------
    model : torch.nn.Module
        A feed-forward network: ``nn.Sequential`` (possibly nested) or a
        module whose submodules are registered in forward order, built from
        ``Linear``, ``Conv1d``, ``Conv2d``, parameter-free activations,
        pooling, ``Flatten`` and ``Dropout``, with each ``BatchNorm1d`` /
        ``BatchNorm2d`` directly after a weight layer folded into it using its
        running statistics; or a transformer, built from ``torch.nn`` layers
        (``Embedding``, ``MultiheadAttention``, ``TransformerEncoderLayer``,
        ``LayerNorm``, ``Linear``) or hand-written, measured on its matrices
        by the convention in the Notes.
    X : tensor or array-like of shape (n, ...), optional
        Training inputs; with ``y``, enable the margin measures.
    y : array-like of shape (n,), optional
        Integer class labels of ``X``.
    init_model : torch.nn.Module, optional
        The same network at initialisation; enables the distance measures and
        makes the initial weights the reference matrices of
        ``spectral_complexity``.
    input_shape : sequence of int, optional
        Shape of one input sample (default ``X.shape[1:]``); needed for the
        operator norms of convolutions and for the path norm of a network that
        starts with a convolution.
    margin_quantile : float
        Quantile of the per-point margins used as :math:`\gamma` (default
        0.1).
    conv_norm : {"operator", "reshaped"}
        Spectral norm of a convolution: the exact operator norm for the
        layer's input size (:func:`conv_operator_norm`: Lanczos on the
        operator, or the FFT for circular padding) or the spectral norm of the kernel
        reshaped to ``(out, -1)`` (Jiang et al.'s choice).
    measures : sequence of str, optional
        Names to compute (see ``MEASURE_NAMES``). By default every measure the
        arguments allow: the distance measures need ``init_model`` and the
        margin measures ``X`` and ``y``; those are omitted (logged at INFO
        level) when their inputs are missing, and raise when named here.
        If every name is one of ``params``, ``param_norm``, ``fro_dist``,
        ``log_prod_fro``, ``log_sum_fro``, their ``_over_margin`` forms,
        ``margin`` and ``inverse_margin``, the model need not be a
        feed-forward chain: every weight tensor with two or more dimensions
        of an unsupported module is used as a matrix.
    normalize : bool
        Apply Jiang et al.'s dataset-size normalisation: a measure
        :math:`\mu` is reported as :math:`\sqrt{\mu / m}`, a log measure as
        :math:`\frac12(\mu - \log m)`, the margin as it is.
    dataset_size : int, optional
        :math:`m` for the normalisation (default ``len(X)``).
    batch_size : int, optional
        Rows per forward pass when computing the margin.

    Returns
    -------
    pandas.Series
        Indexed by measure name, in the order of ``MEASURE_NAMES``.

    Raises
    ------
    TypeError
        If the model contains a recurrent layer and a measure needs its
        matrices, or ``path_norm`` is named for a model that is not a
        feed-forward chain (a transformer); the message names the layer and
        the measures that still apply.
    ValueError
        For unknown measure names, a requested measure whose inputs are
        missing, architectures of ``model`` and ``init_model`` that differ,
        convolutions without an input shape, or ``normalize`` without a
        dataset size.

    See Also
    --------
    effcomplexity.nn.path_norm : One of the measures, on its own.
    effcomplexity.nn.margin : The margin the normalised measures divide by.
    effcomplexity.nn.measure : Every network measure as one row.

    Notes
    -----
    With :math:`W_i` the :math:`d` weight matrices (biases excluded, batch
    norm folded, kernels reshaped to ``(out, -1)``), :math:`W_i^0` their
    initial values, :math:`\lVert\cdot\rVert_2` the spectral norm (the
    convolution operator norm for ``conv_norm="operator"``) and
    :math:`\gamma` the margin (:func:`margin`):

    .. math::

        \begin{aligned}
        \text{params} &= \textstyle\sum_i \#W_i, \quad
        \text{param\_norm} = \sum_i \lVert W_i \rVert_F^2, \quad
        \text{fro\_dist} = \sum_i \lVert W_i - W_i^0 \rVert_F^2, \\
        \text{spec\_dist} &= \textstyle\sum_i \lVert W_i - W_i^0 \rVert_2^2, \quad
        \text{fro\_over\_spec} = \sum_i \lVert W_i \rVert_F^2 / \lVert W_i \rVert_2^2, \\
        \text{log\_prod\_spec} &= \textstyle\sum_i \log \lVert W_i \rVert_2^2, \quad
        \text{log\_sum\_spec} = \log d + \frac1d \sum_i \log \lVert W_i \rVert_2^2,
        \end{aligned}

    ``log_prod_fro`` and ``log_sum_fro`` are the Frobenius twins. The
    ``_over_margin`` forms of the log measures subtract :math:`2 \log\gamma`
    from the sum (before the :math:`1/d` of the ``log_sum`` forms);
    ``inverse_margin`` is :math:`1/\gamma^2`;
    ``log_spec_init_main`` and ``log_spec_orig_main`` add
    :math:`\log \sum_i \lVert W_i - W_i^0 \rVert_F^2/\lVert W_i \rVert_2^2`
    and :math:`\log \text{fro\_over\_spec}` to
    ``log_prod_spec_over_margin``. ``path_norm`` is :func:`path_norm` with
    :math:`p = 2` and ``path_norm_over_margin`` divides it by
    :math:`\gamma^2`. ``spectral_complexity`` is :func:`spectral_complexity`
    and ``spectral_complexity_over_margin`` divides it by :math:`\gamma`.
    A non-positive margin makes the measures that divide by it NaN, with a
    ``RuntimeWarning``.

    Transformers. The :math:`W_i` are every weight matrix of the model
    (:func:`~effcomplexity.measures._nn._layers.weight_layers`), so :math:`d`
    counts them all:

    * attention is counted per head: a ``MultiheadAttention`` with :math:`H`
      heads of width :math:`d_h` gives :math:`4H` matrices, the query, key
      and value matrices :math:`W_Q^h, W_K^h, W_V^h` (:math:`d_h` rows each
      of the fused ``in_proj_weight``, split into its query, key and value
      thirds, or of ``q/k/v_proj_weight``) and the output matrix
      :math:`W_O^h` (the matching :math:`d_h` columns of
      ``out_proj.weight``);
    * a token or learned positional ``Embedding`` is one matrix, its table
      transposed (the map of a one-hot token); an unembedding is a
      ``Linear`` layer or a raw parameter;
    * a hand-written module's own parameters: a 2-D one is a matrix as
      stored, one of three or more dimensions is a matrix per slice of its
      leading (head) dimension; the Frobenius and spectral norms do not
      depend on the orientation, the :math:`(2,1)` norm of
      ``spectral_complexity`` does;
    * biases and the gains of layer norms are left out, like biases.

    The products and sums over :math:`i` then read the transformer's
    matrices as if they were a chain; ``spectral_complexity`` is the same
    formula, without the guarantee of Bartlett et al.'s bound, which needs
    a chain of Lipschitz maps. ``path_norm`` and ``path_norm_over_margin``
    do not apply (there is no sum over paths through a softmax and a
    product of activations): by default they are omitted for a transformer,
    and naming them raises ``TypeError``. The margin measures run the model
    on integer token inputs as they are.

    References
    ----------
    Y. Jiang, B. Neyshabur, H. Mobahi, D. Krishnan, S. Bengio. "Fantastic
    Generalization Measures and Where to Find Them". ICLR 2020.

    P. L. Bartlett, D. J. Foster, M. Telgarsky. "Spectrally-normalized margin
    bounds for neural networks". NeurIPS 2017.

    B. Neyshabur, R. Tomioka, N. Srebro. "Norm-Based Capacity Control in
    Neural Networks". COLT 2015.

    B. Neyshabur, S. Bhojanapalli, D. McAllester, N. Srebro. "Exploring
    Generalization in Deep Learning". NeurIPS 2017.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.diag(torch.tensor([3.0, 4.0])))
    >>> ecnn.weight_measures(net, measures=["params", "param_norm", "fro_over_spec"]).tolist()
    [4.0, 25.0, 1.5625]
    """
    if (X is None) != (y is None):
        raise ValueError("pass both X and y, or neither.")
    names = _requested(measures, init_model is not None, X is not None, non_chain_part(model))
    strict = not set(names) <= _GENERIC
    layers, init_layers = _checked_layers(model, init_model, strict=strict)
    d = len(layers)

    gamma = math.nan
    if X is not None and any(n in _NEEDS_MARGIN for n in names):
        gamma = _margin(model, X, y, quantile=margin_quantile, batch_size=batch_size)
        if gamma <= 0 and any(n in _NEEDS_MARGIN and n != "margin" for n in names):
            warnings.warn(
                f"the margin at quantile {margin_quantile} is {gamma:.3g} <= 0 (more than that "
                "fraction of training points is misclassified); measures over the margin are NaN.",
                RuntimeWarning,
                stacklevel=3,  # the caller, past the wrapper that accepts the old spelling
            )
    log_gamma2 = 2 * math.log(gamma) if gamma > 0 else math.nan

    fro2 = np.array([float(la.weight.square().sum()) for la in layers])
    values: dict[str, float] = {
        "params": float(sum(la.weight.numel() for la in layers)),
        "param_norm": float(fro2.sum()),
        "log_prod_fro": float(np.log(fro2).sum()),
        "margin": gamma,
        "inverse_margin": 1.0 / gamma**2 if gamma > 0 else math.nan,
    }
    values["log_sum_fro"] = math.log(d) + values["log_prod_fro"] / d
    values["log_prod_fro_over_margin"] = values["log_prod_fro"] - log_gamma2
    values["log_sum_fro_over_margin"] = math.log(d) + values["log_prod_fro_over_margin"] / d
    diffs = None
    if init_layers is not None:
        diffs = [la.weight - lb.weight for la, lb in zip(layers, init_layers, strict=True)]
        values["fro_dist"] = float(sum(float(w.square().sum()) for w in diffs))

    if any(n in _NEEDS_SPECTRAL for n in names):
        shape = _resolve_input_shape(input_shape, X)
        shapes = _conv_shapes(model, layers, conv_norm, shape)
        spec = _spectral_norms(layers, [la.weight for la in layers], conv_norm, shapes)
        spec2 = spec**2
        values["fro_over_spec"] = float((fro2 / spec2).sum())
        values["log_prod_spec"] = float(np.log(spec2).sum())
        values["log_sum_spec"] = math.log(d) + values["log_prod_spec"] / d
        values["log_prod_spec_over_margin"] = values["log_prod_spec"] - log_gamma2
        values["log_sum_spec_over_margin"] = math.log(d) + values["log_prod_spec_over_margin"] / d
        values["log_spec_orig_main"] = values["log_prod_spec_over_margin"] + math.log(
            values["fro_over_spec"]
        )
        if diffs is not None:
            dist_spec = _spectral_norms(layers, diffs, conv_norm, shapes)
            values["spec_dist"] = float((dist_spec**2).sum())
            dist_fro2 = np.array([float(w.square().sum()) for w in diffs])
            # At initialisation the distance is zero and the log measure is -inf.
            ratio = float((dist_fro2 / spec2).sum())
            values["log_spec_init_main"] = values["log_prod_spec_over_margin"] + (
                math.log(ratio) if ratio > 0 else -math.inf
            )
        if "spectral_complexity" in names or "spectral_complexity_over_margin" in names:
            values["spectral_complexity"] = _spectral_complexity_value(layers, spec, init_layers)
            values["spectral_complexity_over_margin"] = (
                values["spectral_complexity"] / gamma if gamma > 0 else math.nan
            )
    if "path_norm" in names or "path_norm_over_margin" in names:
        shape = _resolve_input_shape(input_shape, X)
        values["path_norm"] = path_norm(model, p=2, input_shape=shape)
        values["path_norm_over_margin"] = values["path_norm"] / gamma**2 if gamma > 0 else math.nan

    result = pd.Series({n: float(values[n]) for n in names}, dtype=float, name="value")
    if normalize:
        m = dataset_size if dataset_size is not None else (None if X is None else len(X))
        if m is None:
            raise ValueError("normalize=True needs dataset_size or X.")
        result = normalize_by_dataset_size(result, int(m))
    return result
