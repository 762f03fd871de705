# %% [markdown]
# # Lesson 3 — Counting parameters, tensor by tensor
#
# The KantaiBERT chapter builds `RobertaForMaskedLM(config)` and prints
# `model.num_parameters()` = **83,504,416**, then asks where that number comes from. Here we
# derive it from the config alone, one formula per tensor, and check every tensor against the
# real model; then we do the same for bert-base (the famous "110 M").
#
# With H hidden size, V vocabulary, P positions, S segment types, I feed-forward size, L
# layers:
#
# | tensor | shape | count |
# | --- | --- | --- |
# | word / position / token-type embeddings | (V, H) (P, H) (S, H) | (V + P + S)·H |
# | a LayerNorm (weight and bias) | (H,) (H,) | 2H |
# | query, key, value, attention output | (H, H) + (H,) each | 4(H² + H) |
# | feed-forward in / out | (I, H) + (I,), (H, I) + (H,) | 2HI + I + H |
# | per layer | | 4H² + 4H + 2HI + I + H + 2·2H |
# | MLM head: dense + LayerNorm + decoder bias | | H² + H + 2H + V |
# | pooler (BertModel only) | (H, H) + (H,) | H² + H |
#
# The MLM decoder's weight (V, H) is *tied* to the word embeddings: one tensor under two
# names, counted once. That is why the head adds only a bias of V, not V·H + V.
#
# Read alongside: `minibert/config.py` (`preset`), `minibert/embeddings.py`,
# `minibert/attention.py`, `minibert/layers.py`, `minibert/heads.py`,
# `minibert/modeling_utils.py` (`tie_weights`, `num_parameters`).
#
# The same table for any model, from the shell: `python -m train.cli params kantaibert`
# (or `bert-base-uncased --head base`, or a model folder); it lives in `train/cli/cmd_params.py`.
#
# Run: `python examples/03_counting_parameters.py` (no data needed; under ten seconds on two
# CPU cores, because the models are built on PyTorch's "meta" device, which has shapes but no
# memory).

# %%
import re

import torch
from _course import section

from minibert import BertModel, RobertaForMaskedLM, preset


def formula(name: str, c) -> tuple[str, int]:
    """(the formula as text, its value) for one tensor, from the config alone."""
    H, V, P, S, Im = (c.hidden_size, c.vocab_size, c.max_position_embeddings,
                      c.type_vocab_size, c.intermediate_size)
    rules = [
        (r"word_embeddings\.weight$", "V*H", V * H),
        (r"position_embeddings\.weight$", "P*H", P * H),
        (r"token_type_embeddings\.weight$", "S*H", S * H),
        (r"(LayerNorm|layer_norm)\.(weight|bias)$", "H", H),
        ((r"(query|key|value|attention\.output\.dense|pooler\.dense|lm_head\.dense|"
         r"transform\.dense)\.weight$"), "H*H", H * H),
        (r"intermediate\.dense\.weight$", "I*H", Im * H),
        (r"(?<!attention\.)output\.dense\.weight$", "H*I", H * Im),
        (r"intermediate\.dense\.bias$", "I", Im),
        (r"\.dense\.bias$|(query|key|value)\.bias$", "H", H),
        (r"(lm_head|predictions)\.bias$", "V", V),
    ]
    for pattern, text, value in rules:
        if re.search(pattern, name):
            return text, value
    raise KeyError(f"no formula for {name}")


def audit(model, title: str) -> int:
    """Print each distinct tensor of layer 0 and the rest with its formula; check them all."""
    section(title)
    c = model.config
    total = 0
    per_layer = 0
    for name, p in model.named_parameters():  # a tied tensor is listed once
        text, value = formula(name, c)
        assert value == p.numel(), (
            f"{name}: formula {text}={value:,} but the tensor has {p.numel():,}"
        )
        total += value
        if ".layer.0." in name:
            per_layer += value
        if ".layer." not in name or ".layer.0." in name:
            print(f"  {name:<58} {tuple(p.shape)!s:>13} {text:>4} = {value:>11,}")
    H, Im = c.hidden_size, c.intermediate_size
    layer_formula = 4 * H * H + 4 * H + 2 * H * Im + Im + H + 4 * H
    assert per_layer == layer_formula
    print(
        f"  one layer: 4H² + 4H + 2HI + I + H + 4H = {layer_formula:,};  x {c.num_hidden_layers} "
        f"layers"
    )
    print(
        f"  total from the formulas: {total:,};  model.num_parameters(): {model.num_parameters():,}"
    )
    assert total == model.num_parameters()
    return total


