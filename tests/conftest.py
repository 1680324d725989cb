"""Test-session settings."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits

#: Scripts that generate reference numbers with other tools (not installed here) are not tests.
collect_ignore = ["data"]


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_library():
    """One BLAS/OpenMP thread: results do not depend on the machine's core count,
    and small fits do not oversubscribe a shared CI machine."""
    with threadpool_limits(limits=1):
        yield
