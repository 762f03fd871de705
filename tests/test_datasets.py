"""Text to examples (train/data/datasets.py): BOM and bad UTF-8, line-by-line and packed blocks
of text files (shards in memory), documents for NSP; parity of line-by-line examples with
transformers' BertTokenizer on kant.txt."""

from __future__ import annotations

import itertools

import pytest
import torch
from fake_tokenizer import CLS, SEP, FakeTokenizer

from train.data.collator import MLMCollator
from train.data.datasets import (
    LineByLineTextDataset,
    PackedBlocks,
    read_documents,
    read_text,
    split_documents,
    text_shards,
)

LINES = ["\ufeffThe Critique of Pure Reason", "", "   ", "by Immanuel Kant",
         " ".join(f"word{i}" for i in range(100)), "short"]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("\n".join(LINES[1:]), encoding="utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + LINES[0][1:].encode() + b"\n" + path.read_bytes())
    return path


def test_bom_is_dropped(text_file):
    assert text_file.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_text(text_file).startswith("The Critique")


def test_kant_bom_is_dropped(data):
    assert (data / "kant" / "kant.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not read_text(data / "kant" / "kant.txt").startswith("\ufeff")


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(
        "first line\nsecond line\nKritik der reinen Vernunft \u00e4\n".encode("latin-1")
    )
    with pytest.raises(ValueError, match=r"latin1\.txt: line 3 \(byte 50\) is not valid UTF-8"):
        read_text(path)
    with pytest.raises(ValueError, match="latin1.txt"):
        LineByLineTextDataset(FakeTokenizer(), path)


def test_line_by_line_respects_block_size(text_file):
    tok = FakeTokenizer(vocab_size=500)
    ds = LineByLineTextDataset(tok, text_file, block_size=16)
    assert len(ds) == 4  # blank and whitespace-only lines are skipped
    lengths = [len(ex["input_ids"]) for ex in ds.examples]
    assert max(lengths) == 16 and all(n <= 16 for n in lengths)
    for ex in ds.examples:
        assert ex["input_ids"][0] == CLS and ex["input_ids"][-1] == SEP
    assert ds.examples[0]["input_ids"] == tok.encode("The Critique of Pure Reason").ids
    # items as transformers' LineByLineTextDataset gives them
    assert list(ds[0]) == ["input_ids"] and ds[0]["input_ids"].dtype == torch.long
    assert ds[0]["input_ids"].tolist() == ds.examples[0]["input_ids"]


def test_packed_blocks_are_full_and_keep_every_token(text_file):
    tok = FakeTokenizer(vocab_size=500)
    ds = PackedBlocks(text_shards(tok, text_file), tok, block_size=16)
    lines = [line for line in read_text(text_file).splitlines() if line.strip()]
    stream = [i for line in lines for i in tok.encode(line, add_special_tokens=False).ids]
    assert [len(ex["input_ids"]) for ex in ds][:-1] == [16] * (len(ds) - 1)
    assert 3 <= len(ds[len(ds) - 1]["input_ids"]) <= 16
    assert [i for ex in ds for i in ex["input_ids"][1:-1]] == stream
    for ex in ds:
        assert ex["input_ids"][0] == CLS and ex["input_ids"][-1] == SEP
        assert ex["special_tokens_mask"] == [1] + [0] * (len(ex["input_ids"]) - 2) + [1]
    dropped = PackedBlocks(text_shards(tok, text_file), tok, block_size=16, drop_last=True)
    assert len(dropped) == len(stream) // 14 and all(len(ex["input_ids"]) == 16 for ex in dropped)
    assert len(ds.head(2)) == 2 and ds.head(2)[1] == ds[1] and len(ds.head(10**6)) == len(ds)


def test_packed_word_ids_follow_the_words(text_file):
    tok = FakeTokenizer()
    ds = PackedBlocks(text_shards(tok, text_file), tok, block_size=64)
    lines = [line for line in read_text(text_file).splitlines() if line.strip()]
    # pieces of a word share its number; words and lines open new numbers; 0 in each block
    starts = []
    for line in lines:
        words = tok.encode(line, add_special_tokens=False).word_ids
        starts += [1] + [int(b != a) for a, b in itertools.pairwise(words)]
    for k, ex in enumerate(ds):
        words = ex["word_ids"][1:-1]
        first = starts[k * 62:(k + 1) * 62]
        assert words == [x - 1 for x in itertools.accumulate([1] + first[1:])]
    batch = MLMCollator(FakeTokenizer(), whole_word=True)(list(ds))
    assert batch["input_ids"].shape[1] == 64


def test_bad_block_sizes_are_errors(text_file):
    with pytest.raises(ValueError, match="block_size=2"):
        LineByLineTextDataset(FakeTokenizer(), text_file, block_size=2)
    with pytest.raises(ValueError, match="block_size=2"):
        PackedBlocks(text_shards(FakeTokenizer(), text_file), FakeTokenizer(), block_size=2)


def test_documents_split_at_blank_lines(tmp_path):
    assert split_documents("a\nb\n\n  \nc\n\n\nd\ne\n") == [["a", "b"], ["c"], ["d", "e"]]
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("first doc line 1\nfirst doc line 2\n", encoding="utf-8")
    two.write_bytes(b"\xef\xbb\xbfsecond doc\n\nthird doc\n")
    assert read_documents([one, two]) == [
        ["first doc line 1", "first doc line 2"],
        ["second doc"],
        ["third doc"],
    ]


@pytest.mark.parity
def test_line_by_line_matches_hf_bert_tokenizer_on_kant(data, transformers, tmp_path):
    from tokenizer.wordpiece import WordPieceTokenizer

    vocab = data / "bert_vocab" / "bert-base-uncased-vocab.txt"
    head = (data / "kant" / "kant.txt").read_bytes()[:80_000]
    path = tmp_path / "kant_head.txt"
    path.write_bytes(head[:head.rfind(b"\n")])
    ds = LineByLineTextDataset(WordPieceTokenizer.from_file(vocab), path, block_size=128)
    hf = transformers.BertTokenizer(str(vocab), do_lower_case=True)
    # what HF's LineByLineTextDataset did: non-blank lines, specials added, truncated to block_size
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if len(line) > 0 and not line.isspace()]
    want = hf(lines, add_special_tokens=True, truncation=True, max_length=128)["input_ids"]
    assert [ds[i]["input_ids"].tolist() for i in range(len(ds))] == want
