"""What the user typed, turned into terms that can never be an FTS5 syntax error.

Rules (kept small on purpose): words are ANDed; ``"two words"`` is a phrase; a trailing ``*``
asks for a prefix. Every term reaches FTS5 as a double-quoted string with inner quotes doubled,
so operators, parentheses, colons or a stray quote in the input are plain text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
MAX_TERMS = 16
# The trigram tokenizer indexes 3-character sequences: a shorter term (a 2-character Chinese
# word, "AI") cannot be answered by the index and is matched with LIKE instead.
MIN_INDEXED_CHARS = 3
# Scripts below Thai (Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari, ...) put spaces
# between words, so a word tokenizer finds their words; Thai, Chinese, Japanese do not.
_SPACED_SCRIPTS_END = 0x0E00

_TOKEN = re.compile(r'"([^"]*)"?(\*?)|(\S+)')
# Our snippet markers (private-use characters) must not come from the user.
_RESERVED = dict.fromkeys(map(ord, "\ue000\ue001"))


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool = False
    prefix: bool = False

    @property
    def indexable(self) -> bool:
        return len(self.text) >= MIN_INDEXED_CHARS

    def fts(self) -> str:
        # No "*" even for a prefix: with the trigram tokenizer every term already matches
        # anywhere inside words (so "kuber" finds "kubernetes"), and FTS5 would expand "*"
        # over every trigram starting with the last three letters, which is slow.
        return '"' + self.text.replace('"', '""') + '"'

    @property
    def in_words(self) -> bool:
        """Made only of words a word tokenizer keeps whole (letters and digits of spaced scripts)."""
        return all(ch == " " or (ch.isalnum() and ord(ch) < _SPACED_SCRIPTS_END) for ch in self.text)

    def word_fts(self) -> str:
        # A whole word unless asked for a prefix: FTS5 reads a prefix's every matching posting
        # list whole, three times slower for a common word than the word's own list.
        return '"' + self.text + '"' + ("*" if self.prefix else "")


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    @property
    def indexed_terms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.indexable)

    @property
    def short_terms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.indexable)

    def fts_expression(self) -> str | None:
        """An FTS5 MATCH string over the indexable terms (implicit AND), or None."""
        parts = [t.fts() for t in self.indexed_terms]
        return " ".join(parts) if parts else None

    def word_expression(self) -> str | None:
        """An FTS5 MATCH string for the word index, when every term is made of words."""
        if self.empty or not all(t.in_words for t in self.terms):
            return None
        return " ".join(t.word_fts() for t in self.terms)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_RESERVED)
    # Control characters (NUL included) never help a search and upset some tokenizers.
    return "".join(ch if ch.isprintable() or ch == " " else " " for ch in text)


def parse_query(text: str) -> ParsedQuery:
    text = _clean((text or "")[:MAX_QUERY_CHARS])
    terms: list[Term] = []
    for match in _TOKEN.finditer(text):
        phrase, star, word = match.groups()
        if word is not None:
            prefix = word.endswith("*")
            value = word.strip("*")
            is_phrase = False
        else:
            prefix = bool(star)
            value = " ".join(phrase.split())  # a phrase matches its words with single spaces
            is_phrase = " " in value
        if not value:
            continue
        term = Term(value, is_phrase, prefix)
        if term not in terms:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return ParsedQuery(tuple(terms))


def like_pattern(term: Term) -> str:
    """A LIKE pattern finding ``term`` anywhere; ``\\`` escapes LIKE's own wildcards."""
    escaped = term.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
