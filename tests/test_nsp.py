"""NSP pairs (train/data/nsp.py): layout, lengths, segment provenance, 50/50 labels, errors.

The test tokenizer maps the text "1203" to the id 1203, so an id tells the document and the
sentence it came from (id = 10000 * doc + 10 * sentence + 5 + piece) and the tests can check where
every segment was taken from.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer.base import Encoding
from train.data.datasets import read_documents
from train.data.nsp import LABEL_IS_NEXT, LABEL_IS_RANDOM, create_nsp_examples, truncate_seq_pair

CLS, SEP = 2, 3


class IntTokenizer:
    cls_token_id, sep_token_id = CLS, SEP

    def encode(self, text, add_special_tokens=False):
        assert not add_special_tokens
        ids = [int(w) for w in text.split()]
        return Encoding(ids=ids, tokens=text.split(), word_ids=list(range(len(ids))))


def corpus(sentence_lengths: list[list[int]]) -> list[list[str]]:
    """Documents whose sentences have the given numbers of tokens, ids encoding doc/sentence."""
    return [[" ".join(str(10000 * d + 10 * s + 5 + k) for k in range(n)) for s, n in enumerate(doc)]
            for d, doc in enumerate(sentence_lengths)]


def doc_of(token: int) -> int:
    return token // 10000


def order(token: int) -> int:  # position of the token in its document
    return token % 10000


def segments(example):
    ids, types = example["input_ids"], example["token_type_ids"]
    n_a = types.index(1) - 2
    return ids[1:1 + n_a], ids[2 + n_a:-1]


def check_layout(example, max_seq_length):
    ids, types, special = (
        example["input_ids"],
        example["token_type_ids"],
        example["special_tokens_mask"],
    )
    assert len(ids) <= max_seq_length
    assert len(types) == len(special) == len(example["word_ids"]) == len(ids)
    first_b = types.index(1)
    assert types == [0] * first_b + [1] * (len(ids) - first_b), "token types must be 0s then 1s"
    assert ids[0] == CLS and ids[first_b - 1] == SEP and ids[-1] == SEP
    assert [i for i, s in enumerate(special) if s] == [0, first_b - 1, len(ids) - 1]
    assert [i for i, w in enumerate(example["word_ids"]) if w is None] == [
        0,
        first_b - 1,
        len(ids) - 1,
    ]
    a, b = segments(example)
    assert len(a) >= 1 and len(b) >= 1
    assert CLS not in a + b and SEP not in a + b
    return a, b


def check_provenance(example):
    a, b = segments(example)
    assert len({doc_of(t) for t in a}) == 1 and len({doc_of(t) for t in b}) == 1
    # truncation only cuts the ends of a segment, so each stays a contiguous, ordered stretch
    for seg in (a, b):
        assert all(order(x) < order(y) for x, y in itertools.pairwise(seg))
    if example["next_sentence_label"] == LABEL_IS_NEXT:
        assert doc_of(a[0]) == doc_of(b[0]) and order(a[-1]) < order(b[0])
    else:
        assert example["next_sentence_label"] == LABEL_IS_RANDOM
        assert doc_of(a[0]) != doc_of(b[0]), "a 'random next' segment came from the same document"


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=12), min_size=2, max_size=6),
    max_seq_length=st.integers(5, 40),
    short_seq_prob=st.sampled_from([0.0, 0.1, 1.0]),
    seed=st.integers(0, 2**31),
)
def test_pairs_properties(lengths, max_seq_length, short_seq_prob, seed):
    examples = create_nsp_examples(corpus(lengths), IntTokenizer(), max_seq_length=max_seq_length,
                                   short_seq_prob=short_seq_prob, rng=random.Random(seed))
    assert examples
    for ex in examples:
        check_layout(ex, max_seq_length)
        check_provenance(ex)


def test_labels_are_50_50_where_the_coin_decides():
    # One-token sentences and target >= 2: a chunk holds one sentence only at a document's end, and
    # there B must be random; that case is recognisable (A ends at its document's last token).
    lengths = [[1] * 150 for _ in range(30)]
    examples = create_nsp_examples(
        corpus(lengths), IntTokenizer(), max_seq_length=16, dupe_factor=10, rng=random.Random(0)
    )
    last = 10 * 149 + 5
    free = [ex for ex in examples if order(segments(ex)[0][-1]) != last]
    forced = [ex for ex in examples if order(segments(ex)[0][-1]) == last]
    assert all(ex["next_sentence_label"] == LABEL_IS_RANDOM for ex in forced)
    n, k = len(free), sum(ex["next_sentence_label"] for ex in free)
    assert n > 5000
    assert abs(k - n / 2) <= 5 * math.sqrt(n / 4), (k, n)


def test_sequences_fill_to_the_maximum_unless_short():
    lengths = [[1] * 200 for _ in range(10)]
    full = create_nsp_examples(
        corpus(lengths), IntTokenizer(), max_seq_length=20, short_seq_prob=0.0, rng=random.Random(1)
    )
    at_max = sum(len(ex["input_ids"]) == 20 for ex in full)
    assert at_max / len(full) > 0.9
    short = create_nsp_examples(
        corpus(lengths), IntTokenizer(), max_seq_length=20, short_seq_prob=1.0, rng=random.Random(1)
    )
    assert sum(len(ex["input_ids"]) for ex in short) / len(short) < 0.8 * 20


def test_long_sentences_are_truncated_to_fit():
    examples = create_nsp_examples(
        corpus([[50, 60], [70, 40, 30]]), IntTokenizer(), max_seq_length=16, rng=random.Random(2)
    )
    for ex in examples:
        check_layout(ex, 16)
        check_provenance(ex)
        assert len(ex["input_ids"]) == 16


def test_same_seed_same_pairs():
    docs = corpus([[3, 4, 5, 2, 6]] * 5)
    a = create_nsp_examples(docs, IntTokenizer(), max_seq_length=12, rng=random.Random(3))
    b = create_nsp_examples(docs, IntTokenizer(), max_seq_length=12, rng=random.Random(3))
    c = create_nsp_examples(docs, IntTokenizer(), max_seq_length=12, rng=random.Random(4))
    assert a == b and a != c


def test_truncate_seq_pair_cuts_the_longer_side_from_either_end():
    a, b = list(range(10)), list(range(100, 103))
    truncate_seq_pair(a, b, 8, random.Random(0))
    assert len(a) == 5 and b == [100, 101, 102]
    assert a == list(range(a[0], a[0] + 5))


def test_single_document_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 non-empty documents"):
        create_nsp_examples(corpus([[3, 4, 5]]), IntTokenizer(), rng=random.Random(0))
    with pytest.raises(ValueError, match="at least 2 non-empty documents"):
        create_nsp_examples(corpus([[3, 4]]) + [[""]], IntTokenizer(), rng=random.Random(0))
    with pytest.raises(TypeError, match="random.Random"):
        create_nsp_examples(corpus([[3], [4]]), IntTokenizer(), rng=0)


def test_real_wordpiece_on_kant_paragraphs(data, tmp_path):
    from tokenizer.wordpiece import WordPieceTokenizer

    tok = WordPieceTokenizer.from_file(data / "bert_vocab" / "bert-base-uncased-vocab.txt")
    head = (data / "kant" / "kant.txt").read_bytes()[:60_000]
    path = tmp_path / "kant_head.txt"
    path.write_bytes(head[:head.rfind(b"\n")])
    docs = read_documents(path)
    assert len(docs) > 20
    examples = create_nsp_examples(docs, tok, max_seq_length=64, rng=random.Random(0))
    for ex in examples:
        check_layout(
            ex
            | {
                "input_ids": [
                    CLS if i == tok.cls_token_id else SEP if i == tok.sep_token_id else i
                    for i in ex["input_ids"]
                ]
            },
            64,
        )
        words = [w for w in ex["word_ids"] if w is not None]
        assert all(x <= y for x, y in itertools.pairwise(words))
    text = tok.decode(examples[0]["input_ids"])
    assert text.startswith("[CLS]") and text.count("[SEP]") == 2
    labels = [ex["next_sentence_label"] for ex in examples]
    assert 0 in labels and 1 in labels
