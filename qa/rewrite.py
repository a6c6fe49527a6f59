"""Follow-up questions made to stand alone before retrieval."""
from __future__ import annotations

import re
from collections.abc import Sequence

from qa import prompt
from qa.llm import LLMClient, LLMError, Sampling
from qa.text import content_words

# Words that lean on an earlier turn; a question without them usually stands alone.
_DEPENDENT = re.compile(r"\b(it|its|it's|this|that|these|those|they|them|their|there|he|she|one|ones|"
                        r"same|such|above|previous|former|latter|else|also|too|instead)\b", re.IGNORECASE)
_MAX_WORDS = 6  # a follow-up this short ("and on Windows?") needs its context whatever words it uses
# A short question asked whole: a question word and a verb, then what it asks about ("What is the default
# interval?"), not one leaning on the last ("And on Windows?", "What about the battery?", "How long?").
_WHOLE = re.compile(r"^\s*(?:what|which|who|whom|whose|where|when|why|how(?: many| much| long| often)?)\s+"
                    r"(?:is|are|was|were|does|do|did|can|could|should|will|would|has|have|must|may)\b", re.IGNORECASE)
_MAX_CARRIED = 6  # topic words a follow-up takes from the turn before: the newest first, so none pile up


def needs_context(question: str) -> bool:
    """Whether a question seems to lean on the conversation before it."""
    if _DEPENDENT.search(question):
        return True
    short = len(question.split()) <= _MAX_WORDS
    return short and not (_WHOLE.match(question) and len(set(content_words(question))) >= 2)


def standalone_question(question: str, history: Sequence[tuple[str, str]], llm: LLMClient | None = None) -> str:
    """`question` rewritten to be understood alone: by the model if there is one, else by carrying topic words."""
    if not history or not needs_context(question):
        return question
    if llm is not None:
        try:
            rewritten = llm.complete(prompt.rewrite_messages(history[-3:], question, llm.special_tokens),
                                     Sampling(max_tokens=64, stop=("\n",)))
            if _faithful(rewritten, question):
                return " ".join(rewritten.split())
        except LLMError:
            pass  # the rewrite is an aid; retrieval still works from the carried words below
    return carry_topic(question, history)


def carry_topic(question: str, history: Sequence[tuple[str, str]]) -> str:
    """The question followed by up to _MAX_CARRIED content words of the turn before that it does not have.

    The turn before is its standalone form, which may end in words it carried itself ("(long battery
    last)"): its own words come first, so a chat of follow-ups keeps its newest topic and words from many
    turns back do not pile up ("Who is the supplier? (default interval long battery last)").
    """
    asked = set(content_words(question))
    previous = history[-1][0]
    words = re.findall(r"\w[\w.]*\w|\w", previous)
    carried = [w for w in dict.fromkeys(words) if content_words(w) and content_words(w)[0] not in asked]
    carried = carried[:_MAX_CARRIED]
    return f"{question} ({' '.join(carried)})" if carried else question


def _faithful(rewritten: str, question: str) -> bool:
    """A rewrite keeps the follow-up's own content words and stays a short single question."""
    kept = set(content_words(rewritten))
    own = set(content_words(question))
    return bool(rewritten.strip()) and len(rewritten) <= 4 * len(question) + 200 and own <= kept
