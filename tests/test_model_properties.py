"""Properties of the model that need no oracle: fast path = reference path, padding changes
nothing at real positions, odd sizes run through every head, masks stay finite in bf16/fp16,
bad inputs fail with clear messages, generation is seeded and stops at eos."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minibert
from minibert.attention import SelfAttention, build_attention_bias
from minibert.embeddings import roberta_position_ids

ODD = {"vocab_size": 50, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 37, "max_position_embeddings": 24}


def bert_config(**kw):
    return minibert.BertConfig(**{**ODD, **kw})


def roberta_config(**kw):
    return minibert.BertConfig(**{**ODD, "model_type": "roberta", "type_vocab_size": 1,
                                  "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, **kw})


def seeded(cls, config, seed=0):
    model = cls(config)
    model.init_weights(torch.Generator().manual_seed(seed))
    return model.eval()


def random_batch(B, T, vocab, pad, seed=0, lengths=None):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (B, T), generator=g)
    if lengths is None:
        lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    mask = torch.zeros(B, T, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        ids[i, n:] = pad
    return ids, mask


# ---- attention: reference path vs fast path -------------------------------------------------

@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_sdpa_path_matches_reference_path(causal, padded):
    torch.manual_seed(0)
    attn = SelfAttention(bert_config()).eval()
    x = torch.randn(5, 9, 32)
    mask = torch.ones(5, 9, dtype=torch.long)
    if padded:
        mask[1, 4:] = 0
        mask[3, 7:] = 0
    bias = build_attention_bias(mask, 9, x.dtype, causal)
    assert bias.shape == ((5, 1, 9, 9) if causal else (5, 1, 1, 9))
    slow, probs = attn(x, bias, output_attentions=True)
    fast, none = attn(x, bias, output_attentions=False)
    assert none is None and probs.shape == (5, 4, 9, 9)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=0)
    if causal:  # nothing flows from the future
        assert probs.triu(1).abs().max() == 0


def test_bias_is_none_only_without_mask_in_a_bidirectional_model():
    assert build_attention_bias(None, 4, torch.float32, causal=False) is None
    causal = build_attention_bias(None, 4, torch.float32, causal=True)
    assert causal.shape == (1, 1, 4, 4)
    assert (causal[0, 0] < 0).equal(torch.ones(4, 4, dtype=torch.bool).triu(1))


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_and_reference_paths_give_the_same_gradients_in_training(causal):
    """Train mode with dropout 0: both paths' gradients (input and weights) agree."""
    torch.manual_seed(2)
    attn = SelfAttention(bert_config(attention_probs_dropout_prob=0.0)).train()
    x = torch.randn(13, 7, 32, requires_grad=True)
    mask = torch.ones(13, 7, dtype=torch.long)
    mask[2, 3:] = 0
    bias = build_attention_bias(mask, 7, x.dtype, causal)
    g = torch.randn(13, 7, 32)
    wanted = [x, attn.query.weight, attn.key.bias, attn.value.weight]
    fast = torch.autograd.grad(attn(x, bias)[0], wanted, g)
    slow = torch.autograd.grad(attn(x, bias, output_attentions=True)[0], wanted, g)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_train_mode_forward_repeats_with_the_seed_and_drops_something():
    model = minibert.BertModel(bert_config()).train()
    ids, mask = random_batch(4, 10, 50, 0, seed=3)
    torch.manual_seed(0)
    a = model(ids, attention_mask=mask).last_hidden_state
    torch.manual_seed(0)
    b = model(ids, attention_mask=mask).last_hidden_state
    c = model(ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_zero_queries_attend_uniformly_to_real_tokens():
    """Known answer: with Q = 0 every score is equal, so each query spreads 1/n over the n
    keys it may see and the context is the mean of their values."""
    attn = SelfAttention(bert_config()).eval()
    with torch.no_grad():
        attn.query.weight.zero_()
        attn.query.bias.zero_()
    x = torch.randn(2, 6, 32)
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]])
    context, probs = attn(x, build_attention_bias(mask, 6, x.dtype, False), output_attentions=True)
    torch.testing.assert_close(probs[0], torch.full((4, 6, 6), 1 / 6))
    torch.testing.assert_close(probs[1, :, :, :3], torch.full((4, 6, 3), 1 / 3))
    v = attn.value(x[1, :3]).mean(0)  # (H,)
    torch.testing.assert_close(context[1, 0], v, atol=1e-6, rtol=0)


