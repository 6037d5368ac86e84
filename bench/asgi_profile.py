"""Where a model server's main thread spends its time, with and without mlcost: a py-spy profile.

    pip install py-spy                                # not a dependency of mlcost
    python bench/asgi_profile.py                      # all three set-ups, /noop
    python bench/asgi_profile.py --modes on --requests 20000

Runs the server of ``bench/asgi_throughput.py`` (uvicorn + FastAPI, the same app and set-ups) in
a subprocess, warms it up, then samples its main thread with ``py-spy record --nonblocking``
while the same keep-alive load drives ``/noop/{id}``. Each sample is charged to the package of
its innermost frame (asyncio, h11, uvicorn, fastapi, starlette, the OpenTelemetry SDK,
mlcost...), and the table gives each package's time per request: its share of the samples
times the main thread's sampled time divided by the requests served. Time in the cyclic
garbage collector is charged to whatever frame allocated when a collection started, so it
shows as the server's own packages running slower; ``asgi_throughput.py`` measures it apart.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from asgi_throughput import MODES, load  # noqa: E402

RATE_HZ = 250
_FILE = re.compile(r"\(([^:)]+)")
_SITE = re.compile(r"(?:site|dist)-packages/([^/]+)")

def _mlcost_folders() -> tuple[str, ...]:
    """Where this interpreter's mlcost lives (the server runs the same one): its package and
    the integrations and exporters folders an editable install maps into it."""
    import mlcost_sdk.exporters
    import mlcost_sdk.integrations

    return tuple(str(Path(m.__file__ or "").resolve().parent) + "/"
                 for m in (mlcost_sdk, mlcost_sdk.integrations, mlcost_sdk.exporters))


_MLCOST = _mlcost_folders()


def group(frame: str) -> str:
    """A frame's package: mlcost (this checkout or an installed copy), the OpenTelemetry
    SDK and API, another installed package, asyncio, or the rest of the standard library."""
    match = _FILE.search(frame)
    path = match.group(1) if match else "?"
    site = _SITE.search(path)
    if path.startswith(_MLCOST):
        return "mlcost"
    if site:
        name = site.group(1)
        return "OpenTelemetry SDK and API" if name == "opentelemetry" else name
    if "/asyncio/" in path or path.endswith("/selectors.py"):
        return "asyncio"
    return "other (standard library, built-ins)"


def _thread(frames: list[str]) -> str:
    """What a non-main thread is: the OTel span or metric exporter, mlcost's sampler..."""
    names = " ".join(frames)
    for needle, name in (("BatchProcessor", "OTel batch span processor"),
                         ("_health", "OTel batch span processor"),
                         ("PeriodicExporting", "OTel metric reader"),
                         ("sampl", "mlcost sampler")):
        if needle in names:
            return name
    return frames[0].split("(")[0].strip() or "other"


def profile(mode: str, requests: int, connections: int) -> tuple[dict[str, float], float]:
    """Per package: microseconds of main-thread time per request; and requests/s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}
    with tempfile.TemporaryDirectory() as folder:
        env["MLCOST_SPANS_PATH"] = os.path.join(folder, "spans.jsonl")
        raw = os.path.join(folder, "profile.txt")
        server = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "asgi_throughput.py"), "--serve", mode],
            stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            asyncio.run(load(port, "/noop", requests // 5, connections))  # warm-up
            spy = subprocess.Popen(
                ["py-spy", "record", "-p", str(server.pid), "-r", str(RATE_HZ), "--format",
                 "raw", "-o", raw, "--threads", "--nonblocking", "--full-filenames"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # py-spy attaches
            rate = asyncio.run(load(port, "/noop", requests, connections))
            spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
            spy.wait(60)
        finally:
            server.terminate()
            server.wait(30)
        samples: collections.Counter[str] = collections.Counter()
        for line in Path(raw).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            if "MainThread" in frames[0] and len(frames) > 1:
                samples[group(frames[-1])] += int(count)
            elif len(frames) > 1:  # another thread: charged whole, by what it runs
                samples["thread: " + _thread(frames)] += int(count)
    # The samples span the load and py-spy's attach second: scale by the sampled time.
    per_request = 1e6 / RATE_HZ / requests
    return {name: n * per_request for name, n in samples.items()}, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--requests", type=int, default=12_000)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    if shutil.which("py-spy") is None:
        sys.exit("needs py-spy on PATH: pip install py-spy")
    results = {mode: profile(mode, args.requests, args.connections) for mode in args.modes}
    names = sorted({n for table, _ in results.values() for n in table},
                   key=lambda n: (n.startswith("thread: "),
                                  -max(t.get(n, 0.0) for t, _ in results.values())))
    print(f"`python bench/asgi_profile.py --requests {args.requests}`: main-thread time per "
          f"`/noop` request by the package of the innermost frame (py-spy, {RATE_HZ} Hz), load "
          f"average {os.getloadavg()[0]:.1f} at the end\n")
    print("| package | " + " | ".join(f"{m} (us)" for m in args.modes) + " |")
    print("|---|" + "---|" * len(args.modes))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{results[m][0].get(name, 0.0):.0f}"
                                          for m in args.modes) + " |")
    print("| **all threads** | " + " | ".join(f"**{sum(results[m][0].values()):.0f}**"
                                               for m in args.modes) + " |")
    print("| req/s | " + " | ".join(f"{results[m][1]:,.0f}" for m in args.modes) + " |")


if __name__ == "__main__":
    main()
