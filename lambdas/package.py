"""Build a Lambda deployment zip: `python -m lambdas.package video_merger --out dist/`."""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from lambdas.common.logs import JsonLogger

LAMBDAS_DIR = Path(__file__).resolve().parent
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
# Fixed timestamp so the same sources give the same zip bytes (stable CodeSha256).
_EPOCH = (1980, 1, 1, 0, 0, 0)


def build_zip(function_name: str, out_dir: Path, deps_dir: Path | None = None) -> Path:
    """Zip lambdas/__init__.py, common/ and <function_name>/ (plus deps_dir at the root)."""
    function_dir = LAMBDAS_DIR / function_name
    if not (function_dir / "handler.py").is_file():
        raise ValueError(f"no Lambda named {function_name!r} under {LAMBDAS_DIR}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{function_name}.zip"
    members = [(LAMBDAS_DIR / "__init__.py", "lambdas/__init__.py")]
    for folder in (LAMBDAS_DIR / "common", function_dir):
        members += [(p, f"lambdas/{p.relative_to(LAMBDAS_DIR).as_posix()}") for p in _files(folder)]
    if deps_dir is not None:
        members += [(p, p.relative_to(deps_dir).as_posix()) for p in _files(deps_dir)]
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in sorted(members, key=lambda m: m[1]):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            # Keep an executable bit (bundled binaries) but normalize everything else.
            info.external_attr = ((path.stat().st_mode & 0o111) | 0o644) << 16
            with path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst)
    partial.replace(target)
    return target


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES and not (
            _SKIP_DIRS & set(path.relative_to(folder).parts)
        ):
            yield path


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m lambdas.package", description=__doc__)
    parser.add_argument("function_name")
    parser.add_argument("--out", type=Path, default=Path("dist"))
    parser.add_argument("--deps-dir", type=Path, default=None,
                        help="a `pip install --target` folder to add at the zip root")
    args = parser.parse_args(argv)
    path = build_zip(args.function_name, args.out, args.deps_dir)
    JsonLogger("package").info("zip_built", path=str(path), bytes=path.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
