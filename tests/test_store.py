"""The results store: what parts and manifests record, and what a run refuses to resume.

Oracles: the values the test itself passes in (spec fingerprint, package
version, unit keys, run ids read from the manifest), ``hashlib.sha256`` of the
bytes on disk, and an uninterrupted run of the same spec without ``out``.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import effcomplexity
from effcomplexity import sweeps
from effcomplexity.sweeps import runner, store
from tests._sweeps import count_units, interrupted

SWEEPS = Path(sweeps.__file__).parent


def _tiny(**changes):
    spec = sweeps.get_spec("ridgeless_theory").replace(
        n_train=40, n_test=20, grid={"n_features": (10, 30, 80)}, seeds=(0,)
    )
    return spec.replace(**changes).sized(True)


@pytest.fixture(scope="module")
def reference():
    return sweeps.run(_tiny(), verbose=0)


def _parts(out: Path) -> list[Path]:
    return sorted(out.with_name(out.name + ".parts").glob("unit-*"))


def _rewrite_part(path: Path, fmt: str, **changes) -> Path:
    """Store ``path``'s rows again with its metadata changed, under a valid name."""
    frame, meta = store.read_part(path)
    payload = store._dump(frame, fmt, {**meta, **changes})
    digest = hashlib.sha256(payload).hexdigest()
    path.unlink()
    new = path.with_name(".".join([path.name.split(".")[0], digest, fmt]))
    new.write_bytes(payload)
    return new


# -- the module layout -------------------------------------------------------------------


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:  # module level only; a function may import lazily
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_the_store_imports_neither_torch_nor_the_runner_nor_the_families():
    for module in ("store.py", "plan.py"):
        imports = _top_level_imports(SWEEPS / module)
        assert not {name for name in imports if "torch" in name}, module
        assert not {name for name in imports if "runner" in name or "families" in name}, module
    assert runner.Unit is sweeps.Unit is sweeps.plan.__globals__["Unit"]
    assert runner.results_path is store.results_path is sweeps.results_path


# -- what parts and manifests record ------------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_parts_and_manifests_record_version_fingerprint_unit_and_run(
    reference, tmp_path, monkeypatch, suffix
):
    spec = _tiny()
    out = tmp_path / f"r.{suffix}"
    interrupted(spec, out, monkeypatch, stop_at=2)
    manifest = json.loads((tmp_path / f"r.{suffix}.parts" / "manifest.json").read_text())
    assert manifest["version"] == effcomplexity.__version__
    assert manifest["fingerprint"] == spec.fingerprint()
    assert manifest["sweep"] == "ridgeless_theory" and manifest["n_units"] == 3
    assert manifest["columns"] == sweeps.columns(spec)
    assert manifest["store_format"] == store.STORE_FORMAT and len(manifest["run"]) == 16
    units = sweeps.plan(spec)
    parts = _parts(out)
    assert len(parts) == 2
    for unit, path in zip(units, parts, strict=False):
        frame, meta = store.read_part(path)
        assert hashlib.sha256(path.read_bytes()).hexdigest() in path.name
        assert meta == {**manifest, "unit": unit.key, "index": unit.index}
        pd.testing.assert_frame_equal(
            store.coerce(frame, runner._dtypes(spec)),
            reference.iloc[[unit.index]].reset_index(drop=True),
            check_dtype=False,
        )
    table = sweeps.run(spec, out=out, verbose=0)
    pd.testing.assert_frame_equal(table, reference, check_exact=True)
    final = json.loads((tmp_path / f"r.{suffix}.manifest.json").read_text())
    assert final == {
        **manifest,
        "complete": True,
        "n_rows": 3,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }


def test_a_store_that_keeps_its_parts_with_extra_metadata(reference, tmp_path):
    """The store on its own: one part per unit that also records, e.g., a commit."""
    spec = _tiny()
    units = sweeps.plan(spec)
    kept = store.ResultStore(
        tmp_path / "full.csv",
        sweep=spec.name,
        fingerprint=spec.fingerprint(),
        units=units,
        dtypes=runner._dtypes(spec),
        metadata={"commit": "0123abc"},
        keep_parts=True,
    )
    try:
        assert kept.open(overwrite=False) == {}
        for unit in units:
            kept.save(unit, reference.iloc[[unit.index]].reset_index(drop=True))
        kept.finish(reference)
    finally:
        kept.close()
    parts = _parts(tmp_path / "full.csv")
    assert sorted(p.name for p in (tmp_path / "full.csv.parts").iterdir()) == sorted(
        ["lock", "manifest.json", *(p.name for p in parts)]
    )
    assert [store.read_part(p)[1]["commit"] for p in parts] == ["0123abc"] * 3
    assert [store.read_part(p)[1]["unit"] for p in parts] == [u.key for u in units]
    assert json.loads((tmp_path / "full.csv.manifest.json").read_text())["commit"] == "0123abc"
    # A run of the same spec reads it back as finished.
    table = sweeps.run(spec, out=tmp_path / "full.csv", verbose=0)
    pd.testing.assert_frame_equal(table, reference, check_exact=True)


# -- what is not resumed -------------------------------------------------------------------


