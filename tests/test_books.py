"""The code people learn BERT from, run on minibert with only the imports changed.

Three sources, their cells reconstructed here in their order and shape (our own code):
- Rothman, *Transformers for NLP*, the KantaiBERT chapter: a byte-level BPE trained on
  kant.txt, RobertaConfig / RobertaTokenizer / RobertaForMaskedLM (83,504,416 parameters),
  LineByLineTextDataset, DataCollatorForLanguageModeling, TrainingArguments, Trainer,
  save_model, the fill-mask pipeline; then its causal variant (RobertaForCausalLM with
  is_decoder=True, mlm=False, the text-generation pipeline).
- Rothman, the BERT fine-tuning chapter on CoLA: "[CLS] ... [SEP]" typed into the text,
  tokenize, convert_tokens_to_ids, padded by keras' pad_sequences, masks from ids > 0,
  BertConfig() / BertModel, AdamW over two parameter groups, outputs['loss'] and
  logits['logits'], MCC per batch and over the hold-out set.
- McCormick & Ryan, *BERT Fine-Tuning Tutorial with PyTorch*: encode_plus(max_length=64,
  pad_to_max_length=True, ...), TensorDataset / random_split / RandomSampler,
  BertForSequenceClassification.from_pretrained(num_labels=2, ...), AdamW(lr=2e-5, eps=1e-8),
  get_linear_schedule_with_warmup, the loop (`model.zero_grad()`, `outputs[0]` the loss,
  clip_grad_norm_), flat accuracy, MCC, save_pretrained and reload.

Each cell takes its names from a namespace: `OURS` is the books' imports with `transformers`
changed to `minibert` / `train` and `tokenizers` to `tokenizer`; the `hf` fixture holds the
original names. Where transformers 5 still has a call, the same cell runs on both and ids,
masks, logits and losses must agree (dropout included: both draw the same masks from torch's
seeded RNG); where it dropped one (encode_plus, pad_to_max_length, LineByLineTextDataset,
TrainingArguments(overwrite_output_dir=)), ours is held to the call that replaced it. What
we save must load in transformers with the same outputs.
Stand-ins: all-MiniLM-L6-v2 for bert-base-uncased (MAX_LEN and max_length stay the books'),
a slice of kant.txt, a dozen CoLA sentences and one or two steps, a scaled-down RoBERTa for
training (the full-size one is only built, on the meta device). Not ours to swap, so written
here: pandas' read_csv (`read_cola`) and keras' pad_sequences (`pad_sequences`).
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import matthews_corrcoef
from sklearn.model_selection import train_test_split
from torch.utils.data import (
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
    random_split,
)

import train.metrics
from minibert import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    BertTokenizer,
    RobertaConfig,
    RobertaForCausalLM,
    RobertaForMaskedLM,
    RobertaTokenizer,
)
from tokenizer import ByteLevelBPETokenizer
from tokenizer.processors import BertProcessing
from train import (
    DataCollatorForLanguageModeling,
    LineByLineTextDataset,
    Trainer,
    TrainingArguments,
    get_linear_schedule_with_warmup,
    pipeline,
)

OURS = SimpleNamespace(
    BertConfig=BertConfig, BertForSequenceClassification=BertForSequenceClassification,
    BertModel=BertModel, BertTokenizer=BertTokenizer, RobertaConfig=RobertaConfig,
    RobertaForCausalLM=RobertaForCausalLM, RobertaForMaskedLM=RobertaForMaskedLM,
    RobertaTokenizer=RobertaTokenizer, ByteLevelBPETokenizer=ByteLevelBPETokenizer,
    BertProcessing=BertProcessing, DataCollatorForLanguageModeling=DataCollatorForLanguageModeling,
    LineByLineTextDataset=LineByLineTextDataset, Trainer=Trainer,
    TrainingArguments=TrainingArguments,
    get_linear_schedule_with_warmup=get_linear_schedule_with_warmup, pipeline=pipeline)
COLA_COLUMNS = ["sentence_source", "label", "label_notes", "sentence"]
# the sizes of the scaled-down RoBERTa trained here (the chapter's: hidden 768, 6 layers)
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def hf(transformers, hf_tokenizers):
    """The books' own imports, for the cells transformers 5 still runs."""
    from tokenizers.processors import BertProcessing as TheirBertProcessing

    return SimpleNamespace(
        BertForSequenceClassification=transformers.BertForSequenceClassification,
        BertTokenizer=transformers.BertTokenizer, RobertaConfig=transformers.RobertaConfig,
        RobertaForMaskedLM=transformers.RobertaForMaskedLM,
        RobertaTokenizer=transformers.RobertaTokenizer,
        get_linear_schedule_with_warmup=transformers.get_linear_schedule_with_warmup,
        ByteLevelBPETokenizer=hf_tokenizers.ByteLevelBPETokenizer,
        BertProcessing=TheirBertProcessing)


