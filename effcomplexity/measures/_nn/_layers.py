"""Walk a torch model into the list of its weight matrices.

The norm, path-norm, spectral-complexity and spectral-diagnostic measures are
defined for a chain of affine maps separated by parameter-free
non-linearities. This module finds that chain: every ``Linear``, ``Conv1d`` and
``Conv2d`` in forward (registration) order, with each ``BatchNorm1d`` /
``BatchNorm2d`` that directly follows one folded into it using its running
statistics, which is the function the network computes in eval mode.

A transformer is not a chain; its matrices are listed by the convention of
:func:`weight_layers` (attention per head, embeddings as maps of one-hot
tokens, raw parameters as stored), and :func:`non_chain_part` names what makes
a model something other than a chain, for the measures that need one.

It also holds the small helpers every measure that runs the network shares:
switching to eval mode without side effects and converting inputs.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..._validation import check_int

__all__ = [
    "AttentionWatch",
    "Batches",
    "CHAIN_MEASURES_HINT",
    "WeightLayer",
    "as_input_tensor",
    "as_label_tensor",
    "check_loss_fn",
    "check_same_architecture",
    "eval_mode",
    "folded_copy",
    "forward",
    "layer_input_shapes",
    "math_attention",
    "non_chain_part",
    "reads_tokens",
    "weight_layers",
]

_WEIGHT_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)
_BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)
# Identity maps in eval mode; a batch norm may be folded across them.
_TRANSPARENT_TYPES = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout)
# Modules with weights whose matrices have no stated convention (recurrent cells).
_UNSUPPORTED_CONTAINERS = (nn.RNNBase, nn.RNNCellBase)
_EMBEDDING_TYPES = (nn.Embedding, nn.EmbeddingBag)
# Elementwise gains and shifts: excluded like biases.
_NORM_TYPES = tuple(
    t for t in (nn.LayerNorm, nn.GroupNorm, getattr(nn, "RMSNorm", None)) if t is not None
)
# Functions whose call inside a forward pass means attention, not a chain.
_ATTENTION_FUNCTIONS = frozenset(
    {"softmax", "scaled_dot_product_attention", "multi_head_attention_forward"}
)

#: The part of every "unsupported layer" message that says what still works.
CHAIN_MEASURES_HINT = (
    "weight_measures (spectral, path-norm and spectral-complexity measures), "
    "path_norm, spectral_complexity and spectral_diagnostics need the model's weight "
    "matrices: Linear/Conv1d/Conv2d layers (BatchNorm folded into the preceding "
    "layer), attention, embeddings, layer norms and raw parameters, by the "
    "convention of weight_layers. Measures that still "
    "apply to this model: margin, sharpness and pac_bayes_measures (they only run "
    "the network), and the parameter count, Frobenius norms and distance to "
    "initialisation of every weight tensor, through weight_measures(model, ..., "
    "measures=['params', 'param_norm', 'fro_dist', 'log_prod_fro', 'log_sum_fro', "
    "'margin', ...])."
)


@dataclass(frozen=True)
class WeightLayer:
    """One weight matrix of the network, batch norm already folded in.

    Attributes
    ----------
    name : str
        Qualified name of the module (``"0"``, ``"features.3"``), or of the
        parameter for ``kind="other"``.
    kind : {"linear", "conv1d", "conv2d", "attention", "embedding", "parameter", "other"}
        ``"attention"``: one head's query, key, value or output matrix of a
        ``MultiheadAttention``; ``"embedding"``: an embedding table as the map
        of a one-hot token; ``"parameter"``: a raw parameter (or one slice of
        it) of a hand-written module; ``"other"``: a weight tensor of an
        unsupported module, collected only when the walk is not strict.
    weight : torch.Tensor
        Detached float64 copy of the (folded) weight, in the module's shape.
    bias : torch.Tensor or None
        Detached float64 copy of the (folded) bias.
    module : torch.nn.Module or None
        The ``Linear``/``Conv`` module itself (geometry of a convolution);
        None for the other kinds.
    batchnorm : str or None
        Qualified name of the batch norm folded into this layer.
    """

    name: str
    kind: str
    weight: torch.Tensor
    bias: torch.Tensor | None
    module: nn.Module | None
    batchnorm: str | None

    @property
    def matrix(self) -> torch.Tensor:
        """The weight as a matrix of shape ``(out, -1)`` (kernels reshaped)."""
        return self.weight.reshape(self.weight.shape[0], -1)


def _unsupported(name: str, module: nn.Module, reason: str) -> TypeError:
    label = f"'{name}'" if name else "the model itself"
    return TypeError(f"{type(module).__name__} at {label} {reason}. {CHAIN_MEASURES_HINT}")


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return "linear"
    return "conv1d" if isinstance(module, nn.Conv1d) else "conv2d"


def _walk(module: nn.Module, prefix: str, strict: bool) -> Iterator[tuple[str, nn.Module, str]]:
    """Yield ``(name, module, role)`` in registration order.

    ``role`` is ``"weight"``, ``"batchnorm"``, ``"transparent"``, ``"free"``
    (parameter-free), ``"attention"``, ``"embedding"``, ``"norm"``,
    ``"parameters"`` (the raw parameters a module holds itself; its children
    follow) or ``"other"`` (weights of an unsupported module).
    """
    if isinstance(module, _UNSUPPORTED_CONTAINERS):
        if strict:
            raise _unsupported(prefix, module, "is not a feed-forward layer")
        yield prefix, module, "other"
        return
    for types, role in (
        (_WEIGHT_TYPES, "weight"),
        (_BATCHNORM_TYPES, "batchnorm"),
        ((nn.MultiheadAttention,), "attention"),
        (_EMBEDDING_TYPES, "embedding"),
        (_NORM_TYPES, "norm"),
    ):
        if isinstance(module, types):
            yield prefix, module, role
            return
    children = list(module.named_children())
    if list(module.parameters(recurse=False)):
        yield prefix, module, "parameters"
    elif not children:
        role = "transparent" if isinstance(module, _TRANSPARENT_TYPES) else "free"
        yield prefix, module, role
        return
    for child_name, child in children:
        yield from _walk(child, f"{prefix}.{child_name}" if prefix else child_name, strict)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _attention_layers(name: str, attention: nn.MultiheadAttention) -> list[WeightLayer]:
    """One head's query, key, value and output matrix each, as ``(out, in)`` matrices."""
    if attention._qkv_same_embed_dim:
        projections = attention.in_proj_weight.chunk(3)
    else:
        projections = (
            attention.q_proj_weight,
            attention.k_proj_weight,
            attention.v_proj_weight,
        )
    heads, d_head = attention.num_heads, attention.head_dim
    layers = []
    for label, weight in zip(("q", "k", "v"), projections, strict=True):
        for h in range(heads):
            rows = _detached(weight[h * d_head : (h + 1) * d_head])
            full = _join(name, f"{label}.{h}")
            layers.append(WeightLayer(full, "attention", rows, None, None, None))
    out = attention.out_proj.weight
    for h in range(heads):
        columns = _detached(out[:, h * d_head : (h + 1) * d_head])
        layers.append(WeightLayer(_join(name, f"out.{h}"), "attention", columns, None, None, None))
    return layers


