"""Tokenized shards (train/data/shards.py, prepare.py): they round-trip to the tokenizer's own
output with the right line / document / word boundaries, pick uint16 or uint32, resume an
interrupted prepare, do nothing when re-run, and refuse a corrupt shard or another tokenizer.
Shards made in memory from the same text files (`text_shards`, what `pretrain --train` reads)
give the same examples as shards on disk, for every dataset."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from tokenizer import load_tokenizer
from train.data.collator import MLMCollator, pad_batch
from train.data.datasets import (
    LineBlocks,
    LineByLineTextDataset,
    PackedBlocks,
    read_documents,
    read_text,
    text_shards,
)
from train.data.nsp import NSPPairs
from train.data.prepare import prepare
from train.data.shards import FileArray, ShardError, Shards, id_dtype, word_ids
from train.outdir import OutputDirError


@pytest.fixture(scope="module")
def wp_dir(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("wordpiece")
    shutil.copy(data / "bert_vocab" / "bert-base-uncased-vocab.txt", folder / "vocab.txt")
    return folder


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory, data):
    from train.cli import main

    folder = tmp_path_factory.mktemp("bpe")
    head = folder / "head.txt"
    head.write_text("\n".join(read_text(data / "kant" / "kant.txt").splitlines()[:300]), "utf-8")
    assert main(["train-tokenizer", "--type", "bpe", "--vocab-size", "400", str(head),
                 "--out", str(folder / "tok")]) == 0
    return folder / "tok"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data):
    """Two files: kant.txt's first 25 kB (it starts with a byte-order mark) and a file with
    blank-line runs, CRLF endings, whitespace-only lines and no final newline."""
    folder = tmp_path_factory.mktemp("corpus")
    head = (data / "kant" / "kant.txt").read_bytes()[:25_000]
    (folder / "a.txt").write_bytes(head[:head.rfind(b"\n") + 1])
    (folder / "b.txt").write_bytes(b"First doc, line one.\r\nline two\r\n\r\n  \n\n"
                                   b"Second doc: caf\xc3\xa9 na\xc3\xafve\n   indented line  \n"
                                   b"\nThird doc without a final newline")
    return [folder / "a.txt", folder / "b.txt"]


def _lines(files) -> list[str]:
    return [line for f in files for line in read_text(f).splitlines() if line.strip()]


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_shards_round_trip(kind, wp_dir, bpe_dir, corpus, tmp_path):
    tok_dir = wp_dir if kind == "wordpiece" else bpe_dir
    tok = load_tokenizer(tok_dir)
    manifest = prepare(tok_dir, corpus, tmp_path / "d", workers=1, piece_bytes=4000,
                       progress=False)
    assert len(manifest["shards"]) > 3  # small pieces: lines and documents cross shard ends
    shards = Shards.open(tmp_path / "d", tokenizer_dir=tok_dir)
    lines = _lines(corpus)
    assert shards.n_lines == len(lines) == manifest["n_lines"]
    for k, text in enumerate(lines):
        _, want_ids, _, want_words = tok._encode_pieces(text)
        ids, starts = shards.line(k)
        assert ids.tolist() == want_ids, (k, text)
        assert word_ids(starts).tolist() == want_words, (k, text)
    assert shards.n_tokens == sum(len(tok._encode_pieces(t)[1]) for t in lines)
    docs = read_documents(corpus)
    first_lines = np.cumsum([0] + [len(d) for d in docs[:-1]])
    assert shards.doc_starts().tolist() == first_lines.tolist()
    first = tok.decode(shards.line(0)[0].tolist())
    assert "\ufeff" not in first and first.strip().lower().startswith("the critique")


def test_ids_dtype_fits_the_vocabulary(wp_dir, corpus, tmp_path):
    assert id_dtype(2**16) == np.uint16 and id_dtype(2**16 + 1) == np.uint32
    big = tmp_path / "big"
    big.mkdir()
    words = (wp_dir / "vocab.txt").read_text("utf-8").splitlines()
    # 40,000 extra tokens before the real ones: many ids do not fit in 16 bits
    (big / "vocab.txt").write_text("\n".join([f"[unused-{i}]" for i in range(40_000)] + words),
                                   "utf-8")
    manifest = prepare(big, corpus[1:], tmp_path / "d", workers=1, progress=False)
    assert manifest["dtype"] == "uint32"
    shards = Shards.open(tmp_path / "d")
    want = [i for t in _lines(corpus[1:]) for i in load_tokenizer(big)._encode_pieces(t)[1]]
    assert shards.shards[0].ids.dtype == np.uint32 and max(want) >= 2**16
    assert shards.tokens(0, shards.n_tokens)[0].tolist() == want
    small = prepare(wp_dir, corpus[1:], tmp_path / "d16", workers=1, progress=False)
    assert small["dtype"] == "uint16"


def test_workers_write_the_same_shards(bpe_dir, corpus, tmp_path):
    one = prepare(bpe_dir, corpus, tmp_path / "one", workers=1, piece_bytes=6000,
                  progress=False)
    two = prepare(bpe_dir, corpus, tmp_path / "two", workers=2, piece_bytes=6000,
                  progress=False)
    assert [s["sha256"] for s in one["shards"]] == [s["sha256"] for s in two["shards"]]


def test_rerun_is_a_no_op_and_an_interrupted_prepare_resumes(bpe_dir, corpus, tmp_path):
    out = tmp_path / "d"
    first = prepare(bpe_dir, corpus, out, workers=1, piece_bytes=6000, progress=False)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert prepare(bpe_dir, corpus, out, workers=1, piece_bytes=6000, progress=False) == first
    assert (out / "manifest.json").stat().st_mtime_ns == stamp
    # as a kill would leave it: no manifest, one shard missing; and a folder named like a
    # temporary, which minibert did not record making, so it is not deleted (a killed run's
    # own temporaries are removed from the marker's record: tests/test_outdir.py)
    (out / "manifest.json").unlink()
    shutil.rmtree(out / "shard-00001")
    (out / ".shard-00002.abc123.tmp").mkdir()
    (out / ".shard-00002.abc123.tmp" / "ids.npy").write_bytes(b"half")
    assert prepare(bpe_dir, corpus, out, workers=1, piece_bytes=6000, progress=False) == first
    assert (out / ".shard-00002.abc123.tmp" / "ids.npy").read_bytes() == b"half"


def test_other_tokenizer_is_refused(wp_dir, bpe_dir, corpus, tmp_path):
    prepare(bpe_dir, corpus, tmp_path / "d", workers=1, progress=False)
    with pytest.raises(ShardError, match="different tokenizer.*another --out"):
        prepare(wp_dir, corpus, tmp_path / "d", workers=1, progress=False)
    with pytest.raises(ShardError, match="fingerprint"):
        Shards.open(tmp_path / "d", tokenizer_dir=wp_dir)
    with pytest.raises(ShardError, match="other inputs"):
        prepare(bpe_dir, corpus[:1], tmp_path / "d", workers=1, progress=False)


def test_corrupt_or_missing_shard_is_a_clear_error(bpe_dir, corpus, tmp_path):
    prepare(bpe_dir, corpus, tmp_path / "d", workers=1, piece_bytes=6000, progress=False)
    ids = tmp_path / "d" / "shard-00001" / "ids.npy"
    raw = bytearray(ids.read_bytes())
    raw[-1] ^= 1
    ids.write_bytes(bytes(raw))
    with pytest.raises(ShardError, match=r"shard-00001/ids.npy: sha256 differs"):
        Shards.open(tmp_path / "d")
    ids.unlink()
    with pytest.raises(ShardError, match=r"shard-00001/ids.npy: missing"):
        Shards.open(tmp_path / "d")
    with pytest.raises(ShardError, match="no manifest.json; prepare it first"):
        Shards.open(tmp_path)


def test_bad_inputs_are_named(bpe_dir, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nstill fine\nbroken \xff here\n")
    with pytest.raises(ValueError, match=r"bad.txt: line 3 \(byte 23\) is not valid UTF-8"):
        prepare(bpe_dir, [bad], tmp_path / "d", workers=1, progress=False)
    with pytest.raises(FileNotFoundError, match="nothing.txt: no such file"):
        prepare(bpe_dir, [tmp_path / "nothing.txt"], tmp_path / "e", progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.md").write_text("mine")
    with pytest.raises(OutputDirError, match="busy: the folder holds files minibert did not"):
        prepare(bpe_dir, [bad], tmp_path / "busy", progress=False)
    with pytest.raises(OutputDirError, match=f"d lies inside the input FILES {tmp_path}"):
        prepare(bpe_dir, [tmp_path], tmp_path / "d", progress=False)



def test_prepare_holds_the_folder_lock(bpe_dir, corpus, tmp_path, monkeypatch):
    """Called as a library (no CLI claim around it), prepare locks --out while it works, so a
    second run refuses at once, naming the process that holds the folder."""
    import json
    import subprocess

    from train.data import prepare as prepare_module
    from train.outdir import LOCK_FILE

    out, held, real = tmp_path / "d", [], prepare_module.tokenize_piece

    def tokenize_piece(*args):  # note who holds the lock while a piece is tokenized
        held.append(json.loads((out / LOCK_FILE).read_text())["pid"])
        return real(*args)

    monkeypatch.setattr(prepare_module, "tokenize_piece", tokenize_piece)
    prepare(bpe_dir, corpus[1:], out, workers=1, progress=False)
    assert held and set(held) == {os.getpid()} and not (out / LOCK_FILE).exists()
    other = subprocess.Popen(["sleep", "60"])
    try:
        (out / LOCK_FILE).write_text(json.dumps({"pid": other.pid}))
        with pytest.raises(OutputDirError, match=f"in use by process {other.pid}"):
            prepare(bpe_dir, corpus[1:], out, workers=1, progress=False)
    finally:
        other.kill()
        other.wait()


def test_shards_in_memory_equal_shards_on_disk(wp_dir, corpus, tmp_path):
    """Small pieces on disk (lines, documents and blocks cross shard ends) against one shard
    per file in memory: the same arrays end to end, and every dataset's examples equal."""
    tok = load_tokenizer(wp_dir)
    prepare(wp_dir, corpus, tmp_path / "d", workers=1, piece_bytes=3000, progress=False)
    disk, memory = Shards.open(tmp_path / "d"), text_shards(tok, corpus)
    assert len(disk.shards) > 3 and len(memory.shards) == 2
    for k in ("n_tokens", "n_lines", "n_docs"):
        assert memory.manifest[k] == disk.manifest[k], k
    assert np.array_equal(memory.doc_starts(), disk.doc_starts())
    for a, b in zip(memory.tokens(0, memory.n_tokens), disk.tokens(0, disk.n_tokens)):
        assert np.array_equal(a, b)
    for make in (lambda s: PackedBlocks(s, tok, block_size=61),
                 lambda s: LineBlocks(s, tok, block_size=16),
                 lambda s: NSPPairs(s, tok, max_seq_length=40, seed=3)):
        a, b = make(memory), make(disk)
        assert len(a) == len(b) > 10
        for epoch in (0, 1):
            assert [a.example(i, epoch) for i in range(len(a))] == \
                [b.example(i, epoch) for i in range(len(b))]
    blocks = PackedBlocks(disk, tok, block_size=61)
    lengths = [len(b["input_ids"]) for b in blocks]
    assert set(lengths[:-1]) == {61} and 2 < lengths[-1] <= 61


