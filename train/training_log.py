"""Training metrics as JSON Lines: one object per line, appended as the run goes.

JSONL survives a crash (every line already written stays readable), is greppable, and loads
into pandas with `read_json(..., lines=True)`. Each record carries a `step`; when a run is
resumed from a checkpoint, lines logged after that checkpoint (the steps that will be run
again) are dropped first, so the file never holds the same step twice.

Left out on purpose: TensorBoard / wandb writers, buffering (a line is flushed at once).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from tokenizer.atomic import atomic_write


class MetricsLog:
    """Append-only JSONL file of metric records (dicts of plain values)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict) -> None:
        clean = {k: _plain(v, k) for k, v in record.items()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(clean) + "\n")
            f.flush()

    def read(self) -> list[dict]:
        return read_metrics(self.path)

    def truncate_after(self, step: int) -> None:
        """Keep only the records with `step <= step` (used when resuming)."""
        if not self.path.exists():
            return
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _plain(value, key: str):
    if hasattr(value, "item"):  # a 0-d tensor or numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN/inf; keep it readable instead of crashing
    if not isinstance(value, (int, float, str, bool, type(None))):
        raise TypeError(f"metric {key!r}: expected a number or string, got {type(value).__name__}")
    return value


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """All records of a JSONL metrics file; a malformed line is reported by number."""
    path = Path(path)
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not a JSON object ({e.msg})") from None
            if not isinstance(record, dict):
                raise TypeError(f"{path}:{lineno}: expected a JSON object, got {line.strip()[:40]}")
            records.append(record)
    return records
