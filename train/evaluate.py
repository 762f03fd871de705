"""Scoring a fine-tuned classifier on a held-out set, the way the CoLA tutorial does and better.

We report MCC over the whole set from scikit-learn's `matthews_corrcoef` and from ours
(`train/metrics.py`; they must agree), accuracy, the confusion matrix, and, beside them, the
tutorial's list of per-batch MCCs. The tutorial averages nothing but shows those per-batch
numbers, and they mislead: MCC is not additive, a batch of 32 has few negatives, and a batch
whose true or predicted labels are all one class scores 0 whatever the model did, so the batch
scores scatter widely and their mean differs from the whole-set MCC, the number CoLA reports.
When every prediction is the same class we say so plainly: that MCC of 0 is a training failure
(learning rate too low, too few epochs), not a score.
Legend: N = examples, T = longest sequence in a batch, K = labels.
Left out on purpose: calibration, thresholds other than argmax, per-source breakdowns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from train.device import autocast
from train.metrics import accuracy, confusion_matrix, matthews_corrcoef


@torch.no_grad()
def predict_logits(model, tokenizer, encodings: list, batch_size: int, device: torch.device,
                   precision: str = "auto") -> torch.Tensor:
    """Logits (N, K) in float32 on the CPU, in the order of `encodings`. Batches are formed
    from length-sorted examples (less padding); eval mode makes the order irrelevant."""
    assert len(encodings) > 0, "predict_logits needs at least one example"
    was_training = model.training
    model.eval()
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i]))
    out = [None] * len(encodings)
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        batch = tokenizer.to_tensors([encodings[i] for i in index])  # each (B, T)
        with autocast(device, precision):
            logits = model(input_ids=batch["input_ids"].to(device),
                           attention_mask=batch["attention_mask"].to(device),
                           token_type_ids=batch["token_type_ids"].to(device)).logits  # (B, K)
        for i, row in zip(index, logits.float().cpu()):
            out[i] = row
    model.train(was_training)
    return torch.stack(out)  # (N, K)


@dataclass
class EvalReport:
    name: str
    n: int
    mcc: float                 # ours
    mcc_sklearn: float
    accuracy: float
    matrix: list[list[int]]
    labels: list[str]
    batch_mccs: list[float] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)

    @property
    def collapsed(self) -> int | None:
        """The one class every prediction fell into, or None."""
        predicted = set(self.predictions)
        return predicted.pop() if len(predicted) == 1 else None


def score(name: str, y_true: list[int], y_pred: list[int], labels: list[str],
          batch_size: int = 32) -> EvalReport:
    """Whole-set scores plus the tutorial's per-batch MCCs (file order, `batch_size` rows)."""
    from sklearn.metrics import matthews_corrcoef as sklearn_mcc

    batch_mccs = [matthews_corrcoef(y_true[i:i + batch_size], y_pred[i:i + batch_size])
                  for i in range(0, len(y_true), batch_size)]
    return EvalReport(name=name, n=len(y_true), mcc=matthews_corrcoef(y_true, y_pred),
                      mcc_sklearn=float(sklearn_mcc(y_true, y_pred)),
                      accuracy=accuracy(y_true, y_pred),
                      matrix=confusion_matrix(y_true, y_pred, len(labels)), labels=labels,
                      batch_mccs=batch_mccs, predictions=list(y_pred))


def evaluate(model, tokenizer, name: str, encodings: list, y_true: list[int], labels: list[str],
             device: torch.device, batch_size: int = 64, precision: str = "auto") -> EvalReport:
    logits = predict_logits(model, tokenizer, encodings, batch_size, device, precision)
    return score(name, y_true, logits.argmax(-1).tolist(), labels)


def format_report(r: EvalReport) -> str:
    width = max(len(x) for x in r.labels)
    lines = [f"== {r.name} ({r.n} sentences) ==",
             f"MCC {r.mcc:.4f} (scikit-learn: {r.mcc_sklearn:.4f})   accuracy {r.accuracy:.4f}",
             "confusion matrix (rows = true, columns = predicted):",
             " " * (width + 2) + "  ".join(f"{x:>{width}}" for x in r.labels)]
    for name, row in zip(r.labels, r.matrix):
        lines.append(f"{name:>{width}}  " + "  ".join(f"{v:>{width}}" for v in row))
    mean = sum(r.batch_mccs) / len(r.batch_mccs)
    lines.append(f"per-batch MCC ({len(r.batch_mccs)} batches of up to 32, as McCormick & "
                 "Ryan's BERT fine-tuning tutorial lists them): "
                 + " ".join(f"{m:.2f}" for m in r.batch_mccs))
    if f"{mean:.4f}" != f"{r.mcc:.4f}":  # the warning only where it shows at this precision
        lines.append(f"their mean is {mean:.4f}, not {r.mcc:.4f}: MCC is not an average of "
                     "parts, and a small batch with one class in it scores 0 whatever the model "
                     "does; the whole-set MCC is the score to report.")
    cls = r.collapsed
    if cls is not None:
        lines.append(f"WARNING: predicted {r.labels[cls]} ({cls}) for all {r.n} sentences; "
                     f"MCC is 0. The model learned only the majority class: try a higher "
                     f"learning rate (1e-4 for small checkpoints), more epochs, or warmup.")
    return "\n".join(lines)


def save_confusion_png(r: EvalReport, path) -> None:
    from train.plots import save_confusion_matrix

    save_confusion_matrix(path, r.matrix, r.labels,
                          title=f"{r.name}: MCC {r.mcc:.3f}, accuracy {r.accuracy:.3f}")
