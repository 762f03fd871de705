"""WordPiece parity with Hugging Face on real text: ids, offsets, word ids, pairs, truncation.

The oracle is `transformers.BertTokenizer`. In transformers 5 that class IS the Rust-backed
tokenizer (`BertTokenizerFast` is an alias of it; its backend is `tokenizers` with
BertNormalizer + BertPreTokenizer + WordPiece + TemplateProcessing), so these tests compare
against the same code `tokenizers.BertWordPieceTokenizer` runs. One test checks that alias.

Corpus: every sentence of CoLA (3 files), every tweet of disaster_tweets train and test, every
paragraph of kant.txt, and a hand-made list of hard cases. The HF side is run batched.
"""

from __future__ import annotations

import csv
import itertools

import pytest

from tokenizer import WordPieceTokenizer

pytestmark = pytest.mark.parity

HARD_CASES = [
    "", " ", "\t\n\r  ", "\u3000\u00a0\u2028\u2029",
    "Café naïve résumé Ångström façade", "cafe\u0301 e\u0301\u0301 \u0301abc",
    "İstanbul ΟΔΟΣ Straße ẞ ΐ ǅ", "ﬁne ligature Ⅻ ① ²³ ½", "\u00ad soft hyphen",
    "中文字符测试，你好！", "日本語のテキストとカタカナ", "한국어 텍스트 안녕하세요",
    "𠀀𪜀 extension B",
    "مرحبا بالعالم", "שלום עולם", "Привет, мир!",
    "👨\u200d👩\u200d👧\u200d👦 family 🥲 😀 \U0001F9D1\u200D\U0001F4BB 🫠 \U0001FAE8",
    "a\x00b\x01c\x7fd\ufffde\u200bf", "a\u0085b\x0bc\x0cd\x1ce\x1ff",
    "\ue000 private \U000E0041 tag \u0378 unassigned",
    "x" * 101, "y" * 100, "z" * 200 + " after", "supercalifragilisticexpialidocious" * 3,
    "Hello [MASK] world", "[MASK][MASK]x[SEP]", "[mask] [UNK] [CLS]abc", "[MASK", "a[PAD]b",
    "don't stop_me-now $5+3=8 ~tilde `q` ^ | < > @#%&*",
    "«quotes» „low“ ‘single’ — dash … ellipsis",
    "naïve\tCafé\n\nnext para", "unaffable unbelievable antidisestablishmentarianism",
]


