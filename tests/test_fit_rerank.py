"""python -m eval.fit_rerank on question sets it cannot fit on: one line that says why."""
import json

from eval import fit_rerank


def test_a_dev_set_with_no_answerable_question_is_a_one_line_error(tmp_path, capsys):
    rows = tmp_path / "dev.jsonl"
    rows.write_text(json.dumps({"id": "u", "question": "Who won the world cup in 1954?", "answers": [], "doc": None,
                                "pages": [], "answerable": False, "split": "dev"}) + "\n")
    (tmp_path / "lib").mkdir()  # the fit had scored every grid point over no question: NaN, printed as JSON
    assert fit_rerank.main(["--library", str(tmp_path / "lib"), "--dataset", str(rows)]) == 2
    assert "holds no answerable dev question" in capsys.readouterr().err
