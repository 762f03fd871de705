# %% [markdown]
# # Lesson 8 — Fine-tuning on CoLA: MCC vs accuracy, the confusion matrix, your own sentences
#
# CoLA (the Corpus of Linguistic Acceptability) asks: is this sentence grammatical English?
# "The sailors rode the breeze clear of the rocks." — yes (1); "The more books I ask to whom
# he will give, the more he reads." — no (0). We put a fresh 2-way classifier on the pooled
# `[CLS]` vector of the pretrained all-MiniLM-L6-v2 (lesson 7), train everything for a short
# while, and score it the way GLUE does: with the **Matthews correlation coefficient**.
#
# Why not accuracy? 69 % of CoLA's dev sentences are acceptable, so a model that answers
# "acceptable" every time is 69 % accurate while knowing nothing. MCC is the correlation
# between truth and prediction on the 2×2 confusion matrix,
#
#     MCC = (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN))
#
# 1 for perfect, −1 for always wrong, about 0 for a random guesser. For a constant guesser the
# formula is 0/0 (one factor under the root is 0: it never predicts the other class); MCC is
# then *defined* as 0, by convention (scikit-learn's and `train/metrics.py`'s), which is the
# honest score for a guesser that knows nothing.
#
# Read alongside: `train/metrics.py` (`matthews_corrcoef`, `confusion_matrix`),
# `train/data/cola.py`, `train/finetune.py` (`finetune`: the loop; `stats_table`,
# `save_curves`), `train/evaluate.py` (`evaluate`, `format_report`), `train/cli/cmd_predict.py`
# (`classify`), `minibert/modeling_bert.py` (`BertForSequenceClassification`).
# The same from the shell: `python -m train.cli finetune cola --model all-MiniLM-L6-v2`, then
# `python -m train.cli predict runs/finetune-cola-... "Your sentence."`.
#
# Run: `python examples/08_finetuning_cola.py [--quick]` (full: five epochs over CoLA, the
# CLI's `small` recipe, about five minutes on two free CPU cores: 5 min 2 s in our run;
# quick: a hundred sentences, seconds, and a model that has not learned yet) →
# `runs/examples/08_cola/` (checkpoint, loss_curve.png, confusion_out_of_domain_dev.png).

# %%
import torch
from _course import QUICK, data_dir, minilm_dir, out_dir, section, show, try_your_own

from minibert import BertForSequenceClassification
from tokenizer import WordPieceTokenizer
from train.cli.cmd_predict import classify
from train.data.cola import cola_split
from train.evaluate import evaluate, format_report, save_confusion_png
from train.explain import explain
from train.finetune import (
    FinetuneConfig,
    encode,
    finetune,
    save_curves,
    split_train_val,
    stats_table,
)
from train.metrics import accuracy, confusion_matrix, matthews_corrcoef

DATA = data_dir()
OUT = out_dir("08_cola")
LABELS = ["unacceptable", "acceptable"]

train_rows = cola_split(DATA, "in_domain_train")
dev_rows = cola_split(DATA, "out_of_domain_dev")
print(f"CoLA: {len(train_rows):,} training sentences, {len(dev_rows)} out-of-domain dev")
for r in train_rows[:3] + [r for r in train_rows if r.label == 0][:2]:
    print(f"  {r.label} {r.sentence}")

# %% [markdown]
# ## 1. MCC vs accuracy, before any model

# %%
section("MCC vs accuracy")
truth = [r.label for r in dev_rows]
guessers = {"always 'acceptable'": [1] * len(truth),
            "coin toss (seed 0)": torch.randint(0, 2, (len(truth),),
                                                generator=torch.Generator().manual_seed(0)).tolist(),
            "the truth": truth}
for name, pred in guessers.items():
    print(
        f"{name:<20} accuracy {accuracy(truth, pred):.3f}   MCC "
        f"{matthews_corrcoef(truth, pred):+.3f}"
        f"   confusion {confusion_matrix(truth, pred, 2)}"
    )

# %% [markdown]
# ## 2. Fine-tuning all-MiniLM-L6-v2
#
# 10 % of the training file is held out for validation (fixed seed); after each epoch the
# model is scored there and the best epoch is kept and saved. The learning rate 1e-4 with
# 10 % warmup suits a small checkpoint like MiniLM (bert-base wants 2e-5).

# %%
section("fine-tuning")
if QUICK:
    train_rows, dev_rows = train_rows[:96], dev_rows[:64]
