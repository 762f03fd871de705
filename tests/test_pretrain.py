"""The pretraining loop: it learns (each objective overfits one batch), its loss is the
model's loss, a resumed run equals an uninterrupted one exactly, Ctrl-C and NaN stop it
cleanly, and a checkpoint write killed midway leaves the previous checkpoint usable.

Sizes are odd on purpose (hidden 32, 4 heads, ffn 37, batch 5, sequences of 7..13 tokens).
"""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import pytest
import torch

from minibert.config import BertConfig
from train import objectives, resume
from train.data.collator import CausalLMCollator, MLMCollator
from train.pretrain import NonFiniteLossError, PretrainArgs, pretrain
from train.resume import latest_checkpoint, list_checkpoints, load_checkpoint
from train.training_log import read_metrics

PAD, BOS, EOS, UNK, MASK = 1, 0, 2, 3, 4  # RoBERTa's order: <s> <pad> </s> <unk> <mask>
VOCAB = 41
TOK = SimpleNamespace(pad_token_id=PAD, mask_token_id=MASK, vocab_size=VOCAB,
                      all_special_ids=[BOS, PAD, EOS, UNK, MASK])


def tiny_config(objective: str, dropout: float = 0.0) -> BertConfig:
    return BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=37, max_position_embeddings=40,
                      type_vocab_size=2 if objective == "bert" else 1,
                      model_type="bert" if objective == "bert" else "roberta",
                      pad_token_id=PAD, hidden_dropout_prob=dropout,
                      attention_probs_dropout_prob=dropout, is_decoder=objective == "causal")


def tiny_model(objective: str, dropout: float = 0.0, seed: int = 0):
    torch.manual_seed(seed)
    return objectives.trained_class(objective)(tiny_config(objective, dropout))


