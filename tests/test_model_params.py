"""Parameter counts at real sizes, weight tying, and BERT initialisation."""

from __future__ import annotations

import pytest
import torch

import minibert
from minibert import preset


def count(model) -> tuple[int, int]:
    """(parameters, tensors), each tied tensor counted once, as named_parameters() does."""
    params = list(model.named_parameters())
    return sum(p.numel() for _, p in params), len(params)


@pytest.mark.parametrize("name,cls,expected", [
    ("bert-base-uncased", "BertModel", 109_482_240),
    ("bert-base-uncased", "BertForPreTraining", 110_106_428),
    ("kantaibert", "RobertaForMaskedLM", 83_504_416),
])
def test_parameter_counts_at_real_sizes(name, cls, expected):
    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        model = getattr(minibert, cls)(preset(name))
    total, tensors = count(model)
    assert total == expected
    assert model.num_parameters() == expected
    if name == "kantaibert":
        assert tensors == 106  # the chapter's count


def test_decoder_is_tied_to_word_embeddings_and_keeps_its_bias():
    config = minibert.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=20)
    bert = minibert.BertForPreTraining(config)
    dec = bert.cls.predictions.decoder
    assert dec.weight is bert.bert.embeddings.word_embeddings.weight
    assert dec.bias is bert.cls.predictions.bias
    sd = bert.state_dict()
    assert sd["cls.predictions.decoder.weight"].data_ptr() == \
        sd["bert.embeddings.word_embeddings.weight"].data_ptr()
    roberta = minibert.RobertaForMaskedLM(config.replace(model_type="roberta", type_vocab_size=1,
                                                         pad_token_id=1))
    assert roberta.lm_head.decoder.weight is roberta.roberta.embeddings.word_embeddings.weight
    assert roberta.lm_head.decoder.bias is roberta.lm_head.bias


def test_bert_initialisation():
    config = minibert.BertConfig(vocab_size=2000, hidden_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=128)
    model = minibert.BertForPreTraining(config)
    model.init_weights(torch.Generator().manual_seed(0))
    w = model.bert.encoder.layer[0].intermediate.dense.weight
    assert abs(w.std().item() - 0.02) < 0.001 and abs(w.mean().item()) < 0.001
    assert model.bert.encoder.layer[0].intermediate.dense.bias.abs().max() == 0
    ln = model.bert.encoder.layer[1].output.LayerNorm
    assert torch.all(ln.weight == 1) and torch.all(ln.bias == 0)
    emb = model.bert.embeddings.word_embeddings.weight
    assert emb[config.pad_token_id].abs().max() == 0  # padding row, also as decoder row
    assert model.cls.predictions.bias.abs().max() == 0
    again = minibert.BertForPreTraining(config)
    again.init_weights(torch.Generator().manual_seed(0))
    assert torch.equal(again.bert.pooler.dense.weight, model.bert.pooler.dense.weight)
