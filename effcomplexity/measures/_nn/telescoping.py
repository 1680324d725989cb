"""Telescoping effective parameters of a network trained with squared loss.

Every optimisation step changes the network's prediction at any input by, to
first order, its gradient times the parameter update. For squared loss the
update is linear in the training labels once the network's trajectory is
fixed, so the accumulated first-order changes write the trained network as a
linear smoother of the labels plus a label-free offset (Jeffares, Curth and
van der Schaar 2024). :class:`TelescopingTracker` follows that smoother step
by step alongside an ordinary training loop and reports its effective
parameters (Curth et al. 2023) on training and held-out inputs. The
optimisers' update rules it applies to the smoother live in
``optim_rules.py``, tested against ``torch.optim`` itself.
"""

from __future__ import annotations

import logging
import numbers
import warnings

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, vjp, vmap

from ..._validation import check_int
from .._probes import mean_std_error, paired_ratio_std_error, random_probes
from ._deprecation import tracker_data
from ._layers import eval_mode, to_model_device
from .optim_rules import (
    adam_denominator,
    adam_first_moment,
    adam_update,
    coupled_weight_decay,
    decoupled_weight_decay,
    sgd_momentum_buffer,
    sgd_update,
)

__all__ = ["TelescopingTracker"]

logger = logging.getLogger(__name__)

#: Probes used by ``method="probe"`` when ``n_probes`` is not given.
DEFAULT_N_PROBES = 20
#: ``method="exact"`` refuses smoothers with more entries than this (2 GB in float64).
EXACT_MAX_ENTRIES = 250_000_000

_METHODS = ("exact", "probe")
_LOSSES = ("mse", "half_mse", "sse")
_ON = ("train", "eval")
_SUPPORTED_OPTIMIZERS = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)
_TRAIN_MODE_MODULES = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


