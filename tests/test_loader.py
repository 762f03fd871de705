"""The one pretraining data path (train/data/loader.py): NSP pairs keep BERT's polarity and
50/50 rule (hypothesis), ranks read disjoint rows that cover each epoch and mask them as one
process would, a resumed run equals an uninterrupted one exactly (one process, and 2
processes over gloo), loader workers change nothing, and the same seed and text give the same
batches and the same run by either entry point: `pretrain --train FILE` or `prepare-data`
then `pretrain --data DIR`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_shards import bpe_dir, corpus, wp_dir  # noqa: F401 (fixtures)

from minibert.config import BertConfig
from tokenizer import load_tokenizer
from train import ddp, objectives
from train.data.collator import MLMCollator
from train.data.datasets import LineBlocks, PackedBlocks
from train.data.loader import RankBatches, epoch_order, rank_stream
from train.data.nsp import LABEL_IS_NEXT, LABEL_IS_RANDOM, NSPPairs
from train.data.prepare import prepare
from train.data.shards import Shards
from train.pretrain import PretrainArgs, pretrain
from train.resume import latest_checkpoint


def _nsp_corpus(folder, sizes: list[int]):
    """Documents of numbered sentences: line j of document i reads 'alpha d{i} s{j}'."""
    docs = ["\n".join(f"alpha d{i} s{j}" for j in range(n)) for i, n in enumerate(sizes)]
    path = folder / "docs.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def _sentences(tok, ids) -> list[tuple[int, int]]:
    return [(int(d), int(s)) for d, s in re.findall(r"d(\d+) s(\d+)", tok.decode(ids))]


def _check_pair(tok, example) -> None:
    ids, types = example["input_ids"], example["token_type_ids"]
    first_sep = ids.index(tok.sep_token_id)
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
    a, b = _sentences(tok, ids[1:first_sep]), _sentences(tok, ids[first_sep + 1:-1])
    for part in (a, b):  # each segment is a stretch of one document
        assert all(d == part[0][0] and s == part[0][1] + k for k, (d, s) in enumerate(part))
    if example["next_sentence_label"] == LABEL_IS_NEXT:
        assert b[0] == (a[-1][0], a[-1][1] + 1), (a, b)
    else:
        assert example["next_sentence_label"] == LABEL_IS_RANDOM and b[0][0] != a[0][0], (a, b)


@settings(max_examples=12, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=7), seed=st.integers(0, 2**20))
def test_nsp_pairs_on_shards_keep_the_polarity(wp_dir, tmp_path_factory, sizes, seed):  # noqa: F811
    folder = tmp_path_factory.mktemp("nsp")
    prepare(wp_dir, [_nsp_corpus(folder, sizes)], folder / "d", workers=1, progress=False)
    tok = load_tokenizer(wp_dir)
    pairs = NSPPairs(Shards.open(folder / "d"), tok, max_seq_length=64, seed=seed)
    assert len(pairs) == len(sizes)  # short documents: one chunk each
    for epoch in range(3):
        for i in range(len(pairs)):
            _check_pair(tok, pairs.example(i, epoch))


@pytest.fixture(scope="module")
def nsp_data(wp_dir, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("nsp60")
    prepare(wp_dir, [_nsp_corpus(folder, [4] * 60)], folder / "d", workers=1, progress=False)
    return Shards.open(folder / "d")


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**20))
def test_nsp_on_shards_is_half_random(nsp_data, wp_dir, seed):  # noqa: F811
    pairs = NSPPairs(nsp_data, load_tokenizer(wp_dir), max_seq_length=64, seed=seed)
    labels = [pairs.example(i, e)["next_sentence_label"] for e in range(5)
              for i in range(len(pairs))]
    assert len(labels) == 300 and 0.35 < np.mean(labels) < 0.65  # 5 standard deviations


class _Rows:
    """A dataset whose examples are their own indices."""

    def __len__(self):
        return 23

    def example(self, i, epoch):
        return i


@pytest.mark.parametrize("world", [1, 2, 3])
def test_ranks_read_disjoint_rows_that_cover_the_epoch(world):
    per_epoch = 23 // 6 if world > 1 else -(-23 // 6)  # as train/pretrain.py: drop_last on DDP
    ranks = [RankBatches(_Rows(), lambda rows: rows, batch_size=6, per_epoch=per_epoch, seed=3,
                         shuffle=True, info=ddp.DistInfo(rank=r, world_size=world))
             for r in range(world)]
    for epoch in range(2):
        seen = [i for m in range(epoch * per_epoch, (epoch + 1) * per_epoch)
                for r in ranks for i in r[m]]
        assert len(seen) == len(set(seen)) == min(23, per_epoch * 6)  # disjoint, all rows
        if world == 1:
            assert sorted(seen) == list(range(23))
    assert ranks[0][0] != ranks[0][per_epoch]  # a new order every epoch


def test_one_epoch_order_drawn_once_per_epoch(monkeypatch):
    from train.data import loader

    assert torch.equal(epoch_order(50, 2, seed=4), epoch_order(50, 2, seed=4))
    assert sorted(epoch_order(50, 2, seed=4).tolist()) == list(range(50))
    assert not torch.equal(epoch_order(50, 2, seed=4), epoch_order(50, 3, seed=4))
    assert not torch.equal(epoch_order(50, 2, seed=4), epoch_order(50, 2, seed=5))
    assert epoch_order(5, 1, seed=4, shuffle=False).tolist() == [0, 1, 2, 3, 4]
    calls = []
    monkeypatch.setattr(loader, "epoch_order", lambda *a: calls.append(a) or epoch_order(*a))
    batches = RankBatches(_Rows(), lambda rows: rows, batch_size=4, per_epoch=6, seed=3,
                          shuffle=True, info=ddp.DistInfo())
    assert [i for m in range(12) for i in batches[m]][:23] == epoch_order(23, 0, 3).tolist()
    assert [epoch for _, epoch, *_ in calls] == [0, 1]  # not one draw per micro-batch


def _short_and_long_lines(folder, tok_dir):
    """Lines of 1 to 12 words, so the rows of a batch pad to different widths."""
    text = folder / "lines.txt"
    text.write_text("\n".join(" ".join(["reason"] * (1 + i % 12) + [f"w{i}"])
                              for i in range(40)), "utf-8")
    prepare(tok_dir, [text], folder / "d", workers=1, progress=False)
    return Shards.open(folder / "d")


@pytest.mark.parametrize("kind", ["lines", "packed"])
def test_ranks_mask_their_rows_as_one_process_does(wp_dir, tmp_path, kind):  # noqa: F811
    """Each rank pads only its rows, to its own width, and still gets the masks one process
    gets for them: the draws come from one table for the global batch."""
    tok = load_tokenizer(wp_dir)
    shards = _short_and_long_lines(tmp_path, wp_dir)
    data = LineBlocks(shards, tok, 20) if kind == "lines" else PackedBlocks(shards, tok, 20)

    def rows(world):
        out = []
        for r in range(world):
            source = RankBatches(data, MLMCollator(tok, whole_word=True), batch_size=6,
                                 per_epoch=2, seed=5, shuffle=True,
                                 info=ddp.DistInfo(rank=r, world_size=world))
            for m in range(3):
                batch = source[m]
                for i, n in enumerate(batch["attention_mask"].sum(1).tolist()):
                    out.append((m, batch["input_ids"][i, :n].tolist(),
                                batch["labels"][i, :n].tolist()))
        return sorted(out)

    one = rows(1)
    assert sum(1 for *_, labels in one for x in labels if x != -100) > 5
    widths = {len(ids) for _, ids, _ in one}
    assert kind == "packed" or len(widths) > 3
    assert rows(2) == one and rows(3) == one


def _blocks(bpe_dir, tmp_path):  # noqa: F811
    text = tmp_path / "text.txt"
    text.write_text("\n".join(f"line {i}: the critique of pure reason, part {i % 7}"
                              for i in range(50)), "utf-8")
    prepare(bpe_dir, [text], tmp_path / "d", workers=1, piece_bytes=2000, progress=False)
    tok = load_tokenizer(bpe_dir)
    return PackedBlocks(Shards.open(tmp_path / "d"), tok, block_size=30), tok


def _model(tok):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=37, max_position_embeddings=40,
                        type_vocab_size=1, model_type="roberta", pad_token_id=tok.pad_token_id,
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    return objectives.trained_class("roberta")(config)


def _run(blocks, tok, out, on_step=None, resume=False, batch_size=8):
    args = PretrainArgs(objective="roberta", out_dir=str(out), batch_size=batch_size,
                        grad_accum=2, epochs=2, lr=3e-3, warmup_steps=2, save_every=2,
                        resume=resume, num_workers=0, progress=False, plot=False,
                        device="cpu", precision="fp32")
    model = _model(tok)
    return pretrain(model, blocks, MLMCollator(tok, seed=7), args, on_step=on_step), model


def _stop_at_3(step, loss):
    if step == 3:
        raise KeyboardInterrupt


def _full_and_resumed(blocks, tok, tmp_path, batch_size=8):
    full, _ = _run(blocks, tok, tmp_path / "full", batch_size=batch_size)
    with pytest.raises(KeyboardInterrupt):
        _run(blocks, tok, tmp_path / "cut", on_step=_stop_at_3, batch_size=batch_size)
    assert latest_checkpoint(tmp_path / "cut" / "checkpoints").name == "step-00000003"
    resumed, _ = _run(blocks, tok, tmp_path / "cut", resume=True, batch_size=batch_size)
    return full.losses, resumed.losses


def test_resumed_run_on_shards_equals_uninterrupted(bpe_dir, tmp_path):  # noqa: F811
    blocks, tok = _blocks(bpe_dir, tmp_path)
    assert 40 < len(blocks) < 80  # a few steps per epoch, so the resumed part crosses one
    full, resumed = _full_and_resumed(blocks, tok, tmp_path)
    assert len(full) > 4 and resumed == full  # exactly, not approximately
    batch = MLMCollator(tok)([blocks[i] for i in range(8)])
    assert bool(batch["attention_mask"].all())  # full blocks: no padding in a batch


def test_loader_workers_change_nothing(bpe_dir, tmp_path):  # noqa: F811
    """Batches built in 2 worker processes, from micro-batch 5 on, equal those built here."""
    blocks, tok = _blocks(bpe_dir, tmp_path)
    source = RankBatches(blocks, MLMCollator(tok, seed=7), batch_size=8, per_epoch=7, seed=1,
                         shuffle=True, info=ddp.DistInfo())
    here = list(rank_stream(source, 5, 12, num_workers=0))
    there = list(rank_stream(source, 5, 12, num_workers=2))
    assert len(here) == len(there) == 7
    for a, b in zip(here, there):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_workers_started_by_spawn_mask_alike(bpe_dir, tmp_path):  # noqa: F811
    """A worker process started by spawn (macOS, or under torch.multiprocessing.spawn) gets
    the dataset and collator by pickling, and builds the batches built here."""
    blocks, tok = _blocks(bpe_dir, tmp_path)
    source = RankBatches(blocks, MLMCollator(tok, seed=7), batch_size=8, per_epoch=7, seed=1,
                         shuffle=True, info=ddp.DistInfo())
    here = [source[m] for m in range(3)]
    there = torch.utils.data.DataLoader(source, batch_size=None, sampler=range(3), num_workers=1,
                                        multiprocessing_context="spawn")
    for a, b in zip(here, there, strict=True):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _ddp_resume(rank: int, bpe_dir, out: str) -> None:  # noqa: F811
    from pathlib import Path

    out = Path(out)
    (out / f"data{rank}").mkdir()
    blocks, tok = _blocks(bpe_dir, out / f"data{rank}")
    full, resumed = _full_and_resumed(blocks, tok, out / "runs", batch_size=8)
    torch.save({"full": full, "resumed": resumed}, out / f"rank{rank}.pt")


def test_resume_on_shards_with_two_processes(bpe_dir, tmp_path):  # noqa: F811
    ddp.spawn(_ddp_resume, 2, bpe_dir, str(tmp_path))
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0 == r1  # the loss is all-reduced: both ranks report the same numbers
    assert len(r0["full"]) > 2 and r0["resumed"] == r0["full"]


def _cli_args(tok_dir, source: list[str], *extra: str):
    import argparse

    from train.cli import cmd_pretrain

    parser = argparse.ArgumentParser()
    cmd_pretrain.add_arguments(parser)
    return parser.parse_args(["--tokenizer", str(tok_dir), "--out", "unused", *source,
                              "--block-size", "32", "--seed", "11", *extra])


# (objective, --dataset): bert makes its own sentence pairs and takes no --dataset
KINDS = [("roberta", "grouped"), ("roberta", "lines"), ("bert", None), ("causal", "lines")]


def _dataset_flag(kind: str | None) -> list[str]:
    return ["--dataset", kind] if kind else []


def test_same_batches_by_either_entry_point(bpe_dir, corpus, tmp_path):  # noqa: F811
    """`--train FILES` (shards in memory) and `--data DIR` (prepare-data's shards, in small
    pieces) build the same datasets, and the loader gives the same micro-batches from both,
    over two epochs."""
    from train.cli import cmd_pretrain

    prepare(bpe_dir, corpus, tmp_path / "d", workers=1, piece_bytes=3000, progress=False)
    tok = load_tokenizer(bpe_dir)
    for objective, kind in KINDS:
        built = []
        for source in (["--train", *map(str, corpus)], ["--data", str(tmp_path / "d")]):
            args = _cli_args(bpe_dir, source, "--objective", objective, *_dataset_flag(kind))
            dataset = cmd_pretrain.build_dataset(args, tok)
            loader = RankBatches(dataset, cmd_pretrain.build_collator(args, tok), batch_size=8,
                                 per_epoch=-(-len(dataset) // 8), seed=args.seed,
                                 shuffle=True, info=ddp.DistInfo())
            built.append([loader[m] for m in range(2 * loader.per_epoch)])
        memory, disk = built
        assert len(memory) == len(disk) > 4, objective
        for a, b in zip(memory, disk):
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), objective


def test_same_run_by_either_entry_point(bpe_dir, corpus, tmp_path):  # noqa: F811
    """The command line end to end: `pretrain --train` in this process and `prepare-data` then
    `pretrain --data` with 2 loader workers log the same losses, for every objective."""
    from train.cli import main

    data = str(tmp_path / "data")
    assert main(["prepare-data", "--tokenizer", str(bpe_dir), "--out", data, "--workers", "2",
                 "--piece-mb", "1", "--no-progress", *map(str, corpus)]) == 0
    tiny = ["--hidden-size", "32", "--num-hidden-layers", "1", "--num-attention-heads", "4",
            "--intermediate-size", "37", "--vocab-size", "tokenizer", "--block-size", "32",
            "--batch-size", "8", "--max-steps", "3", "--lr", "1e-3", "--no-progress",
            "--precision", "fp32"]
    for objective, kind in KINDS:
        losses = []
        for name, source in (("train", ["--train", *map(str, corpus), "--num-workers", "0"]),
                             ("data", ["--data", data, "--num-workers", "2"])):
            out = tmp_path / f"{objective}-{kind}-{name}"
            assert main(["pretrain", "--objective", objective, "--tokenizer", str(bpe_dir),
                         *_dataset_flag(kind), *source, *tiny, "--out", str(out)]) == 0
            lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
            losses.append([json.loads(line)["loss"] for line in lines])
        assert len(losses[0]) == 3 and losses[0] == losses[1], (objective, kind)
