"""A real vLLM server for integration tests: a model (the default one unless named), prepared and served once.

Use it from a test module or conftest.py:  `vllm = vllm_server()`  then  `def test_x(vllm): ...`;
`vllm_server("qwen", model="qwen2.5-coder-0.5b")` serves another. Every module that asks for a
model shares one server of it (started by the first, stopped after the last), since a start costs
a minute or more on CPU. A missing vLLM fails the tests rather than skipping them:
CI installs it, and a skip would hide that the serving path went untested.
"""
from __future__ import annotations

import pytest

from app.models import DEFAULT_MODEL, ModelError, prepare_model
from app.serve import Server, ServeError, detect_backend, start_server

_shared: dict[str, dict] = {}  # per model: its server, how many fixtures use it, why it failed to start


def vllm_server(name: str = "vllm", model: str = DEFAULT_MODEL):
    """A session-scoped fixture, registered under `name`, that yields a running Server of `model`."""

    @pytest.fixture(scope="session", name=name)
    def fixture(tmp_path_factory):
        shared = _shared.setdefault(model, {"server": None, "users": 0, "error": None})
        shared["users"] += 1
        try:
            if shared["server"] is None:
                shared["server"] = _start(model, shared, tmp_path_factory.mktemp("vllm") / "server.log")
            yield shared["server"]
        finally:
            shared["users"] -= 1
            if shared["users"] == 0 and shared["server"] is not None:
                shared["server"].stop()
                shared["server"] = None

    return fixture


def _start(model: str, shared: dict, log_path) -> Server:
    """Prepare the model (a no-op once cached) and serve it; fail with what to install."""
    if shared["error"] is None:  # a failed start is not retried for every module
        try:
            detect_backend()
            folder = prepare_model(model, progress=lambda line: print(f"[vllm_server] {line}"))
            return start_server(folder, log_path=log_path)
        except (ServeError, ModelError) as exc:
            shared["error"] = f"integration tests need a real vLLM and the model {model}: {exc}"
    pytest.fail(shared["error"], pytrace=False)
