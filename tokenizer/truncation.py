"""Truncation of one text or a text pair to a token budget, as Hugging Face `tokenizers` does it.

`max_length` counts the special tokens the post-processor will add, so the budget here is
max_length minus those. "longest_first" splits the budget between A and B the way the Rust
code (`truncate_encodings`) does, not the older token-by-token loop of the slow Python
tokenizers; "only_first" / "only_second" cut one side and fail if that side is too short.
Also here: the checks of the `truncation=` and `padding=` arguments `encode` takes, and the
length `pad_to_multiple_of=` rounds padding up to.
Left out on purpose: left-side truncation, overflowing tokens and stride.
"""

from __future__ import annotations

# The pieces of one text before post-processing: (tokens, ids, offsets, word_ids).
Pieces = tuple[list[str], list[int], list[tuple[int, int]], list]

# What `encode(..., truncation=..., padding=...)` accepts besides True/False, and what True means.
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second")
PADDING_STRATEGIES = ("longest", "max_length")


def resolve_strategy(name: str, value, choices: tuple[str, ...]) -> str | None:
    """`truncation=` or `padding=` as a strategy name: False/None -> None, True -> the first
    choice, a known name -> itself; anything else is refused, naming the argument."""
    if value is False or value is None:
        return None
    if value is True:
        return choices[0]
    if value not in choices:
        raise ValueError(f"{name}={value!r}; expected True, False or one of {choices}")
    return value


def _cut(pieces: Pieces, n: int) -> Pieces:
    """Keep the first n pieces (right-side truncation)."""
    return tuple(part[:n] for part in pieces)


def truncate_pair(a: Pieces, b: Pieces | None, budget: int,
                  strategy: str) -> tuple[Pieces, Pieces | None]:
    """Cut A (and B) so that together they hold at most `budget` pieces, as HF `tokenizers` does.

    `budget` is max_length minus the special tokens already reserved for post-processing.
    """
    n1, n2 = len(a[0]), (len(b[0]) if b is not None else 0)
    total = n1 + n2
    if total <= budget:
        return a, b
    if budget == 0:  # HF empties both sides, whatever the strategy
        return _cut(a, 0), (None if b is None else _cut(b, 0))
    to_remove = total - budget
    if strategy == "longest_first":
        if b is None:
            return _cut(a, budget), None
        # Give the shorter side what it needs up to its share; the longer side gets the rest.
        short, long_ = min(n1, n2), max(n1, n2)
        if short > budget:
            long_ = short
        else:
            long_ = max(short, budget - short)
        if short + long_ > budget:
            short = budget // 2
            long_ = short + budget % 2
        keep_a, keep_b = (long_, short) if n1 > n2 else (short, long_)
        return _cut(a, keep_a), _cut(b, keep_b)
    if strategy == "only_second" and b is None:
        raise ValueError("truncation='only_second' needs a text pair, but no second text was given")
    which = "first" if strategy == "only_first" else "second"
    target = a if strategy == "only_first" else b
    if len(target[0]) <= to_remove:
        raise ValueError(
            f"truncation='only_{which}': the {which} sequence has {len(target[0])} tokens, too "
            f"short to remove the {to_remove} needed to fit max_length; use 'longest_first' or "
            f"a larger max_length"
        )
    cut = _cut(target, len(target[0]) - to_remove)
    return (cut, b) if strategy == "only_first" else (a, cut)


def padded_length(length: int, pad_to_multiple_of: int | None) -> int:
    """The length a row padded to `length` gets: rounded up to a multiple of
    `pad_to_multiple_of` when one is given (tensor cores like lengths in multiples of 8)."""
    if pad_to_multiple_of is None:
        return length
    if not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1:
        raise ValueError(f"pad_to_multiple_of must be a positive int, got {pad_to_multiple_of!r}")
    return -(-length // pad_to_multiple_of) * pad_to_multiple_of
