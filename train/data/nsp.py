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
Randomness comes from an explicit `random.Random`.

Two ways to run it:
- `create_nsp_examples(documents, tokenizer, rng=...)`: the original's pass over a list of
  documents (sentence strings, e.g. `train.data.datasets.read_documents`), every pair at once;
  needs a tokenizer with `encode(text, add_special_tokens=False)` and cls/sep token ids.
- `NSPPairs(shards, tokenizer)`: what `pretrain` uses, over the token shards of any corpus
  (`train/data/shards.py`). At opening every document is cut into chunks of about
  max_seq_length - 3 tokens (a chunk starts at the sentence where the running count crosses
  a multiple of it); example i draws its pair from chunk i with `pairs_from_document`, which
  sees the chunk as its document and may take "random" B segments from every other document,
  with a `random.Random` seeded by (seed, epoch, i). So the pairs change from epoch to epoch
  and need no pass over the corpus. Each chunk gives one pair per epoch: sentences the
  original would put back for the next pair start a new chunk instead. Memory: one int32 per
  non-empty line (the sentence index), 40 MB per 10 M lines.
"""

from __future__ import annotations

import random

import numpy as np

from train.data.datasets import ShardDataset, cls_sep_ids
from train.data.shards import Shards, word_ids

MIN_LENGTH = 5  # [CLS] A [SEP] B [SEP] with one token in each segment
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
    if max_seq_length < MIN_LENGTH:
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


class _Sentences:
    """Some sentences (non-empty lines) of the corpus, read only when asked for, as the
    (ids, word_ids) pairs `pairs_from_document` works on."""

    def __init__(self, shards: Shards, lines: np.ndarray):
        self.shards, self.lines = shards, lines

    def __len__(self) -> int:
        return int(self.lines.size)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return _Sentences(self.shards, self.lines[k])
        ids, starts = self.shards.line(int(self.lines[k]))
        return ids.tolist(), word_ids(starts).tolist()

    def __iter__(self):
        return (self[k] for k in range(len(self)))


class _DocumentsWithChunk:
    """The documents as `pairs_from_document` sees them: document `doc` is replaced by the
    chunk being drawn from, every other document is whole."""

    def __init__(self, pairs: NSPPairs, doc: int, chunk: _Sentences):
        self.pairs, self.doc, self.chunk = pairs, doc, chunk

    def __len__(self) -> int:
        return len(self.pairs.doc_bounds) - 1

    def __getitem__(self, d: int) -> _Sentences:
        if d == self.doc:
            return self.chunk
        a, b = self.pairs.doc_bounds[d], self.pairs.doc_bounds[d + 1]
        return _Sentences(self.pairs.shards, self.pairs.sentences[a:b])


class NSPPairs(ShardDataset):
    """[CLS] A [SEP] B [SEP] pairs with next_sentence_label, one per chunk per epoch."""

    def __init__(self, shards: Shards, tokenizer, max_seq_length: int = 128, seed: int = 0,
                 short_seq_prob: float = 0.1, nsp_probability: float = 0.5):
        if max_seq_length < MIN_LENGTH:
            raise ValueError(f"max_seq_length={max_seq_length} leaves no room for two segments "
                             f"and 3 special tokens")
        self.shards, self.max_length, self.seed = shards, max_seq_length, seed
        self.short_seq_prob, self.nsp_probability = short_seq_prob, nsp_probability
        self.cls_id, self.sep_id = cls_sep_ids(tokenizer)
        lengths = shards.line_lengths()
        opens_doc = np.zeros(lengths.size, dtype=np.int64)
        opens_doc[shards.doc_starts()] = 1
        doc_of_line = np.cumsum(opens_doc) - 1
        # (S,) line numbers of the non-empty lines: the one array here as long as the corpus
        self.sentences = np.flatnonzero(lengths > 0).astype(np.int32 if lengths.size < 2**31
                                                            else np.int64)
        doc = doc_of_line[self.sentences]
        first = np.ones(doc.size, dtype=bool)
        first[1:] = doc[1:] != doc[:-1]  # sentences that open a (non-empty) document
        self.doc_bounds = np.append(np.flatnonzero(first), doc.size)  # (D + 1,)
        if len(self.doc_bounds) - 1 < 2:
            raise ValueError(f"{shards.source}: NSP needs at least 2 non-empty documents "
                             f"(separated by blank lines), found {len(self.doc_bounds) - 1}")
        self.chunk_starts = self._chunk_starts(lengths[self.sentences], first)
        self.n = int(self.chunk_starts.size)

    def _chunk_starts(self, lengths: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Sentences that open a chunk: document starts, and where a document's running token
        count crosses a multiple of max_seq_length - 3."""
        before = np.cumsum(lengths) - lengths  # tokens before each sentence, corpus-wide
        doc_base = np.maximum.accumulate(np.where(first, before, 0))
        crossed = (before - doc_base) // (self.max_length - 3)
        opens = first.copy()
        opens[1:] |= crossed[1:] != crossed[:-1]
        return np.flatnonzero(opens)

    def settings(self) -> dict:
        return super().settings() | {"nsp_seed": self.seed, "short_seq_prob": self.short_seq_prob,
                                     "nsp_probability": self.nsp_probability}

    def example(self, i: int, epoch: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(f"chunk {i} of {self.n}")
        a = int(self.chunk_starts[i])
        b = int(self.chunk_starts[i + 1]) if i + 1 < self.chunk_starts.size \
            else self.sentences.size
        doc = int(np.searchsorted(self.doc_bounds, a, side="right")) - 1  # chunks never
        # cross documents, so the chunk's sentences a..b-1 all belong to `doc`
        chunk = _Sentences(self.shards, self.sentences[a:b])
        seed = np.random.SeedSequence([self.seed, epoch, i]).generate_state(2)
        rng = random.Random(int(seed[0]) << 32 | int(seed[1]))
        docs = _DocumentsWithChunk(self, doc, chunk)
        return pairs_from_document(docs, doc, self.max_length, self.short_seq_prob,
                                   self.nsp_probability, rng, self.cls_id, self.sep_id)[0]
