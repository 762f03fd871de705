# %% [markdown]
# # Lesson 5 — Next-sentence prediction: pairs from documents
#
# BERT's second pretraining task: given `[CLS] A [SEP] B [SEP]`, say whether B is the text
# that really follows A in the same document (label 0, "IsNext") or a stretch of another
# document (label 1, "IsRandom"). The head reads the `[CLS]` vector (through the pooler).
# Token type (segment) ids tell the model which tokens are A (0) and which are B (1).
#
# How the pairs are cut, as Google's `create_pretraining_data.py` does it:
# gather sentences until a target length is reached (usually the maximum, 10 % of the time a
# random shorter one), split the chunk at a random sentence into A and B, and half the time
# replace B by text from a random other document (putting the unused sentences back). Pairs
# that are too long lose tokens from the longer side, at the front or the back at random.
#
# RoBERTa later showed the task is not needed (it trains on MLM alone; KantaiBERT does too),
# but it explains BERT's `[SEP]`, token type ids and pooler.
#
# Read alongside: `train/data/nsp.py` (`create_nsp_examples`, `pairs_from_document`,
# `truncate_seq_pair`), `train/data/datasets.py` (`read_documents`), `minibert/heads.py` (the
# NSP head), `minibert/modeling_bert.py` (`BertForNextSentencePrediction`,
# `BertForPreTraining`).
#
# Run: `python examples/05_next_sentence_prediction.py [--quick]` → `runs/examples/05_nsp/nsp_lengths.png`.

# %%
import random
import re
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from _course import QUICK, data_dir, out_dir, section, show

from minibert import BertConfig, BertForPreTraining
from tokenizer import WordPieceTokenizer
from train.data.collator import MLMCollator
from train.data.datasets import read_text
from train.data.nsp import LABEL_IS_NEXT, LABEL_IS_RANDOM, create_nsp_examples
from train.plots import save_figure

DATA = data_dir()
OUT = out_dir("05_nsp")
tok = WordPieceTokenizer.from_file(DATA / "bert_vocab" / "bert-base-uncased-vocab.txt")

# %% [markdown]
# ## 1. Documents as lists of sentences
#
# Five books, each cut into "documents" of 20 consecutive sentences (BERT used Wikipedia
# articles and book chapters). Sentences are found with a rough rule (end punctuation, a
# space, a capital letter), good enough for this task.

# %%
section("documents")
books = [DATA / "kant" / "kant.txt"] + sorted((DATA / "philosophy").glob("*.txt"))
per_book = 300 if QUICK else 3000
documents = []
for path in books:
    text = " ".join(read_text(path).split())
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if len(s) > 20]
    sentences = sentences[100: 100 + per_book]  # skip the title pages
    documents += [sentences[i: i + 20] for i in range(0, len(sentences), 20)]
    print(f"{path.name:>20}: {len(sentences):,} sentences, e.g. {sentences[5][:70]!r}")
print(f"{len(documents)} documents")

# %% [markdown]
# ## 2. Pairs

# %%
section("NSP pairs")
examples = create_nsp_examples(documents, tok, max_seq_length=128, rng=random.Random(0))
labels = Counter(e["next_sentence_label"] for e in examples)
is_next, is_random = labels[LABEL_IS_NEXT], labels[LABEL_IS_RANDOM]
print(f"{len(examples):,} pairs: IsNext {is_next:,}, IsRandom {is_random:,}"
      f" ({100 * is_random / len(examples):.0f} % random)")


def print_pair(e):
    ids, types = e["input_ids"], e["token_type_ids"]
    a = [i for i, t in zip(ids, types) if t == 0]
    b = [i for i, t in zip(ids, types) if t == 1]
    name = "IsNext" if e["next_sentence_label"] == LABEL_IS_NEXT else "IsRandom"
    print(f"label {e['next_sentence_label']} ({name}), {len(ids)} tokens")
    print("   A:", tok.decode(a)[:300])
    print("   B:", tok.decode(b)[:300])


print_pair(next(e for e in examples if e["next_sentence_label"] == LABEL_IS_NEXT))
print_pair(next(e for e in examples if e["next_sentence_label"] == LABEL_IS_RANDOM))
e = examples[0]
print("token types of one pair:", e["token_type_ids"][:12], "...", e["token_type_ids"][-6:])