def test_whole_model_paths_agree():
    model = seeded(minibert.BertForPreTraining, bert_config())
    ids, mask = random_batch(4, 10, 50, 0, seed=2)
    with torch.no_grad():
        a = model(ids, attention_mask=mask, output_attentions=True)
        b = model(ids, attention_mask=mask)
    torch.testing.assert_close(a.prediction_logits, b.prediction_logits, atol=1e-5, rtol=0)


# ---- padding -----------------------------------------------------------------------------------

@settings(max_examples=12, deadline=None)
@given(lengths=st.lists(st.integers(1, 8), min_size=1, max_size=4), extra=st.integers(1, 6),
       kind=st.sampled_from(["bert", "roberta", "causal"]), seed=st.integers(0, 2**16))
def test_appending_padding_leaves_real_positions_unchanged(lengths, extra, kind, seed):
    cls, config = {"bert": (minibert.BertModel, bert_config()),
                   "roberta": (minibert.RobertaModel, roberta_config()),
                   "causal": (minibert.RobertaForCausalLM, roberta_config())}[kind]
    model = seeded(cls, config, seed=seed % 7)
    pad = config.pad_token_id
    T = max(lengths)
    ids, mask = random_batch(len(lengths), T, 50, pad, seed=seed, lengths=lengths)
    more_ids = torch.cat([ids, torch.full((len(lengths), extra), pad)], dim=1)
    more_mask = torch.cat([mask, torch.zeros(len(lengths), extra, dtype=torch.long)], dim=1)
    with torch.no_grad():
        a = model(ids, attention_mask=mask, output_hidden_states=True)
        b = model(more_ids, attention_mask=more_mask, output_hidden_states=True)
    real = mask.bool()
    for x, y in zip(a.hidden_states, b.hidden_states):
        torch.testing.assert_close(x[real], y[:, :T][real], atol=1e-5, rtol=0)


def test_roberta_position_ids_count_real_tokens_from_padding_idx_plus_one():
    ids = torch.tensor([[0, 7, 8, 2, 1, 1], [1, 1, 0, 9, 2, 1]])
    assert roberta_position_ids(ids, 1).tolist() == [[2, 3, 4, 5, 1, 1], [1, 1, 2, 3, 4, 1]]


# ---- odd sizes through every head ------------------------------------------------------------

HEADS = [
    ("BertModel", bert_config(), {}),
    ("BertForPreTraining", bert_config(), {"labels": "tokens", "next_sentence_label": 2}),
    ("BertForMaskedLM", bert_config(), {"labels": "tokens"}),
    ("BertForNextSentencePrediction", bert_config(), {"labels": 2}),
    ("BertForSequenceClassification", bert_config(num_labels=3), {"labels": 3}),
    ("BertForSequenceClassification", bert_config(num_labels=1), {"labels": "float"}),
    ("BertForTokenClassification", bert_config(num_labels=5), {"labels": "tokens5"}),
    ("BertForQuestionAnswering", bert_config(), {"start_positions": 7, "end_positions": 7}),
    ("RobertaModel", roberta_config(), {}),
    ("RobertaForMaskedLM", roberta_config(), {"labels": "tokens"}),
    ("RobertaForSequenceClassification", roberta_config(num_labels=3), {"labels": 3}),
    ("RobertaForCausalLM", roberta_config(), {"labels": "tokens"}),
]


