"""transformers' training names in `train`: LineByLineTextDataset, DataCollatorForLanguageModeling,
get_linear_schedule_with_warmup, TrainingArguments, Trainer and pipeline. Each is held to
transformers where transformers still has the call; the KantaiBERT chapter's cells run end to
end on a scaled-down model, then a causal LM and a classifier go through the same Trainer.

Sizes are tiny: a BPE vocabulary of 300 trained on 200 lines of kant.txt, hidden 32, 2 layers.
"""

from __future__ import annotations

import json

import pytest
import torch

from minibert import BertConfig, RobertaForCausalLM, RobertaForMaskedLM
from tokenizer import load_tokenizer
from tokenizer.bpe_trainer import BPETrainer
from train import (
    DataCollatorForLanguageModeling,
    LineByLineTextDataset,
    Trainer,
    TrainingArguments,
    get_linear_schedule_with_warmup,
    pipeline,
)
from train.outdir import OutputDirError
from train.resume import ResumeError

IGNORE = -100


@pytest.fixture(scope="module")
def kant_file(data, tmp_path_factory):
    lines = [line for line in (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig")
             .splitlines() if line.strip()][100:300]
    path = tmp_path_factory.mktemp("kant") / "kant_small.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bpe_dir(kant_file, tmp_path_factory):
    """The chapter's first cells: a byte-level BPE trained on the text and saved."""
    lines = kant_file.read_text(encoding="utf-8").splitlines()
    tok = BPETrainer(300, 2, show_progress=False).train(iter(lines))
    folder = tmp_path_factory.mktemp("bpe")
    tok.save(folder)
    return folder


@pytest.fixture(scope="module")
def tok(bpe_dir):
    return load_tokenizer(bpe_dir)


@pytest.fixture(scope="module")
def hf_tok(transformers, bpe_dir):
    return transformers.RobertaTokenizer.from_pretrained(str(bpe_dir))


class Wrapped:
    """The contract a transformers-style tokenizer meets here: the tokenizer it wraps as
    `backend_tokenizer`, and pad_token_id, mask_token_id, all_special_ids, len()."""

    def __init__(self, inner):
        self.backend_tokenizer = inner
        self.pad_token_id, self.mask_token_id = inner.pad_token_id, inner.mask_token_id
        self.all_special_ids = inner.all_special_ids
        self._n = len(inner)

    def __len__(self):
        return self._n


def roberta_config(tok, **overrides) -> BertConfig:
    return BertConfig(model_type="roberta", vocab_size=len(tok), hidden_size=32,
                      num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                      max_position_embeddings=40, type_vocab_size=1, pad_token_id=1,
                      bos_token_id=0, eos_token_id=2, hidden_dropout_prob=0.0,
                      attention_probs_dropout_prob=0.0, **overrides)


def read_losses(folder) -> list[float]:
    lines = (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["loss"] for line in lines]


# ---- the schedule ------------------------------------------------------------------------

@pytest.mark.parametrize("warmup,total", [(0, 7), (3, 10), (10, 10), (1, 1)])
def test_schedule_matches_transformers(transformers, warmup, total):
    lrs = []
    for make in (get_linear_schedule_with_warmup, transformers.get_linear_schedule_with_warmup):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        sched = make(opt, num_warmup_steps=warmup, num_training_steps=total)
        assert isinstance(sched, torch.optim.lr_scheduler.LambdaLR)
        lrs.append([])
        for _ in range(total + 2):
            lrs[-1].append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
    assert lrs[0] == pytest.approx(lrs[1], abs=1e-12)


# ---- the dataset -------------------------------------------------------------------------

def test_line_by_line_items_match_transformers(kant_file, tok, hf_tok):
    ds = LineByLineTextDataset(tokenizer=tok, file_path=str(kant_file), block_size=16)
    with open(kant_file, encoding="utf-8") as f:  # what transformers' dataset did
        lines = [line for line in f.read().splitlines() if line and not line.isspace()]
    want = hf_tok(lines, add_special_tokens=True, truncation=True, max_length=16)["input_ids"]
    assert len(ds) == len(want)
    assert all(list(ds[i]) == ["input_ids"] and ds[i]["input_ids"].dtype == torch.long
               for i in range(len(ds)))
    assert [ds[i]["input_ids"].tolist() for i in range(len(ds))] == want
    wrapped = LineByLineTextDataset(tokenizer=Wrapped(tok), file_path=kant_file, block_size=16)
    assert wrapped.examples == ds.examples


# ---- the collator ------------------------------------------------------------------------

def _examples(tok, kant_file, n=None):
    ds = LineByLineTextDataset(tokenizer=tok, file_path=kant_file, block_size=24)
    return [ds[i] for i in range(len(ds) if n is None else n)]


def _rates(batches, specials, mask_id):
    """(selected / maskable, then mask, random, kept as shares of the selected)."""
    maskable = selected = masked = kept = 0
    for original, batch in batches:
        real = batch["attention_mask"].bool() & ~torch.isin(original, torch.tensor(specials))
        chosen = batch["labels"] != IGNORE
        assert not (chosen & ~real).any(), "a special token or padding was selected"
        assert torch.equal(batch["labels"][chosen], original[chosen])
        assert torch.equal(batch["input_ids"][~chosen], original[~chosen])
        maskable, selected = maskable + int(real.sum()), selected + int(chosen.sum())
        masked += int((batch["input_ids"][chosen] == mask_id).sum())
        kept += int((batch["input_ids"][chosen] == original[chosen]).sum())
    return (selected / maskable, masked / selected, (selected - masked - kept) / selected,
            kept / selected)


@pytest.mark.parity
def test_mlm_collator_rates_and_labels_match_transformers(transformers, tok, hf_tok, kant_file):
    examples = _examples(tok, kant_file)
    padded = DataCollatorForLanguageModeling(tokenizer=tok, mlm=False)(examples)
    original = padded["input_ids"]
    ours = DataCollatorForLanguageModeling(tokenizer=tok, mlm=True, mlm_probability=0.15)
    theirs = transformers.DataCollatorForLanguageModeling(tokenizer=hf_tok, mlm=True,
                                                          mlm_probability=0.15, seed=0)
    hf_examples = [{"input_ids": e["input_ids"].tolist()} for e in examples]
    runs = {"ours": [], "transformers": []}
    for _ in range(12):
        runs["ours"].append((original, ours(examples)))
        hf = theirs(hf_examples)
        assert torch.equal(hf["attention_mask"], padded["attention_mask"])
        runs["transformers"].append((original, hf))
    for name, batches in runs.items():
        rate, mask, random, kept = _rates(batches, tok.all_special_ids, tok.mask_token_id)
        assert rate == pytest.approx(0.15, abs=0.01), name
        assert (mask, random, kept) == pytest.approx((0.8, 0.1, 0.1), abs=0.02), name


def test_collator_takes_dicts_tensors_and_lists_alike(tok, kant_file):
    examples = _examples(tok, kant_file, 9)
    forms = [examples, [e["input_ids"] for e in examples],
             [e["input_ids"].tolist() for e in examples]]
    for mlm in (True, False):
        batches = [DataCollatorForLanguageModeling(Wrapped(tok), mlm=mlm, seed=3)(f)
                   for f in forms]
        for b in batches[1:]:
            assert all(torch.equal(b[k], batches[0][k]) for k in batches[0])
    again = DataCollatorForLanguageModeling(tok, seed=3)
    other = DataCollatorForLanguageModeling(tok, seed=4)
    first = again(examples)["input_ids"]
    assert not torch.equal(again(examples)["input_ids"], first)  # a fresh mask every batch
    assert torch.equal(DataCollatorForLanguageModeling(tok, seed=3)(examples)["input_ids"], first)
    assert not torch.equal(other(examples)["input_ids"], first)


@pytest.mark.parity
def test_causal_collator_equals_transformers(transformers, tok, hf_tok, kant_file):
    examples = _examples(tok, kant_file, 11)
    ours = DataCollatorForLanguageModeling(tokenizer=tok, mlm=False)
    theirs = transformers.DataCollatorForLanguageModeling(tokenizer=hf_tok, mlm=False)
    for form in (lambda e: e, lambda e: {"input_ids": e["input_ids"].tolist()}):
        got, want = ours([form(e) for e in examples]), theirs([form(e) for e in examples])
        for key in want:
            assert torch.equal(got[key], want[key]), key
        assert (got["labels"][got["attention_mask"] == 0] == IGNORE).all()


# ---- the arguments ------------------------------------------------------------------------

@pytest.mark.parity
def test_training_arguments_defaults_and_errors(transformers):
    ours = TrainingArguments(output_dir="out", prediction_loss_only=True)
    theirs = transformers.TrainingArguments(output_dir="out")
    for name in vars(ours):
        if name not in ("output_dir", "disable_tqdm", "prediction_loss_only") and \
                hasattr(theirs, name):
            assert getattr(ours, name) == getattr(theirs, name), name
    # neither fp16 nor bf16 means fp32 there, whatever the loops' "auto" would pick
    assert (ours.precision, TrainingArguments("out", bf16=True).precision) == ("fp32", "bf16")
    with pytest.raises(TypeError, match=r"^TrainingArguments: evaluation_strategy not "
                                        r"supported; .* takes output_dir, overwrite_output_dir"):
        TrainingArguments(output_dir="out", evaluation_strategy="no")
    with pytest.raises(ValueError, match="num_train_epochs=1.5"):
        TrainingArguments(output_dir="out", num_train_epochs=1.5)
    assert TrainingArguments("out", num_train_epochs=0.5, max_steps=3).max_steps == 3
    with pytest.raises(ValueError, match="per_device_train_batch_size=0"):
        TrainingArguments(output_dir="out", per_device_train_batch_size=0)


# ---- the KantaiBERT chapter, scaled down ------------------------------------------------

def test_kantaibert_cells_train_save_and_fill_mask(transformers, tok, bpe_dir, kant_file,
                                                   tmp_path):
    out = tmp_path / "KantaiBERT"
    load_tokenizer(bpe_dir).save(out)  # the chapter saves its tokenizer there first
    torch.manual_seed(0)
    model = RobertaForMaskedLM(config=roberta_config(tok))
    dataset = LineByLineTextDataset(tokenizer=tok, file_path=str(kant_file), block_size=32)
    data_collator = DataCollatorForLanguageModeling(tokenizer=tok, mlm=True, mlm_probability=0.15)
    kwargs = dict(output_dir=str(out), num_train_epochs=2, per_device_train_batch_size=20,
                  save_steps=5, save_total_limit=2, learning_rate=2e-3, logging_steps=1,
                  prediction_loss_only=True, disable_tqdm=True, use_cpu=True)
    refused = Trainer(model=model, args=TrainingArguments(**kwargs), data_collator=data_collator,
                      train_dataset=dataset)
    with pytest.raises(OutputDirError, match="files minibert did not write .*pass "
                                             "overwrite_output_dir=True to write beside"):
        refused.train()  # the tokenizer files are not ours: refused before any step
    args = TrainingArguments(overwrite_output_dir=True, **kwargs)
    trainer = Trainer(model=model, args=args, data_collator=data_collator, train_dataset=dataset)
    result = trainer.train()
    losses = read_losses(out)
    assert result.global_step == len(losses) == 20 and result.metrics["epoch"] == 2
    assert result.training_loss == pytest.approx(sum(losses) / len(losses))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5, losses
    assert len(list((out / "checkpoints").iterdir())) == 2
    with pytest.raises(ResumeError, match="already holds checkpoints"):
        trainer.train()  # as the CLI: an earlier run's checkpoints are never overwritten
    assert trainer.train(resume_from_checkpoint=True).global_step == 20  # finished: no step
    trainer.save_model(str(out))
    fill_mask = pipeline("fill-mask", model=str(out), tokenizer=str(out))
    got = fill_mask("Human thinking involves human <mask>.")
    assert [list(r) for r in got] == [["score", "token", "token_str", "sequence"]] * 5
    assert [r["score"] for r in got] == sorted((r["score"] for r in got), reverse=True)
    # roberta-base's mask absorbs the space before it (lstrip), as ours does; transformers 5
    # reads a plain "<mask>" in tokenizer_config.json without lstrip, so it is given here
    mask = transformers.AddedToken("<mask>", lstrip=True, normalized=False)
    hf_tok = transformers.RobertaTokenizer.from_pretrained(str(out), mask_token=mask)
    want = transformers.pipeline("fill-mask", model=str(out), tokenizer=hf_tok)(
        "Human thinking involves human <mask>.")
    assert [(r["token"], r["token_str"], r["sequence"]) for r in got] == \
        [(r["token"], r["token_str"], r["sequence"]) for r in want]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in want], abs=1e-5)
    model_object = pipeline("fill-mask", model=model, tokenizer=Wrapped(tok))
    assert model_object(["Human thinking involves human <mask>."]) == [got]


