"""The checkpoint layer: reading weights, matching names, the load report, saving.

Layers: loading checkpoints laid out as the real bert-base-uncased file (prefix, gamma/beta, no
decoder weight); the load report; parity on the real all-MiniLM-L6-v2 weights; round trips
into transformers; bad files giving one-line errors that name the file and key; parameter
counts. Name resolution is tested in test_checkpoint_hub.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from minibert import (
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
    BertModel,
    ConfigError,
    RobertaForMaskedLM,
    RobertaModel,
)
from minibert.checkpoint import CheckpointError, load_into, read_state_dict
from train.cli import main as cli_main
from train.cli.cmd_params import build, load_config

TINY = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 37, "max_position_embeddings": 40}


def _batch(vocab: int = 99, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    ids[1, 6:] = 0
    types_ = torch.zeros_like(ids)
    types_[:, 5:] = 1
    return ids, mask, types_


@pytest.fixture(scope="module")
def hf_pretraining_dir(tmp_path_factory, transformers):
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(transformers.BertConfig(**TINY)).eval()
    d = tmp_path_factory.mktemp("hf_pretraining")
    model.save_pretrained(d)
    return d, model


# ---- loading real layouts ------------------------------------------------------------------


def _as_bert_base_uncased_layout(src: Path, dst: Path) -> None:
    """Rewrite a transformers checkpoint the way the real bert-base-uncased file is laid out
    (../shared/data/CHECKPOINT_KEYS.md): LayerNorm.gamma/beta, no decoder weight or bias,
    a position_ids buffer, as pytorch_model.bin."""
    state = load_file(str(src / "model.safetensors"))
    out = {}
    for k, v in state.items():
        if k.startswith("cls.predictions.decoder."):
            continue
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                       "LayerNorm.beta")
        out[k] = v
    out["bert.embeddings.position_ids"] = torch.arange(TINY["max_position_embeddings"])[None]
    dst.mkdir()
    torch.save(out, dst / "pytorch_model.bin")
    (dst / "config.json").write_text((src / "config.json").read_text())


@pytest.mark.parity
def test_bert_base_uncased_layout_loads_to_same_outputs(hf_pretraining_dir, tmp_path):
    src, hf_model = hf_pretraining_dir
    _as_bert_base_uncased_layout(src, tmp_path / "legacy")
    ours = BertForPreTraining.from_pretrained(tmp_path / "legacy", verbose=False)
    report = ours.load_report
    assert report.renamed and all(old.endswith(("gamma", "beta")) for old, _ in report.renamed)
    assert report.newly_initialized == [] and report.unused == []
    ids, mask, types_ = _batch()
    with torch.no_grad():
        a = ours(ids, attention_mask=mask, token_type_ids=types_)
        b = hf_model(input_ids=ids, attention_mask=mask, token_type_ids=types_)
    torch.testing.assert_close(a.prediction_logits, b.prediction_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.seq_relationship_logits, b.seq_relationship_logits,
                               atol=1e-5, rtol=0)


def test_base_model_reports_unused_heads(hf_pretraining_dir):
    src, _ = hf_pretraining_dir
    model = BertModel.from_pretrained(src, verbose=False)
    assert model.load_report.unused and all(k.startswith("cls.") for k in model.load_report.unused)
    assert "Unused" in str(model.load_report)


def test_fewer_layers_leave_the_upper_ones_unused(hf_pretraining_dir, transformers):
    """num_hidden_layers below the checkpoint's: the lower layers load, the upper ones are
    reported unused, and the outputs match transformers loading the file the same way."""
    src, _ = hf_pretraining_dir
    keep = TINY["num_hidden_layers"] - 1
    ours = BertModel.from_pretrained(src, verbose=False, num_hidden_layers=keep)
    upper = f"encoder.layer.{keep}."
    assert any(upper in k for k in ours.load_report.unused), ours.load_report.unused
    assert "layers above its num_hidden_layers" in str(ours.load_report)
    theirs = transformers.BertModel.from_pretrained(src, num_hidden_layers=keep).eval()
    ids = torch.tensor([[2, 7, 11, 5, 3]])
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).last_hidden_state, theirs(ids).last_hidden_state,
                                   atol=1e-5, rtol=0)


def test_new_head_reported_newly_initialised(hf_pretraining_dir):
    src, _ = hf_pretraining_dir
    model = BertForSequenceClassification.from_pretrained(src, num_labels=3, verbose=False)
    assert sorted(model.load_report.newly_initialized) == ["classifier.bias", "classifier.weight"]
    assert "needs training" in str(model.load_report)


def test_base_checkpoint_gets_prefix_and_new_head(tmp_path, transformers):
    torch.manual_seed(0)
    hf = transformers.BertModel(transformers.BertConfig(**TINY)).eval()
    hf.save_pretrained(tmp_path)
    assert "embeddings.word_embeddings.weight" in load_file(str(tmp_path / "model.safetensors"))
    ours = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=2, verbose=False)
    report = ours.load_report
    assert sorted(report.newly_initialized) == ["classifier.bias", "classifier.weight"]
    assert "bert.encoder.layer.1.output.dense.weight" in report.loaded and report.unused == []
    ids, mask, types_ = _batch()
    with torch.no_grad():
        a = ours.bert(ids, attention_mask=mask, token_type_ids=types_)
        b = hf(input_ids=ids, attention_mask=mask, token_type_ids=types_)
    torch.testing.assert_close(a.last_hidden_state, b.last_hidden_state, atol=1e-5, rtol=0)


def test_roberta_model_from_mlm_checkpoint(tmp_path, transformers):
    cfg = transformers.RobertaConfig(**TINY, type_vocab_size=1, pad_token_id=1)
    transformers.RobertaForMaskedLM(cfg).save_pretrained(tmp_path)
    report = RobertaModel.from_pretrained(tmp_path, verbose=False).load_report
    assert report.unused and all(k.startswith("lm_head.") for k in report.unused)
    assert sorted(report.newly_initialized) == ["pooler.dense.bias", "pooler.dense.weight"]


@pytest.mark.parametrize("cls, extra, decoder, embeddings", [
    (BertForPreTraining, {}, "cls.predictions.decoder.weight",
     "bert.embeddings.word_embeddings.weight"),
    (RobertaForMaskedLM, {"model_type": "roberta", "type_vocab_size": 1, "pad_token_id": 1},
     "lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight"),
])
def test_tied_decoder_copy_never_overwrites_embeddings(cls, extra, decoder, embeddings):
    model = cls(BertConfig(**TINY, **extra))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state[decoder] = torch.zeros_like(state[decoder])
    fresh = cls(model.config)
    load_into(fresh, state, "mem")
    emb = fresh.get_input_embeddings().weight
    torch.testing.assert_close(emb, state[embeddings], atol=0, rtol=0)
    assert fresh.get_output_embeddings().weight.data_ptr() == emb.data_ptr()


@pytest.mark.parametrize("wrapper", ["module.", "_orig_mod.", "module._orig_mod.",
                                     "_orig_mod.module."])
def test_state_dict_of_a_wrapped_model_loads(wrapper):
    """DistributedDataParallel saves every key under `module.`, torch.compile under
    `_orig_mod.`; the report says the prefix was dropped."""
    model = BertForPreTraining(BertConfig(**TINY))
    state = {wrapper + k: v.clone() + 1 for k, v in model.state_dict().items()}
    fresh = BertForPreTraining(model.config)
    report = load_into(fresh, state, "ddp.pt")
    assert report.wrapper_prefix == wrapper and not report.unused and not report.newly_initialized
    assert not report.renamed and "old-style" not in str(report)  # no gamma/beta here
    assert wrapper in str(report)
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(v, state[wrapper + k], atol=0, rtol=0)
    # A prefix on only some keys is no wrapper: those keys are reported unused.
    partial = dict(model.state_dict())
    partial["module.extra"] = torch.zeros(1)
    report = load_into(BertForPreTraining(model.config), partial, "mixed.pt")
    assert report.wrapper_prefix == "" and report.unused == ["module.extra"]


def test_sharded_safetensors_index(hf_pretraining_dir, tmp_path):
    src, _ = hf_pretraining_dir
    state = load_file(str(src / "model.safetensors"))
    names = sorted(state)
    halves = {"model-00001-of-00002.safetensors": names[::2],
              "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for shard, keys in halves.items():
        save_file({k: state[k] for k in keys}, str(tmp_path / shard))
        weight_map.update(dict.fromkeys(keys, shard))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    loaded, source = read_state_dict(tmp_path)
    assert source.name == "model.safetensors.index.json" and sorted(loaded) == names
    assert all(torch.equal(loaded[k], state[k]) for k in names)


def test_head_size_mismatch_errors_unless_asked(hf_pretraining_dir, tmp_path):
    src, _ = hf_pretraining_dir
    two = BertForSequenceClassification.from_pretrained(src, num_labels=2, verbose=False)
    two.save_pretrained(tmp_path / "two")
    with pytest.raises(
        CheckpointError, match=r"classifier\.weight' has shape \(2, 32\).*\(5, 32\)"
    ):
        BertForSequenceClassification.from_pretrained(tmp_path / "two", num_labels=5,
                                                      verbose=False)
    five = BertForSequenceClassification.from_pretrained(
        tmp_path / "two", num_labels=5, ignore_mismatched_sizes=True, verbose=False)
    assert sorted(five.load_report.mismatched) == [("classifier.bias", (2,), (5,)),
                                                   ("classifier.weight", (2, 32), (5, 32))]
    assert five.load_report.newly_initialized == []
    assert "shape differs" in str(five.load_report)
    assert five.classifier.weight.shape == (5, 32)


@pytest.mark.parity
def test_real_minilm_matches_transformers_on_cola(minilm_dir, data, transformers):
    with open(data / "cola" / "in_domain_dev.tsv", encoding="utf-8", newline="") as f:
        sentences = [row[3] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][:48]
    tok = transformers.BertTokenizer.from_pretrained(str(minilm_dir))
    enc = tok(sentences, padding=True, return_tensors="pt")
    ours = BertModel.from_pretrained(minilm_dir, verbose=False)
    ref = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    with torch.no_grad():
        a = ours(enc["input_ids"], attention_mask=enc["attention_mask"],
                 token_type_ids=enc["token_type_ids"])
        b = ref(**enc)
    real = enc["attention_mask"].bool()
    torch.testing.assert_close(a.last_hidden_state[real], b.last_hidden_state[real],
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(a.pooler_output, b.pooler_output, atol=1e-5, rtol=0)


@pytest.mark.parity
@pytest.mark.parametrize("ours_cls, hf_name, kwargs", [
    (BertForPreTraining, "BertForPreTraining", {}),
    (BertForSequenceClassification, "BertForSequenceClassification", {"num_labels": 3}),
    (RobertaForMaskedLM, "RobertaForMaskedLM",
     {"model_type": "roberta", "type_vocab_size": 1, "pad_token_id": 1}),
])
def test_round_trip_into_transformers(ours_cls, hf_name, kwargs, tmp_path, transformers):
    torch.manual_seed(1)
    ours = ours_cls(BertConfig(**TINY, **kwargs)).eval()
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == kwargs.get("model_type", "bert")
    ref = getattr(transformers, hf_name).from_pretrained(str(tmp_path)).eval()
    ids, mask, types_ = _batch()
    if kwargs.get("model_type") == "roberta":
        ids[1, 6:] = 1
        types_ = torch.zeros_like(ids)
    with torch.no_grad():
        a = ours(ids, attention_mask=mask, token_type_ids=types_)
        b = ref(input_ids=ids, attention_mask=mask, token_type_ids=types_)
    key = "prediction_logits" if hf_name == "BertForPreTraining" else "logits"
    torch.testing.assert_close(getattr(a, key), getattr(b, key), atol=1e-5, rtol=0)
    # and back: what transformers saves loads into ours the same way
    ref.save_pretrained(tmp_path / "back")
    again = ours_cls.from_pretrained(tmp_path / "back", verbose=False)
    with torch.no_grad():
        c = again(ids, attention_mask=mask, token_type_ids=types_)
    torch.testing.assert_close(getattr(c, key), getattr(a, key), atol=1e-6, rtol=0)


def test_saved_file_has_no_duplicate_tied_tensor(tmp_path):
    BertForPreTraining(BertConfig(**TINY)).save_pretrained(tmp_path)
    keys = set(load_file(str(tmp_path / "model.safetensors")))
    assert "bert.embeddings.word_embeddings.weight" in keys
    assert "cls.predictions.decoder.weight" not in keys
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---- bad input -----------------------------------------------------------------------------


def _assert_one_line(err, path: Path) -> None:
    """The message is one line naming the file, and no deep exception is chained on."""
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    e = err.value
    assert e.__cause__ is None and (e.__suppress_context__ or e.__context__ is None)


def test_truncated_safetensors_names_file(hf_pretraining_dir, tmp_path):
    src, _ = hf_pretraining_dir
    data = (src / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 3])
    (tmp_path / "config.json").write_text((src / "config.json").read_text())
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: not a valid safetensors"
    ) as err:
        BertModel.from_pretrained(tmp_path, verbose=False)
    _assert_one_line(err, tmp_path / "model.safetensors")


def test_missing_encoder_weight_names_key(hf_pretraining_dir, tmp_path):
    src, _ = hf_pretraining_dir
    state = load_file(str(src / "model.safetensors"))
    del state["bert.encoder.layer.1.attention.self.key.weight"]
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text((src / "config.json").read_text())
    with pytest.raises(
        CheckpointError, match=r"encoder\.layer\.1\.attention\.self\.key\.weight"
    ) as err:
        BertForPreTraining.from_pretrained(tmp_path, verbose=False)
    _assert_one_line(err, tmp_path / "model.safetensors")


def test_checkpoint_of_another_architecture_says_so(tmp_path, transformers):
    cfg = transformers.RobertaConfig(**TINY, type_vocab_size=1, pad_token_id=1)
    transformers.RobertaForMaskedLM(cfg).save_pretrained(tmp_path)
    state, source = read_state_dict(tmp_path)
    with pytest.raises(CheckpointError, match=r"none of its \d+ keys fit this BertModel.*"
                                              r"'roberta\.embeddings\..*another model type"):
        load_into(BertModel(BertConfig(**TINY)), state, source)


def test_encoder_shape_mismatch_names_both_shapes(hf_pretraining_dir, tmp_path):
    src, _ = hf_pretraining_dir
    state = load_file(str(src / "model.safetensors"))
    state["bert.encoder.layer.0.intermediate.dense.weight"] = torch.zeros(36, 32)
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text((src / "config.json").read_text())
    with pytest.raises(CheckpointError,
                       match=r"intermediate\.dense\.weight.*\(36, 32\).*\(37, 32\)") as err:
        BertModel.from_pretrained(tmp_path, ignore_mismatched_sizes=True, verbose=False)
    _assert_one_line(err, tmp_path / "model.safetensors")


def test_config_wrong_type_names_file_and_key(hf_pretraining_dir, tmp_path):
    src, _ = hf_pretraining_dir
    cfg = json.loads((src / "config.json").read_text())
    cfg["num_attention_heads"] = "four"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"config\.json.*num_attention_heads") as err:
        BertModel.from_pretrained(tmp_path, verbose=False)
    _assert_one_line(err, tmp_path / "config.json")


def test_no_weights_file_lists_what_was_looked_for(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors.*pytorch_model.bin"):
        read_state_dict(tmp_path)


def test_truncated_or_odd_bin_names_file(hf_pretraining_dir, tmp_path):
    src, _ = hf_pretraining_dir
    torch.save(load_file(str(src / "model.safetensors")), tmp_path / "pytorch_model.bin")
    data = (tmp_path / "pytorch_model.bin").read_bytes()
    (tmp_path / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin: cannot be read"):
        read_state_dict(tmp_path)
    torch.save({"model": {"w": torch.zeros(2)}, "step": 3}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin: key 'model' holds a dict"):
        read_state_dict(tmp_path)


def test_loading_keeps_the_model_dtype(hf_pretraining_dir):
    src, _ = hf_pretraining_dir
    state, source = read_state_dict(src)
    model = BertForPreTraining(BertConfig(**TINY)).to(torch.bfloat16)
    load_into(model, state, source)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    torch.testing.assert_close(model.bert.encoder.layer[0].output.dense.weight,
                               state["bert.encoder.layer.0.output.dense.weight"].bfloat16())



@pytest.mark.parametrize("keyword", [{"num_lables": 3}, {"attn_implementation": "eager"}])
def test_from_pretrained_refuses_a_keyword_that_names_no_config_field(hf_pretraining_dir,
                                                                      keyword):
    src, _ = hf_pretraining_dir
    with pytest.raises(TypeError, match=f"unknown keyword.*{next(iter(keyword))}"):
        BertForSequenceClassification.from_pretrained(src, verbose=False, **keyword)


def test_from_pretrained_keyword_of_a_config_json_key_is_kept(tmp_path):
    BertModel(BertConfig(**TINY)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "finetuning_task": "cola"}))
    model = BertModel.from_pretrained(tmp_path, verbose=False, finetuning_task="sst2")
    assert model.config.extra["finetuning_task"] == "sst2"


@pytest.mark.parametrize("keyword, value, expected", [
    ("dtype", torch.bfloat16, torch.bfloat16), ("torch_dtype", "float16", torch.float16),
    ("dtype", "auto", torch.float32), ("dtype", None, torch.float32)])
def test_from_pretrained_dtype(hf_pretraining_dir, keyword, value, expected):
    src, theirs = hf_pretraining_dir
    model = BertForPreTraining.from_pretrained(src, verbose=False, **{keyword: value})
    assert {p.dtype for p in model.parameters()} == {expected}
    torch.testing.assert_close(model.bert.pooler.dense.weight,
                               theirs.bert.pooler.dense.weight.to(expected))


def test_from_pretrained_dtype_auto_keeps_what_the_file_stores(tmp_path):
    BertModel(BertConfig(**TINY)).to(torch.bfloat16).save_pretrained(tmp_path)
    assert BertModel.from_pretrained(tmp_path, verbose=False).dtype == torch.float32
    assert BertModel.from_pretrained(tmp_path, verbose=False, dtype="auto").dtype == \
        torch.bfloat16


@pytest.mark.parametrize("dtype", ["int8", torch.int8, "bogus"])
def test_from_pretrained_refuses_a_dtype_that_is_no_float(hf_pretraining_dir, dtype):
    with pytest.raises(ValueError, match=f"dtype={dtype!r} is not a floating torch dtype"):
        BertModel.from_pretrained(hf_pretraining_dir[0], verbose=False, dtype=dtype)

def test_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"x": Evil()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="weights-only"):
        read_state_dict(tmp_path)


# ---- counting parameters --------------------------------------------------------------------


@pytest.mark.parametrize("name, head, total, tensors", [
    ("kantaibert", "mlm", 83_504_416, 106),
    ("bert-base-uncased", "base", 109_482_240, 199),
    ("bert-base-uncased", "pretraining", 110_106_428, 206),
])
def test_parameter_counts(name, head, total, tensors):
    model = build(load_config(name), head)
    assert model.num_parameters() == total
    assert len(list(model.parameters())) == tensors


def test_params_cli_prints_table_and_total(capsys):
    assert cli_main(["params", "kantaibert"]) == 0
    out = capsys.readouterr().out
    assert "roberta.embeddings.word_embeddings.weight" in out and "[52000, 768]" in out
    assert out.rstrip().endswith("106 tensors, 83,504,416 parameters")


def test_params_cli_head_and_bad_input(capsys):
    assert cli_main(["params", "kantaibert", "--head", "mlm"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("83,504,416 parameters")
    assert cli_main(["params", "./no/such/model"]) == 2
    assert cli_main(["params", "roberta-base", "--head", "nsp"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "./no/such/model: no such folder" in err[0]
    assert "--head 'nsp'" in err[1] and "mlm" in err[1]
