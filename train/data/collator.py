"""Collators: turn a list of examples into one padded batch of tensors, masked for MLM or not.

A collator is what a DataLoader's `collate_fn` calls. Examples are tokenizer `Encoding`s, dicts
with `input_ids` and, optionally, `token_type_ids`, `special_tokens_mask`, `attention_mask`,
`word_ids` and `next_sentence_label` (what `train/data/nsp.py` and `train/data/datasets.py`
produce), or bare token ids (a list or a 1-D tensor), as transformers' collators accept.
Batches are padded on the right to the longest example in the batch ("dynamic padding"), as
Hugging Face's `DataCollatorForLanguageModeling` does, so short batches cost less.

MLMCollator masks with `train.data.masking.mask_tokens`:
- dynamic (default, RoBERTa's choice): a fresh mask every time a batch is built, drawn from the
  collator's own torch.Generator;
- static (for evaluation): each example's mask is fixed, drawn from a generator seeded by the
  collator seed and a hash of the example's ids, so it does not depend on the batch it lands in.
Called on a list, a collator draws from its own generator, as transformers' does. The
pretraining loader (`train/data/loader.py`) calls `from_padded` with a generator of its own
per micro-batch instead, so batches built in worker processes, in any order, or after a
resume, are masked alike and the collator's generator is never drawn from.
CausalLMCollator pads and sets labels = input_ids with padding at -100; the loss shifts the
labels (token t predicts t + 1, as HF's causal LM heads do), so the collator does not.
DataCollatorForLanguageModeling is transformers' name and call for the two: mlm=True is an
MLMCollator, mlm=False a CausalLMCollator.

Shapes: B = batch size, T = longest example in the batch.
Left out on purpose: pad_to_multiple_of, left padding, numpy / TF outputs.
"""

from __future__ import annotations

import zlib

import torch

from train.data.masking import IGNORE_INDEX, mask_tokens, replacement_ids


def _field(example, name: str, encoding_attr: str):
    """Read one field from an Encoding (attribute), a dict (key) or bare ids (they are the
    input_ids); None when absent or empty."""
    if isinstance(example, dict):
        value = example.get(name)
    elif isinstance(example, (list, tuple, torch.Tensor)):
        value = example if name == "input_ids" else None
    else:
        value = getattr(example, encoding_attr, None)
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    return None if len(value) == 0 else list(value)


def example_ids(example, index: int = 0) -> list[int]:
    """An example's input ids, from any of the forms a collator accepts."""
    ids = _field(example, "input_ids", "ids")
    if ids is None:
        kind = "dict without 'input_ids'" if isinstance(example, dict) else type(example).__name__
        raise ValueError(
            f"example {index} has no input ids ({kind}); expected an Encoding, a dict with "
            f"'input_ids', or a list / 1-D tensor of ids"
        )
    return ids


def pad_batch(examples, pad_token_id: int) -> dict[str, torch.Tensor]:
    """Stack examples into (B, T) LongTensors padded on the right; word_ids padded with -1.

    Keys: input_ids, attention_mask, token_type_ids, special_tokens_mask, word_ids (-1 = no word;
    all -1 when the examples carry none), and next_sentence_label (B,) when every example has one.
    Rows are padded as Python lists and each key becomes a tensor in one call (one call per row
    and key was the collator's main cost).
    """
    if len(examples) == 0:
        raise ValueError("cannot collate an empty list of examples")
    if pad_token_id is None:
        raise ValueError("padding needs a pad token, but the tokenizer's pad_token_id is None")
    ids = [example_ids(e, i) for i, e in enumerate(examples)]
    T = max(len(x) for x in ids)
    # key: (Encoding attribute, value when the example lacks it, value on padding)
    fields = {"attention_mask": ("attention_mask", 1, 0), "token_type_ids": ("type_ids", 0, 0),
              "special_tokens_mask": ("special_tokens_mask", 0, 1),  # padding counts as special
              "word_ids": ("word_ids", -1, -1)}
    rows = {key: [] for key in fields}
    for row, (e, x) in enumerate(zip(examples, ids)):
        n = len(x)
        for key, (attr, missing, pad) in fields.items():
            value = _field(e, key, attr)
            if value is None:
                value = [missing] * n
            elif len(value) != n:
                raise ValueError(
                    f"example {row}: '{key}' has {len(value)} entries but input_ids has {n}"
                )
            elif key == "word_ids":
                value = [-1 if w is None else w for w in value]
            rows[key].append(value + [pad] * (T - n))
    out = {
        "input_ids": torch.tensor(
            [x + [pad_token_id] * (T - len(x)) for x in ids], dtype=torch.long
        )
    }
    out.update(
        {key: torch.tensor(value, dtype=torch.long) for key, value in rows.items()}
    )  # each (B, T)
    labels = [e.get("next_sentence_label") if isinstance(e, dict) else None for e in examples]
    if any(label is not None for label in labels):
        if any(label is None for label in labels):
            raise ValueError(
                "some examples have a next_sentence_label and some do not; a batch must be uniform"
            )
        out["next_sentence_label"] = torch.tensor(
            [int(label) for label in labels], dtype=torch.long
        )
    return out


