"""Byte-level BPE vs Hugging Face on real text: the GPT-2 vocabulary and RoBERTa post-processing.

Oracles: `transformers.GPT2TokenizerFast` built from data/gpt2_bpe (OpenAI's encoder.json and
vocab.bpe, byte-identical to HF gpt2's vocab.json / merges.txt), and
`transformers.RobertaTokenizerFast` built from a RoBERTa-style vocab.json written here (the
GPT-2 tokens behind `<s> <pad> </s> <unk>`, `<mask>` last, as roberta-base; the same merges)
with `<mask>` as `AddedToken(lstrip=True)`, as roberta-base's tokenizer.json has it.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from tokenizer.byte_level_bpe import ByteLevelBPETokenizer

pytestmark = pytest.mark.parity

HARD_CASES = [
    "",
    " ",
    "Hello world",
    " Hello world",
    "I'M HERE, YOU'RE THERE, WE'VE GONE, HE'D, SHE'LL, IT'S, DON'T",
    "it's they're we've I'm you'll he'd don't 'quoted' ''double''",
    "👨‍👩‍👧‍👦 family, 👍🏽 thumbs, 🏳️‍🌈 flag, ❤️ heart",
    "e\u0301 a\u0300\u0301\u0302 Z\u0351\u0352\u0353algo ñ vs n\u0303",
    "中文字符测试，日本語のテキスト。한국어 텍스트",
    "control \x00\x01\x07\x08\x1b[31m red \x7f\x9f \u200b\u200d\ufeff",
    "tabs\tand\x0bvertical\x0cform\rfeed\r\n",
    "many     spaces    between\n\n\n\nand   \n  \n newlines   ",
    "   leading and trailing   ",
    "\n\n\n",
    "numbers 12345 3.14159 1,000,000 ١٢٣ ½ ²",
    "mixed123abc ABC123 a1b2c3 __init__ foo_bar",
    "URLs https://example.com/path?q=1&x=%20 and e-mail a.b@c.de",
    "émigré café naïve Ångström Œuvre straße",
    "Ελληνικά Русский текст עברית العربية हिन्दी ไทย",
    "symbols !!! ??? ... --- *** ### $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}} ~~~",
    "\u00a0non-breaking\u00a0spaces\u2003em\u3000ideographic",
    "zero\u200bwidth\u2060joiner\u2028line\u2029para\x85next",
    "<|endoftext|>special<|endoftext|> in text",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 and 𐍈 gothic, surrogate-free \U0010fffd",
]


@pytest.fixture(scope="module")
def gpt2_files(data):
    return data / "gpt2_bpe" / "encoder.json", data / "gpt2_bpe" / "vocab.bpe"


@pytest.fixture(scope="module")
def ours_gpt2(gpt2_files):
    return ByteLevelBPETokenizer.from_files(*gpt2_files)


@pytest.fixture(scope="module")
def hf_gpt2(transformers, gpt2_files):
    return transformers.GPT2TokenizerFast(str(gpt2_files[0]), str(gpt2_files[1]))


def _cola(data):
    out = []
    for name in ("in_domain_train.tsv", "in_domain_dev.tsv", "out_of_domain_dev.tsv"):
        with open(data / "cola" / name, encoding="utf-8", newline="") as f:
            out += [row[3] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return out


def _tweets(data):
    out = []
    for name in ("train.csv", "test.csv"):
        with open(data / "disaster_tweets" / name, encoding="utf-8", newline="") as f:
            out += [row["text"] for row in csv.DictReader(f)]
    return out


def _kant_paragraphs(data):
    # read_text with plain "utf-8" keeps the BOM: a hard case too
    text = (data / "kant" / "kant.txt").read_text(encoding="utf-8")
    return [p for p in text.split("\n\n") if p]


def _assert_same_ids(ours, hf, texts, what):
    expected = hf(texts, add_special_tokens=False)["input_ids"]
    bad = [(t, e) for t, e in zip(texts, expected)
           if ours.encode(t, add_special_tokens=False).ids != e]
    assert not bad, f"{what}: {len(bad)} of {len(texts)} differ, first: {bad[0][0]!r}"


def test_gpt2_cola(ours_gpt2, hf_gpt2, data):
    texts = _cola(data)
    assert len(texts) == 8551 + 527 + 516
    _assert_same_ids(ours_gpt2, hf_gpt2, texts, "CoLA")


def test_gpt2_tweets(ours_gpt2, hf_gpt2, data):
    texts = _tweets(data)
    assert len(texts) == 7613 + 3263
    _assert_same_ids(ours_gpt2, hf_gpt2, texts, "tweets")


def test_gpt2_kant_paragraphs(ours_gpt2, hf_gpt2, data):
    texts = _kant_paragraphs(data)
    assert len(texts) > 1000 and texts[0].startswith("\ufeff")
    _assert_same_ids(ours_gpt2, hf_gpt2, texts, "kant.txt paragraphs")


@pytest.mark.slow
def test_gpt2_whole_kant_as_one_text(ours_gpt2, hf_gpt2, data):
    text = (data / "kant" / "kant.txt").read_text(encoding="utf-8")
    ref = hf_gpt2(text, return_offsets_mapping=True)
    enc = ours_gpt2.encode(text)
    assert enc.ids == ref["input_ids"]
    assert enc.offsets == [tuple(o) for o in ref["offset_mapping"]]


def test_gpt2_hard_cases_ids_offsets_decode(ours_gpt2, hf_gpt2):
    for text in HARD_CASES:
        ref = hf_gpt2(text, return_offsets_mapping=True)
        enc = ours_gpt2.encode(text)
        assert enc.ids == ref["input_ids"], repr(text)
        assert enc.tokens == hf_gpt2.convert_ids_to_tokens(ref["input_ids"]), repr(text)
        assert enc.offsets == [tuple(o) for o in ref["offset_mapping"]], repr(text)
        assert ours_gpt2.decode(enc.ids) == hf_gpt2.decode(ref["input_ids"]) == text, repr(text)


def test_gpt2_pair_type_ids(ours_gpt2, hf_gpt2):
    ref = hf_gpt2("How are you?", "Fine, thanks.", return_token_type_ids=True)
    enc = ours_gpt2.encode("How are you?", "Fine, thanks.")
    assert enc.ids == ref["input_ids"]
    assert enc.type_ids == ref["token_type_ids"]


# --- RoBERTa -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def roberta_dir(tmp_path_factory, gpt2_files):
    """A roberta-base-like vocab.json: <s> <pad> </s> <unk>, the GPT-2 tokens, <mask> last."""
    d = tmp_path_factory.mktemp("roberta")
    gpt2 = json.loads(gpt2_files[0].read_text(encoding="utf-8"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for token, _ in sorted(gpt2.items(), key=lambda kv: kv[1]):
        if token != "<|endoftext|>":
            vocab[token] = len(vocab)
    vocab["<mask>"] = len(vocab)
    (d / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    shutil.copy(gpt2_files[1], d / "merges.txt")
    return d


def _hf_roberta(transformers, hf_tokenizers, directory, add_prefix_space=False):
    mask = hf_tokenizers.AddedToken("<mask>", lstrip=True, rstrip=False)
    return transformers.RobertaTokenizerFast(str(directory / "vocab.json"),
                                             str(directory / "merges.txt"),
                                             add_prefix_space=add_prefix_space, mask_token=mask)


ROBERTA_CASES = [
    ("The capital of France is <mask>.", None),
    ("Hello  \t<mask>x<s>y</s>", None),
    ("<mask> starts, and ends <mask>", None),
    ("a\n<mask> b <mask><mask>", None),
    (" Hello   world ", None),
    ("I think, therefore I am.", "Kant read <mask> too."),
    ("émigré 👨‍👩‍👧 中文", "  spaces  "),
    ("", "only the second"),
]


@pytest.mark.parametrize("add_prefix_space", [False, True])
def test_roberta_post_processing(transformers, hf_tokenizers, roberta_dir, add_prefix_space):
    hf = _hf_roberta(transformers, hf_tokenizers, roberta_dir, add_prefix_space)
    ours = ByteLevelBPETokenizer.from_files(roberta_dir / "vocab.json", roberta_dir / "merges.txt",
                                            add_prefix_space=add_prefix_space,
                                            post_processor="roberta")
    assert ours.mask_token_id == hf.mask_token_id and ours.pad_token_id == hf.pad_token_id == 1
    for text, pair in ROBERTA_CASES:
        ref = hf(text, pair, return_offsets_mapping=True, return_special_tokens_mask=True)
        enc = ours.encode(text, pair)
        assert enc.ids == ref["input_ids"], (text, pair)
        assert enc.type_ids == [0] * len(enc.ids)
        assert enc.attention_mask == ref["attention_mask"]
        assert enc.special_tokens_mask == ref["special_tokens_mask"], (text, pair)
        assert enc.offsets == [tuple(o) for o in ref["offset_mapping"]], (text, pair)
        assert enc.word_ids == ref.word_ids(), (text, pair)
        assert ours.decode(enc.ids, skip_special_tokens=True) == \
            hf.decode(ref["input_ids"], skip_special_tokens=True)
        assert ours.decode(enc.ids) == hf.decode(ref["input_ids"])  # "<s>... is<mask>.</s>"


@pytest.mark.parametrize("add_prefix_space", [False, True])
def test_roberta_offsets_and_word_ids_on_real_text(transformers, hf_tokenizers, roberta_dir, data,
                                                  add_prefix_space):
    hf = _hf_roberta(transformers, hf_tokenizers, roberta_dir, add_prefix_space)
    ours = ByteLevelBPETokenizer.from_pretrained(roberta_dir, add_prefix_space=add_prefix_space)
    texts = _tweets(data)[::20] + _cola(data)[::40]  # tweets: mojibake, emoji, URLs, newlines
    ref = hf(texts, return_offsets_mapping=True)
    for i, text in enumerate(texts):
        enc = ours.encode(text)
        assert enc.ids == ref["input_ids"][i], repr(text)
        assert enc.offsets == [tuple(o) for o in ref["offset_mapping"][i]], repr(text)
        assert enc.word_ids == ref.word_ids(i), repr(text)


def test_roberta_truncation_and_padding(transformers, hf_tokenizers, roberta_dir, data):
    hf = _hf_roberta(transformers, hf_tokenizers, roberta_dir)
    ours = ByteLevelBPETokenizer.from_pretrained(roberta_dir)
    texts = _cola(data)[:40]
    pairs = list(zip(texts[:20], texts[20:]))
    for kwargs in ({"truncation": True, "max_length": 13, "padding": "max_length"},
                   {"truncation": "only_second", "max_length": 24, "padding": "longest"},
                   {"padding": True}):
        ref = hf([p[0] for p in pairs], [p[1] for p in pairs], **kwargs)
        got = ours.encode_batch(pairs, **kwargs)
        assert [e.ids for e in got] == ref["input_ids"], kwargs
        assert [e.attention_mask for e in got] == ref["attention_mask"], kwargs
    tensors = ours.to_tensors(ours.encode_batch(texts[:13]))
    ref = hf(texts[:13], padding=True, return_tensors="pt")
    assert tensors["input_ids"].tolist() == ref["input_ids"].tolist()


def test_saved_files_load_in_hf(transformers, hf_tokenizers, roberta_dir, tmp_path, data):
    ours = ByteLevelBPETokenizer.from_pretrained(roberta_dir)
    out = ours.save(tmp_path / "saved")
    texts = _cola(data)[:300] + HARD_CASES
    hf_bl = hf_tokenizers.ByteLevelBPETokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    for text in texts:
        assert hf_bl.encode(text).ids == ours.encode(text, add_special_tokens=False).ids, repr(text)
    hf_rob = transformers.RobertaTokenizerFast.from_pretrained(str(out))
    ref = hf_rob(texts)["input_ids"]
    assert [e.ids for e in ours.encode_batch(texts)] == ref
    # In transformers 5 RobertaTokenizer is the same tokenizers-backed class; both names load.
    plain = transformers.RobertaTokenizer.from_pretrained(str(out))
    assert [plain(t)["input_ids"] for t in texts[:50]] == ref[:50]
    again = ByteLevelBPETokenizer.from_pretrained(out)
    assert again.get_vocab() == ours.get_vocab() and again.merges == ours.merges


def test_pre_tokenizer_agrees_on_every_assigned_code_point(hf_tokenizers):
    """Each character assigned in Python's Unicode database, after a letter, before a digit and
    after a space, splits as in HF's ByteLevel pre-tokenizer. (Code points first assigned in Unicode
    17.0 are letters to `regex` but not yet to the Rust library's tables: a known difference.)"""
    import unicodedata

    from tokenizer.bytelevel import pre_tokenize, to_byte_chars

    hf = hf_tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    assigned = [c for c in range(0x110000)
                if not 0xD800 <= c < 0xE000 and unicodedata.category(chr(c)) != "Cn"]
    assert len(assigned) > 100_000
    for k in range(0, len(assigned), 4000):
        text = "".join(f"a{chr(c)}1 {chr(c)}" for c in assigned[k:k + 4000])
        ours = [to_byte_chars(w) for w in pre_tokenize(text)]
        assert ours == [w for w, _ in hf.pre_tokenize_str(text)], \
            f"code points from {assigned[k]:#x}"


