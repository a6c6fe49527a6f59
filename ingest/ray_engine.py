"""Batch ingestion on Ray Data: the local pipeline's stages, with parse and embed spread over a cluster.

Triage and writing stay on the driver, so the library keeps one writer and each
document is still one transaction (a killed job resumes like a local one).
Parsing runs as map_batches tasks over files; chunking and embedding run in an
actor pool, because chunking needs the embedder's tokenizer and both want the
model loaded once per worker. This is the only module that imports ray.
"""
from __future__ import annotations

import logging
import os
import pickle
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from index.errors import GroundworkError
from index.store import Library
from ingest.chunking import chunk_pages
from ingest.pipeline import (FileResult, IngestOptions, Pending, checkpoint, fail, parse_file, smallest_first,
                             triage_all, with_links, write_parsed)
from ingest.readers import Limits

# On 2 CPUs whole-CPU actors and tasks deadlock (the embed pool takes every CPU and
# the parse tasks feeding it never get one), so both ask for half a CPU.
WORKER_CPUS = 0.5


class ClusterError(GroundworkError):
    """The Ray cluster cannot be reached or started; said in one line."""


def ingest_ray(paths: Iterable[str | Path], library: Library, make_embedder: Callable, model: str,
               options: IngestOptions = IngestOptions(), address: str | None = None,
               embed_workers: int | None = None) -> Iterator[FileResult]:
    """Like `ingest.pipeline.ingest`, with parse and embed on Ray; `make_embedder` must pickle."""
    pending: dict[str, Pending] = {}
    yield from with_links(triage_all(paths, library, options, pending))
    if not pending:
        return
    started = _connect(address)
    try:
        yield from with_links(_run(library, make_embedder, model, smallest_first(pending), options, embed_workers))
    finally:
        if started:
            import ray
            ray.shutdown()


def _connect(address: str | None) -> bool:
    """Join the cluster at `address`, or start a local one; True when this call started Ray."""
    try:
        import ray
    except ImportError:
        raise ClusterError("--engine ray needs Ray: pip install '.[scale]' (or use --engine local)") from None
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False, "configure_logging": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Ray Client warns before it raises; the error below says it once
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, object_store_memory=2**30, **quiet)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError or ValueError for a bad address
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot reach {where}: {first}; start one with `ray start --head` "
                           "or leave out --ray-address") from None
    _quiet_data()
    return True


def _quiet_data() -> None:
    from ray.data import DataContext
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    for name in ("ray", "ray.data"):  # Ray Data logs every execution at INFO to stderr
        logging.getLogger(name).setLevel(logging.ERROR)
    # ...and a dead worker as a traceback at ERROR, before the driver turns it into one line.
    logging.getLogger("ray.data._internal.execution.streaming_executor_state").setLevel(logging.CRITICAL)


def _run(library: Library, make_embedder: Callable, model: str, todo: list[Pending],
         options: IngestOptions, embed_workers: int | None) -> Iterator[FileResult]:
    """Stream parsed, embedded documents back to the driver and write each as it arrives."""
    from ray.exceptions import RayError
    by_path = {item.source.path: item for item in todo}
    last_save = time.monotonic()
    rows = iter(_dataset(make_embedder, todo, options, embed_workers).iter_rows())
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except RayError as exc:  # a worker died (killed, out of memory): committed documents stay
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"a Ray worker died mid-job ({reason}); every document written so far is kept: "
                               "run the same command again to finish") from None
        path, parsed = str(row["path"]), pickle.loads(bytes(row["payload"]))
        if isinstance(parsed, str):
            yield fail(library, path, parsed)
        else:
            doc, chunks, vectors = parsed
            yield from write_parsed(library, by_path[path], doc, chunks, vectors, model, options.tags, options.allow)
        last_save = checkpoint(library, last_save, options.checkpoint_seconds)


def _dataset(make_embedder: Callable, todo: list[Pending], options: IngestOptions, embed_workers: int | None):
    """files -> parse (tasks, a block a file so parsing spreads) -> chunk+embed (an actor pool)."""
    import ray
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    rows = [{"path": item.source.path, "doc_id": item.source.doc_id, "pdf_text": options.pdf_text,
             "max_pages": options.limits.max_pages, "max_chars": options.limits.max_chars} for item in todo]
    files = ray.data.from_items(rows, override_num_blocks=len(rows))
    parsed = files.map_batches(_parse_batch, batch_size=1, num_cpus=WORKER_CPUS)
    workers = embed_workers or gpus or max(1, cpus // 2)
    resources = {"num_gpus": 1} if gpus else {"num_cpus": WORKER_CPUS}
    # max_restarts=0 also keeps Ray Data from fusing the parse tasks into the actors, which
    # would parse on the embed workers only; a dead actor fails the job, and the rerun resumes.
    # (Ray 2.60 warns that such raw actor options go away in 2.64; the pin keeps them.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return parsed.map_batches(_ChunkEmbed, fn_constructor_args=(make_embedder, options.max_tokens, options.overlap),
                                  batch_size=4, compute=ray.data.ActorPoolStrategy(size=workers),
                                  max_restarts=0, **resources)


def _parse_batch(batch: dict) -> dict:
    """Ray task: read each file of the batch; the Document (or error line) travels pickled."""
    payloads = [pickle.dumps(parse_file(str(p), str(d), str(t), Limits(int(mp), int(mc))))
                for p, d, t, mp, mc in zip(batch["path"], batch["doc_id"], batch["pdf_text"],
                                           batch["max_pages"], batch["max_chars"])]
    return {"path": np.asarray(batch["path"]), "payload": _objects(payloads)}


class _ChunkEmbed:
    """Ray actor: chunk parsed documents with the embedder's tokenizer and embed their chunks."""

    def __init__(self, make_embedder: Callable, max_tokens: int, overlap: int):
        self.embedder = make_embedder()
        self.max_tokens, self.overlap = min(max_tokens, self.embedder.max_tokens), overlap

    def __call__(self, batch: dict) -> dict:
        docs = [pickle.loads(bytes(p)) for p in batch["payload"]]
        chunks = [[] if isinstance(d, str) else chunk_pages(d.pages, self.embedder, self.max_tokens, self.overlap)
                  for d in docs]
        texts = [c.text for cs in chunks for c in cs]
        vectors = self.embedder.embed(texts, kind="document") if texts else np.empty((0, self.embedder.dim), np.float32)
        out, offset = [], 0
        for doc, cs in zip(docs, chunks):
            own, offset = vectors[offset:offset + len(cs)], offset + len(cs)
            out.append(pickle.dumps(doc if isinstance(doc, str) else (doc, cs, np.ascontiguousarray(own))))
        return {"path": np.asarray(batch["path"]), "payload": _objects(out)}


def _objects(items: list[bytes]) -> np.ndarray:
    # An object array keeps bytes of any length intact (a fixed-width bytes dtype would pad them).
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array
