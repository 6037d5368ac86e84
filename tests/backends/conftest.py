"""Real backends for the exporter tests: an Arize Phoenix server and a Prometheus server.

Both are started once per session on free 127.0.0.1 ports with their state in a temporary
folder, and stopped afterwards. Installed by ``.ci/services.sh``; when one is missing the tests
that need it are skipped with the reason, except in CI (``CI=true``), where that is a failure.

- Phoenix: its own virtual environment (it pins many packages), found through
  ``$MLCOST_PHOENIX_PYTHON`` or ``<repo>/.venv-phoenix/bin/python``.
- Prometheus: the Debian package's ``prometheus`` (or ``$MLCOST_PROMETHEUS_BIN``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
PHOENIX_PYTHON_ENV = "MLCOST_PHOENIX_PYTHON"
DEFAULT_PHOENIX_PYTHON = REPO / ".venv-phoenix" / "bin" / "python"
PROMETHEUS_BIN_ENV = "MLCOST_PROMETHEUS_BIN"
STARTUP_TIMEOUT_S = 180.0  # Phoenix runs its database migrations on a cold start


def missing(what: str) -> NoReturn:
    message = f"{what}; install it with: sudo .ci/services.sh"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs the real backend: {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {STARTUP_TIMEOUT_S:.0f}s:\n{_tail(log)}")


def start(cmd: list[str], env: dict[str, str], log: Path, ready_url: str,
          ) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    out = log.open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        wait_until_ready(ready_url, proc, log)
    except BaseException:
        stop(proc, out)
        raise
    return proc, out


def stop(proc: subprocess.Popen[bytes], out: IO[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    out.close()


@dataclass(frozen=True)
class Phoenix:
    url: str  # web, REST API and OTLP over HTTP (``{url}/v1/traces``)
    grpc_url: str  # OTLP over gRPC (plaintext)
    log: Path


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    python = Path(os.environ.get(PHOENIX_PYTHON_ENV) or DEFAULT_PHOENIX_PYTHON)
    if not python.exists():
        missing(f"no Phoenix virtual environment at {python} (or set ${PHOENIX_PYTHON_ENV})")
    workdir = tmp_path_factory.mktemp("phoenix")
    http_port, grpc_port = free_port(), free_port()
    env = {**os.environ,
           "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(http_port),
           "PHOENIX_GRPC_PORT": str(grpc_port), "PHOENIX_WORKING_DIR": str(workdir),
           "PHOENIX_TELEMETRY_ENABLED": "false", "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false"}
    for name in [n for n in env if n.startswith("OTEL_")]:
        del env[name]  # Phoenix's own instrumentation must not follow the test's settings
    url = f"http://127.0.0.1:{http_port}"
    log = workdir / "phoenix.log"
    proc, out = start([str(python), str(Path(__file__).with_name("phoenix_loopback.py"))],
                      env, log, f"{url}/healthz")
    yield Phoenix(url=url, grpc_url=f"http://127.0.0.1:{grpc_port}", log=log)
    stop(proc, out)


@dataclass(frozen=True)
class Prometheus:
    url: str  # query API at ``{url}/api/v1/query``
    target_port: int  # the port it scrapes on 127.0.0.1 (``/metrics``, every second)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = os.environ.get(PROMETHEUS_BIN_ENV) or shutil.which("prometheus")
    if not binary:
        missing("the prometheus server is not installed (Debian package prometheus)")
    workdir = tmp_path_factory.mktemp("prometheus")
    port, target_port = free_port(), free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: mlcost\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n")
    url = f"http://127.0.0.1:{port}"
    proc, out = start([binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                       f"--storage.tsdb.path={workdir / 'data'}"],
                      dict(os.environ), workdir / "prometheus.log", f"{url}/-/ready")
    yield Prometheus(url=url, target_port=target_port)
    stop(proc, out)
