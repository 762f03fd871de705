"""Training-mode parity with transformers: the same loss and the same gradient of every
parameter after one backward pass, in fp32 (within 1e-5) and under bf16 autocast on the CPU
(within the bf16 tolerance below); double backward through the encoder; and minibert never
importing transformers or tokenizers.

Dropout is set to 0 in both configs and both models are in train mode, so autograd records
exactly what a training step records; the random weights are transformers', written with its
save_pretrained and read by minibert's from_pretrained (the checkpoint keys are the same).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import minibert
from tests.test_model_parity import hf_config, labels_for, padded_batch

pytestmark = pytest.mark.parity

CASES = [("BertForPreTraining", False, "pretraining", {}),
         ("BertForSequenceClassification", False, "seq", {"num_labels": 3}),
         ("RobertaForMaskedLM", True, "mlm", {})]
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
# bf16 keeps 8 bits of mantissa (relative step 2**-8 = 0.4%); a product over H = 32 terms and
# two layers of them compound to a few steps. Both sides round at the same ops (autocast's
# lists), but not in the same order inside the kernels, so compare relative to each tensor's
# largest entry: within 3%.
BF16_REL = 3e-2


def pair(transformers, tmp_path, name, roberta, extra):
    torch.manual_seed(0)
    hf = getattr(transformers, name)(hf_config(transformers, roberta, **extra, **NO_DROPOUT))
    hf.save_pretrained(tmp_path)
    ours = getattr(minibert, name).from_pretrained(tmp_path, verbose=False)
    return ours.train(), hf.train()


def step(model, batch, labels):
    model.zero_grad(set_to_none=True)
    out = model(**batch, **labels)
    out.loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    logits = out.logits if hasattr(out, "logits") and out.logits is not None \
        else out.prediction_logits
    return out.loss.detach(), logits.detach(), grads


def compare(ours, hf, close):
    loss_a, logits_a, grads_a = ours
    loss_b, logits_b, grads_b = hf
    close(loss_a, loss_b, "loss")
    close(logits_a, logits_b, "logits")
    assert grads_a.keys() == grads_b.keys(), grads_a.keys() ^ grads_b.keys()
    for n in grads_a:
        close(grads_a[n], grads_b[n], f"grad {n}")


def fp32_close(a, b, what):
    err = (a.float() - b.float()).abs().max().item()
    assert err <= 1e-5, f"{what}: max abs difference {err:.3g} > 1e-5"


def bf16_close(a, b, what):
    scale = b.float().abs().max().item()
    err = (a.float() - b.float()).abs().max().item()
    assert err <= BF16_REL * scale + 1e-6, f"{what}: {err:.3g} > {BF16_REL} x {scale:.3g}"


@pytest.mark.parametrize("name,roberta,task,extra", CASES, ids=[c[0] for c in CASES])
def test_one_training_step_matches_transformers_fp32(transformers, tmp_path, name, roberta,
                                                     task, extra):
    ours, hf = pair(transformers, tmp_path, name, roberta, extra)
    batch = padded_batch(roberta)
    labels = labels_for(task, batch)
    compare(step(ours, batch, labels), step(hf, batch, labels), fp32_close)


@pytest.mark.parametrize("name,roberta,task,extra", CASES, ids=[c[0] for c in CASES])
def test_one_training_step_matches_transformers_bf16_autocast(transformers, tmp_path, name,
                                                              roberta, task, extra):
    ours, hf = pair(transformers, tmp_path, name, roberta, extra)
    batch = padded_batch(roberta)
    labels = labels_for(task, batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = step(ours, batch, labels)
        b = step(hf, batch, labels)
    assert a[1].dtype == b[1].dtype == torch.bfloat16  # the heads ran in bf16 on both sides
    compare(a, b, bf16_close)


def test_double_backward_through_the_encoder():
    """A gradient penalty: d/dθ of |dL/dθ|², which needs the backward pass to be
    differentiable itself (create_graph=True). Checked against finite differences. PyTorch's
    fused CPU/CUDA attention kernels have no second derivative; its math backend, chosen with
    torch.nn.attention.sdpa_kernel, has one (so has the reference path)."""
    cfg = minibert.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=20,
                              max_position_embeddings=12, **NO_DROPOUT)
    model = minibert.BertModel(cfg).double().train()
    ids = torch.randint(3, 30, (2, 5), generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    w = model.encoder.layer[0].attention.self.query.bias
    # LayerNorm makes |h|^2 constant, so weigh the outputs with fixed random numbers
    target = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(1), dtype=torch.double)

    def penalty(weight):
        def loss_of(wq):
            out = torch.func.functional_call(
                model, {"encoder.layer.0.attention.self.query.bias": wq}, (ids,),
                {"attention_mask": mask})
            return (out.last_hidden_state * target).sum()
        (g,) = torch.autograd.grad(loss_of(weight), weight, create_graph=True)
        return g.pow(2).sum()

    with sdpa_kernel(SDPBackend.MATH):
        assert torch.autograd.gradcheck(penalty, (w.detach().clone().requires_grad_(),),
                                        eps=1e-6, atol=1e-5)


def test_minibert_never_imports_transformers_or_tokenizers():
    code = ("import sys, torch, minibert\n"
            "cfg = minibert.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,"
            " num_attention_heads=2, intermediate_size=8, max_position_embeddings=8)\n"
            "model = minibert.BertForPreTraining(cfg)\n"
            "model(torch.tensor([[1, 2, 3]]), attention_mask=torch.tensor([[1, 1, 0]]))\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
            " ('transformers', 'tokenizers'))\n"
            "assert not bad, bad\n")
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
