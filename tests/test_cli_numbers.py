"""Numbers: every numeric flag of every command has a declared range, and a run that went wrong
does not end with exit code 0.

The range table is generated from the commands' own parsers (`train.cli.command_parser`), so
a flag added later is covered without editing this file: for each one, values just outside
its range (and NaN, infinity, text) must be refused while parsing, in one line naming the flag
and the value, and the range must be printed in --help. Then the runs that diverge: a
fine-tuning run whose loss becomes NaN stops with exit code 2 naming the step, keeps the last
good epoch and saves nothing non-finite; pretraining does the same.
"""

from __future__ import annotations

import importlib
import json
import math

import pytest
import torch
from test_cli_errors import build_world, finetune, pretrain

from train.cli import COMMANDS, command_parser, main
from train.cli.flags import Number


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"))


def _numeric_flags():
    """(command, parser, action) for every flag of every command whose value is a number."""
    for name, (module, _) in COMMANDS.items():
        parser = command_parser(name, importlib.import_module(module))
        for action in parser._actions:
            if action.type in (int, float) or isinstance(action.type, Number):
                yield name, parser, action


def _text(t: Number, value: float) -> str:
    return str(int(value)) if t.kind is int else f"{value:g}"


def _outside(t: Number) -> list[str]:
    """Values just outside t's range, and ones no range holds."""
    values = ["abc", "nan", "inf", "1e400"] if t.kind is float else ["abc", "1.5"]
    if t.low is not None:
        values.append(_text(t, t.low if t.low_open else t.low - 1))
    if t.high is not None:
        values.append(_text(t, t.high if t.high_open else t.high + 1))
    return values


def _inside(t: Number) -> list[str]:
    """A value inside t's range, and each closed end."""
    middle = (t.low + t.high) / 2 if t.high is not None else t.low + 1
    values = [middle if t.kind is float else t.low]
    values += [v for v, is_open in ((t.low, t.low_open), (t.high, t.high_open))
               if v is not None and not is_open]
    return [_text(t, v) for v in values]


CASES = [(name, action.option_strings[0], value) for name, _, action in _numeric_flags()
         if isinstance(action.type, Number) for value in _outside(action.type)]
# and values a user may well type: not a number, a huge power of ten, a negative
CASES += [("finetune", "--layer-decay", v) for v in ("nan", "1e30", "-1")]
CASES += [("finetune", "--lr", "1e9"), ("pretrain", "--lr", "1e9")]


def test_every_number_has_a_range_shown_in_help():
    plain = [(n, a.option_strings) for n, _, a in _numeric_flags() if a.type in (int, float)]
    assert plain == [], "declare these with train.cli.flags.whole / real"
    flags = list(_numeric_flags())
    assert len(flags) >= 45 and {n for n, _, _ in flags} >= set(COMMANDS) - {"params"}
    for name, parser, action in flags:
        shown = " ".join(parser.format_help().split())
        assert " ".join(str(action.type).split()) in shown, (name, action.option_strings)
        # bounds as a user would type them: 16,777,216, never 1.67772e+07
        assert "e+" not in str(action.type), (name, action.option_strings, str(action.type))


@pytest.mark.parametrize("command, flag, value", CASES,
                         ids=[f"{c}{f}={v}" for c, f, v in CASES])
def test_a_number_out_of_range_is_refused_in_one_line(command, flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, f"{flag}={value}"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"minibert: error: {flag} {value}: expected"), err


def test_numbers_inside_the_range_are_taken():
    for name, _, action in _numeric_flags():
        for value in _inside(action.type):
            assert action.type.contains(action.type(value)), (name, action.option_strings, value)


@pytest.mark.parametrize("seeds, expected", [("1,1", "seed 1 is given twice"),
                                             ("3,2,3", "seed 3 is given twice"),
                                             ("1,-2", "--seeds 1,-2"), (",", "at least one")])
def test_seeds_are_distinct_seeds(w, tmp_path, capsys, seeds, expected):
    out = tmp_path / "o"
    assert main(finetune(w, str(out), "--seeds", seeds)) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists(), "refused before --out is claimed"


# ---- runs that diverge ------------------------------------------------------------------------

def _finite_weights(folder) -> bool:
    from safetensors.torch import load_file

    return all(torch.isfinite(t).all() for t in load_file(str(folder / "model.safetensors"))
               .values() if t.is_floating_point())


def test_a_nan_lr_run_stops_with_exit_2_and_saves_no_model(w, tmp_path, capsys, monkeypatch):
    """lr 1e9 (here from a recipe, since the flag refuses it) makes the loss NaN at step 2."""
    import train.cli.cmd_finetune as cmd

    monkeypatch.setitem(cmd.RECIPES["small"], "lr", 1e9)
    out = tmp_path / "run"
    assert main(finetune(w, str(out), "--recipe", "small", "--batch-size", "8")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("minibert: error: epoch 1, step 2: loss is nan"), err
    assert "no model was saved" in err[-1]
    assert not (out / "model.safetensors").exists()
    assert json.loads((out / "metrics.json").read_text())["diverged"].startswith("step 2")


def test_divergence_keeps_the_last_good_epoch(w, tmp_path, capsys, monkeypatch):
    """Weights turned NaN at step 3 (epoch 2 of 2-step epochs): the run stops there, epoch 1's
    model stays (finite, and `predict` reads it), nothing non-finite is written."""
    import train.finetune

    real = train.finetune.train_step

    def poison_at_step_3(model, batch, state, cfg, step=0):
        if step == 3:
            next(model.parameters()).data.fill_(math.nan)  # the word embeddings
        return real(model, batch, state, cfg, step)

    monkeypatch.setattr(train.finetune, "train_step", poison_at_step_3)
    out = tmp_path / "run"
    assert main(finetune(w, str(out), "--epochs", "3", "--batch-size", "8")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("minibert: error: epoch 2, step 3: loss is nan"), err
    assert "best model so far (epoch 1" in err and str(out) in err
    assert _finite_weights(out)
    assert main(["predict", str(out), "the cat sat ."]) == 0


def test_a_non_finite_gradient_stops_before_the_step():
    from train.optim import NonFiniteLossError, clip_gradients

    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    assert clip_gradients([p], 0, step=1, hint="") == pytest.approx(5.0)
    assert p.grad.tolist() == [3.0, 4.0, 0.0], "--clip 0 turns clipping off"
    assert clip_gradients([p], 1.0, step=1, hint="") == pytest.approx(5.0)
    assert torch.linalg.vector_norm(p.grad).item() == pytest.approx(1.0, rel=1e-4)
    p.grad = torch.tensor([1.0, math.inf, 0.0])
    with pytest.raises(NonFiniteLossError, match="step 7: gradient norm is inf"):
        clip_gradients([p], 1.0, step=7, hint="lower --lr")
    clip_gradients([p], 1.0, step=7, hint="", check=False)  # fp16: its scaler skips the step


def test_a_diverging_pretraining_run_exits_2(w, tmp_path, capsys, monkeypatch):
    import train.objectives

    real = train.objectives.loss_sums

    def nan_loss(objective, out, batch):
        return {k: v * math.nan for k, v in real(objective, out, batch).items()}

    monkeypatch.setattr(train.objectives, "loss_sums", nan_loss)
    out = tmp_path / "pt"
    assert main(pretrain(w, str(out), "--batch-size", "8", "--max-examples", "8")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("minibert: error: step 1: loss is nan"), err
    assert not (out / "model.safetensors").exists()
