"""Curvature of the training loss: Hessian-vector products, top eigenvalues,
trace, spectral density and the effective dimensionality of Maddox et al.

Every function here works matrix-free: the Hessian of the loss with respect to
the trainable parameters is only touched through Hessian-vector products
computed by double backpropagation, so the cost of one product is a small
multiple of one gradient evaluation over the data.

The parameters are those of ``model.parameters()`` with ``requires_grad=True``,
flattened in that order (the order of
:func:`torch.nn.utils.parameters_to_vector`). The loss is the mean of
``loss_fn`` over all samples: ``loss_fn`` must return the *mean* over its batch
(``reduction="mean"``, the default of every torch loss), and batch means are
reweighted by batch size, so batches of unequal size give the full-data
Hessian.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from torch import nn

from ..._validation import check_int, check_positive_real, check_random_state
from .._probes import mean_std_error, random_probes
from ..trace import hutchinson
from ._deprecation import loss_and_data
from ._layers import Batches, check_loss_fn, eval_mode

__all__ = [
    "effective_dimensionality",
    "hessian_eigenvalues",
    "hessian_trace",
    "hessian_vector_product",
    "spectral_density",
]

logger = logging.getLogger(__name__)

#: Eigenvalues used by :func:`effective_dimensionality` when ``k`` is not given.
DEFAULT_K = 100
#: Lanczos steps per probe used by :func:`spectral_density` when ``n_iter`` is not given.
DEFAULT_SLQ_ITER = 64

_EIGEN_WHICH = ("LA", "LM")
_NEFF_METHODS = ("lanczos", "slq")


# --------------------------------------------------------------------------- helpers


def _trainable(model: nn.Module) -> list[torch.Tensor]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(
            f"{type(model).__name__} has no parameters with requires_grad=True; "
            "there is no Hessian to compute."
        )
    return params


class _HessianOperator:
    """Matrix-free Hessian of the mean loss over ``data`` (use inside eval mode).

    When all the data is one batch, the gradient graph is built once and
    reused by every product.
    """

    def __init__(self, model: nn.Module, X, y, loss_fn: Callable, batch_size: int | None):
        check_loss_fn(loss_fn)
        self.model = model
        self.loss_fn = loss_fn
        self.params = _trainable(model)
        self.ref = self.params[0]
        self.n_params = sum(p.numel() for p in self.params)
        self.batches = Batches(X, y, self.ref, batch_size)
        self._cached = None
        if self.batches.single:
            self._cached = self._gradients(*self.batches.arrays)

    def _gradients(self, X: torch.Tensor, y: torch.Tensor) -> tuple:
        with torch.enable_grad():
            loss = self.loss_fn(self.model(X), y)
            if loss.dim() != 0:
                raise ValueError(
                    f"loss_fn must return a scalar (the batch mean), got shape {tuple(loss.shape)}."
                )
            grads = torch.autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
        return grads, X.shape[0]

    def _product(self, grads: tuple, v_parts: list[torch.Tensor], retain: bool) -> torch.Tensor:
        with torch.enable_grad():
            dot = sum(
                (g * v).sum()
                for g, v in zip(grads, v_parts, strict=True)
                if g is not None and g.requires_grad
            )
            if not isinstance(dot, torch.Tensor):
                return torch.zeros(self.n_params, dtype=self.ref.dtype, device=self.ref.device)
            hv = torch.autograd.grad(dot, self.params, retain_graph=retain, allow_unused=True)
        return torch.cat(
            [
                (h if h is not None else torch.zeros_like(p)).reshape(-1)
                for h, p in zip(hv, self.params, strict=True)
            ]
        )

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``H v`` for a flat tensor ``v`` in the parameters' dtype and device."""
        v_parts = [
            part.view_as(p) for part, p in zip(v.split(self._sizes()), self.params, strict=True)
        ]
        if self._cached is not None:
            grads, _ = self._cached
            return self._product(grads, v_parts, retain=True).detach()
        total = torch.zeros(self.n_params, dtype=self.ref.dtype, device=self.ref.device)
        n_total = 0
        for X, y in self.batches:
            grads, n_batch = self._gradients(X, y)
            total += n_batch * self._product(grads, v_parts, retain=False).detach()
            n_total += n_batch
        if n_total == 0:
            raise ValueError("data holds no samples.")
        return total / n_total

    def matvec_numpy(self, v: np.ndarray) -> np.ndarray:
        tensor = torch.as_tensor(v, dtype=self.ref.dtype, device=self.ref.device)
        return self.matvec(tensor).cpu().numpy().astype(np.float64)

    def _sizes(self) -> list[int]:
        return [p.numel() for p in self.params]


