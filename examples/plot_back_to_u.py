"""
Back to U
=========

Curth, Jeffares and van der Schaar (2023) trace the double descent of random
forests to the x-axis: the raw parameter count first grows the leaves of one
tree (:math:`P_{leaf}`) and then the number of trees (:math:`P_{ens}`), two
different mechanisms on one axis. Against the effective number of parameters
on the test inputs, :math:`\\hat p_{test}`, the second segment runs back to
*lower* complexity, and the curve folds into a U. This example runs the
built-in ``curth_trees`` sweep at a tiny size on scikit-learn's digits and
draws both readings.
"""

# %%
# The sweep
# ---------
# Leaves per tree up to pure trees ("full"), then trees, along one composite
# path; two seeds.
from effcomplexity import analysis, plotting, sweeps

spec = sweeps.get_spec("curth_trees").replace(
    name="trees_digits",
    dataset="digits",
    n_train=300,
    n_test=300,
    grid={"P_leaf": (2, 5, 10, 25, 50, 100, "full"), "P_ens": (1, 2, 5, 10, 20)},
    product=False,
    seeds=(0, 1),
    quick={},
    dataset_kwargs={"targets": "onehot"},
)
table = sweeps.run(spec, quick=False, verbose=0)
table[["seed", "axis", "P_leaf", "P_ens", "n_params", "test_mse", "p_test"]].head(11)

# %%
# Against the raw count
# ---------------------
# The classic picture: the error falls along :math:`P_{leaf}`, rises as the
# single tree grows towards pure leaves, and falls again once trees are added
# along :math:`P_{ens}` (the switch is the dashed line).
fig = plotting.composite(table, error="test_mse")

# %%
# Against :math:`\hat p_{test}`
# -----------------------------
# Averaging more trees *lowers* :math:`\hat p_{test}`: the vermilion segment
# runs leftwards, below the blue one. Each point is labelled with its raw-axis
# value; the title is the verdict of
# :func:`effcomplexity.analysis.illusion_test`.
verdicts = analysis.illusion_test(table, error="test_mse", measures=["n_params", "p_test"])
fig = plotting.back_to_u(table, measure="p_test", error="test_mse", verdicts=verdicts)
verdicts[["measure", "verdict", "fold_back", "evidence"]]