class TelescopingTracker:
    r"""Follow the telescoping (linearised-training) smoother of a network.

    The tracker is created before the optimiser's first step and called once
    per training step, after ``loss.backward()`` and right before
    ``optimizer.step()``, with the indices of the batch the loss was computed
    on. At any step it reports the effective
    parameters ``p_train`` and ``p_test`` of the smoother and the linearised
    predictions :math:`s_t(x) \cdot y + c_t(x)`, which track the network's own.

    Parameters
    ----------
    model : torch.nn.Module
        The network, before its first training step. Its outputs must have
        shape ``(N,)`` or ``(N, K)``; the trainable parameters are those with
        ``requires_grad=True``.
    X : tensor or array-like of shape (n, ...)
        All training inputs; ``batch_indices`` index its rows.
    y : tensor or array-like of shape (n,) or (n, K), optional
        Training targets, needed for :meth:`predictions`.
    X_eval : tensor or array-like of shape (m, ...), optional
        Held-out inputs for ``p_test`` and eval predictions.
    method : {"exact", "probe"}
        ``"exact"`` keeps the whole smoother, computed from the empirical
        tangent kernel (per-sample Jacobians by ``torch.func``); its memory
        grows as :math:`(n + m) n K^2` and each step forms the Jacobian
        rows of the ``n + m`` inputs and multiplies them with the batch's,
        :math:`(n + m) K \cdot bK \cdot (p + nK)` flops for a batch of
        ``b`` (with momentum or Adam, whose buffer lives in parameter space,
        :math:`(n + m + b) K \cdot p \cdot nK`), so it suits small ``n``. ``"probe"`` keeps the
        smoother applied to ``n_probes`` random label vectors (and, with
        ``y``, the linearised predictions as one more column),
        propagated by vector-Jacobian products on the batch and
        Jacobian-vector products on all ``n + m`` inputs (``torch.func.vjp``
        / ``jvp``), never forming a kernel. Each tracked column costs about
        one forward and one backward pass over the batch plus two forward
        passes over the ``n + m`` inputs, every step; with mini-batches of
        size ``b`` the tracker therefore costs of order
        :math:`(n + m) / b` times the number of columns plain steps.
    n_probes : int, optional
        Rademacher probes for ``method="probe"`` (default
        ``DEFAULT_N_PROBES`` = 20), at least 2.
    loss : {"mse", "half_mse", "sse"}
        The squared loss the training loop minimises on each batch ``B``:
        ``"mse"`` is :math:`\frac{1}{|B| K} \sum_{i \in B} \lVert f(x_i) - y_i
        \rVert^2` (``torch.nn.MSELoss()``), ``"half_mse"`` half of it, and
        ``"sse"`` the plain sum (``MSELoss(reduction="sum")``).
    chunk_size : int, optional
        Evaluate Jacobians and Jacobian-vector products on this many inputs at
        a time, to bound memory.
    random_state : int, RandomState, Generator or None
        Seed of the probes, drawn when the tracker is built (see
        :ref:`random-state`).

    Attributes
    ----------
    n_steps_ : int
        Steps tracked so far.
    n_train_, n_eval_ : int
        Rows of ``X`` and ``X_eval`` (0 without it).
    n_outputs_ : int
        Outputs :math:`K` per input.
    n_params_ : int
        Trainable parameters :math:`p`.
    probes_ : ndarray of shape (n, K, n_probes) or None
        The probe label vectors (``method="probe"``).

    Raises
    ------
    ValueError
        On an unknown ``method`` or ``loss`` (the smoother exists only for
        squared loss), inputs of mismatched shapes, or an exact smoother too
        large to hold.

    See Also
    --------
    effcomplexity.nn.Monitor : Records the tracker's p_train and p_test at checkpoints.
    effcomplexity.effective_parameters : The same measure for smoothers of fitted models.

    Notes
    -----
    **Recursion.** Write :math:`J_t(x)` for the Jacobian of the outputs at
    :math:`x` with respect to the parameters :math:`\theta_t`, and
    :math:`\hat f_{t-1} = S_{t-1} y + c_{t-1}` for the linearised predictions on
    the training inputs. With the loss scaled so that its gradient is
    :math:`g_t = \frac{1}{|B_t|} J_t(X_{B_t})^\top (\hat f_{t-1} - y)_{B_t}` (the
    ``"half_mse"`` scale for :math:`K = 1`; other scales multiply it), plain
    SGD with preconditioner :math:`P_t` moves every prediction by
    :math:`-\eta_t J_t(x) P_t g_t`, which gives

    .. math::

        s_t(x) &= s_{t-1}(x) + \frac{\eta_t}{|B_t|}\, k_t(x)^\top
                  D_{B_t} (I - S_{t-1}), \\
        c_t(x) &= c_{t-1}(x) - \frac{\eta_t}{|B_t|}\, k_t(x)^\top
                  D_{B_t}\, c_{t-1}(X),

    with :math:`k_t(x)_i = \nabla f(x)^\top P_t \nabla f(x_i)` the
    tangent kernel, :math:`D_{B_t}` the diagonal indicator (multiplicity) of
    the batch, :math:`S_0 = 0` and :math:`c_0 = f_{\theta_0}`, the network at
    initialisation. Coupled weight decay :math:`\lambda \theta_t` enters the
    gradient, and decoupled decay the update, through the offset only.

    **Optimisers.** The tracker reads the optimiser's hyperparameters from
    its parameter groups at every step, so learning-rate schedules are
    followed.

    * ``torch.optim.SGD``: :math:`P_t = I`. Momentum, dampening and Nesterov
      are *not* approximated: the momentum buffer is linear in the past
      gradients, so the tracker carries it as a linear map of the labels
      (one buffer per tracked column, in parameter space) and applies
      exactly the optimiser's recursion to it. The update is then
      :math:`-\eta_t J_t(x) b_t` rather than a single-step kernel.
    * ``torch.optim.Adam`` / ``AdamW``: the first moment is carried linearly
      like the momentum buffer, bias correction included. The second moment
      is not linear in the labels; the approximation is a diagonal
      preconditioner frozen at its realised value,
      :math:`P_t = \operatorname{diag}\big(1 / (\sqrt{\hat v_t} +
      \epsilon)\big)`, with :math:`\hat v_t` the optimiser's own
      bias-corrected second moment after this step's gradient (``amsgrad``:
      its running maximum), computed from the optimiser state and the
      parameters' ``.grad``.

    Gradient clipping, closures and ``maximize=True`` are not modelled.

    **Edge of stability.** The tracker is a linear recursion: on the training
    inputs its residuals evolve as :math:`r_t = (I - \eta_t K_t) r_{t-1}` (with
    momentum, a two-step version of it), :math:`K_t` the preconditioned
    tangent kernel. It is stable only while the largest eigenvalue of
    :math:`K_t` stays below the optimiser's threshold: :math:`2/\eta` for
    plain gradient descent, :math:`2(1 + \mu)/\eta` with heavy-ball momentum
    :math:`\mu`, and :math:`2(1 + \beta_1)/((1 - \beta_1)\eta)` for Adam,
    whose preconditioner :math:`P_t` enters :math:`K_t`. Full-batch training
    often sharpens until it reaches that threshold and then stays there (the
    edge of stability; Cohen et al. 2021, 2022), held by effects of second
    order in the step that a first-order model does not have. From then on
    the tracked predictions drift from the network's exponentially, in
    float64 as in float32, and ``p_train`` / ``p_test`` measure nothing the
    network does: compare :meth:`predictions` with the network's outputs
    before trusting them. Gromov's modular-addition MLP under AdamW (lr
    2e-3, betas (0.9, 0.98)) crosses the threshold near step 90 with weight
    decay 4 (relative gap 0.8% at step 100, 94 at step 125) and stays at
    an eighth of it with weight decay 16, where the tracker follows the
    network through grokking (gap under 4% for 1,000 steps).

    **Effective parameters.** With :math:`K` outputs the smoother maps the
    :math:`n \times K` label matrix to each output, so :math:`s_t(x)` for
    output :math:`c` has :math:`nK` entries (cross-output couplings through
    shared parameters included), and

    .. math::

        \hat p(I_0) = \frac{n}{|I_0|\, K} \sum_{j \in I_0}
                      \sum_{c=1}^{K} \lVert s_t(x_j)_c \rVert^2,

    the mean over outputs of Curth et al.'s :math:`\hat p`; ``output=c``
    reports one output's value instead. The probe path estimates it from
    :math:`E_z[(s(x) \cdot z)^2] = \lVert s(x) \rVert^2` with a standard
    error over probes (:meth:`p_per_probe` gives each probe's value).

    **What is stored.** The exact path keeps :math:`S_t` and :math:`c_t` on
    the ``n + m`` inputs (so :meth:`smoother_matrix`, :meth:`offsets` and
    :meth:`predictions` for the given labels); the probe path keeps
    :math:`S_t Z` for the probes :math:`Z` and, with ``y``, the
    predictions :math:`S_t y + c_t` as one column. Momentum and Adam add one
    parameter-space buffer of the same number of columns.

    **Ratio.** :meth:`p_ratio` reports :math:`\hat p_{test} / \hat
    p_{train}`, the quantity grokking studies follow. On the probe path both
    come from the same probes :math:`z_k`, so their errors are correlated;
    its standard error is the delta method on the per-probe pairs
    :math:`(a_k, b_k)` of :meth:`p_per_probe`,
    :math:`\frac{1}{\bar b \sqrt{k}} (s_a^2 - 2 R s_{ab} + R^2
    s_b^2)^{1/2}` with :math:`R = \bar a / \bar b` and the probes' sample
    (co)variances, not the one for two independent means.

    **Precision.** Each step's Jacobians, kernel products, JVPs and VJPs run
    in the dtype of the network's parameters; the tracked columns are
    accumulated in float64. A float32 network is therefore tracked in
    float32 arithmetic, in about 60% of the time of float64: its tracking
    gap and :math:`\hat p` agree with those of the same network in
    float64 to better than :math:`10^{-5}` (relative; measured about
    :math:`10^{-7}` after 60 momentum steps), far inside the sweeps'
    ``TRACKING_TOLERANCE`` of 0.1. For a float64 trajectory, pass a
    float64 network (``model.double()`` and float64 inputs).

    **Modes.** Jacobians are taken with the network in eval mode (its mode is
    restored after each call), so dropout and batch norm are linearised as in
    inference; a warning says so when the network has such modules.

    References
    ----------
    A. Jeffares, A. Curth, M. van der Schaar. "Deep Learning Through A
    Telescoping Lens: A Simple Model Provides Empirical Insights On Grokking,
    Gradient Boosting & Beyond". NeurIPS 2024.

    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar. "Gradient Descent
    on Neural Networks Typically Occurs at the Edge of Stability". ICLR 2021;
    J. Cohen et al. "Adaptive Gradient Methods at the Edge of Stability".
    arXiv:2207.14484, 2022.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> X, y = torch.randn(32, 3), torch.randn(32, 1)
    >>> X_test = torch.randn(16, 3)
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    >>> tracker = ecnn.TelescopingTracker(model, X, y, X_eval=X_test)
    >>> loss_fn = torch.nn.MSELoss()
    >>> for epoch in range(5):
    ...     for idx in torch.randperm(32).split(8):
    ...         optimizer.zero_grad()
    ...         loss_fn(model(X[idx]), y[idx]).backward()
    ...         tracker.step(optimizer, idx)  # right before optimizer.step()
    ...         optimizer.step()
    >>> 0 < tracker.p_train() < 32 and tracker.p_test() > 0
    True
    >>> net = model(X_test).detach().numpy()
    >>> bool(abs(tracker.predictions("eval") - net).max() < 0.05 * abs(net).max())
    True
    """

    @tracker_data()
    def __init__(
        self,
        model: nn.Module,
        X,
        y=None,
        *,
        X_eval=None,
        method: str = "exact",
        n_probes: int | None = None,
        loss: str = "mse",
        chunk_size: int | None = None,
        random_state=None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
        if loss not in _LOSSES:
            raise ValueError(
                f"loss must be one of {_LOSSES}: the telescoping smoother is defined for "
                f"squared loss, whose gradient is linear in the labels; got {loss!r}."
            )
        if chunk_size is not None:
            check_int(chunk_size, "chunk_size")
        named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError(f"{type(model).__name__} has no trainable parameters.")
        if any(isinstance(module, _TRAIN_MODE_MODULES) for module in model.modules()):
            warnings.warn(
                "the network has dropout or batch-norm modules; the tracker linearises "
                "it in eval mode, so its predictions follow the eval-mode network.",
                UserWarning,
                stacklevel=3,  # the caller, past the wrapper that accepts the old spelling
            )
        self.model = model
        self.method = method
        self.loss = loss
        self.chunk_size = chunk_size
        self._names = [name for name, _ in named]
        self._params = [p for _, p in named]
        self._ref = self._params[0]
        self._sizes = [p.numel() for p in self._params]
        self.n_params_ = sum(self._sizes)

        X = self._as_inputs(X, "X")
        self.n_train_ = X.shape[0]
        if X_eval is None:
            self.n_eval_ = 0
            self._X = X
        else:
            X_eval = self._as_inputs(X_eval, "X_eval")
            if X_eval.shape[1:] != X.shape[1:] or X_eval.dtype != X.dtype:
                raise ValueError(
                    f"X_eval rows have shape {tuple(X_eval.shape[1:])} but X rows "
                    f"have shape {tuple(X.shape[1:])}; both must be inputs of the model."
                )
            self.n_eval_ = X_eval.shape[0]
            self._X = torch.cat([X, X_eval])

        with eval_mode(model):
            f0 = model(self._X[: min(2, self._X.shape[0])])
        if f0.dim() not in (1, 2):
            raise ValueError(
                f"the model's outputs must have shape (N,) or (N, K), got {tuple(f0.shape)}."
            )
        self._scalar_output = f0.dim() == 1
        self.n_outputs_ = 1 if self._scalar_output else f0.shape[1]
        n, K = self.n_train_, self.n_outputs_

        self._y = None if y is None else self._as_targets(y)
        if method == "exact":
            n_entries = (n + self.n_eval_) * K * n * K
            if n_entries > EXACT_MAX_ENTRIES:
                raise ValueError(
                    f"the exact smoother would hold {n_entries:,} entries (more than "
                    f"{EXACT_MAX_ENTRIES:,}); use method='probe'."
                )
            self.n_probes = None
            self.probes_ = None
            labels = torch.eye(n * K, dtype=torch.float64).reshape(n, K, n * K)
        else:
            if n_probes is None:
                n_probes = DEFAULT_N_PROBES
            self.n_probes = check_int(
                n_probes, "n_probes", minimum=2, why="a standard error needs two probes"
            )
            self.probes_ = random_probes(n * K, self.n_probes, "rademacher", random_state).reshape(
                n, K, self.n_probes
            )
            labels = torch.as_tensor(self.probes_)
        self._n_smoother_cols = labels.shape[2]
        # Columns: the smoother applied to each label column, then one affine
        # column carrying the offset: c_t itself on the exact path, the
        # linearised predictions S_t y + c_t on the probe path (when y
        # is given; p-hat alone needs no affine column).
        extra = []
        if method == "exact":
            extra.append(torch.zeros(n, K, 1, dtype=torch.float64))
        elif self._y is not None:
            extra.append(self._y.unsqueeze(2))
        self._affine_col = self._n_smoother_cols if extra else None
        self._labels = torch.cat([labels, *extra], dim=2).to(self._ref.device)
        r = self._labels.shape[2]

        params = self._current_params()
        with eval_mode(model):
            outputs = torch.cat([self._f(params, Xc) for Xc in self._chunks(self._X)])
        self._Q = torch.zeros(self._X.shape[0], K, r, dtype=torch.float64, device=self._ref.device)
        if self._affine_col is not None:
            self._Q[:, :, self._affine_col] = outputs.to(torch.float64)

        self._optimizer = None
        self._buffer = None
        self._param_steps = [0] * len(self._params)
        self.n_steps_ = 0

    # ------------------------------------------------------------------ input checks

    def _as_inputs(self, X, name: str) -> torch.Tensor:
        X = to_model_device(X, self._ref)
        if X.dim() < 1 or X.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one input row, got {tuple(X.shape)}.")
        if X.is_floating_point() and not torch.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinity.")
        return X

    def _as_targets(self, y) -> torch.Tensor:
        y = torch.as_tensor(y.detach().cpu() if isinstance(y, torch.Tensor) else np.asarray(y))
        if not (y.is_floating_point() or y.dtype in (torch.int32, torch.int64)):
            raise ValueError(f"y must be numeric, got dtype {y.dtype}.")
        y = y.to(torch.float64)
        n, K = self.n_train_, self.n_outputs_
        if y.dim() == 1 and K == 1:
            y = y[:, None]
        if y.dim() != 2 or y.shape != (n, K):
            raise ValueError(
                f"y must have shape ({n},{' ' + str(K) if K > 1 else ''}) to match "
                f"X and the model's {K} output(s), got {tuple(y.shape)}."
            )
        if not torch.isfinite(y).all():
            raise ValueError("y contains NaN or infinity.")
        return y.to(self._ref.device)

    def _check_indices(self, batch_indices) -> torch.Tensor:
        if batch_indices is None:
            return torch.arange(self.n_train_, device=self._ref.device)
        if isinstance(batch_indices, torch.Tensor):
            idx = batch_indices.detach().cpu().numpy()
        else:
            idx = np.asarray(batch_indices)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(
                "batch_indices must be a non-empty 1-D array of integer row indices into "
                f"X, got shape {idx.shape} and dtype {idx.dtype}."
            )
        if idx.min() < 0 or idx.max() >= self.n_train_:
            raise ValueError(
                f"batch_indices must lie in [0, {self.n_train_}) (rows of X), got "
                f"values from {idx.min()} to {idx.max()}."
            )
        return torch.as_tensor(idx, dtype=torch.int64, device=self._ref.device)

    # ------------------------------------------------------------------ functional model

    def _current_params(self) -> dict[str, torch.Tensor]:
        return {name: p.detach() for name, p in zip(self._names, self._params, strict=True)}

    def _f(self, params: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
        """Outputs of the network with parameters ``params`` as an (N, K) tensor."""
        state = {**dict(self.model.named_buffers()), **params}
        out = functional_call(self.model, state, (X,))
        return out.reshape(X.shape[0], self.n_outputs_)

    def _chunks(self, X: torch.Tensor) -> list[torch.Tensor]:
        size = X.shape[0] if self.chunk_size is None else self.chunk_size
        return list(X.split(size))

    def _flat(self, tensors: dict[str, torch.Tensor], lead: tuple[int, ...]) -> torch.Tensor:
        return torch.cat([tensors[name].reshape(*lead, -1) for name in self._names], dim=-1)

    def _unflat(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = flat.split(self._sizes, dim=-1)
        return {
            name: part.reshape(*flat.shape[:-1], *p.shape)
            for name, part, p in zip(self._names, parts, self._params, strict=True)
        }

    def _jacobian(self, params: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
        """Per-input Jacobians of the outputs on X, shape (N, K, p)."""

        def single(theta, x):
            return self._f(theta, x.unsqueeze(0))[0]

        jac = vmap(jacrev(single), in_dims=(None, 0))(params, X)
        return self._flat(jac, (X.shape[0], self.n_outputs_))

    def _vjp(self, params: dict[str, torch.Tensor], idx: torch.Tensor | slice, M: torch.Tensor):
        """``J_B^T M`` for cotangents M of shape (b, K, r); returns (p, r)."""
        _, pullback = vjp(lambda theta: self._f(theta, self._X[idx]), params)
        (grads,) = vmap(pullback)(M.permute(2, 0, 1).contiguous())
        return self._flat(grads, (M.shape[2],)).T

    def _jvp(self, params: dict[str, torch.Tensor], U: torch.Tensor) -> torch.Tensor:
        """``J(x) U`` on every tracked input for directions U of shape (p, r)."""
        tangents = self._unflat(U.T.contiguous())
        blocks = []
        for Xc in self._chunks(self._X):

            def push(tangent, Xc=Xc):
                return jvp(lambda theta: self._f(theta, Xc), (params,), (tangent,))[1]

            blocks.append(vmap(push)(tangents))
        return torch.cat(blocks, dim=1).permute(1, 2, 0)

    # ------------------------------------------------------------------ optimiser

    def _loss_factor(self, batch_size: int) -> float:
        """d loss / d f(x_i) per unit residual."""
        K = self.n_outputs_
        return {"mse": 2.0 / (batch_size * K), "half_mse": 1.0 / (batch_size * K), "sse": 2.0}[
            self.loss
        ]

    def _groups(self, optimizer) -> list[dict | None]:
        """Parameter group of each tracked parameter (None when not optimised)."""
        if type(optimizer) not in _SUPPORTED_OPTIMIZERS:
            names = ", ".join(f"torch.optim.{cls.__name__}" for cls in _SUPPORTED_OPTIMIZERS)
            raise TypeError(
                f"TelescopingTracker supports {names}; got {type(optimizer).__name__}, "
                "whose update is not modelled."
            )
        if self._optimizer is not None and optimizer is not self._optimizer:
            raise ValueError(
                "step() received a different optimizer from earlier steps; one tracker "
                "follows one optimizer."
            )
        owner = {}
        for group in optimizer.param_groups:
            if group.get("maximize", False):
                raise ValueError("maximize=True is not supported: the loss must be minimised.")
            for p in group["params"]:
                owner[id(p)] = group
        groups = [owner.get(id(p)) for p in self._params]
        if all(group is None for group in groups):
            raise ValueError("the optimizer holds none of the model's trainable parameters.")
        self._optimizer = optimizer
        return groups

    def _vector(self, values: list[float]) -> torch.Tensor:
        """Flat per-parameter vector from one value per parameter tensor."""
        return torch.cat(
            [
                torch.full((size,), float(value), dtype=self._ref.dtype, device=self._ref.device)
                for size, value in zip(self._sizes, values, strict=True)
            ]
        )

    def _check_state(self, optimizer, groups: list[dict | None], active: list[bool]) -> None:
        """The optimiser must have taken exactly the steps this tracker saw."""
        for p, group, on, seen in zip(self._params, groups, active, self._param_steps, strict=True):
            if not on:
                continue
            state = optimizer.state.get(p, {})
            if isinstance(optimizer, torch.optim.Adam):
                consistent = int(state.get("step", 0)) == seen
            elif group.get("momentum", 0.0):
                consistent = (state.get("momentum_buffer") is not None) == (seen > 0)
            else:
                consistent = True
            if not consistent:
                raise RuntimeError(
                    "the optimizer's state does not match the steps this tracker has seen: "
                    "create the tracker before the first optimizer step and call "
                    "tracker.step(optimizer, batch_indices) right before every "
                    "optimizer.step()."
                )

    def _direction(
        self, optimizer, groups: list[dict | None], G: torch.Tensor, theta: torch.Tensor
    ) -> torch.Tensor:
        """Parameter update (p, r) for label-linear gradient columns G (p, r)."""
        active = self._active(groups)
        self._check_state(optimizer, groups, active)
        get = [g if on else {} for g, on in zip(groups, active, strict=True)]
        mask = self._vector([float(on) for on in active])
        lr = self._vector([float(g.get("lr", 0.0)) for g in get]) * mask
        wd = self._vector([float(g.get("weight_decay", 0.0)) for g in get])
        first = self._vector([float(seen == 0) for seen in self._param_steps])
        affine = self._affine_col
        if isinstance(optimizer, torch.optim.SGD):
            if affine is not None:
                G[:, affine] = coupled_weight_decay(G[:, affine], theta, wd)
            U = self._sgd_direction(get, mask, first, lr, G)
        else:
            decoupled = [
                isinstance(optimizer, torch.optim.AdamW) or g.get("decoupled_weight_decay", False)
                for g in get
            ]
            coupled_wd = wd * self._vector([0.0 if d else 1.0 for d in decoupled])
            if affine is not None:
                G[:, affine] = coupled_weight_decay(G[:, affine], theta, coupled_wd)
            beta1 = self._vector([float(g.get("betas", (0.0, 0.0))[0]) for g in get])
            if self._buffer is None:
                self._buffer = torch.zeros_like(G)
            m = adam_first_moment(self._buffer, G, beta1=beta1[:, None])
            self._buffer = torch.where(mask[:, None] > 0, m, self._buffer)
            steps = [seen + 1 for seen in self._param_steps]
            bias1 = self._vector(
                [
                    1.0 - float(g.get("betas", (0.0, 0.0))[0]) ** t
                    for g, t in zip(get, steps, strict=True)
                ]
            )
            denom = self._adam_denominator(optimizer, get, active, steps)
            U = adam_update(m, denom[:, None], lr=lr[:, None], bias1=bias1[:, None])
            if affine is not None:
                U[:, affine] += decoupled_weight_decay(theta, lr, wd - coupled_wd)
        for i, on in enumerate(active):
            self._param_steps[i] += int(on)
        return U

    def _sgd_direction(self, get, mask, first, lr, G) -> torch.Tensor:
        """torch.optim.SGD's update applied to every column, momentum buffer included."""
        if not any(g.get("momentum", 0.0) for g in get):
            return sgd_update(G, None, lr=lr[:, None])
        if self._one_group(get):
            return self._sgd_momentum_one_group(get[0], G)
        if self._buffer is None:
            self._buffer = torch.zeros_like(G)
        mom = self._vector([float(g.get("momentum", 0.0)) for g in get])[:, None]
        damp = self._vector(
            [float(g.get("dampening", 0.0)) if g.get("momentum", 0.0) else 0.0 for g in get]
        )[:, None]
        nesterov = self._vector([float(bool(g.get("nesterov", False))) for g in get])[:, None]
        buf = sgd_momentum_buffer(
            self._buffer, G, first=first[:, None], momentum=mom, dampening=damp
        )
        self._buffer = torch.where(mask[:, None] > 0, buf, self._buffer)
        return sgd_update(G, buf, lr=lr[:, None], momentum=mom, nesterov=nesterov)

    def _one_group(self, get) -> bool:
        """Every parameter optimised this step, by one group, with as many steps behind it."""
        return all(g is get[0] for g in get) and bool(get[0]) and len(set(self._param_steps)) == 1

    def _sgd_momentum_one_group(self, group: dict, G: torch.Tensor) -> torch.Tensor:
        """``sgd_momentum_buffer`` and ``sgd_update`` with scalar settings, in place.

        The rules' per-coordinate form allocates several ``p x r`` temporaries,
        which cost as much as the Jacobian product when ``r = nK + 1``.
        """
        lr, mom = float(group["lr"]), float(group["momentum"])
        if self._param_steps[0] == 0:
            self._buffer = G.clone()
        else:
            if self._buffer is None:
                self._buffer = torch.zeros_like(G)
            self._buffer.mul_(mom).add_(G, alpha=1.0 - float(group.get("dampening", 0.0)))
        if group.get("nesterov", False):
            return G.add_(self._buffer, alpha=mom).mul_(-lr)
        return self._buffer.mul(-lr)

    def _adam_denominator(self, optimizer, get, active, steps) -> torch.Tensor:
        """Adam's realised per-coordinate denominator after this step's gradient."""
        parts = []
        for p, group, on, t in zip(self._params, get, active, steps, strict=True):
            if not on:
                parts.append(torch.ones(p.numel(), dtype=self._ref.dtype, device=p.device))
                continue
            state = optimizer.state.get(p, {})
            beta2 = float(group["betas"][1])
            grad = p.grad.detach()
            decoupled = isinstance(optimizer, torch.optim.AdamW) or group.get(
                "decoupled_weight_decay", False
            )
            if group["weight_decay"] and not decoupled:
                grad = grad.add(p.detach(), alpha=group["weight_decay"])
            denom, _, _ = adam_denominator(
                state.get("exp_avg_sq"),
                grad,
                beta2=beta2,
                eps=group["eps"],
                step=t,
                max_exp_avg_sq=state.get("max_exp_avg_sq"),
                amsgrad=group.get("amsgrad", False),
            )
            parts.append(denom.reshape(-1))
        return torch.cat(parts)

    # ------------------------------------------------------------------ the step

    def step(self, optimizer: torch.optim.Optimizer, batch_indices=None) -> None:
        """Advance the smoother by the update ``optimizer.step()`` is about to make.

        Call it after ``loss.backward()`` and right before ``optimizer.step()``,
        once per step, starting with the first.

        Parameters
        ----------
        optimizer : torch.optim.SGD, Adam or AdamW
            The optimizer training the model (the same object every step).
        batch_indices : tensor or array-like of int, optional
            Rows of ``X`` in this step's batch, repeats counted as in
            the loss; ``None`` for full-batch training.

        Raises
        ------
        TypeError
            If the optimizer is not one of the supported ones.
        ValueError
            If the indices are not valid rows of ``X`` or the optimizer
            changes between steps.
        RuntimeError
            If the optimizer's state shows steps the tracker did not see.
        """
        idx = self._check_indices(batch_indices)
        scale = self._loss_factor(idx.shape[0])
        if batch_indices is None:
            idx = slice(0, self.n_train_)  # full batch: views of the rows, not copies
        groups = self._groups(optimizer)
        params = self._current_params()
        theta = self._flat(params, ()).to(self._ref.dtype)
        dtype = self._ref.dtype
        # Residual of every column on the batch: linearised prediction minus label.
        M = (self._Q[idx] - self._labels[idx]).to(dtype)
        with eval_mode(self.model):
            if self.method == "exact":
                self._exact_step(optimizer, groups, params, idx, M, scale, theta)
            else:
                G = scale * self._vjp(params, idx, M)
                U = self._direction(optimizer, groups, G, theta)
                # In place: the float32 change is promoted as it is added, never copied.
                self._Q += self._jvp(params, U)
        self.n_steps_ += 1

    def _exact_step(self, optimizer, groups, params, idx, M, scale, theta) -> None:
        """Move every tracked column by its change, from explicit per-input Jacobians.

        Plain SGD (no buffer) goes through the empirical tangent kernel
        ``J(x) diag(lr) J_B^T`` when that is the cheaper product order; the
        label-free weight decay part then comes from the parameter-space rule.
        Jacobians are formed ``chunk_size`` inputs at a time; in one chunk the
        batch's rows are read from the Jacobian of all inputs rather than
        formed again.
        """
        chunks = self._chunks(self._X)
        J_all = self._jacobian(params, self._X) if len(chunks) == 1 else None
        if J_all is None:
            J_B = self._jacobian(params, self._X[idx]).flatten(0, 1)
        else:
            J_B = J_all[idx].flatten(0, 1)
        M = M.flatten(0, 1)
        uses_buffer = isinstance(optimizer, torch.optim.Adam) or any(
            g is not None and g.get("momentum", 0.0) for g in groups
        )
        if not uses_buffer and self._kernel_is_cheaper(J_B.shape[0], M.shape[1]):
            active = self._active(groups)
            lr = self._vector(
                [float(g["lr"]) if on else 0.0 for g, on in zip(groups, active, strict=True)]
            )
            offset = self._weight_decay_update(optimizer, groups, theta)
            right = (J_B * lr).T
            residual = -scale * M

            def change(J_c):
                out = (J_c @ right) @ residual
                out[:, self._affine_col] += J_c @ offset
                return out

        else:
            U = self._direction(optimizer, groups, scale * (J_B.T @ M), theta)

            def change(J_c):
                return J_c @ U

        start = 0
        for Xc in chunks:
            J_c = J_all if J_all is not None else self._jacobian(params, Xc)
            rows = slice(start, start + Xc.shape[0])
            self._Q[rows] += change(J_c.flatten(0, 1)).reshape(*J_c.shape[:2], -1)
            start = rows.stop

    def _weight_decay_update(self, optimizer, groups, theta) -> torch.Tensor:
        """Plain SGD's update (p,) from coupled weight decay alone: the offset's own part."""
        active = self._active(groups)
        self._check_state(optimizer, groups, active)
        get = [g if on else {} for g, on in zip(groups, active, strict=True)]
        mask = self._vector([float(on) for on in active])
        lr = self._vector([float(g.get("lr", 0.0)) for g in get]) * mask
        wd = self._vector([float(g.get("weight_decay", 0.0)) for g in get])
        U = sgd_update(coupled_weight_decay(torch.zeros_like(theta), theta, wd), None, lr=lr)
        for i, on in enumerate(active):
            self._param_steps[i] += int(on)
        return U

    def _kernel_is_cheaper(self, bK: int, r: int) -> bool:
        NK = self._X.shape[0] * self.n_outputs_
        kernel = NK * bK * (self.n_params_ + r)
        params = (bK + NK) * self.n_params_ * r
        logger.debug("exact step: kernel cost %d, parameter-space cost %d", kernel, params)
        return kernel < params

    def _active(self, groups: list[dict | None]) -> list[bool]:
        """Parameters the optimiser updates this step (in a group, with a gradient)."""
        return [
            g is not None and p.grad is not None for g, p in zip(groups, self._params, strict=True)
        ]

    # ------------------------------------------------------------------ reporting

    def _rows(self, on: str) -> slice:
        if on not in _ON:
            raise ValueError(f"on must be one of {_ON}, got {on!r}.")
        if on == "train":
            return slice(0, self.n_train_)
        if self.n_eval_ == 0:
            raise ValueError("no evaluation inputs: pass X_eval when creating the tracker.")
        return slice(self.n_train_, None)

    def _check_output(self, output: int | None) -> None:
        if output is not None and not (
            isinstance(output, numbers.Integral) and 0 <= output < self.n_outputs_
        ):
            raise ValueError(
                f"output must be None or an integer in [0, {self.n_outputs_}), got {output!r}."
            )

    def _squared_norms(self, on: str, output: int | None) -> torch.Tensor:
        """The p-hat of each smoother column (each probe, or each unit label) on ``on``."""
        rows = self._rows(on)
        self._check_output(output)
        S = self._Q[rows, :, : self._n_smoother_cols]
        if output is not None:
            S = S[:, output : output + 1]
        m, n, K = S.shape[0], self.n_train_, S.shape[1]
        return n / (m * K) * (S**2).sum(dim=(0, 1))

    def _p_hat(self, on: str, output: int | None, return_std: bool):
        per_column = self._squared_norms(on, output)
        if self.method == "exact":
            value, std = float(per_column.sum()), 0.0
        else:
            value, std = mean_std_error(per_column.cpu().numpy())
        return (value, std) if return_std else value

    def p_per_probe(self, on: str = "train", *, output: int | None = None) -> np.ndarray:
        r"""The probe path's estimate of :math:`\hat p` from each probe alone.

        Parameters
        ----------
        on : {"train", "eval"}
        output : int, optional
            One output's values; default the mean over outputs.

        Returns
        -------
        ndarray of shape (n_probes,)
            Entry ``k`` is :math:`\frac{n}{|I_0| K} \sum_{j, c} (s_t(x_j)_c
            \cdot z_k)^2` for probe :math:`z_k`; their mean is
            :meth:`p_train` or :meth:`p_test`. The same probes serve both, so
            the values on ``"train"`` and ``"eval"`` are paired.

        Raises
        ------
        ValueError
            On the exact path, which has no probes.
        """
        if self.method != "probe":
            raise ValueError("p_per_probe() needs method='probe'; the exact path has no probes.")
        return self._squared_norms(on, output).cpu().numpy()

    def p_ratio(self, *, output: int | None = None, return_std: bool = False):
        r"""The ratio ``p_test / p_train`` of the current smoother.

        Parameters
        ----------
        output : int, optional
            One output's ratio; default the ratio of the means over outputs.
        return_std : bool
            Also return its standard error (0.0 for ``method="exact"``).

        Returns
        -------
        p_ratio : float
            NaN while ``p_train`` is 0 (before the first step).
        std : float
            Only when ``return_std=True``: the delta-method standard error
            from the per-probe pairs (:meth:`p_per_probe`), their covariance
            included.

        Raises
        ------
        ValueError
            Without ``X_eval``.

        Notes
        -----
        ``p_train`` and ``p_test`` are estimated from the same probes, so
        their errors are correlated; treating them as independent misstates
        the ratio's error (usually overstates it, as the two move together).
        """
        if self.method == "exact":
            p_test, p_train = (
                self._p_hat("eval", output, False),
                self._p_hat("train", output, False),
            )
            ratio, std = (p_test / p_train, 0.0) if p_train > 0 else (float("nan"),) * 2
            return (ratio, std) if return_std else ratio
        ratio, std = paired_ratio_std_error(
            self.p_per_probe("eval", output=output), self.p_per_probe("train", output=output)
        )
        return (ratio, std) if return_std else ratio

    def p_train(self, *, output: int | None = None, return_std: bool = False):
        r"""Effective parameters of the current smoother on the training inputs.

        Parameters
        ----------
        output : int, optional
            Report one output's :math:`\hat p`; default the mean over outputs.
        return_std : bool
            Also return the standard error (0.0 for ``method="exact"``).

        Returns
        -------
        p_train : float
        std : float
            Only when ``return_std=True``.

        Notes
        -----
        :math:`\hat p = \frac{1}{K} \sum_{i, c} \lVert s_t(x_i)_c \rVert^2`,
        which is :math:`\operatorname{tr}(S_t S_t^\top)` for one output.
        """
        return self._p_hat("train", output, return_std)

    def p_test(self, *, output: int | None = None, return_std: bool = False):
        r"""Effective parameters of the current smoother on ``X_eval``.

        Parameters
        ----------
        output : int, optional
            Report one output's :math:`\hat p`; default the mean over outputs.
        return_std : bool
            Also return the standard error (0.0 for ``method="exact"``).

        Returns
        -------
        p_test : float
        std : float
            Only when ``return_std=True``.

        Notes
        -----
        :math:`\hat p = \frac{n}{m K} \sum_{j, c} \lVert s_t(x_j)_c \rVert^2`
        over the :math:`m` rows of ``X_eval``.
        """
        return self._p_hat("eval", output, return_std)

    def _shape_outputs(self, values: torch.Tensor) -> np.ndarray:
        out = values.cpu().numpy()
        return out[:, 0] if self._scalar_output else out

    def offsets(self, on: str = "train") -> np.ndarray:
        """The label-free part :math:`c_t(x)` of the linearised predictions.

        Parameters
        ----------
        on : {"train", "eval"}

        Returns
        -------
        ndarray of shape (rows,) or (rows, K)
            Shaped like the model's outputs; :math:`c_0` is the network at
            initialisation.

        Raises
        ------
        ValueError
            On the probe path, which carries the predictions as one column
            rather than the smoother and the offset apart.
        """
        rows = self._rows(on)
        if self.method != "exact":
            raise ValueError(
                "offsets() needs method='exact'; the probe path tracks the predictions "
                "s_t(x) . y + c_t(x) as one column (see predictions())."
            )
        return self._shape_outputs(self._Q[rows, :, self._affine_col])

    def predictions(self, on: str = "train") -> np.ndarray:
        r"""Linearised predictions :math:`s_t(x) \cdot y + c_t(x)`.

        Parameters
        ----------
        on : {"train", "eval"}

        Returns
        -------
        ndarray of shape (rows,) or (rows, K)
            Shaped like the model's outputs.

        Raises
        ------
        ValueError
            If the tracker was created without ``y``.
        """
        rows = self._rows(on)
        if self._y is None:
            raise ValueError("predictions need the labels: pass y when creating the tracker.")
        Q = self._Q[rows]
        if self.method == "exact":
            smoothed = Q[:, :, : self._n_smoother_cols] @ self._y.reshape(-1)
            return self._shape_outputs(smoothed + Q[:, :, self._affine_col])
        return self._shape_outputs(Q[:, :, self._affine_col])

    def smoother_matrix(self, on: str = "train") -> np.ndarray:
        """The current smoother weights (``method="exact"`` only).

        Parameters
        ----------
        on : {"train", "eval"}

        Returns
        -------
        ndarray of shape (rows, n) for one output, else (rows, K, n, K)
            Entry ``[j, c, i, c']`` is the weight of label :math:`y_{ic'}` in
            output :math:`c` at input :math:`x_j`.

        Raises
        ------
        ValueError
            On the probe path, which never forms the smoother.
        """
        rows = self._rows(on)
        if self.method != "exact":
            raise ValueError("smoother_matrix() needs method='exact'; probes never form it.")
        S = self._Q[rows, :, : self._n_smoother_cols].cpu().numpy()
        n, K = self.n_train_, self.n_outputs_
        if self._scalar_output or K == 1:
            return S.reshape(S.shape[0], n)
        return S.reshape(S.shape[0], K, n, K)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict:
        """The tracker's training state, to save next to the model's.

        Returns
        -------
        dict
            Tensors and plain numbers only (``torch.save`` it and load it with
            ``weights_only=True``): the tracked columns, the optimiser buffer
            carried linearly, and the steps seen per parameter.
        """
        return {
            "columns": self._Q.detach().cpu().clone(),
            "buffer": None if self._buffer is None else self._buffer.detach().cpu().clone(),
            "param_steps": list(self._param_steps),
            "n_steps": int(self.n_steps_),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` of a tracker built the same way.

        Create the tracker with the same model architecture, inputs, labels,
        method, probes and seed, load the model's and optimiser's saved state,
        then call this; the next :meth:`step` may then receive the new
        optimiser object.

        Parameters
        ----------
        state : dict
            As returned by :meth:`state_dict`.

        Raises
        ------
        ValueError
            If the saved columns do not match this tracker's shape.
        """
        columns = state["columns"]
        if tuple(columns.shape) != tuple(self._Q.shape):
            raise ValueError(
                f"the saved tracker state has columns of shape {tuple(columns.shape)}, this "
                f"tracker {tuple(self._Q.shape)}: build it with the same inputs, method and probes."
            )
        self._Q = columns.to(device=self._Q.device, dtype=self._Q.dtype).clone()
        buffer = state["buffer"]
        self._buffer = None if buffer is None else buffer.to(self._ref.device).clone()
        self._param_steps = [int(s) for s in state["param_steps"]]
        self.n_steps_ = int(state["n_steps"])
        self._optimizer = None