def make_examples(objective: str, n: int, seed: int = 0) -> list[dict]:
    """Random sequences of 7..13 tokens with specials around them (pairs for 'bert')."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        words = [rng.randrange(5, VOCAB) for _ in range(rng.randrange(5, 12))]
        if objective == "bert":
            cut = rng.randrange(1, len(words))
            ids = [BOS] + words[:cut] + [EOS] + words[cut:] + [EOS]
            types = [0] * (cut + 2) + [1] * (len(words) - cut + 1)
            examples.append({"input_ids": ids, "token_type_ids": types,
                             "special_tokens_mask": [int(i in (BOS, EOS)) for i in ids],
                             "next_sentence_label": rng.randrange(2)})
        else:
            ids = [BOS] + words + [EOS]
            examples.append({"input_ids": ids,
                             "special_tokens_mask": [1] + [0] * len(words) + [1]})
    return examples


def collator(objective: str, static: bool = False):
    if objective == "causal":
        return CausalLMCollator(TOK)
    return MLMCollator(TOK, mlm_probability=0.3, seed=7, static=static)


def quiet(**kw) -> PretrainArgs:
    """Arguments for a silent CPU run, in fp32 unless kw asks otherwise (the same losses on
    every CPU)."""
    return PretrainArgs(progress=False, plot=False, device="cpu", **{"precision": "fp32", **kw})


def irreducible_loss(objective: str, examples: list[dict]) -> float:
    """The lowest loss a perfect memoriser can reach. Masked LM: 0. Causal LM: the first word
    after <s> cannot be told apart between examples, so those targets keep the entropy of
    the first words; spread over all targets of the batch."""
    if objective != "causal":
        return 0.0
    firsts = [e["input_ids"][1] for e in examples]
    targets = sum(len(e["input_ids"]) - 1 for e in examples)
    counts = [firsts.count(t) for t in set(firsts)]
    return -sum(c * math.log(c / len(firsts)) for c in counts) / targets


@pytest.mark.parametrize("objective", ["bert", "roberta", "causal"])
def test_one_batch_overfits(objective):
    """Trained on the same 5 examples (fixed masks) the loss must fall to near its floor."""
    examples = make_examples(objective, 5)
    result = pretrain(tiny_model(objective), examples, collator(objective, static=True),
                      quiet(objective=objective, batch_size=5, epochs=60, lr=2e-2,
                            warmup_steps=5, shuffle=False))
    assert result.steps == 60
    floor = irreducible_loss(objective, examples)
    assert result.losses[0] > 1.0 + floor, result.losses[:3]
    assert result.losses[-1] < floor + 0.05, (
        f"{objective}: loss {result.losses[-1]:.4f}, floor {floor:.4f}"
    )


@pytest.mark.parametrize("objective", ["bert", "roberta", "causal"])
def test_loop_loss_equals_model_loss(objective):
    """The loop's sum / count losses equal the model's own `loss` on a single batch."""
    model = tiny_model(objective).eval()
    batch = collator(objective)(make_examples(objective, 5))
    counts = objectives.target_counts(objective, batch)
    with torch.no_grad():
        out = model(**objectives.forward_inputs(objective, batch))
        ours = sum(s / counts[k] for k, s in objectives.loss_sums(objective, out, batch).items())
        labels = {"labels": batch["labels"]}
        if objective == "bert":
            labels["next_sentence_label"] = batch["next_sentence_label"]
        theirs = model(**objectives.forward_inputs(objective, batch), **labels).loss
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("objective", ["bert", "roberta"])
def test_sparse_prediction_equals_dense(objective):
    """The output layer run only at the scored positions (the loop's default) gives the loss
    and every gradient of the full (B, T, V) path, the reference; logits are those rows."""
    batch = collator(objective)(make_examples(objective, 5))
    counts = objectives.target_counts(objective, batch)
    results = []
    for sparse in (False, True):
        model = tiny_model(objective)
        out = model(**objectives.forward_inputs(objective, batch, sparse))
        loss = sum(s / counts[k] for k, s in objectives.loss_sums(objective, out, batch).items())
        loss.backward()
        logits = out.prediction_logits if objective == "bert" else out.logits
        results.append((loss, logits, {n: p.grad for n, p in model.named_parameters()}))
    (dense, dense_logits, dense_grads), (sparse, sparse_logits, sparse_grads) = results
    scored = batch["labels"] != -100
    assert sparse_logits.shape == (int(scored.sum()), VOCAB)
    torch.testing.assert_close(sparse_logits, dense_logits[scored], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sparse, dense, rtol=1e-6, atol=1e-6)
    for name, grad in dense_grads.items():
        torch.testing.assert_close(sparse_grads[name], grad, rtol=1e-5, atol=1e-6, msg=name)


def test_sparse_prediction_without_labels_is_refused():
    model = tiny_model("roberta")
    with pytest.raises(ValueError, match="needs labels"):
        model(input_ids=torch.tensor([[BOS, 7, EOS]]), sparse_prediction=True)


def test_accumulation_equals_big_batch():
    """2 micro-batches of 5 make the same steps as batches of 10: the loss is weighted by
    targets over the whole step, not averaged per micro-batch (padding widths differ too)."""
    data = make_examples("causal", 20)
    big = pretrain(tiny_model("causal"), data, collator("causal"),
                   quiet(objective="causal", batch_size=10, epochs=2, lr=1e-3))
    accum = pretrain(tiny_model("causal"), data, collator("causal"),
                     quiet(objective="causal", batch_size=5, grad_accum=2, epochs=2, lr=1e-3))
    assert big.steps == accum.steps == 4
    torch.testing.assert_close(torch.tensor(accum.losses), torch.tensor(big.losses),
                               rtol=1e-5, atol=1e-6)


def _run(tmp, on_step=None, resume=False, **kw):
    args = quiet(objective="roberta", out_dir=str(tmp), batch_size=5, grad_accum=2, epochs=3,
                 lr=3e-3, warmup_steps=2, save_every=2, keep=2, resume=resume, **kw)
    # dropout on, so the torch RNG state must be restored too
    model = tiny_model("roberta", dropout=0.1)
    result = pretrain(model, make_examples("roberta", 20), collator("roberta"), args,
                      on_step=on_step)
    return result, model


def test_resume_equals_uninterrupted(tmp_path):
    full, full_model = _run(tmp_path / "full")
    assert full.steps == 6

    def interrupt_at_3(step, loss):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", on_step=interrupt_at_3)
    assert latest_checkpoint(tmp_path / "cut" / "checkpoints").name == "step-00000003"
    resumed, resumed_model = _run(tmp_path / "cut", resume=True)
    assert resumed.losses == full.losses  # exactly, not approximately
    for (name, a), b in zip(full_model.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name
    steps = [r["step"] for r in read_metrics(tmp_path / "cut" / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4, 5, 6]
    # keep=2: the newest two checkpoints, nothing else (no temporary directories)
    assert [p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()] and \
        sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()) == \
        ["step-00000004", "step-00000006"]


def test_resume_with_other_settings_is_refused(tmp_path):
    _run(tmp_path, max_steps=2)
    with pytest.raises(resume.ResumeError, match="batch_size"):
        pretrain(tiny_model("roberta"), make_examples("roberta", 20), collator("roberta"),
                 quiet(objective="roberta", out_dir=str(tmp_path), batch_size=4, grad_accum=2,
                       epochs=3, max_steps=2, resume=True))


def test_nan_loss_stops_with_step_number(tmp_path):
    def poison(step, loss):
        if step == 2:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))

    model = tiny_model("causal")
    with pytest.raises(NonFiniteLossError, match="step 3: loss is nan"):
        pretrain(model, make_examples("causal", 20), collator("causal"),
                 quiet(objective="causal", batch_size=4), on_step=poison)


def test_killed_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    _run(tmp_path, max_steps=2)  # writes step-00000002
    root = tmp_path / "checkpoints"
    good = load_checkpoint(latest_checkpoint(root))
    real_save = torch.save

    def dies_midway(obj, f, *a, **kw):
        real_save(obj, f, *a, **kw)
        with open(f, "r+b") as fh:  # half the bytes on disk, then the process "dies"
            fh.truncate(fh.seek(0, 2) // 2)
        raise OSError("killed while writing")

    monkeypatch.setattr(resume.torch, "save", dies_midway)
    with pytest.raises(OSError, match="killed"):
        resume.save_checkpoint(root, {**good, "step": 4}, keep=1)
    monkeypatch.undo()
    assert [p.name for p in list_checkpoints(root)] == ["step-00000002"]
    assert [p.name for p in root.iterdir()] == ["step-00000002"]  # no half-written leftovers
    again = load_checkpoint(latest_checkpoint(root))
    assert again["step"] == 2 and again["position"] == 4
    for k, v in good["model"].items():
        assert torch.equal(v, again["model"][k]), k


def test_truncated_checkpoint_is_reported(tmp_path):
    _run(tmp_path, max_steps=2)
    file = latest_checkpoint(tmp_path / "checkpoints") / resume.STATE_FILE
    file.write_bytes(file.read_bytes()[:100])
    with pytest.raises(resume.ResumeError, match="cannot read"):
        load_checkpoint(file.parent)


def test_schedule_and_metrics(tmp_path):
    result, _ = _run(tmp_path, max_steps=4, log_every=1)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    lrs = [r["lr"] for r in records]  # warmup over 2 steps, then linear decay towards 0
    assert lrs == pytest.approx([1.5e-3, 3e-3, 3e-3, 1.5e-3])
    assert all(math.isfinite(r["tokens_per_second"]) and r["tokens_per_second"] > 0
               for r in records)
    assert [r["loss"] for r in records] == result.losses
    assert (tmp_path / "config.json").is_file() and (tmp_path / "model.safetensors").is_file()


def test_too_little_data_is_a_clear_error():
    with pytest.raises(ValueError, match="has 0 examples"):
        pretrain(tiny_model("causal"), [], collator("causal"),
                 quiet(objective="causal"))


def test_ctrl_c_finishes_the_step_and_saves(tmp_path):
    """A real SIGINT mid-run: the step in flight completes, a checkpoint is written, and the
    KeyboardInterrupt still reaches the caller."""
    import os
    import signal

    def press_ctrl_c(step, loss):
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, on_step=press_ctrl_c)
    state = load_checkpoint(latest_checkpoint(tmp_path / "checkpoints"))
    assert state["step"] == 2 and state["position"] == 4
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is restored


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_runs(precision):
    """bf16 autocast, and fp16 with a GradScaler, train on CPU too (the GPU's code path)."""
    result = pretrain(tiny_model("roberta"), make_examples("roberta", 10), collator("roberta"),
                      quiet(objective="roberta", batch_size=5, epochs=2, lr=1e-3,
                            precision=precision))
    assert result.steps == 4 and all(math.isfinite(x) for x in result.losses)


def test_fresh_run_over_old_checkpoints_is_refused(tmp_path):
    _run(tmp_path, max_steps=2)
    with pytest.raises(resume.ResumeError, match="pass resume=True"):
        _run(tmp_path, max_steps=2)


@pytest.mark.parametrize("objective, wrong", [("roberta", "causal"), ("bert", "causal"),
                                              ("causal", "roberta")])
def test_collator_of_the_other_objective_is_refused(objective, wrong):
    """Unmasked labels would teach a masked LM to copy its input; masked inputs would hide
    from a causal LM what it predicts: refused before the first step."""
    steps = []
    with pytest.raises(ValueError, match=f"objective '{objective}'.*(does not mask|masks)"):
        pretrain(tiny_model(objective), make_examples(objective, 10), collator(wrong),
                 quiet(objective=objective, batch_size=5), on_step=lambda *a: steps.append(a))
    assert steps == []


@pytest.mark.parametrize("objective", ["roberta", "causal"])
def test_example_longer_than_the_model_is_refused_before_the_first_step(objective):
    """One overlong example at the end of the data: refused at the start, naming the sizes,
    not at the step whose batch first holds it."""
    examples = make_examples(objective, 20)
    examples[-1] = {"input_ids": [BOS] + [7] * 38 + [EOS]}  # 40 tokens; RoBERTa takes 38
    steps = []
    with pytest.raises(ValueError, match="examples of up to 40 tokens, but .* takes at most 38 "
                                         r"\(max_position_embeddings=40\).* >= 42"):
        pretrain(tiny_model(objective), examples, collator(objective),
                 quiet(objective=objective, batch_size=4, shuffle=False),
                 on_step=lambda *a: steps.append(a))
    assert steps == []


def test_resume_with_other_masking_is_refused(tmp_path):
    """The collator's settings are part of what a checkpoint must agree with."""
    _run(tmp_path, max_steps=2)
    other = MLMCollator(TOK, mlm_probability=0.2, seed=7)
    with pytest.raises(resume.ResumeError, match="mlm_probability=0.3, this run has "
                                                 "mlm_probability=0.2"):
        pretrain(tiny_model("roberta"), make_examples("roberta", 20), other,
                 quiet(objective="roberta", out_dir=str(tmp_path), batch_size=5, grad_accum=2,
                       epochs=3, lr=3e-3, warmup_steps=2, max_steps=2, resume=True))
