"""The FinOps Foundation's focus-validator in a virtual environment of its own, cached under
.cache/ (it needs Python 3.12, pyarrow==20.0.0 with numpy<2, and reads currency_codes.csv by a
path relative to its working directory). Used by the FOCUS test and .ci/services.sh."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

SPEC = ("focus-validator==2.2.1", "pyarrow==20.0.0", "numpy<2")
REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".cache" / "focus-validator-2.2.1"


class Unreachable(RuntimeError):
    """The package registry could not be reached: the only reason to skip."""


def python312() -> str | None:
    """A working Python 3.12: pyenv's (its python3.12 shim fails when 3.12 is not selected),
    else one on PATH."""
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for candidate in (*reversed(pyenv), shutil.which("python3.12")):
        if candidate and subprocess.run([candidate, "--version"], capture_output=True,
                                        check=False).returncode == 0:
            return candidate
    return None


def ensure() -> Path:
    """The validator's executable, installing it on first use."""
    exe = VENV / "bin" / "focus-validator"
    if exe.exists():
        return exe
    python = python312()
    if python is None:
        raise RuntimeError("focus-validator 2.2.1 needs Python 3.12: none found (PATH, pyenv)")
    subprocess.run([python, "-m", "venv", str(VENV)], check=True, timeout=300)
    done = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *SPEC],
                          capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        text = done.stdout + done.stderr
        if any(s in text for s in ("NewConnectionError", "Temporary failure in name resolution",
                                   "Network is unreachable", "Could not fetch URL")):
            raise Unreachable(text[-2000:])
        raise RuntimeError(text[-4000:])
    return exe


def package_dir() -> Path:
    """Where currency_codes.csv resolves: the validator opens it as rules/currency_codes.csv."""
    found = glob.glob(str(VENV / "lib" / "python3.12" / "site-packages" / "focus_validator"))
    return Path(found[0]).parent


def validate(csv_path: Path) -> str:
    """The validator's console report on ``csv_path`` in its default mode."""
    done = subprocess.run([str(ensure()), "--data-file", str(csv_path), "--block-download",
                           "--output-type", "console"], cwd=package_dir(), capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-4000:] + done.stderr[-4000:])
    return done.stdout


if __name__ == "__main__":  # .ci/services.sh: build it
    print(ensure())
    sys.exit(0)
