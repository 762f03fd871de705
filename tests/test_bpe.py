"""Byte-level BPE encoder: known answers, cache vs plain path, properties, bad files."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer.bpe import bpe_word
from tokenizer.bpe_files import (
    BPEFileError,
    load_merges_txt,
    load_tokenizer_json,
    load_vocab_json,
    parse_merges,
)
from tokenizer.byte_level_bpe import ByteLevelBPETokenizer
from tokenizer.bytelevel import (
    alphabet,
    bytes_to_unicode,
    from_byte_chars,
    pre_tokenize,
    to_byte_chars,
    unicode_to_bytes,
)

# --- the byte table and the pre-tokenizer ----------------------------------------------------


def test_byte_table_known_values():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[ord("a")] == "a" and table[ord("!")] == "!" and table[0xE9] == "é"
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[0] == "Ā"
    assert table[0xA0] == "ł" and table[0xAD] == "Ń"  # NBSP and soft hyphen are moved too
    assert unicode_to_bytes()["Ġ"] == 32
    assert alphabet() == sorted(table.values())


def test_to_and_from_byte_chars():
    assert to_byte_chars(" é") == "ĠÃ©"
    assert from_byte_chars("ĠÃ©") == " é"
    assert from_byte_chars("Ã") == "\ufffd"  # half a character
    with pytest.raises(UnicodeDecodeError):
        from_byte_chars("Ã", errors="strict")
    assert from_byte_chars("日 x") == "日 x"  # outside the byte table: itself, as HF's decoder


def test_pre_tokenize_known_answers():
    assert pre_tokenize("Hello world's  end\n") == ["Hello", " world", "'s", " ", " end", "\n"]
    # contractions are lower-case only
    assert pre_tokenize("I'M DON'T") == ["I", "'", "M", " DON", "'", "T"]
    assert pre_tokenize("abc123 4.5!!") == ["abc", "123", " 4", ".", "5", "!!"]
    assert pre_tokenize("a   \n\n b") == ["a", "   \n\n", " b"]  # the last space goes with "b"
    assert pre_tokenize("a   b") == ["a", "  ", " b"]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_pre_tokenize_covers_the_text(text):
    assert "".join(pre_tokenize(text)) == text


# --- BPE on one word, on a hand-made vocabulary ----------------------------------------------


def test_bpe_word_applies_lowest_rank_first():
    ranks = {("l", "o"): 0, ("lo", "w"): 1, ("e", "r"): 2, ("low", "er"): 3, ("w", "e"): 4}
    assert bpe_word("lower", ranks) == ["lower"]
    assert bpe_word("lowe", ranks) == ["low", "e"]  # (lo,w) beats (w,e)
    assert bpe_word("wer", ranks) == ["w", "er"]  # (e,r) rank 2 beats (w,e) rank 4
    assert bpe_word("aaaa", {("a", "a"): 0}) == ["aa", "aa"]
    assert bpe_word("aaa", {("a", "a"): 0}) == ["aa", "a"]  # left to right, no overlap
    assert bpe_word("x", ranks) == ["x"]


@pytest.fixture
def tiny_files(tmp_path):
    """The 256 bytes, three merges, and the RoBERTa specials."""
    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>"] + alphabet())}
    merges = [("Ġ", "l"), ("Ġl", "o"), ("Ġlo", "w")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    body = "".join(f"{a} {b}\n" for a, b in merges)
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + body)
    return tmp_path


def test_tiny_tokenizer_known_answer(tiny_files):
    tok = ByteLevelBPETokenizer.from_pretrained(tiny_files)
    assert tok.post_processor == "roberta" and tok.mask_token_id == 4
    enc = tok.encode("a low <mask>!")
    assert enc.tokens == ["<s>", "a", "Ġlow", "<mask>", "!", "</s>"]
    assert enc.ids == [0, tok.token_to_id("a"), 5 + 256 + 2, 4, tok.token_to_id("!"), 2]
    assert enc.offsets == [(0, 0), (0, 1), (2, 5), (6, 12), (12, 13), (0, 0)]
    assert enc.word_ids == [None, 0, 1, 2, 3, None]
    assert enc.special_tokens_mask == [1, 0, 0, 0, 0, 1]
    assert tok.decode(enc.ids) == "<s>a low<mask>!</s>"  # lstrip took the space into <mask>
    assert tok.decode(enc.ids, skip_special_tokens=True) == "a low!"
    pair = tok.encode("a", "b")
    assert pair.tokens == ["<s>", "a", "</s>", "</s>", "b", "</s>"] and pair.type_ids == [0] * 6
    gpt2_style = ByteLevelBPETokenizer.from_files(tiny_files / "vocab.json",
                                                  tiny_files / "merges.txt",
                                                  post_processor=None)
    assert gpt2_style.encode("a", "b").type_ids == [0, 1]


def test_add_prefix_space(tiny_files):
    tok = ByteLevelBPETokenizer.from_pretrained(tiny_files, add_prefix_space=True)
    enc = tok.encode("low", add_special_tokens=False)
    assert enc.tokens == ["Ġlow"] and enc.offsets == [(0, 3)]
    assert tok.encode(" low", add_special_tokens=False).tokens == ["Ġlow"]  # no second space


def test_save_round_trip(tiny_files, tmp_path):
    tok = ByteLevelBPETokenizer.from_pretrained(tiny_files, add_prefix_space=True,
                                                model_max_length=64)
    out = tok.save(tmp_path / "out")
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "RobertaTokenizer" and config["mask_token"] == "<mask>"
    assert (out / "merges.txt").read_text().splitlines()[:2] == ["#version: 0.2", "Ġ l"]
    again = ByteLevelBPETokenizer.from_pretrained(out)
    assert again.get_vocab() == tok.get_vocab() and again.merges == tok.merges
    assert again.add_prefix_space and again.model_max_length == 64


def test_special_tokens_from_special_tokens_map(tiny_files):
    """GPT-2-style keys (bos/eos) in special_tokens_map.json name the cls/sep roles."""
    (tiny_files / "special_tokens_map.json").write_text(
        '{"bos_token": "<s>", "eos_token": {"content": "</s>"}, "unk_token": "<unk>"}')
    tok = ByteLevelBPETokenizer.from_pretrained(tiny_files)
    assert tok.special_tokens == {"cls": "<s>", "sep": "</s>", "unk": "<unk>"}
    assert tok.encode("low").tokens == ["<s>", "l", "o", "w", "</s>"]


def test_decode_rejects_unknown_id(tiny_files):
    tok = ByteLevelBPETokenizer.from_pretrained(tiny_files)
    with pytest.raises(ValueError, match="id 99999 is not in the vocabulary"):
        tok.decode([5, 99999])


# --- properties on the real GPT-2 vocabulary ---------------------------------------------------


@pytest.fixture(scope="module")
def gpt2(data):
    return ByteLevelBPETokenizer.from_files(data / "gpt2_bpe" / "encoder.json",
                                            data / "gpt2_bpe" / "vocab.bpe")


@pytest.fixture(scope="module")
def gpt2_prefixed(gpt2):
    return ByteLevelBPETokenizer(gpt2.get_vocab(), gpt2.merges, add_prefix_space=True)


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(codec="utf-8"), max_size=60))
def test_decode_encode_is_lossless_and_short(gpt2, text):
    enc = gpt2.encode(text)
    assert gpt2.decode(enc.ids) == text
    assert len(enc.ids) <= len(text.encode("utf-8"))
    assert all(0 <= s <= e <= len(text) for s, e in enc.offsets)


def test_encode_word_known_answer(gpt2):
    word = gpt2.encode_word(" Königsberg")
    # as transformers.GPT2TokenizerFast gives them
    assert word.tokens == ("ĠK", "Ã¶n", "igs", "berg")
    assert word.ids == tuple(gpt2.token_to_id(t) for t in word.tokens)
    assert word.spans == ((0, 2), (2, 4), (4, 7), (7, 11))  # "ö" (two bytes) is one character
    assert word.first_with_space is None  # GPT-2 does not trim offsets


WORDS = st.lists(st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=8),
    st.sampled_from(["the", " the", "  ", "\n", "'s", "<|endoftext|>", "Königsberg", "é\u0301",
                     "😀", "中文", " 123", "!!"])), max_size=10).map("".join)


@pytest.fixture(scope="module", params=[False, True], ids=["gpt2", "add_prefix_space"])
def cached_and_plain(gpt2, request):
    def make(cache_size):
        return ByteLevelBPETokenizer(gpt2.get_vocab(), gpt2.merges,
                                     add_prefix_space=request.param, cache_size=cache_size)
    return make(10_000), make(0)


@settings(max_examples=150, deadline=None)
@given(a=WORDS, b=st.one_of(st.none(), WORDS))
def test_cache_equals_plain_path(cached_and_plain, a, b):
    cached, plain = cached_and_plain
    expected = plain.encode(a, b)
    assert not plain._cache and not plain._cache_prefixed
    assert cached.encode(a, b) == expected  # maybe a cache miss
    assert cached.encode(a, b) == expected  # every word now a hit


def test_cache_equals_plain_path_on_real_text(cached_and_plain, data):
    cached, plain = cached_and_plain
    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()[:600]
    for line in lines + lines:  # the second pass from the cache
        assert cached.encode(line) == plain.encode(line)


# --- bad files ---------------------------------------------------------------------------------


def test_merges_without_header_names_line_1(tmp_path):
    path = tmp_path / "merges.txt"
    path.write_text("Ġ t\nh e\n")
    with pytest.raises(BPEFileError, match=r"merges.txt:1: expected the header"):
        load_merges_txt(path)


def test_malformed_merge_line_is_named(tmp_path):
    path = tmp_path / "merges.txt"
    path.write_text("#version: 0.2\nĠ t\nh  e\ni n\n")
    with pytest.raises(BPEFileError, match=r"merges.txt:3: expected two tokens"):
        load_merges_txt(path)
    with pytest.raises(BPEFileError, match=r"x:2: expected two tokens"):
        parse_merges(["#version: 0.2", "abc", ""], source="x")
    # trailing blank lines are fine
    assert parse_merges(["#version: 0.2", "a b", "", ""]) == [("a", "b")]


def test_merge_with_parts_not_in_vocab_is_reported(tiny_files):
    vocab = load_vocab_json(tiny_files / "vocab.json")
    (tiny_files / "merges.txt").write_text("#version: 0.2\nĠ l\nĠl zz\n")
    with pytest.raises(BPEFileError,
                       match=r"merges.txt:3: merge 'Ġl' 'zz': part 'zz' is not in the vocabulary"):
        ByteLevelBPETokenizer.from_files(tiny_files / "vocab.json", tiny_files / "merges.txt")
    with pytest.raises(BPEFileError, match="result 'ab' is not in the vocabulary"):
        ByteLevelBPETokenizer(vocab, [("a", "b")])


def test_bad_vocab_json(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text('{"a": 0, "b": 0}')
    with pytest.raises(BPEFileError, match="both have id 0"):
        load_vocab_json(path)
    path.write_text('{"a": "zero"}')
    with pytest.raises(BPEFileError, match="expected a non-negative int"):
        load_vocab_json(path)
    path.write_text('["a"]')
    with pytest.raises(BPEFileError, match="expected a JSON object"):
        load_vocab_json(path)
    path.write_text('{"a": 0,')
    with pytest.raises(BPEFileError, match="not valid JSON at line 1"):
        load_vocab_json(path)


def test_bad_settings(tiny_files):
    with pytest.raises(ValueError, match="post_processor='gpt'"):
        ByteLevelBPETokenizer.from_pretrained(tiny_files, post_processor="gpt")
    with pytest.raises(FileNotFoundError, match="no vocab.json"):
        ByteLevelBPETokenizer.from_pretrained(tiny_files / "nowhere")


def test_tokenizer_json_that_is_not_byte_level_bpe_is_refused(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"model": {"type": "WordPiece", "vocab": {}}}))
    with pytest.raises(BPEFileError, match="model type 'WordPiece'; expected 'BPE'"):
        load_tokenizer_json(path)
    path.write_text(json.dumps({"model": {"type": "BPE", "vocab": {}, "merges": []},
                                "pre_tokenizer": {"type": "Metaspace"}, "normalizer": None}))
    with pytest.raises(BPEFileError, match="pre_tokenizer 'Metaspace'"):
        ByteLevelBPETokenizer.from_pretrained(tmp_path)
