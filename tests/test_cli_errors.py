"""Bad input to every `minibert` command ends in one line naming the flag, key or file:line.

A table of bad inputs, each built in a temporary folder around one tiny BERT with a 40-token
WordPiece vocabulary, runs through `train.cli.main` in-process (fast): each must exit with code
2, print `minibert: error: ...` naming what was wrong, and print no traceback. A few run as
real subprocesses, to prove that nothing reaches the terminal but that one line. The data
readers' label rules and the config checks are tested directly below the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import torch

from train.cli import COMMANDS, main

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "good", "bad", "book", "was", "written",
         "by", "john", "is", "it", "very", ".", ",", "!", "?", "and", "to", "of", "in", "that",
         "this", "big", "small", "red", "runs", "ran"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
SENTENCES = ["the cat sat on the mat .", "the dog ran to the big red book .",
             "john is very good .", "a small cat runs !", "this book was written by john .",
             "it is bad .", "the big dog sat .", "that is a red mat ."]


def _tiny_config(**changes):
    from minibert import BertConfig

    return BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=24, max_position_embeddings=64,
                      **changes)


def _save(model, folder):
    from tokenizer import WordPieceTokenizer

    model.save_pretrained(folder)
    WordPieceTokenizer({t: i for i, t in enumerate(VOCAB)}).save(folder)
    return folder


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """The shared world: model folders and data files (read-only for the cases)."""
    return build_world(tmp_path_factory.mktemp("world"))


def build_world(root: Path) -> dict[str, str]:
    """Model folders and data files under `root`, by name (also used by the other CLI
    tests: test_cli_numbers.py, test_cli_refusals.py)."""
    import minibert

    torch.manual_seed(0)
    paths = {
        "bert": _save(minibert.BertModel(_tiny_config()), root / "bert"),
        "cls": _save(minibert.BertForSequenceClassification(_tiny_config()), root / "cls"),
        "mlm": _save(minibert.BertForMaskedLM(_tiny_config()), root / "mlm"),
    }
    rows = [f"{s},{i % 2}" for i, s in enumerate(SENTENCES * 2)]
    files = {
        "train.csv": "text,label\n" + "\n".join(rows) + "\n",
        "nan.csv": "text,label\nthe cat .,1\nthe dog .,NaN\n",
        "blank.csv": "text,label\nthe cat .,1\nthe dog ., \n",
        "one_class.csv": "text,label\n" + "\n".join(f"{s},1" for s in SENTENCES) + "\n",
        "no_label.csv": "text,target\nthe cat .,1\n",
        "ragged.csv": "text,label\nthe cat .,1\nthe,dog,0\n",
        "text.txt": "\n".join(SENTENCES) + "\n",
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "bad_utf8.csv").write_bytes(b"text,label\nthe cat .,1\nthe \xff dog .,0\n")
    (root / "bad_utf8.txt").write_bytes(b"fine line\nanother\nbroken \xfe here\n")
    (root / "huge.csv").write_text('text,label\n"' + "x" * 1_200_000 + ",1\n", encoding="utf-8")
    (root / "a_file").write_text("not a folder\n", encoding="utf-8")
    cola = root / "cola"
    cola.mkdir()
    for split in ("in_domain_train", "in_domain_dev", "out_of_domain_dev"):
        (cola / f"{split}.tsv").write_text("src\t1\t\tthe cat sat .\nsrc\t7\t*\tcat the .\n",
                                           encoding="utf-8")
    for key, value in [("num_attention_heads", 0), ("hidden_dropout_prob", 1.5)]:
        bad = root / f"bad_{key}"
        bad.mkdir()
        config = json.loads((paths["bert"] / "config.json").read_text())
        (bad / "config.json").write_text(json.dumps({**config, key: value}))
        paths[f"bad_{key}"] = bad
    (root / "bad_json").mkdir()
    (root / "bad_json" / "config.json").write_text('{"hidden_size": 16,\n oops}\n')
    tok = root / "tok"
    assert main(["train-tokenizer", "--type", "wordpiece", "--vocab-size", "60",
                 "--min-frequency", "1", str(root / "text.txt"), "--out", str(tok)]) == 0
    return {**{k: str(v) for k, v in paths.items()}, "root": str(root), "tok": str(tok),
            **{n: str(root / n) for n in [*files, "bad_utf8.csv", "bad_utf8.txt", "huge.csv",
                                          "a_file", "cola"]}}


def finetune(w, out, *extra):
    return ["finetune", "csv", "--model", w["bert"], "--train", w["train.csv"], "--out", out,
            "--epochs", "1", "--no-progress", "--precision", "fp32", *extra]


def pretrain(w, out, *extra):
    return ["pretrain", "--tokenizer", w["tok"], "--train", w["text.txt"], "--out", out,
            "--objective", "roberta", "--config", "kantaibert", "--hidden-size", "16",
            "--num-hidden-layers", "1", "--num-attention-heads", "2", "--intermediate-size",
            "24", "--vocab-size", "tokenizer", "--block-size", "32", "--no-progress",
            "--precision", "fp32", *extra]


# (id, argv from (w, a fresh output path), text the error line must contain)
CASES = [
    ("ft-batch-0", lambda w, o: finetune(w, o, "--batch-size", "0"), "--batch-size 0"),
    ("ft-epochs-0", lambda w, o: finetune(w, o, "--epochs", "0"), "--epochs 0"),
    ("ft-lr-0", lambda w, o: finetune(w, o, "--lr", "0"), "--lr 0"),
    ("ft-lr-nan", lambda w, o: finetune(w, o, "--lr", "nan"), "--lr nan"),
    ("ft-eps-neg", lambda w, o: finetune(w, o, "--eps", "-1"), "--eps"),
    ("ft-val-1.5", lambda w, o: finetune(w, o, "--val-fraction", "1.5"), "--val-fraction 1.5"),
    ("ft-val-0.99", lambda w, o: finetune(w, o, "--val-fraction", "0.99"), "--val-fraction 0.99"),
    ("ft-warmup-2", lambda w, o: finetune(w, o, "--warmup", "2"), "--warmup 2"),
    ("ft-seed-huge", lambda w, o: finetune(w, o, "--seeds", "9" * 25), "--seeds"),
    ("ft-seed-text", lambda w, o: finetune(w, o, "--seeds", "a,b"), "--seeds"),
    ("ft-split-seed", lambda w, o: finetune(w, o, "--split-seed", "-4"), "--split-seed"),
    ("ft-threads-0", lambda w, o: finetune(w, o, "--threads", "0"), "--threads 0"),
    ("ft-max-length", lambda w, o: finetune(w, o, "--max-length", "1000"), "--max-length 1000"),
    ("ft-batch-text", lambda w, o: finetune(w, o, "--batch-size", "abc"), "--batch-size"),
    ("ft-no-train", lambda w, o: ["finetune", "csv", "--model", w["bert"], "--out", o],
     "--train"),
    ("ft-train-missing", lambda w, o: finetune(w, o, "--train", o + ".csv"), "--train"),
    ("ft-eval-missing", lambda w, o: finetune(w, o, "--eval", o + ".csv"), "--eval"),
    ("ft-text-col", lambda w, o: finetune(w, o, "--text-col", "nope"), "train.csv:1"),
    ("ft-label-col", lambda w, o: finetune(w, o, "--train", w["no_label.csv"]), "no_label.csv:1"),
    ("ft-nan-label", lambda w, o: finetune(w, o, "--train", w["nan.csv"]), "nan.csv:3"),
    ("ft-blank-label", lambda w, o: finetune(w, o, "--train", w["blank.csv"]), "blank.csv:3"),
    ("ft-one-class", lambda w, o: finetune(w, o, "--train", w["one_class.csv"]),
     "one_class.csv: every label"),
    ("ft-ragged", lambda w, o: finetune(w, o, "--train", w["ragged.csv"]), "ragged.csv:3"),
    ("ft-utf8", lambda w, o: finetune(w, o, "--train", w["bad_utf8.csv"]), "bad_utf8.csv: line 3"),
    ("ft-huge-field", lambda w, o: finetune(w, o, "--train", w["huge.csv"]), "huge.csv:2"),
    ("ft-heads-0", lambda w, o: finetune(w, o, "--model", w["bad_num_attention_heads"]),
     "'num_attention_heads'"),
    ("ft-dropout", lambda w, o: finetune(w, o, "--model", w["bad_hidden_dropout_prob"]),
     "'hidden_dropout_prob'"),
    ("ft-bad-json", lambda w, o: finetune(w, o, "--model", w["root"] + "/bad_json"),
     "config.json: not valid JSON (line 2"),
    ("ft-out-file", lambda w, o: finetune(w, w["a_file"]), "a_file: is a file"),
    ("ft-out-under-file", lambda w, o: finetune(w, w["a_file"] + "/run"),
     "a_file that is a file"),
    ("ft-out-foreign", lambda w, o: finetune(w, w["cola"]), "did not write"),
    ("ft-cola-label", lambda w, o: ["finetune", "cola", "--model", w["bert"], "--data", w["cola"],
                                    "--out", o, "--no-progress"], "in_domain_train.tsv:2"),
    ("ft-cola-no-dir", lambda w, o: ["finetune", "cola", "--model", w["bert"], "--data",
                                     o + "-none", "--out", o], "--data"),
    ("pt-grad-accum", lambda w, o: pretrain(w, o, "--grad-accum", "0"), "--grad-accum 0"),
    ("pt-mlm-0", lambda w, o: pretrain(w, o, "--mlm-probability", "0"), "--mlm-probability 0"),
    ("pt-mlm-2", lambda w, o: pretrain(w, o, "--mlm-probability", "2"), "--mlm-probability 2"),
    ("pt-seed", lambda w, o: pretrain(w, o, "--seed", "-1"), "--seed -1"),
    ("pt-heads-0", lambda w, o: pretrain(w, o, "--num-attention-heads", "0"),
     "--num-attention-heads 0"),
    ("pt-dropout", lambda w, o: pretrain(w, o, "--hidden-dropout-prob", "1"),
     "--hidden-dropout-prob 1"),
    ("pt-vocab", lambda w, o: pretrain(w, o, "--vocab-size", "lots"), "--vocab-size lots"),
    ("pt-config", lambda w, o: pretrain(w, o, "--config", "bert-huge"), "--config bert-huge"),
    ("pt-tokenizer", lambda w, o: pretrain(w, o, "--tokenizer", o + "-tok"), "--tokenizer"),
    ("pt-utf8", lambda w, o: pretrain(w, o, "--train", w["bad_utf8.txt"]), "bad_utf8.txt: line 3"),
    ("pt-block", lambda w, o: pretrain(w, o, "--block-size", "600"), "--block-size 600"),
    ("tok-vocab-0", lambda w, o: ["train-tokenizer", w["text.txt"], "--vocab-size", "0",
                                  "--out", o], "--vocab-size 0"),
    ("tok-missing", lambda w, o: ["train-tokenizer", o + ".txt", "--out", o], ".txt: no such"),
    ("pr-batch-0", lambda w, o: ["predict", w["cls"], "hi", "--batch-size", "0"],
     "--batch-size 0"),
    ("pr-max-length", lambda w, o: ["predict", w["cls"], "--max-length", "65", "hi"],
     "--max-length 65"),
    ("pr-untrained", lambda w, o: ["predict", w["bert"], "the cat ."], "classifier"),
    ("pr-no-config", lambda w, o: ["predict", w["root"], "hi"], "no config.json"),
    ("fm-no-config", lambda w, o: ["fill-mask", w["root"], "the [MASK] ."], "no config.json"),
    ("gen-no-config", lambda w, o: ["generate", w["root"], "the"], "no config.json"),
    ("pr-csv-missing", lambda w, o: ["predict", w["cls"], "--csv", o + ".csv"], "--csv"),
    ("pr-csv-col", lambda w, o: ["predict", w["cls"], "--csv", w["train.csv"], "--text-col",
                                 "nope"], "train.csv:1"),
    ("pr-out-exists", lambda w, o: ["predict", w["cls"], "--csv", w["train.csv"], "--out",
                                    w["text.txt"]], "--overwrite"),
    ("pr-out-no-csv", lambda w, o: ["predict", w["cls"], "hi", "--out", o], "--csv"),
    ("fm-top-k", lambda w, o: ["fill-mask", w["mlm"], "the [MASK] .", "--top-k", "-3"],
     "--top-k -3"),
    ("fm-no-head", lambda w, o: ["fill-mask", w["bert"], "the [MASK] ."], "cls.predictions"),
    ("fm-no-mask", lambda w, o: ["fill-mask", w["mlm"], "the cat ."], "exactly one mask"),
    ("gen-temp", lambda w, o: ["generate", w["mlm"], "the", "--temperature", "-1"],
     "--temperature -1"),
    ("gen-top-p", lambda w, o: ["generate", w["mlm"], "the", "--top-p", "0"], "--top-p 0"),
    ("gen-tokens", lambda w, o: ["generate", w["mlm"], "the", "--max-new-tokens", "0"],
     "--max-new-tokens 0"),
    ("gen-top-k", lambda w, o: ["generate", w["mlm"], "the", "--top-k", "0"], "--top-k 0"),
    ("gen-masked-lm", lambda w, o: ["generate", w["mlm"], "the"], "is_decoder"),
    ("params-heads-0", lambda w, o: ["params", w["bad_num_attention_heads"]],
     "'num_attention_heads'"),
]


@pytest.mark.parametrize("argv, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(w, argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        rc = main(argv(w, str(tmp_path / "out")))
    except SystemExit as e:  # argparse's own errors exit from parse_args
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(("minibert: error:", "minibert ")) and "error:" in last, err
    assert expected in last, err



def test_every_command_that_reads_a_model_takes_its_hub_name(w, tmp_path, capsys, monkeypatch):
    """A model argument is a folder or a Hugging Face name, as `finetune --model` takes it:
    each command finds `org/NAME` in the Hugging Face cache."""
    import shutil

    cache = tmp_path / "hub"
    for name in ("cls", "mlm"):
        shutil.copytree(w[name], cache / f"models--org--tiny-{name}" / "snapshots" / "abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for argv in (["predict", "org/tiny-cls", "the cat ."],
                 ["fill-mask", "org/tiny-mlm", "the [MASK] ."],
                 ["explain", "org/tiny-mlm", "the cat .", "--out", str(tmp_path / "p.html")],
                 ["params", "org/tiny-mlm"]):
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    assert main(["generate", "org/tiny-mlm", "the"]) == 2  # found, then refused as a masked LM
    assert "tiny-mlm" in capsys.readouterr().err.strip().splitlines()[-1]
    for command, made_by in (("predict", "`minibert finetune`"), ("fill-mask", "`minibert "
                             "pretrain`"), ("generate", "`minibert pretrain --objective causal`"),
                             ("explain", "`minibert pretrain` or `minibert finetune`")):
        assert main([command, "org/no-such-model", "the [MASK] ."]) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert "'org/no-such-model'" in last and made_by in last, last

def test_the_table_is_large_enough():
    assert len(CASES) >= 40


def test_offline_cola_names_the_way_out(w, tmp_path, capsys, monkeypatch):
    from train.data import download

    def offline(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.delenv("MINIBERT_DATA", raising=False)
    monkeypatch.setattr(download, "CHECKOUT_DATA", None)  # no ../shared/data either
    monkeypatch.setenv("MINIBERT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(download.cola_dir.__kwdefaults__, "opener", offline)
    rc = main(["finetune", "cola", "--model", w["bert"], "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "--data DIR" in err and "name resolution" in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_fails_at_once(w, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    assert main(finetune(w, str(ro / "run"))) == 2
    assert "cannot write there" in capsys.readouterr().err


def test_unwritable_out_fails_before_any_work(w, tmp_path, capsys, monkeypatch):
    """The same check as above, for runs as root: the test write is made to fail."""
    import tempfile

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert main(finetune(w, str(tmp_path / "run"))) == 2
    out, err = capsys.readouterr()
    assert "--out" in err and "cannot write there (Permission denied)" in err, err
    assert "fine-tuning" not in out, "training must not start"


def test_debug_shows_the_traceback(w, tmp_path):
    from train.cli.errors import UsageError

    with pytest.raises(UsageError, match="--seeds 1,1"):
        main(["--debug", *finetune(w, str(tmp_path / "o"), "--seeds", "1,1")])


def test_positionals_may_follow_options(w, capsys):
    assert main(["predict", w["cls"], "--max-length", "16", "the cat sat ."]) == 0
    assert "the cat sat ." in capsys.readouterr().out


def test_allow_untrained_head_warns_loudly(w, capsys):
    assert main(["predict", w["bert"], "--allow-untrained-head", "the cat ."]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and "newly initialised" in captured.err
    assert "the cat ." in captured.out


@pytest.mark.parametrize("argv, expected", [
    (lambda w, o: finetune(w, o, "--batch-size", "0"), "--batch-size 0"),
    (lambda w, o: ["fill-mask", w["bert"], "the [MASK] ."], "newly initialised"),
], ids=["flag", "head"])
def test_no_traceback_reaches_the_terminal(w, argv, expected, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "HF_HUB_OFFLINE": "1"}
    env.pop("MINIBERT_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "train.cli", *argv(w, str(tmp_path / "o"))],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minibert: error:") and expected in lines[0]


# ---- nothing is lost (every command x every kind of --out: tests/test_out_matrix.py) -------

def test_output_follows_the_umask(w, tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert main(finetune(w, str(out), "--batch-size", "8")) == 0
    finally:
        os.umask(old)
    for path in (out, out / "model.safetensors", out / "config.json", out / "vocab.txt"):
        expected = 0o755 if path.is_dir() else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_a_second_writer_on_one_out_is_refused(w, tmp_path, capsys):
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "train.cli",
                              *finetune(w, str(out), "--epochs", "100000", "--batch-size", "8")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        deadline = time.monotonic() + 120
        while not (out / ".minibert.lock").is_file() and time.monotonic() < deadline:
            assert first.poll() is None, "the first writer stopped early"
            time.sleep(0.2)
        assert main(finetune(w, str(out))) == 2
        err = capsys.readouterr().err
        assert f"in use by process {first.pid}" in err and str(out) in err, err
    finally:
        first.kill()
        first.wait()
    assert main(finetune(w, str(out), "--batch-size", "8")) == 0  # its stale lock taken over


def test_ctrl_c_in_finetune_says_where_the_best_model_is(w, tmp_path, capsys, monkeypatch):
    import train.finetune

    real, calls = train.finetune.collate, []

    def collate_then_interrupt(*a, **k):  # 14 training rows, batch 8: 2 steps per epoch
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train.finetune, "collate", collate_then_interrupt)
    out = tmp_path / "run"
    assert main(finetune(w, str(out), "--epochs", "3", "--batch-size", "8")) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("minibert: interrupted at epoch 2 step 3; best model so far "
                              "(epoch 1, val MCC "), err
    assert err[-1].endswith(f"is in {out}")
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1]
    assert metrics["interrupted"] == {"epoch": 2, "step": 3}
    assert (out / "model.safetensors").is_file()


# ---- the rules behind the messages ------------------------------------------------------------

def test_numeric_labels_are_one_class_per_number(tmp_path):
    from train.data.csv_file import read_text_dataset

    path = tmp_path / "d.csv"
    path.write_text("text,label\na,1\nb,1.0\nc,01\nd,0\ne,0.0\nf,spam\n", encoding="utf-8")
    ds = read_text_dataset(path)
    assert ds.label2id == {"0": 0, "1": 1, "spam": 2}
    assert ds.labels == [1, 1, 1, 0, 0, 2]
    # a model trained with "1.0" in its map still reads files that write "1"
    again = read_text_dataset(path, label2id={"0.0": 0, "1.0": 1, "spam": 2})
    assert again.labels == ds.labels


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_non_finite_labels_are_refused(tmp_path, value):
    from train.data.cola import DataError
    from train.data.csv_file import read_text_dataset

    path = tmp_path / "d.csv"
    path.write_text(f"text,label\na,1\nb,{value}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.csv:3: label"):
        read_text_dataset(path)


@pytest.mark.parametrize("key, value", [("num_attention_heads", 0), ("hidden_size", -1),
                                        ("attention_probs_dropout_prob", 1.0),
                                        ("layer_norm_eps", 0.0), ("pad_token_id", 99)])
def test_config_names_the_bad_key(key, value):
    from minibert.config import BertConfig, ConfigError

    with pytest.raises(ConfigError, match=f"'{key}'"):
        BertConfig.from_dict({**_tiny_config().to_dict(), key: value}, source="x.json")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_closed_output_pipe_ends_any_command_quietly(name, capsys, monkeypatch):
    """Every command runs through one error handler: a reader that stops reading (`| head`)
    ends the command with the shell's code for a closed pipe and nothing on stderr."""
    import importlib

    from train import cli

    def run(args):
        print("first line")
        raise BrokenPipeError(32, "Broken pipe")

    module = importlib.import_module(COMMANDS[name][0])
    monkeypatch.setattr(cli, "_run", lambda name, module, args: module.run(args))
    monkeypatch.setattr(module, "run", run)
    rc = cli._run_reporting_errors(name, module, object(), debug=False)
    assert rc == cli.PIPE_CLOSED == 141
    assert capsys.readouterr().err == ""


def test_params_into_a_closed_pipe_exits_quietly():
    """The real thing, as `| head` leaves it: the reader has gone before the table is out."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "train.cli", "params", "bert-base-uncased"],
                              stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=120,
                              check=False)
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr.decode() == "", proc.stderr.decode()
