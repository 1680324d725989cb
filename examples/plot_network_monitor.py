"""
A network measured during training
==================================

:class:`effcomplexity.nn.Monitor` records network measures at the checkpoints
of a training loop you write yourself, one row per checkpoint, into the same
results table the sweeps write. Attach a
:class:`effcomplexity.nn.TelescopingTracker` and each row also holds the
effective parameters of the network's linearised training path,
:math:`\\hat p_{train}` and :math:`\\hat p_{test}` (Jeffares, Curth and van der
Schaar, 2024). The table goes straight to :mod:`effcomplexity.plotting` and
:func:`effcomplexity.analysis.illusion_test`.
"""

# %%
# Data and network
# ----------------
# Two noisy classes in five dimensions; a one-hidden-layer network trained
# by full-batch gradient descent on the squared error to one-hot targets (the
# loss the tracker's smoother is defined for).
import copy
import warnings

import torch

from effcomplexity import analysis, plotting
from effcomplexity import nn as ecnn

torch.manual_seed(0)
X = torch.randn(100, 5)
y = ((X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.5 * torch.randn(100)) > 0.5).long()
X_train, y_train, X_test, y_test = X[:50], y[:50], X[50:], y[50:]
targets = torch.nn.functional.one_hot(y_train, 2).float()

model = torch.nn.Sequential(torch.nn.Linear(5, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
init = copy.deepcopy(model)

# %%
# The loop, with a tracker and a monitor
# --------------------------------------
# The tracker is stepped before each ``optimizer.step()``; the monitor is
# called at every step and records every fifth. While some training points
# are misclassified the margin-based weight measures are undefined (NaN, with
# a warning, silenced here).
warnings.filterwarnings("ignore", message="the margin at quantile")
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
tracker = ecnn.TelescopingTracker(model, X_train, targets, X_eval=X_test, method="exact")
monitor = ecnn.Monitor(
    X_train,
    y_train,
    X_test,
    y_test,
    init_model=init,
    measures=["weights"],
    tracker=tracker,
    loss="mse",
    every=5,
    sweep="two classes, tracked",
)
for step in range(1, 91):
    optimizer.zero_grad()
    torch.nn.functional.mse_loss(model(X_train), targets).backward()
    tracker.step(optimizer)
    optimizer.step()
    monitor.record(model, step=step)

table = monitor.table()
table[["step", "train_error", "test_error", "p_train", "p_test", "telescoping_gap"]].tail()

# %%
# ``telescoping_gap`` is the relative distance between the linearised
# model's predictions and the network's: small, so :math:`\hat p` describes
# this network.
#
# Curves and verdict
# ------------------
# Errors on the left axis, a measure on the right, one panel per measure.
fig = plotting.training_curves(table, x="step", measures=["p_test", "param_norm"])

# %%
# And the same table judged: is the test error against training time, and
# against :math:`\hat p_{test}`, a single descent, a U, or a double descent?
verdicts = analysis.illusion_test(table, error="test_error", measures=["step", "p_test"])
verdicts[["measure", "verdict", "evidence"]]