def test_causal_lm_trains_and_generates(tok, kant_file, tmp_path):
    out = tmp_path / "causal"
    torch.manual_seed(0)
    model = RobertaForCausalLM(config=roberta_config(tok, is_decoder=True))
    trainer = Trainer(
        model=model, data_collator=DataCollatorForLanguageModeling(tokenizer=tok, mlm=False),
        train_dataset=LineByLineTextDataset(tokenizer=tok, file_path=kant_file, block_size=32),
        args=TrainingArguments(output_dir=str(out), max_steps=15, per_device_train_batch_size=20,
                               learning_rate=2e-3, logging_steps=1, disable_tqdm=True,
                               use_cpu=True), processing_class=tok)
    result = trainer.train()
    trainer.save_model()  # into output_dir, as the chapters do, with no overwrite_output_dir
    losses = read_losses(out)
    assert result.global_step == 15 and result.metrics["epoch"] == pytest.approx(15 / 10)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.3, losses
    with pytest.raises(ValueError, match=r"is a causal LM.*pipeline\('text-generation'\)"
                                         r".*from_pretrained\(") as refused:
        pipeline("fill-mask", model=str(out))  # as `minibert fill-mask` refuses it
    assert "--" not in str(refused.value)
    generate = pipeline("text-generation", model=str(out))
    [first] = generate("The critique")
    assert list(first) == ["generated_text"] and first["generated_text"].startswith("The critique")
    assert len(first["generated_text"]) > len("The critique")
    assert generate(["The critique"], max_new_tokens=5, do_sample=True, seed=1) == \
        [generate("The critique", max_new_tokens=5, do_sample=True, seed=1)]


