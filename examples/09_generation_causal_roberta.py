# %% [markdown]
# # Lesson 9 — Generation with a causal RoBERTa, trained on tweets
#
# BERT reads both ways and fills blanks; it cannot write. Give the same encoder a **causal
# mask** — token t may only attend to tokens 0…t — and train it to predict the *next* token
# at every position, and it becomes a generator (a GPT in RoBERTa's clothes:
# `RobertaForCausalLM`). The book's chapter imagines such a model answering customers; we
# train a tiny one on 7,600 tweets about disasters (the Kaggle "Real or Not?" set) and let it
# write tweets.
#
# Generation is a loop: run the model on the text so far, turn the last position's logits
# into a choice (greedy: the most likely token; sampling: draw from the softmax, sharpened
# by a temperature, cut to the top-k tokens or to the smallest set holding probability p),
# append it, repeat until `</s>` or the length limit. Run naively, every step re-reads the
# whole text; but under a causal mask a token's keys and values never change once computed,
# so `generate` keeps them in a cache and feeds the model only the newest token
# (`past_key_values`; `use_cache=False` is the naive loop, and gives the same tokens).
#
# Read alongside: `minibert/attention.py` (`build_attention_bias` with `causal=True`,
# the one place the causal mask is built), `minibert/modeling_roberta.py` (`RobertaForCausalLM`: the
# loss shifts labels by one), `minibert/generation.py` (`next_token`, `top_k_filter`,
# `top_p_filter`, `generate`), `minibert/kv_cache.py` (the cache),
# `train/data/collator.py` (`CausalLMCollator`), `train/cli/cmd_generate.py`.
# From the shell: `python -m train.cli pretrain --objective causal ...` then
# `python -m train.cli generate DIR "Forest fire"`.
#
# Run: `python examples/09_generation_causal_roberta.py [--quick]` (full: six epochs, loss
# 8.30 -> 4.48, 4 min 18 s in our run on two free AVX-512 CPU cores; quick: under a minute,
# and gibberish) →
# `runs/examples/09_tweets/`.

# %%
import csv

import torch
from _course import QUICK, data_dir, earlier_run, out_dir, section, show

from minibert import RobertaForCausalLM, preset
from tokenizer import BPETrainer
from train.cli.cmd_generate import generate_text
from train.data.collator import CausalLMCollator
from train.pretrain import PretrainArgs, pretrain

DATA = data_dir()
OUT = out_dir("09_tweets")
with open(DATA / "disaster_tweets" / "train.csv", encoding="utf-8", newline="") as f:
    tweets = [" ".join(row["text"].split()) for row in csv.DictReader(f)]
if QUICK:
    tweets = tweets[:256]
print(f"{len(tweets):,} tweets, e.g. {tweets[1]!r}")

# %% [markdown]
# ## 1. Tokenizer and data

# %%
section("tokenizer and data")
# 4,000 tokens, not 8,000: on a CPU budget the output layer (vocabulary × width per token)
# is the largest cost, and a token seen a few times in 7,600 tweets is barely learned.
trainer = BPETrainer(vocab_size=4_000, min_frequency=2, show_progress=False)
tok = trainer.train(iter(tweets))
print(trainer.report)
examples = [{"input_ids": e.ids} for e in tok.encode_batch(tweets, truncation=True, max_length=64)]
print("one example:", tok.encode(tweets[1]).tokens)

# %% [markdown]
# ## 2. The model, and its causal mask
#
# Four layers of width 128 (about 1.3 M parameters): the same shape as lesson 6's model, for
# the same budget. The attention below is read in eval mode: in training mode dropout
# would zero random weights, and two identical calls would print different matrices.

# %%
section("model")
small = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
         "intermediate_size": 512}
tiny = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
config = preset("roberta-base", vocab_size=tok.vocab_size, max_position_embeddings=64 + 2,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, **(tiny if QUICK else small))
model = RobertaForCausalLM(config)
model.init_weights(torch.Generator().manual_seed(0))  # dropout: pretrain seeds it (seed=0)
print(f"RobertaForCausalLM: {model.num_parameters():,} parameters, is_decoder={model.config.is_decoder}")
model.eval()  # no dropout: the matrix is the model's, not a random draw (pretrain() sets train())
with torch.no_grad():
    probs = model(torch.tensor([tok.encode("Forest fire near La Ronge").ids]),
                  output_attentions=True).attentions[0][0, 0]  # (T, T), layer 0 head 0
print("layer 0 head 0 attention (row = query); above the diagonal is the future, always 0:")
print("\n".join("   " + " ".join(f"{p:.2f}" for p in row) for row in probs.tolist()))

# %% [markdown]
# ## 3. Training: predict the next token
#
# Six epochs of batches of 32 tweets: about 1,400 steps. A causal model learns from every
# token (an MLM only from the 15 % it masked), so it gets past token frequencies sooner than
# lesson 6's; the learning rate 1e-3 with 100 warmup steps suits a model this small.

# %%
section("training")
args = PretrainArgs(objective="causal", out_dir=str(OUT), epochs=6, max_steps=6 if QUICK else None,
                    batch_size=16 if QUICK else 32, lr=1e-3, warmup_steps=2 if QUICK else 100,
                    precision="fp32", device="cpu", seed=0, keep=1, log_every=10,
                    progress=not QUICK, resume=earlier_run(OUT))
