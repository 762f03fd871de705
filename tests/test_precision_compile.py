"""--precision and --compile: what `auto` chooses and why (with fake CPU flags), bf16 autocast
fine-tuning on the CPU whose loss falls, and torch.compile: the encoder traces with no graph
break (fullgraph=True, dynamic shapes) and the compiled fine-tuning loop gives eager's losses."""

from __future__ import annotations

import random

import pytest
import torch

import minibert
from train.device import cpu_flags, resolve_precision
from train.finetune import FinetuneConfig, encode, finetune

CPU = torch.device("cpu")
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 37, "max_position_embeddings": 64,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


# ---- choosing the precision ------------------------------------------------------------------

# The kernel's CPU flags, stubbed: what `auto` must choose on each kind of CPU, and a word of
# the reason it must print.
CPUS = {"avx512_bf16": ({"avx2", "avx512f", "avx512_bf16"}, "bf16", "avx512_bf16"),
        "amx_bf16": ({"avx2", "amx_bf16", "amx_tile"}, "bf16", "amx_bf16"),
        "avx2 only": ({"sse4_2", "avx2", "fma"}, "fp32", "emulated"),
        "unknown (no /proc/cpuinfo flags: macOS, Windows)": (set(), "fp32", "unknown")}


@pytest.mark.parametrize("cpu", list(CPUS))
def test_auto_on_the_cpu_picks_bf16_only_where_the_hardware_computes_it(cpu, monkeypatch):
    """bf16 where the flags list AVX512-BF16 or AMX (5 seeds scored within seed noise of fp32:
    bench/RESULTS.md), fp32 on AVX2 alone and wherever the flags cannot be read."""
    flags, want, reason = CPUS[cpu]
    monkeypatch.setattr("train.device.cpu_flags", lambda: flags)
    chosen, why = resolve_precision("auto", CPU)
    assert (chosen, why.startswith("auto:"), reason in why) == (want, True, True), why
    assert resolve_precision("auto", CPU, flags=flags) == (chosen, why)


@pytest.mark.parametrize("cpu", ["avx512_bf16", "avx2 only"])
def test_fine_tuning_by_default_prints_the_precision_auto_chose_and_why(cpu, toy_task,
                                                                        monkeypatch):
    """No precision given (FinetuneConfig's default, which `minibert finetune` passes on)."""
    flags, want, reason = CPUS[cpu]
    monkeypatch.setattr("train.device.cpu_flags", lambda: flags)
    tok, enc, y = toy_task
    config = FinetuneConfig(epochs=1, batch_size=16, progress=False, seed=1)
    assert config.precision == "auto"
    lines = []
    finetune(tiny_classifier(tok.vocab_size), tok, enc[:32], y[:32], enc[80:], y[80:], config,
             CPU, log=lines.append)
    assert lines[0].startswith(f"precision {want} (auto: ") and reason in lines[0], lines[0]


def test_explicit_precision_wins_and_a_bad_one_is_named():
    assert resolve_precision("fp32", CPU, flags={"avx512_bf16"}) == ("fp32", "asked for")
    assert resolve_precision("bf16", CPU, flags=set())[0] == "bf16"
    with pytest.raises(ValueError, match="--precision 'fp8'"):
        resolve_precision("fp8", CPU)


