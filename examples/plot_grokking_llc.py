"""
Grokking, measured by the local learning coefficient
====================================================

A network that learns modular addition :math:`a + b \\bmod p` from half of
the pairs fits its training pairs almost at once, and generalises only much
later: it *groks* (Power et al., 2022). Here Gromov's (2023) two-layer MLP
with quadratic activations, trained by full-batch AdamW with weight decay,
groks in a few hundred steps at :math:`p = 23`. At checkpoints a
:class:`effcomplexity.nn.Monitor` records the local learning coefficient
:math:`\\hat\\lambda` (Lau et al., 2024; estimated by SGLD with
:func:`effcomplexity.nn.local_learning_coefficient`) and the weight norms.
"""

# %%
# Data and model
# --------------
import copy
import warnings

import torch

from effcomplexity import datasets, plotting
from effcomplexity import nn as ecnn
from effcomplexity.models import make_mlp

torch.manual_seed(0)
p = 23
data = datasets.modular_addition(modulus=p, train_fraction=0.5, random_state=0)
X_train = torch.tensor(data.X_train, dtype=torch.float32)
X_test = torch.tensor(data.X_test, dtype=torch.float32)
y_train, y_test = torch.as_tensor(data.labels_train), torch.as_tensor(data.labels_test)
targets = torch.nn.functional.one_hot(y_train, p).float()
model = make_mlp(2 * p, 128, p, 1, activation="quadratic", bias=False, random_state=0)
print(f"{len(X_train)} training pairs, {len(X_test)} test pairs")

# %%
# Training, with the monitor at every 20th step
# ---------------------------------------------
# The margin-based weight measures are undefined while training points are
# misclassified (NaN, with a warning, silenced here).
warnings.filterwarnings("ignore", message="the margin at quantile")
monitor = ecnn.Monitor(
    X_train,
    y_train,
    X_test,
    y_test,
    init_model=copy.deepcopy(model),
    measures=["weights", "llc"],
    loss="mse",
    every=20,
    sweep="grokking at p = 23",
)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.98), weight_decay=1.0)
for step in range(401):
    if step:
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(X_train), targets).backward()
        optimizer.step()
    monitor.record(model, step=step)

table = monitor.table()
table[["step", "train_error", "test_error", "llc", "llc_se", "log_prod_spec"]].iloc[::4]

# %%
# The training error is zero from step 20; the test error reaches zero only
# after step 350. :math:`\hat\lambda` jumps while the network memorises the
# training pairs and then creeps up while it generalises, so in this short
# run it does not mark grokking by a fall; the product of the layers' spectral
# norms (``log_prod_spec``) does fall throughout the generalising phase.
fig = plotting.training_curves(table, x="step", measures=["llc", "log_prod_spec"])
