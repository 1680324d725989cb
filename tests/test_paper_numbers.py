"""The paper quotes no run-derived number that no generated table holds.

``paper/tables/*.md`` are written by ``pytest benchmarks/``; ``paper.md``
includes them through ``paper/build.py`` and may quote their numbers in prose.
The rule checked here (see ``build.quoted_numbers``): every decimal number and
every percentage in the prose, outside the inserted tables, code, math,
citations and numbers marked ``[...]{.published}``, is a rounding of a number
in some generated table. No sweep runs: the tables are the committed ones.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PAPER = Path(__file__).resolve().parents[1] / "paper"


def _build_module():
    spec = importlib.util.spec_from_file_location("paper_build", PAPER / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


def test_paper_quotes_only_tabulated_numbers():
    text = (PAPER / "paper.md").read_text()
    missing = build.untabulated(text, PAPER / "tables")
    assert not missing, (
        f"paper.md quotes {missing}, which no paper/tables/*.md contains: quote a generated "
        "table's number, or mark a published one as [value]{.published} beside its citation."
    )


def test_paper_tables_are_inserted_and_current():
    text = (PAPER / "paper.md").read_text()
    assert build.render(text, PAPER) == text, (
        "paper.md's included tables differ from paper/tables/: run `python paper/build.py`."
    )


def test_every_include_names_an_existing_table():
    text = (PAPER / "paper.md").read_text()
    names = [m["path"] for line in text.splitlines() if (m := build.INCLUDE.match(line))]
    assert names, "paper.md includes no generated table"
    for name in names:
        assert (PAPER / name).is_file(), name


# -- the checker itself, on hand-written examples ---------------------------------------


def _tables(tmp_path, text):
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "t.md").write_text(text)
    return folder


def test_checker_flags_a_number_no_table_holds(tmp_path):
    tables = _tables(
        tmp_path, "| width | test error |\n|---|---|\n| 64 | 0.5432 |\n| 8 | 31.5% |\n"
    )
    prose = (
        "The peak is 0.54 at width 64; it was 0.55 elsewhere, 54% of the time, "
        "and 31.5% at width 8, 32% rounded, or 0.315 as a fraction; torch 2.13.0 is no number."
    )
    # 0.54 rounds 0.5432, 54% rounds 100 * 0.5432, 31.5% and 32% round the table's 31.5%,
    # 0.315 equals 31.5% as a fraction, a version is skipped; 0.55 rounds nothing.
    assert build.untabulated(prose, tables) == ["0.55"]


def test_checker_skips_what_is_not_prose(tmp_path):
    tables = _tables(tmp_path, "| a |\n|---|\n| 1 |\n")
    text = (
        "---\ntitle: v 2.5\n---\n"
        "Integers 4,000 and 2019 pass. `lr=0.01` is code, $$\\beta = 0.98$$ is display math, "
        "[54%]{.published} is quoted [@greydanus2020, p. 3.4], <!-- 0.7 --> a comment.\n"
        "```\nx = 0.25\n```\n"
        "![Test error 0.9](figures/x0.5.png)\n"
    )
    # Only the caption's 0.9 is prose.
    assert build.untabulated(text, tables) == ["0.9"]


def test_checker_reads_inline_math(tmp_path):
    """A run-derived number typeset as inline math is checked like prose."""
    tables = _tables(tmp_path, "| llc |\n|---|\n| -61.7 |\n")
    text = "The LLC is negative at initialisation ($-61.7$, once $-73.9$).\n"
    assert build.untabulated(text, tables) == ["73.9"]


def test_checker_ignores_inserted_tables(tmp_path):
    tables = _tables(tmp_path, "| a |\n|---|\n| 1 |\n")
    text = "<!-- include: tables/t.md -->\n\n| 0.123 |\n\n<!-- end include -->\nSee 0.5.\n"
    assert build.untabulated(text, tables) == ["0.5"]


def test_render_inserts_and_replaces_idempotently(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "a.md").write_text("| x |\n|---|\n| 1 |\n")
    (tmp_path / "tables" / "b.md").write_text("| y |\n|---|\n| 2 |\n")
    text = "Intro.\n<!-- include: tables/a.md -->\nMiddle.\n<!-- include: tables/b.md -->\nEnd.\n"
    once = build.render(text, tmp_path)
    expected = (
        "Intro.\n<!-- include: tables/a.md -->\n\n| x |\n|---|\n| 1 |\n\n<!-- end include -->\n"
        "Middle.\n<!-- include: tables/b.md -->\n\n| y |\n|---|\n| 2 |\n\n<!-- end include -->\n"
        "End.\n"
    )
    assert once == expected
    assert build.render(once, tmp_path) == once
    (tmp_path / "tables" / "a.md").write_text("| x |\n|---|\n| 3 |\n")
    assert build.render(once, tmp_path) == expected.replace("| 1 |", "| 3 |")


def test_render_refuses_to_overwrite_text_inside_a_block(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "a.md").write_text("| x |\n|---|\n| 1 |\n")
    text = "<!-- include: tables/a.md -->\nProse.\n\n| x |\n|---|\n| 0 |\n\n<!-- end include -->\n"
    with pytest.raises(ValueError, match="move it outside"):
        build.render(text, tmp_path)


def test_render_names_a_missing_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="pytest benchmarks/"):
        build.render("<!-- include: tables/none.md -->\n", tmp_path)
