"""Post-processors as `tokenizers.processors` names them: which special tokens go around A (and B).

Our tokenizers name their layout with a word (`tok.post_processor = "roberta"`); code written
for Hugging Face `tokenizers` sets an object instead, as the KantaiBERT chapter does:

    tokenizer._tokenizer.post_processor = BertProcessing(
        ("</s>", tokenizer.token_to_id("</s>")), ("<s>", tokenizer.token_to_id("<s>")))

The two classes here carry the same arguments, and `layout_name` turns either into the word:

    BertProcessing(sep, cls)      "bert":    cls A sep      cls A sep B sep      (B: type id 1)
    RobertaProcessing(sep, cls)   "roberta": cls A sep      cls A sep sep B sep  (all type id 0;
                                             offsets trimmed of the spaces `Ġ` stands for)

Each (token, id) pair must name the tokenizer's own cls and sep tokens with their ids: a layout
cannot bring tokens the vocabulary does not have.
Left out on purpose: TemplateProcessing, ByteLevel (trim only), Sequence, and a RobertaProcessing
without trimmed offsets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BertProcessing:
    """`[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`, B with type id 1 (any tokens as cls/sep)."""

    sep: tuple[str, int]
    cls: tuple[str, int]

    layout = "bert"


@dataclass(frozen=True)
class RobertaProcessing:
    """`<s> A </s>` and `<s> A </s></s> B </s>`, type ids all 0, offsets trimmed."""

    sep: tuple[str, int]
    cls: tuple[str, int]
    trim_offsets: bool = True
    add_prefix_space: bool = True

    layout = "roberta"


LAYOUTS = ("bert", "roberta")


def layout_name(value, tokenizer) -> str | None:
    """None, "bert", "roberta" or a processor object -> the layout's name, after checking that
    its tokens are `tokenizer`'s cls and sep tokens with their ids."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in LAYOUTS:
            raise ValueError(f"post_processor={value!r}; expected one of {LAYOUTS}, None, or "
                             "tokenizer.processors.BertProcessing / RobertaProcessing")
        name, pairs = value, {}
    elif isinstance(value, (BertProcessing, RobertaProcessing)):
        if isinstance(value, RobertaProcessing) and not value.trim_offsets:
            raise ValueError("RobertaProcessing(trim_offsets=False) is not supported: the "
                             "'roberta' layout always trims offsets")
        name, pairs = value.layout, {"cls": value.cls, "sep": value.sep}
    else:
        raise TypeError(f"post_processor must be None, a layout name {LAYOUTS} or a "
                        f"BertProcessing / RobertaProcessing, got {type(value).__name__}")
    for role in ("cls", "sep"):
        if role not in tokenizer.special_tokens:
            raise ValueError(f"post_processor {name!r} needs a {role} token, and this tokenizer "
                             f"has none (train it with special_tokens that include "
                             f"{'<s>' if role == 'cls' else '</s>'})")
        if role in pairs:
            token, index = pairs[role]
            own = tokenizer.special_tokens[role]
            if token != own or tokenizer.token_to_id(token) != index:
                raise ValueError(f"{type(value).__name__}: {role}=({token!r}, {index}), but "
                                 f"this tokenizer's {role} token is {own!r} with id "
                                 f"{tokenizer.token_to_id(own)}")
    return name
