#!/usr/bin/env python3
"""`mypy --strict` on mlcost_sdk laid out as it is installed; errors name the real files.

mlcost_sdk.integrations and mlcost_sdk.exporters live in top-level folders (pyproject's
package-dir). mypy names a module after its path only, so `mypy src integrations exporters`
checks those folders as `integrations.*` / `exporters.*` and cannot resolve the
`mlcost_sdk.exporters...` imports in src/ at all. This script links the installed layout
together under build/typecheck/ (symlinks, rebuilt every run so new files are seen), runs mypy
there with pyproject's [tool.mypy] settings, and maps the paths in its output back.

    python3 .ci/typecheck.py            # extra arguments go to mypy
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEW = Path("build") / "typecheck"  # relative to ROOT, so mypy prints short paths


def package_dirs() -> dict[str, str]:
    """Package name -> its folder, relative to ROOT, for the top-level mapped packages."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = setuptools.get("package-dir", {})
    base = mapping.get("", ".")
    dirs = {name: f"{base}/{name}" for name in setuptools["packages"] if "." not in name}
    dirs.update({name: folder for name, folder in mapping.items() if name})
    return dirs


def build_view(dirs: dict[str, str]) -> None:
    """Parents before children: a parent is a real folder of links, so a child can sit in it."""
    shutil.rmtree(ROOT / VIEW, ignore_errors=True)
    for name in sorted(dirs, key=lambda n: n.count(".")):
        target = ROOT / VIEW / name.replace(".", "/")
        source = ROOT / dirs[name]
        if target.is_symlink():  # the parent's link to a folder of the same name
            target.unlink()
        target.mkdir(parents=True)
        for entry in source.iterdir():
            if entry.name != "__pycache__":
                (target / entry.name).symlink_to(entry)


def real_path_rewrites(dirs: dict[str, str]) -> list[tuple[str, str]]:
    """(view prefix, real prefix), the longest (innermost package) first."""
    pairs = [(f"{VIEW}/{n.replace('.', '/')}/", f"{dirs[n]}/") for n in dirs]
    return sorted(pairs, key=lambda p: -len(p[0]))


def main() -> int:
    dirs = package_dirs()
    build_view(dirs)
    roots = [str(VIEW / name) for name in dirs if "." not in name]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *sys.argv[1:], *roots],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    rewrites = real_path_rewrites(dirs)
    for line in proc.stdout.splitlines():
        for view_prefix, real_prefix in rewrites:
            if line.startswith(view_prefix):
                line = real_prefix + line[len(view_prefix):]
                break
        print(line)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