def test_cpu_flags_read_from_a_cpuinfo_file(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse avx512_bf16 amx_bf16\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx512_bf16", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()
    arm = tmp_path / "arm"  # Linux on Arm names its features otherwise: unknown here
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert cpu_flags(arm) == set()


# ---- fine-tuning in bf16 and compiled --------------------------------------------------------

@pytest.fixture(scope="module")
def toy_task(data):
    """A task a tiny model learns in a few steps: which of two word lists a sentence uses."""
    from tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer.from_file(data / "bert_vocab" / "bert-base-uncased-vocab.txt")
    rng = random.Random(0)
    words = [["cat", "dog", "mat", "house", "tree", "red"],
             ["run", "sing", "jump", "swim", "fly", "eat"]]
    texts, labels = [], []
    for i in range(96):
        texts.append(" ".join(rng.choice(words[i % 2]) for _ in range(rng.randrange(3, 12))))
        labels.append(i % 2)
    return tok, encode(tok, texts, None, 32), labels


def tiny_classifier(vocab_size: int):
    torch.manual_seed(0)
    return minibert.BertForSequenceClassification(
        minibert.BertConfig(vocab_size=vocab_size, num_labels=2, **TINY))


def run(toy_task, **cfg):
    """Fine-tunes in fp32 unless cfg says otherwise, so the losses compared below are the same
    on every CPU."""
    tok, enc, y = toy_task
    model = tiny_classifier(tok.vocab_size)
    cfg = {"precision": "fp32", **cfg}
    config = FinetuneConfig(lr=1e-2, batch_size=8, warmup=0.1, progress=False, seed=1, **cfg)
    lines = []
    result = finetune(model, tok, enc[:80], y[:80], enc[80:], y[80:], config, CPU,
                      log=lines.append)
    return result, lines


def test_bf16_autocast_fine_tuning_learns_on_the_cpu(toy_task):
    result, lines = run(toy_task, epochs=3, precision="bf16")
    assert lines[0].startswith("precision bf16 (asked for)")
    first, last = result.epochs[0].train_loss, result.epochs[-1].train_loss
    assert last < 0.5 * first, f"bf16 training loss did not fall: {first:.3f} -> {last:.3f}"


def test_encoder_compiles_without_graph_breaks_and_matches_eager():
    """fullgraph=True fails on any graph break (a host sync such as reading a mask's values
    would be one); dynamic=True lets two batch lengths share the graph. aot_eager traces
    forward and backward as inductor does, without generating code, to keep CI fast."""
    model = tiny_classifier(60).train()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    g = torch.Generator().manual_seed(0)
    for T in (9, 13):
        ids = torch.randint(5, 60, (4, T), generator=g)
        mask = torch.ones(4, T, dtype=torch.long)
        mask[1, T // 2:] = 0
        batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
                 "labels": torch.tensor([0, 1, 1, 0])}
        eager_loss = model(**batch).loss
        (eager_grad,) = torch.autograd.grad(eager_loss, model.classifier.weight)
        loss = compiled(**batch).loss
        (grad,) = torch.autograd.grad(loss, model.classifier.weight)
        torch.testing.assert_close(loss, eager_loss, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad, eager_grad, atol=1e-5, rtol=1e-5)


@pytest.mark.slow  # inductor generates and builds C++ for forward and backward: about a minute
def test_compiled_fine_tuning_gives_eager_losses(toy_task):
    """--compile through the real loop (inductor, dynamic shapes): one epoch, same losses."""
    eager, _ = run(toy_task, epochs=1)
    compiled, lines = run(toy_task, epochs=1, compile=True)
    assert "torch.compile" in lines[0]
    torch.testing.assert_close(torch.tensor(compiled.batch_losses),
                               torch.tensor(eager.batch_losses), atol=1e-4, rtol=1e-4)


def test_cli_flags_reach_the_fine_tuning_config():
    import argparse

    from train.cli.cmd_finetune import add_arguments, build_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["cola", "--precision", "bf16", "--compile"])
    cfg, _ = build_config(args, hidden_size=384, seed=1)
    assert (cfg.precision, cfg.compile) == ("bf16", True)
    cfg, _ = build_config(parser.parse_args(["cola"]), hidden_size=384, seed=1)
    assert (cfg.precision, cfg.compile) == ("auto", False)


def test_auto_is_the_default_of_both_training_commands_and_functions():
    import argparse

    from train.cli import cmd_finetune, cmd_pretrain
    from train.pretrain import PretrainArgs

    for command in (cmd_finetune, cmd_pretrain):
        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        assert parser.get_default("precision") == "auto"
        help_text = parser.format_help()
        assert "AVX512-BF16" in help_text and "AMX" in help_text, help_text
    assert FinetuneConfig().precision == PretrainArgs().precision == "auto"


def test_compile_flag_wraps_both_loops_with_dynamic_shapes(toy_task, monkeypatch):
    """--compile's wiring in fine-tuning and pretraining: torch.compile is called with
    dynamic=True and the compiled module does the training (same losses as eager). The backend
    is swapped for dynamo's "eager" (trace only) to keep CI fast; the test above traces
    forward and backward, and the inductor run is the slow test."""
    from tests.test_pretrain import collator, make_examples, quiet, tiny_model
    from train.pretrain import pretrain

    real_compile, calls = torch.compile, []

    def recording_compile(model, **kw):
        calls.append(kw)
        return real_compile(model, **{**kw, "backend": "eager"})

    monkeypatch.setattr(torch, "compile", recording_compile)
    eager, _ = run(toy_task, epochs=1)
    compiled, _ = run(toy_task, epochs=1, compile=True)
    torch.testing.assert_close(torch.tensor(compiled.batch_losses),
                               torch.tensor(eager.batch_losses), atol=1e-5, rtol=1e-5)
    args = {"objective": "roberta", "batch_size": 5, "epochs": 1, "lr": 1e-3}
    plain = pretrain(tiny_model("roberta"), make_examples("roberta", 10), collator("roberta"),
                     quiet(**args))
    comp = pretrain(tiny_model("roberta"), make_examples("roberta", 10), collator("roberta"),
                    quiet(**args, compile=True))
    torch.testing.assert_close(torch.tensor(comp.losses), torch.tensor(plain.losses),
                               atol=1e-5, rtol=1e-5)
    assert calls == [{"dynamic": True}, {"dynamic": True}]
