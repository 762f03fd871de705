# %% [markdown]
# # Lesson 6 — Pretraining KantaiBERT from scratch, then filling a mask
#
# The KantaiBERT chapter trains a RoBERTa-style masked language model on Kant's *Critique of
# Pure Reason*: a byte-level BPE tokenizer trained on the book, `RobertaForMaskedLM` with 6
# layers (83.5 M parameters, lesson 3), dynamic 15 % masking (lesson 4), no NSP (RoBERTa
# dropped it, lesson 5), and a `fill-mask` pipeline at the end. The full model wants a GPU;
# here the same recipe is scaled down so that it trains in a few minutes on a laptop CPU
# (one epoch over the book, about 2-3 minutes on two laptop cores; quick mode: seconds, with
# a toy model that learns little).
#
# Each step below is one function call into the project; the same run from the shell is
#
#     python -m train.cli train-tokenizer --type bpe --files kant.txt --vocab-size 52000 --out KantaiBERT
#     python -m train.cli pretrain --objective roberta --tokenizer KantaiBERT --config kantaibert \
#         --vocab-size tokenizer --hidden-size 128 --num-hidden-layers 2 --num-attention-heads 4 \
#         --intermediate-size 512 --dataset grouped --block-size 64 --train kant.txt --out KantaiBERT
#     python -m train.cli fill-mask KantaiBERT "Human thinking involves human <mask>."
#
# Read alongside: `tokenizer/bpe_trainer.py`, `train/data/datasets.py` (`GroupedTextDataset`),
# `train/data/collator.py` (`MLMCollator`), `train/pretrain.py` (`pretrain`: the loop — AdamW,
# warmup and linear decay, clipping, checkpoints), `train/objectives.py` (which model and loss
# per objective), `minibert/modeling_roberta.py` (`RobertaForMaskedLM`),
# `train/cli/cmd_fill_mask.py` (`fill_mask`).
#
# Run: `python examples/06_pretraining_kantaibert.py [--quick]` → `runs/examples/06_kantaibert/`
# holds the model (config.json, model.safetensors), the tokenizer, metrics.jsonl,
# loss_curve.png and checkpoints/.

# %%
import math

import torch
from _course import QUICK, data_dir, out_dir, section

from minibert import RobertaForMaskedLM, preset
from tokenizer import BPETrainer
from train.cli.cmd_fill_mask import fill_mask, load_masked_lm
from train.data.collator import MLMCollator
from train.data.datasets import GroupedTextDataset
from train.pretrain import PretrainArgs, pretrain

DATA = data_dir()
OUT = out_dir("06_kantaibert")
KANT = DATA / "kant" / "kant.txt"

# %% [markdown]
# ## 1. The tokenizer: byte-level BPE trained on the book
#
# The chapter asks for 52,000 tokens with `min_frequency=2`; Kant's book only has enough
# repeated pairs for about 9,500, so the vocabulary (and the model's embedding matrix) is
# that size instead of 52,000 — which also makes the model much smaller.

