r"""The local learning coefficient of singular learning theory, by SGLD.

The learning coefficient :math:`\lambda` of Watanabe's singular learning
theory measures how fast the volume of near-optimal parameters shrinks: it is
:math:`d/2` for a regular model with :math:`d` parameters and smaller for a
singular one, such as a network whose parameters are not all identifiable.
:func:`local_learning_coefficient` estimates its local version at the
network's current weights (Lau et al. 2023) from stochastic-gradient Langevin
samples of a tempered posterior localised at those weights, drawn by the
sampler :class:`~effcomplexity.nn.SGLD` (``sgld.py``) with all chains as rows
of one parameter tensor.

The data follow the convention of the Hessian measures
(:func:`effcomplexity.nn.hessian_trace`): ``loss_fn(model(X), y)`` returns
the *mean* loss of a batch, and the data are arrays ``X, y`` or a
re-iterable of batches such as a DataLoader.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn
from torch.func import functional_call, vmap

from ..._validation import check_int, draw_seed
from ._deprecation import loss_and_data
from ._layers import Batches, check_loss_fn, eval_mode
from .sgld import INTEGRATORS, SGLD, check_real

__all__ = ["LLCResult", "local_learning_coefficient"]

logger = logging.getLogger(__name__)

#: Rank-normalised split-R-hat of the loss traces above which the chains are
#: reported as unmixed (Vehtari et al. 2021 recommend 1.01 for final results;
#: the singular closed form stays near 1.02 even with chains of 4000 draws).
R_HAT_THRESHOLD = 1.05
#: Bulk effective sample size below which the chains are reported as unmixed:
#: the standard error is then more than a tenth of the spread of the draws.
MIN_ESS = 100

#: Rows per forward call of the one pass that computes L_n(w*) for ``data=(X, y)``
#: with a ``batch_size`` (more when ``batch_size`` is larger).
FULL_LOSS_CHUNK = 4096
# The defaults are sized on the two closed forms of tests/nn/test_llc.py (see
# the Notes of local_learning_coefficient): least squares with d = 6 and the
# singular f(x) = a b x, both at n = 1000.
#: Recorded draws per chain.
DEFAULT_N_SAMPLES = 4000
#: Chains.
DEFAULT_N_CHAINS = 4
#: Discarded steps per chain.
DEFAULT_N_BURNIN = 1000
#: SGLD step size.
DEFAULT_STEP_SIZE = 2e-3
#: Strength of the localising Gaussian prior.
DEFAULT_LOCALIZATION = 1.0
#: The discretisation of the Langevin dynamics.


@dataclass(frozen=True)
class LLCResult:
    r"""Local learning coefficient estimate with its sampling diagnostics.

    Attributes
    ----------
    estimate : float
        :math:`\hat\lambda`, the mean of ``chain_estimates``.
    std_error : float
        Monte Carlo standard error of ``estimate``: the standard deviation of
        :math:`n\beta L` over all draws divided by the square root of their
        effective sample size (split chains, Vehtari et al. 2021).
    chain_estimates : ndarray of shape (n_chains,)
        :math:`\hat\lambda` of each chain alone.
    loss_trace : ndarray of shape (n_chains, n_samples)
        Loss at every recorded draw (after burn-in), on the batch that drove
        the step from that draw: the full-data loss :math:`L_n(w_t)` for full
        batch sampling, an unbiased minibatch estimate of it otherwise.
    init_loss : float
        :math:`L_n(w^*)`, the full-data loss at the model's weights.
    r_hat : float
        Rank-normalised split-:math:`\hat R` of the loss traces (Vehtari et
        al. 2021: the larger of the bulk and the folded value, over the halves
        of every chain); near 1 when the chains sample one distribution.
    ess_bulk : float
        Bulk effective sample size of the loss traces (Vehtari et al. 2021):
        how many independent draws the rank-normalised split chains are worth.
    ess_tail : float
        Tail effective sample size: the smaller effective sample size of the
        indicators of the 5% and 95% quantiles of the loss.
    diverged : bool
        True when the estimate is not to be trusted: a chain produced
        non-finite losses, wandered to losses whose estimate exceeds the
        largest possible learning coefficient, or sat below
        :math:`L_n(w^*)` on average (``w*`` is not a local minimum).
    message : str
        What went wrong, or why the chains have not mixed; empty when all is
        well.
    settings : dict
        The arguments used: ``n_samples``, ``n_burnin``, ``n_chains``,
        ``step_size``, ``localization``, ``temperature``, ``beta``
        (:math:`1/T`), ``n_beta`` (:math:`n\beta`), ``integrator``,
        ``batch_size``, ``n`` (training points) and ``n_params``.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(100, 2, generator=g, dtype=torch.float64)
    >>> y = X @ torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, -1.0]]))   # the minimum
    >>> result = ecnn.local_learning_coefficient(
    ...     model, X, y, loss_fn=torch.nn.MSELoss(), n_samples=500, random_state=0)
    >>> result.loss_trace.shape, result.settings["n_chains"]   # burn-in not recorded
    ((4, 500), 4)
    >>> bool(result.r_hat < 1.05), bool(result.ess_bulk > 100)
    (True, True)
    """

    estimate: float
    std_error: float
    chain_estimates: np.ndarray = field(repr=False)
    loss_trace: np.ndarray = field(repr=False)
    init_loss: float
    r_hat: float
    ess_bulk: float
    ess_tail: float
    diverged: bool
    message: str
    settings: dict = field(repr=False)

    def __float__(self) -> float:
        return float(self.estimate)

    def to_series(self) -> pd.Series:
        """One tidy row: ``llc``, ``llc_se``, the diagnostics and the settings.

        Returns
        -------
        pandas.Series
            ``llc``, ``llc_se``, ``init_loss``, ``mean_loss`` (over all draws),
            ``r_hat``, ``ess_bulk``, ``ess_tail``, ``diverged``, ``message``,
            then every entry of ``settings``.
        """
        values = {
            "llc": self.estimate,
            "llc_se": self.std_error,
            "init_loss": self.init_loss,
            "mean_loss": float(np.mean(self.loss_trace)),
            "r_hat": self.r_hat,
            "ess_bulk": self.ess_bulk,
            "ess_tail": self.ess_tail,
            "diverged": self.diverged,
            "message": self.message,
            **self.settings,
        }
        return pd.Series(values, dtype=object, name="llc")


def _split_chains(trace: np.ndarray) -> np.ndarray:
    """Each chain cut into its first and last halves (the middle draw of an odd length dropped)."""
    half = trace.shape[1] // 2
    return np.concatenate([trace[:, :half], trace[:, trace.shape[1] - half :]])


def _z_scale(trace: np.ndarray) -> np.ndarray:
    """Rank normalisation: normal quantiles of the pooled (average) ranks, (r - 3/8) / (S + 1/4)."""
    ranks = stats.rankdata(trace, method="average").reshape(trace.shape)
    return stats.norm.ppf((ranks - 0.375) / (trace.size + 0.25))


def _valid(trace: np.ndarray) -> bool:
    return trace.shape[1] >= 4 and bool(np.all(np.isfinite(trace))) and np.ptp(trace) > 0


def _r_hat(chains: np.ndarray) -> float:
    """Gelman-Rubin potential scale reduction of the given chains."""
    n = chains.shape[1]
    within = chains.var(axis=1, ddof=1).mean()
    between = n * chains.mean(axis=1).var(ddof=1)
    if within == 0:
        return 1.0 if between == 0 else math.inf
    return float(np.sqrt((between / within + n - 1) / n))


def _rank_r_hat(trace: np.ndarray) -> float:
    """Rank-normalised split-R-hat (Vehtari et al. 2021): the larger of bulk and folded.

    As arviz's ``rhat(method="rank")`` (tests/data/arviz), except that one chain is
    compared across its two halves instead of giving NaN.
    """
    if not _valid(trace):
        return math.nan
    split = _split_chains(trace)
    bulk = _r_hat(_z_scale(split))
    folded = np.abs(split - np.median(split))
    tail = _r_hat(_z_scale(folded)) if np.ptp(folded) > 0 else 1.0
    return max(bulk, tail)


def _ess(chains: np.ndarray) -> float:
    """Effective sample size of the given chains (Vehtari et al. 2021, eq. 10 and Geyer's
    initial monotone sequence; the autocorrelation estimate of Stan and arviz)."""
    m, n = chains.shape
    centred = chains - chains.mean(axis=1, keepdims=True)
    # Biased autocovariance of every chain at every lag, by FFT (zero-padded to avoid wrap-around).
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=1)[:, :n] / n
    mean_var = acov[:, 0].mean() * n / (n - 1)
    var_plus = mean_var * (n - 1) / n
    if m > 1:
        var_plus += chains.mean(axis=1).var(ddof=1)
    rho = np.zeros(n)
    rho_even, rho_odd = 1.0, 1.0 - (mean_var - acov[:, 1].mean()) / var_plus
    rho[0], rho[1] = rho_even, rho_odd
    t = 1
    while t < n - 3 and rho_even + rho_odd > 0:
        rho_even = 1.0 - (mean_var - acov[:, t + 1].mean()) / var_plus
        rho_odd = 1.0 - (mean_var - acov[:, t + 2].mean()) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1], rho[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:  # the last even lag, if positive, sharpens the estimate
        rho[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:  # initial monotone sequence of the sums of pairs
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2
        t += 2
    draws = m * n
    tau = -1.0 + 2.0 * rho[: max_t + 1].sum() + rho[max_t + 1 : max_t + 2].sum()
    return float(draws / max(tau, 1.0 / math.log10(draws)))


def _mcse_mean(trace: np.ndarray) -> float:
    """Monte Carlo standard error of the mean of all draws: their standard deviation over
    the square root of the effective sample size of the split chains (Vehtari et al. 2021)."""
    if not _valid(trace):
        return math.nan
    return float(trace.std(ddof=1) / math.sqrt(_ess(_split_chains(trace))))


def _ess_bulk(trace: np.ndarray) -> float:
    """Bulk effective sample size: the ESS of the rank-normalised split chains."""
    if not _valid(trace):
        return math.nan
    return _ess(_z_scale(_split_chains(trace)))


def _ess_tail(trace: np.ndarray) -> float:
    """Tail effective sample size: the smaller ESS of the split indicators of the 5% and
    95% quantiles."""
    if not _valid(trace):
        return math.nan
    values = []
    for q in (0.05, 0.95):
        indicator = _split_chains((trace <= np.quantile(trace, q)).astype(float))
        values.append(_ess(indicator) if np.ptp(indicator) > 0 else math.nan)
    return float(np.nanmin(values)) if not all(map(math.isnan, values)) else math.nan


def _full_loss(model, loss_fn, params, batches: Batches) -> tuple[float, int, int]:
    """Mean loss over all of ``data`` (batch means weighted by batch size), its size and
    the rows of its largest batch."""
    total, n, largest = 0.0, 0, 0
    with torch.no_grad():
        for X, y in batches:
            if batches.arrays is None:
                _check_arrays(X, y)
            output = functional_call(model, params, (X,))
            _check_target_shape(output, y)
            loss = loss_fn(output, y)
            if loss.dim() != 0:
                raise ValueError(
                    f"loss_fn must return a scalar (the batch mean), got shape {tuple(loss.shape)}."
                )
            total += X.shape[0] * float(loss)
            n += X.shape[0]
            largest = max(largest, X.shape[0])
    if n == 0:
        raise ValueError("data holds no samples.")
    return total / n, n, largest


def _check_arrays(X: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse NaN or infinity in the inputs or (floating) targets."""
    for name, value in (("X", X), ("y", y)):
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"{name} contains NaN or infinity; remove or impute those rows before "
                "estimating the learning coefficient."
            )