@pytest.mark.parametrize("name,config,label_spec", HEADS, ids=[h[0] for h in HEADS])
def test_odd_sizes_run_forward_and_backward_through_every_head(name, config, label_spec):
    """batch 13, seq 7, hidden 32, 4 heads, ffn 37; train mode so dropout and the in-place
    residual adds go through autograd."""
    model = seeded(getattr(minibert, name), config).train()
    B, T = 13, 7
    g = torch.Generator().manual_seed(5)
    ids, mask = random_batch(B, T, 50, config.pad_token_id, seed=3)
    kwargs = {}
    for key, spec in label_spec.items():
        if spec == "tokens":
            kwargs[key] = ids.masked_fill(mask == 0, -100)
        elif spec == "tokens5":
            kwargs[key] = torch.randint(0, 5, (B, T), generator=g).masked_fill(mask == 0, -100)
        elif spec == "float":
            kwargs[key] = torch.randn(B, generator=g)
        else:
            kwargs[key] = torch.randint(0, spec, (B,), generator=g)
    out = model(ids, attention_mask=mask, output_hidden_states=True, **kwargs)
    assert len(out.hidden_states) == 3 and out.hidden_states[-1].shape == (B, T, 32)
    if kwargs:
        assert out.loss.dim() == 0 and torch.isfinite(out.loss)
        out.loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g_).all() for g_ in grads)
    else:
        assert out.last_hidden_state.shape == (B, T, 32)


# ---- low precision masks ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mask_bias_is_finite_even_where_padding_and_causal_overlap(dtype):
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])
    bias = build_attention_bias(mask, 4, dtype, causal=True)
    assert bias.dtype == dtype and torch.isfinite(bias).all()
    assert bias[0, 0, 0, 1] == torch.finfo(dtype).min and bias[0, 0, 1, 1] == 0


@pytest.mark.parametrize("output_attentions", [False, True], ids=["sdpa", "reference"])
def test_bf16_fully_padded_row_gives_no_nan(output_attentions):
    """A row with no real token at all (e.g. an empty example padded to the batch): with a
    -inf mask its softmax would be 0/0; the finite minimum keeps every output a number."""
    model = seeded(minibert.BertForSequenceClassification, bert_config()).to(torch.bfloat16)
    ids, mask = random_batch(3, 6, 50, 0, seed=4, lengths=[6, 3, 0])
    with torch.no_grad():
        out = model(ids, attention_mask=mask, output_attentions=output_attentions,
                    output_hidden_states=True)
    assert out.logits.dtype == torch.bfloat16
    for h in out.hidden_states:
        assert torch.isfinite(h.float()).all()
    assert torch.isfinite(out.logits.float()).all()


# ---- bad input ----------------------------------------------------------------------------------

def test_token_type_one_on_single_segment_model_is_a_clear_error():
    model = seeded(minibert.RobertaModel, roberta_config())
    ids = torch.tensor([[0, 5, 6, 2]])
    with pytest.raises(ValueError, match=r"token_type_ids.*type_vocab_size=1"):
        model(ids, token_type_ids=torch.tensor([[0, 0, 1, 1]]))


def test_too_long_sequence_is_a_clear_error():
    bert = seeded(minibert.BertModel, bert_config())
    with pytest.raises(ValueError, match="max_position_embeddings=24"):
        bert(torch.full((1, 25), 5))
    roberta = seeded(minibert.RobertaModel, roberta_config())
    roberta(torch.full((1, 22), 5))  # positions 2..23 fit in 24
    with pytest.raises(ValueError, match="longer than this model allows"):
        roberta(torch.full((1, 23), 5))


def test_out_of_vocabulary_id_is_a_clear_error():
    with pytest.raises(ValueError, match=r"input_ids must lie in \[0, 50\)"):
        seeded(minibert.BertModel, bert_config())(torch.tensor([[1, 50]]))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("output_attentions", [False, True], ids=["sdpa", "reference"])
def test_autocast_bf16_masks_stay_finite_and_close_to_fp32(causal, output_attentions):
    """The CUDA mixed-precision recipe (autocast to bf16), run on the CPU: the fp32 bias is
    brought down to bf16 without becoming -inf, even on a fully padded row."""
    cls, config = ((minibert.RobertaForCausalLM, roberta_config()) if causal
                   else (minibert.BertModel, bert_config()))
    model = seeded(cls, config)
    ids, mask = random_batch(3, 6, 50, config.pad_token_id, seed=6, lengths=[6, 4, 0])
    with torch.no_grad():
        ref = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(ids, attention_mask=mask, output_attentions=output_attentions,
                        output_hidden_states=True).hidden_states[-1]
    assert torch.isfinite(low.float()).all()
    real = mask.bool()
    torch.testing.assert_close(low.float()[real], ref[real], atol=0.15, rtol=0)