def test_classifier_fine_tunes_evaluates_and_classifies(tmp_path):
    from tiny_models import save_tiny

    save_tiny(tmp_path / "base", kind="classifier")
    tok = load_tokenizer(tmp_path / "base")
    model = load_tiny_classifier(tmp_path / "base")
    texts = ["the cat sat on a mat", "a dog ran", "the dog sat", "a cat ran on the mat",
             "the animal was tired", "a cat sat", "the dog ran on a mat", "it was the dog"]
    labels = [int("cat" in t) for t in texts]

    def item(text, label):
        enc = tok.encode(text, max_length=12, padding="max_length", truncation=True)
        return {"input_ids": torch.tensor(enc.ids), "attention_mask": torch.tensor(
            enc.attention_mask), "labels": torch.tensor(label)}

    data = [item(t, y) for t, y in zip(texts * 4, labels * 4)]
    trainer = Trainer(model=model, args=TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=6, per_device_train_batch_size=8,
        learning_rate=1e-2, warmup_steps=2, disable_tqdm=True, use_cpu=True),
        train_dataset=data, eval_dataset=data[:8], processing_class=tok)
    before = trainer.evaluate()["eval_loss"]
    result = trainer.train()
    assert result.global_step == 24
    assert trainer.evaluate()["eval_loss"] < before - 0.3
    classify = pipeline("text-classification", model=str(tmp_path / "out"))
    got = classify(["the cat sat", "a dog ran"])
    assert [r["label"] for r in got] == ["acceptable", "unacceptable"]
    assert all(list(r) == ["label", "score"] and 0.5 < r["score"] <= 1 for r in got)
    both = classify("the cat sat", top_k=None)
    assert [r["label"] for r in both] == ["acceptable", "unacceptable"]
    assert sum(r["score"] for r in both) == pytest.approx(1.0)


