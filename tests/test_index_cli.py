"""`groundwork index rebuild` rebuilds the FAISS index from stored vectors: same search results, no re-parsing."""
import argparse


from fakes import HashEmbedder
from pdfs import write_small_corpus

from app.config import load_config
from app.index_cli import register
from index.store import Library
from ingest.pipeline import IngestOptions, ingest


def run_index(argv, library):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return args.run(args, load_config(library=str(library)))


def test_rebuild_restores_a_lost_index_from_sqlite(tmp_path, capsys):
    write_small_corpus(tmp_path / "docs")
    emb = HashEmbedder(dim=64, max_tokens=40)
    with Library.writing(tmp_path / "lib", create=True) as lib:
        list(ingest([tmp_path / "docs"], lib, emb, IngestOptions(max_tokens=40, overlap=8)))
        before = lib.vectors.search(emb.embed(["tomato watering"]), 3)
        chunks = lib.count("chunks")
    for f in (tmp_path / "lib").glob("*.faiss*"):
        f.unlink()  # the index is a cache: losing it must cost a rebuild, not a re-ingest
    (tmp_path / "docs" / "stats.pdf").unlink()  # no source file is read again
    assert run_index(["index", "rebuild"], tmp_path / "lib") == 0
    assert f"flat index of {tmp_path / 'lib'}: {chunks} vectors" in capsys.readouterr().out
    with Library.open(tmp_path / "lib") as lib:
        after = lib.vectors.search(emb.embed(["tomato watering"]), 3)
    assert abs(before[0] - after[0]).max() < 1e-6 and before[1][0, 0] == after[1][0, 0]  # ties may swap order
    assert after[1].shape == (1, 3)
