"""A real vLLM server for integration tests: the default model, prepared and served once per session.

Use it from a test module or conftest.py:  `vllm = vllm_server()`  then  `def test_x(vllm): ...`.
Every module that asks shares one server (started by the first, stopped after the last), since a
start costs a minute or more on CPU. A missing vLLM fails the tests rather than skipping them:
CI installs it, and a skip would hide that the serving path went untested.
"""
from __future__ import annotations

import pytest

from app.models import ModelError, prepare_model
from app.serve import Server, ServeError, detect_backend, start_server

_shared: dict = {"server": None, "users": 0, "error": None}


def vllm_server(name: str = "vllm"):
    """A session-scoped fixture, registered under `name`, that yields a running Server."""

    @pytest.fixture(scope="session", name=name)
    def fixture(tmp_path_factory):
        _shared["users"] += 1
        try:
            if _shared["server"] is None:
                _shared["server"] = _start(tmp_path_factory.mktemp("vllm") / "server.log")
            yield _shared["server"]
        finally:
            _shared["users"] -= 1
            if _shared["users"] == 0 and _shared["server"] is not None:
                _shared["server"].stop()
                _shared["server"] = None

    return fixture


def _start(log_path) -> Server:
    """Prepare the default model (a no-op once cached) and serve it; fail with what to install."""
    if _shared["error"] is None:  # a failed start is not retried for every module
        try:
            detect_backend()
            model = prepare_model(progress=lambda line: print(f"[vllm_server] {line}"))
            return start_server(model, log_path=log_path)
        except (ServeError, ModelError) as exc:
            _shared["error"] = f"integration tests need a real vLLM and the default model: {exc}"
    pytest.fail(_shared["error"], pytrace=False)
