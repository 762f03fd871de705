"""Collators (train/data/collator.py): dynamic padding, dynamic vs static masking, resumable state,
causal-LM labels, and whole-word masking on the real WordPiece and BPE tokenizers."""

from __future__ import annotations

import pytest
import torch
from fake_tokenizer import CLS, MASK, PAD, SEP, FakeTokenizer

from train.data.collator import CausalLMCollator, MLMCollator, pad_batch
from train.data.masking import IGNORE_INDEX

TEXTS = ["the critique of pure reason", "by immanuel kant", "translated by j m d meiklejohn",
         "preface to the first edition of the critique of pure reason in eighteen eighty one"]


def encodings(n_copies: int = 1):
    tok = FakeTokenizer(vocab_size=500)
    return tok, [tok.encode(t) for t in TEXTS] * n_copies


def test_pads_to_longest_with_all_keys():
    tok, encs = encodings()
    batch = MLMCollator(tok, seed=0)(encs)
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
    T = max(len(e) for e in encs)
    for v in batch.values():
        assert v.shape == (len(encs), T) and v.dtype == torch.long
    for row, e in enumerate(encs):
        n = len(e)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (T - n)
        assert (batch["input_ids"][row, n:] == PAD).all()
        assert (batch["labels"][row, n:] == IGNORE_INDEX).all()
        assert (
            batch["labels"][row, 0] == IGNORE_INDEX and batch["labels"][row, n - 1] == IGNORE_INDEX
        )


def test_dicts_with_nsp_labels_and_token_types():
    tok = FakeTokenizer()
    examples = [{"input_ids": [CLS, 7, 8, SEP, 9, SEP], "token_type_ids": [0, 0, 0, 0, 1, 1],
                 "special_tokens_mask": [1, 0, 0, 1, 0, 1], "next_sentence_label": 1},
                {"input_ids": [CLS, 7, SEP, 9, SEP], "token_type_ids": [0, 0, 0, 1, 1],
                 "special_tokens_mask": [1, 0, 1, 0, 1], "next_sentence_label": 0}]
    batch = MLMCollator(tok, mlm_probability=0.0)(examples)
    assert batch["next_sentence_label"].tolist() == [1, 0]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]]
    assert batch["input_ids"].tolist() == [[CLS, 7, 8, SEP, 9, SEP], [CLS, 7, SEP, 9, SEP, PAD]]


def test_bad_examples_are_named():
    tok = FakeTokenizer()
    with pytest.raises(ValueError, match="example 1 has no input ids"):
        pad_batch([{"input_ids": [2, 3]}, {"ids": [2]}], PAD)
    with pytest.raises(ValueError, match="example 0: 'token_type_ids' has 1 entries"):
        pad_batch([{"input_ids": [2, 3], "token_type_ids": [0]}], PAD)
    with pytest.raises(ValueError, match="empty"):
        MLMCollator(tok)([])
    with pytest.raises(ValueError, match="word_ids"):
        MLMCollator(tok, whole_word=True)([{"input_ids": [2, 7, 8, 3]}])


def test_dynamic_masks_differ_between_calls_and_follow_the_seed():
    tok, encs = encodings(8)
    first = MLMCollator(tok, seed=3)
    a, b = first(encs), first(encs)
    assert not torch.equal(a["labels"], b["labels"])
    again = MLMCollator(tok, seed=3)(encs)
    assert torch.equal(a["labels"], again["labels"]) and torch.equal(
        a["input_ids"], again["input_ids"]
    )
    other = MLMCollator(tok, seed=4)(encs)
    assert not torch.equal(a["labels"], other["labels"])


def test_static_mask_is_fixed_per_example_whatever_the_batch():
    tok, encs = encodings()
    collate = MLMCollator(tok, seed=1, static=True, mlm_probability=0.5)
    a, b = collate(encs), collate(encs)
    assert torch.equal(a["labels"], b["labels"]) and torch.equal(a["input_ids"], b["input_ids"])
    alone = collate([encs[1]])  # same example, shorter batch, other position
    n = len(encs[1])
    assert torch.equal(alone["labels"][0, :n], a["labels"][1, :n])
    assert torch.equal(alone["input_ids"][0, :n], a["input_ids"][1, :n])
    other_seed = MLMCollator(tok, seed=2, static=True, mlm_probability=0.5)(encs)
    assert not torch.equal(other_seed["labels"], a["labels"])


