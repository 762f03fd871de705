# %% [markdown]
# # Lesson 6 — Pretraining KantaiBERT from scratch, then filling a mask
#
# The KantaiBERT chapter trains a RoBERTa-style masked language model on Kant's *Critique of
# Pure Reason*: a byte-level BPE tokenizer trained on the book, `RobertaForMaskedLM` with 6
# layers (83.5 M parameters, lesson 3), dynamic 15 % masking (lesson 4), no NSP (RoBERTa
# dropped it, lesson 5), and a `fill-mask` pipeline at the end. The full model wants a GPU;
# here the same recipe is scaled down to a few minutes on two free CPU cores (seven epochs over
# the book: 2 min 18 s in our run, on an AVX-512 CPU; quick mode: seconds, with a toy model
# that learns little). In that time the loss goes well below the line of a model that only
# knows how often each token occurs, and the chapter's sentence gets answers that fit it:
# "Human thinking involves human reason", "Space and time are the pure forms of experience".
# One choice makes the difference, short blocks (section 2): with the book cut into 64-token
# blocks the same model, for the same minutes, never got past predicting "the" and ",".
#
# Each step below is one function call into the project; the same run from the shell is
#
#     python -m train.cli train-tokenizer --type bpe --vocab-size 4000 --min-frequency 2 \
#         --out kant-bpe kant.txt
#     python -m train.cli pretrain --objective roberta --tokenizer kant-bpe --config kantaibert \
#         --vocab-size tokenizer --hidden-size 128 --num-hidden-layers 4 --num-attention-heads 4 \
#         --intermediate-size 512 --max-position-embeddings 18 --hidden-dropout-prob 0 \
#         --attention-probs-dropout-prob 0 --dataset grouped --block-size 16 --train kant.txt \
#         --epochs 7 --batch-size 64 --lr 1e-3 --warmup-steps 100 --precision fp32 --out KantaiBERT
#     python -m train.cli fill-mask KantaiBERT "Human thinking involves human <mask>."
#
# (`pretrain` first prints the model's size: 1,328,544 parameters, this lesson's model. The
# tokenizer gets a folder of its own; `pretrain` copies it into KantaiBERT beside the model.)
#
# Read alongside: `tokenizer/bpe_trainer.py`, `train/data/datasets.py` (`text_shards`,
# `PackedBlocks`), `train/data/collator.py` (`MLMCollator`), `train/data/loader.py` (the data
# order and the batches), `train/data/masking.py` (`context_free_loss`, the copy line of
# section 4), `train/pretrain.py` (`pretrain`: the loop — AdamW, warmup and linear decay,
# clipping, checkpoints), `train/pretrain_setup.py` (set-up and resume before the first step),
# `train/objectives.py` (which model and loss per objective),
# `minibert/modeling_roberta.py` (`RobertaForMaskedLM`), `train/cli/cmd_fill_mask.py`
# (`fill_mask`).
#
# Run: `python examples/06_pretraining_kantaibert.py [--quick]` → `runs/examples/06_kantaibert/`
# holds the model (config.json, model.safetensors), the tokenizer, metrics.jsonl,
# loss_curve.png and checkpoints/.

# %%
import math
import time
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from _course import QUICK, data_dir, earlier_run, out_dir, section, show

from minibert import RobertaForMaskedLM, preset
from tokenizer import BPETrainer
from train.cli.cmd_fill_mask import fill_mask, load_masked_lm
from train.data.collator import MLMCollator
from train.data.datasets import PackedBlocks, text_shards
from train.data.masking import context_free_loss
from train.plots import save_figure
from train.pretrain import PretrainArgs, pretrain

DATA = data_dir()
OUT = out_dir("06_kantaibert")
KANT = DATA / "kant" / "kant.txt"

# %% [markdown]
# ## 1. The tokenizer: byte-level BPE trained on the book
#
# The chapter asks for 52,000 tokens with `min_frequency=2`; Kant's book only has enough
# repeated pairs for about 9,500. We stop at 4,000. The vocabulary sets the size of the output
# layer, which scores every token at each predicted position: 4,000 × 128 = 512,000
# multiply-adds there, against 786,432 per token for the four layers together
# (4 · (4·128² + 2·128·512): attention's four projections and the feed-forward block). The
# loop runs the output layer only at the ~15 % of positions that are scored
# (`sparse_prediction`, section 4), so at 4,000 tokens it adds about a tenth to the layers'
# work (77,000 per token). At the chapter's 52,000 it would add more than the four layers do
# (6.7 M per scored position, about 1 M per token), and its table, shared with the input
# embeddings, would hold eight times the parameters of the rest of the model. A rarer token
# seen a handful of times in one book teaches the model little anyway. Common words
# (" reason", " human", " nature") stay single tokens; rare ones are cut into two or three
# pieces.

