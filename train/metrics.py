"""Classification scores written out: confusion matrix, accuracy, Matthews correlation.

MCC (Matthews 1975) is CoLA's official metric because the classes are unbalanced (about 70%
acceptable): a model that always says "acceptable" gets 70% accuracy but MCC 0. We compute it
from the confusion matrix with the multi-class formula of Gorodkin (2004), the one
scikit-learn's `matthews_corrcoef` uses, and return 0 when it is undefined (every prediction,
or every true label, in one class), as scikit-learn does. Tests check equality with
scikit-learn on random labels. Left out on purpose: F1, ROC and anything probabilistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int],
                     num_labels: int | None = None) -> list[list[int]]:
    """matrix[t][p] = how many examples of true class t were predicted as p."""
    y_true, y_pred = [int(v) for v in y_true], [int(v) for v in y_pred]
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if num_labels is None:
        num_labels = max(y_true + y_pred, default=-1) + 1
    if any(not 0 <= v < num_labels for v in y_true + y_pred):
        raise ValueError(f"labels must be in [0, {num_labels}); got "
                         f"{sorted(set(y_true + y_pred))}")
    matrix = [[0] * num_labels for _ in range(num_labels)]
    for t, p in zip(y_true, y_pred):
        matrix[t][p] += 1
    return matrix


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    if len(y_true) != len(y_pred) or not y_true:
        raise ValueError(f"need two equal, non-empty label lists; got {len(y_true)} and "
                         f"{len(y_pred)}")
    return sum(int(t) == int(p) for t, p in zip(y_true, y_pred)) / len(y_true)


def matthews_corrcoef(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """MCC in [-1, 1]; 0 for chance level and for the undefined one-class cases.

    With C the confusion matrix, s the sample count, c the correct count, t_k the true count
    and p_k the predicted count of class k:
        MCC = (c*s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2) (s^2 - sum_k t_k^2))
    For two classes this is the familiar (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)).
    """
    matrix = confusion_matrix(y_true, y_pred)
    k = len(matrix)
    s = sum(map(sum, matrix))
    if s == 0:
        raise ValueError("matthews_corrcoef needs at least one example")
    correct = sum(matrix[i][i] for i in range(k))
    t = [sum(matrix[i]) for i in range(k)]
    p = [sum(matrix[i][j] for i in range(k)) for j in range(k)]
    cov_tp = correct * s - sum(pk * tk for pk, tk in zip(p, t))
    cov_pp = s * s - sum(pk * pk for pk in p)
    cov_tt = s * s - sum(tk * tk for tk in t)
    if cov_pp == 0 or cov_tt == 0:
        return 0.0
    # integers up to here, so the only rounding is in the last two operations
    return cov_tp / math.sqrt(cov_pp * cov_tt)
