"""Ambiguous data and broken environments are refused, not resolved silently, by every command.

Two tables in the style of tests/test_cli_errors.py (same tiny world, in-process calls to
`train.cli.main`): DATA holds inputs that could be read in more than one way or that would
give a confident wrong answer (a column named twice, a label read as text, two --eval files
with one name, NaN or int8 weights, a tokenizer that does not fit the model, a manifest
pointing outside its folder); ERRORS holds what used to end in a traceback (a device this
machine lacks, resuming into another architecture, prepare-data's own errors). Each must end
in one `minibert: error:` line naming the file, key or flag, exit code 2; the cases marked
`early` must be refused before their --out folder is created. Below the tables: SIGTERM acts
as Ctrl-C, a second Ctrl-C while saving ends quietly, the [UNK] warning, --pair with stdin,
and --device / --precision taken by every command that runs a model.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from test_cli_errors import VOCAB, _save, _tiny_config, build_world, finetune, pretrain

from train.cli import main

CUDA = "cuda:99" if torch.cuda.is_available() else "cuda"


def _poisoned(model, folder: Path, how: str) -> Path:
    """Save `model`, then rewrite its classifier (or first) weight as NaN or int8."""
    from safetensors.torch import load_file, save_file

    _save(model, folder)
    tensors = load_file(str(folder / "model.safetensors"))
    key = next((k for k in tensors if k.startswith("classifier.")), next(iter(tensors)))
    if how == "nan":
        tensors[key].view(-1)[0] = math.nan
    else:
        tensors[key] = (tensors[key] * 100).to(torch.int8)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def _manifests(root: Path, data: Path) -> dict[str, Path]:
    """Copies of a prepared data folder, each with a manifest.json broken one way."""
    good = json.loads((data / "manifest.json").read_text())
    variants = {
        "dotdot": {**good, "shards": [{**good["shards"][0], "name": "../outside"}]},
        "absolute": {**good, "shards": [{**good["shards"][0], "name": "/etc"}]},
        "no_shards": {k: v for k, v in good.items() if k != "shards"},
        "list": [good],
    }
    found = {}
    for name, manifest in [*variants.items(), ("bad_json", None)]:
        copy = root / f"data_{name}"
        shutil.copytree(data, copy)
        text = json.dumps(manifest, indent=1) if manifest is not None else '{\n "format":\n}\n'
        (copy / "manifest.json").write_text(text)
        found[f"data_{name}"] = copy
    return found


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """test_cli_errors' world, plus the ambiguous and broken inputs of this file's tables."""
    import minibert

    world = build_world(tmp_path_factory.mktemp("world"))
    root = Path(world["root"])
    rows = "the cat sat .,1\nthe dog ran .,0\n"
    files = {"dup_label.csv": "text,label,label\n" + rows.replace("\n", ",0\n"),
             "dup_text.csv": "text,text,label\n" + rows.replace(".,", ".,x,"),
             "a/test.csv": "text,label\n" + rows, "b/test.csv": "text,label\n" + rows,
             "empty.txt": "", "blank.txt": "\n  \n\n",
             "other.txt": "".join(f"the {w} is red .\n" for w in ("cat", "dog", "mat") * 4)}
    for name, text in files.items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    torch.manual_seed(0)
    cls = minibert.BertForSequenceClassification
    causal = _tiny_config(model_type="roberta", is_decoder=True)
    models = {
        "nan_cls": _poisoned(cls(_tiny_config()), root / "nan_cls", "nan"),
        "int8_cls": _poisoned(cls(_tiny_config()), root / "int8_cls", "int8"),
        "nan_mlm": _poisoned(minibert.BertForMaskedLM(_tiny_config()), root / "nan_mlm", "nan"),
        "causal": _save(minibert.RobertaForCausalLM(causal), root / "causal"),
        "nan_causal": _poisoned(minibert.RobertaForCausalLM(causal), root / "nan_causal", "nan"),
    }
    big = _save(cls(_tiny_config()), root / "big_tok")  # vocab.txt longer than the table
    with open(big / "vocab.txt", "a", encoding="utf-8") as f:
        f.write("".join(f"extra{i}\n" for i in range(10)))
    unk = _save(cls(_tiny_config()), root / "unk_tok")  # only the special tokens
    (unk / "vocab.txt").write_text("\n".join(VOCAB[:5]) + "\n", encoding="utf-8")
    data = root / "data"
    assert main(["prepare-data", "--tokenizer", world["tok"], "--out", str(data),
                 "--workers", "1", "--no-progress", world["text.txt"]]) == 0
    pt = root / "pt"
    assert main(pretrain(world, str(pt), "--batch-size", "8", "--max-examples", "8")) == 0
    paths = {**models, "big_tok": big, "unk_tok": unk, "data": data, "pt": pt,
             **_manifests(root, data), **{n: root / n for n in files}}
    return {**world, **{k: str(v) for k, v in paths.items()}}


# (id, argv from (w, a fresh output path), text the error line must contain, early)
DATA = [
    ("ft-header-twice", lambda w, o: finetune(w, o, "--train", w["dup_label.csv"]),
     "dup_label.csv:1: the header names column 'label' 2 times", False),
    ("ft-text-twice", lambda w, o: finetune(w, o, "--train", w["dup_text.csv"]),
     "dup_text.csv:1: the header names column 'text' 2 times", False),
    ("ft-text-is-label", lambda w, o: finetune(w, o, "--text-col", "label"),
     "--text-col and --label-col both name column 'label'", True),
    ("ft-pair-is-label", lambda w, o: finetune(w, o, "--pair-col", "label"),
     "--label-col and --pair-col both name column 'label'", True),
    ("ft-eval-one-name", lambda w, o: finetune(w, o, "--eval", w["a/test.csv"],
                                               w["b/test.csv"]), "both would be reported as "
     "'test'", True),
    ("ft-nan-model", lambda w, o: finetune(w, o, "--model", w["nan_cls"]),
     "NaN or infinite", False),
    ("ft-big-tokenizer", lambda w, o: finetune(w, o, "--model", w["big_tok"]),
     "embedding rows", False),
    ("pr-header-twice", lambda w, o: ["predict", w["cls"], "--csv", w["dup_text.csv"]],
     "dup_text.csv:1: the header names column 'text'", True),
    ("pr-text-is-pair", lambda w, o: ["predict", w["cls"], "--csv", w["train.csv"],
                                      "--pair-col", "text"], "both name column 'text'", True),
    ("pr-pair-with-csv", lambda w, o: ["predict", w["cls"], "--csv", w["train.csv"], "--pair",
                                       "x"], "--pair-col", True),
    ("pr-csv-and-sentences", lambda w, o: ["predict", w["cls"], "the cat .", "--csv",
                                           w["train.csv"]], "not both", True),
    ("pr-nan", lambda w, o: ["predict", w["nan_cls"], "hi"],
     "model.safetensors: key 'classifier.bias' holds 1 NaN or infinite value", True),
    ("pr-int8", lambda w, o: ["predict", w["int8_cls"], "hi"], "holds torch.int8 values", True),
    ("pr-big-tokenizer", lambda w, o: ["predict", w["big_tok"], "hi"],
     "tokenizer has 47 tokens but the model has 37 embedding rows", True),
    ("fm-causal", lambda w, o: ["fill-mask", w["causal"], "the [MASK] ."], "is a causal LM",
     True),
    ("fm-nan", lambda w, o: ["fill-mask", w["nan_mlm"], "the [MASK] ."], "NaN", True),
    ("gen-nan", lambda w, o: ["generate", w["nan_causal"], "the"], "NaN", True),
    ("ex-nan", lambda w, o: ["explain", w["nan_cls"], "the cat", "--out", o], "NaN", True),
    ("ex-int8", lambda w, o: ["explain", w["int8_cls"], "the cat", "--out", o], "torch.int8",
     True),
    ("ex-big-tokenizer", lambda w, o: ["explain", w["big_tok"], "the", "--out", o],
     "embedding rows", True),
    ("tok-bpe-10", lambda w, o: ["train-tokenizer", "--type", "bpe", "--vocab-size", "10",
                                 w["text.txt"], "--out", o], "below the 261 tokens", True),
    ("tok-wordpiece-5", lambda w, o: ["train-tokenizer", "--type", "wordpiece", "--vocab-size",
                                      "5", w["text.txt"], "--out", o], "no room", True),
    ("ft-cola-with-train", lambda w, o: ["finetune", "cola", "--model", w["bert"], "--train",
                                         w["train.csv"], "--out", o], "--train is for", True),
    ("pr-empty-sentence", lambda w, o: ["predict", w["cls"], "the cat .", " "],
     "sentence 2 is empty", True),
    ("pr-no-id-col", lambda w, o: ["predict", w["cls"], "--csv", w["train.csv"], "--id-col",
                                   "ID"], "train.csv:1: no id column 'ID'", True),
    ("pr-target-is-id", lambda w, o: ["predict", w["cls"], "--csv", w["train.csv"],
                                      "--target-col", "id"], "--target-col id is also", True),
    ("tok-special-twice", lambda w, o: ["train-tokenizer", w["text.txt"], "--out", o,
                                        "--special-tokens", "<s>", "<s>"], "--special-tokens",
     True),
    ("pt-shard-dotdot", lambda w, o: pretrain(w, o, "--data", w["data_dotdot"]),
     "shards[0] name '../outside' is not a shard folder name", True),
    ("pt-shard-absolute", lambda w, o: pretrain(w, o, "--data", w["data_absolute"]),
     "shards[0] name '/etc'", True),
    ("pt-no-shards", lambda w, o: pretrain(w, o, "--data", w["data_no_shards"]),
     "data_no_shards/manifest.json: key 'shards' is missing", True),
    ("pt-manifest-list", lambda w, o: pretrain(w, o, "--data", w["data_list"]),
     "manifest.json: expected a JSON object", True),
    ("pt-manifest-json", lambda w, o: pretrain(w, o, "--data", w["data_bad_json"]),
     "data_bad_json/manifest.json: not valid JSON (line 3", True),
]

ERRORS = [
    *[(f"{cmd}-device-{dev}", argv, f"--device {dev}", True)
      for dev in ("cdua", CUDA, "mps", "cuda:x")
      for cmd, argv in [
          ("ft", lambda w, o, d=dev: finetune(w, o, "--device", d)),
          ("pr", lambda w, o, d=dev: ["predict", w["cls"], "hi", "--device", d]),
          ("pt", lambda w, o, d=dev: pretrain(w, o, "--device", d)),
          ("fm", lambda w, o, d=dev: ["fill-mask", w["mlm"], "the [MASK] .", "--device", d]),
          ("gen", lambda w, o, d=dev: ["generate", w["causal"], "the", "--device", d]),
          ("ex", lambda w, o, d=dev: ["explain", w["mlm"], "the cat .", "--out", o + ".html",
                                      "--device", d])]
      if dev != "mps" or not torch.backends.mps.is_available()],
    ("pt-resume-hidden", lambda w, o: pretrain(w, w["pt"], "--batch-size", "8", "--max-examples",
                                               "8", "--resume", "--hidden-size", "32"),
     "hidden_size=16, this run builds hidden_size=32", False),
    ("pt-resume-lr", lambda w, o: pretrain(w, w["pt"], "--batch-size", "8", "--max-examples",
                                           "8", "--resume", "--lr", "0.001"),
     "was written with lr=5e-05, this run has lr=0.001", False),
    # resuming on other data: the batches would silently differ from the interrupted run's
    *[(f"pt-resume-{name}", lambda w, o, f=flags: pretrain(w, w["pt"], "--batch-size", "8",
                                                          "--max-examples", "8", "--resume",
                                                          *[w.get(x, x) for x in f]),
       expected, False)
      for name, flags, expected in [
          ("block-size", ["--block-size", "16"], "block_size=32, this run has block_size=16"),
          ("dataset", ["--dataset", "grouped"], "dataset='LineBlocks', this run has "
                                                "dataset='PackedBlocks'"),
          ("text", ["--train", "other.txt"], "was written with corpus="),
          ("masking", ["--mlm-probability", "0.3"], "mlm_probability=0.15, this run has "
                                                     "mlm_probability=0.3")]],
    # a flag the objective has no use for would be silently ignored
    ("pt-bert-dataset", lambda w, o: pretrain(w, o, "--objective", "bert", "--dataset",
                                              "grouped"), "--dataset: the bert objective", True),
    ("pt-causal-whole-word", lambda w, o: pretrain(w, o, "--objective", "causal",
                                                   "--whole-word"), "--whole-word: the causal",
     True),
    ("pt-causal-mlm", lambda w, o: pretrain(w, o, "--objective", "causal", "--mlm-probability",
                                            "0.2"), "--mlm-probability: the causal", True),
    ("pt-bert-block-4", lambda w, o: pretrain(w, o, "--objective", "bert", "--block-size", "4"),
     "--block-size 4: the bert objective needs at least 5", True),
    ("pt-empty-text", lambda w, o: pretrain(w, o, "--train", w["empty.txt"]),
     "empty.txt: no text (only blank lines, or none)", True),
    ("pt-blank-text-grouped", lambda w, o: pretrain(w, o, "--train", w["blank.txt"], "--dataset",
                                                    "grouped"), "blank.txt: no text", True),
    ("pt-bert-one-document", lambda w, o: pretrain(w, o, "--objective", "bert", "--train",
                                                   w["other.txt"]),
     "other.txt: the bert objective pairs sentences across documents and needs at least 2", True),
    ("pt-bert-one-document-data", lambda w, o: pretrain(w, o, "--objective", "bert", "--data",
                                                        w["data"]), "found 1", True),
    ("pt-too-big", lambda w, o: pretrain(w, o, "--hidden-size", "16384", "--intermediate-size",
                                         "65536", "--num-hidden-layers", "32",
                                         "--num-attention-heads", "16"),
     "parameters", False),
    ("gen-no-room", lambda w, o: ["generate", w["causal"], "the cat " * 40], "no new token fits",
     True),
    ("gen-too-many", lambda w, o: ["generate", w["causal"], "the", "--max-new-tokens", "63"],
     "so at most 61 new tokens fit", True),
    ("ex-max-length", lambda w, o: ["explain", w["mlm"], "the", "--max-length", "65", "--out",
                                    o], "--max-length 65", True),
    ("params-head", lambda w, o: ["params", w["bert"], "--head", "xyz"], "--head 'xyz'", True),
    ("pd-missing", lambda w, o: ["prepare-data", "--tokenizer", w["tok"], "--out", o,
                                 o + ".txt"], ".txt: no such file", True),
    ("pd-utf8", lambda w, o: ["prepare-data", "--tokenizer", w["tok"], "--out", o, "--workers",
                              "1", w["bad_utf8.txt"]], "bad_utf8.txt: line 3", False),
    ("pd-no-tokenizer", lambda w, o: ["prepare-data", "--tokenizer", w["cola"], "--out", o,
                                      w["text.txt"]], "cola: no tokenizer here", True),
]


def _drop_train(argv: list) -> list:
    """pretrain(...) gives --train FILE; a case with --data takes it out."""
    if "--data" not in argv:
        return argv
    i = argv.index("--train")
    return argv[:i] + argv[i + 2:]


@pytest.mark.parametrize("argv, expected, early", [c[1:] for c in DATA + ERRORS],
                         ids=[c[0] for c in DATA + ERRORS])
def test_refused_in_one_line(w, argv, expected, early, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    rc = main(_drop_train(argv(w, str(out))))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("minibert: error:") and expected in last, err
    if early:
        assert not out.exists(), f"{out} was created before the refusal"


def test_the_tables_cover_every_class():
    assert len(DATA) >= 30 and len(ERRORS) >= 20


# ---- interrupts -------------------------------------------------------------------------------

def test_sigterm_in_finetune_keeps_the_best_epoch(w, tmp_path, capsys, monkeypatch):
    import train.finetune

    real = train.finetune.train_step

    def sigterm_at_step_3(model, batch, state, cfg, step=0):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(model, batch, state, cfg, step)

    monkeypatch.setattr(train.finetune, "train_step", sigterm_at_step_3)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "run"
    assert main(finetune(w, str(out), "--epochs", "3", "--batch-size", "8")) == 130
    assert signal.getsignal(signal.SIGTERM) is before
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("minibert: interrupted at epoch 2 step 2; best model so far"), err
    assert (out / "model.safetensors").is_file()


def test_sigterm_in_pretrain_checkpoints_and_resumes(w, tmp_path, capsys, monkeypatch):
    import train.pretrain

    real = train.pretrain.log_step

    def sigterm_after_step_2(run, *a):
        real(run, *a)
        if run.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(train.pretrain, "log_step", sigterm_after_step_2)
    out = tmp_path / "pt"
    argv = pretrain(w, str(out), "--batch-size", "2", "--max-examples", "8")
    assert main(argv) == 130
    assert "checkpoint written at step 2" in capsys.readouterr().out
    assert (out / "checkpoints" / "step-00000002").is_dir()
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert (out / "model.safetensors").is_file()


DRIVER = """
import atexit, os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # even in a background job
import train.pretrain as p
from train.cli import main
real_log, real_save = p.log_step, p.save_checkpoint
def log_then_ctrl_c(run, *a):
    real_log(run, *a)
    os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: finish the step, then save
