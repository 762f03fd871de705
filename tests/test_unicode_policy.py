"""The one Unicode-version policy (tokenizer/__init__.py): both tokenizers classify characters
with Python's tables (`unicodedata`, `regex`), newer than those inside Hugging Face
`tokenizers`. One known differing case per tokenizer is pinned here against `tokenizers`
itself, so that the documented difference is checked, and noticed if either side changes."""

from __future__ import annotations

import unicodedata

import pytest
import regex

from tokenizer.basic import BasicTokenizer
from tokenizer.bytelevel import pre_tokenize, to_byte_chars

pytestmark = pytest.mark.parity


def test_wordpiece_follows_unicodedata(hf_tokenizers):
    # U+2E53 MEDIEVAL EXCLAMATION MARK and U+0890 ARABIC POUND MARK ABOVE, both Unicode 14.
    assert unicodedata.category("\u2e53") == "Po" and unicodedata.category("\u0890") == "Cf"
    text = "wait\u2e53 cost\u0890s"
    ours = [word for word, *_ in BasicTokenizer(lowercase=False).split(text)]
    normalizer = hf_tokenizers.normalizers.BertNormalizer(lowercase=False)
    pre = hf_tokenizers.pre_tokenizers.BertPreTokenizer()
    theirs = [word for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text))]
    assert ours == ["wait", "\u2e53", "costs"]  # punctuation split off; format char cleaned
    assert theirs == ["wait\u2e53", "cost\u0890s"]  # older tables: neither is known


def test_byte_level_bpe_follows_regex(hf_tokenizers):
    # U+088F ARABIC LETTER NOON WITH RING ABOVE: a letter since Unicode 17, which `regex` knows.
    assert regex.fullmatch(r"\p{L}", "\u088f")
    text = "a\u088fb c"
    theirs = [w for w, _ in
              hf_tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text)]
    assert [to_byte_chars(w) for w in pre_tokenize(text)] == [to_byte_chars("a\u088fb"), "Ġc"]
    assert theirs == ["a", to_byte_chars("\u088f"), "b", "Ġc"]  # a symbol to the older tables
