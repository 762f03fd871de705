# %% [markdown]
# # Lesson 2 — Embeddings and attention, by hand, in a real pretrained model
#
# We take a real checkpoint, all-MiniLM-L6-v2 (a 6-layer BERT with hidden size 384 and 12
# heads, trained by Microsoft and sentence-transformers), and recompute two of its pieces
# with plain tensor operations:
#
# 1. **The input embeddings**: `LayerNorm(word[id] + position[i] + token_type[segment])`.
#    BERT learns all three tables; attention alone cannot tell word order, the position
#    vectors are what carries it.
# 2. **One attention head**: `softmax(Q Kᵀ / √d) V` with Q, K, V the input projected by the
#    head's slice of the query/key/value weights.
#
# Then we draw what every head of one layer attends to (a heatmap PNG), and check that the
# fast path (PyTorch's fused `scaled_dot_product_attention`) and the readable path give the
# same numbers.
#
# Read alongside: `minibert/embeddings.py` (`Embeddings.forward`), `minibert/attention.py`
# (`SelfAttention.reference` is the paper's formula; `forward` picks the fast path unless
# probabilities are asked for; `build_attention_bias` for padding), `minibert/layers.py`,
# `minibert/modeling_bert.py` (`BertModel`).
#
# Run: `python examples/02_embeddings_and_attention.py [--quick]` (a few seconds) →
# `runs/examples/02_attention/attention_layer*.png`.

# %%
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from _course import minilm_dir, out_dir, section

from minibert import BertModel
from tokenizer import WordPieceTokenizer

OUT = out_dir("02_attention")
model = BertModel.from_pretrained(minilm_dir(), verbose=False)  # eval mode: no dropout
tok = WordPieceTokenizer.from_pretrained(minilm_dir())
c = model.config
print(f"all-MiniLM-L6-v2: {c.num_hidden_layers} layers, hidden {c.hidden_size}, "
      f"{c.num_attention_heads} heads of {c.hidden_size // c.num_attention_heads}, "
      f"{model.num_parameters():,} parameters")

text = "The animal didn't cross the street because it was too tired."
enc = tok.encode(text)
ids = torch.tensor([enc.ids])  # (1, T)
print(enc.tokens)

# %% [markdown]
# ## 1. Token + position + segment embeddings

# %%
section("embeddings by hand")
E = model.embeddings
T = ids.size(1)
word = E.word_embeddings.weight[ids[0]]  # (T, H): one row per token id
position = E.position_embeddings.weight[:T]  # (T, H): rows 0..T-1
segment = E.token_type_embeddings.weight[torch.tensor(enc.type_ids)]  # (T, H): all segment 0
summed = word + position + segment
by_hand = (summed - summed.mean(-1, keepdim=True)) / torch.sqrt(
    summed.var(-1, unbiased=False, keepdim=True) + E.LayerNorm.eps
) * E.LayerNorm.weight + E.LayerNorm.bias
with torch.no_grad():
    x = E(ids)[0]  # (T, H)
print(
    f"tables: word {tuple(E.word_embeddings.weight.shape)}, position "
    f"{tuple(E.position_embeddings.weight.shape)}, token type "
    f"{tuple(E.token_type_embeddings.weight.shape)}"
)
print(f"max |by hand - model.embeddings| = {(by_hand - x).abs().max().item():.2e}")
# "the" appears twice: same word vector, different positions, so different inputs.
the = [i for i, t in enumerate(enc.tokens) if t == "the"]
cos = torch.cosine_similarity(x[the[0]], x[the[1]], dim=0).item()
print(
    f"'the' at positions {the}: same word row, cosine of the two inputs {cos:.3f} (not 1: "
    f"position differs)"
)

# %% [markdown]
# ## 2. One attention head by hand
#
# Head h owns columns h·d … (h+1)·d of the query, key and value projections (d = 32 here).

# %%
section("one head by hand")
layer, h = 0, 3
attn = model.encoder.layer[layer].attention.self
d = attn.head_size
cols = slice(h * d, (h + 1) * d)
with torch.no_grad():
    q = x @ attn.query.weight[cols].T + attn.query.bias[cols]  # (T, d)
    k = x @ attn.key.weight[cols].T + attn.key.bias[cols]  # (T, d)
    v = x @ attn.value.weight[cols].T + attn.value.bias[cols]  # (T, d)
    scores = q @ k.T / math.sqrt(d)  # (T, T): how well each query matches each key
    probs = scores.softmax(dim=-1)  # each row sums to 1
    head_out = probs @ v  # (T, d): a weighted mean of the values
    out = model(ids, output_attentions=True)
