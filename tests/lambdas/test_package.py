"""The deployment zip holds exactly the shared and function code, and imports on its own."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambdas.package import build_zip, main
from video_dagster.resources.lambda_functions import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_zip_members(tmp_path: Path) -> None:
    # A stray bytecode cache next to the sources must not be shipped.
    cache = ROOT / "lambdas" / "video_merger" / "__pycache__"
    cache.mkdir(exist_ok=True)
    path = build_zip("video_merger", tmp_path / "dist")
    names = zipfile.ZipFile(path).namelist()
    assert path.name == "video_merger.zip"
    assert "lambdas/__init__.py" in names
    for required in ("common/__init__.py", "common/storage.py", "common/media.py",
                     "video_merger/__init__.py", "video_merger/handler.py",
                     "video_merger/core.py", "video_merger/requirements.txt"):
        assert f"lambdas/{required}" in names
    assert all(n.startswith(("lambdas/common/", "lambdas/video_merger/")) or
               n == "lambdas/__init__.py" for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "lambdas/local_runner.py" not in names and "lambdas/package.py" not in names


def test_zip_is_reproducible_and_adds_deps(tmp_path: Path) -> None:
    first = build_zip("video_merger", tmp_path / "one").read_bytes()
    assert build_zip("video_merger", tmp_path / "two").read_bytes() == first
    deps = tmp_path / "deps"
    (deps / "somelib").mkdir(parents=True)
    (deps / "somelib" / "__init__.py").write_text("")
    names = zipfile.ZipFile(build_zip("video_merger", tmp_path / "three", deps)).namelist()
    assert "somelib/__init__.py" in names


def test_unknown_function_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Lambda named"):
        build_zip("common", tmp_path)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_handler_imports_from_an_extracted_copy(tmp_path: Path, name: str) -> None:
    assert main([name, "--out", str(tmp_path / "dist")]) == 0
    extracted = tmp_path / "task"
    zipfile.ZipFile(tmp_path / "dist" / f"{name}.zip").extractall(extracted)
    # Run from an empty cwd with only the extraction dir (and site-packages for av) on the path.
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        f"import lambdas.{name}.handler as h;"
        "assert h.__file__.startswith(sys.argv[1]), h.__file__;"
        "print(callable(h.lambda_handler))"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", code, str(extracted)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("True")