def load_tiny_classifier(folder):
    from minibert import BertForSequenceClassification

    return BertForSequenceClassification.from_pretrained(folder, verbose=False)


def test_wrong_uses_are_refused(tok, tmp_path):
    from minibert import BertModel

    with pytest.raises(TypeError, match="got BertModel"):
        Trainer(model=BertModel(roberta_config(tok)), args=TrainingArguments(str(tmp_path)))
    model = RobertaForMaskedLM(roberta_config(tok))
    with pytest.raises(ValueError, match="needs data_collator="):
        Trainer(model=model, args=TrainingArguments(str(tmp_path / "a")),
                train_dataset=[{"input_ids": torch.tensor([0, 5, 2])}]).train()
    lines = [{"input_ids": torch.tensor([0, 5, 6, 2])}] * 4
    with pytest.raises(ValueError, match=r"\(RobertaForMaskedLM\) trains a masked LM, but "
                                         r"DataCollatorForLanguageModeling does not mask"):
        Trainer(model=model, args=TrainingArguments(str(tmp_path / "b"), disable_tqdm=True),
                data_collator=DataCollatorForLanguageModeling(tok, mlm=False),
                train_dataset=lines).train()
    with pytest.raises(ValueError, match=r"\(RobertaForCausalLM\) predicts every next token"):
        Trainer(model=RobertaForCausalLM(roberta_config(tok, is_decoder=True)),
                args=TrainingArguments(str(tmp_path / "c"), disable_tqdm=True),
                data_collator=DataCollatorForLanguageModeling(tok, mlm=True),
                train_dataset=lines).train()
    with pytest.raises(ValueError, match="task 'summarization' is not built"):
        pipeline("summarization", model=str(tmp_path))
    with pytest.raises(ValueError, match="pass tokenizer="):
        pipeline("fill-mask", model=model)
    no_mask = Wrapped(tok)
    no_mask.mask_token_id = None
    with pytest.raises(ValueError, match="needs a tokenizer with a mask token"):
        DataCollatorForLanguageModeling(no_mask)
    assert DataCollatorForLanguageModeling(no_mask, mlm=False).generator is None


def test_untrained_head_refusal_says_the_python_way(tmp_path):
    """A pipeline's refusal names what a Python caller can do, never a CLI flag, and doing
    what it says works."""
    from tiny_models import save_tiny

    from minibert import AutoModelForSequenceClassification

    folder = save_tiny(tmp_path / "mlm", kind="mlm")
    for task in ("text-classification", "text-generation"):
        with pytest.raises(ValueError) as refused:
            pipeline(task, model=str(folder))
        assert "--" not in str(refused.value) and "from_pretrained(" in str(refused.value)
    with pytest.raises(ValueError, match=r"AutoModelForSequenceClassification\.from_pretrained"):
        pipeline("text-classification", model=str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder), verbose=False)
    got = pipeline("text-classification", model=model, tokenizer=str(folder))("the cat sat")
    assert len(got) == 1 and 0 < got[0]["score"] <= 1
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^device='cuda:7': CUDA is not available"):
            pipeline("text-classification", model=model, tokenizer=str(folder), device=7)
