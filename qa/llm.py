"""The client of an OpenAI-compatible server (vLLM): streaming answers, structured choices, token counts.

The openai package is imported here and nowhere else.
"""
from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import openai
from index.errors import GroundworkError

from qa.special_tokens import served_special_tokens

DEFAULT_CONTEXT = 2048  # when the server does not say (vLLM does, as max_model_len)
TOP_LOGPROBS = 20  # the most an OpenAI-compatible server lists (vLLM's default max_logprobs)


class LLMError(GroundworkError):
    """The model server cannot be reached or refused a request, said in one line."""


class StreamInterrupted(LLMError):
    """The server stopped, or went silent for longer than the timeout, in the middle of an answer; `partial` is what arrived."""

    def __init__(self, message: str, partial: str):
        super().__init__(message)
        self.partial = partial


@dataclass(frozen=True)
class Sampling:
    """Decoding settings: greedy, with a repetition penalty, a token limit and stop sequences."""

    max_tokens: int = 200
    temperature: float = 0.0
    repetition_penalty: float = 1.15  # small models loop on a phrase without it
    stop: tuple[str, ...] = ("\n\n\n", "\nQuestion:", "<passage")


class LLMClient:
    """One model on one OpenAI-compatible server; the model name is asked of the server when not given."""

    def __init__(self, url: str, model: str | None = None, timeout: float = 120.0, retries: int = 2,
                 api_key: str = "EMPTY"):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._model = model
        self._context: int | None = None
        self._folder: str | None = None
        self._client = openai.OpenAI(base_url=self.url, api_key=api_key, timeout=timeout, max_retries=retries)

    @property
    def model(self) -> str:
        """The served model's name."""
        if self._model is None:
            self._describe()
        return self._model

    @property
    def context_length(self) -> int:
        """Tokens the model sees at once, prompt and answer together."""
        if self._context is None:
            self._describe()
        return self._context

    def _describe(self) -> None:
        models = self._call(lambda: self._client.models.list().data)
        if not models:
            raise LLMError(f"the model server at {self.url} serves no model")
        card = next((m for m in models if m.id == self._model), models[0])
        self._model = self._model or card.id
        self._context = int(getattr(card, "max_model_len", None) or DEFAULT_CONTEXT)
        self._folder = getattr(card, "root", None)  # vLLM: the folder the model was loaded from

    @property
    def special_tokens(self) -> frozenset[str]:
        """Strings the served tokenizer reads as special tokens, asked once per server; common ones if it cannot say."""
        if self._context is None:  # not described yet: the model folder comes with the description
            self._describe()
        return served_special_tokens(self.url.removesuffix("/v1"), self.model, self._folder)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the model's tokenizer (vLLM's /tokenize); an upper estimate elsewhere."""
        root = self.url.removesuffix("/v1")
        body = json.dumps({"model": self.model, "prompt": text, "add_special_tokens": False}).encode()
        request = urllib.request.Request(f"{root}/tokenize", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(json.load(response)["count"])
        except (urllib.error.URLError, OSError, KeyError, ValueError):
            return len(text) // 3 + 1  # English runs ~4 characters a token; 3 keeps a margin

    def stream(self, messages: Sequence[dict], sampling: Sampling = Sampling()) -> Iterator[str]:
        """The answer's text as it is generated; StreamInterrupted if the server stops before the end."""
        chunks = self._call(lambda: self._client.chat.completions.create(
            model=self.model, messages=list(messages), stream=True, **_sampling_args(sampling)))
        partial, finished = [], False
        try:
            for chunk in chunks:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        partial.append(choice.delta.content)
                        yield choice.delta.content
                    finished = finished or choice.finish_reason is not None
        except openai.APITimeoutError:  # alive but slow (a long prompt on a slow CPU); openai wraps httpx's mid-stream too
            raise StreamInterrupted(self._silent(), "".join(partial)) from None
        except Exception as exc:  # mid-stream the transport's own errors surface, not openai's
            raise StreamInterrupted(f"the model server stopped mid-answer ({type(exc).__name__})",
                                    "".join(partial)) from None
        if not finished:
            raise StreamInterrupted("the model server closed the stream before the answer ended", "".join(partial))

    def choose(self, messages: Sequence[dict], choices: Sequence[str], sampling: Sampling = Sampling()) -> str:
        """One of `choices`, picked by the model under vLLM's structured outputs."""
        args = _choice_args(choices, 8, sampling.repetition_penalty)
        reply = self._call(lambda: self._client.chat.completions.create(
            model=self.model, messages=list(messages), **args))
        text = (_first_choice(reply, self.url).message.content or "").strip()
        if text not in choices:
            raise LLMError(f"the model server ignored the structured choice (got {text[:40]!r}); "
                           "it needs vLLM's structured outputs")
        return text

    def choice_logprobs(self, messages: Sequence[dict], choices: Sequence[str]) -> dict[str, float]:
        """Log-probability of each one-token choice as the reply's first token, normalised over the choices."""
        args = _choice_args(choices, 1, 1.0)  # vLLM: the listed logprobs are then the choices'
        reply = self._call(lambda: self._client.chat.completions.create(
            model=self.model, messages=list(messages), logprobs=True, top_logprobs=TOP_LOGPROBS, **args))
        logprobs = _first_choice(reply, self.url).logprobs
        top = (logprobs.content[0].top_logprobs or []) if logprobs and logprobs.content else []
        seen: dict[str, float] = {}
        for entry in top:
            seen[entry.token.strip()] = max(entry.logprob, seen.get(entry.token.strip(), -math.inf))
        if not any(c in seen for c in choices):
            raise LLMError("the model server sent no log-probabilities of the choices; guided mode needs a server "
                           "that returns top_logprobs (vLLM does)")
        floor = min(e.logprob for e in top)  # a choice not listed is at most as likely as the last one listed
        raw = {c: seen.get(c, floor) for c in choices}
        total = logsumexp(raw.values())
        return {c: v - total for c, v in raw.items()}

    def complete(self, messages: Sequence[dict], sampling: Sampling = Sampling()) -> str:
        """The whole reply at once."""
        reply = self._call(lambda: self._client.chat.completions.create(
            model=self.model, messages=list(messages), **_sampling_args(sampling)))
        return _first_choice(reply, self.url).message.content or ""

    def _silent(self) -> str:
        return (f"the model server at {self.url} sent nothing for {self.timeout:g} s (llm_timeout): on a CPU the first "
                f"word comes only after the whole prompt is read; raise llm_timeout, or lower prompt_passages or prompt_words")

    def _call(self, request):
        try:
            return request()
        except openai.APITimeoutError:  # a connection error too, but the server is there and slow
            raise LLMError(self._silent()) from None
        except openai.APIConnectionError:
            raise LLMError(f"no model server answers at {self.url} "
                           "(run: groundwork serve, or set GROUNDWORK_LLM_URL)") from None
        except openai.APIStatusError as exc:
            raise LLMError(f"the model server at {self.url} refused the request: "
                           f"{exc.status_code} {_detail(exc)}") from None


def _first_choice(reply, url: str):
    """The reply's first choice; LLMError for a server that sent none (an IndexError before)."""
    if not getattr(reply, "choices", None):
        raise LLMError(f"the model server at {url} sent a reply with no choices")
    return reply.choices[0]


def logsumexp(values: Iterable[float]) -> float:
    """log(sum(exp(v))), without overflow."""
    values = list(values)
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _choice_args(choices: Sequence[str], max_tokens: int, repetition_penalty: float) -> dict:
    """Greedy sampling arguments constrained to `choices` by vLLM's structured outputs."""
    args = _sampling_args(Sampling(max_tokens=max_tokens, temperature=0.0, stop=(),
                                   repetition_penalty=repetition_penalty))
    args["extra_body"]["structured_outputs"] = {"choice": list(choices)}
    return args


def _sampling_args(s: Sampling) -> dict:
    return {"max_tokens": s.max_tokens, "temperature": s.temperature, "stop": list(s.stop) or None,
            "extra_body": {"repetition_penalty": s.repetition_penalty}}


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") or (body.get("error") or {}).get("message") if body else None
    return " ".join(str(message or exc.message).split())[:200]
