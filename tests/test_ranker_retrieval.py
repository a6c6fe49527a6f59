"""bench/ranker_retrieval.py orders passages by the units the engine makes of them."""
import numpy as np
from fakes import HashEmbedder
from test_evidence_units import HEADER, write_cables

from bench.ranker_retrieval import by_ranker
from index.records import Passage
from index.store import Library


class Recording:
    """A ranker that keeps the units it is shown and likes romeo-9's row."""

    def __init__(self):
        self.units = []

    def probabilities(self, items):
        self.units += [unit for _, unit, _ in items]
        return np.array([float("romeo-9" in unit) for _, unit, _ in items])


def test_a_row_in_a_later_chunk_of_a_long_table_is_ranked_under_its_header(tmp_path):
    ranker = Recording()
    with Library.writing(tmp_path / "lib", create=True) as lib:
        chunks = write_cables(lib, HashEmbedder())
        passages = [Passage(c, "Cable chart", 1.0) for c in chunks]
        ordered = by_ranker(lib, ranker, "What is the rated voltage of cable romeo-9?", passages)
    assert f"{HEADER}\n| romeo-9 | 163 volts | red wire |" in ranker.units
    assert ordered[0].chunk == chunks[1]
