"""A decoder-only transformer built from ``torch.nn`` layers, for grokking experiments.

:func:`make_grokking_transformer` builds the one-layer transformer of Nanda,
Chan, Lieberum, Smith and Steinhardt (2023) from ``nn.Embedding``,
``nn.MultiheadAttention`` and ``nn.Linear``; the measures of
:mod:`effcomplexity.nn` read it by the convention of
:func:`~effcomplexity.nn.weight_measures`.
"""

from __future__ import annotations

from .._optional import missing_dependency

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:
    if exc.name != "torch":
        raise
    raise missing_dependency("torch", "the grokking transformer") from exc

from .torch_models import _activation, _check_size, _seeded

__all__ = ["GrokkingTransformer", "make_grokking_transformer", "modular_addition_tokens"]


class _Block(nn.Module):
    """Causal self-attention and an MLP, each added to the residual stream."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_mlp: int,
        activation: str,
        layer_norm: bool,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model, dtype=dtype) if layer_norm else nn.Identity()
        self.attn = nn.MultiheadAttention(
            d_model, n_heads, bias=False, batch_first=True, dtype=dtype
        )
        self.ln_mlp = nn.LayerNorm(d_model, dtype=dtype) if layer_norm else nn.Identity()
        self.mlp = nn.Sequential(
            nn.Linear(d_model, d_mlp, dtype=dtype),
            _activation(activation),
            nn.Linear(d_mlp, d_model, dtype=dtype),
        )

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.ln_attn(h)
        h = h + self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        return h + self.mlp(self.ln_mlp(h))


class GrokkingTransformer(nn.Module):
    """Decoder-only transformer read at its last position.

    Token and learned positional embeddings, ``n_layers`` blocks of causal
    multi-head attention (no biases) and an MLP on the residual stream
    (optionally pre-layer-normed), and a bias-free unembedding of the last
    position to ``n_classes`` logits. Built by :func:`make_grokking_transformer`.

    Parameters
    ----------
    n_vocab : int
        Input tokens ``0 .. n_vocab - 1``.
    n_classes : int
        Output logits.
    d_model, n_heads, d_mlp, n_ctx, n_layers : int
        Residual width, heads per attention layer, MLP hidden width, input
        length, blocks.
    activation : {"relu", "gelu", "tanh", "quadratic"}
    layer_norm : bool
    dtype : torch.dtype, optional

    Attributes
    ----------
    embed, pos_embed : torch.nn.Embedding
        Token and position embeddings.
    blocks : torch.nn.ModuleList
        Each with ``attn`` (``nn.MultiheadAttention``) and ``mlp``.
    unembed : torch.nn.Linear
        Reads the last position.

    Examples
    --------
    >>> from effcomplexity.models import GrokkingTransformer
    >>> model = GrokkingTransformer(8, 7, 16, 2, 32, 3, 1, "relu", False)
    >>> sum(p.numel() for p in model.parameters())
    2384
    """

    def __init__(
        self,
        n_vocab: int,
        n_classes: int,
        d_model: int,
        n_heads: int,
        d_mlp: int,
        n_ctx: int,
        n_layers: int,
        activation: str,
        layer_norm: bool,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.n_ctx = n_ctx
        self.embed = nn.Embedding(n_vocab, d_model, dtype=dtype)
        self.pos_embed = nn.Embedding(n_ctx, d_model, dtype=dtype)
        self.blocks = nn.ModuleList(
            _Block(d_model, n_heads, d_mlp, activation, layer_norm, dtype) for _ in range(n_layers)
        )
        self.ln_final = nn.LayerNorm(d_model, dtype=dtype) if layer_norm else nn.Identity()
        self.unembed = nn.Linear(d_model, n_classes, bias=False, dtype=dtype)
        self.register_buffer(
            "causal_mask", torch.ones(n_ctx, n_ctx, dtype=torch.bool).triu(1), persistent=False
        )
        self._initialise(d_model, n_classes)

    @torch.no_grad()
    def _initialise(self, d_model: int, n_classes: int) -> None:
        # Nanda et al.: weights N(0, 1/d_model), the unembedding N(0, 1/n_vocab), biases 0.
        scale = d_model**-0.5
        for name, p in self.named_parameters():
            if name.startswith("unembed"):
                p.normal_(0.0, n_classes**-0.5)
            elif "ln_" in name:
                continue
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, scale)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(N, n_classes)`` for integer tokens of shape ``(N, n_ctx)``."""
        if tokens.dim() != 2 or tokens.shape[1] != self.n_ctx or tokens.is_floating_point():
            raise ValueError(
                f"inputs must be integer tokens of shape (N, {self.n_ctx}), got "
                f"{tuple(tokens.shape)} of dtype {tokens.dtype}."
            )
        h = self.embed(tokens) + self.pos_embed.weight
        for block in self.blocks:
            h = block(h, self.causal_mask)
        return self.unembed(self.ln_final(h[:, -1]))


