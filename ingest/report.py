"""The job report of a batch ingest: counts, failures with reasons, pages, chunks, throughput."""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ingest.pipeline import FileResult


@dataclass
class JobReport:
    """Accumulates FileResults as they land; `summary()` is the JSON written by `--report FILE`."""

    engine: str = "local"
    started: float = field(default_factory=time.monotonic)
    counts: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)
    pages: int = 0
    chunks: int = 0

    def add(self, result: FileResult) -> None:
        """Count one file's result."""
        self.counts[result.status] += 1
        if result.status in ("added", "updated") and not result.changed:  # only readers or tags: nothing read
            self.pages += result.pages
            self.chunks += result.chunks
        elif result.status == "failed":
            self.failures.append({"path": result.path, "error": result.error})

    @property
    def wall_s(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def summary(self) -> dict:
        """Everything a job log needs, in one JSON-ready dict."""
        wall = self.wall_s
        return {"engine": self.engine, "files": sum(self.counts.values()),
                **{s: self.counts[s] for s in ("added", "updated", "unchanged", "failed")},
                "failures": self.failures, "pages": self.pages, "chunks": self.chunks,
                "wall_s": round(wall, 3), "pages_per_s": round(self.pages / wall, 3),
                "chunks_per_s": round(self.chunks / wall, 3)}

    def write(self, path: str | Path) -> None:
        """Write the summary as JSON to `path`."""
        Path(path).write_text(json.dumps(self.summary(), indent=2) + "\n")
