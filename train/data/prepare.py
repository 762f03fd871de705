"""Tokenizing a corpus of any size into shards, with several processes, resumably.

    prepare(tokenizer_dir, ["wiki/*.txt"], "data/wiki", workers=8)

Steps:
1. plan: list the input files (files, folders, globs), cut each into pieces of about
   `piece_bytes` that end at a line end (the main process only seeks and reads one line per
   cut), and write the plan (`prepare.json`: tokenizer fingerprint, inputs, settings).
2. tokenize: each worker process loads the tokenizer once, then for each piece reads and
   decodes its bytes by the one text reader's policy (`tokenizer.corpus.read_span`: UTF-8, a
   byte-order mark at the start of a file dropped, invalid bytes an error naming the file,
   line and byte), splits lines, tokenizes every non-blank one and writes the piece as one
   shard (`train/data/shards.py`).
   At most 2 pieces per worker are in flight, so memory is bounded by piece size x workers.
3. manifest: when every shard is there, `manifest.json` is written, last.

Running it again: with a manifest and the same plan it does nothing; with a plan from another
tokenizer, other inputs or other settings it refuses (and says which) instead of mixing two
corpora; after an interruption (no manifest yet) finished shards are checked and kept, the
rest are tokenized. A shard folder is swapped in whole (`tokenizer.atomic.atomic_dir`), so a
half-written shard never looks finished. The output folder is claimed as every command's is
(`train/outdir.py`): not inside an input, not another command's, locked for one run; a
killed run's temporaries are found by the record it left in the marker, never by their names.
Left out on purpose: deduplication, text cleaning, sentence splitting (a line is a sentence).
"""

from __future__ import annotations

import glob
import json
import os
from array import array
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

from tokenizer.atomic import atomic_write, scratch_dirs, use_scratch
from tokenizer.corpus import read_span
from train.data import shards as fmt
from train.outdir import output_dir

PLAN = "prepare.json"
KIND = "token shards"  # what the folder's marker says it holds


def input_files(sources) -> list[Path]:
    """Files named directly, every file under a folder (sorted), or a glob's matches (sorted)."""
    files = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*")
                            if p.is_file() and not any(part.startswith(".") for part in
                                                       p.relative_to(path).parts))
        elif glob.has_magic(str(source)):
            matches = sorted(Path(p) for p in glob.glob(str(source), recursive=True))
            if not matches:
                raise FileNotFoundError(f"{source}: the pattern matches no file")
            files += [p for p in matches if p.is_file()]
        else:
            raise FileNotFoundError(f"{source}: no such file, folder or pattern")
    if not files:
        raise FileNotFoundError(f"no input files in {', '.join(map(str, sources))}")
    return [p.resolve() for p in files]


def inputs_of(tokenizer_dir, sources, files: list[Path]) -> list[tuple[Path, str]]:
    """The tokenizer, every folder named and every file read: what --out keeps clear of."""
    folders = [Path(s) for s in sources if Path(s).is_dir()]
    return [(Path(tokenizer_dir), "--tokenizer"), *[(p, "FILES") for p in [*folders, *files]]]


def plan_pieces(files: list[Path], piece_bytes: int) -> list[dict]:
    """Cut every file into byte ranges of about piece_bytes, each ending after a newline."""
    pieces = []
    for path in files:
        size = path.stat().st_size
        with open(path, "rb") as f:
            start = 0
            while start < size:
                f.seek(min(start + piece_bytes, size))
                f.readline()  # run on to the end of the line the cut fell in
                end = min(f.tell(), size)
                pieces.append({"path": str(path), "start": start, "end": end})
                start = end
    return pieces


def _after_blank_line(f, start: int, window: int = 1 << 16) -> bool:
    """True when the byte at `start` begins a file or follows a blank line."""
    if start == 0:
        return True
    f.seek(max(0, start - window))
    before = f.read(start - max(0, start - window))
    cut = before.rfind(b"\n", 0, len(before) - 1)
    if cut < 0 and start > window:
        return False  # the previous line is longer than the window: not blank
    return not before[cut + 1:].decode("utf-8", errors="replace").strip()


