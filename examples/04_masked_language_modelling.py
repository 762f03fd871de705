# %% [markdown]
# # Lesson 4 — Masked language modelling: the 80/10/10 rule
#
# BERT learns by filling in blanks. Of the tokens that are not special (`[CLS]`, `[SEP]`,
# padding), each is *selected* with probability 15 %. A selected token gets a label (its
# original id: the model must predict it) and its input is changed:
#
# * 80 % of the time to `[MASK]`,
# * 10 % to a random token (so the model cannot trust that an unmasked token is right),
# * 10 % it stays as it was (so the model also learns a representation for real tokens,
#   which is all it sees after pretraining).
#
# Unselected tokens get label -100, which the loss ignores. **Whole-word masking** selects
# words instead of pieces: either every piece of `trans ##cend ##ental` is to be predicted or
# none is. The 80/10/10 rule is then applied to each selected piece on its own, so a selected
# word can still show some of its pieces (10 % of them stay as they were, 10 % become a random
# token): the picture below has a kept `##er` beside a `[MASK]`. What whole-word masking
# removes is the easy case of predicting one hidden piece from its unselected neighbours.
#
# We apply the rule to real sentences from Kant, count what happens over many draws, and draw
# a picture of a few draws.
#
# Read alongside: `train/data/masking.py` (`mask_tokens`, and `mask_tokens_reference`, the same rule
# as a plain loop), `train/data/collator.py` (`MLMCollator`: padding + masking per batch, so every
# epoch sees new masks — RoBERTa's *dynamic* masking).
#
# Run: `python examples/04_masked_language_modelling.py [--quick]` → `runs/examples/04_mlm/masking.png`.

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from _course import QUICK, data_dir, out_dir, section, show
from matplotlib.colors import ListedColormap

from tokenizer import WordPieceTokenizer
from train.data.collator import MLMCollator
from train.data.masking import IGNORE_INDEX, mask_tokens
from train.plots import save_figure

DATA = data_dir()
OUT = out_dir("04_mlm")
tok = WordPieceTokenizer.from_file(DATA / "bert_vocab" / "bert-base-uncased-vocab.txt")

kant = DATA / "kant" / "kant.txt"
paragraphs = [" ".join(p.split()) for p in kant.read_text(encoding="utf-8-sig").split("\n\n")]
sentences = [p for p in paragraphs if 60 < len(p) < 400][: 64 if QUICK else 512]
print(f"{len(sentences)} passages of Kant, e.g.\n  {sentences[40]!r}")


def batch_of(texts):
    """Token ids and the tensors masking needs: special-token mask and word ids (-1: no word)."""
    encs = tok.encode_batch(texts, truncation=True, max_length=128, padding=True)
    t = tok.to_tensors(encs, return_special_tokens_mask=True)
    t["word_ids"] = torch.tensor([[-1 if w is None else w for w in e.word_ids] for e in encs])
    return t


def corrupt(t, generator, whole_word=False):
    return mask_tokens(t["input_ids"], t["special_tokens_mask"], mask_token_id=tok.mask_token_id,
                       vocab_size=tok.vocab_size, special_ids=tok.all_special_ids,
                       generator=generator, word_ids=t["word_ids"], whole_word=whole_word,
                       attention_mask=t["attention_mask"])


# %% [markdown]
# ## 1. One draw on one sentence

# %%
section("one draw")
g = torch.Generator().manual_seed(4)
one = batch_of(["Transcendental apperception is the condition of every possible experience."])
masked, labels = corrupt(one, g)
print(f"{'token':>14} {'model sees':>14} {'label':>14}")
for i, o, lab in zip(one["input_ids"][0].tolist(), masked[0].tolist(), labels[0].tolist()):
    shown = tok.id_to_token(o)
    target = "-" if lab == IGNORE_INDEX else tok.id_to_token(lab)
    print(f"{tok.id_to_token(i):>14} {shown:>14} {target:>14}")

# %% [markdown]
# ## 2. Statistics over many draws
#
# One draw is noise; the rule is about rates. Mask the whole set of passages many times
# (a fresh draw each time, as the collator does every batch) and count.

