"""Parity with transformers: random HF models, saved by HF, loaded by minibert, same outputs.

Each case builds a small random Hugging Face model (hidden 32, 2 layers, 4 heads, ffn 37,
vocab 99), writes it with `save_pretrained`, loads the folder with minibert's
`from_pretrained`, and compares every output (all hidden states, attention probabilities,
logits and losses) on a right-padded batch with two segments, in eval mode, within 1e-5.
"""

from __future__ import annotations

import pytest
import torch

import minibert

pytestmark = pytest.mark.parity

SMALL = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 37, "max_position_embeddings": 40}
ATOL = 1e-5


def hf_config(transformers, roberta: bool, **extra):
    if roberta:
        return transformers.RobertaConfig(**SMALL, type_vocab_size=1, pad_token_id=1,
                                          bos_token_id=0, eos_token_id=2, **extra)
    return transformers.BertConfig(**SMALL, **extra)


def padded_batch(roberta: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """3 rows of lengths 11, 7, 4; a pair of segments in BERT rows; the rest is padding."""
    g = torch.Generator().manual_seed(seed)
    pad = 1 if roberta else 0
    B, T, lengths = 3, 11, [11, 7, 4]
    ids = torch.randint(3, SMALL["vocab_size"], (B, T), generator=g)
    mask = torch.zeros(B, T, dtype=torch.long)
    types = torch.zeros(B, T, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        ids[i, n:] = pad
        if not roberta:
            types[i, n // 2:n] = 1  # second segment
    batch = {"input_ids": ids, "attention_mask": mask}
    if not roberta:
        batch["token_type_ids"] = types
    return batch


def labels_for(task: str, batch: dict, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    B, T = ids.shape
    if task in ("pretraining", "mlm"):
        chosen = (torch.rand(B, T, generator=g) < 0.3) & mask.bool()
        chosen[:, 1] = True
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        out = {"labels": labels}
        if task == "pretraining":
            out["next_sentence_label"] = torch.tensor([0, 1, 0])
        return out
    if task == "causal":
        return {"labels": ids.masked_fill(mask == 0, -100)}
    if task == "seq":
        return {"labels": torch.tensor([1, 0, 2])}
    if task == "regression":
        return {"labels": torch.tensor([0.5, -1.0, 2.0])}
    if task == "token":
        return {"labels": torch.randint(0, 3, (B, T), generator=g).masked_fill(mask == 0, -100)}
    if task == "qa":  # the last row's answer lies outside the sequence: clamped and ignored
        return {
            "start_positions": torch.tensor([2, 0, 30]),
            "end_positions": torch.tensor([5, 3, 30]),
        }
    raise AssertionError(task)


CASES = [
    # (HF / minibert class, roberta?, task, extra config)
    ("BertForPreTraining", False, "pretraining", {}),
    ("BertForMaskedLM", False, "mlm", {}),
    ("BertForSequenceClassification", False, "seq", {"num_labels": 3}),
    ("BertForSequenceClassification", False, "regression", {"num_labels": 1}),
    ("BertForTokenClassification", False, "token", {"num_labels": 3}),
    ("BertForQuestionAnswering", False, "qa", {}),
    ("RobertaForMaskedLM", True, "mlm", {}),
    ("RobertaForSequenceClassification", True, "seq", {"num_labels": 3}),
    ("RobertaForCausalLM", True, "causal", {"is_decoder": True}),
]
OUTPUT_FIELDS = ("loss", "logits", "prediction_logits", "seq_relationship_logits",
                 "start_logits", "end_logits")


def load_minibert(cls, directory):
    """Through from_pretrained (the checkpoint layer), as a user would."""
    model = cls.from_pretrained(directory, verbose=False)
    report = model.load_report
    assert not report.mismatched and not report.newly_initialized, str(report)
    return model


def assert_close(ours, theirs, what):
    assert ours is not None and theirs is not None, what
    assert ours.shape == theirs.shape, f"{what}: shape {tuple(ours.shape)} != {tuple(theirs.shape)}"
    err = (ours.float() - theirs.float()).abs().max().item()
    assert err <= ATOL, f"{what}: max abs difference {err:.3g} > {ATOL}"


@pytest.mark.parametrize("name,roberta,task,extra", CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_outputs_match_transformers(transformers, tmp_path, name, roberta, task, extra):
    torch.manual_seed(0)
    hf = getattr(transformers, name)(hf_config(transformers, roberta, **extra)).eval()
    hf.save_pretrained(tmp_path)
    ours = load_minibert(getattr(minibert, name), tmp_path)
    assert not ours.training, "from_pretrained must return the model in eval mode"
    batch = padded_batch(roberta)
    batch.update(labels_for(task, batch))
    with torch.no_grad():
        theirs_out = hf(**batch, output_hidden_states=True)
        ours_out = ours(**batch, output_hidden_states=True)
    compared = 0
    for field in OUTPUT_FIELDS:
        if hasattr(ours_out, field) and getattr(ours_out, field) is not None:
            assert_close(getattr(ours_out, field), getattr(theirs_out, field), f"{name}.{field}")
            compared += 1
    assert ours_out.loss is not None and compared >= 2
    assert len(ours_out.hidden_states) == len(theirs_out.hidden_states) == 3
    for i, (a, b) in enumerate(zip(ours_out.hidden_states, theirs_out.hidden_states)):
        assert_close(a, b, f"{name}.hidden_states[{i}]")


@pytest.mark.parametrize("roberta", [False, True], ids=["bert", "roberta"])
def test_base_model_and_attention_probabilities_match(transformers, tmp_path, roberta):
    """The reference attention path (asked for probabilities) against HF's eager attention."""
    torch.manual_seed(0)
    name = "RobertaModel" if roberta else "BertModel"
    hf = getattr(transformers, name)(hf_config(transformers, roberta,
                                               attn_implementation="eager")).eval()
    hf.save_pretrained(tmp_path)
    ours = load_minibert(getattr(minibert, name), tmp_path)
    batch = padded_batch(roberta, seed=3)
    with torch.no_grad():
        a = ours(**batch, output_attentions=True, output_hidden_states=True)
        b = hf(**batch, output_attentions=True, output_hidden_states=True)
    assert_close(a.last_hidden_state, b.last_hidden_state, "last_hidden_state")
    assert_close(a.pooler_output, b.pooler_output, "pooler_output")
    assert len(a.attentions) == len(b.attentions) == 2
    for i, (x, y) in enumerate(zip(a.attentions, b.attentions)):
        assert_close(x, y, f"attentions[{i}]")
    # Probabilities: rows sum to one and padding keys get (numerically) nothing.
    probs = a.attentions[0]
    torch.testing.assert_close(probs.sum(-1), torch.ones_like(probs.sum(-1)))
    assert probs[2, :, :, 4:].max() < 1e-6


def test_minilm_real_checkpoint_matches_transformers(transformers, minilm_dir):
    """A real pretrained BertModel (all-MiniLM-L6-v2) on real sentences."""
    ours = load_minibert(minibert.BertModel, minilm_dir)
    hf = transformers.BertModel.from_pretrained(minilm_dir).eval()
    # Token ids from its vocab for "the cat sat on the mat ." and a shorter padded sentence.
    vocab = {w: i for i, w in enumerate((minilm_dir / "vocab.txt").read_text().split("\n"))}
    rows = [["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"],
            ["[CLS]", "hello", "world", "[SEP]"]]
    T = max(map(len, rows))
    ids = torch.tensor([[vocab[w] for w in r] + [0] * (T - len(r)) for r in rows])
    mask = (ids != 0).long()
    with torch.no_grad():
        a = ours(ids, attention_mask=mask).last_hidden_state
        b = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    # The same modules in the same order as transformers' (nn.Linear, SDPA, LayerNorm) give
    # the same bits, not merely close numbers.
    assert (a - b).abs().max().item() == 0.0, "MiniLM last_hidden_state differs from transformers"


@pytest.mark.parametrize("name,roberta", [("BertForPreTraining", False),
                                          ("RobertaForCausalLM", True)])
def test_round_trip_minibert_to_transformers(transformers, tmp_path, name, roberta):
    """minibert -> save_pretrained -> transformers' from_pretrained -> the same logits."""
    SMALL_OURS = dict(SMALL, model_type="roberta", type_vocab_size=1, pad_token_id=1,
                      bos_token_id=0, eos_token_id=2) if roberta else SMALL
    ours = getattr(minibert, name)(minibert.BertConfig(**SMALL_OURS))
    ours.init_weights(torch.Generator().manual_seed(3))
    ours.eval().save_pretrained(tmp_path)
    hf = getattr(transformers, name).from_pretrained(tmp_path).eval()
    batch = padded_batch(roberta, seed=5)
    with torch.no_grad():
        a, b = ours(**batch), hf(**batch)
    field = "logits" if roberta else "prediction_logits"
    assert_close(getattr(a, field), getattr(b, field), f"round trip {name}.{field}")