def _raw_layers(name: str, module: nn.Module) -> list[WeightLayer]:
    """A hand-written module's own matrices: 2-D as stored, k-D per leading slice."""
    layers = []
    for pname, p in module.named_parameters(recurse=False):
        full = _join(name, pname)
        if p.dim() == 2:
            layers.append(WeightLayer(full, "parameter", _detached(p), None, None, None))
        elif p.dim() > 2:
            for i in range(p.shape[0]):
                matrix = _detached(p[i].reshape(p.shape[1], -1))
                layers.append(WeightLayer(f"{full}.{i}", "parameter", matrix, None, None, None))
    return layers


def _detached(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().to(device="cpu", dtype=torch.float64).clone()


def _fold(layer: WeightLayer, bn_name: str, bn: nn.Module) -> WeightLayer:
    if not bn.track_running_stats or bn.running_mean is None:
        raise _unsupported(
            bn_name,
            bn,
            "has no running statistics, so it normalises with batch statistics and "
            "cannot be folded into the preceding layer",
        )
    out = layer.weight.shape[0]
    if bn.num_features != out:
        raise _unsupported(
            bn_name, bn, f"has {bn.num_features} features but follows a layer with {out} outputs"
        )
    mean = _detached(bn.running_mean)
    var = _detached(bn.running_var)
    gamma = _detached(bn.weight) if bn.affine else torch.ones(out, dtype=torch.float64)
    beta = _detached(bn.bias) if bn.affine else torch.zeros(out, dtype=torch.float64)
    scale = gamma / torch.sqrt(var + bn.eps)
    bias = layer.bias if layer.bias is not None else torch.zeros(out, dtype=torch.float64)
    shape = (out,) + (1,) * (layer.weight.dim() - 1)
    return WeightLayer(
        name=layer.name,
        kind=layer.kind,
        weight=layer.weight * scale.reshape(shape),
        bias=(bias - mean) * scale + beta,
        module=layer.module,
        batchnorm=bn_name,
    )


def weight_layers(model: nn.Module, *, strict: bool = True) -> list[WeightLayer]:
    r"""The weight matrices of a model, batch norm folded in.

    Parameters
    ----------
    model : torch.nn.Module
        ``nn.Sequential`` (possibly nested) or a module whose submodules are
        registered in forward order; feed-forward chains, transformers built
        from ``torch.nn`` layers and hand-written attention models.
    strict : bool
        If True, a recurrent module, or a batch norm that cannot be folded,
        raises. If False, each weight tensor (two or more dimensions) of a
        recurrent module is returned as a layer of kind ``"other"``.

    Returns
    -------
    list of WeightLayer
        In registration order. The model is not modified and its mode is
        ignored: batch norm is folded with its running statistics (eval-mode
        function).

    Raises
    ------
    TypeError
        In strict mode, for recurrent layers and batch norms that do not
        directly follow a weight layer or have no running statistics. The
        message names the layer and the measures that still apply.

    Notes
    -----
    The matrices, in the ``(out, in)`` orientation of ``Linear.weight``:

    * ``Linear``, ``Conv1d``, ``Conv2d``: the weight (kernels reshaped to
      ``(out, -1)`` where a measure needs a matrix), batch norm folded in;
      this covers MLP blocks and an unembedding built from ``Linear``.
    * ``MultiheadAttention`` with :math:`H` heads of width :math:`d_h`:
      four matrices per head, :math:`W_Q^h, W_K^h, W_V^h` (rows
      :math:`h d_h \ldots (h+1) d_h - 1` of the query, key and value parts of
      ``in_proj_weight``, or of ``q/k/v_proj_weight``) and :math:`W_O^h`
      (the same columns of ``out_proj.weight``), named ``attn.q.0``, ...,
      ``attn.out.0``, ...
    * ``Embedding`` (token or learned positional): the transposed table,
      the linear map of a one-hot token.
    * A raw parameter a hand-written module holds itself: with two
      dimensions, one matrix as stored; with more, one matrix per slice of
      its leading dimension (per-head tensors such as ``W_Q`` of shape
      ``(heads, d_model, d_head)``), each reshaped to ``(shape[1], -1)``.
    * Biases, one-dimensional parameters and the gains of ``LayerNorm``,
      ``GroupNorm`` and ``RMSNorm`` are not matrices and are left out.
    """
    layers: list[WeightLayer] = []
    previous: WeightLayer | None = None
    for name, module, role in _walk(model, "", strict):
        if role == "weight":
            previous = WeightLayer(
                name=name,
                kind=_kind(module),
                weight=_detached(module.weight),
                bias=_detached(module.bias),
                module=module,
                batchnorm=None,
            )
            layers.append(previous)
        elif role == "batchnorm":
            if previous is not None and previous.batchnorm is None:
                layers[-1] = previous = _fold(previous, name, module)
            elif strict:
                raise _unsupported(
                    name,
                    module,
                    "does not directly follow a Linear/Conv layer, so it cannot be folded",
                )
            else:
                previous = None
        elif role == "attention":
            previous = None
            layers.extend(_attention_layers(name, module))
        elif role == "embedding":
            previous = None
            table = _detached(module.weight).T.contiguous()
            layers.append(WeightLayer(name, "embedding", table, None, None, None))
        elif role == "parameters":
            previous = None
            layers.extend(_raw_layers(name, module))
        elif role == "other":
            previous = None
            for pname, p in module.named_parameters():
                if p.dim() >= 2:
                    full = f"{name}.{pname}" if name else pname
                    layers.append(WeightLayer(full, "other", _detached(p), None, None, None))
        elif role in ("free", "norm"):
            previous = None
    return layers


def non_chain_part(model: nn.Module) -> str | None:
    """What makes ``model`` something other than a feed-forward chain, or None.

    Names the first attention layer, embedding, layer norm or module holding
    raw parameters (``"MultiheadAttention at 'attn'"``). A hand-written
    attention block built from ``Linear`` layers alone is not visible here;
    :func:`AttentionWatch` finds it by running the model.
    """
    for name, module, role in _walk(model, "", strict=False):
        if role in ("attention", "embedding", "norm", "parameters"):
            label = f"'{name}'" if name else "the model itself"
            return f"{type(module).__name__} at {label}"
    return None


class AttentionWatch(torch.overrides.TorchFunctionMode):
    """Record whether a forward pass calls softmax or a fused attention function."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: str | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in _ATTENTION_FUNCTIONS and self.seen is None:
            self.seen = name
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def math_attention() -> Iterator[None]:
    """Run attention through its plain differentiable operations.

    Inside the block the fused ``MultiheadAttention`` / transformer-layer fast
    path is off (``torch.backends.mha``) and ``scaled_dot_product_attention``
    uses its math kernel: the fused CPU kernels have no double backward
    (Hessian-vector products) and no rule under :func:`torch.func.vmap`
    gradients (the LLC's chains). The global flag is restored on exit.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def check_same_architecture(layers: list[WeightLayer], init_layers: list[WeightLayer]) -> None:
    """Raise ``ValueError`` unless two layer lists have the same names, kinds and shapes."""
    describe = [(la.name, la.kind, tuple(la.weight.shape)) for la in layers]
    describe_init = [(la.name, la.kind, tuple(la.weight.shape)) for la in init_layers]
    if describe != describe_init:
        for a, b in zip(describe, describe_init, strict=False):
            if a != b:
                raise ValueError(
                    f"model and init_model have different architectures: layer {a[0]!r} "
                    f"({a[1]}, shape {a[2]}) in the model versus {b[0]!r} ({b[1]}, shape "
                    f"{b[2]}) in init_model."
                )
        raise ValueError(
            f"model and init_model have different architectures: {len(describe)} weight "
            f"layers in the model versus {len(describe_init)} in init_model."
        )


@contextlib.contextmanager
def eval_mode(model: nn.Module, *, no_grad: bool = True) -> Iterator[nn.Module]:
    """Put every submodule in eval mode, then restore each one's own flag.

    Batch norm then uses (and does not update) its running statistics and
    dropout is off. Gradients are disabled inside the block unless
    ``no_grad=False`` (Hessian-vector products need them), in which case
    attention runs on its differentiable math path (:func:`math_attention`).
    """
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad() if no_grad else math_attention():
            yield model
    finally:
        for m, flag in flags:
            m.train(flag)


def to_model_device(value, ref: torch.Tensor) -> torch.Tensor:
    """Tensor on the parameters' device; floating values take their dtype,
    integer values (class labels, token ids) stay integer."""
    tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    if tensor.is_floating_point():
        return tensor.to(device=ref.device, dtype=ref.dtype)
    if tensor.dtype == torch.bool:
        raise TypeError("boolean tensors are neither inputs nor targets.")
    return tensor.to(device=ref.device, dtype=torch.int64)


def _reference_parameter(model: nn.Module) -> torch.Tensor | None:
    return next(iter(model.parameters()), None)


def reads_tokens(model: nn.Module) -> bool:
    """Whether the model's first weight-holding module is not a Linear, Conv or batch norm.

    Such a model (an embedding, a hand-written lookup ``W_E[tokens]``) reads
    integer token ids, which must not be cast to floats.
    """
    for module in model.modules():
        if list(module.parameters(recurse=False)):
            return not isinstance(module, _WEIGHT_TYPES + _BATCHNORM_TYPES)
    return False


def as_input_tensor(X, model: nn.Module) -> torch.Tensor:
    """Convert inputs to a tensor on the model's device.

    Floating inputs take the parameters' dtype. Integer inputs stay ``int64``
    when the model reads tokens (:func:`reads_tokens`) and become floats
    otherwise (integer-valued features of an MLP).
    """
    ref = _reference_parameter(model)
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    device = ref.device if ref is not None else torch.device("cpu")
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if X.dim() < 2:
        raise ValueError(f"X must have a leading sample dimension, got shape {tuple(X.shape)}.")
    if not X.is_floating_point() and X.dtype != torch.bool and reads_tokens(model):
        return X.to(device=device, dtype=torch.int64)
    if not torch.isfinite(X.to(torch.float64)).all():
        raise ValueError("X contains NaN or infinity.")
    return X.to(device=device, dtype=dtype)


def as_label_tensor(y, n: int) -> torch.Tensor:
    """Convert integer class labels to a 1-D ``int64`` tensor of length ``n``."""
    y_np = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if y_np.ndim != 1 or y_np.shape[0] != n:
        raise ValueError(f"y must be 1-D with one label per row of X ({n}), got {y_np.shape}.")
    if not np.issubdtype(y_np.dtype, np.integer):
        if not np.all(np.isfinite(y_np)) or not np.all(y_np == np.round(y_np)):
            raise ValueError("y must hold integer class labels.")
    if n and y_np.min() < 0:
        raise ValueError("class labels must be non-negative.")
    return torch.as_tensor(y_np.astype(np.int64))


def forward(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Outputs of ``model`` (a module or any batch function) on ``X``, in batches.

    The caller sets the mode (:func:`eval_mode`) and the gradient context.
    """
    if batch_size is None or batch_size >= X.shape[0]:
        return model(X)
    return torch.cat([model(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])


def layer_input_shapes(
    model: nn.Module, layers: list[WeightLayer], input_shape: tuple[int, ...]
) -> dict[str, tuple[int, ...]]:
    """Shape of one sample entering each weight layer, found by a forward pass.

    The model runs once on zeros of shape ``(1, *input_shape)`` in eval mode;
    its mode is restored afterwards.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for layer in layers:
        if layer.module is None:
            continue

        def hook(_module, args, name=layer.name):
            shapes.setdefault(name, tuple(args[0].shape[1:]))

        handles.append(layer.module.register_forward_pre_hook(hook))
    try:
        ref = _reference_parameter(model)
        dtype = ref.dtype if ref is not None else torch.float32
        device = ref.device if ref is not None else torch.device("cpu")
        with eval_mode(model):
            model(torch.zeros((1, *input_shape), dtype=dtype, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def folded_copy(model: nn.Module, layers: list[WeightLayer]) -> nn.Module:
    """A float64 deep copy computing the eval-mode function with batch norm folded.

    Each folded batch norm is replaced by ``nn.Identity`` and its preceding
    layer carries the folded weight and bias; the copy is in eval mode.
    """
    clone = copy.deepcopy(model).to(device="cpu", dtype=torch.float64)
    for layer in layers:
        if layer.batchnorm is None:
            continue
        target = clone.get_submodule(layer.name)
        with torch.no_grad():
            target.weight.copy_(layer.weight)
        target.bias = nn.Parameter(layer.bias.clone())
        parent_name, _, attr = layer.batchnorm.rpartition(".")
        setattr(clone.get_submodule(parent_name), attr, nn.Identity())
    return clone.eval()


def _is_array(value) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray))


def check_loss_fn(loss_fn: Callable) -> None:
    """Check that ``loss_fn`` is callable and averages over its batch."""
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}.")
    reduction = getattr(loss_fn, "reduction", "mean")
    if reduction != "mean":
        raise ValueError(
            f"loss_fn must average over its batch (reduction='mean'), got "
            f"reduction={reduction!r}; batch means are what the Hessian reweights."
        )


class Batches:
    """Re-iterable view of the data ``X, y`` as ``(inputs, targets)`` tensor pairs.

    ``X`` and ``y`` are arrays or tensors of one row per sample, or ``X`` is a
    re-iterable of ``(inputs, targets)`` batches (a DataLoader) and ``y`` is None.
    """

    def __init__(self, X, y, ref: torch.Tensor, batch_size: int | None):
        if batch_size is not None:
            check_int(batch_size, "batch_size")
        self.ref = ref
        self.batch_size = batch_size
        self.arrays = None
        if y is not None:
            if not _is_array(X) and not isinstance(X, (list, tuple)):
                raise TypeError(
                    f"X must be an array or tensor when y is given, got {type(X).__name__}; "
                    "pass a DataLoader of (inputs, targets) batches as X with y=None."
                )
            X, y = (to_model_device(value, ref) for value in (X, y))
            if X.dim() < 1 or y.dim() < 1 or X.shape[0] != y.shape[0]:
                raise ValueError(
                    f"X and y need one target per input row, got X of shape "
                    f"{tuple(X.shape)} and y of shape {tuple(y.shape)}."
                )
            if X.shape[0] == 0:
                raise ValueError("X holds no samples.")
            self.arrays = (X, y)
        elif isinstance(X, (tuple, list)) and len(X) == 2 and all(map(_is_array, X)):
            raise TypeError("pass the inputs and targets as two arguments X, y, not as one pair.")
        elif _is_array(X):
            raise TypeError(
                "y is missing: pass the targets as y, one per row of X (or X as a "
                "DataLoader of (inputs, targets) batches)."
            )
        elif isinstance(X, Iterable) and not isinstance(X, (str, bytes, dict)):
            if iter(X) is X:
                raise TypeError(
                    "X is a one-shot iterator of batches, but the data is passed over many "
                    "times; pass a DataLoader, a list of (X, y) batches or the arrays X, y."
                )
            if batch_size is not None:
                raise ValueError("batch_size applies to arrays X, y, not to batches.")
            self.batches = X
        else:
            raise TypeError(
                "X must be an array or tensor of inputs (with targets y), or a re-iterable "
                f"of (inputs, targets) batches such as a DataLoader; got {type(X).__name__}."
            )

    @property
    def single(self) -> bool:
        """Whether all the data is one batch."""
        return self.arrays is not None and (
            self.batch_size is None or self.batch_size >= self.arrays[0].shape[0]
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.arrays is not None:
            X, y = self.arrays
            step = X.shape[0] if self.batch_size is None else self.batch_size
            for start in range(0, X.shape[0], step):
                yield X[start : start + step], y[start : start + step]
            return
        for batch in self.batches:
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise TypeError(
                    f"each batch must be an (inputs, targets) pair, got {type(batch).__name__}."
                )
            X, y = to_model_device(batch[0], self.ref), to_model_device(batch[1], self.ref)
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"a batch has {X.shape[0]} inputs but {y.shape[0]} targets.")
            yield X, y