@pytest.mark.parametrize("which", ["roberta", "gpt2"])
def test_loads_hf_tokenizer_json(transformers, hf_tokenizers, roberta_dir, hf_gpt2, tmp_path, data,
                                 which):
    """transformers 5 `save_pretrained` writes only tokenizer.json; we read it too."""
    hf = _hf_roberta(transformers, hf_tokenizers, roberta_dir) if which == "roberta" else hf_gpt2
    hf.save_pretrained(str(tmp_path))
    assert not (tmp_path / "vocab.json").exists() and (tmp_path / "tokenizer.json").exists()
    ours = ByteLevelBPETokenizer.from_pretrained(tmp_path)
    assert ours.post_processor == ("roberta" if which == "roberta" else None)
    texts = _cola(data)[:200] + HARD_CASES + [text for text, _ in ROBERTA_CASES]
    assert [e.ids for e in ours.encode_batch(texts)] == hf(texts)["input_ids"]


# --- byte symbols missing from the vocabulary; untrimmed offsets of an lstrip token -----------


@pytest.fixture(scope="module")
def without_x(tmp_path_factory):
    """A RoBERTa-style vocabulary of the byte alphabet without "x", and two merges."""
    from tokenizer.bytelevel import alphabet

    d = tmp_path_factory.mktemp("without_x")
    tokens = ["<s>", "<pad>", "</s>", "<unk>"] + [c for c in alphabet() if c != "x"]
    vocab = {t: i for i, t in enumerate(tokens + ["Ġl", "Ġlo", "<mask>"])}
    (d / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (d / "merges.txt").write_text("#version: 0.2\nĠ l\nĠl o\n", encoding="utf-8")
    return d


def _raw_hf(hf_tokenizers, directory, unk_token=None, roberta=False):
    """A bare `tokenizers` byte-level BPE over the folder's files: RoBERTa's specials matched
    in text, <mask> with lstrip, RobertaProcessing (trimmed offsets) only when asked."""
    model = hf_tokenizers.models.BPE.from_file(str(directory / "vocab.json"),
                                               str(directory / "merges.txt"), unk_token=unk_token)
    hf = hf_tokenizers.Tokenizer(model)
    hf.pre_tokenizer = hf_tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.add_special_tokens([hf_tokenizers.AddedToken(t, special=True) for t in
                           ("<s>", "<pad>", "</s>", "<unk>")])
    hf.add_special_tokens([hf_tokenizers.AddedToken("<mask>", lstrip=True, special=True)])
    if roberta:
        hf.post_processor = hf_tokenizers.processors.RobertaProcessing(
            ("</s>", hf.token_to_id("</s>")), ("<s>", hf.token_to_id("<s>")),
            add_prefix_space=False)
    return hf


@pytest.mark.parametrize("roberta", [True, False])
def test_missing_byte_symbol_becomes_unk(hf_tokenizers, without_x, roberta):
    """As a `tokenizers` BPE whose unk_token is set: one <unk> per missing byte. (transformers
    5's RobertaTokenizer builds its BPE without unk_token, and drops such bytes silently.)"""
    hf = _raw_hf(hf_tokenizers, without_x, unk_token="<unk>", roberta=roberta)
    ours = ByteLevelBPETokenizer.from_pretrained(
        without_x, post_processor="roberta" if roberta else None)
    for text in ("a box, xx lo <mask>.", "x", " x\u00e9x", "lox"):
        ref = hf.encode(text)
        enc = ours.encode(text)
        assert enc.ids == ref.ids, text
        assert enc.offsets == ref.offsets, text
        assert "<unk>" in enc.tokens, text


def test_missing_byte_symbol_without_unk_is_an_error(hf_tokenizers, without_x):
    ours = ByteLevelBPETokenizer.from_files(without_x / "vocab.json", without_x / "merges.txt",
                                            special_tokens={"cls": "<s>", "sep": "</s>"})
    with pytest.raises(ValueError, match=r"byte-level symbol 'x' \(byte 0x78, in ' box'\)"):
        ours.encode("a box")
    # tokenizers, without an unk token, drops the byte silently: the wrong result we refuse.
    assert _raw_hf(hf_tokenizers, without_x).encode("a box").tokens == ["a", "Ġ", "b", "o"]


def test_untrimmed_lstrip_offsets(hf_tokenizers, roberta_dir):
    """Without post-processing nothing trims offsets, so <mask>'s span keeps the whitespace it
    absorbed: (6, 13) in "Hello, <mask>", as `tokenizers` gives (trimmed: (7, 13))."""
    ours = ByteLevelBPETokenizer.from_files(roberta_dir / "vocab.json", roberta_dir / "merges.txt",
                                            post_processor=None)
    hf = _raw_hf(hf_tokenizers, roberta_dir)
    assert ours.encode("Hello, <mask>").offsets[-1] == (6, 13)
    assert hf.encode("Hello, <mask>").offsets[-1] == (6, 13)
    for text in ["Hello, <mask>."] + [text for text, _ in ROBERTA_CASES]:
        ref = hf.encode(text)
        enc = ours.encode(text)
        assert enc.ids == ref.ids, text
        assert enc.offsets == ref.offsets, text
