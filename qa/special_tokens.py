"""The strings a served model's tokenizer turns into special tokens, asked of the server once.

Document text such as `<file_sep>` or `<start_of_turn>` becomes a control token id when the
served tokenizer has it as an added token (vLLM tokenizes message text with them), so prompts
defuse exactly those. vLLM 0.32 can say in two ways: GET /tokenizer_info (when started with
--enable-tokenizer-info-endpoint) lists the tokenizer's added tokens, and GET /v1/models names
the model folder (`root`), whose tokenizer files list them when the server runs on this machine.
A server that can say neither gets FALLBACK, the special tokens of common chat models.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

FALLBACK = frozenset({
    "<s>", "</s>", "<unk>", "<pad>", "<bos>", "<eos>", "<mask>", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>",
    "<start_of_turn>", "<end_of_turn>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<|system|>", "<|user|>",
    "<|assistant|>", "<|end|>", "<repo_name>", "<reponame>", "<file_sep>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
    "<jupyter_output>", "<jupyter_script>", "<empty_output>", "<think>", "</think>", "<tool_call>", "</tool_call>",
})
_NAMED = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_LISTED = ("additional_special_tokens", "extra_special_tokens")
_cache: dict[tuple[str, str], frozenset[str]] = {}


def served_special_tokens(root_url: str, model: str, folder: str | None) -> frozenset[str]:
    """The served tokenizer's added tokens (cached per server and model); FALLBACK when it cannot say."""
    key = (root_url, model)
    if key not in _cache:
        _cache[key] = _from_info(root_url) or _from_folder(folder) or FALLBACK
    return _cache[key]


def _from_info(root_url: str) -> frozenset[str]:
    """Tokens named by vLLM's /tokenizer_info (the tokenizer's init kwargs as JSON); empty if it has none."""
    try:
        with urllib.request.urlopen(f"{root_url}/tokenizer_info", timeout=10) as response:
            info = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return frozenset()
    if not isinstance(info, dict):
        return frozenset()
    found = [_content(t) for t in (info.get("added_tokens_decoder") or {}).values()]
    found += [_content(info.get(name)) for name in _NAMED]
    found += [_content(t) for name in _LISTED for t in (info.get(name) or [])]
    return _tokens(found)


def _from_folder(folder: str | None) -> frozenset[str]:
    """Added tokens in the model folder's tokenizer.json (or tokenizer_config.json); empty if none is here."""
    if not folder or not Path(folder).is_dir():
        return frozenset()
    try:
        fast = Path(folder) / "tokenizer.json"
        if fast.is_file():
            return _tokens(_content(t) for t in json.loads(fast.read_text()).get("added_tokens", []))
        config = Path(folder) / "tokenizer_config.json"
        if config.is_file():
            return _tokens(_content(t) for t in json.loads(config.read_text()).get("added_tokens_decoder", {}).values())
    except (OSError, ValueError, AttributeError):
        pass  # an unreadable folder says nothing; the caller falls back
    return frozenset()


def _content(token) -> str:
    """A token's text, whether given as a string or as an AddedToken-like {"content": ...}."""
    if isinstance(token, dict):
        token = token.get("content")
    return token if isinstance(token, str) else ""


def _tokens(found) -> frozenset[str]:
    # One- and two-character tokens ("\n", "<") are ordinary text in any document: defusing
    # them would rewrite every passage, and a tokenizer marks them special only for decoding.
    return frozenset(t for t in found if len(t.strip()) >= 3)