@contextlib.contextmanager
def inside(folder):
    """Run a cell in its notebook's folder, where the books' relative paths (./KantaiBERT,
    ./kant.txt, ./model_save/) point."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def read_cola(path, n: int) -> SimpleNamespace:
    """What pd.read_csv(path, delimiter='\\t', header=None, names=COLA_COLUMNS) gives the
    books, for the first n rows: `.sentence.values` and `.label.values`."""
    rows = [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines()[:n]]
    return SimpleNamespace(sentence=SimpleNamespace(values=np.array([r[3] for r in rows])),
                           label=SimpleNamespace(values=np.array([int(r[1]) for r in rows])))


def pad_sequences(sequences, maxlen, dtype="long", truncating="post", padding="post"):
    """keras' pad_sequences as Rothman calls it: cut at maxlen, pad with 0 after."""
    assert (dtype, truncating, padding) == ("long", "post", "post")
    return np.array([list(s[:maxlen]) + [0] * (maxlen - len(s[:maxlen])) for s in sequences])


def flat_accuracy(preds, labels):
    pred_flat = np.argmax(preds, axis=1).flatten()
    labels_flat = labels.flatten()
    return np.sum(pred_flat == labels_flat) / len(labels_flat)


# ---- Rothman: KantaiBERT ------------------------------------------------------------------


def kantai_tokenizer_cells(lib):
    """Steps 3 and 4: train a byte-level BPE on the text files here, save it; then load the
    two files back, add RoBERTa's <s> ... </s> and truncate at 512."""
    paths = [str(x) for x in Path(".").glob("**/*.txt")]
    tokenizer = lib.ByteLevelBPETokenizer()
    tokenizer.train(files=paths, vocab_size=52_000, min_frequency=2, special_tokens=[
        "<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    token_dir = "./KantaiBERT"
    if not os.path.exists(token_dir):
        os.makedirs(token_dir)
    tokenizer.save_model("KantaiBERT")
    tokenizer = lib.ByteLevelBPETokenizer("./KantaiBERT/vocab.json", "./KantaiBERT/merges.txt")
    plain = tokenizer.encode("The Critique of Pure Reason.")
    tokenizer._tokenizer.post_processor = lib.BertProcessing(
        ("</s>", tokenizer.token_to_id("</s>")), ("<s>", tokenizer.token_to_id("<s>")))
    tokenizer.enable_truncation(max_length=512)
    return tokenizer, plain


def kantai_model_cells(lib):
    """Steps 5 to 8: the chapter's config, its tokenizer, the model, and its parameters
    counted tensor by tensor as the chapter counts them."""
    config = lib.RobertaConfig(vocab_size=52_000, max_position_embeddings=514,
                               num_attention_heads=12, num_hidden_layers=6, type_vocab_size=1)
    tokenizer = lib.RobertaTokenizer.from_pretrained("./KantaiBERT", max_length=512)
    model = lib.RobertaForMaskedLM(config=config)
    LP = list(model.parameters())
    lp = len(LP)
    np_ = 0
    for p in range(0, lp):
        try:
            L2 = len(LP[p][0])  # a matrix: its columns
        except TypeError:
            L2 = 1  # a vector
        L1 = len(LP[p])
        np_ += L1 * L2
    return config, tokenizer, model, np_


def kantai_training_cells(lib, tokenizer, config, folder="./KantaiBERT"):
    """Steps 9 to 15: the dataset, the collator, the arguments, the Trainer, training, saving,
    and the fill-mask pipeline on the saved folder."""
    model = lib.RobertaForMaskedLM(config=config)
    dataset = lib.LineByLineTextDataset(tokenizer=tokenizer, file_path="./kant.txt",
                                        block_size=128)
    data_collator = lib.DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=True,
                                                        mlm_probability=0.15)
    training_args = lib.TrainingArguments(output_dir=folder, overwrite_output_dir=True,
                                          num_train_epochs=1, per_device_train_batch_size=64,
                                          save_steps=10_000, save_total_limit=2)
    trainer = lib.Trainer(model=model, args=training_args, data_collator=data_collator,
                          train_dataset=dataset)
    result = trainer.train()
    trainer.save_model(folder)
    fill_mask = lib.pipeline("fill-mask", model=folder, tokenizer=folder)
    return model, dataset, data_collator, result, fill_mask("Human thinking involves human <mask>.")


def kantai_causal_cells(lib, tokenizer, dataset, folder="./KantaiBERT-causal"):
    """The chapter's causal variant: the same RoBERTa as a decoder, trained left to right
    (mlm=False: labels are the ids), then the text-generation pipeline."""
    config = lib.RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=514,
                               type_vocab_size=1, is_decoder=True, **SMALL)
    model = lib.RobertaForCausalLM(config=config)
    data_collator = lib.DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False)
    training_args = lib.TrainingArguments(output_dir=folder, overwrite_output_dir=True,
                                          num_train_epochs=1, per_device_train_batch_size=64,
                                          save_steps=10_000, save_total_limit=2)
    trainer = lib.Trainer(model=model, args=training_args, data_collator=data_collator,
                          train_dataset=dataset)
    result = trainer.train()
    trainer.save_model(folder)
    tokenizer.save_pretrained(folder)
    generator = lib.pipeline("text-generation", model=folder, tokenizer=folder)
    return model, result, generator("Human thinking involves", max_new_tokens=8)