# %% [markdown]
# ## KantaiBERT: RoBERTa-style, 6 layers, a 52,000-token byte-level BPE vocabulary

# %%
with torch.device("meta"):
    kantai = RobertaForMaskedLM(preset("kantaibert"))
print(preset("kantaibert"))
n = audit(kantai, "KantaiBERT = RobertaForMaskedLM(preset('kantaibert'))")
assert n == 83_504_416

# %%
decoder, embedding = kantai.get_output_embeddings().weight, kantai.get_input_embeddings().weight
print("decoder weight is the word-embedding tensor:", decoder is embedding)
V, H = embedding.shape
print(f"without tying KantaiBERT would have {n + V * H:,} parameters; the vocabulary alone "
      f"holds {V * H:,} ({100 * V * H / n:.1f} %)")

# %% [markdown]
# ## bert-base-uncased: 12 layers, 30,522 WordPiece tokens, two segments, a pooler

# %%
with torch.device("meta"):
    bert = BertModel(preset("bert-base-uncased"))
n_bert = audit(bert, "bert-base = BertModel(preset('bert-base-uncased'))")
emb = sum(p.numel() for k, p in bert.named_parameters() if "embeddings" in k)
layers = sum(p.numel() for k, p in bert.named_parameters() if ".layer." in k)
pooler = sum(p.numel() for k, p in bert.named_parameters() if "pooler" in k)
print(f"bert-base: {n_bert:,} = {n_bert / 1e6:.1f} M (the paper rounds to 110 M): embeddings "
      f"{emb:,} + 12 layers {layers:,} + pooler {pooler:,}")

