"""Next-sentence-prediction pairs from documents, built as BERT's `create_pretraining_data.py` does.

A document is a list of sentences (lines); documents come from separate files or from blocks of
lines separated by blank lines (`train.data.datasets.read_documents`). For each document, following
google-research/bert `create_instances_from_document`:

1. target length: usually max_seq_length - 3 (room for [CLS] A [SEP] B [SEP]); with probability
   short_seq_prob (0.1) a random length in [2, max_seq_length - 3], so the model also sees short
   inputs (fine-tuning inputs are often short). Drawn once per document, as the original does.
2. sentences are gathered into a chunk until the chunk reaches the target length (or the
   document ends); segment A is the chunk's first a_end sentences, a_end random in [1, len - 1].
3. with probability 1/2 (always, when the chunk has a single sentence) B is a random stretch of
   ANOTHER document, starting at a random sentence and running until it fills the rest of the
   target: next_sentence_label = 1, "B is random". Otherwise B is the rest of the chunk:
   next_sentence_label = 0, "B follows A". This is the polarity of the original and of Hugging
   Face's BertForPreTraining. The chunk's unused sentences go back to the document, to start the
   next chunk, so no text is wasted.
4. truncation, longest first: while A + B is too long, take one token off the longer segment,
   from the front or the back at random (the original's `truncate_seq_pair`).
5. layout: [CLS] A [SEP] B [SEP], token types 0 for [CLS] A [SEP] and 1 for B [SEP].

Differences from the original, on purpose: the random document is drawn uniformly from the OTHER
documents (the original retries 10 times and may, rarely, still take the same document); this
module builds pairs only, the masking happens later in the collator (dynamically, per batch).
Needs only a tokenizer with `encode(text, add_special_tokens=False)` -> Encoding (ids, word_ids)
and `cls_token_id` / `sep_token_id`. Randomness comes from an explicit `random.Random`.
"""

from __future__ import annotations

import random

LABEL_IS_NEXT = 0  # B is the text that follows A
LABEL_IS_RANDOM = 1  # B comes from another document


def tokenize_documents(documents, tokenizer) -> list[list[tuple[list[int], list[int]]]]:
    """Encode every sentence once: per document a list of (ids, word_ids); empty ones dropped."""
    out = []
    for doc in documents:
        sentences = []
        for text in doc:
            enc = tokenizer.encode(text, add_special_tokens=False)
            if len(enc.ids) > 0:
                words = list(enc.word_ids) if enc.word_ids else [None] * len(enc.ids)
                sentences.append((list(enc.ids), words))
        if sentences:
            out.append(sentences)
    return out


def truncate_seq_pair(a: list, b: list, max_num_tokens: int, rng: random.Random) -> None:
    """Cut A and B in place until together they fit: one token at a time off the longer one,
    from the front or the back at random (so the model does not learn that text is cut at one
    end)."""
    while len(a) + len(b) > max_num_tokens:
        longer = a if len(a) > len(b) else b
        assert len(longer) >= 1, "truncate_seq_pair: both segments are empty"
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def _join(sentences) -> list[tuple[int, int | None]]:
    """Concatenate sentences into (id, word) pairs, renumbering words so they stay distinct."""
    tokens, base = [], 0
    for ids, words in sentences:
        tokens += [(i, None if w is None else base + w) for i, w in zip(ids, words)]
        base += 1 + max((w for w in words if w is not None), default=-1)
    return tokens


def _example(a, b, cls_id: int, sep_id: int, label: int) -> dict:
    """[CLS] A [SEP] B [SEP] with token types 0 / 1; word ids of B are shifted past A's."""
    shift = 1 + max((w for _, w in a if w is not None), default=-1)
    b = [(i, None if w is None else w + shift) for i, w in b]
    ids = [cls_id] + [i for i, _ in a] + [sep_id] + [i for i, _ in b] + [sep_id]
    words = [None] + [w for _, w in a] + [None] + [w for _, w in b] + [None]
    return {
        "input_ids": ids,
        "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
        "special_tokens_mask": [1] + [0] * len(a) + [1] + [0] * len(b) + [1],
        "word_ids": words,
        "next_sentence_label": label,
    }


def pairs_from_document(
    docs,
    index: int,
    max_seq_length: int,
    short_seq_prob: float,
    nsp_probability: float,
    rng: random.Random,
    cls_id: int,
    sep_id: int,
) -> list[dict]:
    """All NSP examples of document `index` (one pass over it), as
    `create_instances_from_document`."""
    document = docs[index]
    max_num_tokens = max_seq_length - 3
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = rng.randint(2, max_num_tokens)
    examples, chunk, chunk_len, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        chunk_len += len(document[i][0])
        if i == len(document) - 1 or chunk_len >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            a = _join(chunk[:a_end])
            if len(chunk) == 1 or rng.random() < nsp_probability:
                label = LABEL_IS_RANDOM
                other = rng.randrange(len(docs) - 1)
                other += other >= index  # uniform over the other documents, never this one
                random_doc = docs[other]
                start = rng.randint(0, len(random_doc) - 1)
                taken = []
                for sentence in random_doc[start:]:
                    taken.append(sentence)
                    if sum(len(s[0]) for s in taken) >= target - len(a):
                        break
                b = _join(taken)
                i -= len(chunk) - a_end  # put the unused sentences back
            else:
                label = LABEL_IS_NEXT
                b = _join(chunk[a_end:])
            truncate_seq_pair(a, b, max_num_tokens, rng)
            assert len(a) >= 1 and len(b) >= 1, "an NSP segment came out empty"
            examples.append(_example(a, b, cls_id, sep_id, label))
            chunk, chunk_len = [], 0
        i += 1
    return examples


def create_nsp_examples(
    documents,
    tokenizer,
    *,
    max_seq_length: int = 128,
    short_seq_prob: float = 0.1,
    nsp_probability: float = 0.5,
    dupe_factor: int = 1,
    rng: random.Random,
) -> list[dict]:
    """NSP examples from documents (lists of sentence strings), shuffled, as the original.

    Each example is a dict: input_ids, token_type_ids, special_tokens_mask, word_ids,
    next_sentence_label (0 = B follows A, 1 = B is random). dupe_factor passes over the corpus
    give different pairs (the original's default is 10; masking is dynamic here, so 1 is fine).
    """
    if not isinstance(rng, random.Random):
        raise TypeError(
            f"rng must be a random.Random (e.g. random.Random(seed)), got {type(rng).__name__}"
        )
    if max_seq_length < 5:
        raise ValueError(
            f"max_seq_length={max_seq_length} leaves no room for two segments and 3 special tokens"
        )
    for name in ("cls_token_id", "sep_token_id"):
        if getattr(tokenizer, name, None) is None:
            raise ValueError(f"NSP pairs need the tokenizer's {name}, which is None")
    docs = tokenize_documents(documents, tokenizer)
    if len(docs) < 2:
        raise ValueError(
            f"NSP needs at least 2 non-empty documents to draw 'random next' segments from, got "
            f"{len(docs)}; "
            "separate documents by blank lines or give one file per document"
        )
    examples = []
    for _ in range(dupe_factor):
        for index in range(len(docs)):
            examples += pairs_from_document(
                docs,
                index,
                max_seq_length,
                short_seq_prob,
                nsp_probability,
                rng,
                tokenizer.cls_token_id,
                tokenizer.sep_token_id,
            )
    rng.shuffle(examples)
    return examples