@pytest.fixture(scope="module")
def kant_workdir(data, tmp_path_factory):
    """A folder holding the book's only text file: the first 200 lines of kant.txt."""
    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()[:200]
    folder = tmp_path_factory.mktemp("kantaibert")
    (folder / "kant.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def kantai_tokenizer(kant_workdir):
    with inside(kant_workdir):
        return kantai_tokenizer_cells(OURS)


def test_kantaibert_tokenizer_cells_match_tokenizers(kantai_tokenizer, kant_workdir, hf,
                                                      tmp_path):
    (tmp_path / "kant.txt").write_bytes((kant_workdir / "kant.txt").read_bytes())
    with inside(tmp_path):
        theirs, their_plain = kantai_tokenizer_cells(hf)
    ours, our_plain = kantai_tokenizer
    for name in ("vocab.json", "merges.txt"):
        assert (kant_workdir / "KantaiBERT" / name).read_text(encoding="utf-8").splitlines()[1:] \
            == (tmp_path / "KantaiBERT" / name).read_text(encoding="utf-8").splitlines()[1:]
    assert (our_plain.tokens, our_plain.ids) == (their_plain.tokens, their_plain.ids)
    assert our_plain.tokens[-2:] == ["ĠReason", "."]  # no <s> ... </s> before BertProcessing
    lines = (kant_workdir / "kant.txt").read_text(encoding="utf-8").splitlines()[40:80]
    for a, b in zip(lines, lines[1:]):
        for got, want in ((ours.encode(a), theirs.encode(a)), (ours.encode(a, b),
                                                               theirs.encode(a, b))):
            assert (got.tokens, got.ids, got.type_ids, got.attention_mask,
                    got.special_tokens_mask, got.offsets) == \
                (want.tokens, want.ids, want.type_ids, want.attention_mask,
                 want.special_tokens_mask, want.offsets)
    long_text = " ".join(lines * 4)
    assert len(ours.encode(long_text).ids) == len(theirs.encode(long_text).ids) == 512


def test_kantaibert_model_cells_match_transformers(kantai_tokenizer, kant_workdir, hf):
    """The full-size model is built on the meta device: shapes only, nothing to train."""
    with inside(kant_workdir), torch.device("meta"):
        ours = kantai_model_cells(OURS)
        theirs = kantai_model_cells(hf)
    (config, tokenizer, model, counted), (hf_config, hf_tokenizer, hf_model, _) = ours, theirs
    assert model.num_parameters() == counted == hf_model.num_parameters() == 83_504_416
    for key, value in config.to_dict().items():
        if hasattr(hf_config, key) and key not in ("id2label", "label2id"):
            assert getattr(hf_config, key) == value, key
    assert tokenizer.model_max_length == 512
    lines = (kant_workdir / "kant.txt").read_text(encoding="utf-8").splitlines()[100:140]
    lines = [line for line in lines if line.strip()]
    got = tokenizer(lines, padding=True, truncation=True, return_tensors="pt")
    want = hf_tokenizer(lines, padding=True, truncation=True, return_tensors="pt")
    assert list(got) == list(want) == ["input_ids", "attention_mask"]
    assert all(got[k].equal(want[k]) for k in want)


@pytest.fixture(scope="module")
def kantai_trained(kantai_tokenizer, kant_workdir):
    """The chapter's training cells on a scaled-down RoBERTa (hidden 32, 2 layers)."""
    with inside(kant_workdir):
        tokenizer = RobertaTokenizer.from_pretrained("./KantaiBERT", max_length=512)
        config = RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=514,
                               type_vocab_size=1, **SMALL)
        torch.manual_seed(0)
        return tokenizer, kantai_training_cells(OURS, tokenizer, config)


