"""Insert the generated tables into ``paper.md``.

Every line ``<!-- include: tables/NAME.md -->`` of ``paper.md`` is followed by
the content of ``paper/tables/NAME.md`` (written by the paper benchmarks),
closed by ``<!-- end include -->``. Running the script again replaces the
block inserted last time, so it is idempotent: ``pytest benchmarks/`` calls
it at the end of the run, and ``python paper/build.py`` does it by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAPER = HERE / "paper.md"

#: The marker a table is included below, and the line that closes the inserted block.
INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->\s*$")
END = "<!-- end include -->"

__all__ = [
    "END",
    "INCLUDE",
    "build",
    "included_blocks",
    "quoted_numbers",
    "render",
    "tabulated_numbers",
    "untabulated",
]

# A quoted number: a decimal (0.54, 1,234.5) or a percentage (54%, 12.5 %).
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?![\d,]\d)(\.\d+)?(?!\d)(?!\.\d)(\s?%)?")
# Any number in a table cell, scientific notation included.
_TABLE_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:,\d{3})*)?\.?\d+(?:[eE][-+]?\d+)?(\s?%)?")
# What is not prose: front matter, comments, code, display math, citations, link
# targets, and numbers quoted from the literature, written as [54%]{.published}.
# Inline math is prose: a run-derived $-73.9$ must be tabulated like any other.
_NOT_PROSE = (
    re.compile(r"\A---\n.*?\n---\n", re.S),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"^```.*?^```", re.S | re.M),
    re.compile(r"`[^`]*`"),
    re.compile(r"\$\$.*?\$\$", re.S),
    re.compile(r"\[[^\]]*\]\{\.published\}"),
    re.compile(r"\[[^\]]*@[^\]]*\]"),
    re.compile(r"@[\w:-]+"),
    re.compile(r"\]\([^)]*\)"),
    re.compile(r"\{[#.][^}]*\}"),
)


def render(text: str, root: Path = HERE) -> str:
    """``text`` with each include marker followed by its table (and the old block gone).

    Parameters
    ----------
    text : str
        The paper's Markdown.
    root : pathlib.Path
        Folder the include paths are relative to (``paper/``).

    Returns
    -------
    str

    Raises
    ------
    FileNotFoundError
        If a marker names a table that does not exist.
    ValueError
        If the block to replace holds more than one paragraph: text written
        between a marker and its end, which the table would overwrite.
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        match = INCLUDE.match(line)
        if match is None:
            continue
        # Drop the block inserted last time: up to its END, unless another marker comes first.
        j = i
        while j < len(lines) and lines[j].strip() != END and INCLUDE.match(lines[j]) is None:
            j += 1
        if j < len(lines) and lines[j].strip() == END:
            old = "\n".join(lines[i:j]).strip("\n")
            if "\n\n" in old:
                raise ValueError(
                    f"paper.md line {i}: text between the include marker of {match['path']} "
                    f"and its {END!r} would be overwritten by the table; move it outside."
                )
            i = j + 1
        path = root / match["path"]
        if not path.is_file():
            raise FileNotFoundError(
                f"paper.md includes {match['path']}, which does not exist: run "
                f"`pytest benchmarks/` (or the benchmark that writes it) first."
            )
        table = path.read_text().strip("\n")
        out.extend(["", table, "", END])
    return "\n".join(out) + "\n"


def included_blocks(text: str) -> list[tuple[int, int]]:
    """Line ranges ``[start, stop)`` of the inserted blocks (marker to END, both included)."""
    lines = text.splitlines()
    blocks = []
    start = None
    for k, line in enumerate(lines):
        if INCLUDE.match(line):
            start = k
        elif line.strip() == END and start is not None:
            blocks.append((start, k + 1))
            start = None
    return blocks


def quoted_numbers(text: str) -> list[tuple[str, float, int, bool]]:
    """Numbers the prose of ``text`` quotes, outside the inserted tables.

    The rule: a decimal number or a percentage in prose is run-derived and
    must round from a number of a generated table. Integers (sizes, seeds,
    years, counts) are not checked, nor are front matter, comments, code,
    display math, citations, link targets and numbers marked ``[...]{.published}``
    (quoted from the literature, with the citation beside them).

    Returns
    -------
    list of (token, value, decimals, percent)
    """
    lines = text.splitlines()
    for start, stop in reversed(included_blocks(text)):
        del lines[start:stop]
    prose = "\n".join(lines)
    for pattern in _NOT_PROSE:
        prose = pattern.sub(" ", prose)
    found = []
    for match in _NUMBER.finditer(prose):
        whole, frac, percent = match.group(1), match.group(2), match.group(3)
        if frac is None and percent is None:
            continue
        value = float(whole.replace(",", "") + (frac or ""))
        decimals = len(frac) - 1 if frac else 0
        found.append((match.group(0).strip(), value, decimals, percent is not None))
    return found


def tabulated_numbers(tables: Path = HERE / "tables") -> list[float]:
    """Every number of every generated table, percentages also as fractions."""
    values = []
    for path in sorted(Path(tables).glob("*.md")):
        for match in _TABLE_NUMBER.finditer(path.read_text()):
            token = match.group(0)
            percent = match.group(1) is not None
            value = float(token.rstrip("% ").replace(",", ""))
            values.append(value)
            if percent:
                values.append(value / 100)
    return values


def untabulated(text: str, tables: Path = HERE / "tables") -> list[str]:
    """Quoted numbers of ``text`` that are no rounding of any tabulated number.

    A quoted ``x`` with ``d`` decimals matches a tabulated ``v`` when ``v``
    rounds to ``x`` at ``d`` decimals; a percentage also when ``100 v`` does.
    """
    values = tabulated_numbers(tables)
    missing = []
    for token, x, decimals, percent in quoted_numbers(text):
        scales = (1.0, 100.0) if percent else (1.0,)
        tol = 0.5 * 10.0**-decimals * (1 + 1e-9)
        if not any(abs(abs(v) * s - x) <= tol for v in values for s in scales):
            missing.append(token)
    return missing


def build(paper: Path = PAPER) -> bool:
    """Rewrite ``paper`` with its tables inserted; True when the file changed."""
    paper = Path(paper)
    old = paper.read_text()
    new = render(old, paper.parent)
    if new != old:
        paper.write_text(new)
    return new != old


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PAPER
    changed = build(target)
    print(f"{target}: {'tables inserted' if changed else 'already up to date'}")
