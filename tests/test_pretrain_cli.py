"""The command line end to end, KantaiBERT style: train a tokenizer, pretrain, fill the mask,
generate. The fast tests use a few hundred lines of kant.txt and a tiny model (seconds); the
`slow` ones are the chapter's run: the 52,000-token BPE tokenizer on all of kant.txt, and
either the full 83,504,416-parameter model for one epoch (hours on a CPU, minutes on a GPU)
or a scaled-down model whose MLM loss must fall by at least 25% within a few minutes on CPU.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from train.cli import main
from train.training_log import read_metrics

TEXT = "Human thinking involves human <mask>."
TINY = ["--hidden-size", "32", "--num-hidden-layers", "2", "--num-attention-heads", "4",
        "--intermediate-size", "37", "--vocab-size", "tokenizer", "--no-progress",
        "--precision", "fp32"]


@pytest.fixture(scope="module")
def kant_head(data, tmp_path_factory):
    """The first 600 lines of kant.txt (blank lines kept: they separate NSP documents)."""
    path = tmp_path_factory.mktemp("kant") / "kant_head.txt"
    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()[:600]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bpe_dir(kant_head, tmp_path_factory):
    out = tmp_path_factory.mktemp("bpe")
    assert main(["train-tokenizer", "--type", "bpe", "--vocab-size", "600", "--min-frequency",
                 "2", str(kant_head), "--out", str(out)]) == 0
    return out


def _pretrain(out, tokenizer, train, *extra):
    return main(["pretrain", "--tokenizer", str(tokenizer), "--train", str(train),
                 "--out", str(out), *TINY, *extra])


def test_kantaibert_tiny_end_to_end(bpe_dir, kant_head, tmp_path, capsys):
    out = tmp_path / "KantaiBERT"
    assert (
        _pretrain(
            out,
            bpe_dir,
            kant_head,
            "--objective",
            "roberta",
            "--config",
            "kantaibert",
            "--block-size",
            "64",
            "--batch-size",
            "32",
            "--max-examples",
            "320",
            "--epochs",
            "2",
            "--lr",
            "1e-2",
            "--warmup-steps",
            "2",
            "--save-every",
            "5",
        )
        == 0
    )
    for name in ("config.json", "model.safetensors", "vocab.json", "merges.txt",
                 "metrics.jsonl", "loss_curve.png"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "roberta" and config["pad_token_id"] == 1
    assert config["max_position_embeddings"] == 514 and config["type_vocab_size"] == 1
    losses = [r["loss"] for r in read_metrics(out / "metrics.jsonl")]
    assert len(losses) == 20
    assert sum(losses[-5:]) / 5 < 0.9 * losses[0], losses  # learning, even this briefly
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000015",
                                                                    "step-00000020"]
    capsys.readouterr()
    assert main(["fill-mask", str(out), TEXT, "--top-k", "3", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 3
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert 0 < sum(r["score"] for r in results) <= 1 + 1e-6
    for r in results:
        assert r["sequence"] == "Human thinking involves human" + r["token_str"] + "."
        assert isinstance(r["token"], int)


def test_fill_mask_matches_the_model(bpe_dir, kant_head, tmp_path):
    """The printed scores are the softmax at the mask position of the saved model."""
    from tokenizer.byte_level_bpe import ByteLevelBPETokenizer
    from train.cli.cmd_fill_mask import fill_mask, load_masked_lm

    out = tmp_path / "m"
    assert _pretrain(out, bpe_dir, kant_head, "--block-size", "32", "--batch-size", "16",
                     "--max-examples", "32") == 0
    model, tok = load_masked_lm(out), ByteLevelBPETokenizer.from_pretrained(out)
    results = fill_mask(model, tok, TEXT, top_k=4)
    ids = tok.encode("Human thinking involves human<mask>.").ids
    where = ids.index(tok.mask_token_id)
    with torch.no_grad():
        probs = model(torch.tensor([ids])).logits[0, where].softmax(-1)
    best = probs.topk(4)
    assert [r["token"] for r in results] == best.indices.tolist()
    torch.testing.assert_close(torch.tensor([r["score"] for r in results]), best.values)
    with pytest.raises(ValueError, match="exactly one mask"):
        fill_mask(model, tok, "no mask here")


def test_bert_objective_with_wordpiece(kant_head, tmp_path):
    tok = tmp_path / "wp"
    assert main(["train-tokenizer", "--type", "wordpiece", "--vocab-size", "400",
                 str(kant_head), "--out", str(tok)]) == 0
    out = tmp_path / "bert"
    assert _pretrain(out, tok, kant_head, "--objective", "bert", "--config", "bert-base-uncased",
                     "--block-size", "48", "--batch-size", "16", "--max-steps", "3") == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and config["type_vocab_size"] == 2
    assert (out / "vocab.txt").is_file()
    assert len(read_metrics(out / "metrics.jsonl")) == 3
    assert main(["fill-mask", str(out), "Human thinking involves human [MASK]."]) == 0


def test_dense_prediction_flag_gives_the_same_run(bpe_dir, kant_head, tmp_path):
    """--no-sparse-prediction (the full (B, T, V) output layer) trains the same steps as the
    default, which scores only the masked positions."""
    losses = []
    for name, flag in (("sparse", []), ("dense", ["--no-sparse-prediction"])):
        out = tmp_path / name
        assert _pretrain(out, bpe_dir, kant_head, "--block-size", "32", "--batch-size", "16",
                         "--max-steps", "4", "--lr", "1e-3", *flag) == 0
        losses.append([m["loss"] for m in read_metrics(out / "metrics.jsonl")])
    assert len(losses[0]) == 4
    torch.testing.assert_close(torch.tensor(losses[0]), torch.tensor(losses[1]),
                               rtol=1e-4, atol=1e-5)


def test_causal_objective_and_generate(bpe_dir, kant_head, tmp_path, capsys):
    out = tmp_path / "causal"
    assert _pretrain(out, bpe_dir, kant_head, "--objective", "causal", "--block-size", "32",
                     "--batch-size", "16", "--max-steps", "4", "--lr", "1e-3") == 0
    assert json.loads((out / "config.json").read_text())["is_decoder"] is True
    capsys.readouterr()
    args = ["generate", str(out), "The critique of", "--max-new-tokens", "8", "--top-k", "20",
            "--top-p", "0.9", "--temperature", "0.8", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first  # seeded sampling is reproducible
    assert first.startswith("The critique of")


def test_resume_from_the_command_line(bpe_dir, kant_head, tmp_path):
    common = ["--block-size", "32", "--batch-size", "16", "--max-examples", "64",
              "--epochs", "1", "--lr", "1e-3", "--save-every", "2"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _pretrain(full, bpe_dir, kant_head, *common) == 0
    assert _pretrain(cut, bpe_dir, kant_head, *common) == 0
    # throw away the end: the checkpoint at step 2 is all that is left of the second run
    shutil.rmtree(cut / "checkpoints" / "step-00000004")
    assert _pretrain(cut, bpe_dir, kant_head, *common, "--resume") == 0
    assert [r["loss"] for r in read_metrics(cut / "metrics.jsonl")] == \
        [r["loss"] for r in read_metrics(full / "metrics.jsonl")]


def test_bad_config_is_a_clear_error(bpe_dir, kant_head, tmp_path, capsys):
    assert _pretrain(tmp_path, bpe_dir, kant_head, "--config", "kantaibert-xl") == 2
    assert "--config kantaibert-xl: neither a preset" in capsys.readouterr().err
    assert _pretrain(tmp_path, bpe_dir, kant_head, "--block-size", "600") == 2
    assert "max_position_embeddings" in capsys.readouterr().err


# ---- the chapter's run ---------------------------------------------------------------

@pytest.fixture(scope="module")
def kant_tokenizer(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("KantaiBERT")
    assert main(["train-tokenizer", "--type", "bpe", "--vocab-size", "52000", "--min-frequency",
                 "2", str(data / "kant" / "kant.txt"), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_kantaibert_scaled_down_loss_falls(kant_tokenizer, data, tmp_path):
    """CPU, about a minute: a small RoBERTa on kant.txt, 60 steps; the MLM loss falls >= 25%."""
    out = tmp_path / "small"
    assert main(["pretrain", "--objective", "roberta", "--tokenizer", str(kant_tokenizer),
                 "--config", "kantaibert", "--hidden-size", "128", "--num-hidden-layers", "2",
                 "--num-attention-heads", "4", "--intermediate-size", "512",
                 "--vocab-size", "tokenizer", "--train", str(data / "kant" / "kant.txt"),
                 "--block-size", "128", "--batch-size", "64", "--max-steps", "60",
                 "--lr", "1e-3", "--warmup-steps", "10", "--precision", "fp32",
                 "--out", str(out)]) == 0
    losses = [r["loss"] for r in read_metrics(out / "metrics.jsonl")]
    start, end = sum(losses[:5]) / 5, sum(losses[-10:]) / 10
    print(f"MLM loss {start:.3f} -> {end:.3f} ({100 * (1 - end / start):.0f}% lower)")
    assert end <= 0.75 * start


@pytest.mark.slow
def test_kantaibert_full_size_one_epoch(kant_tokenizer, data, tmp_path, capsys):
    """The chapter's configuration exactly: 83,504,416 parameters, block 128, batch 64,
    one epoch (set MINIBERT_DEVICE=cuda on a GPU; hours on a CPU)."""
    out = tmp_path / "KantaiBERT"
    assert main(["pretrain", "--objective", "roberta", "--tokenizer", str(kant_tokenizer),
                 "--config", "kantaibert", "--train", str(data / "kant" / "kant.txt"),
                 "--block-size", "128", "--batch-size", "64", "--epochs", "1",
                 "--device", os.environ.get("MINIBERT_DEVICE", "auto"),
                 "--out", str(out)]) == 0
    assert "83,504,416 parameters" in capsys.readouterr().out
    losses = [r["loss"] for r in read_metrics(out / "metrics.jsonl")]
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10
    assert main(["fill-mask", str(out), TEXT]) == 0