def test_kantaibert_training_cells_run_and_transformers_reads_the_result(
        kantai_trained, kant_workdir, transformers):
    tokenizer, (model, dataset, data_collator, result, answers) = kantai_trained
    folder = kant_workdir / "KantaiBERT"
    lines = [line for line in (kant_workdir / "kant.txt").read_text(encoding="utf-8")
             .splitlines() if line.strip()]
    assert result.global_step == -(-len(lines) // 64) and np.isfinite(result.training_loss)
    # LineByLineTextDataset is gone from transformers 5; it tokenized each line as this does
    hf_tok = transformers.RobertaTokenizer.from_pretrained(str(folder))
    want = hf_tok(lines, truncation=True, max_length=128)["input_ids"]
    assert [dataset[i]["input_ids"].tolist() for i in range(len(dataset))] == want
    # the tokenizer files written before training are still there, and transformers loads
    # the trained model with the same logits and loss
    assert {"vocab.json", "merges.txt", "config.json", "model.safetensors"} <= \
        {p.name for p in folder.iterdir()}
    hf_model = transformers.RobertaForMaskedLM.from_pretrained(str(folder)).eval()
    batch = data_collator([dataset[i] for i in range(16)])
    with torch.no_grad():
        ours, theirs = model.eval()(**batch), hf_model(**batch)
    assert torch.allclose(ours.logits, theirs.logits, atol=1e-5)
    assert torch.allclose(ours[0], theirs[0], atol=1e-5)
    assert [list(a) for a in answers] == [["score", "token", "token_str", "sequence"]] * 5
    # transformers 5 reads a bare vocab.json's <mask> without the space before it; the
    # chapter's transformers 4 took that space, as ours does
    mask = transformers.AddedToken("<mask>", lstrip=True, normalized=False)
    fill_mask = transformers.pipeline("fill-mask", model=str(folder), tokenizer=transformers
                                      .RobertaTokenizer.from_pretrained(str(folder),
                                                                        mask_token=mask))
    expected = fill_mask("Human thinking involves human <mask>.")
    assert [(a["token"], a["token_str"], a["sequence"]) for a in answers] == \
        [(e["token"], e["token_str"], e["sequence"]) for e in expected]
    assert [a["score"] for a in answers] == pytest.approx([e["score"] for e in expected],
                                                           abs=1e-5)


def test_kantaibert_causal_cells_run_and_transformers_reads_the_result(
        kantai_trained, kant_workdir, transformers):
    tokenizer, (_, dataset, *_rest) = kantai_trained
    torch.manual_seed(0)
    with inside(kant_workdir):
        model, result, generated = kantai_causal_cells(OURS, tokenizer, dataset)
    assert np.isfinite(result.training_loss) and model.config.is_decoder
    [answer] = generated
    assert list(answer) == ["generated_text"]
    assert answer["generated_text"].startswith("Human thinking involves")
    # older cells bound the whole length instead: the prompt (<s> and its tokens) + new ones
    generate = pipeline("text-generation", model=str(kant_workdir / "KantaiBERT-causal"))
    prompt = len(tokenizer.tokenize("Human thinking involves")) + 1
    assert generate("Human thinking involves", max_length=prompt + 8) == generated
    with pytest.raises(ValueError, match="max_length=2 leaves no room"):
        generate("Human thinking involves", max_length=2)
    folder = kant_workdir / "KantaiBERT-causal"
    hf_model = transformers.RobertaForCausalLM.from_pretrained(str(folder)).eval()
    batch = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False)(
        [dataset[i] for i in range(16)])
    assert torch.equal(batch["labels"][batch["attention_mask"] == 0],
                       torch.full_like(batch["labels"][batch["attention_mask"] == 0], -100))
    with torch.no_grad():
        ours, theirs = model.eval()(**batch), hf_model(**batch)
    assert torch.allclose(ours.logits, theirs.logits, atol=1e-5)
    assert torch.allclose(ours.loss, theirs.loss, atol=1e-5)


# ---- McCormick & Ryan: BERT fine-tuning tutorial --------------------------------------------


