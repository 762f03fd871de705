"""RobertaForCausalLM.generate and the sampling filters: known answers on tiny inputs,
seeded determinism, stopping at eos and at the position table's end."""

from __future__ import annotations

import pytest
import torch

import minibert
from minibert.generation import next_token, top_k_filter, top_p_filter

CONFIG = {"vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
              "intermediate_size": 37, "max_position_embeddings": 20, "model_type": "roberta",
              "type_vocab_size": 1, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}


@pytest.fixture
def model():
    m = minibert.RobertaForCausalLM(minibert.BertConfig(**CONFIG))
    m.init_weights(torch.Generator().manual_seed(0))
    with torch.no_grad():  # a peakier distribution makes sampling runs differ visibly
        m.lm_head.decoder.weight.mul_(20)
    return m.eval()


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0]])
    kept = top_k_filter(logits, 2)
    assert torch.isfinite(kept).tolist() == [[False, True, False, True]]


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = torch.isfinite(top_p_filter(probs.log(), 0.75))
    assert kept.tolist() == [[True, True, False, False]]
    assert torch.isfinite(top_p_filter(probs.log(), 0.1)).tolist() == [[True, False, False, False]]


def test_sampling_with_top_k_1_is_greedy():
    logits = torch.randn(6, 40, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(0)
    assert torch.equal(next_token(logits, do_sample=True, top_k=1, generator=g), logits.argmax(-1))


def test_bad_sampling_settings_are_clear_errors():
    logits = torch.zeros(1, 5)
    with pytest.raises(ValueError, match="temperature"):
        next_token(logits, do_sample=True, temperature=0.0)
    with pytest.raises(ValueError, match="top_p"):
        next_token(logits, do_sample=True, top_p=1.5)


def test_greedy_generation_matches_step_by_step_argmax(model):
    prompt = torch.tensor([[0, 5, 9, 7]])
    out = model.generate(prompt, max_new_tokens=5, eos_token_id=-1)
    assert out.shape == (1, 9) and torch.equal(out[:, :4], prompt)
    ids = prompt
    with torch.no_grad():
        for _ in range(5):
            ids = torch.cat([ids, model(ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids)


def test_sampling_is_deterministic_given_a_seed(model):
    prompt = torch.tensor([[0, 5, 9], [0, 11, 12]])
    kw = {"max_new_tokens": 8, "do_sample": True, "temperature": 1.5, "top_k": 20, "top_p": 0.95,
              "eos_token_id": -1}
    a = model.generate(prompt, generator=torch.Generator().manual_seed(7), **kw)
    b = model.generate(prompt, generator=torch.Generator().manual_seed(7), **kw)
    runs = {tuple(model.generate(prompt, generator=torch.Generator().manual_seed(s), **kw)
                  .flatten().tolist()) for s in range(5)}
    assert torch.equal(a, b)
    assert len(runs) > 1, "different seeds should give different samples"


def test_generation_stops_at_eos_and_pads_finished_rows(model):
    with torch.no_grad():  # make eos (id 2) the most likely token after token 9 only
        model.lm_head.bias.zero_()
    prompt = torch.tensor([[0, 5, 9]])
    greedy_next = model.generate(prompt, max_new_tokens=1)[0, -1].item()
    out = model.generate(prompt, max_new_tokens=6, eos_token_id=greedy_next)
    assert out.tolist() == [[0, 5, 9, greedy_next]]  # stopped right after eos
    two = model.generate(torch.tensor([[0, 5, 9], [0, 7, 8]]), max_new_tokens=6,
                         eos_token_id=greedy_next)
    row0 = two[0].tolist()
    assert row0[:4] == [0, 5, 9, greedy_next] and set(row0[4:]) <= {1}  # padded after eos


def test_generation_stops_at_the_position_table(model):
    out = model.generate(torch.tensor([[0, 5]]), max_new_tokens=50, eos_token_id=-1)
    assert out.size(1) == 20 - 1 - 1  # positions pad+1 .. max_position_embeddings-1
    model.train()
    model.generate(torch.tensor([[0, 5]]), max_new_tokens=1)
    assert model.training, "generate must restore the training flag"


# ---- the key/value cache ------------------------------------------------------------------

def left_padded(rows: list[list[int]], pad: int = 1) -> torch.Tensor:
    width = max(map(len, rows))
    return torch.tensor([[pad] * (width - len(r)) + r for r in rows])


@pytest.mark.parametrize("kw", [
    {},
    {"do_sample": True, "temperature": 1.3, "top_k": 15, "top_p": 0.9},
])
def test_cached_generation_is_the_reference_generation(model, kw):
    prompt = left_padded([[0, 5, 9, 7, 3], [0, 11], [0, 6, 6]])
    runs = [model.generate(prompt, max_new_tokens=9, eos_token_id=-1, use_cache=use_cache,
                           generator=torch.Generator().manual_seed(3), **kw)
            for use_cache in (True, False)]
    assert runs[0].shape == (3, 14)
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize("output_attentions", [False, True])
def test_feeding_chunks_through_the_cache_gives_the_full_run_logits(model, output_attentions):
    """Prompt of 3, then 2, 1 and 2 new tokens: every position's logits as in one full run,
    left padding included (RoBERTa positions count real tokens only)."""
    ids = left_padded([[0, 5, 9, 7, 3, 8, 4, 12], [0, 11, 13, 14, 15, 16]])
    mask = ids.ne(1).long()
    with torch.no_grad():
        full = model(ids, attention_mask=mask).logits  # (2, 8, V)
        cache = minibert.KVCache(model.config.num_hidden_layers)
        pieces, start = [], 0
        for n in (3, 2, 1, 2):
            out = model(ids[:, start:start + n], attention_mask=mask[:, :start + n],
                        past_key_values=cache, output_attentions=output_attentions)
            assert out.past_key_values is cache and cache.length == start + n
            pieces.append(out.logits)
            start += n
    real = mask.bool()
    torch.testing.assert_close(torch.cat(pieces, 1)[real], full[real], atol=1e-5, rtol=1e-5)


def test_cache_misuse_is_a_clear_error(model):
    cache = minibert.KVCache(2)
    with torch.no_grad():
        model(torch.tensor([[0, 5, 9]]), past_key_values=cache)
        with pytest.raises(
            ValueError, match=r"attention_mask shape \(1, 2\) != \(1, 4\).*3 cached"
        ):
            model(torch.tensor([[4]]), attention_mask=torch.ones(1, 2, dtype=torch.long),
                  past_key_values=cache)
    encoder = minibert.BertModel(minibert.BertConfig(**{**CONFIG, "model_type": "bert"}))
    with pytest.raises(ValueError, match="needs a causal model"):
        encoder(torch.tensor([[0, 5]]), past_key_values=minibert.KVCache(2))