def _check_target_shape(output: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse a 1-D ``y`` against an ``(n, 1)`` output (MSE-type losses broadcast to (n, n))."""
    if output.dim() == 2 and output.shape[1] == 1 and y.dim() == 1:
        raise ValueError(
            f"y has shape {tuple(y.shape)} but the model outputs shape {tuple(output.shape)}: "
            "a loss such as MSELoss would broadcast them to an (n, n) table of every "
            "pair. Pass y.reshape(-1, 1)."
        )


def _resolve_temperature(
    temperature: float | None, n_beta: float | None, n: int
) -> tuple[float, float]:
    """``(temperature, n_beta)`` from either, or from Watanabe's default T = log n."""
    if temperature is None and n_beta is None:
        if n < 2:
            raise ValueError("the default temperature log(n) needs at least 2 samples.")
        temperature = math.log(n)
    if n_beta is None:
        return temperature, n / temperature
    if temperature is not None and not math.isclose(n / temperature, n_beta, rel_tol=1e-9):
        raise ValueError(
            f"temperature={temperature!r} and n_beta={n_beta!r} disagree: with n = {n} "
            f"training points the temperature gives n_beta = n / temperature = "
            f"{n / temperature:.6g}. Give one of them."
        )
    return n / n_beta, n_beta


def _minibatches(
    batches: Batches, batch_size: int | None, n_chains: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
    """Endless stream of the batches that drive the SGLD steps.

    Yields ``(X, y, per_chain)``. Arrays with ``batch_size``: every chain walks
    through its own random permutation of the rows (sampling without
    replacement within each pass), and ``X``, ``y`` carry a leading chain
    dimension (``per_chain=True``). Arrays without ``batch_size``: the full
    data every step. Batches (a DataLoader): its own batches, cycled, shared
    by all chains.
    """
    if batches.arrays is not None:
        X, y = batches.arrays
        n = X.shape[0]
        if batch_size is None or batch_size >= n:
            while True:
                yield X, y, False
        while True:
            orders = torch.stack([torch.randperm(n, generator=generator) for _ in range(n_chains)])
            orders = orders.to(X.device)
            for start in range(0, n - batch_size + 1, batch_size):
                idx = orders[:, start : start + batch_size]
                yield X[idx], y[idx], True
    while True:
        empty = True
        for X, y in batches:
            empty = False
            yield X, y, False
        if empty:
            raise ValueError("data holds no samples.")


def _diagnose(
    chain_estimates: np.ndarray, trace: np.ndarray, r_hat: float, ess_bulk: float, n_params: int
) -> tuple[bool, str]:
    problems = []
    bad = [c for c in range(trace.shape[0]) if not np.all(np.isfinite(trace[c]))]
    if bad:
        problems.append(
            f"chains {bad} produced non-finite losses: the sampler diverged; lower step_size"
        )
    high = [c for c, v in enumerate(chain_estimates) if np.isfinite(v) and v > n_params]
    if high:
        problems.append(
            f"chains {high} give estimates above d = {n_params}, twice the largest possible "
            "learning coefficient d/2: the chains left the neighbourhood of w*; lower "
            "step_size or raise localization"
        )
    low = [c for c, v in enumerate(chain_estimates) if np.isfinite(v) and v < 0]
    if low:
        problems.append(
            f"chains {low} sampled losses below L_n(w*) on average: w* is not a local "
            "minimum of the loss; train longer or raise localization"
        )
    diverged = bool(problems)
    if not diverged and (
        (np.isfinite(r_hat) and r_hat > R_HAT_THRESHOLD)
        or (np.isfinite(ess_bulk) and ess_bulk < MIN_ESS)
    ):
        problems.append(
            f"the loss traces have not mixed (rank-normalised split R-hat {r_hat:.3f}, "
            f"bulk effective sample size {ess_bulk:.0f}; wanted below {R_HAT_THRESHOLD} and "
            f"above {MIN_ESS}): raise n_burnin and n_samples"
        )
    return diverged, "; ".join(problems)


@loss_and_data("local_learning_coefficient")
def local_learning_coefficient(
    model: nn.Module,
    X,
    y=None,
    *,
    loss_fn: Callable,
    n_samples: int = DEFAULT_N_SAMPLES,
    n_chains: int = DEFAULT_N_CHAINS,
    n_burnin: int = DEFAULT_N_BURNIN,
    step_size: float | None = None,
    localization: float = DEFAULT_LOCALIZATION,
    temperature: float | None = None,
    n_beta: float | None = None,
    integrator: str = "leimkuhler-matthews",
    batch_size: int | None = None,
    random_state=None,
    progress: bool = False,
) -> LLCResult:
    r"""Local learning coefficient at the model's weights, by SGLD.

    Parameters
    ----------
    model : torch.nn.Module
        The trained network; its trainable parameters (``requires_grad=True``)
        are sampled, at its current values :math:`w^*`. The model is never
        modified: sampling runs on copies of the parameters, in eval mode,
        and the training flags of every submodule are restored.
    X : tensor or array-like of shape (n, ...), or re-iterable of batches
        Inputs of the :math:`n` training samples of :math:`L_n`; or, with
        ``y=None``, ``(inputs, targets)`` batches such as a
        :class:`torch.utils.data.DataLoader` (whose batches then drive the
        steps, cycled; its own shuffling is not controlled by
        ``random_state``).
    y : tensor or array-like of shape (n, ...), optional
        Targets, one per row of ``X``; omitted when ``X`` holds batches.
    loss_fn : callable
        ``loss_fn(model(X), y)`` returning the mean loss over the batch, such
        as ``torch.nn.MSELoss()`` or ``torch.nn.CrossEntropyLoss()``.
    n_samples : int
        Recorded draws per chain, after burn-in (at least 2).
    n_chains : int
        Independent chains, all started at :math:`w^*`.
    n_burnin : int
        Steps per chain discarded before recording.
    step_size : float, optional
        SGLD step size :math:`\epsilon`. Default ``2e-3`` for full-batch
        gradients, scaled by ``b / n`` for minibatches of ``b`` rows
        (``batch_size``, or a DataLoader's largest batch), whose gradient
        noise otherwise inflates the estimate (see Notes).
    localization : float
        Strength :math:`\gamma` of the Gaussian prior centred at :math:`w^*`.
    temperature : float, optional
        Temperature :math:`T` of the tempered posterior, inverse temperature
        :math:`\beta = 1/T`; default :math:`T = \log n` (Watanabe's optimal
        :math:`\beta^* = 1/\log n`).
    n_beta : float, optional
        :math:`n\beta = n / T` directly (devinterp's ``nbeta``), instead of
        ``temperature``; both may be given only when they agree.
    integrator : {"leimkuhler-matthews", "euler"}
        Discretisation of the Langevin dynamics. ``"euler"`` is the SGLD step
        of Welling and Teh (2011), as in devinterp; ``"leimkuhler-matthews"``
        (the default) adds the mean of this step's and the previous step's
        noise instead of this step's alone, at the same cost, and removes the
        first-order step-size bias (see Notes).
    batch_size : int, optional
        Minibatch SGLD for arrays ``X, y``: each step uses ``batch_size`` rows
        drawn without replacement within each pass over the data. Default:
        full-batch gradients. The full-data loss at :math:`w^*` is computed
        once, in batches of this size.
    random_state : int, RandomState, Generator or None
        Seed of the noise and of the minibatches (see :ref:`random-state`;
        torch's generators are seeded from it); the result is deterministic
        for a fixed seed.
    progress : bool
        Show a progress bar over the chains' steps.

    Returns
    -------
    LLCResult
        ``estimate``, ``std_error``, ``chain_estimates``, ``loss_trace``,
        ``init_loss``, ``r_hat``, ``diverged``, ``message`` and ``settings``;
        ``float(result)`` is the estimate and ``result.to_series()`` one tidy
        row.

    Raises
    ------
    ValueError
        For non-positive counts or step size, a negative localization, a
        non-positive temperature or ``n_beta``, a ``temperature`` and
        ``n_beta`` that disagree, an unknown ``integrator``, fewer than two
        samples with the default temperature, a ``loss_fn`` that does not
        average over its batch, inputs and targets that disagree in length,
        NaN or infinity in ``X`` or ``y`` or in the loss at :math:`w^*`, or
        a 1-D ``y`` against an ``(n, 1)`` output (which a loss such as
        :class:`torch.nn.MSELoss` would broadcast to ``(n, n)``; pass
        ``y.reshape(-1, 1)``).
    TypeError
        If ``y`` is missing for arrays ``X``, or ``X`` is neither an array nor
        a re-iterable of batches.

    Warns
    -----
    RuntimeWarning
        When ``diverged`` is set, or when the chains have not mixed
        (``r_hat`` above 1.05 or ``ess_bulk`` below 100); ``message`` says
        why.

    See Also
    --------
    effcomplexity.nn.SGLD : The sampler of the chains.
    effcomplexity.nn.effective_dimensionality : The curvature-based count.
    effcomplexity.nn.Monitor : Records the estimate at training checkpoints.

    Notes
    -----
    With :math:`L_n(w)` the mean training loss, :math:`\beta = 1/T` and
    :math:`\gamma` the localization, the localised tempered posterior

    .. math::

        p(w) \propto \exp\Bigl(-n\beta L_n(w)
            - \tfrac{\gamma}{2}\lVert w - w^*\rVert^2\Bigr)

    is sampled by stochastic-gradient Langevin dynamics (Welling and Teh
    2011), every chain started at :math:`w^*`:

    .. math::

        w_{t+1} = w_t - \frac{\epsilon}{2}\Bigl(n\beta\,\nabla L_{B_t}(w_t)
            + \gamma (w_t - w^*)\Bigr) + \sqrt{\epsilon}\,\xi_t,
        \qquad \xi_t \sim \mathcal N(0, I),

    with :math:`L_{B_t}` the loss on the step's batch. The estimate of
    Lau et al. (2023) is

    .. math::

        \hat\lambda(w^*) = n\beta\,\bigl(\mathbb E_p[L_n(w)] - L_n(w^*)\bigr),

    the expectation replaced by the mean of the recorded losses of each chain
    (``chain_estimates``) and then over chains. For a regular minimum it
    tends to :math:`d/2`; for a Gaussian posterior of precision
    :math:`A = n\beta H + \gamma I` (:math:`H` the Hessian of :math:`L_n`)
    it equals :math:`\frac12 \operatorname{tr}(n\beta H A^{-1})`, so the
    localization biases it down in directions of curvature
    :math:`n\beta h \lesssim \gamma`, and a finite step size biases it up
    by about a factor :math:`1/(1 - \epsilon a/4)` in a direction of
    precision :math:`a`. :math:`\lambda` itself does not change when the
    loss is multiplied by a constant, but the estimate does at finite
    :math:`n`, as that is the same as multiplying :math:`\beta`.

    Assumptions: :math:`w^*` is a local minimum of :math:`L_n` (otherwise
    chains find lower losses, flagged by ``diverged``), and the chains have
    reached the localised posterior (check that the loss traces are flat,
    ``r_hat`` is near 1, and the estimate is stable when ``n_burnin``,
    ``n_samples`` or ``step_size`` are halved or doubled). The estimate is
    meant for comparing one network across training or sizes with fixed
    settings; its absolute value depends on :math:`\epsilon`,
    :math:`\gamma` and :math:`\beta`.

    Each step is one :meth:`SGLD.step <effcomplexity.nn.SGLD.step>` of all
    chains at once. With ``integrator="euler"`` this is the SGLD of devinterp
    (``devinterp.optim.SGMCMC.sgld``, its ``lr`` being :math:`\epsilon` and
    its ``nbeta`` being :math:`n\beta`), and the estimate agrees with
    devinterp 2.0.1 at matched settings (tests/data/devinterp). The
    Leimkuhler-Matthews scheme (Leimkuhler and Matthews 2013) replaces
    :math:`\xi_t` by :math:`(\xi_t + \xi_{t-1})/2` with
    :math:`\sqrt{\epsilon}` unchanged: it samples a Gaussian posterior
    without step-size bias (the Euler step inflates the variance in a
    direction of precision :math:`a` by :math:`1/(1 - \epsilon a/4)`) and
    has a second-order bias elsewhere, so a larger step can be taken.

    ``std_error`` is the Monte Carlo standard error of the mean of all draws,
    from their standard deviation and the effective sample size of the split
    chains (Vehtari et al. 2021), which counts the draws within chains as
    well as the chains; ``r_hat``, ``ess_bulk`` and ``ess_tail`` follow the
    rank-normalised definitions of the same paper.

    Defaults: ``localization=1``, ``step_size=2e-3``, 4 chains of 1000
    burn-in steps and 4000 draws, :math:`n\beta = n/\log n`, Leimkuhler-
    Matthews. They were chosen on two closed forms at :math:`n = 1000`,
    with the Gaussian negative log-likelihood as the loss: least squares in
    :math:`d = 6` parameters (:math:`\lambda = 3`; the curvature
    :math:`n\beta h \approx 580` of every direction dwarfs
    :math:`\gamma = 1`, which biases the estimate by 0.2%) and the singular
    :math:`f(x) = abx` at :math:`a = b = 0`, whose localised posterior mean
    is 0.35 at this :math:`n` (:math:`\lambda = 1/2` only as
    :math:`n \to \infty`, like :math:`1/\log n`). The localization must
    be small for the estimate to see the singular directions (the former
    default :math:`\gamma = 100` gave 0.01 for the singular model); the
    flattest directions then relax in about :math:`1/(\epsilon\gamma)` =
    500 steps, which sets the burn-in and the length of the chains, and
    the step size is the largest at which the stiff directions of both
    models stay stable (:math:`\epsilon a < 4`). On those models the
    defaults give :math:`3.00 \pm 0.03` and :math:`0.35 \pm 0.03`,
    ``r_hat`` below 1.03, and cost 20,000 full-batch gradient evaluations
    (a few seconds). For a network that is 20,000 steps on batches of
    ``batch_size`` rows, all chains advanced together in one vectorised
    call per step, plus one pass over the data for :math:`L_n(w^*)`; a
    network whose Hessian has eigenvalues :math:`h` with
    :math:`n\beta h \epsilon > 4` diverges (flagged) and needs a smaller
    ``step_size``. For comparing one network across training, the sweeps
    use far shorter chains with fixed settings
    (``effcomplexity.sweeps.families._nn_measures.llc_settings``).
    Other losses and networks may need another ``step_size``.

    Minibatches: the noise of a minibatch gradient adds to the injected
    noise, and inflates the estimate by a relative
    :math:`\approx \epsilon\, a\, n / (4 b \log n)` in a direction of
    posterior precision :math:`a` (:math:`b` rows a batch, a well-specified
    likelihood, whose gradient covariance is its Hessian); at the full-batch
    step size on the least-squares model with :math:`n/b = 10` that is
    +70% (5.1 for 3). The default step size is therefore scaled by
    :math:`b/n`, which keeps the relative bias near
    :math:`\epsilon a/(4\log n)` (3.14-3.18 for 3 there) at the same number
    of passes over the data per unit of Langevin time, but the flat
    directions then need :math:`n/b` times more steps. The minibatch loss
    trace is dominated by the noise of the batches, so ``r_hat`` and
    ``ess_bulk`` cannot see a slow singular direction there; prefer full
    batch for an estimate that matters on its own.

    References
    ----------
    S. Watanabe. "Algebraic Geometry and Statistical Learning Theory".
    Cambridge University Press, 2009.

    E. Lau, Z. Furman, G. Wang, D. Murfet, S. Wei. "The Local Learning
    Coefficient: A Singularity-Aware Complexity Measure". arXiv:2308.12108,
    2023.

    M. Welling, Y. W. Teh. "Bayesian Learning via Stochastic Gradient
    Langevin Dynamics". ICML 2011.

    B. Leimkuhler, C. Matthews. "Rational Construction of Stochastic
    Numerical Methods for Molecular Sampling". Applied Mathematics Research
    eXpress, 2013(1):34-56, 2013.

    A. Vehtari, A. Gelman, D. Simpson, B. Carpenter, P.-C. Bürkner.
    "Rank-Normalization, Folding, and Localization: An Improved R-hat for
    Assessing Convergence of MCMC". Bayesian Analysis 16(2):667-718, 2021.

    Examples
    --------
    Linear regression with two parameters is regular, so :math:`\lambda = d/2 = 1`:

    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(1000, 2, generator=g, dtype=torch.float64)
    >>> y = X @ torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    >>> model = torch.nn.Linear(2, 1, bias=False).double()
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, -1.0]]))
    >>> result = ecnn.local_learning_coefficient(
    ...     model, X, y, loss_fn=torch.nn.MSELoss(), n_samples=1000, random_state=0)
    >>> bool(abs(result.estimate - 1.0) < 3 * result.std_error), result.diverged
    (True, False)
    """
    check_loss_fn(loss_fn)
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    n_chains = check_int(n_chains, "n_chains")
    if not isinstance(n_burnin, numbers.Integral) or isinstance(n_burnin, bool) or n_burnin < 0:
        raise ValueError(f"n_burnin must be a non-negative integer, got {n_burnin!r}.")
    n_burnin = int(n_burnin)
    if step_size is not None:
        step_size = check_real(step_size, "step_size")
    localization = check_real(localization, "localization", allow_zero=True)
    if temperature is not None:
        temperature = check_real(temperature, "temperature")
    if n_beta is not None:
        n_beta = check_real(n_beta, "n_beta")
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}.")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(
            f"{type(model).__name__} has no parameters with requires_grad=True; "
            "there is nothing to sample."
        )
    ref = named[0][1]
    w_star = {name: p.detach().clone() for name, p in named}
    n_params = sum(p.numel() for p in w_star.values())
    seeds = np.random.default_rng(draw_seed(random_state)).integers(0, 2**63 - 1, size=2)
    index_generator = torch.Generator().manual_seed(int(seeds[0]))
    noise_generator = torch.Generator(device=ref.device).manual_seed(int(seeds[1]))

    with eval_mode(model, no_grad=False):
        batches = Batches(X, y, ref, batch_size)
        # L_n(w*) in chunks of at least FULL_LOSS_CHUNK rows: one pass, few calls.
        chunk = None if batch_size is None else max(batch_size, FULL_LOSS_CHUNK)
        loss_batches = batches if batches.arrays is None else Batches(*batches.arrays, ref, chunk)
        if batches.arrays is not None:
            _check_arrays(*batches.arrays)
        init_loss, n, largest = _full_loss(model, loss_fn, w_star, loss_batches)
        if not math.isfinite(init_loss):
            raise ValueError(
                f"the loss at the model's weights is {init_loss}: the model or loss_fn gives "
                "non-finite values on this data; the learning coefficient needs a finite loss."
            )
        temperature, n_beta = _resolve_temperature(temperature, n_beta, n)
        if step_size is None:  # the rows of a step: a DataLoader's batches, or batch_size
            rows = largest if batches.arrays is None else min(batch_size or n, n)
            step_size = DEFAULT_STEP_SIZE * rows / n
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_burnin + n_samples, desc="LLC (SGLD)", unit="step")
        try:
            trace = _sample(
                model,
                loss_fn,
                w_star,
                _minibatches(batches, batch_size, n_chains, index_generator),
                noise_generator,
                n_chains=n_chains,
                n_burnin=n_burnin,
                n_samples=n_samples,
                step_size=step_size,
                localization=localization,
                n_beta=n_beta,
                integrator=integrator,
                bar=bar,
            )
        finally:
            if bar is not None:
                bar.close()

    loss_trace = trace.numpy()
    with np.errstate(invalid="ignore", over="ignore"):
        chain_estimates = n_beta * (loss_trace.mean(axis=1) - init_loss)
    estimate = float(chain_estimates.mean())
    std_error = _mcse_mean(n_beta * loss_trace)
    r_hat = _rank_r_hat(loss_trace)
    ess_bulk, ess_tail = _ess_bulk(loss_trace), _ess_tail(loss_trace)
    diverged, message = _diagnose(chain_estimates, loss_trace, r_hat, ess_bulk, n_params)
    if message:
        # stacklevel 3: the caller, past the wrapper that accepts the old spelling
        warnings.warn(f"local_learning_coefficient: {message}.", RuntimeWarning, stacklevel=3)
    settings = {
        "n_samples": n_samples,
        "n_burnin": n_burnin,
        "n_chains": n_chains,
        "step_size": step_size,
        "localization": localization,
        "temperature": float(temperature),
        "beta": 1.0 / float(temperature),
        "n_beta": float(n_beta),
        "integrator": integrator,
        "batch_size": batch_size,
        "n": int(n),
        "n_params": int(n_params),
    }
    return LLCResult(
        estimate=estimate,
        std_error=std_error,
        chain_estimates=chain_estimates,
        loss_trace=loss_trace,
        init_loss=float(init_loss),
        r_hat=r_hat,
        ess_bulk=ess_bulk,
        ess_tail=ess_tail,
        diverged=diverged,
        message=message,
        settings=settings,
    )