tok = WordPieceTokenizer.from_pretrained(minilm_dir())
texts, labels = [r.sentence for r in train_rows], [r.label for r in train_rows]
enc = encode(tok, texts, None, max_length=64)
train_idx, val_idx = split_train_val(len(enc), 0.1, seed=42)
cfg = FinetuneConfig(
    lr=1e-4,
    epochs=1 if QUICK else 5,
    batch_size=16 if QUICK else 32,
    warmup=0.1,
    seed=42,
    precision="fp32",  # the same numbers on every CPU ("auto" picks bf16 where it is native)
    progress=not QUICK,
)
torch.manual_seed(cfg.seed)  # the new head's initial weights and dropout
model = BertForSequenceClassification.from_pretrained(
    minilm_dir(), verbose=False, num_labels=2, id2label=dict(enumerate(LABELS)),
    label2id={x: i for i, x in enumerate(LABELS)})
print("newly initialised:", model.load_report.newly_initialized)
result = finetune(model, tok, [enc[i] for i in train_idx], [labels[i] for i in train_idx],
                  [enc[i] for i in val_idx], [labels[i] for i in val_idx], cfg,
                  torch.device("cpu"), save_dir=OUT / "checkpoint")
print(stats_table(result))
save_curves(result, OUT / "loss_curve.png", title="CoLA, all-MiniLM-L6-v2")

# %% [markdown]
# ## 3. Scoring on sentences from other sources (out-of-domain dev)

# %%
section("evaluation")
report = evaluate(
    model,
    tok,
    "out_of_domain_dev",
    encode(tok, [r.sentence for r in dev_rows], None, 64),
    [r.label for r in dev_rows],
    LABELS,
    torch.device("cpu"),
    precision=cfg.precision,
)
print(format_report(report))
save_confusion_png(report, OUT / "confusion_out_of_domain_dev.png")
show(OUT / "confusion_out_of_domain_dev.png")
print("wrote", sorted(p.name for p in OUT.iterdir() if not p.name.startswith(".")))

# %% [markdown]
# ## 4. Your own sentences

# %%
section("your own sentences")
mine = ["The cat sat on the mat.", "The cat sat mat the on.", "Kant wrote three critiques.",
        "Kant wrote critiques three.", "Whom did you say that left?"]
probs = classify(model, tok, mine, None, torch.device("cpu"), precision=cfg.precision)
for text, p in zip(mine, probs):
    print(f"P(acceptable) = {p[1].item():.2f}  {text}")

# %% [markdown]
# Try your own: in a notebook, type a sentence in the box and press Enter (you get the
# probability and the explorer of lesson 2 for this classifier); run as a script in a
# terminal, the lesson asks with `input()` instead (an empty line ends).

# %%
def judge(text: str) -> None:
    p = classify(model, tok, [text], None, torch.device("cpu"), precision=cfg.precision)[0, 1]
    print(f"P(acceptable) = {p.item():.2f}  {text}")
    show(explain(model, tok, text))


try_your_own("a sentence to judge", judge)

# %% [markdown]
# ## 5. The tutorial's loop, next to `finetune(...)`
#
# McCormick & Ryan's tutorial writes the fine-tuning loop out by hand with transformers'
# names. minibert has those names too (README, "Use it from Python"), so the loop runs here
# with only the imports changed: `encode_plus` pads every sentence to 64 tokens,
# `from_pretrained(..., num_labels=2)` puts the fresh head on, then AdamW,
# `get_linear_schedule_with_warmup`, `model.zero_grad()`, `outputs[0]` for the loss and
# gradient clipping. `finetune` (section 2) is the same recipe, with two changes that leave a
# batch's maths alone: each batch is padded only to its own longest sentence, and sentences
# of similar length are batched together. It also spares biases and LayerNorm weight decay
# and counts warmup so that the first step already learns (`train/optim.py`). Below, one
# epoch both ways on the same sentences with the same settings (quick: section 2's; full:
# the first 640 of them). The scores differ a little (other batches, other dropout draws,
# the decay and warmup above); the work differs a lot: the last line counts the positions
# each way computes, and the time follows it.

# %%
section("the tutorial's loop, both ways")
import dataclasses  # noqa: E402
import random  # noqa: E402

from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, TensorDataset  # noqa: E402