def test_line_blocks_equal_the_tokenizer_on_each_line(wp_dir, corpus, tmp_path):
    """Line blocks are what the tokenizer gives for each non-blank line, with specials and
    truncation (transformers' LineByLineTextDataset), word ids included."""
    tok = load_tokenizer(wp_dir)
    prepare(wp_dir, corpus, tmp_path / "d", workers=1, piece_bytes=3000, progress=False)
    lines = LineBlocks(Shards.open(tmp_path / "d"), tok, block_size=16)
    want = [tok.encode(line, max_length=16, truncation=True) for line in _lines(corpus)]
    assert [x["input_ids"] for x in lines] == [e.ids for e in want]
    assert [x["word_ids"] for x in lines] == [list(e.word_ids) for e in want]
    assert LineByLineTextDataset(tok, corpus, block_size=16).examples == list(lines)


def test_vectorised_batches_equal_the_collator(wp_dir, corpus, tmp_path):
    """PackedBlocks.padded_batch (the loader's fast road) == pad_batch of the examples, and
    masking it gives the same batch as the collator on the examples (same generator)."""
    tok = load_tokenizer(wp_dir)
    prepare(wp_dir, corpus, tmp_path / "d", workers=1, piece_bytes=3000, progress=False)
    blocks = PackedBlocks(Shards.open(tmp_path / "d"), tok, block_size=40)
    for rows in ([3, 0, len(blocks) - 1, 7], [5, 1], [len(blocks) - 1]):  # the last is short
        fast = blocks.padded_batch(rows, tok.pad_token_id)
        slow = pad_batch([blocks[i] for i in rows], tok.pad_token_id)
        assert fast.keys() == slow.keys()
        for key in slow:
            assert torch.equal(fast[key], slow[key]), key
        a, b = MLMCollator(tok, whole_word=True, seed=3), MLMCollator(tok, whole_word=True, seed=3)
        want = b([blocks[i] for i in rows])
        for key, value in a.from_padded(fast).items():
            assert torch.equal(value, want[key]), key


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.uint8, np.int64])
def test_file_array_reads_what_np_load_reads(tmp_path, dtype):
    """FileArray (pread) gives np.load's values for slices, ends, single items and empties,
    and survives pickling (a DataLoader worker started by spawn gets a copy)."""
    import pickle

    values = np.random.default_rng(0).integers(0, 250, 1001).astype(dtype)
    np.save(tmp_path / "a.npy", values)
    np.save(tmp_path / "empty.npy", values[:0])
    arr = FileArray(tmp_path / "a.npy")
    assert arr.size == len(arr) == 1001 and arr.dtype == values.dtype
    for a, b in [(0, 1001), (3, 17), (990, 5000), (-7, None), (500, 500), (None, None)]:
        assert np.array_equal(arr[a:b], values[a:b]), (a, b)
    assert arr[0] == values[0] and arr[-1] == values[-1] and arr[512] == values[512]
    with pytest.raises(IndexError):
        arr[1001]
    assert np.array_equal(pickle.loads(pickle.dumps(arr))[100:110], values[100:110])
    assert FileArray(tmp_path / "empty.npy")[:].size == 0
    np.save(tmp_path / "two_d.npy", values[:1000].reshape(10, 100))
    with pytest.raises(ShardError, match="two_d.npy: expected a 1-D array"):
        FileArray(tmp_path / "two_d.npy")
