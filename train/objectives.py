"""The three pretraining objectives: which model each trains, what it is fed, and its loss.

    bert     BertForPreTraining   masked LM + next-sentence prediction (Devlin et al. 2018)
    roberta  RobertaForMaskedLM   masked LM only, a fresh mask every batch (Liu et al. 2019)
    causal   RobertaForCausalLM   next-token prediction, no masking (the chapter's
                                  customer-support generator)

The loop does not use the model's own `loss`. It asks for logits and computes each part as a
SUM of per-token (or per-pair) cross-entropies, and divides by the number of targets in the
whole optimizer step: all micro-batches of a gradient-accumulation step and all ranks of a
DDP run. A mean of per-micro-batch means would weight a micro-batch with 3 masked tokens like
one with 30; the sum / global count makes 4 micro-batches x 2 processes compute exactly the
loss one process computes on the whole batch. With one batch it equals the model's `loss`.

Left out on purpose: sentence-order prediction (ALBERT), span masking (SpanBERT), ELECTRA.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minibert.auto import model_class
from minibert.modeling_bert import IGNORE_INDEX
from minibert.modeling_roberta import shift_labels

# objective -> (model_type, task) in minibert's registry (`minibert/auto.py`)
OBJECTIVES = {
    "bert": ("bert", "pretraining"),     # BertForPreTraining
    "roberta": ("roberta", "mlm"),       # RobertaForMaskedLM
    "causal": ("roberta", "causal"),     # RobertaForCausalLM
}


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {sorted(OBJECTIVES)}")


def check_collator(objective: str, collate, model: torch.nn.Module) -> None:
    """Refuse a collator that makes the other kind of targets (it says which with `mlm`, as
    transformers' DataCollatorForLanguageModeling does): unmasked labels under a masked-LM
    objective teach the model to copy its input, masked inputs under the causal one hide the
    tokens it should predict from. Collate functions without `mlm` are taken as they are."""
    mlm = getattr(collate, "mlm", None)
    if mlm is None or mlm == (objective != "causal"):
        return
    name, trains = type(collate).__name__, f"objective {objective!r} ({type(model).__name__})"
    if objective == "causal":
        raise ValueError(f"{trains} predicts every next token, but {name} masks "
                         f"tokens (mlm=True); use CausalLMCollator or "
                         f"DataCollatorForLanguageModeling(tokenizer, mlm=False)")
    raise ValueError(f"{trains} trains a masked LM, but {name} does not mask "
                     f"(mlm=False: its labels are the inputs, which the model would learn to "
                     f"copy); use MLMCollator or DataCollatorForLanguageModeling(tokenizer, "
                     f"mlm=True)")


def trained_class(objective: str) -> type:
    """The minibert class an objective trains."""
    check_objective(objective)
    return model_class(*OBJECTIVES[objective])


def forward_inputs(objective: str, batch: dict[str, torch.Tensor],
                   sparse_prediction: bool = False) -> dict:
    """The keyword arguments of the model's forward. The loop computes the loss itself; labels
    go in only with sparse_prediction (masked LM), to say where the output layer runs."""
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if objective == "bert" and "token_type_ids" in batch:
        inputs["token_type_ids"] = batch["token_type_ids"]
    if sparse_prediction and objective != "causal":  # causal LM scores every position
        inputs |= {"labels": batch["labels"], "sparse_prediction": True}
    return inputs


def _targets(objective: str, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per part, the label tensor the logits are scored against (-100 = not a target)."""
    if "labels" not in batch:
        raise KeyError(f"objective {objective!r}: the batch has no 'labels' "
                       f"(keys: {sorted(batch)}); use a collator that makes them")
    if objective == "causal":
        return {"lm": shift_labels(batch["labels"])}  # token t predicts token t+1
    parts = {"mlm": batch["labels"]}
    if objective == "bert":
        if "next_sentence_label" not in batch:
            raise KeyError("objective 'bert': the batch has no 'next_sentence_label'; "
                           "build the data with train.data.nsp")
        parts["nsp"] = batch["next_sentence_label"]
    return parts


def target_counts(objective: str, batch: dict[str, torch.Tensor]) -> dict[str, int]:
    """How many targets each loss part has in this batch (summed over the step later)."""
    return {k: int((v != IGNORE_INDEX).sum()) for k, v in _targets(objective, batch).items()}


def loss_sums(objective: str, outputs, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per part, the SUM of cross-entropies over this batch's targets, in fp32."""
    targets = _targets(objective, batch)
    # (B, T, V); for "causal" position t is scored against token t+1 by its shifted labels
    logits = outputs.prediction_logits if objective == "bert" else outputs.logits
    part, labels = next(iter(targets.items()))
    if logits.dim() == 2:  # sparse prediction: (N, V), one row per scored position
        labels = labels[labels != IGNORE_INDEX]
    sums = {part: F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),  # (B*T, V) or (N, V)
        labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")}
    if objective == "bert":
        sums["nsp"] = F.cross_entropy(outputs.seq_relationship_logits.float(), targets["nsp"],
                                      ignore_index=IGNORE_INDEX, reduction="sum")
    return sums