# %%
section("statistics over many draws")
t = batch_of(sentences)
can = (t["special_tokens_mask"] == 0) & (t["attention_mask"] == 1)
draws = 5 if QUICK else 50
g = torch.Generator().manual_seed(0)
counts = {
    "maskable": 0,
    "selected": 0,
    "to_mask": 0,
    "to_random": 0,
    "kept": 0,
    "specials_touched": 0,
}
for _ in range(draws):
    masked, labels = corrupt(t, g)
    sel = labels != IGNORE_INDEX
    counts["maskable"] += int(can.sum())
    counts["selected"] += int(sel.sum())
    counts["to_mask"] += int((sel & (masked == tok.mask_token_id)).sum())
    counts["kept"] += int((sel & (masked == t["input_ids"])).sum())
    counts["to_random"] += int(
        (sel & (masked != tok.mask_token_id) & (masked != t["input_ids"])).sum()
    )
    counts["specials_touched"] += int((~can & (masked != t["input_ids"])).sum())
s = counts["selected"]
print(f"{draws} draws over {int(can.sum()):,} maskable tokens: {s:,} selected = "
      f"{100 * s / counts['maskable']:.2f} % (rule: 15 %)")
print(f"of the selected: [MASK] {100 * counts['to_mask'] / s:.2f} %, random "
      f"{100 * counts['to_random'] / s:.2f} %, unchanged {100 * counts['kept'] / s:.2f} % "
      "(rule: 80 / 10 / 10)")
print("special or padding positions changed:", counts["specials_touched"])

# %% [markdown]
# The rates are 80/10/10 up to sampling noise: with 77,702 selected tokens one standard
# deviation of a 10 % share is √(0.1 · 0.9 / 77,702) ≈ 0.11 percentage points, so 10.02 % and
# 10.10 % are both what the rule predicts. (A random replacement that lands on the original
# token by chance counts as "unchanged", but at 1 in 30,517 that adds only 0.0003 points.)
#
# ## 3. Whole-word masking

# %%
section("whole-word masking")
g = torch.Generator().manual_seed(0)
partial = {False: 0, True: 0}
words_hit = {False: 0, True: 0}
for whole in (False, True):
    for _ in range(draws):
        _, labels = corrupt(t, g, whole_word=whole)
        sel = (labels != IGNORE_INDEX) & can
        for row in range(sel.size(0)):
            ids = t["word_ids"][row]
            multi = [w for w in ids.unique().tolist() if w >= 0 and int((ids == w).sum()) > 1]
            for w in multi:
                hit = sel[row][ids == w]
                words_hit[whole] += int(hit.any())
                partial[whole] += int(hit.any() and not hit.all())
for whole in (False, True):
    print(f"whole_word={whole!s:5}: multi-piece words touched {words_hit[whole]:5,}, "
          f"of them only partly masked {partial[whole]:5,}")

# %% [markdown]
# The collator does the same per batch, padding first; with a fixed seed it is reproducible:

# %%
collate = MLMCollator(tok, mlm_probability=0.15, whole_word=True, seed=0)
batch = collate(tok.encode_batch(sentences[:4], truncation=True, max_length=32))
print({k: tuple(v.shape) for k, v in batch.items()})
print("first row as the model sees it:", tok.decode(batch["input_ids"][0].tolist()))

# %% [markdown]
# ## 4. A picture of eight draws

# %%
text = "Transcendental apperception is the condition of every possible experience."
one = batch_of([text])
toks = [tok.id_to_token(i) for i in one["input_ids"][0].tolist()]
fig, axes = plt.subplots(2, 1, figsize=(13, 6.5))
cmap = ListedColormap(["#f2f2f2", "#d62728", "#ff7f0e", "#2ca02c", "#bdbdbd"])
g = torch.Generator().manual_seed(3)
for ax, whole in zip(axes, (False, True)):
    rows = 8
    kinds = torch.zeros(rows, len(toks), dtype=torch.long)
    shown = []
    for r in range(rows):
        masked, labels = corrupt(one, g, whole_word=whole)
        m, lab, orig = masked[0], labels[0], one["input_ids"][0]
        sel = lab != IGNORE_INDEX
        kinds[r] = torch.where(~sel, 0, torch.where(m == tok.mask_token_id, 1,
                               torch.where(m != orig, 2, 3)))
        kinds[r, one["special_tokens_mask"][0] == 1] = 4
        # A random token may be in a script the default font lacks; show its id instead.
        shown.append([w if w.isascii() else f"#{i}" for i, w in
                      ((i, tok.id_to_token(i)) for i in m.tolist())])
    ax.imshow(kinds, cmap=cmap, vmin=0, vmax=4, aspect="auto")
    for r in range(rows):
        for c, word in enumerate(shown[r]):
            ax.text(c, r, word, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(toks)), toks, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(rows), [f"draw {r + 1}" for r in range(rows)], fontsize=8)
    ax.set_title(("whole-word" if whole else "token-level") + " masking, 15 %: "
                 "white = not selected, red = [MASK], orange = random token, green = kept "
                 "(still predicted), grey = special", fontsize=9)
