"""Sharpness (weight-noise robustness) and the PAC-Bayes measures built on it."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..._validation import check_random_state
from ._deprecation import positional_to_keyword
from ._layers import as_input_tensor, as_label_tensor, eval_mode, forward
from .margins import predicted_labels
from .norms import normalize_by_dataset_size

__all__ = ["pac_bayes_measures", "sharpness"]

#: Bracket doublings or halvings tried before giving up (sigma within 2**±60).
_MAX_BRACKET_STEPS = 60


def _check_sharpness_args(target: float, n_samples: int, search_depth: int, eps: float) -> None:
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must lie in (0, 1), got {target!r}.")
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if int(search_depth) != search_depth or search_depth < 0:
        raise ValueError(f"search_depth must be a non-negative integer, got {search_depth!r}.")
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps!r}.")


class _NoisyAccuracy:
    """Mean training accuracy under Gaussian weight noise of scale sigma.

    Each Monte Carlo sample k draws its standard normal directions from its own
    seed, the same at every sigma (common random numbers), so the search
    compares sigmas on identical noise directions and is deterministic.
    """

    def __init__(self, model, X, y, magnitude_aware, eps, seeds, batch_size):
        self.model = model
        self.X = X
        self.y = y
        self.magnitude_aware = magnitude_aware
        self.eps = eps
        self.seeds = seeds
        self.batch_size = batch_size
        self.params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
        self.cache: dict[float, float] = {}

    def _accuracy(self, params: dict[str, torch.Tensor]) -> float:
        def run(inputs: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(self.model, params, (inputs,))

        outputs = forward(run, self.X, self.batch_size)
        return float((predicted_labels(outputs).cpu() == self.y).to(torch.float64).mean())

    def clean(self) -> float:
        with eval_mode(self.model):
            return self._accuracy(self.params)

    def __call__(self, sigma: float) -> float:
        if sigma in self.cache:
            return self.cache[sigma]
        accuracies = []
        with eval_mode(self.model):
            for seed in self.seeds:
                generator = None
                perturbed = {}
                for name, p in self.params.items():
                    if generator is None:
                        generator = torch.Generator(device=p.device).manual_seed(int(seed))
                    z = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device)
                    if self.magnitude_aware:
                        scale = torch.sqrt(sigma**2 * p.square() + self.eps**2)
                    else:
                        scale = sigma
                    perturbed[name] = p + scale * z
                accuracies.append(self._accuracy(perturbed))
        self.cache[sigma] = float(np.mean(accuracies))
        return self.cache[sigma]


def _search(noisy: _NoisyAccuracy, clean: float, target: float, depth: int):
    """Bracket by doubling/halving from sigma = 1, then bisect ``depth`` times."""

    def ok(sigma: float) -> bool:
        return abs(noisy(sigma) - clean) <= target

    if ok(1.0):
        lo, hi = 1.0, 2.0
        steps = 0
        while ok(hi):
            lo, hi = hi, 2.0 * hi
            steps += 1
            if steps >= _MAX_BRACKET_STEPS:
                warnings.warn(
                    f"weight noise up to sigma={hi:g} never changed the training accuracy by "
                    f"more than {target}; sigma is reported as infinite.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return math.inf, math.inf
    else:
        lo, hi = 0.5, 1.0
        steps = 0
        while not ok(lo):
            lo, hi = lo / 2.0, lo
            steps += 1
            if steps >= _MAX_BRACKET_STEPS:
                warnings.warn(
                    f"weight noise as small as sigma={lo:g} still changed the training accuracy "
                    f"by more than {target}; sigma is reported as 0.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return 0.0, lo
    for _ in range(depth):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo, hi


def sharpness(
    model: nn.Module,
    X,
    y,
    *,
    target: float = 0.1,
    magnitude_aware: bool = False,
    n_samples: int = 10,
    search_depth: int = 12,
    eps: float = 1e-3,
    random_state=None,
    batch_size: int | None = None,
) -> pd.Series:
    r"""Largest weight-noise scale that keeps the training accuracy within ``target``.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning one score per class (a single output is a binary
        logit). Any architecture: only forward passes are needed.
    X : array-like or torch.Tensor of shape (m, ...)
        Training inputs.
    y : array-like of int, shape (m,)
        Training labels.
    target : float
        Largest allowed change of the mean training accuracy (default 0.1).
    magnitude_aware : bool
        If True, each weight's noise scales with its magnitude (see Notes).
    n_samples : int
        Monte Carlo perturbations averaged at each candidate sigma.
    search_depth : int
        Bisection steps after bracketing; the bracket ``[sigma, sigma_upper]``
        then has relative width :math:`2^{-\text{depth}}`.
    eps : float
        Additive noise floor :math:`\epsilon` of the magnitude-aware noise
        (Jiang et al. use :math:`10^{-3}`).
    random_state : int, RandomState, Generator or None
        Seed of the noise (see :ref:`random-state`); the result is
        deterministic for a fixed seed.
    batch_size : int, optional
        Rows per forward pass.

    Returns
    -------
    pandas.Series
        ``sigma`` (:math:`\sigma'`, or :math:`\alpha'` when magnitude-aware),
        ``flatness`` (:math:`1/\sigma'^2`, Jiang et al.'s
        ``pacbayes_flatness`` or ``pacbayes_mag_flatness``), ``sigma_upper``
        (the smallest scale found to violate the target), ``train_accuracy``
        and ``perturbed_accuracy`` (the Monte Carlo mean at ``sigma``).

    Raises
    ------
    ValueError
        For ``target`` outside (0, 1), non-positive ``n_samples`` or bad data.

    See Also
    --------
    effcomplexity.nn.pac_bayes_measures : The PAC-Bayes bounds built on it.

    Notes
    -----
    Every trainable parameter :math:`w_i` (weights, biases, batch-norm
    scales) is perturbed, :math:`w_i + u_i` with
    :math:`u_i \sim \mathcal N(0, \sigma^2)`, or in the magnitude-aware
    variant :math:`u_i \sim \mathcal N(0, \alpha^2 w_i^2 + \epsilon^2)`.
    The search returns the largest scale found with

    .. math::

        \bigl| \mathbb{E}_u[\mathrm{acc}(w + u)] - \mathrm{acc}(w) \bigr|
        \le \text{target},

    the expectation estimated by ``n_samples`` draws: starting at
    :math:`\sigma = 1`, the scale is doubled or halved until it brackets the
    threshold, then the bracket is bisected ``search_depth`` times. The draws
    reuse the same standard normal directions at every candidate scale, so the
    estimated change is a deterministic function of the scale. Accuracy is
    computed in eval mode (dropout off, batch norm on running statistics);
    the caller's model is not modified and its training flags are restored.

    References
    ----------
    Y. Jiang, B. Neyshabur, H. Mobahi, D. Krishnan, S. Bengio. "Fantastic
    Generalization Measures and Where to Find Them". ICLR 2020.

    N. S. Keskar, D. Mudigere, J. Nocedal, M. Smelyanskiy, P. T. P. Tang.
    "On Large-Batch Training for Deep Learning: Generalization Gap and Sharp
    Minima". ICLR 2017.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> X = torch.tensor([[2.0, 0.0], [0.0, 2.0]] * 10)
    >>> model = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.eye(2)), model.bias.zero_()
    >>> result = ecnn.sharpness(model, X, [0, 1] * 10, n_samples=5, random_state=0)
    >>> list(result.index)
    ['sigma', 'flatness', 'sigma_upper', 'train_accuracy', 'perturbed_accuracy']
    >>> bool(0 < result["sigma"] < result["sigma_upper"])
    True
    """
    _check_sharpness_args(target, n_samples, search_depth, eps)
    X_t = as_input_tensor(X, model)
    y_t = as_label_tensor(y, X_t.shape[0])
    if X_t.shape[0] == 0:
        raise ValueError("X is empty.")
    with eval_mode(model):
        outputs = forward(model, X_t, batch_size)
    if outputs.dim() == 2 and outputs.shape[1] > 1 and int(y_t.max()) >= outputs.shape[1]:
        raise ValueError(
            f"labels go up to {int(y_t.max())} but the model has {outputs.shape[1]} outputs."
        )
    rng = check_random_state(random_state)
    seeds = rng.randint(0, 2**63 - 1, size=int(n_samples), dtype=np.int64)
    noisy = _NoisyAccuracy(model, X_t, y_t, magnitude_aware, eps, seeds, batch_size)
    clean = noisy.clean()
    lo, hi = _search(noisy, clean, target, int(search_depth))
    perturbed = noisy(lo) if 0.0 < lo < math.inf else clean
    return pd.Series(
        {
            "sigma": lo,
            "flatness": 1.0 / lo**2 if lo > 0 else math.inf,
            "sigma_upper": hi,
            "train_accuracy": clean,
            "perturbed_accuracy": perturbed,
        },
        dtype=float,
        name="magnitude_aware" if magnitude_aware else "plain",
    )


def _parameter_vectors(model: nn.Module, init_model: nn.Module | None):
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    w = torch.cat([p.detach().reshape(-1).to("cpu", torch.float64) for _, p in params]).numpy()
    if init_model is None:
        return w, None
    init_params = [(n, p) for n, p in init_model.named_parameters() if p.requires_grad]
    mine = [(n, tuple(p.shape)) for n, p in params]
    theirs = [(n, tuple(p.shape)) for n, p in init_params]
    if mine != theirs:
        raise ValueError(
            "model and init_model have different architectures (parameter names or shapes "
            f"differ): {mine} versus {theirs}."
        )
    w0 = torch.cat([p.detach().reshape(-1).to("cpu", torch.float64) for _, p in init_params])
    return w, w0.numpy()


def _pacbayes(r: np.ndarray, sigma: float, m: int) -> float:
    if sigma == 0:
        return math.inf
    if math.isinf(sigma):
        return -math.inf
    return float(r @ r) / (4 * sigma**2) + math.log(m / sigma) + 10


def _pacbayes_mag(r: np.ndarray, alpha: float, eps: float, m: int) -> float:
    if alpha == 0:
        return math.inf
    if math.isinf(alpha):
        return -math.inf
    omega = r.size
    prior = eps**2 + (alpha**2 + 1) * float(r @ r) / omega
    posterior = eps**2 + alpha**2 * r**2
    return 0.25 * float(np.log(prior / posterior).sum()) + math.log(m / alpha) + 10


@positional_to_keyword("pac_bayes_measures", ("model", "X", "y"), ("init_model",))
def pac_bayes_measures(
    model: nn.Module,
    X,
    y,
    *,
    init_model: nn.Module | None = None,
    target: float = 0.1,
    n_samples: int = 10,
    search_depth: int = 12,
    eps: float = 1e-3,
    random_state=None,
    sigma: float | None = None,
    mag_sigma: float | None = None,
    normalize: bool = False,
    dataset_size: int | None = None,
    batch_size: int | None = None,
) -> pd.Series:
    r"""PAC-Bayes measures of Jiang et al. from the sharpness searches.

    Parameters
    ----------
    model : torch.nn.Module
        Trained classifier (any architecture).
    X, y : array-like
        Training inputs and integer labels.
    init_model : torch.nn.Module, optional
        The network at initialisation (same parameter names and shapes);
        enables ``pacbayes_init`` and ``pacbayes_mag_init``.
    target, n_samples, search_depth, eps, random_state, batch_size
        Passed to :func:`sharpness` (``random_state``: see :ref:`random-state`).
    sigma, mag_sigma : float, optional
        Reuse scales found earlier instead of searching (plain and
        magnitude-aware).
    normalize : bool
        Apply Jiang et al.'s dataset-size normalisation (each measure
        divided by the power of :math:`m` that Jiang et al. 2020 use).
    dataset_size : int, optional
        :math:`m` (default ``len(X)``).

    Returns
    -------
    pandas.Series
        ``sigma``, ``mag_sigma``, ``pacbayes_init``, ``pacbayes_orig``,
        ``pacbayes_flatness``, ``pacbayes_mag_init``, ``pacbayes_mag_orig``,
        ``pacbayes_mag_flatness`` (the ``_init`` entries only with
        ``init_model``).

    Raises
    ------
    ValueError
        If ``init_model``'s parameters differ in names or shapes, or for the
        reasons of :func:`sharpness`.

    See Also
    --------
    effcomplexity.nn.sharpness : The noise scale each bound searches for.

    Notes
    -----
    With :math:`w` the vector of all :math:`\omega` trainable parameters,
    :math:`w^0` its initial value, :math:`\sigma'` the plain and
    :math:`\alpha'` the magnitude-aware scale of :func:`sharpness`,
    :math:`m` the number of training points and :math:`\epsilon` = ``eps``:

    .. math::

        \begin{aligned}
        \text{pacbayes\_init} &= \frac{\lVert w - w^0 \rVert^2}{4\sigma'^2}
            + \log\frac{m}{\sigma'} + 10, \qquad
        \text{pacbayes\_flatness} = \frac{1}{\sigma'^2}, \\
        \text{pacbayes\_mag\_init} &= \frac14 \sum_{i=1}^{\omega} \log
            \frac{\epsilon^2 + (\alpha'^2 + 1)\lVert r \rVert^2/\omega}
            {\epsilon^2 + \alpha'^2 r_i^2} + \log\frac{m}{\alpha'} + 10,
            \quad r = w - w^0, \qquad
        \text{pacbayes\_mag\_flatness} = \frac{1}{\alpha'^2},
        \end{aligned}

    and the ``_orig`` forms use :math:`r = w` (a prior centred at zero)
    throughout. The sum over :math:`\log` is the KL divergence between the
    magnitude-aware posterior and the best isotropic prior; Jiang et al.
    print :math:`w_i - w_i^0` in the denominator of both magnitude-aware forms,
    whereas here ``pacbayes_mag_orig`` uses :math:`w_i`, which is the bound
    for the zero-centred prior and needs no initial model.

    References
    ----------
    Y. Jiang, B. Neyshabur, H. Mobahi, D. Krishnan, S. Bengio. "Fantastic
    Generalization Measures and Where to Find Them". ICLR 2020.

    B. Neyshabur, S. Bhojanapalli, D. McAllester, N. Srebro. "Exploring
    Generalization in Deep Learning". NeurIPS 2017.

    G. K. Dziugaite, D. M. Roy. "Computing Nonvacuous Generalization Bounds for
    Deep (Stochastic) Neural Networks with Many More Parameters than Training
    Data". UAI 2017.

    Examples
    --------
    Scales found earlier are reused, so no search runs; ``pacbayes_flatness``
    is :math:`1/\sigma'^2`:

    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> X = torch.tensor([[2.0, 0.0], [0.0, 2.0]] * 10)
    >>> model = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.eye(2)), model.bias.zero_()
    >>> result = ecnn.pac_bayes_measures(model, X, [0, 1] * 10, sigma=0.5, mag_sigma=0.25)
    >>> float(result["pacbayes_flatness"]), float(result["pacbayes_mag_flatness"])
    (4.0, 16.0)
    """
    w, w0 = _parameter_vectors(model, init_model)
    n_points = int(np.shape(X)[0]) if not isinstance(X, torch.Tensor) else int(X.shape[0])
    m = int(dataset_size) if dataset_size is not None else n_points
    search = {
        "target": target,
        "n_samples": n_samples,
        "search_depth": search_depth,
        "eps": eps,
        "random_state": random_state,
        "batch_size": batch_size,
    }
    if sigma is None:
        sigma = float(sharpness(model, X, y, **search)["sigma"])
    if mag_sigma is None:
        mag_sigma = float(sharpness(model, X, y, magnitude_aware=True, **search)["sigma"])
    values = {"sigma": sigma, "mag_sigma": mag_sigma}
    if w0 is not None:
        values["pacbayes_init"] = _pacbayes(w - w0, sigma, m)
    values["pacbayes_orig"] = _pacbayes(w, sigma, m)
    values["pacbayes_flatness"] = 1.0 / sigma**2 if sigma > 0 else math.inf
    if w0 is not None:
        values["pacbayes_mag_init"] = _pacbayes_mag(w - w0, mag_sigma, eps, m)
    values["pacbayes_mag_orig"] = _pacbayes_mag(w, mag_sigma, eps, m)
    values["pacbayes_mag_flatness"] = 1.0 / mag_sigma**2 if mag_sigma > 0 else math.inf
    result = pd.Series(values, dtype=float, name="value")
    return normalize_by_dataset_size(result, m) if normalize else result
