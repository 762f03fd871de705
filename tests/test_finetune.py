"""Fine-tuning: batching, splitting, the loop end to end on a tiny model, save/reload, reports.

The end-to-end tests use a tiny random BERT (hidden 32, 2 layers, ffn 37) with the real
bert-base-uncased vocabulary on a few hundred CoLA rows, so they take seconds; the real
all-MiniLM-L6-v2 run is marked slow.
"""

import json
import random
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from train.evaluate import format_report, score
from train.finetune import (
    FinetuneConfig,
    bucketed_batches,
    encode,
    finetune,
    split_train_val,
    stats_table,
)

LABELS = ["unacceptable", "acceptable"]


# ---- batching and splitting ------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=300), st.integers(1, 33),
       st.integers(0, 5), st.integers(0, 2**31))
def test_bucketed_batches_cover_every_example_once(lengths, batch_size, window, seed):
    batches = bucketed_batches(lengths, batch_size, window, random.Random(seed))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(0 < len(b) <= batch_size for b in batches)
    assert batches == bucketed_batches(lengths, batch_size, window, random.Random(seed))


def test_bucketing_cuts_padding(data):
    from train.data.cola import cola_split

    lengths = [len(r.sentence.split()) + 2 for r in cola_split(data, "in_domain_train")]

    def padded(window):
        batches = bucketed_batches(lengths, 32, window, random.Random(0))
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    real = sum(lengths)
    assert padded(50) < 1.1 * real < padded(0), "bucketed batches are nearly padding-free"
    assert padded(0) < 32 * (len(lengths) // 32 + 1) * 64, "dynamic padding beats padding to 64"


def test_split_is_fixed_disjoint_and_ten_percent():
    train, val = split_train_val(8551, 0.1, 42)
    assert len(val) == 855 and len(train) == 8551 - 855
    assert not set(train) & set(val) and sorted(train + val) == list(range(8551))
    assert split_train_val(8551, 0.1, 42) == (train, val)
    assert split_train_val(8551, 0.1, 43)[1] != val
    with pytest.raises(ValueError, match="val_fraction"):
        split_train_val(10, 1.0, 0)


# ---- reports ---------------------------------------------------------------------------

def test_collapse_is_said_plainly():
    y_true = [1] * 354 + [0] * 162
    report = score("out_of_domain_dev", y_true, [1] * 516, LABELS)
    text = format_report(report)
    assert report.mcc == report.mcc_sklearn == 0.0
    assert "predicted acceptable (1) for all 516 sentences; MCC is 0" in text
    assert "try a higher learning rate" in text
    # the per-batch scores are all 0 too: their mean equals the whole-set MCC, nothing to warn
    assert report.batch_mccs == [0.0] * 17 and "not an average of parts" not in text


def test_per_batch_mcc_differs_from_whole_set():
    # every batch of 32 holds one class only, so each batch scores 0 while the set is perfect
    y = [0] * 32 + [1] * 32
    report = score("x", y, list(y), LABELS)
    assert report.batch_mccs == [0.0, 0.0] and report.mcc == 1.0
    assert "not an average of parts" in format_report(report)
    assert "WARNING" not in format_report(report)


# ---- end to end on a tiny model --------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, data):
    """A 'pretrained' tiny BERT folder: random weights, the real uncased vocabulary."""
    from minibert import BertConfig, BertModel
    from tokenizer import WordPieceTokenizer

    d = tmp_path_factory.mktemp("tiny_bert")
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=37, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(d)
    WordPieceTokenizer.from_file(data / "bert_vocab" / "bert-base-uncased-vocab.txt").save(d)
    return d


@pytest.fixture(scope="module")
def cola_small(tmp_path_factory, data):
    """The first rows of each CoLA file, in the same layout."""
    d = tmp_path_factory.mktemp("cola_small") / "cola"
    d.mkdir()
    for name, n in [("in_domain_train", 200), ("in_domain_dev", 40), ("out_of_domain_dev", 40)]:
        lines = (data / "cola" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[:n]
        (d / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d.parent


@pytest.fixture(scope="module")
def trained(tiny_dir, cola_small, tmp_path_factory):
    """One fine-tuning run through the command line: (output folder, printed text)."""
    import contextlib
    import io

    from train.cli import main

    out = tmp_path_factory.mktemp("ft") / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["finetune", "cola", "--model", str(tiny_dir), "--data", str(cola_small),
                   "--out", str(out), "--epochs", "2", "--lr", "1e-3", "--batch-size", "16",
                   "--no-progress", "--precision", "fp32"])
    assert rc == 0
    return out, buf.getvalue()


def test_cli_finetune_prints_and_writes_everything(trained):
    out, text = trained
    assert "recipe small" in text, "a hidden size below 768 picks the small-checkpoint recipe"
    assert "valid MCC" in text and "* best epoch" in text
    assert "== out_of_domain_dev (40 sentences) ==" in text and "in_domain_dev" in text
    for name in ("config.json", "model.safetensors", "vocab.txt", "loss_curve.png",
                 "confusion_out_of_domain_dev.png", "metrics.json"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "unacceptable", "1": "acceptable"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["lr"] == 1e-3 and len(metrics["epochs"]) == 2
    ood = metrics["eval"]["out_of_domain_dev"]
    assert ood["mcc"] == pytest.approx(ood["mcc_sklearn"], abs=1e-12)


def test_reload_gives_identical_predictions(trained, data):
    from train.cli.cmd_predict import classify, load

    out, _ = trained
    a_model, a_tok = load(out)
    b_model, b_tok = load(out)
    texts = ["The book was read by everyone.", "Book the everyone read by was.", "ok"]
    a = classify(a_model, a_tok, texts, None, torch.device("cpu"))
    b = classify(b_model, b_tok, texts, None, torch.device("cpu"))
    assert torch.equal(a, b)
    assert torch.allclose(a.sum(-1), torch.ones(3))


@pytest.mark.parity
def test_transformers_loads_the_saved_folder(trained, transformers):
    from train.cli.cmd_predict import load

    out, _ = trained
    ours, tok = load(out)
    theirs = transformers.BertForSequenceClassification.from_pretrained(out).eval()
    batch = tok.to_tensors(tok.encode_batch(["Hello there.", "The cat sat on the mat today."]))
    with torch.no_grad():
        a = ours(**batch).logits
        b = theirs(**batch).logits
    assert torch.allclose(a, b, atol=1e-5), (a, b)
    assert theirs.config.id2label == {0: "unacceptable", 1: "acceptable"}


def test_cli_predict_sentence_stdin_and_csv(trained, tmp_path, capsys, monkeypatch):
    import io

    from train.cli import main

    out, _ = trained
    assert main(["predict", str(out), "The cat sat."]) == 0
    line = capsys.readouterr().out.strip()
    label, probs, text = line.split("\t")
    assert label in LABELS and text == "The cat sat." and "acceptable" in probs
    monkeypatch.setattr("sys.stdin", io.StringIO("One.\n\nTwo two.\n"))
    assert main(["predict", str(out)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    src = tmp_path / "test.csv"
    src.write_text('id,keyword,text\r\n7,,"a tweet\r\nover two lines"\r\n9,fire,"ÛÒ fire"\r\n',
                   encoding="utf-8")
    dest = tmp_path / "submission.csv"
    assert main(["predict", str(out), "--csv", str(src), "--out", str(dest)]) == 0
    rows = dest.read_text().splitlines()
    assert rows[0] == "id,target" and [r.split(",")[0] for r in rows[1:]] == ["7", "9"]
    assert all(r.split(",")[1] in LABELS for r in rows[1:])


def test_seeds_give_mean_and_std(tiny_dir, cola_small, tmp_path, capsys):
    from train.cli import main

    assert main(["finetune", "cola", "--model", str(tiny_dir), "--data", str(cola_small),
                 "--out", str(tmp_path / "s"), "--epochs", "1", "--lr", "1e-3",
                 "--seeds", "1,2", "--no-progress", "--precision", "fp32"]) == 0
    text = capsys.readouterr().out
    assert "out_of_domain_dev: MCC" in text and "± " in text and "over seeds [1, 2]" in text
    assert (tmp_path / "s" / "seed-1" / "model.safetensors").is_file()
    assert (tmp_path / "s" / "seed-2" / "model.safetensors").is_file()


def test_finetune_csv_with_string_labels(tiny_dir, tmp_path, capsys):
    from train.cli import main

    rows = ["text,label"] + [f"{'good nice fine' if i % 2 else 'bad awful poor'} {i},"
                             f"{'pos' if i % 2 else 'neg'}" for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "csv_run"
    assert main(["finetune", "csv", "--model", str(tiny_dir), "--train", str(tmp_path / "t.csv"),
                 "--eval", str(tmp_path / "t.csv"), "--out", str(out), "--epochs", "1",
                 "--no-progress", "--precision", "fp32"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert "== t (60 sentences) ==" in capsys.readouterr().out


def test_best_epoch_weights_are_kept(tiny_dir, cola_small):
    """After training, the model holds the weights of the best validation epoch."""
    from minibert import BertForSequenceClassification
    from tokenizer import WordPieceTokenizer
    from train.data.cola import cola_split
    from train.finetune import validate

    tok = WordPieceTokenizer.from_pretrained(tiny_dir)
    rows = cola_split(cola_small, "in_domain_train")
    enc = encode(tok, [r.sentence for r in rows], None, 64)
    y = [r.label for r in rows]
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(tiny_dir, verbose=False, num_labels=2)
    cfg = FinetuneConfig(lr=3e-3, epochs=3, batch_size=16, progress=False, precision="fp32")
    result = finetune(model, tok, enc[:160], y[:160], enc[160:], y[160:], cfg,
                      torch.device("cpu"), log=lambda *a: None)
    best = result.epochs[result.best_epoch - 1]
    assert best.val_mcc == max(s.val_mcc for s in result.epochs)
    assert validate(model, tok, enc[160:], y[160:], cfg, torch.device("cpu"))[2] == best.val_mcc
    assert len(result.batch_losses) == 3 * 10 and "epoch" in stats_table(result)


def test_bad_model_folder_is_named(tmp_path, capsys):
    from train.cli import main

    assert main(["predict", str(tmp_path), "hi"]) == 2
    assert "no config.json" in capsys.readouterr().err
    shutil.rmtree(tmp_path)


@pytest.mark.slow
def test_main_job_on_real_minilm(minilm_dir, data, tmp_path):
    """The README's first command with its defaults: learns more than the majority class."""
    from train.cli import main

    out = tmp_path / "main"
    assert main(["finetune", "cola", "--model", str(minilm_dir), "--data", str(data),
                 "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["recipe"] == "small"
    ood = metrics["eval"]["out_of_domain_dev"]
    assert min(sum(row) for row in zip(*ood["confusion"])) > 0, "predictions collapsed"
    assert ood["mcc"] > 0.1


@pytest.mark.parametrize("given, hidden, chosen, lr", [
    ("tutorial", 384, "tutorial", 2e-5), ("small", 768, "small", 1e-4),
    ("auto", 768, "tutorial", 2e-5), ("auto", 384, "small", 1e-4)])
def test_recipes_by_name_and_by_hidden_size(given, hidden, chosen, lr, capsys):
    from train.cli import cmd_finetune, command_parser

    args = command_parser("finetune", cmd_finetune).parse_args(["cola", "--recipe", given])
    cfg, recipe = cmd_finetune.build_config(args, hidden, seed=1)
    assert (recipe, cfg.lr) == (chosen, lr)
    assert capsys.readouterr().err == ""


def test_old_recipe_name_seed_still_works_with_one_line_note(capsys):
    from train.cli import cmd_finetune, command_parser

    args = command_parser("finetune", cmd_finetune).parse_args(["cola", "--recipe", "seed"])
    assert args.recipe == "tutorial"
    assert cmd_finetune.build_config(args, 768, seed=1)[1] == "tutorial"
    err = capsys.readouterr().err
    assert err == "minibert: note: --recipe seed is deprecated; use --recipe tutorial\n"
    with pytest.raises(SystemExit):
        command_parser("finetune", cmd_finetune).parse_args(["cola", "--recipe", "seeds"])
