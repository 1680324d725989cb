"""Operator norms of convolutions: the spectral norm of the linear map a
convolution applies to inputs of a given size (Sedghi, Gupta & Long 2019).

The reshaped-kernel norm, the largest singular value of the weight tensor
flattened to a matrix, is not the operator norm of the convolution; these
functions compute the operator norm itself, by FFT where the convolution is
circular and by Lanczos or power iteration on the operator otherwise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import LinearOperator, eigsh
from torch import nn

from ..._validation import check_random_state, draw_seed

__all__ = ["conv_operator_norm"]

_CONV_METHODS = ("auto", "lanczos", "power", "fft")


# --------------------------------------------------------------------------- #
# Convolutions as linear operators
# --------------------------------------------------------------------------- #


def _conv_padding(conv: nn.Module) -> list[tuple[int, int]]:
    """(left, right) padding per spatial dimension, as torch applies it."""
    kernel = conv.kernel_size
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return [(0, 0)] * len(kernel)
        pads = []
        for k, d in zip(kernel, conv.dilation, strict=True):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return pads
    return [(p, p) for p in conv.padding]


def _conv_operator(conv: nn.Module, kernel: torch.Tensor):
    """The linear map ``x -> conv(x)`` (no bias) for kernel ``kernel``."""
    pads = _conv_padding(conv)
    conv_fn = F.conv1d if len(conv.kernel_size) == 1 else F.conv2d
    flat_pad = [amount for pair in reversed(pads) for amount in pair]
    mode = conv.padding_mode

    def apply(x: torch.Tensor) -> torch.Tensor:
        if any(flat_pad):
            x = F.pad(x, flat_pad, mode="constant" if mode == "zeros" else mode)
        return conv_fn(x, kernel, None, conv.stride, 0, conv.dilation, conv.groups)

    return apply


def spatial_shape(conv: nn.Module, input_shape: Sequence[int]) -> tuple[int, ...]:
    """Spatial size of one input of ``conv`` from its shape with or without channels."""
    n_dims = len(conv.kernel_size)
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == n_dims + 1:
        if shape[0] != conv.in_channels:
            raise ValueError(
                f"input_shape {shape} has {shape[0]} channels but the convolution expects "
                f"{conv.in_channels}."
            )
        shape = shape[1:]
    if len(shape) != n_dims or min(shape) < 1:
        raise ValueError(
            f"input_shape must be the spatial size ({n_dims} numbers) or (channels, "
            f"*spatial) of one input to the convolution, got {tuple(input_shape)}."
        )
    return shape


def _fft_applies(conv: nn.Module, spatial: tuple[int, ...]) -> bool:
    if conv.padding_mode != "circular" or any(s != 1 for s in conv.stride):
        return False
    pads = _conv_padding(conv)
    return all(
        left + right == d * (k - 1)
        for (left, right), k, d in zip(pads, conv.kernel_size, conv.dilation, strict=True)
    ) and all(max(pair) <= n for pair, n in zip(pads, spatial, strict=True))


def _fft_norm(conv: nn.Module, kernel: np.ndarray, spatial: tuple[int, ...]) -> float:
    """Largest singular value of a circular convolution (Sedghi et al. 2019)."""
    out_ch, in_per_group = kernel.shape[:2]
    placed = np.zeros((out_ch, in_per_group, *spatial))
    taps = np.stack(
        np.meshgrid(*[np.arange(k) for k in conv.kernel_size], indexing="ij"), axis=-1
    ).reshape(-1, len(spatial))
    for tap in taps:
        position = tuple((t * d) % n for t, d, n in zip(tap, conv.dilation, spatial, strict=True))
        placed[(slice(None), slice(None), *position)] += kernel[(slice(None), slice(None), *tap)]
    spectrum = np.fft.fftn(placed, axes=tuple(range(2, 2 + len(spatial))))
    groups = conv.groups
    out_per_group = out_ch // groups
    largest = 0.0
    for g in range(groups):
        block = spectrum[g * out_per_group : (g + 1) * out_per_group]
        block = np.moveaxis(block, (0, 1), (-2, -1))
        largest = max(largest, float(np.linalg.svd(block, compute_uv=False).max()))
    return largest


def _lanczos_norm(
    conv: nn.Module, kernel: torch.Tensor, spatial: tuple[int, ...], random_state
) -> float:
    """Largest singular value by Lanczos (ARPACK) on the Gram operator of the convolution.

    The map is applied by ``conv1d``/``conv2d`` and its transpose by the
    vector-Jacobian product of that (linear) map, so no matrix is formed.
    """
    if not bool(kernel.any()):
        # A zero kernel (a distance to initialisation at step 0) is the zero map.
        return 0.0
    apply = _conv_operator(conv, kernel)
    x0 = torch.zeros((1, conv.in_channels, *spatial), dtype=torch.float64)
    out0, vjp = torch.func.vjp(apply, x0)
    in_shape, out_shape = x0.shape, out0.shape
    n_in, n_out = x0.numel(), out0.numel()

    def forward_np(v: np.ndarray) -> np.ndarray:
        return apply(torch.from_numpy(v.reshape(in_shape))).reshape(-1).numpy()

    def adjoint_np(u: np.ndarray) -> np.ndarray:
        return vjp(torch.from_numpy(u.reshape(out_shape)))[0].reshape(-1).numpy()

    if n_in <= n_out:
        size, gram = n_in, lambda v: adjoint_np(forward_np(np.ravel(v)))
    else:
        size, gram = n_out, lambda u: forward_np(adjoint_np(np.ravel(u)))
    if size < 3:
        dense = np.column_stack([gram(e) for e in np.eye(size)])
        return float(math.sqrt(max(np.linalg.eigvalsh(dense)[-1], 0.0)))
    operator = LinearOperator((size, size), matvec=gram, dtype=np.float64)
    v0 = check_random_state(random_state).standard_normal(size)
    top = eigsh(operator, k=1, which="LA", v0=v0, return_eigenvectors=False)
    return float(math.sqrt(max(float(top[0]), 0.0)))


def _power_norm(
    conv: nn.Module,
    kernel: torch.Tensor,
    spatial: tuple[int, ...],
    max_iter: int,
    tol: float,
    random_state,
) -> float:
    """Largest singular value by power iteration on ``A^T A`` (transpose by autograd)."""
    apply = _conv_operator(conv, kernel)
    generator = torch.Generator().manual_seed(draw_seed(random_state))
    x = torch.randn((1, conv.in_channels, *spatial), generator=generator, dtype=torch.float64)
    _, vjp = torch.func.vjp(apply, torch.zeros_like(x))
    x = x / torch.linalg.vector_norm(x)
    sigma = 0.0
    for _ in range(max_iter):
        ax = apply(x)
        new_sigma = float(torch.linalg.vector_norm(ax))
        if new_sigma == 0.0:
            return 0.0
        (x,) = vjp(ax)
        x = x / torch.linalg.vector_norm(x)
        if abs(new_sigma - sigma) <= tol * new_sigma:
            return new_sigma
        sigma = new_sigma
    warnings.warn(
        f"conv_operator_norm: power iteration did not reach tol={tol} in {max_iter} "
        "iterations; the value is a lower bound (method='lanczos' converges faster).",
        RuntimeWarning,
        stacklevel=3,
    )
    return sigma


def kernel_operator_norm(
    conv: nn.Module,
    kernel: torch.Tensor,
    spatial: tuple[int, ...],
    method: str,
    max_iter: int = 1000,
    tol: float = 1e-10,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> float:
    """Operator norm of ``conv`` with weights ``kernel`` on inputs of size ``spatial``."""
    check_random_state(random_state)  # a bad seed fails whichever route runs
    if method not in _CONV_METHODS:
        raise ValueError(f"method must be one of {_CONV_METHODS}, got {method!r}.")
    fft_ok = _fft_applies(conv, spatial)
    if method == "fft" and not fft_ok:
        raise ValueError(
            "method='fft' needs padding_mode='circular', stride 1 and padding that keeps the "
            "spatial size (the operator is then a circular convolution); use method='lanczos'."
        )
    kernel = kernel.detach().to(device="cpu", dtype=torch.float64)
    if method == "fft" or (method == "auto" and fft_ok):
        return _fft_norm(conv, kernel.numpy(), spatial)
    if method == "power":
        return _power_norm(conv, kernel, spatial, max_iter, tol, random_state)
    return _lanczos_norm(conv, kernel, spatial, random_state)


def conv_operator_norm(
    conv: nn.Conv1d | nn.Conv2d,
    input_shape: Sequence[int],
    *,
    method: str = "auto",
    max_iter: int = 1000,
    tol: float = 1e-10,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> float:
    r"""Exact spectral norm of a convolution as a linear map on inputs of a given size.

    Parameters
    ----------
    conv : torch.nn.Conv1d or torch.nn.Conv2d
        Any stride, dilation, groups and padding mode; the bias is ignored.
    input_shape : sequence of int
        Size of one input to the layer: the spatial size (``(L,)`` or
        ``(H, W)``) or ``(channels, *spatial)``.
    method : {"auto", "lanczos", "power", "fft"}
        ``"fft"``: closed form for a circular convolution (``padding_mode=
        "circular"``, stride 1, padding that keeps the spatial size).
        ``"lanczos"``: implicitly restarted Lanczos (ARPACK ``eigsh``) on the
        Gram operator :math:`A^\top A` (or :math:`A A^\top`, whichever is
        smaller), for every configuration. ``"power"``: plain power iteration
        on the same operator. In both, :math:`A` is applied by the layer's
        convolution and :math:`A^\top` by automatic differentiation of it;
        no matrix is formed. ``"auto"`` uses the FFT where it applies and
        Lanczos otherwise (in particular for the default zero padding).
    max_iter, tol : int, float
        For ``method="power"``: stop when the relative change of the estimate
        is at most ``tol``; a ``RuntimeWarning`` is raised after ``max_iter``.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the starting vector of the iterative methods (see
        :ref:`random-state`).

    Returns
    -------
    float
        :math:`\lVert A \rVert_2`, the largest singular value of the matrix
        :math:`A` with :math:`\operatorname{vec}(\mathrm{conv}(x)) = A
        \operatorname{vec}(x)`.

    Notes
    -----
    The reshaped kernel :math:`K \in \mathbb{R}^{c_{out} \times c_{in} k}`
    used by Jiang et al. is a different quantity: the operator norm depends on
    the input size, the padding and the stride; with zero or circular padding
    it is at most :math:`\sqrt{T}\,\lVert K \rVert_2` for :math:`T`
    kernel taps, since :math:`A` is a sum of :math:`T` shifted copies of the
    taps (Yoshida and Miyato). For a circular convolution the discrete Fourier transform
    block-diagonalises :math:`A`; its singular values are those of the
    :math:`c_{out} \times c_{in}` matrices

    .. math::

        \hat K(\omega) = \sum_{t} K_{:, :, t}\, e^{-2\pi i \langle \omega,
        d t \rangle / n}

    over all frequencies :math:`\omega` (per group), with :math:`d` the
    dilation (Sedghi, Gupta, Long 2019). Power iteration returns
    :math:`\lVert A v_k \rVert` for the iterate :math:`v_k`, a lower bound
    that converges at rate :math:`(\sigma_2 / \sigma_1)^{2k}`, slowly for
    the clustered top singular values typical of convolutions; Lanczos
    converges to machine precision in far fewer products.

    References
    ----------
    H. Sedghi, V. Gupta, P. M. Long. "The Singular Values of Convolutional
    Layers". ICLR 2019.

    R. B. Lehoucq, D. C. Sorensen, C. Yang. "ARPACK Users' Guide". SIAM, 1998.

    Y. Yoshida, T. Miyato. "Spectral Norm Regularization for Improving the
    Generalizability of Deep Learning". arXiv:1705.10941, 2017.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> conv = torch.nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular", bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.fill_(1.0)
    >>> round(ecnn.conv_operator_norm(conv, (8,)), 6)
    3.0
    """
    if not isinstance(conv, nn.Conv1d | nn.Conv2d):
        raise TypeError(f"conv must be a Conv1d or Conv2d, got {type(conv).__name__}.")
    spatial = spatial_shape(conv, input_shape)
    return kernel_operator_norm(conv, conv.weight, spatial, method, max_iter, tol, random_state)