def mccormick_tokenize_cells(lib, model_dir, sentences, labels):
    """Tokenize every sentence with encode_plus: [CLS] ... [SEP], padded to 64, with masks."""
    tokenizer = lib.BertTokenizer.from_pretrained(model_dir, do_lower_case=True)
    tokens = tokenizer.tokenize(sentences[0])
    token_ids = tokenizer.convert_tokens_to_ids(tokens)
    max_len = 0
    for sent in sentences:
        input_ids = tokenizer.encode(sent, add_special_tokens=True)
        max_len = max(max_len, len(input_ids))
    input_ids, attention_masks = [], []
    for sent in sentences:
        encoded_dict = tokenizer.encode_plus(
            sent, add_special_tokens=True, max_length=64, pad_to_max_length=True,
            return_attention_mask=True, return_tensors="pt")
        input_ids.append(encoded_dict["input_ids"])
        attention_masks.append(encoded_dict["attention_mask"])
    input_ids = torch.cat(input_ids, dim=0)
    attention_masks = torch.cat(attention_masks, dim=0)
    labels = torch.tensor(labels)
    return tokenizer, tokens, token_ids, max_len, TensorDataset(input_ids, attention_masks,
                                                                labels)


def mccormick_training_cells(lib, model_dir, dataset, batch_size=4, epochs=1):
    """Split 90/10, batch, load the classifier, AdamW and the linear schedule, then the loop:
    train an epoch, then score the validation batches."""
    train_size = int(0.9 * len(dataset))
    val_size = len(dataset) - train_size
    train_dataset, val_dataset = random_split(dataset, [train_size, val_size])
    train_dataloader = DataLoader(train_dataset, sampler=RandomSampler(train_dataset),
                                  batch_size=batch_size)
    validation_dataloader = DataLoader(val_dataset, sampler=SequentialSampler(val_dataset),
                                       batch_size=batch_size)
    model = lib.BertForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, output_attentions=False, output_hidden_states=False)
    model.classifier.load_state_dict(FIXED_HEAD)  # not the tutorial's: equal starting heads
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, eps=1e-8)
    total_steps = len(train_dataloader) * epochs
    scheduler = lib.get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0,
                                                    num_training_steps=total_steps)
    seed_val = 42
    random.seed(seed_val)
    np.random.seed(seed_val)
    torch.manual_seed(seed_val)
    stats = {"losses": [], "val_logits": [], "val_accuracy": []}
    for _ in range(0, epochs):
        model.train()
        for _step, batch in enumerate(train_dataloader):
            b_input_ids, b_input_mask, b_labels = batch[0], batch[1], batch[2]
            model.zero_grad()
            outputs = model(b_input_ids, token_type_ids=None, attention_mask=b_input_mask,
                            labels=b_labels)
            loss = outputs[0]
            stats["losses"].append(loss.item())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
        model.eval()
        for batch in validation_dataloader:
            b_input_ids, b_input_mask, b_labels = batch[0], batch[1], batch[2]
            with torch.no_grad():
                outputs = model(b_input_ids, token_type_ids=None, attention_mask=b_input_mask,
                                labels=b_labels)
            logits = outputs[1].detach().cpu().numpy()
            stats["val_logits"].append(logits)
            stats["val_accuracy"].append(flat_accuracy(logits, b_labels.numpy()))
    return model, stats


def mccormick_test_set_cells(model, prediction_dataloader):
    """Predict the test set batch by batch; MCC per batch and over the whole set."""
    model.eval()
    predictions, true_labels = [], []
    for batch in prediction_dataloader:
        b_input_ids, b_input_mask, b_labels = batch
        with torch.no_grad():
            outputs = model(b_input_ids, token_type_ids=None, attention_mask=b_input_mask)
        logits = outputs[0]
        predictions.append(logits.detach().cpu().numpy())
        true_labels.append(b_labels.to("cpu").numpy())
    matthews_set = []
    for i in range(len(true_labels)):
        pred_labels_i = np.argmax(predictions[i], axis=1).flatten()
        matthews_set.append(matthews_corrcoef(true_labels[i], pred_labels_i))
    flat_predictions = np.argmax(np.concatenate(predictions, axis=0), axis=1).flatten()
    flat_true_labels = np.concatenate(true_labels, axis=0)
    mcc = matthews_corrcoef(flat_true_labels, flat_predictions)
    return predictions, matthews_set, mcc, flat_true_labels, flat_predictions


def mccormick_save_cells(lib, model, tokenizer, output_dir):
    """Save model and tokenizer in Hugging Face's layout, then load both back."""
    if not os.path.exists(output_dir):
        os.makedirs(output_dir)
    model_to_save = model.module if hasattr(model, "module") else model
    model_to_save.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    model = lib.BertForSequenceClassification.from_pretrained(output_dir)
    tokenizer = lib.BertTokenizer.from_pretrained(output_dir)
    return model, tokenizer


FIXED_HEAD = {"weight": torch.randn(2, 384, generator=torch.Generator().manual_seed(1)) * 0.02,
              "bias": torch.tensor([0.01, -0.01])}


@pytest.fixture(scope="module")
def cola(data):
    return data / "cola"