class _ChainLosses:
    """Loss of every chain at its own parameters, as one tensor of shape (n_chains,).

    All chains run through one vectorised call (:func:`torch.func.vmap`); a
    model or loss that vmap cannot trace falls back, once and for good, to a
    loop over the chains, which computes the same numbers.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, n_chains: int):
        self.model = model
        self.loss_fn = loss_fn
        self.n_chains = n_chains
        self.vectorised = True

    def _one(self, params: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor):
        loss = self.loss_fn(functional_call(self.model, params, (X,)), y)
        if loss.dim() != 0:
            raise ValueError(
                f"loss_fn must return a scalar (the batch mean), got shape {tuple(loss.shape)}."
            )
        return loss

    def __call__(self, params: dict[str, torch.Tensor], X, y, per_chain: bool) -> torch.Tensor:
        if self.vectorised:
            data_dims = 0 if per_chain else None
            try:
                return vmap(self._one, in_dims=(0, data_dims, data_dims))(params, X, y)
            except ValueError:
                raise
            except Exception as error:  # vmap has no rule for some operation of the model
                logger.info("LLC chains run one by one: vmap failed (%s)", error)
                self.vectorised = False
        return torch.stack(
            [
                self._one(
                    {name: value[c] for name, value in params.items()},
                    X[c] if per_chain else X,
                    y[c] if per_chain else y,
                )
                for c in range(self.n_chains)
            ]
        )


def _sample(
    model: nn.Module,
    loss_fn: Callable,
    w_star: dict[str, torch.Tensor],
    stream: Iterator[tuple[torch.Tensor, torch.Tensor, bool]],
    noise_generator: torch.Generator,
    *,
    n_chains: int,
    n_burnin: int,
    n_samples: int,
    step_size: float,
    localization: float,
    n_beta: float,
    integrator: str,
    bar,
) -> torch.Tensor:
    """Run all chains from ``w_star``; return their recorded losses (float64, CPU)."""
    names = list(w_star)
    shapes = [w_star[name].shape for name in names]
    sizes = [w_star[name].numel() for name in names]
    # One flat (n_chains, n_params) leaf: the update is a handful of whole-vector operations.
    centre = torch.cat([w_star[name].reshape(1, -1) for name in names], dim=1)
    w = centre.repeat(n_chains, 1).requires_grad_(True)
    sampler = SGLD(
        [w],
        lr=step_size,
        n_beta=n_beta,
        localization=localization,
        integrator=integrator,
        generator=noise_generator,
    )
    chain_losses = _ChainLosses(model, loss_fn, n_chains)
    recorded = torch.empty((n_burnin + n_samples, n_chains), dtype=torch.float64)
    recorded = recorded.to(centre.device)
    for t in range(n_burnin + n_samples):
        X, y, per_chain = next(stream)
        with torch.enable_grad():
            params = {
                name: part.reshape(n_chains, *shape)
                for name, part, shape in zip(names, w.split(sizes, dim=1), shapes, strict=True)
            }
            losses = chain_losses(params, X, y, per_chain)
            # Chains are independent, so the gradient of the sum is every chain's own.
            (w.grad,) = torch.autograd.grad(losses.sum(), w, allow_unused=True)
        sampler.step()
        recorded[t] = losses.detach()
        if bar is not None:
            bar.update(1)
    return recorded[n_burnin:].T.cpu()
