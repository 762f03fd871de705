"""Our MCC, accuracy and confusion matrix: known answers, and equality with scikit-learn."""

import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from train.metrics import accuracy, confusion_matrix, matthews_corrcoef


def test_known_binary_answer():
    # TP=3, TN=2, FP=1, FN=2 -> (3*2 - 1*2) / sqrt(4*5*3*4)
    y_true = [1, 1, 1, 1, 1, 0, 0, 0]
    y_pred = [1, 1, 1, 0, 0, 0, 0, 1]
    assert confusion_matrix(y_true, y_pred) == [[2, 1], [2, 3]]
    assert matthews_corrcoef(y_true, y_pred) == pytest.approx(4 / math.sqrt(240))
    assert accuracy(y_true, y_pred) == pytest.approx(5 / 8)


def test_perfect_inverse_and_one_class():
    assert matthews_corrcoef([0, 1, 1, 0], [0, 1, 1, 0]) == 1.0
    assert matthews_corrcoef([0, 1, 1, 0], [1, 0, 0, 1]) == -1.0
    # the CoLA failure mode: every prediction "acceptable" -> undefined -> 0
    assert matthews_corrcoef([0, 1, 1, 0, 1], [1, 1, 1, 1, 1]) == 0.0
    assert matthews_corrcoef([1, 1, 1], [1, 1, 1]) == 0.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="3 labels but y_pred has 2"):
        matthews_corrcoef([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        confusion_matrix([0, 1], [0, 2], num_labels=2)


@st.composite
def label_pairs(draw):
    """Two equally long label lists over 2-4 classes (not every class need appear)."""
    n = draw(st.integers(1, 200))
    k = draw(st.integers(2, 4))
    same_length = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    return draw(same_length), draw(same_length)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=100, deadline=None)
@given(label_pairs())
def test_equals_sklearn(pair):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = pair
    assert matthews_corrcoef(y_true, y_pred) == pytest.approx(
        sklearn_metrics.matthews_corrcoef(y_true, y_pred), abs=1e-12)
    assert accuracy(y_true, y_pred) == pytest.approx(sklearn_metrics.accuracy_score(y_true, y_pred))
    k = max(y_true + y_pred) + 1
    assert confusion_matrix(y_true, y_pred, k) == sklearn_metrics.confusion_matrix(
        y_true, y_pred, labels=list(range(k))).tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 1), st.lists(st.integers(0, 1), min_size=1, max_size=60))
def test_one_class_equals_sklearn(cls, other):
    """All predictions (or all true labels) in one class: both say 0, with no warning to us."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    constant = [cls] * len(other)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_a = sklearn_metrics.matthews_corrcoef(other, constant)
        expected_b = sklearn_metrics.matthews_corrcoef(constant, other)
    assert matthews_corrcoef(other, constant) == expected_a == 0.0
    assert matthews_corrcoef(constant, other) == expected_b == 0.0