# %% [markdown]
# ## Exercises
# 1. BERT-large has H=1024, L=24, 16 heads, I=4096. Predict its count with the formulas,
#    then check with `BertModel(preset("bert-large-uncased"))` on the meta device (~335 M).
# 2. Why does the number of attention heads not appear in any formula? (Look at
#    `SelfAttention.split_heads` in `minibert/attention.py`.)

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it; this lesson has no quick mode
# of its own, so a full run prints the same)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
# BertConfig(vocab_size=52000, hidden_size=768, num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072, hidden_act='gelu', hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=514, type_vocab_size=1, initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=1, bos_token_id=0, eos_token_id=2, model_type='roberta', position_embedding_type='absolute', is_decoder=False, output_attentions=False, output_hidden_states=False, num_labels=2, id2label=None, label2id=None, problem_type=None, classifier_dropout=None, classifier_pooling='cls')
#
# == KantaiBERT = RobertaForMaskedLM(preset('kantaibert')) =================
#   roberta.embeddings.word_embeddings.weight                   (52000, 768)  V*H =  39,936,000
#   roberta.embeddings.position_embeddings.weight                 (514, 768)  P*H =     394,752
#   roberta.embeddings.token_type_embeddings.weight                 (1, 768)  S*H =         768
#   roberta.embeddings.LayerNorm.weight                               (768,)    H =         768
#   roberta.embeddings.LayerNorm.bias                                 (768,)    H =         768
#   roberta.encoder.layer.0.attention.self.query.weight           (768, 768)  H*H =     589,824
#   roberta.encoder.layer.0.attention.self.query.bias                 (768,)    H =         768
#   roberta.encoder.layer.0.attention.self.key.weight             (768, 768)  H*H =     589,824
#   roberta.encoder.layer.0.attention.self.key.bias                   (768,)    H =         768
#   roberta.encoder.layer.0.attention.self.value.weight           (768, 768)  H*H =     589,824
#   roberta.encoder.layer.0.attention.self.value.bias                 (768,)    H =         768
#   roberta.encoder.layer.0.attention.output.dense.weight         (768, 768)  H*H =     589,824
#   roberta.encoder.layer.0.attention.output.dense.bias               (768,)    H =         768
#   roberta.encoder.layer.0.attention.output.LayerNorm.weight         (768,)    H =         768
#   roberta.encoder.layer.0.attention.output.LayerNorm.bias           (768,)    H =         768
#   roberta.encoder.layer.0.intermediate.dense.weight            (3072, 768)  I*H =   2,359,296
#   roberta.encoder.layer.0.intermediate.dense.bias                  (3072,)    I =       3,072
#   roberta.encoder.layer.0.output.dense.weight                  (768, 3072)  H*I =   2,359,296
#   roberta.encoder.layer.0.output.dense.bias                         (768,)    H =         768
#   roberta.encoder.layer.0.output.LayerNorm.weight                   (768,)    H =         768
#   roberta.encoder.layer.0.output.LayerNorm.bias                     (768,)    H =         768
#   lm_head.bias                                                    (52000,)    V =      52,000
#   lm_head.dense.weight                                          (768, 768)  H*H =     589,824
#   lm_head.dense.bias                                                (768,)    H =         768
#   lm_head.layer_norm.weight                                         (768,)    H =         768
#   lm_head.layer_norm.bias                                           (768,)    H =         768
#   one layer: 4H² + 4H + 2HI + I + H + 4H = 7,087,872;  x 6 layers
#   total from the formulas: 83,504,416;  model.num_parameters(): 83,504,416
# decoder weight is the word-embedding tensor: True
# without tying KantaiBERT would have 123,440,416 parameters; the vocabulary alone holds 39,936,000 (47.8 %)
#
# == bert-base = BertModel(preset('bert-base-uncased')) ====================
#   embeddings.word_embeddings.weight                           (30522, 768)  V*H =  23,440,896
#   embeddings.position_embeddings.weight                         (512, 768)  P*H =     393,216
#   embeddings.token_type_embeddings.weight                         (2, 768)  S*H =       1,536
#   embeddings.LayerNorm.weight                                       (768,)    H =         768
#   embeddings.LayerNorm.bias                                         (768,)    H =         768
#   encoder.layer.0.attention.self.query.weight                   (768, 768)  H*H =     589,824
#   encoder.layer.0.attention.self.query.bias                         (768,)    H =         768
#   encoder.layer.0.attention.self.key.weight                     (768, 768)  H*H =     589,824
#   encoder.layer.0.attention.self.key.bias                           (768,)    H =         768
#   encoder.layer.0.attention.self.value.weight                   (768, 768)  H*H =     589,824
#   encoder.layer.0.attention.self.value.bias                         (768,)    H =         768
#   encoder.layer.0.attention.output.dense.weight                 (768, 768)  H*H =     589,824
#   encoder.layer.0.attention.output.dense.bias                       (768,)    H =         768
#   encoder.layer.0.attention.output.LayerNorm.weight                 (768,)    H =         768
#   encoder.layer.0.attention.output.LayerNorm.bias                   (768,)    H =         768
#   encoder.layer.0.intermediate.dense.weight                    (3072, 768)  I*H =   2,359,296
#   encoder.layer.0.intermediate.dense.bias                          (3072,)    I =       3,072
#   encoder.layer.0.output.dense.weight                          (768, 3072)  H*I =   2,359,296
#   encoder.layer.0.output.dense.bias                                 (768,)    H =         768
#   encoder.layer.0.output.LayerNorm.weight                           (768,)    H =         768
#   encoder.layer.0.output.LayerNorm.bias                             (768,)    H =         768
#   pooler.dense.weight                                           (768, 768)  H*H =     589,824
#   pooler.dense.bias                                                 (768,)    H =         768
#   one layer: 4H² + 4H + 2HI + I + H + 4H = 7,087,872;  x 12 layers
#   total from the formulas: 109,482,240;  model.num_parameters(): 109,482,240
# bert-base: 109,482,240 = 109.5 M (the paper rounds to 110 M): embeddings 23,837,184 + 12 layers 85,054,464 + pooler 590,592
# ```