def test_causal_lm_labels_are_inputs_with_padding_ignored():
    tok, encs = encodings()
    batch = CausalLMCollator(tok)(encs)
    keep = batch["attention_mask"] == 1
    assert torch.equal(batch["labels"][keep], batch["input_ids"][keep])
    assert (batch["labels"][~keep] == IGNORE_INDEX).all()
    assert MASK not in batch["input_ids"].tolist()


def _check_whole_words(tok, texts, special_ids):
    encs = [tok.encode(t) for t in texts]
    batch = MLMCollator(tok, mlm_probability=0.3, whole_word=True, seed=0)(encs * 20)
    selected = batch["labels"] != IGNORE_INDEX
    words = pad_batch(encs * 20, tok.pad_token_id)["word_ids"]
    assert selected.any()
    for b in range(words.shape[0]):
        for w in words[b][words[b] >= 0].unique().tolist():
            in_word = selected[b][words[b] == w]
            assert in_word.all() or not in_word.any()
    assert not torch.isin(batch["labels"][selected], torch.tensor(special_ids)).any()


def test_whole_words_with_real_wordpiece(data):
    from tokenizer.wordpiece import WordPieceTokenizer

    tok = WordPieceTokenizer.from_file(data / "bert_vocab" / "bert-base-uncased-vocab.txt")
    texts = ["Unaffable tokenization of transcendental apperception.", "Hello world"]
    assert any(t.startswith("##") for t in tok.encode(texts[0]).tokens)
    _check_whole_words(tok, texts, tok.all_special_ids)


@pytest.fixture(scope="module")
def kant_bpe(data):
    from tokenizer.bpe_trainer import BPETrainer

    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()[:2000]
    return BPETrainer(2000, 2, show_progress=False).train(iter(lines))


def test_whole_words_with_real_bpe(kant_bpe):
    texts = ["Human thinking involves unaffable tokenization.", "Second sentence here"]
    enc = kant_bpe.encode(texts[0])
    assert any(t.startswith("\u0120") for t in enc.tokens)  # Ġ marks a word start
    assert len({w for w in enc.word_ids if w is not None}) < len(enc.ids) - 2  # multi-piece words
    _check_whole_words(kant_bpe, texts, kant_bpe.all_special_ids)


def test_bpe_grouped_blocks_collate_for_roberta(kant_bpe, data, tmp_path):
    from train.data.datasets import PackedBlocks, text_shards

    path = tmp_path / "kant_head.txt"
    path.write_text(
        "\n".join((data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()[:300]),
        encoding="utf-8",
    )
    ds = PackedBlocks(text_shards(kant_bpe, path), kant_bpe, block_size=32)
    batch = MLMCollator(kant_bpe, seed=0)([ds[i] for i in range(16)])
    assert batch["input_ids"].shape == (16, 32)
    assert (batch["input_ids"][:, 0] == kant_bpe.cls_token_id).all()  # <s>
    assert (batch["input_ids"][:, -1] == kant_bpe.sep_token_id).all()  # </s>
    assert (batch["token_type_ids"] == 0).all()
    assert (batch["labels"] != IGNORE_INDEX).any()


@pytest.mark.parity
def test_batches_match_hf_data_collator_on_kant(data, transformers):
    from tokenizer.wordpiece import WordPieceTokenizer

    vocab = data / "bert_vocab" / "bert-base-uncased-vocab.txt"
    ours_tok, hf_tok = WordPieceTokenizer.from_file(vocab), transformers.BertTokenizer(str(vocab))
    lines = [
        t
        for t in (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()
        if t.strip()
    ]
    examples = [
        {
            "input_ids": e.ids,
            "token_type_ids": e.type_ids,
            "special_tokens_mask": e.special_tokens_mask,
        }
        for e in ours_tok.encode_batch(lines[:64], max_length=128, truncation=True)
    ]
    for p in (0.0, 1.0):  # the two settings where the choice of positions is not random
        ours = MLMCollator(ours_tok, mlm_probability=p)([dict(e) for e in examples])
        theirs = transformers.DataCollatorForLanguageModeling(hf_tok, mlm_probability=p, seed=0)(
            [dict(e) for e in examples])
        for key in ("attention_mask", "token_type_ids", "labels"):
            assert torch.equal(ours[key], theirs[key]), key
        if p == 0.0:
            assert torch.equal(ours["input_ids"], theirs["input_ids"])