from minibert import BertTokenizer  # noqa: E402
from train import get_linear_schedule_with_warmup  # noqa: E402
from train.finetune import bucketed_batches  # noqa: E402

few = train_idx if QUICK else train_idx[:640]
tokenizer = BertTokenizer.from_pretrained(minilm_dir(), do_lower_case=True)


def tutorial_dataset(sentences, labels):
    input_ids, attention_masks = [], []
    for sent in sentences:
        encoded_dict = tokenizer.encode_plus(sent, add_special_tokens=True, max_length=64,
                                             pad_to_max_length=True, return_attention_mask=True,
                                             return_tensors="pt")
        input_ids.append(encoded_dict["input_ids"])
        attention_masks.append(encoded_dict["attention_mask"])
    return TensorDataset(torch.cat(input_ids, dim=0), torch.cat(attention_masks, dim=0),
                         torch.tensor(labels))


train_dataset = tutorial_dataset([texts[i] for i in few], [labels[i] for i in few])
val_dataset = tutorial_dataset([texts[i] for i in val_idx], [labels[i] for i in val_idx])
train_dataloader = DataLoader(train_dataset, sampler=RandomSampler(train_dataset),
                              batch_size=cfg.batch_size)
validation_dataloader = DataLoader(val_dataset, sampler=SequentialSampler(val_dataset),
                                   batch_size=cfg.batch_size)
torch.manual_seed(cfg.seed)
tutorial_model = BertForSequenceClassification.from_pretrained(
    minilm_dir(), num_labels=2, output_attentions=False, output_hidden_states=False,
    verbose=False)
epochs = 1
optimizer = torch.optim.AdamW(tutorial_model.parameters(), lr=cfg.lr, eps=1e-8)
total_steps = len(train_dataloader) * epochs
scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=round(cfg.warmup * total_steps),
                                            num_training_steps=total_steps)
for _ in range(epochs):
    tutorial_model.train()
    total_train_loss = 0
    for batch in train_dataloader:
        b_input_ids, b_input_mask, b_labels = batch
        tutorial_model.zero_grad()
        outputs = tutorial_model(b_input_ids, token_type_ids=None, attention_mask=b_input_mask,
                                 labels=b_labels)
        loss = outputs[0]
        total_train_loss += loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tutorial_model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    tutorial_model.eval()
    total_eval_loss, predictions = 0, []
    for batch in validation_dataloader:
        b_input_ids, b_input_mask, b_labels = batch
        with torch.no_grad():
            outputs = tutorial_model(b_input_ids, token_type_ids=None,
                                     attention_mask=b_input_mask, labels=b_labels)
        total_eval_loss += outputs[0].item() * len(b_labels)
        predictions += outputs[1].argmax(dim=-1).tolist()
val_truth = [labels[i] for i in val_idx]
tutorial_row = (total_train_loss / len(train_dataloader), total_eval_loss / len(val_truth),
                accuracy(val_truth, predictions), matthews_corrcoef(val_truth, predictions))

# our way: the same sentences, settings and seed, one call
torch.manual_seed(cfg.seed)
our_model = BertForSequenceClassification.from_pretrained(minilm_dir(), verbose=False,
                                                          num_labels=2)
ours = finetune(our_model, tok, [enc[i] for i in few], [labels[i] for i in few],
                [enc[i] for i in val_idx], val_truth, dataclasses.replace(cfg, epochs=1),
                torch.device("cpu"), log=lambda *_: None).epochs[0]
print(f"{len(few)} sentences, batches of {cfg.batch_size}, lr {cfg.lr:g}, 1 epoch")
for name, (train_loss, val_loss, val_acc, val_mcc) in (
        ("tutorial's loop", tutorial_row),
        ("finetune(...)  ", (ours.train_loss, ours.val_loss, ours.val_accuracy, ours.val_mcc))):
    print(f"{name}: train loss {train_loss:.4f}, valid loss {val_loss:.4f}, valid acc "
          f"{val_acc:.3f}, valid MCC {val_mcc:+.3f}")
# what each way computed in the epoch: the tutorial every sentence at 64 positions, finetune
# each batch (as it drew them from its seed) at the length of its longest sentence
lengths = [len(enc[i]) for i in few]
batches = bucketed_batches(lengths, cfg.batch_size, cfg.bucket_batches, random.Random(cfg.seed))
padding = 1 - train_dataset.tensors[1].float().mean().item()
print(f"positions computed: the tutorial's loop {train_dataset.tensors[0].numel():,} "
      f"({padding:.0%} of them padding), finetune "
      f"{sum(len(b) * max(lengths[i] for i in b) for b in batches):,}")

