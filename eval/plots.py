"""The report's figures, drawn with matplotlib (headless) and returned as base64 PNG for inline <img> tags.

matplotlib is imported here and nowhere else.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Sequence

_GROUP_COLOURS = {"retrieval": "#4c72b0", "answer": "#55a868", "grounding": "#c44e52", "abstention": "#8172b2"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # no display here, and none is needed for files
    import matplotlib.pyplot as plt
    return plt


def _encode(fig) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def metric_bars(rows: Sequence[tuple[str, str, float, tuple[float, float] | None]]) -> str:
    """Horizontal bars (name, group, value, interval) with their 95% intervals as error bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 0.8))
    names = [r[0] for r in rows][::-1]
    values = [r[2] for r in rows][::-1]
    errors = [[max(0.0, v - (r[3] or (v, v))[0]) for r, v in zip(rows[::-1], values)],
              [max(0.0, (r[3] or (v, v))[1] - v) for r, v in zip(rows[::-1], values)]]
    colours = [_GROUP_COLOURS.get(r[1], "#777777") for r in rows][::-1]
    ax.barh(names, values, xerr=errors, color=colours, capsize=3, ecolor="#333333")
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("mean over the questions each metric applies to (95% bootstrap interval)")
    ax.grid(axis="x", alpha=0.3)
    return _encode(fig)


def rank_histogram(ranks: dict[str, int]) -> str:
    """Questions by the rank of their first gold passage ('none': not retrieved)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar(list(ranks), list(ranks.values()), color="#4c72b0")
    ax.set_xlabel("rank of the first gold passage")
    ax.set_ylabel("questions")
    return _encode(fig)


def latency_boxes(stages: dict[str, Sequence[float]]) -> str:
    """Seconds per answer stage, one box per stage (whiskers 5th-95th percentile)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.boxplot(list(stages.values()), whis=(5, 95), orientation="horizontal", tick_labels=list(stages), showfliers=True)
    ax.set_xlabel("seconds")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.grid(axis="x", alpha=0.3)
    return _encode(fig)


def calibration(bins: Sequence[dict]) -> str:
    """Reliability diagram: mean predicted probability of support against the share actually supported, per bin."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    used = [b for b in bins if b["n"]]
    ax.plot([0, 1], [0, 1], "--", color="#999999", label="perfectly calibrated")
    ax.plot([b["mean_score"] for b in used], [b["supported_share"] for b in used], "o-", color="#c44e52",
            label="verifier")
    for b in used:
        ax.annotate(str(b["n"]), (b["mean_score"], b["supported_share"]), fontsize=7, xytext=(3, -9),
                    textcoords="offset points")
    ax.set_xlabel("predicted probability of support")
    ax.set_ylabel("share supported")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    return _encode(fig)
