"""The CPU embedding graph: exported once from sentence-transformers into a cache, then run by ONNX Runtime.

The first load of a model exports its graph (and its int8 copy on request), checks it against
torch, and, where the model's own tokenizer.json gives the very features sentence-transformers
gives on probe texts, writes what tokenising needs beside the graph (spec.json). Every later load
of that model folder finds the graph through a fingerprint of the folder and runs it with the
`tokenizers` library alone: importing sentence-transformers costs ~3 s (it pulls in scikit-learn
and transformers' model classes), which every `groundwork search` and `ask` paid before.
"""
from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.files import atomic_write

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EXPORT_VERSION = "2"  # part of the cache key: bump it when the export recipe changes
_SPEC = "spec.json"
# Texts that tell a tokenizer apart from sentence-transformers' preprocessing: spacing at the ends,
# accents and dashes, tabs and newlines, case, numbers, an empty text, and one past the length limit.
_PROBES = ("  spaces around  ", "x", "Café crème — naïve façade\tTab\nnew line", "UPPER lower MiXeD 123.45",
           "", "R> fit <- lm(y ~ x, data = d); summary(fit)", "word " * 400)


class GraphError(RuntimeError):
    """A graph that cannot be exported or disagrees with torch."""


@dataclass(frozen=True)
class Spec:
    """What tokenising for the graph needs, as sentence-transformers does it for this model."""

    dim: int
    max_seq_length: int
    special_tokens: int
    prompts: dict[str, str | None]  # by kind: query, document
    inputs: tuple[str, ...]
    pad_id: int
    pad_token: str


class Tokens:
    """The model's tokenizer.json with sentence-transformers' settings: truncation, padding, prompts."""

    def __init__(self, tokenizer_json: Path, spec: Spec):
        import tokenizers

        self.spec = spec
        self._plain = tokenizers.Tokenizer.from_file(str(tokenizer_json))
        self._plain.no_truncation()
        self._plain.no_padding()
        self._batch = tokenizers.Tokenizer.from_file(str(tokenizer_json))
        self._batch.enable_truncation(max_length=spec.max_seq_length)
        self._batch.enable_padding(pad_id=spec.pad_id, pad_token=spec.pad_token)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of `text`, special tokens excluded, any length."""
        return [(s, e) for s, e in self._plain.encode(text, add_special_tokens=False).offsets if e > s]

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Token counts, special tokens excluded."""
        return [len(e.ids) for e in self._plain.encode_batch(list(texts), add_special_tokens=False)]

    def features(self, texts: Sequence[str], prompt: str | None) -> dict[str, np.ndarray]:
        """The graph's inputs for `texts`, each prefixed by `prompt`, padded to the longest."""
        encoded = self._batch.encode_batch([(prompt or "") + t for t in texts])
        fields = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
        return {name: np.array([getattr(e, fields[name]) for e in encoded], dtype=np.int64)
                for name in self.spec.inputs}


def session(st: SentenceTransformer, cache: Path, int8: bool) -> tuple[Any, Path]:
    """An ONNX Runtime session for the model and its cache folder, exporting (and quantising) once."""
    folder = cache / model_key(st)
    fp32, path = folder / "model.onnx", folder / ("model-int8.onnx" if int8 else "model.onnx")
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if not fp32.exists():
            atomic_write(fp32, lambda tmp: _export(st, tmp))
        if int8:
            atomic_write(path, lambda tmp: _quantize(fp32, tmp))
    runner = _open(path)
    try:
        _check(st, runner, min_cosine=0.85 if int8 else 0.9999)
    except GraphError:
        path.unlink(missing_ok=True)  # never found again, by this path or the fast one
        raise
    return runner, folder


def cached(model: str, cache: Path, int8: bool) -> tuple[Any, Tokens] | None:
    """The session and tokens of a graph exported and checked before, without sentence-transformers; else None."""
    try:
        located = cache / "folders" / f"{_fingerprint(Path(model))}.json"
        if not located.exists():
            return None
        folder = cache / json.loads(located.read_text())["key"]
        path = folder / ("model-int8.onnx" if int8 else "model.onnx")
        if not (path.exists() and (folder / _SPEC).exists()):
            return None
        raw = json.loads((folder / _SPEC).read_text())
        spec = Spec(**{**raw, "inputs": tuple(raw["inputs"])})
        return _open(path), Tokens(Path(model) / "tokenizer.json", spec)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # anything amiss: the slow path loads the model and writes these again


