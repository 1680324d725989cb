"""Gradient boosting swept over rounds (``P_boost``) and averaged boosters (``P_ens``)."""

from __future__ import annotations

import numpy as np

from ..._validation import is_integer
from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import (
    check_n_probes,
    check_positive,
    errors,
    in_point_order,
    load_data,
    staged_measures,
    unit_seed,
)

__all__ = ["BOOSTING", "member_seeds"]

# Rademacher probes for tr(S_t) where the policy picks probes (large n): the
# column df_trace_se reports their spread, 0 when the exact trace is used.
_TRACE_PROBES = 32


def member_seeds(seed: int, n_members: int) -> list[int]:
    """Seeds of the members of an ensemble of boosters, nested in ``n_members``."""
    children = np.random.SeedSequence(int(seed)).spawn(n_members)
    return [int(child.generate_state(1)[0]) for child in children]


class BoostingFamily(SweepFamily):
    """One-vs-rest gradient boosting: one unit per ``P_ens``, every ``P_boost`` staged."""

    name = "boosting"
    axes = (Axis("P_boost"), Axis("P_ens"))
    unit_axis = "P_ens"
    defaults = {
        "max_leaf_nodes": 10,
        "learning_rate": 0.85,
        "max_features": "sqrt",
        "effective_class": 0,
        "n_probes": 100,
    }
    extra_columns = {"df_trace_se": "float64"}
    description = "gradient boosting (P_boost rounds, averages of P_ens boosters), one-vs-rest"

    def validate(self, spec, where):
        opts = spec.resolved_model_kwargs()
        check_n_probes(opts, where)
        check_positive(opts, "learning_rate", where)
        leaves = opts["max_leaf_nodes"]
        if leaves is not None and (not is_integer(leaves) or leaves < 2):
            raise ValueError(
                f"max_leaf_nodes must be an integer >= 2 or None in {where}, got {leaves!r}."
            )
        cls = opts["effective_class"]
        if not is_integer(cls) or cls < 0:
            raise ValueError(f"effective_class must be a class index in {where}, got {cls!r}.")

    def cost(self, spec, params, points):
        return float(params["P_ens"] * max(p["P_boost"] for p in points))

    def run(self, spec, params, points, ctx: UnitContext):
        from sklearn.ensemble import GradientBoostingRegressor, VotingRegressor

        from ...measures.effective import staged_degrees_of_freedom
        from ...smoothers import get_smoother

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        n_members = params["P_ens"]
        n_rounds = max(p["P_boost"] for p in points)
        seeds = member_seeds(ctx.seed, n_members)
        Y = np.asarray(data.y_train, dtype=float)
        targets = Y if Y.ndim == 2 else Y[:, None]
        n_out = targets.shape[1]
        if opts["effective_class"] >= n_out:
            raise ValueError(
                f"effective_class = {opts['effective_class']} but the targets have "
                f"{n_out} output(s)."
            )

        def booster(member_seed):
            return GradientBoostingRegressor(
                n_estimators=n_rounds,
                max_leaf_nodes=opts["max_leaf_nodes"],
                learning_rate=opts["learning_rate"],
                max_features=opts["max_features"],
                init="zero",
                subsample=1.0,
                random_state=member_seed,
            )

        wanted = sorted({p["P_boost"] for p in points})
        pred_train = np.zeros((len(wanted), data.n_train, n_out))
        pred_test = np.zeros((len(wanted), data.n_test, n_out))
        models = []
        for c in range(n_out):
            if n_members == 1:
                model = booster(seeds[0]).fit(data.X_train, targets[:, c])
                members = [model]
            else:
                estimators = [(f"booster_{j}", booster(s)) for j, s in enumerate(seeds)]
                model = VotingRegressor(estimators).fit(data.X_train, targets[:, c])
                members = model.estimators_
            models.append(model)
            for member in members:
                for X, out in ((data.X_train, pred_train), (data.X_test, pred_test)):
                    stage = 0
                    for r, pred in enumerate(member.staged_predict(X), start=1):
                        if r == wanted[stage]:
                            out[stage, :, c] += pred / n_members
                            stage += 1
                            if stage == len(wanted):
                                break

        effective = models[opts["effective_class"]]
        y_effective = targets[:, opts["effective_class"]]
        probe_seed = unit_seed(ctx.seed, ctx.key)
        smoother = get_smoother(effective, data.X_train, y_train=y_effective)
        staged = staged_measures(
            smoother, data.X_train, data.X_test, probe_seed, opts["n_probes"], y_effective
        )
        trace, trace_se = staged_degrees_of_freedom(
            smoother,
            data.X_train,
            n_probes=_TRACE_PROBES,
            random_state=probe_seed,
            return_std=True,
            y_train=y_effective,
        )
        by_rounds = {p["P_boost"]: p for p in points}
        rows = []
        for i, r in enumerate(wanted):
            ptr, pte = pred_train[i], pred_test[i]
            if Y.ndim == 1:
                ptr, pte = ptr[:, 0], pte[:, 0]
            row = errors(ptr, pte, data)
            row.update({name: float(values[r - 1]) for name, values in staged.items()})
            row.update(
                df_trace=float(trace[r - 1]),
                df_trace_se=float(trace_se[r - 1]),
                P_boost=r,
                P_ens=n_members,
                n_params=r * n_members,
            )
            rows.append((by_rounds[r], row))
        return in_point_order(points, rows), data


BOOSTING = register_family(BoostingFamily())
