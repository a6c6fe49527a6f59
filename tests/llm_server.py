"""A deterministic OpenAI-compatible server on loopback for unit tests: it answers from a queue.

It speaks real HTTP and server-sent events like vLLM: /v1/models (with max_model_len and the
model folder as `root`), /tokenize (one token per whitespace-separated word, each of the
tokenizer's special tokens one token wherever it occurs, token strings on request),
/tokenizer_info when given special tokens (as vLLM with --enable-tokenizer-info-endpoint),
/v1/chat/completions streamed or not.
Each request takes the next queued Reply; a Reply can cut the connection mid-stream, or list the
first token's top log-probabilities (`top`) when the request asks for logprobs.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the next completion request gets: its text, or an HTTP error, or a cut after some chunks."""

    text: str | Callable[[dict], str] = ""  # or made from the request's body
    status: int = 200
    cut_after: int | None = None  # stream this many chunks, then drop the connection
    top: dict[str, float] | Callable[[dict], dict[str, float]] | None = None  # top logprobs of the first token
    empty: bool = False  # a 200 reply whose `choices` list is empty
    stall_s: float = 0.0  # silent this long before the first word (a stream's headers go first), as a server reading a long prompt


class FakeLLM:
    """Serves queued replies; records every request body it was sent."""

    def __init__(self, model: str = "test/fake-llm", max_model_len: int = 2048, special_tokens: tuple[str, ...] = (),
                 tokenizer_info: bool = False, root: str | None = None):
        self.model, self.max_model_len, self.root = model, max_model_len, root
        self.special_tokens, self.tokenizer_info = special_tokens, tokenizer_info
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def queue(self, *replies: str | Callable[[dict], str] | Reply) -> None:
        """Replies for the next requests, in order: texts, functions of the request body, or Replies."""
        self.replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def tokenize(self, text: str) -> list[str]:
        """Token strings: each special token whole, every other whitespace-separated word one token."""
        if not self.special_tokens:
            return text.split()
        pattern = "|".join(re.escape(t) for t in sorted(self.special_tokens, key=len, reverse=True))
        return [piece for part in re.split(f"({pattern})", text) for piece in
                ([part] if part in self.special_tokens else part.split())]

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(fake: FakeLLM):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                card = {"id": fake.model, "object": "model", "owned_by": "test", "max_model_len": fake.max_model_len,
                        "root": fake.root or fake.model}
                return self._json(200, {"object": "list", "data": [card]})
            if self.path == "/tokenizer_info" and fake.tokenizer_info:
                decoder = {str(i): token for i, token in enumerate(fake.special_tokens)}
                return self._json(200, {"tokenizer_class": "FakeTokenizer", "added_tokens_decoder": decoder})
            self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path == "/tokenize":
                strs = fake.tokenize(body.get("prompt", ""))
                ids = [fake.special_tokens.index(t) if t in fake.special_tokens else 1000 + len(t) for t in strs]
                return self._json(200, {"count": len(strs), "max_model_len": fake.max_model_len, "tokens": ids,
                                        "token_strs": strs if body.get("return_token_strs") else None})
            if self.path != "/v1/chat/completions":
                return self._json(404, {"error": {"message": f"no route {self.path}"}})
            fake.requests.append(body)
            reply = fake.replies.popleft() if fake.replies else Reply("", status=500)
            if callable(reply.text):
                reply = replace(reply, text=reply.text(body))
            if reply.status != 200:
                return self._json(reply.status, {"error": {"message": f"fake error {reply.status}"}})
            try:
                if body.get("stream"):
                    return self._stream(reply)
                time.sleep(reply.stall_s)
                self._reply(reply, body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout under test)

        def _reply(self, reply: Reply, body: dict):
            top = reply.top(body) if callable(reply.top) else reply.top
            text = reply.text or (max(top, key=top.get) if top else "")
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            if body.get("logprobs") and top:  # as vLLM lists them: the first token's top candidates
                listed = [{"token": t, "logprob": v, "bytes": None} for t, v in top.items()]
                choice["logprobs"] = {"content": [{**max(listed, key=lambda e: e["logprob"]), "top_logprobs": listed}]}
            self._json(200, {"id": "x", "object": "chat.completion", "created": 0, "model": fake.model,
                             "choices": [] if reply.empty else [choice]})

        def _stream(self, reply: Reply):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            time.sleep(reply.stall_s)
            pieces = [w + " " for w in reply.text.split(" ")] if reply.text else []
            for i, piece in enumerate(pieces):
                if reply.cut_after is not None and i >= reply.cut_after:
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the server dies mid-answer
                    return
                self._event({"delta": {"content": piece}, "finish_reason": None})
            self._event({"delta": {}, "finish_reason": "stop"})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, choice: dict):
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": fake.model,
                     "choices": [{"index": 0, **choice}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        def _json(self, status: int, obj: dict):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
