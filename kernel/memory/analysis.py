"""Text analysis of recall: the terms a memory is found by (words, lower case, stop words and question
words out, Porter stems), what its embedding is computed from, and a query's terms.

The analysis runs in Python and the index (:mod:`.index`) stores its output, so the same rules apply
to what is indexed and what is asked.
"""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"\w+(?:\.?\w+)*", re.UNICODE)
# whoosh's English stop words (kept from the earlier index) and question words: they carry no
# information about which memory answers.
STOP_WORDS = frozenset(
    "a an and are as at be by can for from have if in is it may not of on or tbd that the this to us we "
    "when will with yet you your".split()
)
QUESTION_WORDS = frozenset(
    "what where who whom whose which why how does do did was were has had i my me our "
    "about there any anything know known tell".split()
)
_DROP = STOP_WORDS | QUESTION_WORDS


@functools.lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    from whoosh.lang.porter import stem

    return stem(word)


def terms_of(text: str) -> list[str]:
    """The analysed terms of ``text``, in order (repeats kept): what the index counts."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _DROP]


def query_terms(text: str) -> list[str]:
    """The distinct analysed terms of a free-text query. Search syntax (quotes, ``field:``, ``*``,
    ``AND``...) has no meaning here: every character that is not part of a word is a separator."""
    return list(dict.fromkeys(terms_of(text)))


def indexed_text(title: str, body: str, tags: str) -> str:
    """The terms one document is found by: the body's, then the title's and tags' that are new."""
    words = terms_of(body)
    seen = set(words)
    extra = [t for t in terms_of(f"{title} {tags.replace(',', ' ')}") if t not in seen]
    return " ".join(words + list(dict.fromkeys(extra)))


def embed_text(title: str, body: str) -> str:
    """What a document's embedding is computed from: the body, after the title if it is not its start."""
    flat = " ".join(body.split())
    return flat if not title or flat.startswith(title.rstrip("…")) else f"{title}. {flat}"