# %% [markdown]
# The coin says half, yet 58 % of the pairs are random (full mode), for two reasons in the
# recipe (`train/data/nsp.py`, as Google's `create_instances_from_document`):
# * a chunk of a single sentence cannot be split into A and B, so it always gets a random B.
#   Philosophers write long sentences: one of them alone often reaches the 125-token target,
#   and so does any sentence once a document drew a short target;
# * a random B leaves the chunk's unused sentences in the document ("put back"), where they
#   start the next chunk, so a document yields more pairs on the random side than on the
#   IsNext side, which uses up its whole chunk.
#
# Most pairs fill the 128 tokens; the short ones come from the 10 % of documents that drew a
# short target, and from the ends of documents. The histogram's count axis is logarithmic:
# on a linear one the full pairs dwarf the short ones.

# %%
lengths = [len(e["input_ids"]) for e in examples]
full = sum(n == 128 for n in lengths)
print(f"length: mean {sum(lengths) / len(lengths):.1f}, full (128) {100 * full / len(lengths):.1f} %,"
      f" shortest {min(lengths)}")
fig, ax = plt.subplots(figsize=(7, 3.5))
for label, name in ((LABEL_IS_NEXT, "IsNext (0)"), (LABEL_IS_RANDOM, "IsRandom (1)")):
    ax.hist([len(e["input_ids"]) for e in examples if e["next_sentence_label"] == label],
            bins=range(0, 133, 4), alpha=0.6, label=name)
ax.set_xlabel("pair length in tokens ([CLS] A [SEP] B [SEP])")
ax.set_ylabel("pairs (log scale)")
ax.set_yscale("log")
ax.set_title("NSP pairs from five books, max_seq_length=128")
ax.legend()
fig.tight_layout()
save_figure(fig, OUT / "nsp_lengths.png")  # fig.savefig, written atomically (train/plots.py)
print("wrote nsp_lengths.png")
show(OUT / "nsp_lengths.png")

# %% [markdown]
# ## 3. Into a batch and through BERT's two heads
#
# The collator pads, masks for MLM and passes `next_sentence_label` through;
# `BertForPreTraining` returns both heads' logits and the summed loss. Untrained, the NSP
# loss is about ln 2 = 0.69 (a coin toss) and the MLM loss about ln(30,522) = 10.3.

# %%
section("a pretraining batch")
collate = MLMCollator(tok, seed=0)
batch = collate(examples[:8])
print({k: tuple(v.shape) for k, v in batch.items()})
config = BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=128)
torch.manual_seed(0)  # dropout inside the model
model = BertForPreTraining(config)
model.init_weights(torch.Generator().manual_seed(0))
out = model(**batch)
nsp_loss = torch.nn.functional.cross_entropy(out.seq_relationship_logits, batch["next_sentence_label"])
print(f"prediction_logits {tuple(out.prediction_logits.shape)}, seq_relationship_logits "
      f"{tuple(out.seq_relationship_logits.shape)}")
print(f"untrained: total loss {out.loss.item():.3f} = MLM {out.loss.item() - nsp_loss.item():.3f}"
      f" + NSP {nsp_loss.item():.3f}")

# %% [markdown]
# ## Exercises
# 1. Pass `short_seq_prob=0.5` to `create_nsp_examples` and look at the histogram again.
# 2. Why must a random B come from *another* document? Put all sentences into one document
#    and read the error message `create_nsp_examples` gives.