def test_mccormick_tutorial_cells(cola, minilm_dir, hf, transformers, tmp_path):
    minilm_dir = str(minilm_dir)
    df = read_cola(cola / "in_domain_train.tsv", 4)
    sentences, labels = df.sentence.values, df.label.values
    tokenizer, tokens, token_ids, max_len, dataset = mccormick_tokenize_cells(
        OURS, minilm_dir, sentences, labels)
    hf_tok = hf.BertTokenizer.from_pretrained(minilm_dir, do_lower_case=True)
    assert tokens == hf_tok.tokenize(sentences[0])
    assert token_ids == hf_tok.convert_tokens_to_ids(tokens)
    assert max_len == max(len(hf_tok.encode(s, add_special_tokens=True)) for s in sentences)
    # encode_plus and pad_to_max_length are gone from transformers 5: this is their request
    want = hf_tok(list(sentences), max_length=64, padding="max_length", truncation=True,
                  return_attention_mask=True, return_tensors="pt")
    assert dataset.tensors[0].equal(want["input_ids"])
    assert dataset.tensors[1].equal(want["attention_mask"])
    batched = tokenizer.batch_encode_plus(list(sentences), max_length=64, pad_to_max_length=True,
                                          return_attention_mask=True, return_tensors="pt")
    assert all(batched[k].equal(want[k]) for k in want) and list(batched) == list(want)

    runs = {}
    for name, lib in (("ours", OURS), ("transformers", hf)):
        torch.manual_seed(0)  # the same random_split and batch order for both
        runs[name] = mccormick_training_cells(lib, minilm_dir, dataset)
    (model, stats), (hf_model, hf_stats) = runs["ours"], runs["transformers"]
    assert len(stats["losses"]) == 1  # 3 sentences in a batch of 4, 1 to validate
    assert stats["losses"] == pytest.approx(hf_stats["losses"], abs=1e-5)
    for got, expected in zip(stats["val_logits"], hf_stats["val_logits"], strict=True):
        assert np.allclose(got, expected, atol=1e-5)
    assert stats["val_accuracy"] == hf_stats["val_accuracy"]

    test_df = read_cola(cola / "out_of_domain_dev.tsv", 8)
    _, _, _, _, test_data = mccormick_tokenize_cells(OURS, minilm_dir, test_df.sentence.values,
                                                     test_df.label.values)
    loader = DataLoader(test_data, sampler=SequentialSampler(test_data), batch_size=4)
    predictions, matthews_set, mcc, y_true, y_pred = mccormick_test_set_cells(model, loader)
    hf_predictions, hf_set, hf_mcc, *_ = mccormick_test_set_cells(hf_model, loader)
    assert np.allclose(np.concatenate(predictions), np.concatenate(hf_predictions), atol=1e-5)
    assert (matthews_set, mcc) == (hf_set, hf_mcc) and len(matthews_set) == 2
    assert train.metrics.matthews_corrcoef(y_true, y_pred) == pytest.approx(mcc, abs=1e-12)

    with inside(tmp_path):
        reloaded, reloaded_tok = mccormick_save_cells(OURS, model, tokenizer, "./model_save/")
        theirs, their_tok = mccormick_save_cells(hf, model, tokenizer, "./model_save/")
    texts = list(test_df.sentence.values[:4])
    batch = reloaded_tok(texts, padding=True, return_tensors="pt")
    hf_batch = their_tok(texts, padding=True, return_tensors="pt")
    assert all(batch[k].equal(hf_batch[k]) for k in hf_batch) and list(batch) == list(hf_batch)
    with torch.no_grad():
        logits = model.eval()(**batch).logits
        assert torch.allclose(reloaded(**batch).logits, logits, atol=1e-6)
        assert torch.allclose(theirs(**hf_batch).logits, logits, atol=1e-5)


# ---- Rothman: fine-tuning BERT on CoLA ---------------------------------------------------


def rothman_data_cells(lib, model_dir, df, MAX_LEN=128):
    """[CLS] and [SEP] typed around each sentence, tokenize, ids, keras' padding, and an
    attention mask that is 1.0 wherever the id is not 0 ([PAD])."""
    sentences = df.sentence.values
    sentences = ["[CLS] " + sentence + " [SEP]" for sentence in sentences]
    labels = df.label.values
    tokenizer = lib.BertTokenizer.from_pretrained(model_dir, do_lower_case=True)
    tokenized_texts = [tokenizer.tokenize(sent) for sent in sentences]
    input_ids = [tokenizer.convert_tokens_to_ids(x) for x in tokenized_texts]
    input_ids = pad_sequences(input_ids, maxlen=MAX_LEN, dtype="long", truncating="post",
                              padding="post")
    attention_masks = []
    for seq in input_ids:
        seq_mask = [float(i > 0) for i in seq]
        attention_masks.append(seq_mask)
    return tokenizer, tokenized_texts, input_ids, attention_masks, labels


