"""The byte level of GPT-2's tokenizer: the byte <-> unicode table and the pre-tokenizer.

Byte-level BPE works on the UTF-8 bytes of a text, so that any string can be encoded with a
base vocabulary of just 256 symbols and nothing is ever unknown. Merges and vocab files are
text, though, so each byte is shown as one printable unicode character: the 188 printable
bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves, the other 68 (controls, space,
DEL, NBSP, soft hyphen...) are moved to 256, 257, ... in byte order. A space (byte 32) is the
33rd such byte and becomes chr(256 + 32) = `Ġ`, a newline `Ċ`.

Before BPE the text is cut into "words" with GPT-2's regular expression (Radford et al. 2019,
openai/gpt-2 encoder.py): case-sensitive English contractions, letters with an optional
leading space, numbers with an optional leading space, other symbols with an optional leading
space, and whitespace, where a run of spaces leaves its last space to the word that follows.
Merges never cross these word boundaries. The pattern needs `\\p{L}` / `\\p{N}`, hence `regex`.

Follows: openai/gpt-2 `bytes_to_unicode` and its pattern; Hugging Face `tokenizers`
ByteLevel pre-tokenizer (same pattern, same table). Unicode versions: `regex`'s tables (Unicode
17) are newer than the Rust library's, so recent letters such as U+088F split as letters here
and as symbols there; the policy is written once in the package docstring,
tokenizer/__init__.py. Left out: `use_regex=False`, trimming of offsets (bpe.py does that).
"""

from __future__ import annotations

from functools import lru_cache

import regex

# Unlike `re`, `regex` has \p{L} (any letter) and \p{N} (any number); `\s` follows Unicode's
# White_Space property, as Oniguruma's does in the Rust implementation.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT2_SPLIT = regex.compile(GPT2_PATTERN)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """Byte value (0..255) -> the printable character that stands for it."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    assert len(set(table.values())) == 256, "byte table must be a bijection"
    return table


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    """The inverse table: printable character -> byte value."""
    return {c: b for b, c in bytes_to_unicode().items()}


# Lookup lists are faster than dicts in the hot loops below.
_B2U = [bytes_to_unicode()[b] for b in range(256)]


def alphabet() -> list[str]:
    """The 256 byte characters, in code-point order (the order HF's trainer gives them ids)."""
    return sorted(_B2U)


def to_byte_chars(text: str) -> str:
    """UTF-8 encode `text` and spell each byte with its printable character."""
    b2u = _B2U
    return "".join([b2u[b] for b in text.encode("utf-8")])


def from_byte_chars(chars: str, errors: str = "replace") -> str:
    """Undo `to_byte_chars`: printable characters -> bytes -> UTF-8 text.

    A token sequence cut in the middle of a multi-byte character decodes with U+FFFD under
    the default errors="replace" (what GPT-2 and Hugging Face do); pass "strict" to raise.
    A character outside the 256-byte table (typed by hand, not from a vocabulary) stands for
    itself, its own UTF-8 bytes, as Hugging Face's ByteLevel decoder keeps it.
    """
    u2b = unicode_to_bytes()
    data = bytearray()
    for char in chars:
        byte = u2b.get(char)
        data += char.encode("utf-8") if byte is None else bytes((byte,))
    return data.decode("utf-8", errors=errors)


def pre_tokenize(text: str) -> list[str]:
    """Cut `text` into GPT-2 words (raw text, not yet byte-mapped).

    The pattern's alternatives cover every character (each one is whitespace, a letter, a
    number or "other"), so the words concatenate back to `text` exactly.
    """
    return GPT2_SPLIT.findall(text)
