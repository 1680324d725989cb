"""Small torch networks for the double-descent and grokking experiments.

Each factory builds its network from a seed without touching torch's global
random state, so the same ``random_state`` gives the same initial weights in
any process and torch's own random stream is left as it was.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Sequence

from .._optional import missing_dependency
from .._validation import check_int, draw_seed

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:
    if exc.name != "torch":
        raise
    raise missing_dependency("torch", "the torch model factories") from exc

__all__ = ["ModularAdditionTransformer", "Square", "make_cnn", "make_mlp", "make_transformer"]


class Square(nn.Module):
    """Elementwise square, the quadratic activation of Gromov (2023)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "quadratic": Square}


@contextlib.contextmanager
def _seeded(random_state) -> Iterator[None]:
    """Draw from a private copy of the CPU generator, seeded by :func:`draw_seed`.

    Torch's global generator is left as it was; with ``random_state=None`` the
    seed is drawn from numpy's global stream, so ``np.random.seed`` fixes it.
    """
    seed = draw_seed(random_state)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {name!r}.")
    return _ACTIVATIONS[name]()


def _check_size(value, name: str, minimum: int = 1) -> int:
    return check_int(value, name, minimum=minimum)


def make_mlp(
    in_features: int,
    width: int,
    out_features: int,
    depth: int = 2,
    *,
    activation: str = "relu",
    bias: bool = True,
    dtype: torch.dtype | None = None,
    random_state=None,
) -> nn.Sequential:
    """Fully connected network with ``depth`` hidden layers of equal width.

    Parameters
    ----------
    in_features, width, out_features : int
        Input size, hidden width and number of outputs.
    depth : int
        Number of hidden layers (``Linear`` + activation); 2 gives Greydanus's
        MNIST-1D network 40 -> w -> w -> 10, and 1 with ``"quadratic"`` and no
        biases Gromov's modular-arithmetic network.
    activation : {"relu", "tanh", "gelu", "quadratic"}
        ``"quadratic"`` squares every unit (:class:`Square`).
    bias : bool
        Whether every ``Linear`` has a bias.
    dtype : torch.dtype, optional
        Parameter dtype (default torch's default, float32).
    random_state : int, RandomState, Generator or None
        Seed of the (PyTorch default) initialisation (see :ref:`random-state`).

    Returns
    -------
    torch.nn.Sequential
        ``Linear, act, ..., Linear``; with biases it has
        :math:`(d_{in} + 1) w + (depth - 1)(w + 1) w + (w + 1) d_{out}`
        parameters.

    References
    ----------
    S. Greydanus. "Scaling down Deep Learning". arXiv:2011.14439, 2020.

    A. Gromov. "Grokking modular arithmetic". arXiv:2301.02679, 2023.

    Examples
    --------
    >>> from effcomplexity import models
    >>> model = models.make_mlp(40, 64, 10, random_state=0)
    >>> sum(p.numel() for p in model.parameters())
    7434
    """
    in_features = _check_size(in_features, "in_features")
    width = _check_size(width, "width")
    out_features = _check_size(out_features, "out_features")
    depth = _check_size(depth, "depth")
    sizes = [in_features] + [width] * depth
    with _seeded(random_state):
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype), _activation(activation)]
        layers.append(nn.Linear(width, out_features, bias=bias, dtype=dtype))
    return nn.Sequential(*layers)


