"""One home for each idea: the model-type registry, the causal shift, the ignore index, the
mean-pooling classifier option, layer-wise learning-rate decay and BertConfig.from_dict."""

from __future__ import annotations

import pytest
import torch

import minibert
from minibert import BertConfig, ConfigError
from minibert.auto import (
    AutoModel,
    AutoTokenizer,
    load_backend_tokenizer,
    model_class,
    saved_task,
    task_of,
    tokenizer_class,
)
from minibert.modeling_bert import IGNORE_INDEX
from minibert.modeling_roberta import shift_labels
from train import objectives
from train.optim import build_optimizer, parameter_groups

TINY = dict(vocab_size=99, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
            intermediate_size=24, max_position_embeddings=40)


def test_registry_names_every_class_once():
    assert model_class("bert", "cls") is minibert.BertForSequenceClassification
    assert model_class("roberta", "cls") is minibert.RobertaForSequenceClassification
    assert model_class("roberta", "causal") is minibert.RobertaForCausalLM
    assert tokenizer_class("roberta").__name__ == "ByteLevelBPETokenizer"
    assert tokenizer_class("bert").__name__ == "WordPieceTokenizer"
    assert objectives.trained_class("bert") is minibert.BertForPreTraining
    assert objectives.trained_class("roberta") is minibert.RobertaForMaskedLM
    with pytest.raises(ValueError, match="task 'nsp' does not exist for model_type 'roberta'"):
        model_class("roberta", "nsp")
    with pytest.raises(ValueError, match="model_type 'gpt2'"):
        model_class("gpt2", "cls")


def test_auto_classes_follow_config_model_type(tmp_path, data):
    from tokenizer import WordPieceTokenizer

    torch.manual_seed(0)
    model = minibert.RobertaForMaskedLM(BertConfig(model_type="roberta", pad_token_id=1, **TINY))
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path, "cls", verbose=False)
    assert type(loaded) is minibert.RobertaForSequenceClassification
    assert torch.equal(loaded.roberta.embeddings.word_embeddings.weight,
                       model.roberta.embeddings.word_embeddings.weight)
    bert_dir = tmp_path / "bert"
    minibert.BertModel(BertConfig(**TINY)).save_pretrained(bert_dir)
    WordPieceTokenizer.from_file(data / "bert_vocab" / "bert-base-uncased-vocab.txt").save(bert_dir)
    tok = AutoTokenizer.from_pretrained(bert_dir)
    assert type(tok) is minibert.BertTokenizer
    assert isinstance(tok.backend_tokenizer, WordPieceTokenizer)


@pytest.mark.parametrize("cls, config, task", [
    (minibert.BertForSequenceClassification, {}, "cls"),
    (minibert.RobertaForSequenceClassification, {"model_type": "roberta"}, "cls"),
    (minibert.BertForPreTraining, {}, "mlm"),  # BERT's pretraining checkpoints: the masked LM
    (minibert.BertForMaskedLM, {"is_decoder": True}, "mlm"),  # BERT has no causal LM class
    (minibert.RobertaForMaskedLM, {"model_type": "roberta"}, "mlm"),
    (minibert.RobertaForCausalLM, {"model_type": "roberta", "is_decoder": True}, "causal"),
    (minibert.BertModel, {}, "base"),
    (minibert.RobertaModel, {"model_type": "roberta"}, "base"),
])
def test_saved_task_reads_the_head_the_weights_hold(tmp_path, cls, config, task):
    extra = {"pad_token_id": 1} if config.get("model_type") == "roberta" else {}
    cls(BertConfig(**TINY, **config, **extra)).save_pretrained(tmp_path)
    assert saved_task(tmp_path) == task
    loaded = AutoModel.from_pretrained(tmp_path, task, verbose=False)
    assert task_of(loaded) == task


def test_task_of_is_model_class_reversed():
    for model_type in ("bert", "roberta"):
        for task in ("base", "mlm", "cls"):
            cls = model_class(model_type, task)
            config = BertConfig(model_type=model_type, pad_token_id=1, **TINY)
            assert task_of(cls(config)) == task
    with pytest.raises(ValueError, match="Linear is not one of minibert's model classes"):
        task_of(torch.nn.Linear(2, 2))


