"""Random forests swept over leaves per tree (``P_leaf``) and trees (``P_ens``)."""

from __future__ import annotations

import numpy as np

from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import (
    check_n_probes,
    errors,
    load_data,
    staged_measures,
    unit_seed,
)

__all__ = ["FOREST"]


class ForestFamily(SweepFamily):
    """Random forests: one unit per ``P_leaf``, every ``P_ens`` from one forest."""

    name = "forest"
    axes = (
        Axis("P_leaf", minimum=2, allow_full=True, max_n_train=True, label="leaves per tree"),
        Axis("P_ens"),
    )
    unit_axis = "P_leaf"
    defaults = {"max_features": "sqrt", "bootstrap": False, "n_probes": 100}
    extra_columns = {"n_leaves": "float64"}
    description = "random forests (P_leaf leaves per tree, P_ens trees)"

    def validate(self, spec, where):
        check_n_probes(spec.resolved_model_kwargs(), where)

    def cost(self, spec, params, points):
        return float(max(p["P_ens"] for p in points))

    def run(self, spec, params, points, ctx: UnitContext):
        from sklearn.ensemble import RandomForestRegressor

        from ...measures.effective import staged_degrees_of_freedom
        from ...smoothers import get_smoother, staged_predictions

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        leaves = params["P_leaf"]
        n_trees = max(p["P_ens"] for p in points)
        forest = RandomForestRegressor(
            n_estimators=n_trees,
            max_leaf_nodes=leaves,
            max_features=opts["max_features"],
            bootstrap=opts["bootstrap"],
            random_state=ctx.seed,
            n_jobs=1,
        ).fit(data.X_train, data.y_train)
        smoother = get_smoother(forest, data.X_train, y_train=data.y_train)
        staged = staged_measures(
            smoother,
            data.X_train,
            data.X_test,
            unit_seed(ctx.seed, ctx.key),
            opts["n_probes"],
            data.y_train,
        )
        df_trace = staged_degrees_of_freedom(smoother, data.X_train, y_train=data.y_train)
        pred_train = staged_predictions(smoother, data.X_train, data.y_train)
        pred_test = staged_predictions(smoother, data.X_train, data.y_train, data.X_test)
        leaf_counts = np.array([tree.get_n_leaves() for tree in forest.estimators_], dtype=float)
        p_leaf = data.n_train if leaves is None else leaves
        rows = []
        for point in points:
            t = point["P_ens"]
            row = errors(pred_train[t - 1], pred_test[t - 1], data)
            row.update({name: float(values[t - 1]) for name, values in staged.items()})
            row.update(
                df_trace=float(df_trace[t - 1]),
                n_leaves=float(leaf_counts[:t].mean()),
                P_leaf=p_leaf,
                P_ens=t,
                n_params=p_leaf * t,
            )
            rows.append(row)
        return rows, data


FOREST = register_family(ForestFamily())