def _lanczos(
    matvec: Callable[[np.ndarray], np.ndarray],
    q0: np.ndarray,
    n_iter: int,
    *,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Lanczos tridiagonalisation of ``q0``'s Krylov space, fully reorthogonalised.

    Returns the diagonal ``alpha`` and off-diagonal ``beta``: the Gauss
    quadrature of ``q0`` that :func:`spectral_density` needs, which ARPACK's
    restarted Lanczos (:func:`hessian_eigenvalues`) does not expose. On
    breakdown (an invariant Krylov subspace) it stops, which keeps that
    quadrature exact.
    """
    p = q0.shape[0]
    Q = np.zeros((n_iter, p))
    alpha = np.zeros(n_iter)
    beta = np.zeros(max(n_iter - 1, 0))
    q = q0 / np.linalg.norm(q0)
    scale = 0.0
    for j in range(n_iter):
        Q[j] = q
        w = matvec(q)
        alpha[j] = q @ w
        # Two passes of classical Gram-Schmidt against the whole basis.
        for _ in range(2):
            w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
        b = float(np.linalg.norm(w))
        scale = max(scale, abs(alpha[j]), b)
        if j == n_iter - 1:
            break
        if b <= tol * max(scale, np.finfo(float).tiny):
            logger.debug("Lanczos stopped at an invariant subspace after %d steps", j + 1)
            return alpha[: j + 1], beta[:j]
        beta[j] = b
        q = w / b
    return alpha, beta


def _breakdown_tol(dtype: torch.dtype) -> float:
    # Products carry the rounding of the model's dtype, not of float64.
    return 1e3 * float(torch.finfo(dtype).eps)


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    return check_int(value, name, minimum=minimum)


def _ritz(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if alpha.shape[0] == 1:
        return alpha.copy(), np.ones((1, 1))
    return eigh_tridiagonal(alpha, beta)


# --------------------------------------------------------------------------- public


@loss_and_data("hessian_vector_product", extra=("v",))
def hessian_vector_product(
    model: nn.Module,
    X,
    y=None,
    *,
    loss_fn: Callable,
    v,
    batch_size: int | None = None,
):
    r"""Product of the Hessian of the training loss with a vector.

    Parameters
    ----------
    model : torch.nn.Module
        The network; its trainable parameters (``requires_grad=True``) are the
        variables of the Hessian.
    X : tensor or array-like of shape (n, ...), or re-iterable of batches
        Inputs of the samples the loss averages over; or, with ``y=None``,
        ``(inputs, targets)`` batches such as a
        :class:`torch.utils.data.DataLoader`.
    y : tensor or array-like of shape (n, ...), optional
        Targets, one per row of ``X``; omitted when ``X`` holds batches.
    loss_fn : callable
        ``loss_fn(model(X), y)`` returning the mean loss over the batch, such
        as ``torch.nn.MSELoss()`` or ``torch.nn.CrossEntropyLoss()``.
    v : tensor or array-like of shape (n_params,)
        Flat vector in the order of ``model.parameters()``.
    batch_size : int, optional
        Split arrays ``X, y`` into batches of this size to bound memory.

    Returns
    -------
    Hv : ndarray or tensor of shape (n_params,)
        A float64 ndarray, or a tensor in the parameters' dtype and device
        when ``v`` is a tensor.

    Raises
    ------
    ValueError
        If ``v`` has the wrong length, ``loss_fn`` does not average over its
        batch, or inputs and targets disagree in length.
    TypeError
        If ``y`` is missing for arrays ``X``, or ``X`` is neither an array nor
        a re-iterable of batches.

    Notes
    -----
    With :math:`L(\theta) = \frac{1}{N} \sum_b n_b \bar\ell_b(\theta)`, the
    batch means :math:`\bar\ell_b` weighted by batch sizes :math:`n_b`,

    .. math::

        H v = \nabla_\theta \big( \nabla_\theta L(\theta)^\top v \big),

    one backward pass through the graph of the gradient (Pearlmutter's
    trick). The model is in eval mode during the computation (batch norm uses
    its running statistics, dropout is off) and its modes are restored after.

    References
    ----------
    B. A. Pearlmutter. "Fast Exact Multiplication by the Hessian". Neural
    Computation, 1994.

    Z. Yao, A. Gholami, K. Keutzer, M. W. Mahoney. "PyHessian: Neural Networks
    Through the Lens of the Hessian". IEEE BigData 2020.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    >>> y = torch.zeros(2, 1, dtype=torch.float64)
    >>> ecnn.hessian_vector_product(model, X, y, loss_fn=torch.nn.MSELoss(), v=[1.0, 1.0])  # X^T X
    array([1., 4.])
    """
    with eval_mode(model, no_grad=False):
        op = _HessianOperator(model, X, y, loss_fn, batch_size)
        as_tensor = isinstance(v, torch.Tensor)
        vec = torch.as_tensor(v if as_tensor else np.asarray(v, dtype=np.float64))
        if vec.dim() != 1 or vec.shape[0] != op.n_params:
            raise ValueError(
                f"v must be a flat vector of length {op.n_params} (the trainable "
                f"parameters), got shape {tuple(vec.shape)}."
            )
        result = op.matvec(vec.to(device=op.ref.device, dtype=op.ref.dtype))
    return result if as_tensor else result.cpu().numpy().astype(np.float64)


@loss_and_data("hessian_eigenvalues", extra=("k",))
def hessian_eigenvalues(
    model: nn.Module,
    X,
    y=None,
    *,
    loss_fn: Callable,
    k: int = 10,
    n_iter: int | None = None,
    which: str = "LA",
    batch_size: int | None = None,
    random_state=None,
    return_eigenvectors: bool = False,
):
    r"""Top eigenvalues of the Hessian of the training loss, by restarted Lanczos (ARPACK).

    Parameters
    ----------
    model, X, y, loss_fn, batch_size
        As in :func:`hessian_vector_product`.
    k : int
        Number of eigenvalues, at most the number of trainable parameters.
    n_iter : int, optional
        Lanczos vectors ARPACK keeps between restarts (``ncv`` of
        :func:`scipy.sparse.linalg.eigsh`; at least ``k``, raised to
        ``k + 1``, at most ``n_params``); default
        ``min(n_params, max(3 * k, k + 30))``. More vectors mean fewer
        restarts; the eigenvalues converge to machine precision either way.
    which : {"LA", "LM"}
        Largest algebraic eigenvalues, or largest in magnitude (negative
        curvature included).
    random_state : int, RandomState, Generator or None
        Seed of the starting vector (see :ref:`random-state`).
    return_eigenvectors : bool
        Also return the eigenvectors.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        In descending order (of value for ``"LA"``, of magnitude for ``"LM"``).
    eigenvectors : ndarray of shape (n_params, k)
        Unit-norm columns, only when ``return_eigenvectors=True``.

    Raises
    ------
    ValueError
        If ``k``, ``n_iter`` or ``which`` is invalid.
    RuntimeError
        If ARPACK does not converge in ``10 * n_params`` restarts.

    Notes
    -----
    The Hessian is a :class:`scipy.sparse.linalg.LinearOperator` whose
    product is :func:`hessian_vector_product`, and
    :func:`scipy.sparse.linalg.eigsh` (ARPACK's implicitly restarted
    Lanczos, as for the convolution norms of :func:`conv_operator_norm`)
    finds its extreme eigenpairs: each cycle extends a Krylov basis
    :math:`\{q, Hq, \dots\}` to ``n_iter`` vectors, and restarts keep the
    wanted Ritz vectors until their residuals reach machine precision.
    Repeated eigenvalues come back with their multiplicity. With
    ``k = n_params`` (which ARPACK refuses) the Hessian is formed from
    ``n_params`` products and diagonalised densely.

    The cost is the number of Hessian-vector products. Where the top
    eigenvalues stand apart from the rest, as in trained networks, one cycle
    suffices (41 products for ``k = 10`` on a 939-parameter tanh network,
    against 40 for one unrestarted run of the same length); on a uniform
    spectrum of 600 eigenvalues, ``k = 10`` takes 370 products to reach
    machine precision, where one unrestarted run of 40 steps is 13% off.

    References
    ----------
    C. Lanczos. "An iteration method for the solution of the eigenvalue
    problem of linear differential and integral operators". J. Res. Nat. Bur.
    Standards, 1950.

    Z. Yao, A. Gholami, K. Keutzer, M. W. Mahoney. "PyHessian: Neural Networks
    Through the Lens of the Hessian". IEEE BigData 2020.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    >>> y = torch.zeros(2, 1, dtype=torch.float64)
    >>> loss_fn = torch.nn.MSELoss()
    >>> ecnn.hessian_eigenvalues(model, X, y, loss_fn=loss_fn, k=2, random_state=0).round(10)
    array([4., 1.])
    """
    if which not in _EIGEN_WHICH:
        raise ValueError(f"which must be one of {_EIGEN_WHICH}, got {which!r}.")
    rng = check_random_state(random_state)
    with eval_mode(model, no_grad=False):
        op = _HessianOperator(model, X, y, loss_fn, batch_size)
        p = op.n_params
        k = _check_positive_int(k, "k")
        if k > p:
            raise ValueError(f"k={k} exceeds the number of trainable parameters ({p}).")
        if n_iter is None:
            n_iter = min(p, max(3 * k, k + 30))
        n_iter = _check_positive_int(n_iter, "n_iter")
        if n_iter < k:
            raise ValueError(f"n_iter={n_iter} must be at least k={k}.")
        v0 = rng.standard_normal(p)
        if k < p:
            operator = LinearOperator((p, p), matvec=op.matvec_numpy, dtype=np.float64)
            # ARPACK keeps ncv > k Lanczos vectors between restarts, at most p.
            ncv = min(p, max(n_iter, k + 1))
            try:
                theta, Y = eigsh(operator, k=k, which=which, v0=v0, ncv=ncv)
            except ArpackNoConvergence as error:
                raise RuntimeError(
                    f"the top {k} Hessian eigenvalues did not converge ({error}); ask for "
                    "fewer (k) or keep more Lanczos vectors (n_iter)."
                ) from error
        else:  # ARPACK needs k < p; all p eigenvalues come from the dense Hessian
            dense = np.column_stack([op.matvec_numpy(e) for e in np.eye(p)])
            theta, Y = np.linalg.eigh((dense + dense.T) / 2)
    key = theta if which == "LA" else np.abs(theta)
    order = np.argsort(key, kind="stable")[::-1][:k]
    values = theta[order]
    if not return_eigenvectors:
        return values
    vectors = Y[:, order]
    return values, vectors / np.linalg.norm(vectors, axis=0)


@loss_and_data("hessian_trace")
def hessian_trace(
    model: nn.Module,
    X,
    y=None,
    *,
    loss_fn: Callable,
    n_probes: int = 100,
    batch_size: int | None = None,
    random_state=None,
    return_std: bool = False,
):
    r"""Hutchinson estimate of the trace of the Hessian of the training loss.

    Parameters
    ----------
    model, X, y, loss_fn, batch_size
        As in :func:`hessian_vector_product`.
    n_probes : int
        Number of Rademacher probes (Hessian-vector products), at least 2.
    random_state : int, RandomState, Generator or None
        Seed of the probes (see :ref:`random-state`).
    return_std : bool
        Also return the standard error.

    Returns
    -------
    trace : float
    std : float
        Only when ``return_std=True``: the spread of the per-probe estimates
        over the square root of their number.

    Notes
    -----
    For probes :math:`v` with independent :math:`\pm 1` entries,
    :math:`E[v^\top H v] = \operatorname{tr}(H)`, so

    .. math::

        \widehat{\operatorname{tr}}(H) = \frac{1}{K} \sum_{k=1}^K v_k^\top H v_k

    is unbiased, with variance :math:`2 \sum_{i \ne j} H_{ij}^2 / K`. The
    estimator is :func:`effcomplexity.measures.trace.hutchinson`, the one the
    smoother traces use, applied to Hessian-vector products.

    References
    ----------
    M. F. Hutchinson. "A stochastic estimator of the trace of the influence
    matrix for Laplacian smoothing splines". Communications in Statistics,
    1989.

    Z. Yao, A. Gholami, K. Keutzer, M. W. Mahoney. "PyHessian: Neural Networks
    Through the Lens of the Hessian". IEEE BigData 2020.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    >>> y = torch.zeros(2, 1, dtype=torch.float64)
    >>> ecnn.hessian_trace(model, X, y, loss_fn=torch.nn.MSELoss(), n_probes=4, random_state=0,
    ...               return_std=True)
    (5.0, 0.0)
    """
    n_probes = _check_positive_int(n_probes, "n_probes", minimum=2)
    with eval_mode(model, no_grad=False):
        op = _HessianOperator(model, X, y, loss_fn, batch_size)

        def products(V: np.ndarray) -> np.ndarray:
            return np.column_stack([op.matvec_numpy(v) for v in V.T])

        return hutchinson(
            products,
            op.n_params,
            n_probes,
            random_state=random_state,
            return_std=return_std,
        )


@loss_and_data("spectral_density")
def spectral_density(
    model: nn.Module,
    X,
    y=None,
    *,
    loss_fn: Callable,
    n_probes: int = 10,
    n_iter: int | None = None,
    bandwidth: float | None = None,
    grid=None,
    n_grid: int = 1000,
    batch_size: int | None = None,
    random_state=None,
) -> dict[str, np.ndarray | float | int]:
    r"""Eigenvalue density of the Hessian by stochastic Lanczos quadrature.

    Parameters
    ----------
    model, X, y, loss_fn, batch_size
        As in :func:`hessian_vector_product`.
    n_probes : int
        Number of random starting vectors.
    n_iter : int, optional
        Lanczos steps per probe (quadrature nodes); default
        ``min(n_params, 64)``.
    bandwidth : float, optional
        Standard deviation of the Gaussian that smooths each node; default 1%
        of the range of the nodes.
    grid : array-like, optional
        Points at which to evaluate the smoothed density; default ``n_grid``
        points spanning the nodes plus five bandwidths on either side.
    n_grid : int
        Size of the default grid.
    random_state : int, RandomState, Generator or None
        Seed of the probes (see :ref:`random-state`).

    Returns
    -------
    dict
        ``"nodes"`` and ``"weights"``, arrays of shape ``(n_probes, n_iter)``:
        the quadrature rule of each probe (weights sum to one per probe; when
        a probe's Krylov space is exhausted early, the remaining entries repeat
        its last node with weight zero); ``"grid"`` and ``"density"``, the
        smoothed density (integrates to one); ``"bandwidth"``; ``"n_params"``.

    Notes
    -----
    For a unit probe :math:`v`, the spectral measure
    :math:`\mu_v = \sum_i (v^\top u_i)^2 \delta_{\lambda_i}` is approximated by
    the Gauss quadrature rule of ``n_iter`` Lanczos steps started at
    :math:`v`: nodes :math:`\theta_j` (eigenvalues of the tridiagonal
    :math:`T`) and weights :math:`\tau_j^2` (squared first components of its
    eigenvectors), exact for polynomials of degree up to
    :math:`2\,n_{iter} - 1`. Since :math:`E[\mu_v] = \frac{1}{p} \sum_i
    \delta_{\lambda_i}` for normalised Rademacher probes, the averaged rules
    estimate the eigenvalue density, and the smoothed density is

    .. math::

        \phi(t) = \frac{1}{K} \sum_{k=1}^{K} \sum_j \tau_{kj}^2 \,
        \mathcal{N}(t;\, \theta_{kj}, \sigma^2).

    Any spectral sum follows: :math:`\operatorname{tr} f(H) \approx p\,
    \frac{1}{K}\sum_k \sum_j \tau_{kj}^2 f(\theta_{kj})`, which is how
    :func:`effective_dimensionality` uses it with ``method="slq"``.

    References
    ----------
    B. Ghorbani, S. Krishnan, Y. Xiao. "An Investigation into Neural Net
    Optimization via Hessian Eigenvalue Density". ICML 2019.

    Z. Yao, A. Gholami, K. Keutzer, M. W. Mahoney. "PyHessian: Neural Networks
    Through the Lens of the Hessian". IEEE BigData 2020.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    >>> y = torch.zeros(2, 1, dtype=torch.float64)
    >>> out = ecnn.spectral_density(model, X, y, loss_fn=torch.nn.MSELoss(), n_probes=3,
    ...                             random_state=0)
    >>> out["nodes"][0].round(10), out["weights"][0].round(10)
    (array([1., 4.]), array([0.5, 0.5]))
    """
    n_probes = _check_positive_int(n_probes, "n_probes")
    n_grid = _check_positive_int(n_grid, "n_grid", minimum=2)
    with eval_mode(model, no_grad=False):
        op = _HessianOperator(model, X, y, loss_fn, batch_size)
        p = op.n_params
        n_iter = min(p, DEFAULT_SLQ_ITER) if n_iter is None else n_iter
        n_iter = min(_check_positive_int(n_iter, "n_iter"), p)
        V = random_probes(p, n_probes, "rademacher", random_state) / np.sqrt(p)
        nodes = np.zeros((n_probes, n_iter))
        weights = np.zeros((n_probes, n_iter))
        for j in range(n_probes):
            alpha, beta = _lanczos(
                op.matvec_numpy, V[:, j], n_iter, tol=_breakdown_tol(op.ref.dtype)
            )
            theta, Y = _ritz(alpha, beta)
            m = theta.shape[0]
            nodes[j, :m], weights[j, :m] = theta, Y[0] ** 2
            nodes[j, m:] = theta[-1]
    lo, hi = float(nodes.min()), float(nodes.max())
    if bandwidth is None:
        bandwidth = 0.01 * (hi - lo) if hi > lo else 0.01 * max(abs(hi), 1.0)
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}.")
    if grid is None:
        grid = np.linspace(lo - 5 * bandwidth, hi + 5 * bandwidth, n_grid)
    grid = np.asarray(grid, dtype=np.float64).ravel()
    z = (grid[:, None] - nodes.ravel()[None, :]) / bandwidth
    kernel = np.exp(-0.5 * z**2) / (bandwidth * np.sqrt(2 * np.pi))
    density = kernel @ weights.ravel() / n_probes
    return {
        "nodes": nodes,
        "weights": weights,
        "grid": grid,
        "density": density,
        "bandwidth": float(bandwidth),
        "n_params": int(p),
    }


def _neff_terms(eigenvalues: np.ndarray, z: float) -> np.ndarray:
    lam = np.clip(eigenvalues, 0.0, None)
    return lam / (lam + z)


@loss_and_data("effective_dimensionality")
def effective_dimensionality(
    model: nn.Module,
    X,
    y=None,
    *,
    loss_fn: Callable,
    z: float = 1.0,
    k: int | None = None,
    method: str = "lanczos",
    n_iter: int | None = None,
    n_probes: int = 10,
    batch_size: int | None = None,
    random_state=None,
    return_std: bool = False,
):
    r"""Effective dimensionality of the Hessian (Maddox, Benton and Wilson).

    Parameters
    ----------
    model, X, y, loss_fn, batch_size
        As in :func:`hessian_vector_product`.
    z : float
        Regularisation constant :math:`z > 0`: directions with curvature well
        above ``z`` count as one parameter, those well below as none.
    k : int, optional
        ``method="lanczos"``: number of top eigenvalues summed, default
        ``min(DEFAULT_K, n_params)`` (``DEFAULT_K`` = 100).
    method : {"lanczos", "slq"}
        Sum over the top-``k`` eigenvalues (:func:`hessian_eigenvalues`), or
        integrate over the whole spectrum estimated by stochastic Lanczos
        quadrature (:func:`spectral_density`).
    n_iter : int, optional
        Lanczos steps (see :func:`hessian_eigenvalues` and
        :func:`spectral_density`).
    n_probes : int
        ``method="slq"``: number of probes.
    random_state : int, RandomState, Generator or None
        Seed of the probes or of the starting vector (see :ref:`random-state`).
    return_std : bool
        Also return the standard error over probes (``method="slq"``; 0.0 for
        ``"lanczos"``, which is deterministic given the seed).

    Returns
    -------
    n_eff : float
    std : float
        Only when ``return_std=True``.

    Raises
    ------
    ValueError
        If ``z`` is not positive, or ``method`` or ``k`` is invalid.

    See Also
    --------
    effcomplexity.nn.hessian_eigenvalues : The eigenvalues it sums.
    effcomplexity.nn.local_learning_coefficient : Another reading of the loss landscape's dimension.

    Notes
    -----
    .. math::

        N_{eff}(H, z) = \sum_i \frac{\lambda_i}{\lambda_i + z},

    over the top-``k`` eigenvalues :math:`\lambda_i` of the Hessian of the
    training loss. Negative eigenvalues (directions of negative curvature,
    where the formula is undefined near :math:`-z`) count as zero. With
    ``method="slq"`` the sum runs over all :math:`p` eigenvalues:
    :math:`p\,\frac{1}{K}\sum_k \sum_j \tau_{kj}^2 f(\theta_{kj})` with
    :math:`f(\lambda) = \lambda_+/(\lambda_+ + z)`, unbiased when the
    quadrature is exact.

    References
    ----------
    W. J. Maddox, G. Benton, A. G. Wilson. "Rethinking Parameter Counting in
    Deep Models: Effective Dimensionality Revisited". arXiv:2003.02139, 2020.

    B. Ghorbani, S. Krishnan, Y. Xiao. "An Investigation into Neural Net
    Optimization via Hessian Eigenvalue Density". ICML 2019.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    >>> y = torch.zeros(2, 1, dtype=torch.float64)
    >>> round(ecnn.effective_dimensionality(model, X, y, loss_fn=torch.nn.MSELoss(), z=1.0), 10)
    1.3
    """
    check_positive_real(z, "z")
    if method not in _NEFF_METHODS:
        raise ValueError(f"method must be one of {_NEFF_METHODS}, got {method!r}.")
    common = {"batch_size": batch_size, "random_state": random_state, "n_iter": n_iter}
    if method == "lanczos":
        if k is None:
            n_params = sum(p.numel() for p in _trainable(model))
            k = min(DEFAULT_K, n_params)
        eigenvalues = hessian_eigenvalues(model, X, y, loss_fn=loss_fn, k=k, **common)
        value, std = float(_neff_terms(eigenvalues, z).sum()), 0.0
    else:
        density = spectral_density(model, X, y, loss_fn=loss_fn, n_probes=n_probes, **common)
        per_probe = density["n_params"] * np.sum(
            density["weights"] * _neff_terms(density["nodes"], z), axis=1
        )
        value, std = mean_std_error(per_probe)
    return (value, std) if return_std else value
