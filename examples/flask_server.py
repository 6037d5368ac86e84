"""A Flask model server costed per request by mlcost-sdk's WSGI middleware.

Starts a threaded WSGI server on 127.0.0.1 (a free port), sends a few requests (plain and
streamed), stops, and at exit prints the inference summary: what the requests cost, what idle
time cost, and the realized cost per request. Spans go to ./mlcost-spans.jsonl (or OTLP when
OTEL_EXPORTER_OTLP_ENDPOINT is set). The "model" is a toy word scorer: nothing is downloaded.

    pip install -e . flask && python examples/flask_server.py --usd-per-hour 1.20
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator

from flask import Flask, Response
from werkzeug.serving import make_server

import mlcost_sdk as mlcost
from mlcost_sdk.integrations.wsgi import MlcostWSGIMiddleware

POSITIVE = {"good", "great", "fast", "cheap", "love"}

app = Flask(__name__)
app.wsgi_app = MlcostWSGIMiddleware(app.wsgi_app, model="word-scorer")  # type: ignore[method-assign]


@app.get("/score/<text>")
def score(text: str) -> dict[str, float]:
    words = text.lower().split("-")
    time.sleep(0.01)  # stands in for the model's forward pass
    return {"positive": sum(w in POSITIVE for w in words) / len(words)}


@app.get("/generate/<int:n_tokens>")
def generate(n_tokens: int) -> Response:
    def tokens() -> Iterator[str]:
        for i in range(n_tokens):
            time.sleep(0.02)  # one decoding step
            yield f"tok{i} "

    return Response(tokens(), mimetype="text/plain")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--usd-per-hour", type=float, default=1.20,
                    help="what this server's machine costs per hour (user-given price)")
    args = ap.parse_args()
    mlcost.configure(
        service_name="flask-example",
        tags={"team": "search", "model": "word-scorer", "environment": "dev",
              "cost_center": "ml-platform", "owner": "you"},
        price=mlcost.Price(usd_per_hour=args.usd_per_hour),
        console_summary=True,  # the inference summary is printed when the process exits
    )

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        for path in ("/score/good-fast-model", "/score/slow-and-costly", "/generate/8"):
            with urllib.request.urlopen(url + path, timeout=10) as response:
                body = response.read().decode()
                shown = json.loads(body) if path.startswith("/score") else body.strip()
                print(f"GET {path} -> {response.status} {shown}")
            time.sleep(0.05)  # the server sits idle between requests: idle cost
    finally:
        server.shutdown()
        thread.join(10)


if __name__ == "__main__":
    main()