def read_corpus(data) -> list[str]:
    texts = []
    for name in ("in_domain_train", "in_domain_dev", "out_of_domain_dev"):
        with open(data / "cola" / f"{name}.tsv", newline="", encoding="utf-8") as f:
            texts += [row[3] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    for name in ("train", "test"):
        with open(data / "disaster_tweets" / f"{name}.csv", newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    kant = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig")
    texts += [p for p in kant.split("\n\n") if p.strip()]
    return texts


@pytest.fixture(scope="module")
def vocab_txt(data):
    return data / "bert_vocab" / "bert-base-uncased-vocab.txt"


@pytest.fixture(scope="module")
def hf(transformers, vocab_txt):
    return transformers.BertTokenizer(str(vocab_txt))


@pytest.fixture(scope="module")
def ours(vocab_txt):
    return WordPieceTokenizer.from_file(vocab_txt)


@pytest.fixture(scope="module")
def corpus(data):
    texts = read_corpus(data)
    assert len(texts) > 20_000, f"corpus unexpectedly small: {len(texts)}"
    return texts


def assert_same(hf_batch, encodings, texts, check_alignment=True):
    bad = []
    for i, (text, enc) in enumerate(zip(texts, encodings)):
        if hf_batch["input_ids"][i] != enc.ids:
            bad.append((text, "ids"))
        elif (hf_batch["token_type_ids"][i] != enc.type_ids
              or hf_batch["attention_mask"][i] != enc.attention_mask):
            bad.append((text, "type ids / attention mask"))
        elif check_alignment and [tuple(o) for o in hf_batch["offset_mapping"][i]] != enc.offsets:
            bad.append((text, "offsets"))
        elif check_alignment and hf_batch.word_ids(i) != enc.word_ids:
            bad.append((text, "word ids"))
    assert not bad, f"{len(bad)} of {len(texts)} differ, first: {bad[:3]}"


def test_oracle_is_the_rust_tokenizer(transformers, hf):
    assert transformers.BertTokenizerFast is transformers.BertTokenizer
    assert type(hf.backend_tokenizer).__module__.startswith("tokenizers")


def test_every_corpus_text_single(hf, ours, corpus):
    expected = hf(corpus, return_offsets_mapping=True)
    got = ours.encode_batch(corpus)
    assert_same(expected, got, corpus)


@pytest.mark.parametrize("strip_accents", [None, False, True])
@pytest.mark.parametrize("lowercase", [True, False])
def test_hard_cases_every_setting(transformers, vocab_txt, lowercase, strip_accents):
    hf = transformers.BertTokenizer(str(vocab_txt), do_lower_case=lowercase,
                                    strip_accents=strip_accents)
    ours = WordPieceTokenizer.from_file(vocab_txt, lowercase=lowercase, strip_accents=strip_accents)
    assert_same(hf(HARD_CASES, return_offsets_mapping=True), ours.encode_batch(HARD_CASES),
                HARD_CASES)


def test_pairs(hf, ours, corpus):
    # transformers drops an empty second text (`if text_pair`), tokenizers keeps it: skip those.
    firsts, seconds = corpus[:-1:2], corpus[1::2]
    pairs = [(a, b) for a, b in zip(firsts, seconds) if b]
    expected = hf([a for a, _ in pairs], [b for _, b in pairs], return_offsets_mapping=True)
    assert_same(expected, ours.encode_batch(pairs), pairs)


@pytest.mark.parametrize("max_length", [8, 17, 64])
def test_truncation_longest_first(hf, ours, corpus, max_length):
    texts = corpus[::3]
    pairs = [(a, b) for a, b in itertools.pairwise(texts) if b][:3000]
    expected = hf(texts, truncation=True, max_length=max_length, return_offsets_mapping=True)
    assert_same(expected, ours.encode_batch(texts, truncation=True, max_length=max_length), texts)
    expected = hf([a for a, _ in pairs], [b for _, b in pairs], truncation="longest_first",
                  max_length=max_length, return_offsets_mapping=True)
    got = ours.encode_batch(pairs, truncation="longest_first", max_length=max_length)
    assert_same(expected, got, pairs)
    assert all(len(e) <= max_length for e in got)


@pytest.mark.parametrize("strategy", ["only_first", "only_second"])
def test_truncation_one_side(hf, ours, corpus, strategy):
    """Pair by pair, since HF fails the whole batch when one side is too short; so do we."""
    pairs = [(a, b) for a, b in zip(corpus[:400:2], corpus[1:400:2]) if b]
    agreed_errors = 0
    for a, b in pairs:
        try:
            expected = hf(a, b, truncation=strategy, max_length=24)["input_ids"]
        except Exception:  # noqa: BLE001 - the Rust error surfaces as a bare Exception
            with pytest.raises(ValueError, match="too short"):
                ours.encode(a, b, truncation=strategy, max_length=24)
            agreed_errors += 1
            continue
        assert ours.encode(a, b, truncation=strategy, max_length=24).ids == expected, (a, b)
    assert 0 < agreed_errors < len(pairs)


def test_padding_and_masks(hf, ours, corpus):
    texts = corpus[:50]
    expected = hf(texts, padding="max_length", truncation=True, max_length=20,
                  return_special_tokens_mask=True)
    got = ours.encode_batch(texts, padding="max_length", truncation=True, max_length=20)
    assert [e.ids for e in got] == expected["input_ids"]
    assert [e.attention_mask for e in got] == expected["attention_mask"]
    assert [e.special_tokens_mask for e in got] == expected["special_tokens_mask"]
    expected = hf(texts, padding="longest", return_special_tokens_mask=True)
    got = ours.encode_batch(texts, padding="longest")
    assert [e.ids for e in got] == expected["input_ids"]
    assert [e.special_tokens_mask for e in got] == expected["special_tokens_mask"]


def test_to_tensors(hf, ours, corpus):
    firsts, seconds = corpus[:40], corpus[40:80]
    cases = [(hf(firsts, padding=True, return_tensors="pt", return_special_tokens_mask=True),
              ours.to_tensors(ours.encode_batch(firsts), return_special_tokens_mask=True)),
             (hf(firsts, seconds, padding=True, return_tensors="pt",
                 return_special_tokens_mask=True),
              ours.to_tensors(ours.encode_batch(list(zip(firsts, seconds))),
                              return_special_tokens_mask=True))]
    for expected, got in cases:
        for key in ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask"):
            assert got[key].dtype == expected[key].dtype and got[key].equal(expected[key]), key


def test_without_special_tokens(hf, ours, corpus):
    texts = corpus[:500]
    assert [e.ids for e in ours.encode_batch(texts, add_special_tokens=False)] == \
        hf(texts, add_special_tokens=False)["input_ids"]


def test_decode(hf, ours, corpus):
    for text in corpus[:2000:7] + HARD_CASES:
        ids = hf(text)["input_ids"]
        assert ours.decode(ids) == hf.decode(ids), text
        assert ours.decode(ids, skip_special_tokens=True) == \
            hf.decode(ids, skip_special_tokens=True), text


def test_special_ids_and_vocab(hf, ours):
    assert ours.vocab_size == hf.vocab_size == 30522
    assert ours.get_vocab() == hf.get_vocab()
    for role in ("pad", "unk", "cls", "sep", "mask"):
        assert getattr(ours, f"{role}_token_id") == getattr(hf, f"{role}_token_id"), role
    assert sorted(ours.all_special_ids) == sorted(hf.all_special_ids)


@pytest.mark.parametrize("strip_accents", [None, False])
def test_saved_folder_loads_in_hf(transformers, vocab_txt, corpus, tmp_path, strip_accents):
    ours = WordPieceTokenizer.from_file(vocab_txt, strip_accents=strip_accents)
    ours.save(tmp_path / "tok")
    hf = transformers.BertTokenizer.from_pretrained(str(tmp_path / "tok"))
    texts = corpus[:300] + HARD_CASES
    assert [e.ids for e in ours.encode_batch(texts)] == hf(texts)["input_ids"]
    reloaded = WordPieceTokenizer.from_pretrained(tmp_path / "tok")
    assert reloaded.strip_accents == strip_accents
    assert [e.ids for e in reloaded.encode_batch(texts)] == hf(texts)["input_ids"]


def test_real_model_folder(transformers, minilm_dir, corpus):
    """The MiniLM checkpoint folder (HF's own tokenizer files) loads and matches HF there."""
    ours = WordPieceTokenizer.from_pretrained(minilm_dir)
    hf = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    texts = corpus[:300] + HARD_CASES
    assert [e.ids for e in ours.encode_batch(texts)] == hf(texts)["input_ids"]