def remember(st: SentenceTransformer, model: str, cache: Path, folder: Path, runner: Any,
             prompts: dict[str, str | None]) -> Tokens | None:
    """Tokens for the fast path, written beside the graph, when they equal sentence-transformers' on probes."""
    model_dir = Path(model)
    if not (model_dir / "tokenizer.json").is_file():
        return None  # a hub name, or a model without a fast tokenizer: sentence-transformers stays
    tok = st.tokenizer
    spec = Spec(dim=int(st.get_embedding_dimension()), max_seq_length=int(st.max_seq_length),
                special_tokens=int(tok.num_special_tokens_to_add(pair=False)), prompts=prompts,
                inputs=tuple(i.name for i in runner.get_inputs()), pad_id=int(tok.pad_token_id or 0),
                pad_token=str(tok.pad_token))
    try:
        tokens = Tokens(model_dir / "tokenizer.json", spec)
        same = _same_tokens(st, tokens, {None, *prompts.values()})
    except Exception:  # noqa: BLE001 - a tokenizer.json the library cannot read: no fast path
        return None
    if not same:
        return None
    atomic_write(folder / _SPEC, lambda tmp: tmp.write_text(json.dumps(asdict(spec), indent=1)))
    (cache / "folders").mkdir(parents=True, exist_ok=True)
    located = cache / "folders" / f"{_fingerprint(model_dir)}.json"
    atomic_write(located, lambda tmp: tmp.write_text(json.dumps({"key": folder.name, "model": str(model_dir)})))
    return tokens


def _same_tokens(st: SentenceTransformer, tokens: Tokens, prompts: set[str | None]) -> bool:
    """True when `tokens` gives sentence-transformers' features and spans on every probe."""
    for prompt in prompts:
        want = st.preprocess(list(_PROBES), prompt=prompt)
        got = tokens.features(_PROBES, prompt)
        if any(not np.array_equal(got[n], want[n].numpy()) for n in tokens.spec.inputs):
            return False
    for text in _PROBES:
        enc = st.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False)
        if tokens.token_spans(text) != [(int(s), int(e)) for s, e in enc["offset_mapping"] if e > s]:
            return False
    return True


def _fingerprint(model_dir: Path) -> str:
    """Path, size and mtime of every file of the model folder, with the export recipe and torch version."""
    root = model_dir.resolve(strict=True)
    h = hashlib.sha256(f"{EXPORT_VERSION}|{metadata.version('torch')}|{root}".encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        h.update(f"|{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def model_key(st: SentenceTransformer) -> str:
    """Hash of the weights, module configuration and export recipe: a new model gets a new export."""
    import torch

    h = hashlib.sha256(f"{EXPORT_VERSION}|{torch.__version__}|{st!r}|{st.max_seq_length}".encode())
    for key, tensor in st.state_dict().items():
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _open(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Idle threads sleep instead of spinning: during ingest a parser process shares the cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _export(st: SentenceTransformer, path: Path) -> None:
    """Export transformer + pooling + normalise as one graph with dynamic batch and sequence axes."""
    import torch

    modules = [type(m).__name__ for m in st]
    if not set(modules) <= {"Transformer", "Pooling", "Dense", "Normalize"} or not all(
            getattr(m, "include_prompt", True) for m in st):
        raise GraphError(f"no ONNX export for modules {modules}")
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
    with quiet():
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
    with quiet():
        quantize_dynamic(str(src), str(dst), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)


def _check(st: SentenceTransformer, runner: Any, min_cosine: float) -> None:
    """Refuse a graph whose vectors differ from torch's: a bad export must not poison a library."""
    texts = ["dynamic shapes: another batch size and length", "x", "check", "the last one"]
    feats = st.preprocess(texts)
    got = runner.run(None, {i.name: feats[i.name].numpy() for i in runner.get_inputs()})[0]
    want = st.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    cosine = float(((got / np.linalg.norm(got, axis=1, keepdims=True)) * want).sum(1).min())
    if not cosine >= min_cosine:  # `not >=` also catches NaN
        raise GraphError(f"ONNX graph disagrees with torch: cosine {cosine:.4f} < {min_cosine}")


@contextmanager
def quiet() -> Iterator[None]:
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
