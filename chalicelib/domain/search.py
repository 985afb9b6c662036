"""Message search, the pure half: what a text's searchable terms are, which index keys a message gets, what a query
asks for and whether a message answers it.

**Terms.** A text is cut into terms the same way for messages and queries, case- and accent-insensitively: each term
is NFKD-decomposed, its combining marks dropped and casefolded (``Café`` = ``cafe`` = ``CAFÉ``, ``ﬁlet`` = ``filet``,
full-width letters = their ASCII forms). Kinds of term:

* words: runs of letters, digits and marks (``4mm``, ``amigurumi``, ``häkeln``); apostrophes, hyphens and other
  punctuation separate words;
* CJK: Han, Hiragana and Katakana have no spaces between words, so a run of them is cut into overlapping pairs
  (``毛线钩针`` → ``毛线``, ``线钩``, ``钩针``); a query's run is cut the same way, and all its pairs must match;
  a single character stands alone;
* emoji: each pictograph (with its modifiers, joiners and flags) is one term, without its skin tone and
  presentation selector (``👍🏽`` = ``👍``);
* URLs (``http(s)://…``, ``www.…``): the words of the host and the path (``https://www.ravelry.com/patterns/fox``
  → ``ravelry``, ``com``, ``patterns``, ``fox``); the scheme, ``www``, the query string and the fragment are not
  searchable (tracking parameters would be noise).

Latin-like words of one character are not searchable (``a``, ``I``); one CJK character or one emoji is.

**Index keys.** Prefix search ("``amigur``" finds "amigurumi") with newest-first results in one Query cannot use
the term itself as the key's start (results would come sorted by term, then date), so each term is indexed under
its *buckets*: its prefixes of 2, 3, 5 and 8 characters (as long as the term has them; a term shorter than 2
characters is its own bucket). A query word uses the longest bucket it can fill (``amigur`` → ``amigu``, ``fox``
→ ``fox``, ``amigurumis`` → ``amigurum``), whose items are every message with a term that starts like it, newest
first; the messages read back are then checked against the whole query (every word, the last one as a prefix).
Terms of one message that share a bucket share its index item, so a message costs one item per distinct bucket and
participant.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

BUCKET_LENGTHS = (2, 3, 5, 8)
MAX_BUCKETS = 250  # per message: a 5,000-character message of distinct words cannot cost thousands of items
QUERY_MAX_CHARS = 200
QUERY_MIN_WORD_CHARS = 2

WORD, CJK, EMOJI = "word", "cjk", "emoji"

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\""
_ZWJ, _VS16, _KEYCAP = "\u200d", "\ufe0f", "\u20e3"


@dataclass(frozen=True)
class Term:
    """A searchable term and where it is in the text, in UTF-16 code units (``content.slice(start, end)`` in
    JavaScript is the term's text)."""

    text: str
    kind: str
    start: int
    end: int


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded (again after casefolding, which
    can decompose: ``İ`` → ``i̇``)."""
    once = _strip_marks(unicodedata.normalize("NFKD", text)).casefold()
    # NFC at the end puts back together what NFKD took apart and is no mark (Hangul syllables from their jamo).
    return unicodedata.normalize("NFC", _strip_marks(unicodedata.normalize("NFKD", once)))


def _fold_cjk(text: str) -> str:
    """Kana and ideographs keep their marks (``ぎ`` is not ``き``): NFKC (half-width kana to full width), casefold."""
    return unicodedata.normalize("NFKC", text).casefold()


def _strip_marks(text: str) -> str:
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= code <= 0x4DBF  # CJK Extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK Unified Ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK Compatibility Ideographs
        or 0x20000 <= code <= 0x3FFFF  # CJK Extensions B and later
        or 0x31F0 <= code <= 0x31FF  # Katakana extensions
        or 0xFF66 <= code <= 0xFF9F  # half-width Katakana
    )


def _is_pictograph(ch: str) -> bool:
    code = ord(ch)
    return (
        0x1F000 <= code <= 0x1FAFF  # emoji, symbols and pictographs, flags' regional indicators
        or 0x2600 <= code <= 0x27BF  # miscellaneous symbols, dingbats (☀, ✨, ❤)
        or 0x2B00 <= code <= 0x2BFF  # arrows and stars (⭐)
        or code in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def _is_emoji_modifier(ch: str) -> bool:
    code = ord(ch)
    return 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F  # skin tones; tag sequences (subdivision flags)


def _is_word_char(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "LNM" and not _is_cjk(ch)


def _utf16(text: str) -> list[int]:
    """The UTF-16 offset of every code point of ``text`` (and of its end)."""
    offsets, position = [], 0
    for ch in text:
        offsets.append(position)
        position += 2 if ord(ch) > 0xFFFF else 1
    offsets.append(position)
    return offsets


def terms(text: str) -> list[Term]:
    """Every searchable term of ``text`` in order (repeats included), folded, with its place in the text."""
    offsets = _utf16(text)
    found: list[Term] = []
    urls = [(m.start(), _url_end(m)) for m in _URL.finditer(text)]
    position = 0
    for start, end in urls:
        found.extend(_scan(text, position, start, offsets))
        found.extend(_url_terms(text, start, end, offsets))
        position = end
    found.extend(_scan(text, position, len(text), offsets))
    return found


def _url_end(match: re.Match[str]) -> int:
    end = match.end()
    while end > match.start() and match.string[end - 1] in _URL_TRAILING:
        end -= 1
    return end


def _url_terms(text: str, start: int, end: int, offsets: list[int]) -> Iterator[Term]:
    url = text[start:end]
    body_start = start + (url.index("://") + 3 if "://" in url else 0)
    cut = end
    for separator in "?#":
        at = text.find(separator, body_start, end)
        if at != -1:
            cut = min(cut, at)
    first = True
    for term in _scan(text, body_start, cut, offsets):
        if first and term.text == "www":
            first = False
            continue
        first = False
        yield term


def _scan(text: str, start: int, end: int, offsets: list[int]) -> Iterator[Term]:
    """Words, CJK runs and emoji of ``text[start:end]``."""
    index = start
    while index < end:
        ch = text[index]
        keycap = ch in "#*0123456789" and text[index + 1 : index + 3] == _VS16 + _KEYCAP
        if _is_word_char(ch) and not keycap:
            stop = index + 1
            while stop < end and _is_word_char(text[stop]):
                stop += 1
            word = fold(text[index:stop])
            if word:
                yield Term(word, WORD, offsets[index], offsets[stop])
            index = stop
        elif _is_cjk(ch):
            stop = index + 1
            while stop < end and (_is_cjk(text[stop]) or _attaches(text[stop])):
                stop += 1
            yield from _cjk_terms(text, index, stop, offsets)
            index = stop
        elif _is_pictograph(ch) or keycap:
            stop = _emoji_end(text, index, end)
            emoji = "".join(c for c in text[index:stop] if c != _VS16 and not _is_emoji_modifier(c))
            if emoji:
                yield Term(emoji, EMOJI, offsets[index], offsets[stop])
            index = stop
        else:
            index += 1


def _cjk_terms(text: str, start: int, stop: int, offsets: list[int]) -> Iterator[Term]:
    # Each character with the marks that follow it (a decomposed dakuten), as (start, end, folded).
    characters: list[tuple[int, int, str]] = []
    for i in range(start, stop):
        if _attaches(text[i]) and characters:
            first, _, _ = characters[-1]
            characters[-1] = (first, i + 1, _fold_cjk(text[first : i + 1]))
        elif not _attaches(text[i]):
            characters.append((i, i + 1, _fold_cjk(text[i])))
    if len(characters) == 1:
        first, end, folded = characters[0]
        yield Term(folded, CJK, offsets[first], offsets[end])
        return
    for (first, _, a), (_, end, b) in itertools.pairwise(characters):
        yield Term(a + b, CJK, offsets[first], offsets[end])


def _attaches(ch: str) -> bool:
    """A mark that belongs to the character before it: combining, or half-width katakana's (semi-)voiced mark."""
    return bool(unicodedata.combining(ch)) or ch in "\uff9e\uff9f"


def _emoji_end(text: str, index: int, end: int) -> int:
    """Where the emoji starting at ``index`` ends: modifiers, selectors, keycaps and ZWJ-joined pictographs, or a
    pair of regional indicators (a flag), belong to it."""
    code = ord(text[index])
    if 0x1F1E6 <= code <= 0x1F1FF:  # regional indicator: a flag is two of them
        return index + 2 if index + 1 < end and 0x1F1E6 <= ord(text[index + 1]) <= 0x1F1FF else index + 1
    stop = index + 1
    while stop < end:
        ch = text[stop]
        if ch in (_VS16, _KEYCAP) or _is_emoji_modifier(ch):
            stop += 1
        elif ch == _ZWJ and stop + 1 < end and _is_pictograph(text[stop + 1]):
            stop += 2
        else:
            break
    return stop


def searchable(term: Term) -> bool:
    """Whether a term is indexed and matched: one-character words are not; one CJK character or emoji is."""
    return term.kind != WORD or len(term.text) >= QUERY_MIN_WORD_CHARS


def bucket(term: str) -> str:
    """The index bucket a term is looked up under: its longest prefix of a ``BUCKET_LENGTHS`` length."""
    usable = [n for n in BUCKET_LENGTHS if n <= len(term)]
    return term[: usable[-1]] if usable else term


def buckets(term: str) -> list[str]:
    """Every bucket a term is indexed under (its prefixes of 2, 3, 5 and 8 characters; itself when shorter)."""
    found = [term[:n] for n in BUCKET_LENGTHS if n <= len(term)]
    return found or [term]


def message_terms(content: str, attachment_name: str | None) -> set[str]:
    """The searchable terms of a message: its text and its attachment's file name."""
    texts = [content, attachment_name or ""]
    return {term.text for text in texts for term in terms(text) if searchable(term)}


def index_buckets(content: str, attachment_name: str | None) -> list[str]:
    """The buckets a message is indexed under, in order of first appearance, at most ``MAX_BUCKETS`` (a message
    longer than that in distinct words is still found by the words of its first part)."""
    seen: dict[str, None] = {}
    for text in (content, attachment_name or ""):
        for term in terms(text):
            if not searchable(term):
                continue
            for name in buckets(term.text):
                seen.setdefault(name, None)
    return list(seen)[:MAX_BUCKETS]


def index_key(name: str, sent_at: str, conversation_id: str, seq: int) -> str:
    """The index item's sort key: its bucket, then newest-first order (the send time, then the message)."""
    return f"{name}#{sent_at}#{conversation_id}#{seq:012d}"


def parse_index_key(key: str) -> tuple[str, str, str, int]:
    """(bucket, sent at, conversation id, seq) of an index key."""
    name, sent_at, conversation_id, seq = key.rsplit("#", 3)
    return name, sent_at, conversation_id, int(seq)


class InvalidQuery(ValueError):
    """The search text cannot be searched (empty, too long, or without a word of two characters)."""


@dataclass(frozen=True)
class Query:
    """What a search asks for: every word, the last one also as a prefix."""

    words: tuple[str, ...]  # distinct, in order; the last is the prefix

    @property
    def prefix(self) -> str:
        return self.words[-1]

    @property
    def lookup(self) -> str:
        """The bucket to read: the most selective one (longest; a complete word before the prefix on a tie)."""
        candidates = [(len(bucket(word)), index < len(self.words) - 1, word) for index, word in enumerate(self.words)]
        return bucket(max(candidates)[2])

    def matches(self, message_terms: Iterable[str]) -> bool:
        """Whether a message with these terms answers the query (all words; the last one also as a prefix)."""
        have = set(message_terms)
        complete = self.words[:-1]
        return all(word in have for word in complete) and any(term.startswith(self.prefix) for term in have)

    def highlights(self, text: str) -> list[tuple[int, int]]:
        """Where the query's words are in ``text`` (UTF-16 offsets), in order."""
        complete = set(self.words[:-1])
        return [
            (term.start, term.end)
            for term in terms(text)
            if searchable(term) and (term.text in complete or term.text.startswith(self.prefix))
        ]


def parse_query(text: str) -> Query:
    """The query in ``q``: 1-200 characters with at least one word of two or more characters."""
    if not 1 <= len(text) <= QUERY_MAX_CHARS:
        raise InvalidQuery(f"q must be 1 to {QUERY_MAX_CHARS} characters")
    found = [term for term in terms(text) if searchable(term)]
    if not any(term.kind == WORD or len(term.text) >= QUERY_MIN_WORD_CHARS for term in found if term.kind != EMOJI):
        raise InvalidQuery(f"q needs at least one word of {QUERY_MIN_WORD_CHARS} or more characters")
    return Query(tuple(dict.fromkeys(term.text for term in found)))
