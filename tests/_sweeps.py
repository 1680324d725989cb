"""Helpers shared by the tests of the runner and its results store."""

from __future__ import annotations

from pathlib import Path

import pytest

from effcomplexity import sweeps
from effcomplexity.sweeps import runner


def interrupted(spec, out: Path, monkeypatch, stop_at: int) -> None:
    """Leave ``out`` as a quick run stopped after storing its first ``stop_at`` units."""
    original = runner.run_unit
    keys = [unit.key for unit in sweeps.plan(spec.sized(True))]

    def stopping(spec, seed, params, points, key, *args):
        if keys.index(key) >= stop_at:
            raise KeyboardInterrupt
        return original(spec, seed, params, points, key, *args)

    monkeypatch.setattr(runner, "run_unit", stopping)
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(spec, out=out, verbose=0)
    monkeypatch.undo()


def count_units(monkeypatch) -> list[str]:
    """Record the key of every unit the runner computes from now on."""
    calls: list[str] = []
    original = runner.run_unit

    def counting(spec, seed, params, points, key, *args):
        calls.append(key)
        return original(spec, seed, params, points, key, *args)

    monkeypatch.setattr(runner, "run_unit", counting)
    return calls
