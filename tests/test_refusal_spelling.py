"""A refusal names a setting as the person who started the run spells it (`train/spelling.py`).

One table of refusals the training loops raise, each reached twice: through the `minibert` CLI
(the error line names the flag, `--batch-size 64`) and through `Trainer` (the message names the
TrainingArguments field, `per_device_train_batch_size=64`, and no `--` flag at all). The tiny
world is test_cli_errors'; the Trainer trains the same text with the same tokenizer.
"""

from __future__ import annotations

import pytest
import torch
from test_cli_errors import build_world, pretrain

from minibert import BertConfig, BertForMaskedLM, BertForSequenceClassification
from tokenizer import load_tokenizer
from train import (
    DataCollatorForLanguageModeling,
    LineByLineTextDataset,
    Trainer,
    TrainingArguments,
    spelling,
)
from train.cli import main
from train.optim import NonFiniteLossError
from train.pretrain import PretrainArgs
from train.pretrain import pretrain as pretrain_loop
from train.resume import ResumeError


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"))


def _config(tok) -> BertConfig:
    return BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=24, max_position_embeddings=64)


def _trainer(w, out, model=None, **changes) -> Trainer:
    tok = load_tokenizer(w["tok"])
    torch.manual_seed(0)
    data = LineByLineTextDataset(tokenizer=tok, file_path=w["text.txt"], block_size=32)
    args = TrainingArguments(output_dir=str(out), use_cpu=True, disable_tqdm=True,
                             **{"per_device_train_batch_size": 4, "max_steps": 2, **changes})
    return Trainer(model=model or BertForMaskedLM(_config(tok)), args=args, train_dataset=data,
                   data_collator=DataCollatorForLanguageModeling(tok, mlm=True))


def _cli_error(argv, capsys) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def _raised(kind, run) -> str:
    with pytest.raises(kind) as caught:
        run()
    return str(caught.value)


def _resumed(w, out, **changes):
    _trainer(w, out).train()
    return _trainer(w, out, **changes).train(resume_from_checkpoint=True)


def _diverge_as_cli(w, out):
    """The loop the CLI calls, with the CLI's spelling and a learning rate past its cap."""
    t = _trainer(w, out)
    pretrain_loop(t.model, t.train_dataset, t.data_collator,
                  PretrainArgs(lr=1e9, batch_size=4, max_steps=4, device="cpu",
                               precision="fp32", progress=False, plot=False, front_end="cli"))


def _poisoned_classifier(w, out):
    """A classifier whose learning rate throws the weights past what fp32 holds."""
    tok = load_tokenizer(w["tok"])
    model = BertForSequenceClassification(_config(tok))
    rows = [{"input_ids": torch.tensor(tok.encode("the cat sat .").ids),
             "attention_mask": torch.ones(len(tok.encode("the cat sat .").ids),
                                          dtype=torch.long),
             "labels": torch.tensor(i % 2)} for i in range(8)]
    args = TrainingArguments(output_dir=str(out), use_cpu=True, disable_tqdm=True,
                             learning_rate=1e9, per_device_train_batch_size=4, max_steps=4)
    return Trainer(model=model, args=args, train_dataset=rows)


# (id, CLI refusal from (w, out, capsys), Trainer refusal from (w, out), the CLI's words,
#  the Trainer's words)
CASES = [
    ("resume-other-lr",
     lambda w, o, c: (main(pretrain(w, str(o), "--batch-size", "4", "--max-steps", "2")),
                      _cli_error(pretrain(w, str(o), "--batch-size", "4", "--max-steps", "2",
                                          "--resume", "--lr", "0.001"), c))[1],
     lambda w, o: _raised(ResumeError, lambda: _resumed(w, o, learning_rate=1e-3)),
     "resume with the same --lr", "resume with the same learning_rate"),
    ("resume-nothing-there",
     lambda w, o, c: _cli_error(pretrain(w, str(o), "--resume"), c),
     lambda w, o: _raised(ResumeError,
                          lambda: _trainer(w, o).train(resume_from_checkpoint=True)),
     "--resume: no checkpoint", "resume_from_checkpoint=True: no checkpoint"),
    ("pretrain-diverges",
     # the CLI caps --lr at 1, so its spelling is driven through the loop it calls
     lambda w, o, c: _raised(NonFiniteLossError, lambda: _diverge_as_cli(w, o)),
     lambda w, o: _raised(NonFiniteLossError,
                          _trainer(w, o, learning_rate=1e9, max_steps=4).train),
     "try a lower --lr", "try a lower learning_rate"),
]


@pytest.mark.parametrize("cli, trainer, said_cli, said_trainer", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_front_end_hears_its_own_names(w, tmp_path, capsys, cli, trainer, said_cli,
                                            said_trainer):
    from_cli = cli(w, tmp_path / "cli", capsys)
    assert said_cli in from_cli, from_cli
    from_trainer = trainer(w, tmp_path / "trainer")
    assert said_trainer in from_trainer and "--" not in from_trainer, from_trainer
    assert "\n" not in from_cli + from_trainer


def test_fine_tuning_divergence_names_only_what_the_trainer_has(w, tmp_path):
    said = _raised(NonFiniteLossError, _poisoned_classifier(w, tmp_path / "out").train)
    assert "learning_rate" in said and "layer_decay" not in said and "--" not in said, said


@pytest.mark.parametrize("front_end, expected", [
    ("cli", "fewer than --batch-size 64"),
    ("trainer", "fewer than per_device_train_batch_size=64")])
def test_a_batch_larger_than_the_data_under_ddp(front_end, expected):
    """Several processes drop a last partial batch, so 8 examples make no batch of 64."""
    from train.pretrain_setup import budget

    said = _raised(ValueError, lambda: budget(8, PretrainArgs(batch_size=64,
                                                              front_end=front_end), True))
    assert expected in said and (front_end == "cli") == ("--" in said), said


@pytest.mark.parametrize("front_end, expected", [
    ("cli", "--batch-size 8"), ("python", "batch_size=8"),
    ("trainer", "per_device_train_batch_size=8")])
def test_one_setting_three_spellings(front_end, expected):
    assert spelling.assign(front_end, "batch_size", 8) == expected


@pytest.mark.parametrize("front_end, expected", [
    ("cli", "--device gpu0: not a device"), ("python", "device='gpu0': not a device")])
def test_a_device_that_is_not_one(front_end, expected):
    """The loop's own device check speaks as its caller does: a Python caller of `pretrain`
    never set a --device flag."""
    from train.pretrain_setup import set_up

    model = BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=24))
    said = _raised(ValueError, lambda: set_up(model, 8, PretrainArgs(
        objective="bert", device="gpu0", front_end=front_end), {}))
    assert expected in said and (front_end == "cli") == ("--" in said), said