fig.tight_layout()
png = OUT / "masking.png"
save_figure(fig, png, dpi=110)  # fig.savefig, written atomically (train/plots.py)
print("wrote", png.name)
show(png)

# %% [markdown]
# ## Exercises
# 1. Set `mlm_probability=0.4` in `corrupt` and rerun the statistics. Which rates change and
#    which stay put?
# 2. Whole-word masking selects each *word* with probability 15 %. Count selected tokens per
#    maskable token under `whole_word=True`: is it still about 15 %? Why (see the docstring
#    of `train/data/masking.py`)?

# %% [markdown]
# ## Expected output (full mode; timings and threads vary by machine)
# ```
# 282 passages of Kant, e.g.
#   'I. Solution of the Cosmological Idea of the Totality of the Composition of Phenomena in the Universe.'
#
# == one draw ==============================================================
#          token     model sees          label
#          [CLS]          [CLS]              -
#          trans          trans              -
#         ##cend         [MASK]         ##cend
#        ##ental        ##ental              -
#            app         [MASK]            app
#           ##er         [MASK]           ##er
#      ##ception      ##ception              -
#             is             is              -
#            the            the              -
#      condition      condition              -
#             of             of              -
#          every          every              -
#       possible       possible              -
#     experience     experience              -
#              .              .              -
#          [SEP]          [SEP]              -
#
# == statistics over many draws ============================================
# 50 draws over 10,371 maskable tokens: 77,702 selected = 14.98 % (rule: 15 %)
# of the selected: [MASK] 79.88 %, random 10.10 %, unchanged 10.02 % (rule: 80 / 10 / 10)
# special or padding positions changed: 0
#
# == whole-word masking ====================================================
# whole_word=False: multi-piece words touched 10,925, of them only partly masked 10,479
# whole_word=True : multi-piece words touched 4,878, of them only partly masked     0
# {'input_ids': (4, 32), 'attention_mask': (4, 32), 'token_type_ids': (4, 32), 'labels': (4, 32)}
# first row as the model sees it: [CLS] ii [MASK] [MASK] human intellect, even in an unphilosophical state [MASK] is in possession of certain cognitions " a priori ". [SEP]
# wrote masking.png
# ```

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
# 64 passages of Kant, e.g.
#   'I. Solution of the Cosmological Idea of the Totality of the Composition of Phenomena in the Universe.'
#
# == one draw ==============================================================
#          token     model sees          label
#          [CLS]          [CLS]              -
#          trans          trans              -
#         ##cend         [MASK]         ##cend
#        ##ental        ##ental              -
#            app         [MASK]            app
#           ##er         [MASK]           ##er
#      ##ception      ##ception              -
#             is             is              -
#            the            the              -
#      condition      condition              -
#             of             of              -
#          every          every              -
#       possible       possible              -
#     experience     experience              -
#              .              .              -
#          [SEP]          [SEP]              -
#
# == statistics over many draws ============================================
# 5 draws over 1,425 maskable tokens: 1,066 selected = 14.96 % (rule: 15 %)
# of the selected: [MASK] 80.02 %, random 10.60 %, unchanged 9.38 % (rule: 80 / 10 / 10)
# special or padding positions changed: 0
#
# == whole-word masking ====================================================
# whole_word=False: multi-piece words touched   236, of them only partly masked   226
# whole_word=True : multi-piece words touched   111, of them only partly masked     0
# {'input_ids': (4, 32), 'attention_mask': (4, 32), 'token_type_ids': (4, 32), 'labels': (4, 32)}
# first row as the model sees it: [CLS] ii [MASK] [MASK] human intellect, even in an unphilosophical state [MASK] is in possession of certain cognitions " a priori ". [SEP]
# wrote masking.png
# ```
