"""A real program instrumented with mlcost and configured only through the environment
(``OTEL_*``, ``MLCOST_*``): a tiny PyTorch training run on CPU, then a Starlette app served by
uvicorn on 127.0.0.1 answering real HTTP requests. Run as a subprocess by the backend tests;
spans leave through the exporters mlcost itself sets up, at exit.
"""

from __future__ import annotations

import socket
import sys
import threading

import httpx
import torch
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import mlcost_sdk as mlcost


def train() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    params = sum(p.numel() for p in model.parameters())
    with mlcost.training_run("tiny-mlp", params=params, window_steps=5,
                             tags={"experiment_id": "exp-e2e"}) as run:
        for _ in range(12):
            x = torch.randn(16, 32)
            loss = model(x).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.step(tokens=16 * 32, samples=16)


def serve(requests: int) -> None:
    model = torch.nn.Linear(4, 1)

    async def predict(request: Request) -> JSONResponse:
        async with mlcost.inference("predict", model="linear-e2e"):
            features = torch.tensor((await request.json())["x"], dtype=torch.float32)
            with torch.no_grad():
                return JSONResponse({"y": model(features).tolist()})

    app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    for _ in range(requests):
        response = httpx.post(f"http://127.0.0.1:{port}/predict", json={"x": [1.0, 2.0, 3.0, 4.0]})
        response.raise_for_status()
    server.should_exit = True
    thread.join()


if __name__ == "__main__":
    train()
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
