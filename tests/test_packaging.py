"""The built wheel installs into a fresh venv and imports all three package roots."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT / "src").parts)
             for p in (ROOT / "src").rglob("__init__.py")}
    found |= {"mlcost_sdk.integrations", "mlcost_sdk.exporters"}
    found |= {"mlcost_sdk.integrations." + p.parent.name
              for p in (ROOT / "integrations").glob("*/__init__.py")}
    found |= {"mlcost_sdk.exporters." + p.parent.name
              for p in (ROOT / "exporters").glob("*/__init__.py")}
    assert found == listed


@pytest.mark.slow
def test_wheel_installs_and_imports_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(dist), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("mlcost_sdk-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlcost_sdk/py.typed" in names
    assert any(n.startswith("mlcost_sdk/catalog/data/") and n.endswith(".toml") for n in names)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=600)
    code = ("import mlcost_sdk, mlcost_sdk.integrations, mlcost_sdk.exporters, "
            "mlcost_sdk.exporters.jsonl, mlcost_sdk.catalog; "
            "print(mlcost_sdk.__file__, mlcost_sdk.catalog.lookup_accelerator('NVIDIA L40S').key)")
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert str(env_dir) in out.stdout
    cli = subprocess.run([str(env_dir / "bin" / "mlcost"), "estimate", "storage", "--params",
                          "13e9", "--bytes-per-param", "2", "--checkpoints", "100", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert "59.8" in cli.stdout