def test_a_folder_tokenizer_is_told_by_its_files_first(tmp_path, data):
    """A RoBERTa pretrained on a WordPiece vocabulary (`minibert pretrain --objective roberta
    --tokenizer WP_DIR`) keeps that vocabulary: its folder's files, not model_type, decide."""
    from tokenizer import WordPieceTokenizer

    folder = tmp_path / "roberta_on_wordpiece"
    minibert.RobertaModel(BertConfig(model_type="roberta", pad_token_id=1, **TINY)
                          ).save_pretrained(folder)
    WordPieceTokenizer.from_file(data / "bert_vocab" / "bert-base-uncased-vocab.txt").save(folder)
    assert type(load_backend_tokenizer(folder)) is WordPieceTokenizer
    assert type(AutoTokenizer.from_pretrained(folder)) is minibert.BertTokenizer
    (folder / "vocab.txt").unlink()
    with pytest.raises(FileNotFoundError, match="vocab.json"):  # config.json: BPE, not there
        load_backend_tokenizer(folder)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="no tokenizer here"):
        load_backend_tokenizer(folder)


def test_one_causal_shift():
    labels = torch.tensor([[5, 6, 7, IGNORE_INDEX]])
    assert shift_labels(labels).tolist() == [[6, 7, IGNORE_INDEX, IGNORE_INDEX]]
    torch.manual_seed(0)
    model = minibert.RobertaForCausalLM(BertConfig(model_type="roberta", pad_token_id=1, **TINY))
    ids = torch.randint(3, 99, (2, 7))
    out = model(ids, labels=ids)
    # the loop's sum / count equals the model's own mean: both shift through shift_labels
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    total = objectives.loss_sums("causal", out, batch)["lm"]
    count = objectives.target_counts("causal", batch)["lm"]
    assert count == 2 * 6
    assert torch.allclose(total / count, out.loss)
    by_hand = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 99),
                                                ids[:, 1:].reshape(-1))
    assert torch.allclose(out.loss, by_hand)


def test_mean_pooling_classifier_saves_and_reloads(tmp_path):
    torch.manual_seed(0)
    config = BertConfig(classifier_pooling="mean", **TINY)
    model = minibert.BertForSequenceClassification(config).eval()
    ids = torch.randint(1, 99, (2, 6))
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3])
    with torch.no_grad():
        hidden = model.bert(ids, mask).last_hidden_state
        expected = model.classifier(torch.stack([hidden[0].mean(0), hidden[1, :3].mean(0)]))
        assert torch.allclose(model(ids, mask).logits, expected, atol=1e-6)
    model.save_pretrained(tmp_path)
    again = minibert.BertForSequenceClassification.from_pretrained(tmp_path, verbose=False)
    assert again.config.classifier_pooling == "mean"
    with torch.no_grad():
        assert torch.equal(again(ids, mask).logits, model(ids, mask).logits)
    # the default writes nothing new into config.json
    assert "classifier_pooling" not in BertConfig().to_dict()
    with pytest.raises(ConfigError, match="classifier_pooling"):
        BertConfig(classifier_pooling="max")
    with pytest.raises(ConfigError, match="'bert' only"):
        BertConfig(classifier_pooling="mean", model_type="roberta")


def test_layer_decay_scales_lr_by_depth():
    model = minibert.BertForSequenceClassification(BertConfig(**TINY))
    groups = parameter_groups(model, 0.01, layer_decay=0.5)
    scale = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert scale[id(model.classifier.weight)] == 1.0
    assert scale[id(model.bert.pooler.dense.weight)] == 1.0
    assert scale[id(model.bert.encoder.layer[2].output.dense.weight)] == 0.5
    assert scale[id(model.bert.encoder.layer[0].output.dense.weight)] == 0.125
    assert scale[id(model.bert.embeddings.word_embeddings.weight)] == 0.0625
    assert len(scale) == len(list(model.parameters()))
    opt = build_optimizer(model, lr=1e-3, layer_decay=0.5)
    lrs = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert lrs[id(model.bert.embeddings.word_embeddings.weight)] == pytest.approx(1e-3 / 16)
    assert len(parameter_groups(model, 0.01)) == 2, "no decay: the two groups as before"


def test_from_dict_builds_through_init():
    d = {**TINY, "id2label": {"0": "no", "1": "yes"}, "architectures": ["X"], "foo": 3}
    c = BertConfig.from_dict(d, source="x/config.json")
    assert c.num_labels == 2 and c.id2label == {0: "no", 1: "yes"} and c.extra == {"foo": 3}
    fresh = BertConfig.from_dict(d, num_labels=3)
    assert fresh.num_labels == 3 and fresh.id2label is None, "a new head drops old names"
    with pytest.raises(ConfigError, match="x/config.json: key 'hidden_size' must be int"):
        BertConfig.from_dict({"hidden_size": "big"}, source="x/config.json")