print(f"layer {layer} head {h}: max |by hand - model's probabilities| = "
      f"{(probs - out.attentions[layer][0, h]).abs().max().item():.2e}")
print(f"head output {tuple(head_out.shape)}; rows of the attention matrix sum to "
      f"{probs.sum(-1).min().item():.4f}..{probs.sum(-1).max().item():.4f}")

# %% [markdown]
# ## 3. What the heads look at
#
# Each row of a heatmap is one token asking "whom do I read from?"; the row sums to 1.
# Early layers mostly look at neighbours and at `[CLS]`/`[SEP]`; later ones mix more widely.

# %%
section("attention heatmaps")
A = torch.stack(out.attentions)[:, 0]  # (layers, nh, T, T)
it = enc.tokens.index("it")
for lay in (0, c.num_hidden_layers - 1):
    fig, axes = plt.subplots(3, 4, figsize=(16, 12))
    for head, ax in enumerate(axes.flat):
        ax.imshow(A[lay, head], cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(T), enc.tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(T), enc.tokens, fontsize=7)
        ax.set_title(f"head {head}", fontsize=9)
    fig.suptitle(f"all-MiniLM-L6-v2, layer {lay}: attention probabilities (row = query token)")
    fig.tight_layout()
    png = OUT / f"attention_layer{lay}.png"
    fig.savefig(png, dpi=80)
    plt.close(fig)
    print("wrote", png.name)
best = A[:, :, it].clone()  # (layers, nh, T): what "it" reads, per head
best[:, :, it] = 0  # ignore attention to itself
best[:, :, 0] = best[:, :, -1] = 0  # and to [CLS] / [SEP]
lay, head = divmod(int(best.amax(-1).argmax()), c.num_attention_heads)
top = best[lay, head].topk(3)
print(f"'it' reads most from another word in layer {lay}, head {head}: " + ", ".join(
    f"{enc.tokens[j]!r} {p:.2f}" for p, j in zip(top.values.tolist(), top.indices.tolist())))

# %% [markdown]
# ## 4. The fast path agrees with the readable one
#
# Without `output_attentions`, each layer calls `torch.nn.functional.scaled_dot_product_attention`
# (fused: never stores the T×T matrix). With it, the layer runs the formula above. Padding
# must not change anything either: a padded batch gets an attention bias of "very negative"
# on the padding keys.

# %%
section("fast path vs readable path, padding")
with torch.no_grad():
    fast = model(ids).last_hidden_state
    slow = out.last_hidden_state
    batch = tok.to_tensors(tok.encode_batch([text, "Tired animals rest."], padding=True))
    padded = model(batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    short = model(torch.tensor([tok.encode("Tired animals rest.").ids])).last_hidden_state
n = short.size(1)
print(f"max |SDPA - explicit|                 = {(fast - slow).abs().max().item():.2e}")
print(
    f"max |padded batch - alone| (sentence 2) = {(padded[1, :n] - short[0]).abs().max().item():.2e}"
)

# %% [markdown]
# ## Exercises
# 1. Shuffle the position rows (`position = E.position_embeddings.weight[torch.randperm(T)]`)
#    and pass the result through the encoder (`model.encoder(by_hand[None])`): how much does
#    the last hidden state change?
# 2. Find a head whose attention is (almost) the diagonal shifted by one: each token reading
#    the previous token. Which layer is it in?

# %% [markdown]
# ## Expected output (full mode; timings and threads vary by machine)
# ```
# all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads of 32, 22,713,216 parameters
# ['[CLS]', 'the', 'animal', 'didn', "'", 't', 'cross', 'the', 'street', 'because', 'it', 'was', 'too', 'tired', '.', '[SEP]']
#
# == embeddings by hand ====================================================
# tables: word (30522, 384), position (512, 384), token type (2, 384)
# max |by hand - model.embeddings| = 9.54e-07
# 'the' at positions [1, 7]: same word row, cosine of the two inputs 0.855 (not 1: position differs)
#
# == one head by hand ======================================================
# layer 0 head 3: max |by hand - model's probabilities| = 2.98e-08
# head output (16, 32); rows of the attention matrix sum to 1.0000..1.0000
#
# == attention heatmaps ====================================================
# wrote attention_layer0.png
# wrote attention_layer5.png
# 'it' reads most from another word in layer 0, head 2: 'because' 1.00, 'street' 0.00, "'" 0.00
#
# == fast path vs readable path, padding ===================================
# max |SDPA - explicit|                 = 2.41e-06
# max |padded batch - alone| (sentence 2) = 1.70e-06
# ```
