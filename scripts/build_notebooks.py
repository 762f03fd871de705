"""Build a Jupyter notebook (.ipynb) for every lesson in examples/, from its .py file.

    python scripts/build_notebooks.py [--out runs/notebooks] [--repo-url URL]

The lessons are jupytext "percent" scripts (`# %%` code cells, `# %% [markdown]` text cells),
and they stay the only source: the notebooks are built, never edited by hand, and not
committed (they would repeat every lesson and drift from it; runs/ is git-ignored). Each
notebook gets one cell in front of the lesson that makes it runnable where learners open it:

  * inside a checkout (Jupyter started in examples/, or CI), it finds `_course` and does
    nothing but check that the data folder is there;
  * on Colab or a fresh Jupyter with a network, it clones the repository, installs it with
    the notebook extra, moves into its examples/ folder, and fetches the course data, every
    file checked against its sha256 (examples/_data.py).

Which repository: --repo-url, else `Repository` under `[project.urls]` in pyproject.toml (set
it there once), else this checkout's git `origin`. Colab clones over https without keys, so
the builder warns when the URL is anything else (a local path, an SSH remote) or missing.

CI builds the notebooks and runs each in quick mode in a real kernel (tests/test_notebooks.py).
Left out on purpose: executed outputs stored in the notebooks (run them to see).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, as a package (the notebook extra has it)
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "examples"
sys.path.insert(0, str(REPO))

from tokenizer.atomic import atomic_write  # noqa: E402  (after the path insert above)

SETUP = '''\
# Setup (added by scripts/build_notebooks.py): inside a checkout this only checks the data;
# on Colab or a fresh Jupyter it installs minibert and fetches the course data (checksummed).
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO_URL = {repo_url!r}
if importlib.util.find_spec("_course") is None and Path("examples/_course.py").is_file():
    os.chdir("examples")  # Jupyter started at a checkout's root
    sys.path.insert(0, os.getcwd())
if importlib.util.find_spec("_course") is None:  # not in a checkout at all
    if not REPO_URL:
        raise SystemExit("clone minibert, `pip install -e '.[notebook]'`, and open this "
                         "notebook from its examples/ folder")
    checkout = Path("minibert").resolve()
    if not checkout.is_dir():
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, str(checkout)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e",
                    f"{{checkout}}[notebook]"], check=True)
    importlib.invalidate_caches()  # so this kernel sees what pip just installed
    os.chdir(checkout / "examples")
    sys.path.insert(0, str(checkout / "examples"))
import _course

print("data:", _course.ensure_data())
'''


def origin_url(repo: Path = REPO) -> str:
    """The checkout's `origin` remote, or "" when there is none."""
    proc = subprocess.run(["git", "-C", str(repo), "remote", "get-url", "origin"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def default_repo_url(repo: Path = REPO) -> tuple[str, str]:
    """(url, where it came from): pyproject's [project.urls] Repository, else git origin."""
    with open(repo / "pyproject.toml", "rb") as f:
        urls = tomllib.load(f).get("project", {}).get("urls", {})
    if urls.get("Repository"):
        return urls["Repository"], "pyproject.toml [project.urls] Repository"
    return origin_url(repo), "git remote origin"


def url_warning(url: str, source: str) -> str | None:
    """Why a fresh Colab could not clone `url` (None when it can: an https URL)."""
    if url.startswith("https://"):
        return None
    fix = ("set Repository under [project.urls] in pyproject.toml, or pass --repo-url, to an "
           "https URL anyone can clone")
    if not url:
        return ("no repository URL (pyproject.toml names none and this checkout has no git "
                f"origin): on Colab the notebooks cannot install minibert; {fix}")
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+)", url)  # git@host:owner/name.git
    hint = f" (its https form is likely https://{scp[1]}/{scp[2]})" if scp else ""
    return (f"the notebooks will clone {url!r} (from {source}), which Colab cannot: it needs an "
            f"https URL{hint}; {fix}")


def build(lesson: Path, out: Path, repo_url: str) -> Path:
    """Write `out/<lesson>.ipynb`: the setup cell, then the lesson's own cells."""
    import jupytext
    import nbformat

    notebook = jupytext.read(lesson, fmt="py:percent")
    setup = nbformat.v4.new_code_cell(SETUP.format(repo_url=repo_url))
    notebook.cells.insert(0, setup)
    notebook.metadata.pop("jupytext", None)  # a built notebook, not a paired one
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.validate(notebook)
    return atomic_write(out / f"{lesson.stem}.ipynb",
                        lambda tmp: nbformat.write(notebook, str(tmp)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "notebooks"),
                        help="folder for the .ipynb files (default runs/notebooks, git-ignored)")
    parser.add_argument("--repo-url", default=None,
                        help="what a fresh Colab clones (default: pyproject's [project.urls] "
                             "Repository, else this checkout's origin)")
    args = parser.parse_args(argv)
    try:
        import jupytext  # noqa: F401
    except ImportError:
        raise SystemExit("building notebooks needs jupytext: "
                         "pip install -e '.[notebook]'") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.repo_url is None:
        repo_url, source = default_repo_url()
        warning = url_warning(repo_url, source)
    else:  # asked for by name; "" means no clone at all, on purpose
        repo_url = args.repo_url
        warning = url_warning(repo_url, "--repo-url") if repo_url else None
    if warning:
        print(f"build_notebooks: warning: {warning}", file=sys.stderr)
    for lesson in sorted(LESSONS.glob("[0-9][0-9]_*.py")):
        print("wrote", build(lesson, out, repo_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