def tokenize_text(tokenizer, text: str, first_starts_doc: bool) -> dict[str, np.ndarray]:
    """The shard arrays of one piece of text (see `train/data/shards.py`)."""
    dtype = fmt.id_dtype(tokenizer.vocab_size)
    ids, words = array("I"), array("q")
    lines, doc_starts = array("q", [0]), array("q")
    new_doc = first_starts_doc
    encode = tokenizer._encode_pieces  # pieces without special tokens: the shard's content
    for line in text.splitlines():
        if not line.strip():
            new_doc = True
            continue
        if new_doc:
            doc_starts.append(len(lines) - 1)
            new_doc = False
        _, line_ids, _, line_words = encode(line)
        ids.extend(line_ids)
        words.extend(line_words)
        lines.append(len(ids))
    words_np = np.frombuffer(words, dtype=np.int64)
    starts = np.ones(len(ids), dtype=np.uint8)
    starts[1:] = words_np[1:] != words_np[:-1]
    line_np = np.frombuffer(lines, dtype=np.int64)
    starts[line_np[:-1][np.diff(line_np) > 0]] = 1  # every line opens a word
    return {"ids": np.frombuffer(ids, dtype=np.uint32).astype(dtype), "word_starts": starts,
            "lines": line_np.copy(), "doc_starts": np.frombuffer(doc_starts, np.int64).copy()}


_TOKENIZER = None


def _load_worker_tokenizer(tokenizer_dir: str, scratch: dict) -> None:
    """A worker's start: the tokenizer, and where the main process's claim puts temporaries
    (a worker started by spawn rather than fork would not know)."""
    global _TOKENIZER
    from tokenizer import load_tokenizer

    _TOKENIZER = load_tokenizer(tokenizer_dir)
    for folder, where in scratch.items():
        use_scratch(folder, where)


def tokenize_piece(out: str, index: int, piece: dict) -> dict:
    """Read, decode, tokenize and write piece `index` as a shard; return its meta."""
    with open(piece["path"], "rb") as f:
        first_starts_doc = _after_blank_line(f, piece["start"])
    text = read_span(piece["path"], piece["start"], piece["end"])
    arrays = tokenize_text(_TOKENIZER, text, first_starts_doc)
    meta = {"name": fmt.shard_name(index), "piece": piece, "bytes": piece["end"] - piece["start"]}
    return fmt.write_shard(Path(out) / meta["name"], arrays, meta)


