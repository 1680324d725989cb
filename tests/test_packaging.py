"""The sdist and wheel carry what a user of the package needs.

Oracle: the file lists of the archives that setuptools' own build backend
writes from this checkout; the licence text must be the one in the repository,
and the sdist must hold every file its tests read (the tests, their data, the
docs pages whose examples they run, the paper's text and tables).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not (ROOT / "pyproject.toml").exists() or not (ROOT / ".git").exists(),
    reason="needs the source checkout, not an installed or unpacked copy",
)

BUILD = """
import sys
from setuptools import build_meta
out = sys.argv[1]  # read first: the backend rewrites sys.argv
build_meta.build_sdist(out)
build_meta.build_wheel(out)
"""


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("the licence expression needs setuptools >= 77")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (sdist,), (wheel,) = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return sdist, wheel


def test_wheel_ships_licence_and_type_marker(archives):
    _, wheel = archives
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        licence = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert licence, names
        assert zf.read(licence[0]).decode() == (ROOT / "LICENSE").read_text()
        assert "effcomplexity/py.typed" in names
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Classifier: License ::" not in metadata  # the expression replaces the classifier


def test_sdist_holds_what_its_tests_read(archives):
    sdist, _ = archives
    with tarfile.open(sdist) as tf:
        names = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    tracked = subprocess.run(
        ["git", "ls-files", "tests", "docs/api.rst", "paper/paper.md", "paper/tables"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    missing = sorted(set(tracked) - names)
    assert not missing, f"the sdist lacks {missing}: add them to MANIFEST.in"
    assert {"LICENSE", "effcomplexity/py.typed", "paper/build.py"} <= names
