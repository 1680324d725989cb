"""The examples in the documentation run, and print what the pages say.

Every ``>>>`` example of ``docs/*.rst`` is run with :mod:`doctest`, one page
per fresh interpreter (a page may register a smoother family, which must not
leak into the other tests). Docstring examples run through
``--doctest-modules``. The intersphinx inventories shipped in
``docs/_inventories/`` must be the ones ``make_inventories.py`` writes.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
PAGES_WITH_EXAMPLES = [page for page in PAGES if ">>> " in page.read_text()]

# Run one page's examples and report (failed, attempted) as JSON on the last line.
_RUNNER = """
import doctest, json, sys
import matplotlib
matplotlib.use("Agg")
flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
result = doctest.testfile(sys.argv[1], module_relative=False, optionflags=flags)
print(json.dumps({"failed": result.failed, "attempted": result.attempted}))
"""


def test_pages_have_examples():
    names = {page.name for page in PAGES_WITH_EXAMPLES}
    assert {"quickstart.rst", "guide_smoothers.rst", "guide_measures.rst"} <= names


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: page.name)
def test_page_examples_run(page):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(page)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    result = json.loads(lines[-1])
    assert result["attempted"] > 0
    assert result["failed"] == 0, proc.stdout + proc.stderr


def _python_code_blocks(text: str) -> int:
    return len(
        re.findall(r"^\.\. (?:code-block|code|sourcecode):: (?:python|pycon)\s*$", text, re.M)
    )


def test_python_examples_are_doctests():
    """Python examples are ``>>>`` blocks, which run; ``code-block:: python`` ones do not,
    so no page may hold one."""
    counts = {page.name: _python_code_blocks(page.read_text()) for page in PAGES}
    over = {name: n for name, n in counts.items() if n > 0}
    assert not over, f"python code-blocks that never run (use >>> examples): {over}"


def test_inventories_match_their_script():
    script = runpy.run_path(str(DOCS / "_inventories" / "make_inventories.py"))
    for key in script["PROJECTS"]:
        shipped = (DOCS / "_inventories" / f"{key}.inv").read_bytes()
        assert shipped == script["inventory_bytes"](key), f"rerun make_inventories.py ({key})"


def test_inventories_are_sphinx_inventories():
    """Each file parses as Sphinx does, and every URI is relative to its site."""
    from sphinx.util.inventory import InventoryFile

    script = runpy.run_path(str(DOCS / "_inventories" / "make_inventories.py"))
    for key, (_, _, base) in script["PROJECTS"].items():
        path = DOCS / "_inventories" / f"{key}.inv"
        header, _, body = path.read_bytes().partition(b"zlib.\n")
        lines = zlib.decompress(body).decode().splitlines()
        assert len(lines) == len(script["OBJECTS"][key]) > 0
        with path.open("rb") as stream:
            inventory = InventoryFile.load(stream, base, lambda a, b: f"{a}/{b}")
        uris = [
            item[2] if isinstance(item, tuple) else item.uri
            for objects in (inventory.data if hasattr(inventory, "data") else inventory).values()
            for item in objects.values()
        ]
        assert uris and all(uri.startswith(base + "/") for uri in uris)