# %% [markdown]
# In quick mode the model has seen a hundred sentences once: it predicts "acceptable" for
# everything (MCC 0, and `format_report` warns), exactly the trap MCC is there to expose.
# The full run (five epochs with the lr, warmup and batch size of the CLI's `small` recipe)
# is still majority-class after its first epoch (validation MCC about 0), while the learning
# rate is high; the classes separate as it decays. The table and the report above print what
# your run reached. `minibert finetune cola --model all-MiniLM-L6-v2` runs the same recipe,
# scores in_domain_dev as well, and can repeat over seeds (`--seeds 1,2,3,4,5`); the README
# gives its measured MCCs, and a few hundredths either way is seed noise. One epoch is not
# enough: try it.
#
# ## Exercises
# 1. Train with `lr=2e-5` (the bert-base recipe) for 2 epochs, then with 1e-4. What happens to MCC and to the
#    confusion matrix? Why does a small model want a larger learning rate?
# 2. After the full run, list the dev sentences the model gets wrong in each direction
#    (`report` has the predictions; compare with `truth`). What kinds of unacceptable
#    sentences does it accept, and which acceptable ones does it reject?
# 3. Type sentences into the box above that differ by one word ("The book was written by
#    John." / "The book was written John."). In the explorer, which heads of the last layer
#    change most between the two?

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
# CoLA: 8,551 training sentences, 516 out-of-domain dev
#   1 Our friends won't buy this analysis, let alone the next one we propose.
#   1 One more pseudo generalization and I'm giving up.
#   1 One more pseudo generalization or I'm giving up.
#   0 They drank the pub.
#   0 The professor talked us.
#
# == MCC vs accuracy =======================================================
# always 'acceptable'  accuracy 0.686   MCC +0.000   confusion [[0, 162], [0, 354]]
# coin toss (seed 0)   accuracy 0.502   MCC -0.013   confusion [[76, 86], [171, 183]]
# the truth            accuracy 1.000   MCC +1.000   confusion [[162, 0], [0, 354]]
#
# == fine-tuning ===========================================================
# newly initialised: ['classifier.weight', 'classifier.bias']
# precision fp32 (asked for)
# epoch 1: train loss 0.6445  val loss 0.6003  val acc 0.800  val MCC 0.000  (2s)
# epoch | train loss | valid loss | valid acc | valid MCC | train time | valid time
# ---------------------------------------------------------------------------------
#     1 |     0.6445 |     0.6003 |     0.800 |     0.000 |    0:00:02 |    0:00:00 *
# * best epoch by validation MCC (kept); total 0:00:02
#
# == evaluation ============================================================
# == out_of_domain_dev (64 sentences) ==
# MCC 0.0000 (scikit-learn: 0.0000)   accuracy 0.6406
# confusion matrix (rows = true, columns = predicted):
#               unacceptable    acceptable
# unacceptable             0            23
#   acceptable             0            41
# per-batch MCC (2 batches of up to 32, as McCormick & Ryan's BERT fine-tuning tutorial lists them): 0.00 0.00
# WARNING: predicted acceptable (1) for all 64 sentences; MCC is 0. The model learned only the majority class: try a higher learning rate (1e-4 for small checkpoints), more epochs, or warmup.
# wrote ['checkpoint', 'confusion_out_of_domain_dev.png', 'loss_curve.png']
#
# == your own sentences ====================================================
# P(acceptable) = 0.59  The cat sat on the mat.
# P(acceptable) = 0.59  The cat sat mat the on.
# P(acceptable) = 0.58  Kant wrote three critiques.
# P(acceptable) = 0.58  Kant wrote critiques three.
# P(acceptable) = 0.58  Whom did you say that left?
# (no terminal: run the lesson in a terminal or a notebook to enter a sentence to judge)
#
# == the tutorial's loop, both ways ========================================
# 86 sentences, batches of 16, lr 0.0001, 1 epoch
# tutorial's loop: train loss 0.6615, valid loss 0.6060, valid acc 0.800, valid MCC +0.000
# finetune(...)  : train loss 0.6445, valid loss 0.6003, valid acc 0.800, valid MCC +0.000
# positions computed: the tutorial's loop 5,504 (85% of them padding), finetune 952
# ```
