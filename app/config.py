"""Configuration: a TOML file, overridden by GROUNDWORK_* environment variables, overridden by flags.

This is the only module that reads configuration; everything else takes plain arguments.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from app.serve import DTYPES
from index.errors import GroundworkError
from ingest.pipeline import IngestOptions
from ingest.readers import PDF_TEXT_ENGINES
from qa.records import RANKERS

_INGEST = IngestOptions()  # the ingest settings' defaults are written once, there


@dataclass(frozen=True)
class Config:
    """Every setting, with its default."""

    library: str = "library"
    embedding_model: str = ""  # empty: the packaged all-MiniLM-L6-v2
    embedding_backend: str = "auto"
    chunk_tokens: int = _INGEST.max_tokens
    chunk_overlap: int = _INGEST.overlap
    max_file_mb: float = _INGEST.max_file_mb
    max_pages: int = _INGEST.limits.max_pages  # per document; more fails that file with "too much text"
    max_chars: int = _INGEST.limits.max_chars  # per document, counted while parsing, so a PDF bomb stops early
    library_mode: int = 0o700  # permissions of a new library folder, written in octal ("750" shares it with a group)
    parse_workers: int = _INGEST.parse_workers
    pdf_text: str = _INGEST.pdf_text  # pypdf | pdfium: which engine reads PDF text (pdfium ~7x faster)
    answer_mode: str = "extractive"  # extractive | guided | generative; chosen by bench/answer.py
    prompt_passages: int = 6  # most passages a generative prompt holds: each ~250 tokens of prefill on the CPU
    prompt_words: int = 60  # each shown as its best answer units up to this many words; 0: whole passages (README)
    answer_ranker: str = "rerank"  # rerank | blend | trained: what orders quotes and guided candidates (qa/ranker.py)
    llm_url: str = ""    # an OpenAI-compatible server; empty: the one `groundwork serve` starts
    llm_model: str = ""  # what `groundwork serve` serves; empty: the prepared SmolLM2-135M-Instruct
    serve_port: int = 8000
    max_model_len: int = 2048
    llm_dtype: str = "auto"  # auto: bfloat16 where the CPU computes it natively, else float32 (GPUs: vLLM's choice)
    llm_eager: str = "auto"  # auto: eager on a CPU (starts ~3x sooner), compiled on a GPU; on | off
    llm_timeout: float = 120.0  # seconds to wait for the model server's next word; the first follows the whole prompt
    verifier: str = "cross-encoder"  # cross-encoder[:FOLDER] | features (cheap, weak) | nli:MODEL_PATH | llm-judge
    ui_hosts: str = ""  # host names the UI answers to besides 127.0.0.1 and localhost (comma-separated), e.g. behind a proxy
    auth_header: str = ""  # a request header naming the signed-in user, set by a reverse proxy; empty: no proxy sign-in
    auth_proxies: str = ""  # addresses or networks (comma-separated) whose auth_header is believed, e.g. 127.0.0.1

    @property
    def eager(self) -> bool | None:
        """llm_eager as serve's launch option: None lets the backend decide."""
        return {"on": True, "off": False}.get(self.llm_eager)

    @property
    def server_url(self) -> str:
        """Where the answer engine finds its model server."""
        return self.llm_url or f"http://127.0.0.1:{self.serve_port}/v1"


# Settings with a fixed vocabulary, checked when read so a typo fails before any work starts.
_CHOICES = {"pdf_text": PDF_TEXT_ENGINES, "answer_ranker": RANKERS, "llm_dtype": DTYPES, "llm_eager": ("auto", "on", "off")}
# Settings written in another form than their type's (a folder mode in octal, as chmod takes it) or checked
# when read (the UI's sign-in header and the proxies it is believed from).
_READERS = {"library_mode": lambda value: _octal_mode(str(value)),
            "auth_header": lambda value: _header_name(str(value)),
            "auth_proxies": lambda value: _networks(str(value)),
            "llm_timeout": lambda value: _seconds(value)}
# How a setting read by _READERS is written, for the error that says it is not.
_FORMS = {"library_mode": "a folder mode in octal digits 0-7, at most 777, such as 700 or 750",
          "auth_header": "a header name such as X-Forwarded-User",
          "auth_proxies": "IP addresses or networks, comma-separated, such as 127.0.0.1",
          "llm_timeout": "a number of seconds above 0, such as 600"}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)


class UserError(GroundworkError):
    """A mistake the user can fix: printed as one line, never as a traceback."""


class ConfigError(GroundworkError):
    """A setting that cannot be used, said in one line."""


def load_config(path: str | None = None, environ: dict[str, str] | None = None, **flags) -> Config:
    """Defaults < TOML file (GROUNDWORK_CONFIG or ./groundwork.toml) < environment < flags that are set."""
    environ = os.environ if environ is None else environ
    config = Config()
    named = path or environ.get("GROUNDWORK_CONFIG")
    file = Path(named or "groundwork.toml")
    if file.exists():
        config = _apply(config, _read_toml(file), str(file))
    elif named:  # a file the user names and mistyped must not leave every setting at its default unsaid
        raise ConfigError(f"no config file {file} (named by {'--config' if path else 'GROUNDWORK_CONFIG'})")
    env = {f.name: environ[f"GROUNDWORK_{f.name.upper()}"] for f in fields(Config)
           if f"GROUNDWORK_{f.name.upper()}" in environ}
    config = _apply(config, env, "environment")
    return _apply(config, {k: v for k, v in flags.items() if v is not None}, "command line")


def _read_toml(file: Path) -> dict:
    try:
        data = tomllib.loads(file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from None
    return data.get("groundwork", data)


def _apply(config: Config, values: dict, origin: str) -> Config:
    known = {f.name: f.type for f in fields(Config)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r} in {origin}; known: {', '.join(known)}")
        caster = _READERS.get(key) or {"int": int, "float": float}.get(known[key], str)
        try:
            changes[key] = caster(value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {key} in {origin} must be {_FORMS.get(key, known[key])}, not {value!r}") from None
        if key in _CHOICES and changes[key] not in _CHOICES[key]:
            raise ConfigError(f"setting {key} in {origin} must be one of {', '.join(_CHOICES[key])}, not {value!r}")
    return replace(config, **changes)


def _seconds(value) -> float:
    """A wait in seconds: a finite number above 0; ValueError unless it is one."""
    seconds = float(value)
    if not 0 < seconds < math.inf:
        raise ValueError(value)
    return seconds


def _octal_mode(text: str) -> int:
    """A folder mode such as '700' or '0o750'; ValueError unless it is one."""
    mode = int(text.removeprefix("0o"), 8)
    if not 0 <= mode <= 0o777:
        raise ValueError(text)
    return mode


def _header_name(text: str) -> str:
    """An HTTP header name, or '' for none; ValueError for anything else."""
    if text.strip() and not _TOKEN.fullmatch(text.strip()):
        raise ValueError(text)
    return text.strip()


def _networks(text: str) -> str:
    """Comma-separated IP addresses or networks (1.2.3.4, 10.0.0.0/8, ::1), each checked; ValueError otherwise."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    return ",".join(str(ipaddress.ip_network(item, strict=False)) for item in items)
