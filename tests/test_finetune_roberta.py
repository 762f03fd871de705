"""Any checkpoint fine-tunes: a RoBERTa pretrained by `minibert pretrain` (KantaiBERT style)
and a RoBERTa folder written by transformers both go through `minibert finetune csv` and
`minibert predict`, the classes picked from config.json's model_type (`minibert/auto.py`);
the fine-tuned folder loads in transformers with the same logits. Tiny models, a few CoLA
rows: seconds.
"""

from __future__ import annotations

import csv
import json

import pytest
import torch

from train.cli import main

TINY = ["--hidden-size", "32", "--num-hidden-layers", "2", "--num-attention-heads", "4",
        "--intermediate-size", "37", "--vocab-size", "tokenizer", "--no-progress"]


def _cola_rows(data, name: str, n: int) -> list[tuple[str, int]]:
    rows = (data / "cola" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[:n]
    return [(r.split("\t")[3], int(r.split("\t")[1])) for r in rows]


@pytest.fixture(scope="module")
def files(data, tmp_path_factory):
    """CoLA's first rows as a text file (to pretrain on) and a labelled CSV (to fine-tune on)."""
    d = tmp_path_factory.mktemp("rows")
    rows = _cola_rows(data, "in_domain_train", 120)
    (d / "text.txt").write_text("\n".join(t for t, _ in rows) + "\n", encoding="utf-8")
    with open(d / "train.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return d


@pytest.fixture(scope="module")
def kantai(files, tmp_path_factory):
    """`minibert train-tokenizer` then `minibert pretrain --objective roberta`, a few steps."""
    d = tmp_path_factory.mktemp("kantai")
    assert main(["train-tokenizer", "--type", "bpe", "--vocab-size", "400", "--min-frequency",
                 "2", str(files / "text.txt"), "--out", str(d / "tok")]) == 0
    assert main(["pretrain", "--objective", "roberta", "--config", "kantaibert",
                 "--tokenizer", str(d / "tok"), "--train", str(files / "text.txt"),
                 "--block-size", "32", "--batch-size", "16", "--max-steps", "3",
                 "--precision", "fp32", "--out", str(d / "kantai"), *TINY]) == 0
    return d / "kantai"


def _finetune(model_dir, files, out) -> None:
    assert main(["finetune", "csv", "--model", str(model_dir), "--train",
                 str(files / "train.csv"), "--out", str(out), "--epochs", "1", "--lr", "1e-3",
                 "--batch-size", "16", "--no-progress", "--precision", "fp32"]) == 0


def test_pretrain_finetune_predict_roberta(kantai, files, tmp_path, capsys):
    out = tmp_path / "ft"
    _finetune(kantai, files, out)
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "roberta"
    assert (out / "vocab.json").is_file() and (out / "merges.txt").is_file()
    capsys.readouterr()
    assert main(["predict", str(out), "The book was written by John."]) == 0
    label, probs, text = capsys.readouterr().out.strip().split("\t")
    assert label in ("0", "1") and text == "The book was written by John."
    assert sum(float(p.split()[1]) for p in probs.split("  ")) == pytest.approx(1, abs=1e-3)


@pytest.mark.parity
def test_finetuned_roberta_loads_in_transformers(kantai, files, tmp_path, transformers):
    from train.cli.cmd_predict import load

    out = tmp_path / "ft"
    _finetune(kantai, files, out)
    ours, tok = load(out)
    assert type(ours).__name__ == "RobertaForSequenceClassification"
    theirs = transformers.RobertaForSequenceClassification.from_pretrained(out).eval()
    batch = tok.to_tensors(tok.encode_batch(["Hello there.", "The cat sat on the mat today."]))
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        a, b = ours(**inputs).logits, theirs(**inputs).logits
    assert torch.allclose(a, b, atol=1e-5), (a, b)


@pytest.mark.parity
def test_roberta_folder_in_hf_layout_finetunes(kantai, files, tmp_path, transformers):
    """A folder transformers wrote (its config.json and weights) plus a BPE vocabulary."""
    import shutil

    hf_dir = tmp_path / "hf"
    config = transformers.RobertaConfig(vocab_size=400, hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=4, intermediate_size=37,
                                        max_position_embeddings=66, type_vocab_size=1,
                                        pad_token_id=1, bos_token_id=0, eos_token_id=2)
    torch.manual_seed(0)
    transformers.RobertaForMaskedLM(config).save_pretrained(hf_dir)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        if (kantai / name).is_file():
            shutil.copy(kantai / name, hf_dir / name)
    out = tmp_path / "ft"
    _finetune(hf_dir, files, out)
    assert json.loads((out / "config.json").read_text())["model_type"] == "roberta"


def test_folders_written_by_pretrain_and_finetune_truncate_to_what_the_model_takes(
        kantai, files, tmp_path):
    """The tokenizer trained alone has no length limit; the model folders that pretrain and
    finetune write carry the model's (512 of kantaibert's 514 positions), so the idiom
    `model(**tok(texts, truncation=True, ...))` runs on text longer than that."""
    from minibert import AutoModel, AutoTokenizer

    out = tmp_path / "ft"
    _finetune(kantai, files, out)
    assert "model_max_length" not in json.loads(
        (kantai.parent / "tok" / "tokenizer_config.json").read_text())
    long_text = " ".join(["the book was written by John"] * 100)
    for folder in (kantai, out):
        assert json.loads((folder / "tokenizer_config.json").read_text())[
            "model_max_length"] == 512
        tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(
            folder, verbose=False)
        batch = tok([long_text, "short"], padding=True, truncation=True, return_tensors="pt")
        assert batch["input_ids"].shape == (2, 512)
        with torch.no_grad():
            assert model(**batch).last_hidden_state.shape[:2] == (2, 512)
