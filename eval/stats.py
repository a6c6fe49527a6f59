"""Pure summary statistics: means that skip undefined values, percentiles, bootstrap intervals over questions."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


def defined(values: Sequence[float | None]) -> np.ndarray:
    """The values that are not None, as floats."""
    return np.asarray([v for v in values if v is not None], dtype=float)


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    x = defined(values)
    return float(x.mean()) if x.size else None


def percentile(values: Sequence[float | None], q: float) -> float | None:
    """The q-th percentile (linear interpolation) of the defined values; None when there are none."""
    x = defined(values)
    return float(np.percentile(x, q)) if x.size else None


def bootstrap_ci(values: Sequence[float | None], resamples: int = RESAMPLES, level: float = LEVEL,
                 seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean, resampling questions with replacement; None with no values."""
    x = defined(values)
    if not x.size:
        return None
    idx = np.random.default_rng(seed).integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def paired_delta(a: Sequence[float | None], b: Sequence[float | None], resamples: int = RESAMPLES,
                 level: float = LEVEL, seed: int = 0) -> dict | None:
    """Mean of b - a over the questions defined in both, its bootstrap interval, and n; None with no pair.

    Pairs are resampled together, so the interval reflects how the same questions moved, not
    two independent samples (which would be wider).
    """
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    if not pairs:
        return None
    diff = np.asarray([y - x for x, y in pairs], dtype=float)
    low, high = bootstrap_ci(list(diff), resamples, level, seed)
    return {"delta": float(diff.mean()), "low": low, "high": high, "n": len(pairs)}
