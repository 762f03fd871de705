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
# Then we measure and draw what the heads attend to (heatmap PNGs, and an interactive page
# with every layer and head), and check that the fast path (PyTorch's fused
# `scaled_dot_product_attention`) and the readable path give the same numbers.
#
# Read alongside: `minibert/embeddings.py` (`Embeddings.forward`), `minibert/attention.py`
# (`SelfAttention.reference` is the paper's formula; `forward` picks the fast path unless
# probabilities are asked for; `build_attention_bias` for padding), `minibert/layers.py`,
# `minibert/modeling_bert.py` (`BertModel`).
#
# Run: `python examples/02_embeddings_and_attention.py [--quick]` (under 15 s on two CPU cores) →
# `runs/examples/02_attention/attention_layer*.png` and `explorer.html` (open it in a browser:
# choose a layer and a head, click a token). The same page for any model and sentence:
# `minibert explain MODEL "sentence" --out page.html` (`train/explain.py`).

# %%
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from _course import minilm_dir, out_dir, section, show

from minibert import BertModel
from tokenizer import WordPieceTokenizer
from train.explain import explain
from train.explain_page import write_page
from train.plots import save_figure

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
# Each row of a heatmap is one token asking "whom do I read from?"; the row sums to 1. Two
# numbers summarise a layer: the entropy of a row (0 when a token reads one token only,
# ln 16 ≈ 2.77 when it reads all 16 equally), and how much weight goes to `[CLS]`. A head
# with nothing useful to do parks its attention on `[CLS]` (or `[SEP]`), a "no-op": the
# value vector there changes the output little. On this sentence, MiniLM's layer 0 is the
# most diffuse, the middle layers park most weight on `[CLS]`, and the last layer reads more
# widely again; what any one head does is best seen by looking, layer by layer.

# %%
section("attention heatmaps")
A = torch.stack(out.attentions)[:, 0]  # (layers, nh, T, T)
entropy = -(A * A.clamp_min(1e-12).log()).sum(-1)  # (layers, nh, T): one value per row
for lay in range(c.num_hidden_layers):
    print(f"layer {lay}: mean row entropy {entropy[lay].mean():.2f}, "
          f"weight on [CLS] {A[lay, :, :, 0].mean():.2f}, on [SEP] {A[lay, :, :, -1].mean():.2f}")
for lay in (0, c.num_hidden_layers - 1):
    fig, axes = plt.subplots(3, 4, figsize=(16, 12))
    for head, ax in enumerate(axes.flat):
        image = ax.imshow(A[lay, head], cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(T), enc.tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(T), enc.tokens, fontsize=7)
        ax.set_title(f"head {head}", fontsize=9)
    fig.suptitle(f"all-MiniLM-L6-v2, layer {lay}: attention probabilities (row = query token)")
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    fig.colorbar(image, cax=fig.add_axes((0.93, 0.15, 0.012, 0.7)), label="probability")
    png = OUT / f"attention_layer{lay}.png"
    save_figure(fig, png, dpi=80)  # fig.savefig, written atomically (train/plots.py)
    print("wrote", png.name)
    show(png)

# %% [markdown]
# The heatmaps are two layers of six. `explorer.html` holds all of them, as a heatmap and as
# lines from each token to those it reads; there you can see, for instance, why the token
# a head reads most is no proof of "understanding" (exercise 2). In a notebook it shows here.

# %%
page = explain(model, tok, text)
print("wrote", write_page(page, OUT / "explorer.html").name,
      f"({len(page['attentions'])} layers x {len(page['attentions'][0])} heads)")
show(page)

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
# 1. Shuffle the position rows and redo the LayerNorm:
#    `perm = torch.randperm(T, generator=torch.Generator().manual_seed(0))`, then
#    `shuffled = E.LayerNorm(word + E.position_embeddings.weight[perm] + segment)`. Pass both
#    through the encoder, `model.encoder(shuffled[None])` and `model.encoder(x[None])` (under
#    `torch.no_grad()`; each returns a tuple: last hidden state, all hidden states, all
#    attentions, so take `[0]`). How much does the last hidden state change?
# 2. In `explorer.html`, find a head whose attention is (almost) the diagonal shifted by one:
#    each token reading the previous token. Which layer is it in? In that head, which token
#    does "it" read, and does that tell you what "it" refers to?

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it; this lesson has no quick mode
# of its own, so a full run prints the same)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
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
# layer 0: mean row entropy 2.09, weight on [CLS] 0.21, on [SEP] 0.07
# layer 1: mean row entropy 1.22, weight on [CLS] 0.54, on [SEP] 0.02
# layer 2: mean row entropy 1.19, weight on [CLS] 0.58, on [SEP] 0.01
# layer 3: mean row entropy 1.64, weight on [CLS] 0.49, on [SEP] 0.03
# layer 4: mean row entropy 1.45, weight on [CLS] 0.60, on [SEP] 0.02
# layer 5: mean row entropy 1.97, weight on [CLS] 0.37, on [SEP] 0.03
# wrote attention_layer0.png
# wrote attention_layer5.png
# wrote explorer.html (6 layers x 12 heads)
#
# == fast path vs readable path, padding ===================================
# max |SDPA - explicit|                 = 1.01e-06
# max |padded batch - alone| (sentence 2) = 1.43e-06
# ```