# %% [markdown]
# ## Expected output (full mode; timings and threads vary by machine)
# ```
#
# == documents =============================================================
#             kant.txt: 3,000 sentences, e.g. 'At the same time, this indifference, which has arisen in the world of '
#    all_too_human.txt: 3,000 sentences, e.g. 'In philosophy, above all, as the apex of the entire, pyramid of scienc'
#      meditations.txt: 1,725 sentences, e.g. 'The gods will do thee no hurt, thou mayest be sure.'
#        nietzsche.txt: 2,199 sentences, e.g. 'And finally, to call to mind the enormous influence which "German phil'
#           walden.txt: 3,000 sentences, e.g. 'We are made to exaggerate the importance of what work we do; and yet h'
# 647 documents
#
# == NSP pairs =============================================================
# 5,798 pairs: IsNext 2,433, IsRandom 3,365 (58 % random)
# label 0 (IsNext), 128 tokens
#    A: [CLS], let us only understand profoundly enough napoleon ' s astonishment when he saw goethe it reveals what had been regarded for centuries as the " german spirit " " voila un homme! " - - that was as much as to say " but this is a man! and i only expected to see a german! " 210 [SEP]
#    B: that in the picture of the philosophers of the future, some trait suggests the question whether they must not perhaps be skeptics in the last - mentioned sense, something in them would only be designated thereby - - and not they themselves. with equal right they might call themselves critics, and as
# label 1 (IsRandom), 128 tokens
#    A: [CLS] then — _ that i never had been bor - r - r - r - n! _ echoes another on the farther side with tremulous sincerity, and — _ bor - r - r - r - n! _ comes faintly from far in the lincoln woods. [SEP]
#    B: , it being only planks laid a foot from the ground, and a thin mat upon them. two more of his chief men, for want of room, pressed by and upon us ; so that we were worse weary of our lodging than of our journey. ” at one o ’ clock the next day massasoit “ brought two fishes that [SEP]
# token types of one pair: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ... [1, 1, 1, 1, 1, 1]
# length: mean 120.8, full (128) 83.1 %, shortest 18
# wrote nsp_lengths.png
#
# == a pretraining batch ===================================================
# {'input_ids': (8, 128), 'attention_mask': (8, 128), 'token_type_ids': (8, 128), 'labels': (8, 128), 'next_sentence_label': (8,)}
# prediction_logits (8, 128, 30522), seq_relationship_logits (8, 2)
# untrained: total loss 11.024 = MLM 10.332 + NSP 0.692
# ```

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
#
# == documents =============================================================
#             kant.txt: 300 sentences, e.g. 'At the same time, this indifference, which has arisen in the world of '
#    all_too_human.txt: 300 sentences, e.g. 'In philosophy, above all, as the apex of the entire, pyramid of scienc'
#      meditations.txt: 300 sentences, e.g. 'The gods will do thee no hurt, thou mayest be sure.'
#        nietzsche.txt: 300 sentences, e.g. 'And finally, to call to mind the enormous influence which "German phil'
#           walden.txt: 300 sentences, e.g. 'We are made to exaggerate the importance of what work we do; and yet h'
# 75 documents
#
# == NSP pairs =============================================================
# 699 pairs: IsNext 288, IsRandom 411 (59 % random)
# label 0 (IsNext), 128 tokens
#    A: [CLS] for, without any exaggeration, the educated man in europe who has read la rochefoucauld and his kindred in mind and art, is rarely found, and still more rare is he who knows them and does not blame them. [SEP]
#    B: find much less pleasure in them than the form of this artist should afford him ; for even the clearest head is not capable of rightly estimating the art of shaping and polishing maxims unless he has really been brought up to it and has competed in it. without this practical teaching one deems this s
# label 1 (IsRandom), 128 tokens
#    A: [CLS] our sensations of space and time are false, for they lead - - examined in sequence - - to logical contradictions. [SEP]
#    B: the hierarchy of possessions, however, is not fixed and equal at all times ; if any one prefers vengeance to justice he is moral according to the standard of an earlier civilisation, but immoral according to the present one. to be " immoral, " therefore, denotes that an individual has not felt, or n
# token types of one pair: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] ... [1, 1, 1, 1, 1, 1]
# length: mean 122.0, full (128) 84.8 %, shortest 28
# wrote nsp_lengths.png
#
# == a pretraining batch ===================================================
# {'input_ids': (8, 128), 'attention_mask': (8, 128), 'token_type_ids': (8, 128), 'labels': (8, 128), 'next_sentence_label': (8,)}
# prediction_logits (8, 128, 30522), seq_relationship_logits (8, 2)
# untrained: total loss 11.026 = MLM 10.336 + NSP 0.690
# ```
