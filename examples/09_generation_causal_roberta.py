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
# `is_causal` in the fast path), `minibert/modeling_roberta.py` (`RobertaForCausalLM`: the
# loss shifts labels by one), `minibert/generation.py` (`next_token`, `top_k_filter`,
# `top_p_filter`, `generate`), `minibert/kv_cache.py` (the cache),
# `train/data/collator.py` (`CausalLMCollator`), `train/cli/cmd_generate.py`.
# From the shell: `python -m train.cli pretrain --objective causal ...` then
# `python -m train.cli generate DIR "Forest fire"`.
#
# Run: `python examples/09_generation_causal_roberta.py [--quick]` (full: a few minutes on two
# laptop cores; quick: seconds, and gibberish) → `runs/examples/09_tweets/`.

# %%
import csv

import torch
from _course import QUICK, data_dir, out_dir, section

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
trainer = BPETrainer(vocab_size=8_000, min_frequency=2, show_progress=False)
tok = trainer.train(iter(tweets))
print(trainer.report)
examples = [{"input_ids": e.ids} for e in tok.encode_batch(tweets, truncation=True, max_length=64)]
print("one example:", tok.encode(tweets[1]).tokens)

# %% [markdown]
# ## 2. The model, and its causal mask

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
config = preset("roberta-base", vocab_size=tok.vocab_size, max_position_embeddings=64 + 2,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, **(tiny if QUICK else small))
torch.manual_seed(0)  # dropout masks during training
model = RobertaForCausalLM(config)
model.init_weights(torch.Generator().manual_seed(0))
print(
    f"RobertaForCausalLM: {model.num_parameters():,} parameters, "
    f"is_decoder={model.config.is_decoder}"
)
with torch.no_grad():
    probs = model(torch.tensor([tok.encode("Forest fire near La Ronge").ids]),
                  output_attentions=True).attentions[0][0, 0]  # (T, T), layer 0 head 0
print("layer 0 head 0 attention (row = query); above the diagonal is the future, always 0:")
print("\n".join("   " + " ".join(f"{p:.2f}" for p in row) for row in probs.tolist()))

# %% [markdown]
# ## 3. Training: predict the next token

# %%
section("training")
args = PretrainArgs(objective="causal", out_dir=str(OUT), epochs=1, max_steps=6 if QUICK else None,
                    batch_size=16 if QUICK else 32, lr=1e-3, warmup_steps=2 if QUICK else 20,
                    precision="fp32", device="cpu", seed=0, keep=1, log_every=10,
                    progress=not QUICK)
result = pretrain(model, examples, CausalLMCollator(tok), args, tokenizer=tok)
last = sum(result.losses[-10:]) / len(result.losses[-10:])
print(f"{result.steps} steps: loss {result.losses[0]:.2f} -> {last:.2f} (mean of the last 10); "
      f"perplexity {torch.tensor(last).exp().item():.0f} (a uniform guess: {tok.vocab_size})")
print("wrote", sorted(p.name for p in OUT.iterdir()))

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
# After one epoch on 180,000 words the model is where lesson 6's was: in the unigram stage
# (perplexity ~600 against 8,000 for a uniform guess). Greedy decoding repeats the commonest
# token; samples string frequent tokens together, and the same seed gives nearly the same
# continuation whatever the prompt — the model barely reads its context yet. A causal model
# gets one training signal per token (an MLM only one per masked token), but still needs far
# more steps than a laptop gives in minutes to write sentences.
#
# ## Exercises
# 1. Train 5 epochs (`epochs=5`). When does greedy decoding stop repeating "the"? Then change
#    `temperature` to 0.3 and to 1.5: what happens to repetition and to spelling?
# 2. Train only on tweets with `target == 1` (real disasters) and then only on the others.
#    Do the two generators write differently from the same prompt?
# 3. Time `model.generate(ids, max_new_tokens=100)` with `use_cache=True` and `False`. Check
#    the tokens are equal. How does the gap grow with the number of new tokens, and why?

# %% [markdown]
# ## Expected output (full mode; timings and threads vary by machine)
# ```
# 7,613 tweets, e.g. 'Forest fire near La Ronge Sask. Canada'
#
# == tokenizer and data ====================================================
# BPE training: 7739 merges, vocabulary 8000 tokens, from 31145 distinct words (179712 in all), 3.15 s; stopped because the vocabulary reached vocab_size=8000
# one example: ['<s>', 'F', 'orest', 'Ġfire', 'Ġnear', 'ĠLa', 'ĠRon', 'ge', 'ĠS', 'ask', '.', 'ĠCanada', '</s>']
#
# == model =================================================================
# RobertaForCausalLM: 1,454,144 parameters, is_decoder=True
# layer 0 head 0 attention (row = query); above the diagonal is the future, always 0:
#    1.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00
#    0.52 0.48 0.00 0.00 0.00 0.00 0.00 0.00 0.00
#    0.35 0.32 0.32 0.00 0.00 0.00 0.00 0.00 0.00
#    0.25 0.24 0.26 0.24 0.00 0.00 0.00 0.00 0.00
#    0.23 0.19 0.18 0.20 0.20 0.00 0.00 0.00 0.00
#    0.18 0.16 0.17 0.16 0.17 0.16 0.00 0.00 0.00
#    0.14 0.15 0.15 0.15 0.14 0.13 0.15 0.00 0.00
#    0.13 0.13 0.13 0.12 0.12 0.12 0.12 0.13 0.00
#    0.11 0.11 0.11 0.11 0.11 0.11 0.11 0.12 0.12
#
# == training ==============================================================
# 238 steps: loss 8.98 -> 6.36 (mean of the last 10); perplexity 576 (a uniform guess: 8000)
# wrote ['checkpoints', 'config.json', 'loss_curve.png', 'merges.txt', 'metrics.jsonl', 'model.safetensors', 'tokenizer_config.json', 'vocab.json']
#
# == generation ============================================================
# 'Forest fire near'
#    greedy     : Forest fire near the the the the the the the the the the the the the the the the the the the the
#    sampled #1 : Forest fire near that to you a a an the'm... http://t.co/GB0ZA
#    sampled #2 : Forest fire near: a was the Mil_
# 'Emergency services'
#    greedy     : Emergency services in the the the the the the the the the the the the the the the the the the the
#    sampled #1 : Emergency servicesing to fire I a an the'm... http://t.co/GB0ZA
#    sampled #2 : Emergency services: a was the Min_
# "I can't believe the"
#    greedy     : I can't believe the the the the the the the the the the the the the the the the the the the the.
#    sampled #1 : I can't believe the that to fire I a an the'm... http://t.co/GB0ZA
#    sampled #2 : I can't believe the: a was the are the that M
# ```