def modular_addition_tokens(pairs, modulus: int) -> torch.Tensor:
    """The sequences ``a b =`` of integer pairs, ``=`` being token ``modulus``.

    Parameters
    ----------
    pairs : array-like of int, shape (N, 2)
    modulus : int

    Returns
    -------
    torch.Tensor of int64, shape (N, 3)

    Examples
    --------
    >>> from effcomplexity.models import modular_addition_tokens
    >>> modular_addition_tokens([[3, 5]], 7).tolist()
    [[3, 5, 7]]
    """
    pairs = torch.as_tensor(pairs, dtype=torch.int64)
    if pairs.dim() != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must have shape (N, 2), got {tuple(pairs.shape)}.")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= modulus):
        raise ValueError(f"pairs must hold numbers in 0 .. {modulus - 1}.")
    return torch.cat([pairs, torch.full_like(pairs[:, :1], modulus)], dim=1)


def make_grokking_transformer(
    p: int = 113,
    d_model: int = 128,
    n_heads: int = 4,
    d_head: int | None = 32,
    d_mlp: int = 512,
    n_ctx: int = 3,
    *,
    n_layers: int = 1,
    activation: str = "relu",
    layer_norm: bool = False,
    dtype: torch.dtype | None = None,
    random_state=None,
) -> GrokkingTransformer:
    r"""The grokking transformer of Nanda et al. (2023), from ``torch.nn`` layers.

    Parameters
    ----------
    p : int
        The modulus: tokens ``0 .. p - 1`` are numbers, token ``p`` is
        ``=``, and the model has ``p`` output logits.
    d_model : int
        Residual-stream width.
    n_heads : int
        Attention heads per layer.
    d_head : int or None
        Width of a head; ``nn.MultiheadAttention`` needs
        ``n_heads * d_head == d_model``. None means ``d_model // n_heads``.
    d_mlp : int
        Hidden width of the MLP.
    n_ctx : int
        Input length (3 for ``a b =``).
    n_layers : int
        Transformer blocks.
    activation : {"relu", "gelu", "tanh", "quadratic"}
        MLP activation.
    layer_norm : bool
        Pre-layer-norm before attention, MLP and unembedding.
    dtype : torch.dtype, optional
    random_state : int, RandomState, Generator or None
        Seed of the initialisation (see :ref:`random-state`).

    Returns
    -------
    GrokkingTransformer
        Maps integer tokens of shape ``(N, n_ctx)``
        (:func:`modular_addition_tokens`) to ``p`` logits read at the last
        position.

    Raises
    ------
    ValueError
        For a non-positive size, ``n_heads * d_head != d_model`` or an
        unknown activation.

    Notes
    -----
    The defaults are the published architecture: one layer, 4 heads of 32
    on a residual stream of 128, MLP width 512 with ReLU, learned positional
    embeddings, no layer norm, no attention biases, weights initialised
    :math:`N(0, 1/d_{model})` (the unembedding :math:`N(0, 1/p)`) and
    biases 0. The attention is causal; with one layer read at the last
    position the mask changes nothing. With one layer it has
    :math:`(p + 1 + n_{ctx}) d + 4 d^2 + 2 d\, d_{mlp} + d_{mlp} + d + d p`
    parameters (:math:`d` = ``d_model``).

    References
    ----------
    N. Nanda, L. Chan, T. Lieberum, J. Smith, J. Steinhardt. "Progress
    measures for grokking via mechanistic interpretability". ICLR 2023.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity.models import make_grokking_transformer, modular_addition_tokens
    >>> model = make_grokking_transformer(7, d_model=16, n_heads=2, d_head=8, d_mlp=32,
    ...                                   random_state=0)
    >>> model(modular_addition_tokens([[3, 5], [6, 6]], 7)).shape
    torch.Size([2, 7])
    """
    p = _check_size(p, "p", minimum=2)
    d_model = _check_size(d_model, "d_model")
    n_heads = _check_size(n_heads, "n_heads")
    d_mlp = _check_size(d_mlp, "d_mlp")
    n_ctx = _check_size(n_ctx, "n_ctx")
    n_layers = _check_size(n_layers, "n_layers")
    d_head = d_model // n_heads if d_head is None else _check_size(d_head, "d_head")
    if n_heads * d_head != d_model:
        raise ValueError(
            f"n_heads * d_head must equal d_model (nn.MultiheadAttention splits the residual "
            f"stream into the heads), got {n_heads} * {d_head} != {d_model}."
        )
    _activation(activation)
    with _seeded(random_state):
        return GrokkingTransformer(
            p + 1, p, d_model, n_heads, d_mlp, n_ctx, n_layers, activation, bool(layer_norm), dtype
        )
