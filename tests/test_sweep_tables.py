"""Quick runs of every library spec, against tables saved from an earlier release.

Oracle: ``tests/data/sweeps/<name>.csv`` (and ``dtypes.json``), written by
``sweeps.run(name)`` (quick size, one job) before the sweep families moved to
their registry. Reorganising how families are declared must not change a
single column, dtype, row or number of any table. The two boosting tables
were written again when their ``df_trace`` became exact (zero
``df_trace_se``): only those two columns changed, every earlier probe
estimate lying within 2.2 of its standard errors of the exact trace.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from effcomplexity import sweeps

DATA = Path(__file__).parent / "data" / "sweeps"
# The specs saved before the move (the network sweeps came after it).
SAVED = sorted(json.loads((DATA / "dtypes.json").read_text()))


@pytest.mark.parametrize("name", SAVED)
def test_quick_table_matches_saved_table(name):
    dtypes = json.loads((DATA / "dtypes.json").read_text())[name]
    table = sweeps.run(name, verbose=0)
    assert {c: str(d) for c, d in table.dtypes.items()} == dtypes
    saved = pd.read_csv(DATA / f"{name}.csv", keep_default_na=False, na_values=[""])
    assert list(table.columns) == list(saved.columns)
    saved = saved.astype(dtypes)
    # Identical arithmetic gives identical digits; the tolerance only absorbs a
    # different BLAS build, far below any change of method.
    pd.testing.assert_frame_equal(table, saved, check_exact=False, rtol=1e-9, atol=1e-12)
