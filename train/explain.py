"""What a model sees in one sentence, gathered for the attention explorer (`minibert explain`).

`explain(model, tokenizer, text, pair)` runs the model once with `output_attentions=True` and
returns plain lists (JSON-ready): the tokens, the attention probabilities of every layer and
head, and what the model's head says:

  * a masked LM (BertForMaskedLM, RobertaForMaskedLM, BertForPreTraining): for every position
    i, the top-k tokens it would put there if token i were replaced by the mask. That is one
    extra forward pass per position, run as one batch of T copies of the sentence (T = number
    of tokens), so it costs about T times the single pass;
  * a causal LM (RobertaForCausalLM): for every position, the top-k next tokens, read from the
    same single pass (no extra cost);
  * a sequence classifier: the label names and their probabilities;
  * a bare encoder (BertModel, e.g. all-MiniLM-L6-v2): attention only.

`load_for_explain(folder)` loads the class whose head the checkpoint's weights hold, and the
kind of page follows the model's task; both are read in `minibert/auto.py`. The page
itself is written by train/explain_page.py. Probabilities are rounded to 3 decimals, which
keeps a 6-layer, 12-head, 64-token page near 1.5 MB. Left out on purpose: attention of several
sentences at once, gradients or attributions (attention is what the lessons teach).
"""

from __future__ import annotations

from pathlib import Path

import torch

from minibert.auto import AutoModel, saved_task, task_of

# The page shown for a model's task (minibert/auto.py's short names); any other: "encoder".
KINDS = {"cls": "classifier", "causal": "causal-lm", "mlm": "masked-lm",
         "pretraining": "masked-lm"}


def load_for_explain(folder: str | Path):
    """The model saved in `folder`, as the class whose head its weights hold (classifier,
    masked LM, causal LM or bare encoder), in eval mode."""
    from minibert.hub import resolve_model_dir

    folder = resolve_model_dir(folder)
    return AutoModel.from_pretrained(folder, saved_task(folder), verbose=False)


def _top_tokens(logits: torch.Tensor, tokenizer, top_k: int) -> list[list[list]]:
    """(T, V) logits -> for each position, [[token text, probability], ...] best first."""
    logits = logits.float().clone()
    logits[:, tokenizer.vocab_size:] = float("-inf")  # rows the tokenizer has no token for
    probs, ids = logits.softmax(-1).topk(min(top_k, tokenizer.vocab_size), dim=-1)
    return [[[tokenizer.decode([i]), round(p, 4)] for p, i in zip(pr.tolist(), row.tolist())]
            for pr, row in zip(probs, ids)]


def _masked_predictions(model, tokenizer, ids: torch.Tensor, special: list[bool],
                        top_k: int) -> list[list[list] | None]:
    """For each position i, what the model puts at i when token i alone is masked."""
    T = ids.size(1)
    copies = ids.repeat(T, 1)  # (T, T): row i will have position i masked
    positions = torch.arange(T, device=ids.device)
    copies[positions, positions] = tokenizer.mask_token_id
    logits = model(copies).logits[positions, positions]  # (T, V): row i read at position i
    tops = _top_tokens(logits, tokenizer, top_k)
    return [None if s else top for s, top in zip(special, tops)]


@torch.no_grad()
def explain(model, tokenizer, text: str, pair: str | None = None, top_k: int = 5,
            max_length: int = 64) -> dict:
    """Tokens, attention of every layer and head, and the head's predictions, as plain data
    (computed on the model's device)."""
    if not text.strip():
        raise ValueError("explain needs a non-empty sentence")
    model.eval()
    device = next(model.parameters()).device
    enc = tokenizer.encode(text, pair, max_length=max_length, truncation=True)
    ids = torch.tensor([enc.ids], device=device)  # (1, T)
    kwargs = ({"token_type_ids": torch.tensor([enc.type_ids], device=device)}
              if pair is not None else {})
    out = model(ids, output_attentions=True, **kwargs)
    attentions = torch.stack(out.attentions)[:, 0]  # (layers, nh, T, T)
    special = [bool(s) for s in enc.special_tokens_mask]
    kind = KINDS.get(task_of(model), "encoder")
    data = {
        "kind": kind,
        "model": type(model).__name__,
        "text": text,
        "pair": pair,
        "tokens": list(enc.tokens),
        "special": special,
        "segments": list(enc.type_ids),
        "attentions": attentions.round(decimals=3).tolist(),
    }
    if kind == "masked-lm":
        data["predictions"] = _masked_predictions(model, tokenizer, ids, special, top_k)
        data["predictions_title"] = "if this token were masked"
    elif kind == "causal-lm":
        data["predictions"] = _top_tokens(out.logits[0], tokenizer, top_k)
        data["predictions_title"] = "next token after this one"
    elif kind == "classifier":
        probs = out.logits[0].float().softmax(-1).tolist()
        id2label = model.config.id2label or {}
        data["labels"] = [[str(id2label.get(i, i)), round(p, 4)] for i, p in enumerate(probs)]
    return data
