"""
A sweep on a Dask cluster
=========================

:func:`effcomplexity.sweeps.run` hands the units of a sweep to joblib on one
machine, or with ``backend="dask"`` to a :mod:`dask.distributed` cluster. The
numbers do not depend on where a unit runs: every unit draws from its own
seed. Here a :class:`~dask.distributed.LocalCluster` of two workers that talk
to its scheduler over TCP on the loopback interface stands in for a real
cluster (pass ``scheduler="tcp://host:8786"`` to use one); they are threads of
this process, which keeps the example quick and lets it run as a plain
script. The forest sweep of Curth et al. (2023) runs at a tiny size on
scikit-learn's digits.
"""

# %%
# A small sweep
# -------------
# The built-in ``curth_trees`` spec, shrunk: 200 training digits, leaves per
# tree then trees along one composite path, two seeds.
from distributed import Client, LocalCluster

from effcomplexity import plotting, sweeps

spec = sweeps.get_spec("curth_trees").replace(
    name="trees_on_dask",
    dataset="digits",
    n_train=200,
    n_test=300,
    grid={"P_leaf": (2, 10, 50, "full"), "P_ens": (1, 5, 20)},
    product=False,
    seeds=(0, 1),
    quick={},
    dataset_kwargs={"targets": "onehot"},
)

# %%
# On the cluster
# --------------
with (
    LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as cluster,
    Client(cluster) as client,
):
    on_cluster = sweeps.run(spec, quick=False, backend="dask", client=client, verbose=0)

# %%
# The same sweep in this process gives the same table, number for number:
here = sweeps.run(spec, quick=False, verbose=0)
print("identical:", here.equals(on_cluster))
on_cluster[["seed", "axis", "P_leaf", "P_ens", "test_error", "p_test"]].head(6)

# %%
# The classic double-descent plot of the cluster's table: error against the
# raw parameter count, the first segment of the path in blue, the second in
# vermilion.
fig = plotting.composite(on_cluster, error="test_error")