# %%
section("tokenizer")
trainer = BPETrainer(vocab_size=4_000, min_frequency=2, show_progress=False)
tok = trainer.train([KANT])
print(trainer.report)
print("special tokens:", {t: tok.token_to_id(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")})

# %% [markdown]
# ## 2. The data: the book cut into blocks of 16 tokens
#
# `text_shards` tokenizes the book line by line into arrays of token ids in memory (the same
# arrays `minibert prepare-data` writes to disk for a corpus of any size), and `PackedBlocks`
# cuts them into equal blocks, each wrapped in `<s> ... </s>` (the chapter's
# `LineByLineTextDataset` makes one example per line instead; Kant's lines are fragments of
# 10 to 15 tokens, so short blocks are close to the chapter's examples, without the padding).
#
# Why so short? A freshly initialised attention head spreads its attention evenly: over 64
# positions a masked token gives 1/64 of its attention to the word just before it, over 16
# positions 1/16. The gradient that teaches a head to look at its neighbours is proportional
# to that share, so it is four times stronger in short blocks. With blocks of 64 (and of 32)
# this model spent its whole budget on the plateau where it predicts token frequencies
# (bench/RESULTS.md, "Lesson 06"); with 16 it leaves the plateau after about 1,200 steps.
# BERT itself trained 90 % of its steps on sequences of 128 before moving to 512, for speed;
# here short sequences are what gets learning started at all.

# %%
section("data")
block = 16
examples = PackedBlocks(text_shards(tok, KANT), tok, block_size=block)
if QUICK:
    examples = examples.head(384)  # the first 384 blocks
n_tokens = sum(len(e["input_ids"]) for e in examples)
print(f"{len(examples):,} blocks of {block} tokens ({n_tokens:,} tokens)")
# The best a model that ignores the context can do is predict each token's frequency: its
# loss is the entropy of the unigram distribution. Learning means going below this line.
counts = Counter(i for e in examples for i in e["input_ids"][1:-1])
total = sum(counts.values())
unigram = -sum(c / total * math.log(c / total) for c in counts.values())
print("one block:", tok.decode(examples[10]["input_ids"])[:200], "...")

# %% [markdown]
# ## 3. The model: the kantaibert preset, made smaller
#
# The preset is the chapter's `RobertaConfig` (6 layers, 12 heads, hidden 768); we keep the
# RoBERTa layout and shrink the sizes to what a few minutes of two CPU cores can train:
# 4 layers of width 128 (4 heads of 32), about 1.3 M parameters, 0.5 M of them the token
# embeddings (shared with the output layer). Depth matters more than width here: reading
# the context takes at least two layers (one to gather the neighbours, one to use them), and
# four leave room for more. Dropout is off: it fights overfitting, and a model this small
# seeing the book seven times underfits it. Position ids in RoBERTa start after the padding
# id, so a block of 16 needs `max_position_embeddings` ≥ 16 + 2.

# %%
section("model")
small = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
         "intermediate_size": 512}
tiny = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
sizes = tiny if QUICK else small
config = preset("kantaibert", vocab_size=tok.vocab_size, max_position_embeddings=block + 2,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0, **sizes)
model = RobertaForMaskedLM(config)
model.init_weights(torch.Generator().manual_seed(0))
with torch.device("meta"):  # shapes only, to count
    full = RobertaForMaskedLM(preset("kantaibert", vocab_size=tok.vocab_size))
print(f"RobertaForMaskedLM: {model.num_parameters():,} parameters "
      f"(the full preset with this vocabulary: {full.num_parameters():,})")

# %% [markdown]
# ## 4. Pretraining
#
# Before any training the model guesses uniformly: the loss is about ln(vocab size). It
# falls fast to the unigram line (token frequencies are easy), sits near it while its
# attention learns where to look, and then falls below it. Two lines to read it against:
#
# * **unigram**: the entropy of token frequencies, what a model that ignores its input reaches;
# * **copy**: the best a model can do from the token at the scored position alone, without
#   reading any context. By the 80/10/10 rule of lesson 4, 80 % of the scored positions show
#   `<mask>` (only frequencies help there: the unigram loss), 10 % their own token and 10 % a
#   random one. A copier cannot tell kept tokens from random ones; staking half on the token
#   it sees would give 0.9 × unigram + 0.2·ln 2, 0.14 above 0.9 × unigram. It does a little
#   better by weighing how common the token is (random draws are even over the vocabulary,
#   so mostly rare tokens): `context_free_loss` in `train/data/masking.py` works that best
#   out, about 0.9 × unigram + 0.08 on this book. Only below this line does the model use the
#   words around the mask.
#
# Seven epochs of batches of 64 blocks (1,024 tokens) give about 2,100 steps. The learning
# rate 1e-3 (warmed up over 100 steps, then decayed linearly) is high by bert-base standards
# (1e-4) but right for a model this small. The loop runs the output layer only at the masked
# positions (`sparse_prediction`, the default): the same loss and gradients, and at a
# vocabulary of 4,000 the run takes 30 % less time.

# %%
section("pretraining")
# The copy line: the token frequencies, and the ids a random replacement is drawn from.
n_random = tok.vocab_size - len(tok.all_special_ids)
copy = context_free_loss([c / total for c in counts.values()], n_random)
print(f"loss of a uniform guess: ln({tok.vocab_size}) = {math.log(tok.vocab_size):.2f}; "
      f"unigram baseline (token frequencies alone): {unigram:.2f}; copy line: {copy:.2f}")
args = PretrainArgs(objective="roberta", out_dir=str(OUT), epochs=7,
                    max_steps=6 if QUICK else None, batch_size=64,
                    lr=1e-3, warmup_steps=2 if QUICK else 100, weight_decay=0.01,
                    precision="fp32", device="cpu", seed=0, save_every=0, keep=1, log_every=10,
                    progress=not QUICK, resume=earlier_run(OUT))
started = time.perf_counter()
result = pretrain(model, examples, MLMCollator(tok, mlm_probability=0.15, seed=0), args,
                  tokenizer=tok)
first, last = result.losses[0], sum(result.losses[-10:]) / len(result.losses[-10:])
print(f"{result.steps} steps: loss {first:.2f} -> {last:.2f} (mean of the last 10), "
      f"{last - unigram:+.2f} against the unigram baseline, {last - copy:+.2f} against the "
      f"copy line; {result.tokens_per_second:,.0f} tokens/s, "
      f"{time.perf_counter() - started:.0f} s")
every = max(1, result.steps // 8)
print("loss every", every, "steps:", " ".join(f"{x:.2f}" for x in result.losses[::every]),
      f"(unigram {unigram:.2f}, copy {copy:.2f})")
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(range(1, result.steps + 1), result.losses, lw=0.8, label="MLM loss (per step)")
ax.axhline(unigram, color="tab:red", ls="--", label=f"unigram baseline {unigram:.2f}")
ax.axhline(copy, color="tab:orange", ls=":", label=f"copy line {copy:.2f}")
ax.set_xlabel("step")
ax.set_ylabel("loss (nats)")
ax.legend()
fig.tight_layout()
save_figure(fig, OUT / "loss_vs_unigram.png")  # fig.savefig, written atomically
show(OUT / "loss_vs_unigram.png")
print("wrote", sorted(p.name for p in OUT.iterdir() if not p.name.startswith(".")))

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
    for r in fill_mask(model, tok, text, top_k=5):
        print(f"   {r['score']:.4f}  {r['token_str']!r:>14}  {r['sequence']}")

# %% [markdown]
# ## 6. The chapter's cells, next to `pretrain(...)`
#
# The chapter writes its run with transformers' classes. minibert has each of them under the
# same name, so its cells run here with only the imports changed: `from transformers import X`
# becomes `from minibert import X` for models, configs and tokenizers, `from train import X`
# for the rest (README, "Use it from Python"). They are not a second way to train:
# `LineByLineTextDataset` sits in `train/data/datasets.py` beside section 2's dataset,
# `DataCollatorForLanguageModeling` is section 4's `MLMCollator` under transformers' name, and
# `Trainer` (`train/trainer.py`) turns its `TrainingArguments` into the `PretrainArgs` of
# section 4 and calls the same `pretrain`. So one short run, written both ways from the same
# starting weights, must give the same loss at every step and the same weights at the end.
# The model is the chapter's `RobertaConfig` at section 3's sizes, with the chapter's 514
# positions (its examples are lines of up to 128 tokens) and its dropout; the tokenizer is
# section 1's, which `pretrain` saved in the lesson's folder.

# %%
section("the chapter's cells, both ways")
import copy  # noqa: E402

from minibert import RobertaConfig, RobertaTokenizer  # noqa: E402
from train import (  # noqa: E402
    DataCollatorForLanguageModeling,
    LineByLineTextDataset,
    Trainer,
    TrainingArguments,
    pipeline,
)
from train.training_log import read_metrics  # noqa: E402

steps = 3 if QUICK else 40  # max_steps below keeps it short; the chapter trains an epoch
tokenizer = RobertaTokenizer.from_pretrained(OUT, max_length=512)
config = RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=514,
                       type_vocab_size=1, **sizes)
torch.manual_seed(0)
book_model = RobertaForMaskedLM(config=config)
our_model = copy.deepcopy(book_model)  # the same starting weights for the second way

# the chapter's way (the same examples feed the second way)
dataset = LineByLineTextDataset(tokenizer=tokenizer, file_path=KANT, block_size=128)
data_collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=True,
                                                mlm_probability=0.15)
training_args = TrainingArguments(output_dir=OUT / "chapter", overwrite_output_dir=True,
                                  num_train_epochs=1, max_steps=steps,
                                  per_device_train_batch_size=64, save_steps=10_000,
                                  save_total_limit=2, logging_steps=1, disable_tqdm=QUICK)
trainer = Trainer(model=book_model, args=training_args, data_collator=data_collator,
                  train_dataset=dataset)
trainer.train(resume_from_checkpoint=earlier_run(OUT / "chapter"))
trainer.save_model(OUT / "chapter")
book_fill_mask = pipeline("fill-mask", model=OUT / "chapter", tokenizer=OUT)

# our way: what the Trainer asked of pretrain, spelled out (transformers' defaults included)
args = PretrainArgs(objective="roberta", out_dir=str(OUT / "ours"), epochs=1, max_steps=steps,
                    batch_size=64, lr=5e-5, warmup_steps=0, weight_decay=0.0,
                    max_grad_norm=1.0, precision="fp32", seed=42, save_every=10_000, keep=2,
                    log_every=1, progress=not QUICK, plot=False,
                    resume=earlier_run(OUT / "ours"))
pretrain(our_model, dataset, MLMCollator(tok, mlm_probability=0.15, seed=0), args)

book_losses = [r["loss"] for r in read_metrics(OUT / "chapter" / "metrics.jsonl")]
our_losses = [r["loss"] for r in read_metrics(OUT / "ours" / "metrics.jsonl")]
every = max(1, steps // 8)
print(f"loss every {every} steps, the chapter's Trainer:",
      " ".join(f"{x:.4f}" for x in book_losses[::every]))
print(f"loss every {every} steps, pretrain(...)        :",
      " ".join(f"{x:.4f}" for x in our_losses[::every]))
same_weights = all(torch.equal(a, b) for a, b in zip(book_model.state_dict().values(),
                                                    our_model.state_dict().values()))
print(f"the same loss at every step: {book_losses == our_losses}; "
      f"the same weights at the end: {same_weights}")
text = "Human thinking involves human <mask>."
print(f"{text}  the chapter's pipeline, then fill_mask(...):")
for a, b in zip(book_fill_mask(text)[:3], fill_mask(our_model, tok, text, top_k=3)):
    print(f"   {a['score']:.4f}  {a['token_str']!r:>14}    {b['score']:.4f}  {b['token_str']!r:>14}")

# %% [markdown]
# Look at `loss_vs_unigram.png`: a fast fall from ln(4000) ≈ 8.3 to the unigram line, where
# the model knows how often each token occurs ("," "the" "of" are Kant's commonest) and
# offers them for every mask, whatever the sentence; a long stretch near the copy line while
# the attention heads learn where to look; then, after about 1,200 steps, a fall well below
# it. In our run (seed 0, the numbers the lesson prints; bench/RESULTS.md, "Lesson 06") the
# loss ended at 4.91, 1.31 under the unigram line and 0.77 under the copy line, and the
# answers fit their sentences:
#
#     Human thinking involves human <mask>.          of, cognition, conception, sphere, reason
#     The <mask> of pure reason.                     conception, possibility, existence, unity, idea
#     Space and time are the pure forms of <mask>.   experience, reason, cognition, conception, conceptions
#
# Nouns where a noun belongs, and Kant's nouns: "the conception of pure reason", "the pure
# forms of experience". Some answers are still odd, and exercise 4 asks why. Keep the scale
# in mind: 304,000 tokens of one book seen seven times by 1.3 M parameters, while the
# chapter's model (83 M) and real language models see millions to billions of tokens.
#
# **A larger budget** (a GPU, or an hour of CPU) changes the choices above in one direction:
# the chapter's 52,000-token vocabulary (whole words instead of pieces), 6 layers of width
# 768, longer blocks (128, then 512 as BERT did, once the heads have learned to look around),
# batches of 64 to 256 with a lower learning rate (1e-4), more epochs, and more text than one
# book (`philosophy/` has four more): the loss goes on down, and the answers become fluent.
#
# ## Exercises
# 1. How much of the gap below the unigram line is copying? Take a batch from the collator,
#    set `input_ids` to `<mask>` wherever `labels != -100` (every selected token hidden), and
#    compare the model's loss on it with the two lines.
# 2. Set `block = 32` and replace `PackedBlocks(...)` by
#    `LineByLineTextDataset(tok, KANT, block_size=block)` (as in the chapter; it lives in
#    `train.data.datasets`). The model must grow with it: section 3 builds it with
#    `max_position_embeddings=block + 2` (34 now, not 18), so rerun sections 2 to 4 together.
#    How many examples, how many tokens (padding included) — and which learns faster per step?
# 3. Set `block = 64` and `batch_size=16` (the same 1,024 tokens a step, a quarter of the
#    examples): where does the loss end against the copy line, and what does the model answer
#    now? Then try 32. (bench/RESULTS.md, "Lesson 06", has our runs.)
# 4. After "human" the model's first guess is " of". Would a model that read only the token
#    before the mask guess it too? Count what follows " human" in the book (`tok.encode` the
#    text, look at the next ids) and compare.

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
#
# == tokenizer =============================================================
# BPE training: 3739 merges, vocabulary 4000 tokens, from 9836 distinct words (260576 in all), 0.59 s; stopped because the vocabulary reached vocab_size=4000
# special tokens: {'<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, '<mask>': 4}
#
# == data ==================================================================
# 384 blocks of 16 tokens (6,144 tokens)
# one block: <s> of a Science which shall Determine the Possibility, Principles</s> ...
#
# == model =================================================================
# RobertaForMaskedLM: 332,576 parameters (the full preset with this vocabulary: 46,592,416)
#
# == pretraining ===========================================================
# loss of a uniform guess: ln(4000) = 8.29; unigram baseline (token frequencies alone): 6.04; copy line: 5.50
# precision fp32 (asked for)
# 6 steps: loss 8.29 -> 8.21 (mean of the last 10), +2.17 against the unigram baseline, +2.71 against the copy line; 54,724 tokens/s, 0 s
# loss every 1 steps: 8.29 8.28 8.23 8.18 8.13 8.15 (unigram 6.04, copy 5.50)
# wrote ['checkpoints', 'config.json', 'loss_curve.png', 'loss_vs_unigram.png', 'merges.txt', 'metrics.jsonl', 'model.safetensors', 'tokenizer_config.json', 'vocab.json']
#
# == fill-mask =============================================================
# Human thinking involves human <mask>.
#    0.0007             ','  Human thinking involves human,.
#    0.0005          ' the'  Human thinking involves human the.
#    0.0005           ' ex'  Human thinking involves human ex.
#    0.0004            ' 3'  Human thinking involves human 3.
#    0.0004             '.'  Human thinking involves human..
# The <mask> of pure reason.
#    0.0006             ','  The, of pure reason.
#    0.0005          ' the'  The the of pure reason.
#    0.0004      ' between'  The between of pure reason.
#    0.0004          ' but'  The but of pure reason.
#    0.0004           ' to'  The to of pure reason.
# Space and time are the pure forms of <mask>.
#    0.0006             ','  Space and time are the pure forms of,.
#    0.0006          ' the'  Space and time are the pure forms of the.
#    0.0005          ' The'  Space and time are the pure forms of The.
#    0.0005           ' of'  Space and time are the pure forms of of.
#    0.0004   ' cognitions'  Space and time are the pure forms of cognitions.
#
# == the chapter's cells, both ways ========================================
# precision fp32 (asked for)
# precision fp32 (asked for)
# loss every 1 steps, the chapter's Trainer: 8.3261 8.3237 8.3227
# loss every 1 steps, pretrain(...)        : 8.3261 8.3237 8.3227
# the same loss at every step: True; the same weights at the end: True
# Human thinking involves human <mask>.  the chapter's pipeline, then fill_mask(...):
#    0.0004             'Q'    0.0004             'Q'
#    0.0004          ' ang'    0.0004          ' ang'
#    0.0004          'cons'    0.0004          'cons'
# ```