def _plan(tokenizer_dir: Path, tokenizer, files: list[Path], piece_bytes: int) -> dict:
    return {
        "format": fmt.FORMAT,
        "tokenizer": {"path": str(tokenizer_dir), "class": type(tokenizer).__name__,
                      "fingerprint": fmt.tokenizer_fingerprint(tokenizer_dir),
                      "vocab_size": tokenizer.vocab_size},
        "dtype": fmt.id_dtype(tokenizer.vocab_size).name,
        "settings": {"piece_bytes": piece_bytes},
        "inputs": [{"path": str(p), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
                   for p in files],
    }


def _check_same_plan(out: Path, old: dict, new: dict, what: str) -> None:
    """Refuse to mix: say which part of an earlier plan differs from this run's."""
    if old["tokenizer"]["fingerprint"] != new["tokenizer"]["fingerprint"]:
        raise fmt.ShardError(
            f"{out} holds {what} tokenized with {old['tokenizer']['path']} (fingerprint "
            f"{old['tokenizer']['fingerprint'][:12]}); --tokenizer {new['tokenizer']['path']} "
            f"is a different tokenizer (fingerprint {new['tokenizer']['fingerprint'][:12]}); "
            f"choose another --out")
    for key in ("format", "settings", "inputs"):
        if old.get(key) != new[key]:
            raise fmt.ShardError(f"{out} holds {what} made from other {key} than this run's "
                                 f"(a file was added, removed or changed?); choose another --out")


def _start(out: Path, plan: dict) -> bool:
    """Check `out` against an earlier run; True when it is already finished (nothing to do)."""
    if (out / fmt.MANIFEST).is_file():
        manifest = json.loads((out / fmt.MANIFEST).read_text(encoding="utf-8"))
        _check_same_plan(out, manifest, plan, "finished shards")
        return True
    if (out / PLAN).is_file():
        _check_same_plan(out, json.loads((out / PLAN).read_text(encoding="utf-8")), plan,
                         "an interrupted prepare")
    atomic_write(out / PLAN, lambda tmp: tmp.write_text(json.dumps(plan, indent=1), "utf-8"))
    return False


def _finished(out: Path, index: int, piece: dict) -> dict | None:
    """The meta of shard `index` when an earlier run finished it for this very piece."""
    meta = fmt.read_meta(out / fmt.shard_name(index))
    if meta is None or meta.get("piece") != piece:
        return None
    folder = out / meta["name"]
    ok = all(fmt.sha256_file(folder / f"{n}.npy") == meta["sha256"][n] for n in fmt.ARRAYS)
    return meta if ok else None


def prepare(tokenizer_dir, sources, out, *, workers: int | None = None,
            piece_bytes: int = 32 << 20, progress: bool = True, overwrite: bool = False) -> dict:
    """Tokenize `sources` into shards under `out`; return the manifest (see module docstring).
    `out` is claimed for the run (`train/outdir.py`; `overwrite` as the CLI's --overwrite)."""
    from tokenizer import load_tokenizer

    tokenizer_dir, out = Path(tokenizer_dir).resolve(), Path(out)
    files = input_files(sources)
    tokenizer = load_tokenizer(tokenizer_dir)  # a folder without one: refused before the claim
    with output_dir(out, "--out", overwrite, command="prepare-data", kind=KIND,
                    inputs=inputs_of(tokenizer_dir, sources, files)):
        return _prepare(tokenizer, tokenizer_dir, files, out, workers, piece_bytes, progress)


def _prepare(tokenizer, tokenizer_dir: Path, files: list[Path], out: Path, workers: int | None,
             piece_bytes: int, progress: bool) -> dict:
    """`prepare`'s work, inside the claim: plan, tokenize what is not finished, manifest."""
    from tqdm.auto import tqdm

    plan = _plan(tokenizer_dir, tokenizer, files, piece_bytes)
    if _start(out, plan):
        return fmt.read_manifest(out)
    pieces = plan_pieces(files, piece_bytes)
    metas = {i: m for i, p in enumerate(pieces) if (m := _finished(out, i, p)) is not None}
    todo = [i for i in range(len(pieces)) if i not in metas]
    bar = tqdm(total=sum(p["end"] - p["start"] for p in pieces), unit="B", unit_scale=True,
               unit_divisor=1024, desc="prepare", disable=not progress, dynamic_ncols=True,
               initial=sum(m["bytes"] for m in metas.values()))
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1:
        global _TOKENIZER
        _TOKENIZER = tokenizer
        for i in todo:
            metas[i] = tokenize_piece(str(out), i, pieces[i])
            bar.update(metas[i]["bytes"])
    else:
        with ProcessPoolExecutor(workers, initializer=_load_worker_tokenizer,
                                 initargs=(str(tokenizer_dir), scratch_dirs())) as pool:
            running, queue = set(), list(reversed(todo))
            while queue or running:
                while queue and len(running) < 2 * workers:  # bounded: memory ~ pieces in flight
                    i = queue.pop()
                    running.add(pool.submit(tokenize_piece, str(out), i, pieces[i]))
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    meta = future.result()
                    metas[int(meta["name"].split("-")[1])] = meta
                    bar.update(meta["bytes"])
    bar.close()
    shards = [metas[i] for i in range(len(pieces))]
    manifest = plan | {"shards": shards, "n_tokens": sum(s["n_tokens"] for s in shards),
                       "n_lines": sum(s["n_lines"] for s in shards),
                       "n_docs": sum(s["n_docs"] for s in shards),
                       "bytes": sum(s["bytes"] for s in shards)}
    fmt.write_manifest(out, manifest)
    return manifest