def rothman_training_cells(lib, model_dir, input_ids, attention_masks, labels, batch_size=32,
                           epochs=1):
    """Split (random_state=2018), tensors and loaders, the model, two parameter groups,
    AdamW, the schedule, then train and validate with outputs['loss'] / logits['logits']."""
    train_inputs, validation_inputs, train_labels, validation_labels = train_test_split(
        input_ids, labels, random_state=2018, test_size=0.1)
    train_masks, validation_masks, _, _ = train_test_split(attention_masks, input_ids,
                                                           random_state=2018, test_size=0.1)
    train_inputs, validation_inputs = torch.tensor(train_inputs), torch.tensor(validation_inputs)
    train_labels, validation_labels = torch.tensor(train_labels), torch.tensor(validation_labels)
    train_masks, validation_masks = torch.tensor(train_masks), torch.tensor(validation_masks)
    train_data = TensorDataset(train_inputs, train_masks, train_labels)
    train_dataloader = DataLoader(train_data, sampler=RandomSampler(train_data),
                                  batch_size=batch_size)
    validation_data = TensorDataset(validation_inputs, validation_masks, validation_labels)
    validation_dataloader = DataLoader(validation_data, sampler=SequentialSampler(
        validation_data), batch_size=batch_size)
    model = lib.BertForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    model.classifier.load_state_dict(FIXED_HEAD)  # not the chapter's: equal starting heads,
    torch.manual_seed(0)  # and the same batches and dropout masks for both libraries
    param_optimizer = list(model.named_parameters())
    no_decay = ["bias", "LayerNorm.weight"]
    optimizer_grouped_parameters = [
        {"params": [p for n, p in param_optimizer if not any(nd in n for nd in no_decay)],
         "weight_decay_rate": 0.1},
        {"params": [p for n, p in param_optimizer if any(nd in n for nd in no_decay)],
         "weight_decay_rate": 0.0}]
    optimizer = torch.optim.AdamW(optimizer_grouped_parameters, lr=2e-5, eps=1e-8)
    total_steps = len(train_dataloader) * epochs
    scheduler = lib.get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0,
                                                    num_training_steps=total_steps)
    train_loss_set, eval_accuracy = [], 0
    for _ in range(epochs):
        model.train()
        for batch in train_dataloader:
            b_input_ids, b_input_mask, b_labels = batch
            optimizer.zero_grad()
            outputs = model(b_input_ids, token_type_ids=None, attention_mask=b_input_mask,
                            labels=b_labels)
            loss = outputs["loss"]
            train_loss_set.append(loss.item())
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        for batch in validation_dataloader:
            b_input_ids, b_input_mask, b_labels = batch
            with torch.no_grad():
                logits = model(b_input_ids, token_type_ids=None, attention_mask=b_input_mask)
            logits = logits["logits"].detach().cpu().numpy()
            eval_accuracy += flat_accuracy(logits, b_labels.to("cpu").numpy())
    return model, train_loss_set, eval_accuracy


def rothman_holdout_cells(model, prediction_inputs, prediction_masks, prediction_labels,
                          batch_size=32):
    """Predict the hold-out set; MCC per batch, then over all predictions flattened."""
    prediction_data = TensorDataset(torch.tensor(prediction_inputs),
                                    torch.tensor(prediction_masks),
                                    torch.tensor(prediction_labels))
    prediction_dataloader = DataLoader(prediction_data, sampler=SequentialSampler(
        prediction_data), batch_size=batch_size)
    model.eval()
    predictions, true_labels = [], []
    for batch in prediction_dataloader:
        b_input_ids, b_input_mask, b_labels = batch
        with torch.no_grad():
            logits = model(b_input_ids, token_type_ids=None, attention_mask=b_input_mask)
        predictions.append(logits["logits"].detach().cpu().numpy())
        true_labels.append(b_labels.to("cpu").numpy())
    matthews_set = [matthews_corrcoef(true_labels[i], np.argmax(predictions[i], axis=1)
                                      .flatten()) for i in range(len(true_labels))]
    flat_predictions = [item for sublist in predictions for item in sublist]
    flat_predictions = np.argmax(flat_predictions, axis=1).flatten()
    flat_true_labels = [item for sublist in true_labels for item in sublist]
    return predictions, matthews_set, matthews_corrcoef(flat_true_labels, flat_predictions)