# %%
section("tokenizer")
trainer = BPETrainer(vocab_size=52_000, min_frequency=2, show_progress=False)
tok = trainer.train([KANT])
print(trainer.report)
print(
    "special tokens:", {t: tok.token_to_id(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")}
)

# %% [markdown]
# ## 2. The data: the book cut into blocks of 64 tokens
#
# `GroupedTextDataset` tokenizes the whole text and cuts it into equal blocks, each wrapped in
# `<s> ... </s>` (the chapter's `LineByLineTextDataset` makes one example per line instead;
# Kant's lines are short fragments of sentences, so blocks give the model more context).

# %%
section("data")
block = 64
examples = GroupedTextDataset(tok, KANT, block_size=block).examples
if QUICK:
    examples = examples[:96]
n_tokens = sum(len(e["input_ids"]) for e in examples)
print(f"{len(examples):,} blocks of {block} tokens ({n_tokens:,} tokens)")
print("one block:", tok.decode(examples[10]["input_ids"])[:200], "...")

# %% [markdown]
# ## 3. The model: the kantaibert preset, made smaller
#
# The preset is the chapter's `RobertaConfig` (6 layers, 12 heads, hidden 768); we keep the
# RoBERTa layout and shrink the sizes. Position ids in RoBERTa start after the padding id,
# so a block of 64 needs `max_position_embeddings` ≥ 64 + 2.

# %%
section("model")
small = {
    "hidden_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 512,
}
tiny = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}
sizes = tiny if QUICK else small
config = preset("kantaibert", vocab_size=tok.vocab_size, max_position_embeddings=block + 2,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, **sizes)
torch.manual_seed(0)  # dropout masks during training
model = RobertaForMaskedLM(config)
model.init_weights(torch.Generator().manual_seed(0))
with torch.device("meta"):  # shapes only, to count
    full = RobertaForMaskedLM(preset("kantaibert", vocab_size=tok.vocab_size))
print(f"RobertaForMaskedLM: {model.num_parameters():,} parameters "
      f"(the full preset with this vocabulary: {full.num_parameters():,})")

# %% [markdown]
# ## 4. Pretraining
#
# Before any training the model guesses uniformly: the loss is about ln(vocab size).

# %%
section("pretraining")
print(f"loss of a uniform guess: ln({tok.vocab_size}) = {math.log(tok.vocab_size):.2f}")
args = PretrainArgs(objective="roberta", out_dir=str(OUT), epochs=1,
                    max_steps=6 if QUICK else None, batch_size=16 if QUICK else 32,
                    lr=1e-3, warmup_steps=2 if QUICK else 12, weight_decay=0.01, precision="fp32",
                    device="cpu", seed=0, save_every=0, keep=1, log_every=10, progress=not QUICK)
result = pretrain(model, examples, MLMCollator(tok, mlm_probability=0.15, seed=0), args,
                  tokenizer=tok)
first, last = result.losses[0], sum(result.losses[-10:]) / len(result.losses[-10:])
print(f"{result.steps} steps: loss {first:.2f} -> {last:.2f} (mean of the last 10), "
      f"{result.tokens_per_second:,.0f} tokens/s")
print("wrote", sorted(p.name for p in OUT.iterdir()))

# %% [markdown]
# ## 5. Filling a mask with the saved model
#
# Loading from the folder checks that what was saved is complete (the load report would
# list anything missing). The chapter's example sentence comes first.

# %%
section("fill-mask")
model = load_masked_lm(OUT)
for text in ["Human thinking involves human <mask>.",
             "The <mask> of pure reason.",
             "Space and time are the pure forms of <mask>."]:
    print(text)
    for r in fill_mask(model, tok, text, top_k=3):
        print(f"   {r['score']:.4f}  {r['token_str']!r:>14}  {r['sequence']}")

# %% [markdown]
# Look at the loss curve (`loss_curve.png`): a fast fall from ln(9485) ≈ 9.2 to about 6.3,
# then a plateau. That plateau is the **unigram stage**: the model has learned how often each
# token occurs (",", "the", "of" are Kant's commonest) but not yet to read the context, so it
# offers the same frequent tokens for every mask. Using the context comes later, with more
# steps (exercise 1). Keep the scale in mind: this is 250,000 tokens of one book, while real
# language models see billions of tokens.
#
# ## Exercises
# 1. Train for 5 epochs (`epochs=5`), then with `num_hidden_layers=4`. How low does the loss
#    go, and do the predictions change?
# 2. Replace `GroupedTextDataset(...)` by `LineByLineTextDataset(tok, KANT, block_size=64)`
#    (as in the chapter). How many examples, how many tokens — and which learns faster per step?

# %% [markdown]
# ## Expected output (full mode; timings and threads vary by machine)
# ```
#
# == tokenizer =============================================================
# BPE training: 9224 merges, vocabulary 9485 tokens, from 9837 distinct words (260577 in all), 1.24 s; stopped because the most frequent pair occurs 1 times, below min_frequency=2
# special tokens: {'<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, '<mask>': 4}
#
# == data ==================================================================
# 3,954 blocks of 64 tokens (252,995 tokens)
# one block: <s> Pure Conceptions of the Understanding. § 22 Result of this Deduction of the Conceptions of the Understanding. § 23 BOOK II. Analytic of Principles INTRODUCTION. Of the Transcendental Faculty of ju ...
#
# == model =================================================================
# RobertaForMaskedLM: 1,645,709 parameters (the full preset with this vocabulary: 50,810,381)
#
# == pretraining ===========================================================
# loss of a uniform guess: ln(9485) = 9.16
# 124 steps: loss 9.15 -> 6.27 (mean of the last 10), 444 tokens/s
# wrote ['checkpoints', 'config.json', 'loss_curve.png', 'merges.txt', 'metrics.jsonl', 'model.safetensors', 'tokenizer_config.json', 'vocab.json']
#
# == fill-mask =============================================================
# Human thinking involves human <mask>.
#    0.0581             ','  Human thinking involves human,.
#    0.0563          ' the'  Human thinking involves human the.
#    0.0498           ' of'  Human thinking involves human of.
# The <mask> of pure reason.
#    0.0646             ','  The, of pure reason.
#    0.0601          ' the'  The the of pure reason.
#    0.0512           ' of'  The of of pure reason.
# Space and time are the pure forms of <mask>.
#    0.0595             ','  Space and time are the pure forms of,.
#    0.0548          ' the'  Space and time are the pure forms of the.
#    0.0476           ' of'  Space and time are the pure forms of of.
# ```