def ctrl_c_while_saving(*a, **k):
    os.kill(os.getpid(), signal.SIGINT)  # the second, while the checkpoint is written
    return real_save(*a, **k)
def ctrl_c_while_exiting():
    os.kill(os.getpid(), signal.SIGINT)  # and a third, during the interpreter's clean-up
    time.sleep(0.2)
p.log_step, p.save_checkpoint = log_then_ctrl_c, ctrl_c_while_saving
atexit.register(ctrl_c_while_exiting)
sys.argv = ["minibert", *sys.argv[1:]]
sys.exit(main())
"""


def test_ctrl_c_while_saving_ends_quietly(w, tmp_path):
    out = tmp_path / "pt"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.pop("MINIBERT_DEBUG", None)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(DRIVER),
                           *pretrain(w, str(out), "--batch-size", "2", "--max-examples", "8")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "interrupted before step 2 finished or was saved; no checkpoint was written" \
        in proc.stdout, proc.stdout
    assert not any((out / "checkpoints").glob("step-*")), "no half-written checkpoint"


# ---- warnings and stdin -----------------------------------------------------------------------

def test_a_foreign_vocabulary_warns_with_the_unknown_rate(w, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert main(["predict", w["unk_tok"], "--csv", w["train.csv"], "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "minibert: warning: 100% of the tokens of" in err and "are [UNK]" in err, err
    assert "5 tokens, for a model with 37 embedding rows" in err
    assert main(["predict", w["cls"], "--csv", w["train.csv"]]) == 0
    assert "warning" not in capsys.readouterr().err


def test_pair_is_used_for_sentences_from_stdin(w, capsys, monkeypatch):
    import train.cli.cmd_predict as cmd

    real, seen = cmd.classify, []

    def spy(model, tokenizer, texts, pairs, *a, **k):
        seen.append((texts, pairs))
        return real(model, tokenizer, texts, pairs, *a, **k)

    monkeypatch.setattr(cmd, "classify", spy)
    monkeypatch.setattr(sys, "stdin", io.StringIO("the cat sat .\n\na dog ran .\n"))
    assert main(["predict", w["cls"], "--pair", "a big dog ran"]) == 0
    assert seen == [(["the cat sat ."], ["a big dog ran"]), (["a dog ran ."], ["a big dog ran"])]
    assert main(["predict", w["cls"], "the cat sat .", "--pair", "a big dog ran"]) == 0
    assert seen[-1] == (["the cat sat ."], ["a big dog ran"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == lines[2], "the same sentence and pair from stdin and from the arguments"


@pytest.mark.parametrize("argv", [
    lambda w, o: ["predict", w["cls"], "the cat ."],
    lambda w, o: ["fill-mask", w["mlm"], "the [MASK] ."],
    lambda w, o: ["generate", w["causal"], "the", "--max-new-tokens", "3"],
    lambda w, o: ["explain", w["mlm"], "the cat .", "--out", o + ".html"]],
    ids=["predict", "fill-mask", "generate", "explain"])
def test_every_command_that_runs_a_model_takes_device_and_precision(w, argv, tmp_path, capsys):
    """The commands that only run a model take --device and --precision as training does
    (train/cli/flags.add_device_flags); bf16 runs under autocast on the CPU."""
    for precision in ("fp32", "bf16"):
        rc = main(argv(w, str(tmp_path / precision)) + ["--device", "cpu", "--precision",
                                                       precision])
        out, err = capsys.readouterr()
        assert rc == 0 and out.strip(), err