def rothman_predict(sentence, model, tokenizer):
    """One sentence: encode_plus without token type ids, padded to 128, then the argmax."""
    encoded = tokenizer.encode_plus(sentence, add_special_tokens=True, max_length=128,
                                    return_token_type_ids=False, pad_to_max_length=True,
                                    return_attention_mask=True, return_tensors="pt")
    with torch.no_grad():
        outputs = model(encoded["input_ids"], attention_mask=encoded["attention_mask"])
    _, prediction = torch.max(outputs.logits, dim=1)
    return prediction.item(), outputs.logits


def test_rothman_bert_chapter_cells(cola, minilm_dir, hf, transformers):
    minilm_dir = str(minilm_dir)
    with torch.device("meta"):  # the chapter's default bert-base, shapes only
        configuration = BertConfig()
        model = BertModel(configuration)
        configuration = model.config
    theirs = transformers.BertConfig()
    for key, value in configuration.to_dict().items():
        if hasattr(theirs, key) and key not in ("id2label", "label2id"):
            assert getattr(theirs, key) == value, key
    assert model.num_parameters() == 109_482_240  # bert-base's encoder with its pooler

    df = read_cola(cola / "in_domain_train.tsv", 4)
    ours = rothman_data_cells(OURS, minilm_dir, df)
    theirs = rothman_data_cells(hf, minilm_dir, df)
    assert ours[1] == theirs[1] and ours[1][0][0] == "[CLS]" and ours[1][0][-1] == "[SEP]"
    assert np.array_equal(ours[2], theirs[2]) and ours[3] == theirs[3]
    # the ids equal those the tokenizer itself gives, padded to 128
    want = theirs[0](list(df.sentence.values), padding="max_length", max_length=128,
                     return_tensors="pt")
    assert np.array_equal(ours[2], want["input_ids"].numpy())
    assert np.array_equal(np.array(ours[3]), want["attention_mask"].numpy())

    runs = {}
    for name, lib, (_, _, input_ids, masks, labels) in (("ours", OURS, ours),
                                                                ("transformers", hf, theirs)):
        torch.manual_seed(0)
        runs[name] = rothman_training_cells(lib, minilm_dir, input_ids, masks, labels)
    (model, losses, accuracy), (hf_model, hf_losses, hf_accuracy) = runs.values()
    assert len(losses) == 1 and losses == pytest.approx(hf_losses, abs=1e-5)
    assert accuracy == hf_accuracy

    holdout = read_cola(cola / "out_of_domain_dev.tsv", 4)
    _, _, inputs, masks, labels = rothman_data_cells(OURS, minilm_dir, holdout)
    predictions, matthews_set, mcc = rothman_holdout_cells(model, inputs, masks, labels)
    hf_predictions, hf_set, hf_mcc = rothman_holdout_cells(hf_model, inputs, masks, labels)
    assert np.allclose(predictions[0], hf_predictions[0], atol=1e-5)
    assert (matthews_set, mcc) == (hf_set, hf_mcc)

    label, logits = rothman_predict(holdout.sentence.values[0], model, ours[0])
    assert torch.allclose(logits, torch.tensor(predictions[0][:1]), atol=1e-5)
    assert label == int(np.argmax(predictions[0][0]))


# ---- the README's loop ----------------------------------------------------------------------

README_MARK = "<!-- tests/test_books.py runs this block as it stands, on two CoLA sentences -->"


def readme_block() -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert README_MARK in text, "README.md: the marked fine-tuning block is missing"
    block = text.split(README_MARK, 1)[1].lstrip("\n")
    assert block.startswith("```python\n"), "README.md: the mark must sit right above the block"
    return block.removeprefix("```python\n").split("\n```", 1)[0]


def test_readme_fine_tuning_block_runs(cola, tmp_path, transformers, capsys):
    lines = (cola / "in_domain_train.tsv").read_text(encoding="utf-8").splitlines(True)[:2]
    (tmp_path / "in_domain_train.tsv").write_text("".join(lines), encoding="utf-8")
    namespace = {"__name__": "readme"}
    with inside(tmp_path):
        exec(compile(readme_block(), "README.md", "exec"), namespace)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(printed) == 4 and all("average training loss" in line for line in printed)
    model, batch = namespace["model"].eval(), namespace["encoded"]
    assert batch["input_ids"].shape == (2, 64)
    theirs = transformers.BertForSequenceClassification.from_pretrained(
        str(tmp_path / "model_save")).eval()
    their_tok = transformers.BertTokenizer.from_pretrained(str(tmp_path / "model_save"))
    texts = namespace["sentences"]
    assert their_tok(texts, padding=True)["input_ids"] == \
        namespace["tokenizer"](texts, padding=True)["input_ids"]
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, theirs(**batch).logits, atol=1e-5)