result = pretrain(model, examples, CausalLMCollator(tok), args, tokenizer=tok)
last = sum(result.losses[-10:]) / len(result.losses[-10:])
print(f"{result.steps} steps: loss {result.losses[0]:.2f} -> {last:.2f} (mean of the last 10); "
      f"perplexity {torch.tensor(last).exp().item():.0f} (a uniform guess: {tok.vocab_size})")
print("wrote", sorted(p.name for p in OUT.iterdir() if not p.name.startswith(".")))
show(OUT / "loss_curve.png")

# %% [markdown]
# ## 4. Writing tweets
#
# Greedy decoding repeats itself; sampling with top-k / top-p is more varied (and, at this
# size, more often nonsense). Each sample has its own seed, so the output is reproducible.

# %%
section("generation")
model.eval()
for prompt in ["Forest fire near", "Emergency services", "I can't believe the"]:
    print(f"{prompt!r}")
    print("   greedy     :", generate_text(model, tok, prompt, max_new_tokens=20, temperature=0))
    for seed in (1, 2):
        text = generate_text(model, tok, prompt, max_new_tokens=20, temperature=0.8, top_k=50,
                             top_p=0.95, seed=seed)
        print(f"   sampled #{seed} :", text)

# %% [markdown]
# Perplexity is e^loss: the number of equally likely tokens the model is, on average, still
# choosing between (a uniform guess: all 4,000). What to look for in the samples: the shape
# of a tweet (a place or an event, hashtags, "@" names, and the `http://t.co/...` links so
# many tweets in the set end with) rather than a string of the commonest tokens. They will
# not mean anything, and greedy decoding tends to fall into loops, which is why chatbots
# sample. A causal model gets one training signal per token, but writing sense takes far
# more text and steps than this.
#
# ## Exercises
# 1. Change `temperature` to 0.3 and to 1.5: what happens to repetition and to spelling?
#    Then set `top_k=1`: which decoding is that?
# 2. Train only on tweets with `target == 1` (real disasters) and then only on the others.
#    Do the two generators write differently from the same prompt?
# 3. Time `model.generate(ids, max_new_tokens=n, eos_token_id=-1)` (-1 is no token's id, so
#    it never stops early) with `use_cache=True` and `False`, for the prompt "Forest fire
#    near" and n = 15, 30 and as many as fit (the position table holds 64 tokens, prompt
#    included). Check the tokens are equal. How does the gap grow with n, and why?

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
# 256 tweets, e.g. 'Forest fire near La Ronge Sask. Canada'
#
# == tokenizer and data ====================================================
# BPE training: 1515 merges, vocabulary 1776 tokens, from 1954 distinct words (5689 in all), 0.21 s; stopped because the most frequent pair occurs 1 times, below min_frequency=2
# one example: ['<s>', 'F', 'orest', 'Ġfire', 'Ġnear', 'ĠL', 'a', 'ĠR', 'onge', 'ĠS', 'as', 'k', '.', 'ĠCan', 'ad', 'a', '</s>']
#
# == model =================================================================
# RobertaForCausalLM: 191,088 parameters, is_decoder=True
# layer 0 head 0 attention (row = query); above the diagonal is the future, always 0:
#    1.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00
#    0.50 0.50 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00
#    0.33 0.34 0.33 0.00 0.00 0.00 0.00 0.00 0.00 0.00
#    0.25 0.25 0.25 0.25 0.00 0.00 0.00 0.00 0.00 0.00
#    0.20 0.20 0.20 0.20 0.20 0.00 0.00 0.00 0.00 0.00
#    0.17 0.16 0.17 0.17 0.17 0.17 0.00 0.00 0.00 0.00
#    0.14 0.14 0.14 0.15 0.14 0.14 0.14 0.00 0.00 0.00
#    0.13 0.13 0.13 0.13 0.12 0.12 0.12 0.12 0.00 0.00
#    0.11 0.11 0.11 0.11 0.11 0.11 0.11 0.11 0.11 0.00
#    0.10 0.10 0.10 0.10 0.10 0.10 0.10 0.10 0.10 0.10
#
# == training ==============================================================
# precision fp32 (asked for)
# 6 steps: loss 7.49 -> 7.42 (mean of the last 10); perplexity 1667 (a uniform guess: 1776)
# wrote ['checkpoints', 'config.json', 'loss_curve.png', 'merges.txt', 'metrics.jsonl', 'model.safetensors', 'tokenizer_config.json', 'vocab.json']
#
# == generation ============================================================
# 'Forest fire near'
#    greedy     : Forest fire near
#    sampled #1 : Forest fire nearmberiduryThe v're ofjQ fireukcoAreters getsStnO ambulance annihilated
#    sampled #2 : Forest fire near ICEMOONce
# 'Emergency services'
#    greedy     : Emergency services
#    sampled #1 : Emergency services're seeters that v're ofjQOukcogt N anSt guess
#    sampled #2 : Emergency servicesco 1
# "I can't believe the"
#    greedy     : I can't believe the 1 ('
#    sampled #1 : I can't believe the Bma.1 vDS�1 firexcouRWa anSt guess're ambulance're
#    sampled #2 : I can't believe theE feared
# ```