def _example_seed(seed: int, ids: torch.Tensor) -> int:
    """A stable per-example seed: the collator seed mixed with a CRC of the example's ids."""
    return (seed * 1_000_003 + zlib.crc32(ids.numpy().astype("int64").tobytes())) % (2**63)


class MLMCollator:
    """Pad a batch dynamically and mask it for MLM; see the module docstring."""

    mlm = True  # what it prepares: masked-LM targets (read by `objectives.check_collator`)

    def __init__(
        self,
        tokenizer,
        mlm_probability: float = 0.15,
        whole_word: bool = False,
        seed: int = 0,
        static: bool = False,
        vocab_size: int | None = None,
    ):
        """vocab_size: random replacements are drawn below it (default: the tokenizer's)."""
        if tokenizer.mask_token_id is None:
            raise ValueError("MLMCollator needs a tokenizer with a mask token; this one has none")
        if not 0.0 <= mlm_probability <= 1.0:
            raise ValueError(f"mlm_probability must be in [0, 1], got {mlm_probability}")
        self.pad_token_id = tokenizer.pad_token_id
        self.mask_token_id = tokenizer.mask_token_id
        self.vocab_size = tokenizer.vocab_size if vocab_size is None else vocab_size
        self.special_ids = list(tokenizer.all_special_ids)
        self.mlm_probability = mlm_probability
        self.whole_word = whole_word
        self.seed = seed
        self.static = static
        self.allowed_ids = replacement_ids(self.vocab_size, self.special_ids)
        self.generator = torch.Generator().manual_seed(seed)

    def _mask(self, batch: dict[str, torch.Tensor], generator: torch.Generator,
              table: tuple[int, int] | None = None, first_row: int = 0):
        if (
            self.whole_word
            and bool((batch["word_ids"] < 0).all())
            and bool((batch["special_tokens_mask"] == 0).any())
        ):
            raise ValueError(
                "whole_word=True needs word_ids on the examples (Encodings carry them; dicts need "
                "'word_ids')"
            )
        return mask_tokens(
            batch["input_ids"],
            batch["special_tokens_mask"],
            mask_token_id=self.mask_token_id,
            vocab_size=self.vocab_size,
            special_ids=self.special_ids,
            mlm_probability=self.mlm_probability,
            generator=generator,
            word_ids=batch["word_ids"],
            whole_word=self.whole_word,
            attention_mask=batch["attention_mask"],
            allowed_ids=self.allowed_ids,
            table=table,
            first_row=first_row,
        )

    def __call__(self, examples) -> dict[str, torch.Tensor]:
        return self.from_padded(pad_batch(examples, self.pad_token_id))

    def from_padded(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None,
                    table: tuple[int, int] | None = None,
                    first_row: int = 0) -> dict[str, torch.Tensor]:
        """Mask a batch laid out as `pad_batch` lays it out (packed blocks build it with array
        operations: `train/data/datasets.PackedBlocks.padded_batch`). generator: draw from it
        instead of the collator's own; table, first_row: the batch is rows first_row.. of a
        global batch whose draws form a table of that shape (`masking.mask_tokens`)."""
        if not self.static:
            masked, labels = self._mask(batch, self.generator if generator is None else generator,
                                        table, first_row)
        else:
            masked, labels = (
                batch["input_ids"].clone(),
                torch.full_like(batch["input_ids"], IGNORE_INDEX),
            )
            lengths = batch["attention_mask"].sum(dim=1).tolist()
            for row, n in enumerate(lengths):  # each example masked alone, at its own length
                one = {k: v[row:row + 1, :n] for k, v in batch.items() if v.dim() == 2}
                g = torch.Generator().manual_seed(_example_seed(self.seed, one["input_ids"][0]))
                masked[row, :n], labels[row, :n] = (t[0] for t in self._mask(one, g))
        out = {"input_ids": masked, "attention_mask": batch["attention_mask"],
               "token_type_ids": batch["token_type_ids"], "labels": labels}
        if "next_sentence_label" in batch:
            out["next_sentence_label"] = batch["next_sentence_label"]
        return out

    def settings(self) -> dict:
        """What its masks depend on besides the generator: recorded in pretraining checkpoints,
        so a resume with another masking rate is refused (`train/data/loader.data_settings`)."""
        return {"mlm_probability": self.mlm_probability, "whole_word": self.whole_word,
                "static_masks": self.static}

    def __getstate__(self) -> dict:
        # The generator travels as bytes: a DataLoader worker started by spawn (under
        # torch.multiprocessing.spawn, or on macOS) could not rebuild it, nor its state tensor.
        return {**self.__dict__, "generator": self.generator.get_state().numpy().tobytes()}

    def __setstate__(self, state: dict) -> None:
        generator = torch.Generator()
        generator.set_state(torch.frombuffer(bytearray(state.pop("generator")), dtype=torch.uint8))
        self.__dict__.update(state, generator=generator)


