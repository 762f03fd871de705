"""minibert.linear: the oneDNN product agrees with torch.nn.functional.linear, forward and
backward, and the reference path is taken wherever the fast one does not fit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import minibert
from minibert import linear as lin
from minibert.linear import Linear, linear

pytestmark = pytest.mark.skipif(lin._LINEAR is None, reason="this torch build has no oneDNN")


def fast(y: torch.Tensor) -> bool:
    """Did autograd record the oneDNN Function (possibly under the view back to N-D)?"""
    fn = y.grad_fn
    names = [type(fn).__name__] + [type(f).__name__ for f, _ in fn.next_functions if f]
    return any(n.startswith("_OneDNNLinear") for n in names)


def grads(f, x, w, b):
    x, w = x.detach().requires_grad_(), w.detach().requires_grad_()
    b = b.detach().requires_grad_() if b is not None else None
    y = f(x, w, b)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    (y * g).sum().backward()
    return y, x.grad, w.grad, (b.grad if b is not None else None)


@pytest.mark.parametrize("shape", [(13, 32), (13, 7, 32), (2, 3, 5, 32)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_forward_and_gradients_match_f_linear(shape, with_bias):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g)
    w = torch.randn(37, 32, generator=g)
    b = torch.randn(37, generator=g) if with_bias else None
    y_fast, *d_fast = grads(linear, x, w, b)
    y_ref, *d_ref = grads(F.linear, x, w, b)
    assert fast(y_fast) and not fast(y_ref)
    torch.testing.assert_close(y_fast, y_ref, rtol=1e-5, atol=1e-5)
    for a, r in zip(d_fast, d_ref):
        if r is None:
            assert a is None
        else:
            torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-5)


def test_only_the_gradients_asked_for_are_computed():
    x = torch.randn(4, 6, 32)  # no grad: a frozen input, e.g. embeddings
    w = torch.randn(37, 32, requires_grad=True)
    b = torch.randn(37)  # frozen bias
    y = linear(x, w, b)
    assert fast(y)
    y.sum().backward()
    torch.testing.assert_close(w.grad, torch.ones(4 * 6, 37).t() @ x.reshape(-1, 32))
    assert b.grad is None and x.grad is None


@pytest.mark.parametrize("case", ["no grad", "non-contiguous", "float64", "autocast",
                                  "switched off"])
def test_reference_path_where_the_fast_one_does_not_fit(case, monkeypatch):
    x = torch.randn(5, 9, 32, requires_grad=True)
    w = torch.randn(37, 32, requires_grad=True)
    b = torch.randn(37, requires_grad=True)
    if case == "non-contiguous":
        x = x[:, 0]
    elif case == "float64":
        x, w, b = x.double(), w.double(), b.double()
    elif case == "switched off":
        monkeypatch.setattr(lin, "ONEDNN_ENABLED", False)
    if case == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = linear(x, w, b)
        assert y.dtype == torch.bfloat16 and not fast(y)
        return
    if case == "no grad":  # inference: the very same numbers as F.linear (and transformers)
        with torch.no_grad():
            torch.testing.assert_close(linear(x, w, b), F.linear(x, w, b), rtol=0, atol=0)
        return
    y = linear(x, w, b)
    assert not fast(y)
    torch.testing.assert_close(y, F.linear(x, w, b), rtol=0, atol=0)


def test_linear_module_is_nn_linear_with_the_same_keys():
    ours, ref = Linear(32, 37), nn.Linear(32, 37)
    assert isinstance(ours, nn.Linear)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 32)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-6)


def test_whole_model_fast_and_reference_paths_agree(monkeypatch):
    """BertForPreTraining in training, fast path on and off: same loss and gradients."""
    config = minibert.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=37,
                                 max_position_embeddings=24)
    model = minibert.BertForPreTraining(config).train()
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(3, 50, (13, 7), generator=g)
    labels = ids.masked_fill(torch.rand(13, 7, generator=g) < 0.5, -100)
    nsp = torch.randint(0, 2, (13,), generator=g)

    def run():
        model.zero_grad(set_to_none=True)
        torch.manual_seed(4)  # the same dropout masks both times
        loss = model(ids, labels=labels, next_sentence_label=nsp).loss
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    loss_fast, g_fast = run()
    monkeypatch.setattr(lin, "ONEDNN_ENABLED", False)
    loss_ref, g_ref = run()
    torch.testing.assert_close(loss_fast, loss_ref, rtol=1e-5, atol=1e-6)
    for name in g_ref:
        torch.testing.assert_close(g_fast[name], g_ref[name], rtol=1e-4, atol=1e-5, msg=name)
