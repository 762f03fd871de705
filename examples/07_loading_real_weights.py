# %% [markdown]
# # Lesson 7 — Loading real weights: the checkpoint, the load report, "newly initialised"
#
# A Hugging Face model folder is a `config.json` (the sizes: lesson 3) and a
# `model.safetensors` (a flat dict from names such as
# `encoder.layer.0.attention.self.query.weight` to tensors). Loading means: build the model
# from the config, then match names. Our modules are named like Hugging Face's, so names
# match one to one; what does not match is *reported*, never silently dropped:
#
# * **loaded** — a tensor in the file went into a parameter of the same name and shape;
# * **newly initialised** — a parameter the file does not have (typically a new task head,
#   such as a classifier): it keeps its random N(0, 0.02) start and must be trained;
# * **unused** — a tensor in the file the model has no place for (e.g. the pretraining heads
#   when you load into a plain `BertModel`);
# * **renamed** — old spellings mapped to new ones (`LayerNorm.gamma` → `LayerNorm.weight`);
# * **mismatched** — same name, different shape (a 2-label head loaded into a 3-label model).
#
# We load the real all-MiniLM-L6-v2 checkpoint, read its reports, check it against
# Hugging Face `transformers` when that is installed, use it (sentence similarity), and save
# and reload it.
#
# Read alongside: `minibert/modeling_utils.py` (`from_pretrained`, `save_pretrained`),
# `minibert/hub.py` (`resolve_model_dir`), `minibert/checkpoint.py` (`read_state_dict`,
# `load_into`, the `LoadReport`), `minibert/config.py` (`BertConfig.from_pretrained`).
#
# Run: `python examples/07_loading_real_weights.py [--quick]` (under 15 s on two CPU cores) →
# `runs/examples/07_loading/minilm-copy/`.

# %%
import json

import torch
from _course import minilm_dir, out_dir, section

from minibert import BertForMaskedLM, BertForSequenceClassification, BertModel
from tokenizer import WordPieceTokenizer

OUT = out_dir("07_loading")
MINILM = minilm_dir()
print("checkpoint folder:", MINILM.name, sorted(p.name for p in MINILM.iterdir())[:6], "...")
config = json.loads((MINILM / "config.json").read_text())
print({k: config[k] for k in ("model_type", "hidden_size", "num_hidden_layers",
                              "num_attention_heads", "vocab_size")})

# %% [markdown]
# ## 1. Into the model it was saved from: everything loads

# %%
section("BertModel.from_pretrained")
model = BertModel.from_pretrained(MINILM)  # prints the load report
r = model.load_report
print(f"-> loaded {len(r.loaded)}, newly initialised {len(r.newly_initialized)}, "
      f"unused {len(r.unused)}, mismatched {len(r.mismatched)}")

# %% [markdown]
# ## 2. Into a classifier: the head is new
#
# `BertForSequenceClassification` = the same encoder (under the prefix `bert.`) + dropout +
# a linear layer from the pooled `[CLS]` vector to `num_labels` scores. The checkpoint has
# the encoder (stored without the prefix, which the loader adds) but no classifier.

# %%
section("BertForSequenceClassification.from_pretrained(num_labels=2)")
torch.manual_seed(0)  # the new head is drawn from the global generator: seeded, it repeats
clf = BertForSequenceClassification.from_pretrained(
    MINILM, num_labels=2, id2label={0: "unacceptable", 1: "acceptable"})
print("newly initialised:", clf.load_report.newly_initialized)
w = clf.classifier.weight
print(f"classifier weight {tuple(w.shape)}: mean {w.mean().item():+.4f}, std {w.std().item():.4f} "
      "(the N(0, 0.02) of initialisation: random, not learned)")

# %% [markdown]
# "Newly initialised" means the predictions are noise until you fine-tune (lesson 8). Two
# loads give the same encoder but different random heads, so different answers:

# %%
tok = WordPieceTokenizer.from_pretrained(MINILM)
batch = tok.to_tensors(tok.encode_batch(["The book was read by everyone.",
                                         "The book everyone was read by."], padding=True))
inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
for seed in (0, 1):
    # a new random head drawn as a fresh load draws it: N(0, 0.02) weights, a zero bias
    torch.nn.init.normal_(clf.classifier.weight, std=clf.config.initializer_range,
                          generator=torch.Generator().manual_seed(seed))
    torch.nn.init.zeros_(clf.classifier.bias)
    with torch.no_grad():
        p = clf(**inputs).logits.softmax(-1)
    print(f"random head #{seed}: P(acceptable) = {p[0, 1].item():.3f}, {p[1, 1].item():.3f}")

# %% [markdown]
# ## 3. Into a masked LM: this checkpoint has no MLM head
#
# all-MiniLM-L6-v2 was trained for sentence embeddings, so its file has no `cls.predictions`.
# The decoder weight is tied to the word embeddings (loaded), but the transform and the
# output bias are new: such a model cannot fill masks until trained.