def _pooled_size(size: int, kernel_size: int, pool: int, n_stages: int) -> int:
    for _ in range(n_stages):
        size = (size + 2 * (kernel_size // 2) - kernel_size + 1) // pool
    return size


def make_cnn(
    in_channels: int,
    out_features: int,
    input_size: int | Sequence[int],
    *,
    channels: Sequence[int] = (16, 32),
    kernel_size: int = 3,
    pool: int = 2,
    activation: str = "relu",
    dtype: torch.dtype | None = None,
    random_state=None,
) -> nn.Sequential:
    """Small convolutional network, 1-D or 2-D.

    Parameters
    ----------
    in_channels : int
        Input channels.
    out_features : int
        Number of outputs.
    input_size : int or (int,) or (int, int)
        Length of a 1-D signal or height and width of an image; it sets the
        dimension of the convolutions and the size of the last layer.
    channels : sequence of int
        Output channels of each stage ``Conv, activation, MaxPool``.
    kernel_size : int
        Convolution kernel size (padding ``kernel_size // 2``).
    pool : int
        Max-pooling window and stride.
    activation : {"relu", "tanh", "gelu"}
    dtype : torch.dtype, optional
    random_state : int, RandomState, Generator or None
        Seed of the initialisation (see :ref:`random-state`).

    Returns
    -------
    torch.nn.Sequential
        The stages, ``Flatten`` and a final ``Linear``. Inputs have shape
        ``(N, in_channels, *input_size)``.

    Raises
    ------
    ValueError
        If the pooling stages shrink the input to nothing.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import models
    >>> model = models.make_cnn(1, 10, 40, random_state=0)   # MNIST-1D signals
    >>> model(torch.zeros(5, 1, 40)).shape
    torch.Size([5, 10])
    """
    in_channels = _check_size(in_channels, "in_channels")
    out_features = _check_size(out_features, "out_features")
    kernel_size = _check_size(kernel_size, "kernel_size")
    pool = _check_size(pool, "pool")
    shape = (input_size,) if isinstance(input_size, numbers.Integral) else tuple(input_size)
    if len(shape) not in (1, 2):
        raise ValueError(f"input_size must have 1 or 2 entries, got {input_size!r}.")
    shape = tuple(_check_size(s, "input_size") for s in shape)
    channels = [_check_size(c, "channels") for c in channels]
    if not channels:
        raise ValueError("channels must list at least one stage.")
    out_shape = [_pooled_size(s, kernel_size, pool, len(channels)) for s in shape]
    if min(out_shape) < 1:
        raise ValueError(
            f"input_size {shape} is too small for {len(channels)} pooling stages of size {pool}."
        )
    conv, max_pool = (nn.Conv1d, nn.MaxPool1d) if len(shape) == 1 else (nn.Conv2d, nn.MaxPool2d)
    with _seeded(random_state):
        layers: list[nn.Module] = []
        for c_in, c_out in zip([in_channels, *channels[:-1]], channels, strict=True):
            layers += [
                conv(c_in, c_out, kernel_size, padding=kernel_size // 2, dtype=dtype),
                _activation(activation),
                max_pool(pool),
            ]
        layers += [
            nn.Flatten(),
            nn.Linear(channels[-1] * math.prod(out_shape), out_features, dtype=dtype),
        ]
    return nn.Sequential(*layers)


class _CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with per-head weight tensors."""

    def __init__(self, d_model: int, n_heads: int, dtype: torch.dtype | None) -> None:
        super().__init__()
        d_head = d_model // n_heads
        scale = d_model**-0.5

        def weight(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape, dtype=dtype) * scale)

        self.W_Q = weight(n_heads, d_model, d_head)
        self.W_K = weight(n_heads, d_model, d_head)
        self.W_V = weight(n_heads, d_model, d_head)
        self.W_O = weight(n_heads, d_head, d_model)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        q = torch.einsum("npd,hde->nhpe", h, self.W_Q)
        k = torch.einsum("npd,hde->nhpe", h, self.W_K)
        v = torch.einsum("npd,hde->nhpe", h, self.W_V)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        n_ctx = h.shape[1]
        future = torch.ones(n_ctx, n_ctx, dtype=torch.bool, device=h.device).triu(1)
        pattern = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        return torch.einsum("nhpe,hed->npd", pattern @ v, self.W_O)


class ModularAdditionTransformer(nn.Module):
    """One-layer transformer reading ``a b =`` and predicting ``(a + b) mod p``.

    Token and position embeddings, one causal attention block and one ReLU
    MLP block on a residual stream without layer norm, and an unembedding
    read at the ``=`` position (Nanda et al. 2023). Built by
    :func:`make_transformer`.

    Parameters
    ----------
    modulus : int
        The modulus :math:`p`; tokens ``0..p-1`` are numbers and ``p`` is ``=``.
    d_model, n_heads, d_mlp : int
        Width of the residual stream, attention heads, MLP hidden width.
    dtype : torch.dtype, optional
    """

    def __init__(
        self,
        modulus: int,
        d_model: int,
        n_heads: int,
        d_mlp: int,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.modulus = modulus
        scale = d_model**-0.5
        self.W_E = nn.Parameter(torch.randn(modulus + 1, d_model, dtype=dtype) * scale)
        self.W_pos = nn.Parameter(torch.randn(3, d_model, dtype=dtype) * scale)
        self.attention = _CausalSelfAttention(d_model, n_heads, dtype)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, d_mlp, dtype=dtype),
            nn.ReLU(),
            nn.Linear(d_mlp, d_model, dtype=dtype),
        )
        self.W_U = nn.Parameter(torch.randn(d_model, modulus, dtype=dtype) * scale)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(N, p)`` for integer pairs ``(a, b)`` of shape ``(N, 2)``."""
        if pairs.dim() != 2 or pairs.shape[1] != 2 or pairs.is_floating_point():
            raise ValueError(
                f"inputs must be integer pairs (a, b) of shape (N, 2), got {tuple(pairs.shape)} "
                f"of dtype {pairs.dtype}."
            )
        equals = torch.full_like(pairs[:, :1], self.modulus)
        h = self.W_E[torch.cat([pairs, equals], dim=1)] + self.W_pos
        h = h + self.attention(h)
        h = h + self.mlp(h)
        return h[:, -1] @ self.W_U


def make_transformer(
    modulus: int = 113,
    d_model: int = 128,
    n_heads: int = 4,
    d_mlp: int = 512,
    *,
    dtype: torch.dtype | None = None,
    random_state=None,
) -> ModularAdditionTransformer:
    r"""One-layer transformer for modular addition (grokking experiments).

    Parameters
    ----------
    modulus : int
        The modulus :math:`p` (113 in Nanda et al., 97 in Power et al.).
    d_model : int
        Residual-stream width, divisible by ``n_heads``.
    n_heads : int
        Attention heads.
    d_mlp : int
        Hidden width of the MLP block.
    dtype : torch.dtype, optional
    random_state : int, RandomState, Generator or None
        Seed of the initialisation (see :ref:`random-state`).

    Returns
    -------
    ModularAdditionTransformer
        Maps integer pairs of shape ``(N, 2)`` to ``p`` logits. Its
        :math:`(p + 1) d + 3 d + 4 d^2 + 2 d\, d_{mlp} + d_{mlp} + d + d p`
        parameters are plain tensors (``W_E``, ``W_pos``, per-head
        ``W_Q/W_K/W_V/W_O``, ``W_U``) besides the MLP's ``Linear`` layers.

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads``.

    References
    ----------
    N. Nanda, L. Chan, T. Lieberum, J. Smith, J. Steinhardt. "Progress
    measures for grokking via mechanistic interpretability". ICLR 2023.

    A. Power, Y. Burda, H. Edwards, I. Babuschkin, V. Misra. "Grokking:
    Generalization Beyond Overfitting on Small Algorithmic Datasets". 2022.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import models
    >>> model = models.make_transformer(modulus=7, d_model=16, n_heads=2, d_mlp=32, random_state=0)
    >>> model(torch.tensor([[3, 5], [6, 6]])).shape
    torch.Size([2, 7])
    """
    modulus = _check_size(modulus, "modulus", minimum=2)
    d_model = _check_size(d_model, "d_model")
    n_heads = _check_size(n_heads, "n_heads")
    d_mlp = _check_size(d_mlp, "d_mlp")
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}.")
    with _seeded(random_state):
        return ModularAdditionTransformer(modulus, d_model, n_heads, d_mlp, dtype=dtype)
