"""BPE trainers: known answers, fast == reference, determinism, HF `tokenizers` parity, bad
corpora."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer.bpe_corpus import count_words
from tokenizer.bpe_reference import train_reference
from tokenizer.bpe_trainer import BPETrainer, dedupe_merges

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _train(corpus, vocab_size, min_frequency=2, specials=()):
    trainer = BPETrainer(vocab_size, min_frequency, special_tokens=specials, show_progress=False)
    return trainer, trainer.train(corpus)


def test_known_answer_and_report():
    trainer, tok = _train(["ab ab ab cd"], vocab_size=1000)
    # pairs: (a,b) x3, (Ġ,a) x2, (Ġ,c) x1, (c,d) x1 -> merge "ab", then "Ġab", then nothing twice
    assert tok.merges == [("a", "b"), ("Ġ", "ab")]
    assert trainer.report.merges == 2 and trainer.report.vocab_size == 258
    assert "below min_frequency=2" in trainer.report.stopped and "2 merges" in str(trainer.report)
    assert tok.encode("ab ab").tokens == ["ab", "Ġab"]


def test_tie_break_is_smallest_id_pair():
    # Every pair occurs once; ids follow code points ('a' < 'b' < 'Ġ'), so (a, b) goes first.
    _, tok = _train(["ba ab"], vocab_size=257, min_frequency=1)
    assert tok.merges == [("a", "b")]


def test_special_tokens_first_and_vocab_size_respected():
    _, tok = _train(["the theory of the thing " * 20], vocab_size=5 + 256 + 3, specials=SPECIALS)
    assert [tok.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3, 4]
    assert tok.vocab_size == 5 + 256 + 3 and len(tok.merges) == 3
    assert tok.id_to_token(5) == "!"  # the byte alphabet follows, in code-point order
    assert (
        tok.bos_token_id,
        tok.pad_token_id,
        tok.eos_token_id,
        tok.unk_token_id,
        tok.mask_token_id,
    ) == (0, 1, 2, 3, 4)


def test_every_merge_part_is_in_the_vocab(data):
    _, tok = _train([data / "cola" / "in_domain_dev.tsv"], vocab_size=2000)
    vocab = tok.get_vocab()
    assert all(a in vocab and b in vocab and a + b in vocab for a, b in tok.merges)
    assert len(set(tok.merges)) == len(tok.merges)


def test_deterministic_and_independent_of_input_order(data):
    lines = (
        (data / "cola" / "in_domain_dev.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    )
    shuffled = lines[:]
    random.Random(0).shuffle(shuffled)
    _, a = _train(lines, vocab_size=1500)
    _, b = _train(lines, vocab_size=1500)
    _, c = _train(shuffled, vocab_size=1500)
    assert a.merges == b.merges == c.merges and a.get_vocab() == c.get_vocab()


words = st.text(alphabet="abcé ", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(counts=st.dictionaries(words, st.integers(1, 5), min_size=1, max_size=25),
       extra=st.integers(0, 40), min_frequency=st.integers(1, 3))
def test_fast_and_reference_trainers_agree(counts, extra, min_frequency):
    trainer = BPETrainer(
        256 + 2 + extra, min_frequency, special_tokens=["<s>", "</s>"], show_progress=False
    )
    fast_vocab, fast_merges = trainer.train_from_counts(counts)
    ref_vocab, ref_merges = train_reference(counts, 256 + 2 + extra, min_frequency, ["<s>", "</s>"])
    assert fast_merges == dedupe_merges(ref_merges)
    assert fast_vocab == ref_vocab
    assert all(x in fast_vocab and y in fast_vocab and x + y in fast_vocab for x, y in fast_merges)
    # Deterministic, whatever order the words come in.
    reordered = dict(reversed(list(counts.items())))
    assert trainer.train_from_counts(reordered) == (fast_vocab, fast_merges)


def test_dedupe_keeps_the_last_position():
    assert dedupe_merges([("a", "b"), ("c", "d"), ("a", "b")]) == [("c", "d"), ("a", "b")]


# --- corpora: files, iterators, bad input ------------------------------------------------------


def test_files_and_iterators_give_the_same_counts(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbfHello  world\r\nsecond line \n")
    from_file = count_words(path)
    assert from_file == count_words(["\ufeffHello  world\r\n", "second line \n"])
    assert count_words(str(path), strip_bom=True)["\ufeff"] == 0


def test_invalid_utf8_strict_names_file_line_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine line\nbad \xff byte\n")
    with pytest.raises(ValueError, match=r"bad.txt: invalid UTF-8 at byte offset 14 \(line 2\)"):
        _train([path], vocab_size=300)
    assert count_words(path, errors="replace")[" \ufffd"] == 1
    trainer = BPETrainer(300, 1, special_tokens=(), show_progress=False, errors="replace")
    tok = trainer.train([path])
    assert tok.merges[0] == ("i", "n")  # "fine line": the only pair seen twice
    assert tok.decode(tok.encode("bad \ufffd byte").ids) == "bad \ufffd byte"


def test_empty_corpus_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty corpus.*empty.txt"):
        _train([empty], vocab_size=300)
    with pytest.raises(ValueError, match="empty corpus"):
        _train(iter([]), vocab_size=300)
    with pytest.raises(FileNotFoundError, match="not found"):
        _train(tmp_path / "missing.txt", vocab_size=300)
    with pytest.raises(TypeError, match="item 1 of the training iterator is int"):
        _train(["ok", 3], vocab_size=300)
    with pytest.raises(ValueError, match="vocab_size"):
        BPETrainer(0)


# --- parity with Hugging Face tokenizers ------------------------------------------------------


def _hf_merges(hf_tokenizers, files, vocab_size, min_frequency, tmp_path):
    hf = hf_tokenizers.ByteLevelBPETokenizer()
    hf.train([str(f) for f in files], vocab_size=vocab_size, min_frequency=min_frequency,
             special_tokens=SPECIALS, show_progress=False)
    out = tmp_path / "hf"
    out.mkdir(exist_ok=True)
    hf.save_model(str(out))
    lines = (out / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split(" ")) for line in lines if line], hf


def _compare(hf_tokenizers, files, vocab_size, tmp_path):
    hf_merges, hf = _hf_merges(hf_tokenizers, files, vocab_size, 2, tmp_path)
    _, ours = _train(files, vocab_size, 2, SPECIALS)
    same = sum(a == b for a, b in zip(ours.merges, hf_merges))
    assert (len(ours.merges), same) == (len(hf_merges), len(hf_merges)), \
        f"{same} of {len(hf_merges)} merges identical and in order; ours has {len(ours.merges)}"
    assert ours.get_vocab() == hf.get_vocab()
    return ours, hf


@pytest.mark.parity
def test_same_merges_as_hf_on_a_slice_of_kant(hf_tokenizers, data, tmp_path):
    lines = (data / "kant" / "kant.txt").read_bytes().split(b"\n")[:3000]
    part = tmp_path / "kant_part.txt"
    part.write_bytes(b"\n".join(lines))
    ours, hf = _compare(hf_tokenizers, [part], 3000, tmp_path)
    text = (data / "cola" / "in_domain_dev.tsv").read_text(encoding="utf-8")
    assert ours.encode(text, add_special_tokens=False).ids == hf.encode(text).ids


@pytest.mark.parity
def test_trained_files_load_in_hf(hf_tokenizers, data, tmp_path):
    _, ours = _train([data / "cola" / "in_domain_dev.tsv"], 1200, 2, SPECIALS)
    out = ours.save(tmp_path / "trained")
    hf = hf_tokenizers.ByteLevelBPETokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    for line in (data / "cola" / "out_of_domain_dev.tsv").read_text(encoding="utf-8").splitlines():
        assert hf.encode(line).ids == ours.encode(line, add_special_tokens=False).ids


@pytest.mark.slow
@pytest.mark.parity
@pytest.mark.parametrize("vocab_size", [52_000, 8_000])
@pytest.mark.parametrize("corpus", ["kant", "kant+philosophy"])
def test_same_merges_as_hf_full(hf_tokenizers, data, tmp_path, vocab_size, corpus):
    files = [data / "kant" / "kant.txt"]
    if corpus == "kant+philosophy":
        files += sorted((data / "philosophy").glob("*.txt"))
    _compare(hf_tokenizers, files, vocab_size, tmp_path)