def test_results_of_another_version_are_refused_unless_overwritten(
    reference, tmp_path, monkeypatch
):
    out = tmp_path / "r.csv"
    monkeypatch.setattr(store, "__version__", "0.0.1")
    interrupted(_tiny(), out, monkeypatch, stop_at=1)  # undoes the version too
    monkeypatch.setattr(store, "__version__", "0.0.1")
    sweeps.run(_tiny(), out=tmp_path / "done.csv", verbose=0)
    monkeypatch.undo()
    for target in (out, tmp_path / "done.csv"):
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        with pytest.raises(ValueError, match=r"written by effcomplexity 0\.0\.1 .* and this is "):
            sweeps.run(_tiny(), out=target, verbose=0)
        assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
        table = sweeps.run(_tiny(), out=target, verbose=0, overwrite=True)
        pd.testing.assert_frame_equal(table, reference, check_exact=True)


def test_a_manifest_without_a_version_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    interrupted(_tiny(), out, monkeypatch, stop_at=1)
    path = tmp_path / "r.csv.parts" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["version"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="did not record its version.*overwrite=True"):
        sweeps.run(_tiny(), out=out, verbose=0)


@pytest.mark.parametrize(
    ("key", "value"),
    [("fingerprint", "0" * 64), ("version", "9.9"), ("columns", ["sweep"]), ("unit", "x")],
)
def test_a_part_of_another_spec_in_this_run_is_refused(tmp_path, monkeypatch, key, value):
    out = tmp_path / "r.csv"
    interrupted(_tiny(), out, monkeypatch, stop_at=2)
    _rewrite_part(_parts(out)[1], "csv", **{key: value})
    with pytest.raises(ValueError, match=rf"do not belong to this sweep: .*its {key} is .*"):
        sweeps.run(_tiny(), out=out, verbose=0)
    with pytest.raises(ValueError, match="pass overwrite=True to replace them"):
        sweeps.run(_tiny(), out=out, verbose=0)


def test_a_part_of_another_run_is_ignored_with_a_warning(reference, tmp_path, monkeypatch, caplog):
    out = tmp_path / "r.csv"
    interrupted(_tiny(), out, monkeypatch, stop_at=2)
    _rewrite_part(_parts(out)[1], "csv", run="0123456789abcdef")
    calls = count_units(monkeypatch)
    with caplog.at_level("WARNING"):
        table = sweeps.run(_tiny(), out=out, verbose=0)
    assert "written by run 0123456789abcdef, not by this store's run" in caplog.text
    assert calls == [u.key for u in sweeps.plan(_tiny())[1:]]
    pd.testing.assert_frame_equal(table, reference, check_exact=True)


def test_checkpoints_of_another_run_are_removed_at_open(tmp_path, monkeypatch, caplog):
    out = tmp_path / "r.csv"
    interrupted(_tiny(), out, monkeypatch, stop_at=1)
    stale = tmp_path / "r.csv.parts" / "checkpoints" / "feedfacefeedface" / "unit-000001-x"
    stale.mkdir(parents=True)
    (stale / "checkpoint.pt").write_bytes(b"old")
    with caplog.at_level("WARNING"):
        sweeps.run(_tiny(), out=out, verbose=0)
    assert "checkpoints of another run" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.csv.manifest.json"]


# -- a finished sweep --------------------------------------------------------------------


def test_a_finished_sweep_is_read_back_from_its_results_file(reference, tmp_path, monkeypatch):
    out = tmp_path / "r.parquet"
    sweeps.run(_tiny(), out=out, verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet", "r.parquet.manifest.json"]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = count_units(monkeypatch)
    table = sweeps.run(_tiny(), out=out, verbose=0)
    assert calls == []
    pd.testing.assert_frame_equal(table, reference, check_exact=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with pytest.raises(ValueError, match="different sweep spec"):
        sweeps.run(_tiny(seeds=(1,)), out=out, verbose=0)


def test_a_finished_results_file_changed_since_is_refused(reference, tmp_path):
    out = tmp_path / "r.csv"
    sweeps.run(_tiny(), out=out, verbose=0)
    edited = pd.read_csv(out).assign(p_test=0.0)
    edited.to_csv(out, index=False)
    with pytest.raises(ValueError, match=r"was changed after the sweep finished.*overwrite=True"):
        sweeps.run(_tiny(), out=out, verbose=0)
    pd.testing.assert_frame_equal(pd.read_csv(out), edited)
    table = sweeps.run(_tiny(), out=out, verbose=0, overwrite=True)
    pd.testing.assert_frame_equal(table, reference, check_exact=True)


def test_a_finished_manifest_without_its_results_file_recomputes(
    reference, tmp_path, monkeypatch, caplog
):
    out = tmp_path / "r.csv"
    sweeps.run(_tiny(), out=out, verbose=0)
    out.unlink()
    calls = count_units(monkeypatch)
    with caplog.at_level("WARNING"):
        table = sweeps.run(_tiny(), out=out, verbose=0)
    assert "is missing beside its manifest" in caplog.text and len(calls) == 3
    pd.testing.assert_frame_equal(table, reference, check_exact=True)


def test_a_kill_between_the_manifest_and_the_parts_removal_reads_back(
    reference, tmp_path, monkeypatch
):
    """Finished manifest written, parts folder still there: the table is read back."""
    out = tmp_path / "r.csv"
    monkeypatch.setattr(store.ResultStore, "_remove_parts", lambda self: None)
    sweeps.run(_tiny(), out=out, verbose=0)
    monkeypatch.undo()
    assert (tmp_path / "r.csv.parts" / "manifest.json").is_file()
    calls = count_units(monkeypatch)
    table = sweeps.run(_tiny(), out=out, verbose=0)
    assert calls == []
    pd.testing.assert_frame_equal(table, reference, check_exact=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.csv.manifest.json"]
