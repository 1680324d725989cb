"""The paper renders from its documented steps: ``make -C paper pdf`` and ``html``.

The PDF needs pandoc and pdflatex (Debian: ``pandoc texlive-latex-recommended
texlive-fonts-recommended lmodern``); the HTML route needs pandoc alone. Each
test is skipped, with the reason, where its tools are missing. What is checked:
the figures are the vector PDFs written beside the PNGs, wide figures are set on
landscape pages, every table has a caption, figure references carry the
figures' numbers and names with particles are cited in full.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PAPER = Path(__file__).resolve().parents[1] / "paper"
FLAGS = [
    "--citeproc",
    "--bibliography=paper.bib",
    "--resource-path=.",
    "--number-sections",
    "--lua-filter=paper.lua",
]

needs_pandoc = pytest.mark.skipif(
    shutil.which("pandoc") is None or not (PAPER / "figures").is_dir(),
    reason="pandoc is not installed, or the paper's figures are not in this copy (an sdist)",
)
needs_latex = pytest.mark.skipif(
    shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None,
    reason="pdflatex is not installed (texlive-latex-recommended)",
)


def _pandoc(*args: str) -> str:
    done = subprocess.run(
        ["pandoc", "paper.md", *FLAGS, *args],
        cwd=PAPER,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _make(target: str, out: Path) -> None:
    done = subprocess.run(
        ["make", "-C", str(PAPER), target, f"OUT={out}", f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def latex() -> str:
    return _pandoc("--standalone", "-t", "latex", "-V", "papersize=a4", "-V", "geometry:margin=2cm")


@needs_pandoc
def test_pdf_uses_vector_figures(latex):
    graphics = re.findall(r"\\includegraphics(?:\[[^]]*\])?\{([^}]+)\}", latex)
    # Every figure the paper shows, each written by the benchmarks as .png and .pdf.
    shown = set(re.findall(r"\]\((figures/[\w-]+)\.png\)", (PAPER / "paper.md").read_text()))
    assert len(graphics) >= len(shown) > 20
    assert {g.removesuffix(".pdf") for g in graphics} == shown
    assert all(g.endswith(".pdf") for g in graphics)


@needs_pandoc
def test_wide_figures_are_on_landscape_pages(latex):
    landscape = re.findall(
        r"\\begin\{landscape\}.*?\\includegraphics\{([^}]+)\}.*?\\end\{landscape\}", latex, re.S
    )
    # The widest multi-panel figures (natural width over 1.6 text widths).
    assert {"figures/mnist1d_width_measures.pdf", "figures/belkin_rff.pdf"} <= set(landscape)
    assert "figures/ridgeless_theory.pdf" not in landscape


@needs_pandoc
def test_every_table_has_a_caption(latex):
    tables = re.findall(r"\\begin\{longtable\}.*?\\end\{longtable\}", latex, re.S)
    # Oracle: one per include marker of a table file that holds a table (two hold prose).
    holding = {
        p.name for p in (PAPER / "tables").glob("*.md") if p.read_text().lstrip().startswith("|")
    }
    included = re.findall(r"<!-- include: tables/(\S+) -->", (PAPER / "paper.md").read_text())
    assert len(tables) == len([name for name in included if name in holding])
    assert all("\\caption" in table for table in tables)


@needs_pandoc
def test_figure_references_carry_figure_numbers(latex):
    numbered = re.findall(r"\\label\{(fig:[\w-]+)\}", latex)
    figures = re.findall(r"\\begin\{figure\}.*?\\end\{figure\}", latex, re.S)
    # LaTeX numbers the figures in order: the n-th figure environment is Figure n.
    number = {
        label: k + 1
        for k, fig in enumerate(figures)
        for label in re.findall(r"\\label\{([^}]+)\}", fig)
    }
    refs = re.findall(r"\\hyperlink\{(fig:[\w-]+)\}\{Figure\s+(\d+)\}", latex)
    assert refs and numbered
    for label, shown in refs:
        assert int(shown) == number[label], label


@needs_pandoc
def test_names_with_particles_are_cited_in_full():
    text = _pandoc("-t", "plain", "--wrap=none")
    assert "Curth, Jeffares, and van der Schaar (2023)" in text
    assert not re.search(r"(?<!der )Schaar", text)


@needs_pandoc
def test_html_renders_without_latex(tmp_path):
    out = tmp_path / "paper.html"
    _make("html", out)
    html = out.read_text()
    assert html.count("<figure") > 20 and html.count("<caption>") > 20


@needs_pandoc
@needs_latex
def test_pdf_builds(tmp_path):
    out = tmp_path / "paper.pdf"
    _make("pdf", out)
    assert out.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdfimages"):
        listed = subprocess.run(["pdfimages", "-list", str(out)], capture_output=True, text=True)
        # Header and rule, then one line per raster image: vector figures leave none.
        assert len(listed.stdout.strip().splitlines()) == 2