class CausalLMCollator:
    """Pad a batch; labels are the input ids with padding set to -100 (the loss shifts them)."""

    mlm = False  # what it prepares: next-token targets (read by `objectives.check_collator`)

    def __init__(self, tokenizer):
        self.pad_token_id = tokenizer.pad_token_id

    def settings(self) -> dict:
        return {}  # nothing is drawn: the labels are the input ids

    def __call__(self, examples) -> dict[str, torch.Tensor]:
        return self.from_padded(pad_batch(examples, self.pad_token_id))

    def from_padded(self, batch: dict[str, torch.Tensor], **draws) -> dict[str, torch.Tensor]:
        """Labels for a batch laid out as `pad_batch` lays it out; nothing is drawn, so the
        loader's generator and table (`MLMCollator.from_padded`) are ignored."""
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, IGNORE_INDEX)
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                "token_type_ids": batch["token_type_ids"], "labels": labels}


class DataCollatorForLanguageModeling:
    """transformers' collator for language modelling, over the two above: mlm=True masks as
    `MLMCollator` does (80/10/10, labels -100 where nothing was chosen, a fresh mask per
    batch), mlm=False pads as `CausalLMCollator` (labels = input ids, padding -100).

    Unlike transformers' it always returns the attention mask, draws its masks from its own
    generator seeded by `seed` (transformers' default is the global RNG), and never replaces
    a token by a special one. The tokenizer needs only pad_token_id, mask_token_id,
    all_special_ids and len()."""

    def __init__(self, tokenizer, mlm: bool = True, mlm_probability: float = 0.15,
                 seed: int = 0, return_tensors: str = "pt"):
        if return_tensors != "pt":
            raise ValueError(f"return_tensors={return_tensors!r}: only 'pt' (PyTorch) is built")
        self.tokenizer, self.mlm, self.mlm_probability, self.seed = (
            tokenizer, mlm, mlm_probability, seed)
        self.collate = (MLMCollator(tokenizer, mlm_probability, seed=seed,
                                    vocab_size=len(tokenizer))
                        if mlm else CausalLMCollator(tokenizer))

    @property
    def generator(self) -> torch.Generator | None:
        """The masking generator of calls on a list (None for mlm=False)."""
        return getattr(self.collate, "generator", None)

    @property
    def pad_token_id(self) -> int | None:
        return self.collate.pad_token_id

    def __call__(self, examples) -> dict[str, torch.Tensor]:
        return self.collate(examples)

    def settings(self) -> dict:
        return self.collate.settings()

    def from_padded(self, batch: dict[str, torch.Tensor], **draws) -> dict[str, torch.Tensor]:
        """What the pretraining loader calls: see `MLMCollator.from_padded`."""
        return self.collate.from_padded(batch, **draws)
