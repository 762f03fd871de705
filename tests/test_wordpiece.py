"""WordPiece: known answers on a tiny vocabulary, cache vs plain path, properties, bad input.

Parity with Hugging Face on real text is in test_wordpiece_parity.py; the trainer in
test_wordpiece_trainer.py.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import BasicTokenizer, Encoding, VocabError, WordPieceTokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Google BERT's own unit-test vocabulary, plus a few pieces.
TINY = SPECIALS + ["un", "##aff", "##able", "want", "##want", "##ed", "wa", "runn", "##ing", ",",
                   "low", "lowest", "!", "?", "hello", "cafe", "中", "a", "##b"]


@pytest.fixture(scope="module")
def tiny():
    return WordPieceTokenizer({t: i for i, t in enumerate(TINY)})


@pytest.fixture(scope="module")
def bert(data):
    return WordPieceTokenizer.from_file(data / "bert_vocab" / "bert-base-uncased-vocab.txt")


# --- known answers ---------------------------------------------------------------------------

def test_unaffable(tiny):
    enc = tiny.encode("unaffable")
    assert enc.tokens == ["[CLS]", "un", "##aff", "##able", "[SEP]"]
    assert enc.ids == [2, 5, 6, 7, 3]
    assert enc.offsets == [(0, 0), (0, 2), (2, 5), (5, 9), (0, 0)]
    assert enc.word_ids == [None, 0, 0, 0, None]
    assert enc.special_tokens_mask == [1, 0, 0, 0, 1]
    assert len(enc) == 5 and isinstance(enc, Encoding)


def test_google_example(tiny):
    assert tiny.tokenize("UNwant\u00e9d,running") == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert tiny.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]  # whole word -> [UNK]
    assert tiny.tokenize("") == [] and tiny.tokenize(" \t\n") == []


def test_long_word_is_unk(tiny):
    assert tiny.tokenize("a" + "b" * 99) == ["a"] + ["##b"] * 99
    enc = tiny.encode("a" + "b" * 100, add_special_tokens=False)
    assert enc.tokens == ["[UNK]"] and enc.offsets == [(0, 101)]


def test_pair_layout(tiny):
    enc = tiny.encode("unaffable", "running!")
    assert enc.tokens == ["[CLS]", "un", "##aff", "##able", "[SEP]", "runn", "##ing", "!", "[SEP]"]
    assert enc.type_ids == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert enc.word_ids == [None, 0, 0, 0, None, 0, 0, 1, None]
    assert enc.offsets[5:8] == [(0, 4), (4, 7), (7, 8)]  # offsets are into the pair's own text


def test_basic_tokenizer_settings():
    text = " \tHeLLo!how  \n Are yoU?  HäLLo ah\u535a\u63a8zz"
    def words(b):
        return [w[0] for w in b.split(text)]

    assert words(BasicTokenizer()) == ["hello", "!", "how", "are", "you", "?", "hallo", "ah",
                                       "\u535a", "\u63a8", "zz"]
    assert words(BasicTokenizer(lowercase=False))[:6] == ["HeLLo", "!", "how", "Are", "yoU", "?"]
    assert words(BasicTokenizer(lowercase=False))[6] == "HäLLo"
    assert words(BasicTokenizer(strip_accents=False))[6] == "hällo"
    assert words(BasicTokenizer(lowercase=False, strip_accents=True))[6] == "HaLLo"
    assert words(BasicTokenizer(handle_chinese_chars=False))[-1] == "ah\u535a\u63a8zz"


def test_special_tokens_never_split(tiny):
    enc = tiny.encode("hello[MASK]a [mask]", add_special_tokens=False)
    # [mask] is not special
    assert enc.tokens == ["hello", "[MASK]", "a", "[UNK]", "[UNK]", "[UNK]"]
    assert enc.offsets[1] == (5, 11) and enc.word_ids == [0, 1, 2, 3, 4, 5]


def test_truncation_padding_tensors(tiny):
    batch = tiny.encode_batch(["unaffable running", ("hello", "low lowest , a")],
                              truncation=True, max_length=6, padding=True)
    assert [e.tokens for e in batch] == [
        ["[CLS]", "un", "##aff", "##able", "runn", "[SEP]"],
        ["[CLS]", "hello", "[SEP]", "low", "lowest", "[SEP]"],
    ]
    padded = tiny.encode_batch(["a", "hello , a"], padding="max_length", max_length=7)
    assert padded[0].ids == [2, 22, 3, 0, 0, 0, 0]
    assert padded[0].attention_mask == [1, 1, 1, 0, 0, 0, 0]
    assert padded[0].special_tokens_mask == [1, 0, 1, 1, 1, 1, 1]
    assert set(tiny.to_tensors(tiny.encode_batch(["a"]))) == {"input_ids", "attention_mask",
                                                             "token_type_ids"}
    t = tiny.to_tensors(tiny.encode_batch(["a", ("hello , a", "a")]),
                        return_special_tokens_mask=True)
    assert set(t) == {"input_ids", "attention_mask", "token_type_ids", "special_tokens_mask"}
    assert all(v.dtype == torch.long and v.shape == (2, 7) for v in t.values())
    assert t["input_ids"][0].tolist() == [2, 22, 3, 0, 0, 0, 0]
    assert t["token_type_ids"][1].tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert t["special_tokens_mask"][1].tolist() == [1, 0, 0, 0, 1, 0, 1]


def test_vocab_lookups_and_decode(tiny):
    assert tiny.vocab_size == len(TINY)
    assert tiny.token_to_id("##aff") == 6 and tiny.id_to_token(6) == "##aff"
    assert tiny.token_to_id("nope") is None and tiny.id_to_token(999) is None
    roles = (tiny.pad_token_id, tiny.unk_token_id, tiny.cls_token_id, tiny.sep_token_id,
             tiny.mask_token_id)
    assert roles == (0, 1, 2, 3, 4)
    assert (tiny.bos_token_id, tiny.eos_token_id) == (2, 3)
    assert sorted(tiny.all_special_ids) == [0, 1, 2, 3, 4]
    ids = tiny.encode("unaffable , running!").ids
    assert tiny.decode(ids) == "[CLS] unaffable, running! [SEP]"
    assert tiny.decode(ids, skip_special_tokens=True) == "unaffable, running!"
    assert tiny.decode(torch.tensor(ids), skip_special_tokens=True,
                       clean_up_tokenization_spaces=False) == "unaffable , running !"


def test_save_and_reload(tiny, tmp_path):
    tok = WordPieceTokenizer(tiny.get_vocab(), lowercase=False, strip_accents=True,
                             model_max_length=64)
    tok.save(tmp_path / "t")
    back = WordPieceTokenizer.from_pretrained(tmp_path / "t")
    assert back.get_vocab() == tok.get_vocab()
    assert (back.lowercase, back.strip_accents, back.model_max_length) == (False, True, 64)
    assert back.encode("Café unaffable").ids == tok.encode("Café unaffable").ids


def test_special_tokens_from_special_tokens_map(tiny, tmp_path):
    """special_tokens_map.json is read too (older HF folders keep the tokens only there, some
    as AddedToken dicts); tokenizer_config.json wins where both name a role."""
    vocab = [t for t in TINY if t != "[UNK]"] + ["<unk>", "<pad>"]
    tok = WordPieceTokenizer({t: i for i, t in enumerate(vocab)}, special_tokens={"unk": "<unk>"})
    tok.save(tmp_path / "t")
    (tmp_path / "t" / "tokenizer_config.json").write_text('{"pad_token": "<pad>"}')
    (tmp_path / "t" / "special_tokens_map.json").write_text(
        '{"unk_token": {"content": "<unk>", "lstrip": false}, "pad_token": "[PAD]"}')
    back = WordPieceTokenizer.from_pretrained(tmp_path / "t")
    assert back.special_tokens["unk"] == "<unk>" and back.special_tokens["pad"] == "<pad>"
    assert back.encode("unaffable zzz").tokens == \
        ["[CLS]", "un", "##aff", "##able", "<unk>", "[SEP]"]


# --- the plain path, and the cache on top of it equals it ------------------------------------

def test_wordpiece_on_one_word(tiny):
    assert tiny.wordpiece("unaffable") == [("un", 0, 2), ("##aff", 2, 5), ("##able", 5, 9)]
    assert tiny.wordpiece("unwantedx") == [("[UNK]", 0, 9)]  # no piece for "x": whole word
    assert tiny.wordpiece("lowest") == [("lowest", 0, 6)]  # longest match, not "low"


TEXTS = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(
        ["[MASK]", "[SEP]", "unaffable", "Café", "ÀÉÎ", " ", "\t", "中文", "한국", "\x00",
         "\u200b", "##",
         "İ", "ﬁ", "e\u0301", "!?", "x" * 101, "don't", "😀\u200d"])),
    max_size=8,
).map("".join)

ASCII = st.lists(st.one_of(st.text(st.characters(max_codepoint=127), max_size=10), st.sampled_from(
    ["The", "dog's", "#earthquake", "http://t.co/x", "  ", "\t\n", "[MASK]", "a[SEP]", "\x0b",
     "x" * 101,
     "\u200b", "\u3000", "\x85", "\x1c", "\xa0", "café", "中a"]
)), max_size=10).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(ASCII, TEXTS))
def test_cutting_at_whitespace_first_gives_googles_words(text):
    """Google normalizes the whole text, then splits; we cut it into chunks first."""
    basic = BasicTokenizer()
    whole = [(w.text, w.start, w.end, w.origin) for w in basic.words(text)]
    assert [(w.text, w.start, w.end, w.origin) for w in basic.split(text)] == whole


@pytest.fixture(scope="module")
def bert_plain(bert):
    return WordPieceTokenizer(bert.get_vocab(), cache_size=0)


@settings(max_examples=200, deadline=None)
@given(st.one_of(ASCII, TEXTS), st.one_of(ASCII, TEXTS))
def test_cache_equals_plain_path(bert, bert_plain, a, b):
    plain = bert_plain.encode(a, b)
    assert not bert_plain._cache
    assert bert.encode(a, b) == plain  # maybe a cache miss
    assert bert.encode(a, b) == plain  # every chunk now a hit


def test_cache_equals_plain_path_on_real_text(bert, bert_plain, data):
    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()[:600]
    for line in lines + lines:  # the second pass from the cache
        assert bert.encode(line) == bert_plain.encode(line)


def test_cache_stays_bounded(tiny):
    small = WordPieceTokenizer(tiny.get_vocab(), cache_size=3)
    texts = ["unaffable running", "low lowest", "want wanted", "a ab abb", "hello, cafe!"] * 2
    for text in texts:
        assert small.encode(text) == tiny.encode(text)
        assert len(small._cache) <= 3


# --- properties on the real vocabulary -------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_pieces_join_back_into_words(bert, text):
    words = bert.basic.split(text)
    enc = bert.encode(text, add_special_tokens=False)
    for w, (word, _, _, special, _) in enumerate(words):
        pieces = [t for t, wid in zip(enc.tokens, enc.word_ids) if wid == w]
        if pieces == ["[UNK]"] and not special:
            continue
        assert "".join(p.removeprefix("##") if i else p for i, p in enumerate(pieces)) == word


@settings(max_examples=150, deadline=None)
@given(TEXTS, TEXTS)
def test_deterministic_and_cache_independent(bert, a, b):
    fresh = WordPieceTokenizer(bert.get_vocab())
    assert bert.encode(a, b) == fresh.encode(a, b) == bert.encode(a, b)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.one_of(st.none(), TEXTS), st.integers(3, 20),
       st.sampled_from([True, "longest_first", "only_first", "only_second"]))
def test_truncation_bounds(bert, a, b, max_length, strategy):
    try:
        enc = bert.encode(a, b, truncation=strategy, max_length=max_length)
    except ValueError as e:  # only_* may be unable to fit; that must be said, not hidden
        assert strategy.startswith("only") and ("too short" in str(e) or "pair" in str(e))
        return
    assert len(enc) <= max_length
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert enc.special_tokens_mask.count(1) == (2 if b is None else 3)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(TEXTS, st.tuples(TEXTS, TEXTS)), min_size=1, max_size=6),
       st.sampled_from(["longest", "max_length"]))
def test_masks_after_padding(bert, batch, padding):
    encs = bert.encode_batch(batch, padding=padding, truncation=True, max_length=24)
    assert len({len(e) for e in encs}) == 1
    for e in encs:
        # [PAD] written in the text is a real token with a word id; padding has none.
        padding_at = [t == "[PAD]" and wid is None for t, wid in zip(e.tokens, e.word_ids)]
        assert e.attention_mask == [int(not p) for p in padding_at]
        assert e.special_tokens_mask == [int(wid is None) for wid in e.word_ids]
    t = bert.to_tensors(encs)
    assert t["attention_mask"].sum().item() == sum(sum(e.attention_mask) for e in encs)


@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_offsets_slice_the_original_text(bert, text):
    enc = bert.encode(text, add_special_tokens=False)
    norm = bert.basic
    for token, (s, e), wid in zip(enc.tokens, enc.offsets, enc.word_ids):
        assert 0 <= s < e <= len(text) and wid is not None
        if token in bert.all_special_tokens and token != "[UNK]":
            assert text[s:e] == token
        elif token != "[UNK]":
            # A piece covers whole original characters; one character may give several pieces
            # (Hangul syllables decompose into jamo under NFD), so the piece lies within them.
            assert token.removeprefix("##") in norm.normalize(text[s:e])[0].replace(" ", "")


# --- bad input -------------------------------------------------------------------------------

def write(tmp_path, lines, name="vocab.txt"):
    path = tmp_path / name
    path.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    return path


def test_missing_specials_named(tmp_path):
    path = write(tmp_path, ["[PAD]", "[UNK]", "hello"])
    missing = r"missing special tokens \['\[SEP\]', '\[CLS\]', '\[MASK\]'\]"
    with pytest.raises(VocabError, match=missing) as e:
        WordPieceTokenizer.from_file(path)
    assert str(path) in str(e.value)


def test_duplicate_lines_named(tmp_path):
    path = write(tmp_path, SPECIALS + ["a", "b", "a", "b", "c"])
    with pytest.raises(VocabError, match=r"'a' on lines 6 and 8; 'b' on lines 7 and 9"):
        WordPieceTokenizer.from_file(path)


def test_unreadable_vocab(tmp_path):
    with pytest.raises(VocabError, match="cannot read"):
        WordPieceTokenizer.from_file(tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(VocabError, match=r"bad\.txt: not UTF-8"):
        WordPieceTokenizer.from_file(bad)
    with pytest.raises(VocabError, match="line 2: empty line"):
        WordPieceTokenizer.from_file(write(tmp_path, ["[PAD]", "", "x"], "e.txt"))
    with pytest.raises(FileNotFoundError, match="no vocab.txt"):
        WordPieceTokenizer.from_pretrained(tmp_path)


def test_bad_arguments(tiny):
    with pytest.raises(TypeError, match="expects str"):
        tiny.encode(["a list"])
    with pytest.raises(ValueError, match="truncation='sideways'"):
        tiny.encode("a", truncation="sideways")
    with pytest.raises(ValueError, match="needs a text pair"):
        tiny.encode("a a a", truncation="only_second", max_length=3)
    with pytest.raises(ValueError, match="smaller than the 3 special tokens"):
        tiny.encode("a", "a", truncation=True, max_length=2)
    with pytest.raises(ValueError, match="need max_length"):
        tiny.encode("a", truncation=True)
    with pytest.raises(ValueError, match="id 999 is not in the vocabulary"):
        tiny.decode([2, 999])
    with pytest.raises(TypeError, match="not one str"):
        tiny.encode_batch("abc")
