"""Saying where a file stops being UTF-8: the file, the line and the byte, not a decoder offset.

Python's decoder reports a position inside the chunk it was decoding (`can't decode byte 0xff
in position 4230`), which names neither the file nor a line a user can open. These helpers
read the file again as bytes, line by line, to find the first line that does not decode.
Left out on purpose: guessing the real encoding (cp1252, latin-1): that is the user's choice.
"""

from __future__ import annotations

import os
from pathlib import Path


def first_bad_line(path: str | os.PathLike) -> tuple[int, int, bytes] | None:
    """(line number from 1, column in bytes from 1, the offending bytes) of the first line
    that is not valid UTF-8, or None if the whole file is."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return number, e.start + 1, raw[e.start:e.end]
    return None


def utf8_message(path: str | os.PathLike, error: UnicodeDecodeError | None = None) -> str:
    """`FILE:LINE: ...` for a file that failed to decode (a whole-file check if no error)."""
    found = first_bad_line(path)
    if found is None:  # the decoder failed on a sequence split across lines; rare
        where = f"{path}" + (f" (byte {error.start})" if error is not None else "")
        return f"{where}: not valid UTF-8; save the file as UTF-8"
    line, column, data = found
    return (f"{Path(path)}:{line}: not valid UTF-8 (byte {data.hex(' ')} at column {column}); "
            f"save the file as UTF-8")
