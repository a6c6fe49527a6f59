"""The model-server client over real HTTP and SSE, against a deterministic server on loopback."""
import json
import math
import socket

import pytest
from llm_server import FakeLLM, Reply

from qa.llm import LLMClient, LLMError, Sampling, StreamInterrupted

ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
def llm():
    with FakeLLM(max_model_len=1024) as server:
        yield server


def test_the_model_and_its_context_come_from_the_server(llm):
    client = LLMClient(llm.url)
    assert (client.model, client.context_length) == ("test/fake-llm", 1024)
    assert client.count_tokens("three short words") == 3


def test_streaming_yields_the_text_piece_by_piece_with_the_sampling_asked(llm):
    llm.queue("Use lm() to fit it [1].")
    pieces = list(LLMClient(llm.url).stream(ASK, Sampling(max_tokens=50, repetition_penalty=1.2, stop=("\n\n",))))
    assert len(pieces) > 1 and "".join(pieces).strip() == "Use lm() to fit it [1]."
    sent = llm.requests[-1]
    assert sent["stream"] is True and sent["temperature"] == 0.0 and sent["max_tokens"] == 50
    assert sent["repetition_penalty"] == 1.2 and sent["stop"] == ["\n\n"]


def test_a_server_dying_mid_stream_keeps_the_partial_text(llm):
    llm.queue(Reply("one two three four five", cut_after=2))
    seen = []
    with pytest.raises(StreamInterrupted) as caught:
        for piece in LLMClient(llm.url, retries=0).stream(ASK):
            seen.append(piece)
    assert caught.value.partial == "".join(seen) == "one two "


def test_a_server_silent_past_the_timeout_is_named_slow_not_gone(llm):
    # A CPU reading a long prompt sends the stream's headers, then nothing until the first word.
    llm.queue(Reply("late words", stall_s=1.5), Reply("late", stall_s=1.5))
    client = LLMClient(llm.url, retries=0, timeout=0.5)
    with pytest.raises(StreamInterrupted, match=r"sent nothing for 0\.5 s \(llm_timeout\)") as caught:
        list(client.stream(ASK))
    assert caught.value.partial == ""
    with pytest.raises(LLMError, match=r"sent nothing for 0\.5 s \(llm_timeout\)") as caught:
        client.complete(ASK)
    assert "no model server answers" not in str(caught.value) and "\n" not in str(caught.value)


def test_guided_choice_goes_through_structured_outputs(llm):
    llm.queue("2", "maybe")
    client = LLMClient(llm.url)
    assert client.choose(ASK, ["0", "1", "2"]) == "2"
    assert llm.requests[-1]["structured_outputs"] == {"choice": ["0", "1", "2"]}
    with pytest.raises(LLMError, match="structured"):
        client.choose(ASK, ["0", "1", "2"])  # a server that ignores the constraint is caught


def test_choice_logprobs_are_the_first_tokens_normalised_over_the_choices(llm):
    listed = {"2": math.log(0.5), "1": math.log(0.2), " 1": math.log(0.25), "The": math.log(0.1), "Number": -5.0}
    llm.queue(Reply(top=listed), Reply("2"))
    client = LLMClient(llm.url)
    p = {c: math.exp(v) for c, v in client.choice_logprobs(ASK, ["0", "1", "2"]).items()}
    sent = llm.requests[-1]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 20 and sent["max_tokens"] == 1
    assert sent["structured_outputs"] == {"choice": ["0", "1", "2"]}
    assert sum(p.values()) == pytest.approx(1.0)
    assert p["1"] / p["2"] == pytest.approx(0.5)  # " 1" and "1" are one choice: the likelier spelling counts
    assert p["0"] / p["2"] == pytest.approx(math.exp(-5.0) / 0.5)  # not listed: as likely as the least listed
    with pytest.raises(LLMError, match="log-probabilities"):
        client.choice_logprobs(ASK, ["0", "1", "2"])  # a server that sends none is caught


def test_errors_are_one_line_and_say_what_to_run(llm):
    llm.queue(Reply(status=400))
    with pytest.raises(LLMError, match="refused the request: 400"):
        LLMClient(llm.url, retries=0).complete(ASK)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # bound, never listening
    with pytest.raises(LLMError, match="run: groundwork serve") as caught:
        LLMClient(dead, retries=1, timeout=2).model
    assert "\n" not in str(caught.value)


def test_a_reply_with_no_choices_is_a_one_line_error_in_every_call(llm):
    client = LLMClient(llm.url, retries=0)
    for call in (lambda: client.complete(ASK), lambda: client.choose(ASK, ["0", "1"]),
                 lambda: client.choice_logprobs(ASK, ["0", "1"])):
        llm.queue(Reply("1", empty=True))
        with pytest.raises(LLMError, match="sent a reply with no choices"):
            call()


def test_token_counts_fall_back_to_an_upper_estimate_without_tokenize(llm):
    client = LLMClient(llm.url)
    client.url = client.url.replace("/v1", "/elsewhere/v1")  # a server with no /tokenize route
    assert client.count_tokens("x" * 300) >= 100


SMOLLM2 = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<file_sep>", "<jupyter_code>", "<custom_42>")


def test_special_tokens_come_from_the_servers_tokenizer_info_once_per_server():
    with FakeLLM(special_tokens=SMOLLM2, tokenizer_info=True) as server:
        assert LLMClient(server.url).special_tokens == frozenset(SMOLLM2)
        server.special_tokens = ("<other>",)
        assert LLMClient(server.url).special_tokens == frozenset(SMOLLM2)  # asked once, then cached


def test_special_tokens_come_from_the_served_model_folder_when_the_server_has_no_info(tmp_path):
    added = [{"id": i, "content": t, "special": True} for i, t in enumerate(SMOLLM2)]
    (tmp_path / "tokenizer.json").write_text(json.dumps({"added_tokens": added, "model": {}}))
    with FakeLLM(special_tokens=SMOLLM2, root=str(tmp_path)) as server:
        assert LLMClient(server.url).special_tokens == frozenset(SMOLLM2)


def test_a_server_that_cannot_say_gets_the_common_special_tokens(llm):
    specials = LLMClient(llm.url).special_tokens
    assert {"</s>", "<start_of_turn>", "<|im_end|>", "<file_sep>"} <= specials
    assert "<custom_42>" not in specials