# %%
section("BertForMaskedLM.from_pretrained")
mlm = BertForMaskedLM.from_pretrained(MINILM, verbose=False)
print("newly initialised:", mlm.load_report.newly_initialized)

# %% [markdown]
# ## 4. The same numbers as Hugging Face
#
# `transformers` is only a test dependency of this project; if it is installed, the two
# implementations must agree on the real weights.

# %%
section("parity with transformers")
with torch.no_grad():
    ours = model(**inputs).last_hidden_state
try:
    import transformers
except ImportError:
    transformers = None
    print("transformers not installed; skipping (pip install transformers to compare)")
if transformers is not None:
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # its "Loading weights" bar
    hf = transformers.BertModel.from_pretrained(str(MINILM)).eval()
    with torch.no_grad():
        theirs = hf(**inputs).last_hidden_state
    print(
        f"max |minibert - transformers| on last_hidden_state = "
        f"{(ours - theirs).abs().max().item():.2e}"
    )

# %% [markdown]
# ## 5. Using the weights: sentence similarity
#
# This is what all-MiniLM-L6-v2 was trained for: the mean of the token vectors (padding
# left out) is a sentence vector, and similar meanings give a high cosine.

# %%
section("sentence similarity")
sentences = ["A man is playing a guitar.", "Someone plays an instrument.",
             "The stock market fell sharply today.", "Share prices dropped."]
b = tok.to_tensors(tok.encode_batch(sentences, padding=True))
with torch.no_grad():
    h = model(b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state  # (B, T, H)
m = b["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
emb = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)  # (B, H)
sim = emb @ emb.T
for i in range(len(sentences)):
    print(
        f"{sentences[i]:<38}" + " ".join(f"{sim[i, j].item():5.2f}" for j in range(len(sentences)))
    )

# %% [markdown]
# ## 6. Save and load back

# %%
section("save_pretrained and back")
folder = model.save_pretrained(OUT / "minilm-copy")
print("wrote", sorted(p.name for p in folder.iterdir()))
again = BertModel.from_pretrained(folder, verbose=False)
with torch.no_grad():
    same = again(**inputs).last_hidden_state
print(f"reloaded: newly initialised {len(again.load_report.newly_initialized)}, "
      f"max difference {(same - ours).abs().max().item():.1e}")

# %% [markdown]
# ## Exercises
# 1. Save `clf` (the classifier) and load the folder into a plain `BertModel`. Which keys
#    are reported as unused, and why is nothing newly initialised?
# 2. Load the classifier with `num_labels=3` from the folder you saved in exercise 1. What
#    does the error say, and what does `ignore_mismatched_sizes=True` change?

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it; this lesson has no quick mode
# of its own, so a full run prints the same)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
# checkpoint folder: model ['.gitattributes', '1_Pooling', 'README.md', 'config.json', 'config_sentence_transformers.json', 'data_config.json'] ...
# {'model_type': 'bert', 'hidden_size': 384, 'num_hidden_layers': 6, 'num_attention_heads': 12, 'vocab_size': 30522}
#
# == BertModel.from_pretrained =============================================
# Loaded 103 tensors from model/model.safetensors.
# -> loaded 103, newly initialised 0, unused 0, mismatched 0
#
# == BertForSequenceClassification.from_pretrained(num_labels=2) ===========
# Loaded 103 tensors from model/model.safetensors.
#   Newly initialised (random, needs training): classifier.weight, classifier.bias - expected when you put a new head on a pretrained encoder.
# newly initialised: ['classifier.weight', 'classifier.bias']
# classifier weight (2, 384): mean -0.0003, std 0.0200 (the N(0, 0.02) of initialisation: random, not learned)
# random head #0: P(acceptable) = 0.491, 0.491
# random head #1: P(acceptable) = 0.494, 0.493
#
# == BertForMaskedLM.from_pretrained =======================================
# newly initialised: ['cls.predictions.bias', 'cls.predictions.transform.dense.weight', 'cls.predictions.transform.dense.bias', 'cls.predictions.transform.LayerNorm.weight', 'cls.predictions.transform.LayerNorm.bias', 'cls.predictions.decoder.bias']
#
# == parity with transformers ==============================================
# max |minibert - transformers| on last_hidden_state = 0.00e+00
#
# == sentence similarity ===================================================
# A man is playing a guitar.             1.00  0.67 -0.05 -0.07
# Someone plays an instrument.           0.67  1.00 -0.06 -0.09
# The stock market fell sharply today.  -0.05 -0.06  1.00  0.61
# Share prices dropped.                 -0.07 -0.09  0.61  1.00
#
# == save_pretrained and back ==============================================
# wrote ['config.json', 'model.safetensors']
# reloaded: newly initialised 0, max difference 0.0e+00
# ```
