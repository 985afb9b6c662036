"""Tokenization for search (chalicelib/domain/search.py): case and accent folding, words, CJK runs, emoji, URLs,
the index buckets, query parsing and matching, highlights in UTF-16 offsets."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.domain import search
from chalicelib.domain.search import InvalidQuery, bucket, buckets, index_buckets, parse_query, terms


def texts(text: str) -> list[str]:
    return [term.text for term in terms(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café CAFÉ cafe", ["cafe", "cafe", "cafe"]),
        ("cafe\u0301", ["cafe"]),  # a combining acute accent (decomposed é)
        ("crème brûlée", ["creme", "brulee"]),
        ("Straße", ["strasse"]),  # casefolding, not lower()
        ("İstanbul", ["istanbul"]),  # dotted capital I: casefold decomposes, the dot is dropped
        ("ﬁlet", ["filet"]),  # a ligature (NFKD)
        ("\uff39\uff21\uff32\uff2e", ["yarn"]),  # full-width letters (NFKD)
        ("Häkeln, Ñandú; Øre", ["hakeln", "nandu", "øre"]),  # Ø has no decomposition: kept as a letter
        ("4mm hook, 3.5mm", ["4mm", "hook", "3", "5mm"]),
        ("don't re-join", ["don", "t", "re", "join"]),
        ("snake_case", ["snake", "case"]),
        ("Ελληνικά Русский", ["ελληνικα", "русскии"]),  # й = и + breve
        ("", []),
        ("  !!! ...", []),
    ],
)
def test_words_are_folded_case_and_accent_insensitively(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_cjk_runs_are_cut_in_overlapping_pairs_and_a_lone_character_stands_alone() -> None:
    assert texts("毛线钩针") == ["毛线", "线钩", "钩针"]
    assert texts("かぎ針 yarn") == ["かぎ", "ぎ針", "yarn"]  # the dakuten stays: ぎ is not き
    assert texts("か\u3099ぎ") == texts("がぎ") == ["がぎ"]  # a decomposed dakuten is the composed one
    assert texts("ｶｷﾞ") == ["カギ"]  # half-width katakana
    assert texts("猫 and 犬") == ["猫", "and", "犬"]
    assert texts("毛线yarn钩针") == ["毛线", "yarn", "钩针"]  # scripts change: separate terms
    assert [term.kind for term in terms("毛线 yarn")] == [search.CJK, search.CJK, search.WORD][1:]


def test_korean_is_spaced_words() -> None:
    assert texts("코바늘 뜨개질") == ["코바늘", "뜨개질"]


def test_emoji_are_terms_without_skin_tone_or_presentation_selector() -> None:
    found = terms("👍🏽 ❤️ 🧶yarn 👨\u200d👩\u200d👧 🇫🇷 1️⃣")
    assert [(t.text, t.kind) for t in found] == [
        ("👍", search.EMOJI),
        ("❤", search.EMOJI),
        ("🧶", search.EMOJI),
        ("yarn", search.WORD),
        ("👨\u200d👩\u200d👧", search.EMOJI),  # one family, not three people
        ("🇫🇷", search.EMOJI),  # one flag, two regional indicators
        ("1\u20e3", search.EMOJI),  # a keycap, not the digit 1
    ]
    assert texts("👍") == texts("👍🏿") == texts("👍\ufe0f")


def test_urls_give_the_words_of_their_host_and_path_only() -> None:
    assert texts("see https://www.ravelry.com/patterns/library/amigurumi-fox?utm_source=x#reviews.") == [
        "see",
        "ravelry",
        "com",
        "patterns",
        "library",
        "amigurumi",
        "fox",
    ]
    assert texts("(www.Example.org/Blanket)") == ["example", "org", "blanket"]
    assert texts("http://wool.shop") == ["wool", "shop"]


def test_offsets_are_utf16_code_units_of_the_original_text() -> None:
    text = "🧶 Café au lait"
    found = terms(text)
    assert [(t.start, t.end) for t in found] == [(0, 2), (3, 7), (8, 10), (11, 15)]
    assert [term.text for term in terms("cafe\u0301 x")] == ["cafe", "x"]
    assert [(t.start, t.end) for t in terms("cafe\u0301 ok")] == [(0, 5), (6, 8)]  # the mark belongs to the word


def test_a_term_is_indexed_under_its_prefixes_of_2_3_5_and_8() -> None:
    assert buckets("amigurumi") == ["am", "ami", "amigu", "amigurum"]
    assert buckets("fox") == ["fo", "fox"]
    assert buckets("ok") == ["ok"]
    assert buckets("🧶") == ["🧶"]
    assert [bucket(word) for word in ("amigur", "fox", "amigurumis", "hook", "am")] == [
        "amigu",
        "fox",
        "amigurum",
        "hoo",
        "am",
    ]
    # every prefix a query can look a term up by is one of its buckets
    for term in ("amigurumi", "border", "yarn"):
        for length in range(2, len(term) + 1):
            assert bucket(term[:length]) in buckets(term)


def test_a_message_is_indexed_by_its_text_and_its_file_name_once_per_bucket_without_single_letters() -> None:
    found = index_buckets("Hook, hooks and a HOOK", "Granny-Square.pdf")
    assert found == ["ho", "hoo", "hooks", "an", "and", "gr", "gra", "grann", "sq", "squ", "squar", "pd", "pdf"]
    assert "a" not in found


def test_a_long_message_costs_at_most_max_buckets() -> None:
    many = " ".join(hashlib.sha256(str(index).encode()).hexdigest()[:10] for index in range(2000))
    assert len(index_buckets(many, None)) == search.MAX_BUCKETS


def test_index_keys_sort_newest_first_within_a_bucket_and_parse_back() -> None:
    older = search.index_key("hoo", "2026-11-24T22:39:09.694Z", "conv_a", 7)
    newer = search.index_key("hoo", "2026-11-25T08:00:00.000Z", "conv_a", 8)
    assert older < newer and older.startswith("hoo#")
    assert search.parse_index_key(newer) == ("hoo", "2026-11-25T08:00:00.000Z", "conv_a", 8)


@pytest.mark.parametrize("q", ["", "a", "a b c", "!!!", "🧶", "🧶 a", "猫", "x" * 201])
def test_a_query_needs_1_to_200_characters_and_a_word_of_two(q: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_query(q)


def test_a_query_is_its_distinct_words_in_order_the_last_a_prefix() -> None:
    query = parse_query("Hook AMIGUR hook a")
    assert query.words == ("hook", "amigur")
    assert query.prefix == "amigur"
    assert query.lookup == "amigu"  # the longest bucket
    assert parse_query("🧶 yarn").words == ("🧶", "yarn")
    assert parse_query("毛线").words == ("毛线",)
    assert parse_query("x" * 200).words == ("x" * 200,)


def test_matching_needs_every_word_and_takes_the_last_as_a_prefix() -> None:
    query = parse_query("granny amigur")
    assert query.matches({"granny", "amigurumi"})
    assert query.matches({"granny", "amigur"})
    assert not query.matches({"granny"})
    assert not query.matches({"grannys", "amigurumi"})  # complete words match exactly
    assert not query.matches({"amigurumi"})
    assert parse_query("café").matches(search.message_terms("CAFE au lait", None))
    assert parse_query("fox").matches(search.message_terms("", "amigurumi-fox.pdf"))


def test_highlights_are_where_the_words_are() -> None:
    query = parse_query("hook amig")
    text = "Hook for the 🧶 AMIGURUMI, hooked"
    assert query.highlights(text) == [(0, 4), (16, 25)]  # UTF-16: the yarn ball is two code units
    units = text.encode("utf-16-le")
    shown = [units[2 * start : 2 * end].decode("utf-16-le") for start, end in query.highlights(text)]
    assert shown == ["Hook", "AMIGURUMI"]
