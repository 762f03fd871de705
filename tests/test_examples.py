"""Smoke test of the course: every lesson in examples/ runs in quick mode, as a learner runs it.

Each lesson is started as a subprocess (`python examples/NN_name.py --quick --out DIR`, with
MINIBERT_QUICK=1 and two threads), so what is tested is exactly what the README tells people
to type. Beyond "it exits with 0", each test checks the artefacts the lesson promises (PNGs,
saved models) and that the numbers it prints are where the lesson says they should be.

Each lesson also ends with the output of a quick run ("## Expected output, quick mode"), and
every test compares a fresh quick run with it line by line (`compare_with_expected`): the
same lines and the same text; integers equal; decimals within 2 % or two units of the last
printed digit (values below 1e-4 are rounding noise and all agree); times and speeds (a
number followed by s, ms, tokens/s, or h:mm:ss) not compared. Lines a lesson marks in
LOOSE (text sampled from a barely trained model, where the order of near-equal
probabilities can flip between CPUs) need only be there. The pasted output cannot drift
from the code.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "examples"


def run_lesson(name: str, out: Path, data: Path, quick: bool = True) -> str:
    """Run one lesson (in quick mode unless asked); return its stdout (fail with its output if
    it fails)."""
    env = {**os.environ, "MINIBERT_QUICK": "1" if quick else "0", "MINIBERT_DATA": str(data),
           "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "2", "TQDM_DISABLE": "1",
           "PYTHONIOENCODING": "utf-8"}
    argv = [sys.executable, str(LESSONS / name), *(["--quick"] if quick else []), "--out", str(out)]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600 if quick else 3600,
                          stdin=subprocess.DEVNULL, check=False)  # no terminal: nothing asks
    assert proc.returncode == 0, (f"{name} exited with {proc.returncode}\n--- stdout\n"
                                  f"{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc.stdout


QUICK_HEADING = "## Expected output, quick mode"
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?")
CLOCK = re.compile(r"\b\d+:\d\d:\d\d\b")
TIMING = re.compile(r"^ ?(?:s\b|ms\b|tokens/s\b|it/s\b)")
# lesson -> lines (a regex on the expected line) whose content may differ between CPUs
LOOSE = {
    "06": re.compile(r"^ +\d\.\d{4} "),  # fill-mask guesses of a 6-step model: near-ties
    "09": re.compile(r"^ +(greedy|sampled #\d) +:"),  # samples of a 6-step model
}


def expected_quick(name: str) -> list[str]:
    """The lines between the fences of the lesson's quick-mode expected-output block."""
    text = (LESSONS / name).read_text(encoding="utf-8")
    assert QUICK_HEADING in text, f"{name}: no '{QUICK_HEADING}' block"
    block = text.split(QUICK_HEADING, 1)[1].split("# ```\n", 2)[1]
    return [line[2:] if line.startswith("# ") else line[1:] for line in block.splitlines()]


def _same_number(want: str, got: str, unit_after: str) -> bool:
    if TIMING.match(unit_after):
        return True
    if not any(c in want for c in ".e"):
        return want == got
    w, g = float(want.replace(",", "")), float(got.replace(",", ""))
    decimals = len(want.split(".")[1].split("e")[0]) if "." in want else 0
    if "e" in want.lower():  # scientific: compare relative only
        return abs(w) < 1e-4 and abs(g) < 1e-4 or abs(w - g) <= 0.02 * abs(w)
    return abs(w - g) <= max(0.02 * abs(w), 2 * 10 ** -decimals)


def same_line(want: str, got: str) -> bool:
    want, got = CLOCK.sub("<clock>", want), CLOCK.sub("<clock>", got)
    w_text, g_text = NUMBER.split(want), NUMBER.split(got)
    if w_text != g_text:
        return False
    return all(_same_number(w, g, after) for w, g, after in
               zip(NUMBER.findall(want), NUMBER.findall(got), w_text[1:]))


def compare_with_expected(name: str, out: str) -> None:
    """Fail unless `out` matches the lesson's pasted quick-mode output (see the docstring)."""
    # trailing spaces are invisible in a pasted block (and the linter strips them)
    want = [w.rstrip() for w in expected_quick(name)]
    got = [g.rstrip() for g in out.rstrip("\n").splitlines()]
    loose = LOOSE.get(name[:2])
    bad = [f"line {i + 1}:\n  expected {w!r}\n  got      {g!r}"
           for i, (w, g) in enumerate(zip(want, got))
           if not (loose is not None and loose.match(w) and loose.match(g)) and not same_line(w, g)]
    assert len(want) == len(got) and not bad, (
        f"{name}: the quick run no longer prints the lesson's expected output "
        f"({len(got)} lines, expected {len(want)}); update the block or the code:\n"
        + "\n".join(bad[:8]))


def number(pattern: str, text: str) -> float:
    """The first group of `pattern` in `text` as a float (commas and % removed)."""
    m = re.search(pattern, text)
    assert m, f"pattern {pattern!r} not found in the lesson's output:\n{text[-3000:]}"
    return float(m.group(1).replace(",", "").rstrip("%"))


def png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert path.stat().st_size > 5_000, f"{path} is suspiciously small"


def saved_model(folder: Path) -> None:
    for name in ("config.json", "model.safetensors"):
        assert (folder / name).is_file(), f"{folder / name} was not written"


def test_every_lesson_has_a_test_and_the_course_shape():
    lessons = sorted(p.name for p in LESSONS.glob("[0-9][0-9]_*.py"))
    assert len(lessons) == 9, lessons
    tested = {n.split("_")[1] for n in globals() if n.startswith("test_lesson")}
    assert tested == {f"lesson{p[:2]}" for p in lessons}, (tested, lessons)
    for name in lessons:
        text = (LESSONS / name).read_text(encoding="utf-8")
        assert text.startswith("# %% [markdown]\n# # Lesson"), (
            f"{name}: must open with its title cell"
        )
        assert "Read alongside" in text and "## Exercises" in text, (
            f"{name}: reading list, exercises"
        )
        block = text.split("## Expected output", 1)
        assert len(block) == 2 and block[1].count("\n# ") > 5, f"{name}: expected output missing"
        assert len(expected_quick(name)) > 5, f"{name}: quick-mode expected output missing"


def check_lesson01(out: str, folder: Path) -> None:
    assert "vocab size: 30522" in out
    assert "'[UNK]'" in out and "'##cend'" in out and "'ĠCrit'" in out
    assert "decode round trip: Kant's Königsberg 🤗" in out
    assert 1_000 < number(r"BPE: (\d+) tokens", out) <= 52_000
    assert "first 12 merges: ['Ġt', 'he'" in out
    assert number(r"WordPiece: (\d+) tokens", out) > 1_000


def test_lesson01_tokenization(tmp_path, data):
    out = run_lesson("01_tokenization.py", tmp_path, data)
    check_lesson01(out, tmp_path)
    compare_with_expected("01_tokenization.py", out)


def check_lesson02(out: str, folder: Path) -> None:
    assert number(r"by hand - model.embeddings\| = (\S+)", out) < 1e-4
    assert number(r"by hand - model's probabilities\| = (\S+)", out) < 1e-5
    assert number(r"\|SDPA - explicit\| += (\S+)", out) < 1e-4
    assert number(r"\|padded batch - alone\| \(sentence 2\) = (\S+)", out) < 1e-4
    assert 0.0 < number(r"cosine of the two inputs (\S+)", out) < 0.999
    for layer in (0, 5):
        png(folder / f"attention_layer{layer}.png")
    page = (folder / "explorer.html").read_text(encoding="utf-8")
    assert '"kind":"encoder"' in page and '"tokens":["[CLS]","the","animal"' in page


def test_lesson02_embeddings_and_attention(tmp_path, data, minilm_dir):
    out = run_lesson("02_embeddings_and_attention.py", tmp_path, data)
    check_lesson02(out, tmp_path)
    compare_with_expected("02_embeddings_and_attention.py", out)


def check_lesson03(out: str, folder: Path) -> None:
    assert "total from the formulas: 83,504,416;  model.num_parameters(): 83,504,416" in out
    assert "total from the formulas: 109,482,240;  model.num_parameters(): 109,482,240" in out
    assert "decoder weight is the word-embedding tensor: True" in out


def test_lesson03_counting_parameters(tmp_path, data):
    out = run_lesson("03_counting_parameters.py", tmp_path, data)
    check_lesson03(out, tmp_path)
    compare_with_expected("03_counting_parameters.py", out)


def check_lesson04(out: str, folder: Path) -> None:
    assert 13.0 < number(r"selected = ([\d.]+) %", out) < 17.0
    assert 76.0 < number(r"\[MASK\] ([\d.]+) %", out) < 84.0
    assert 7.0 < number(r"random ([\d.]+) %", out) < 13.0
    assert number(r"special or padding positions changed: (\d+)", out) == 0
    assert number(r"whole_word=True : multi-piece words touched +[\d,]+, of them only partly "
                  r"masked +(\d+)", out) == 0
    assert number(r"whole_word=False: multi-piece words touched +[\d,]+, of them only partly "
                  r"masked +([\d,]+)", out) > 0
    png(folder / "masking.png")


def test_lesson04_masked_language_modelling(tmp_path, data):
    out = run_lesson("04_masked_language_modelling.py", tmp_path, data)
    check_lesson04(out, tmp_path)
    compare_with_expected("04_masked_language_modelling.py", out)


def check_lesson05(out: str, folder: Path) -> None:
    is_next, is_random = number(r"IsNext ([\d,]+)", out), number(r"IsRandom ([\d,]+)", out)
    assert is_next > 50 and is_random > 50
    assert 0.5 < number(r"NSP ([\d.]+)", out) < 0.9  # about ln 2 untrained
    assert 9.0 < number(r"MLM ([\d.]+) \+", out) < 11.5  # about ln 30522 untrained
    png(folder / "nsp_lengths.png")


def test_lesson05_next_sentence_prediction(tmp_path, data):
    out = run_lesson("05_next_sentence_prediction.py", tmp_path, data)
    check_lesson05(out, tmp_path)
    compare_with_expected("05_next_sentence_prediction.py", out)


def check_lesson06(out: str, folder: Path) -> None:
    uniform = number(r"uniform guess: ln\(\d+\) = ([\d.]+)", out)
    assert abs(number(r"steps: loss ([\d.]+) ->", out) - uniform) < 0.6  # untrained: ln(V)
    unigram = number(r"unigram baseline \(token frequencies alone\): ([\d.]+)", out)
    assert 0 < unigram < uniform
    # The best loss from the scored token alone: no worse than staking half on the token seen
    # (0.9 x unigram + 0.2 ln 2), no better than knowing which shown tokens were kept (0.9 x).
    copy = number(r"copy line: ([\d.]+)", out)
    assert 0.9 * unigram - 0.01 < copy < 0.9 * unigram + 0.2 * math.log(2) + 0.01, (copy, unigram)
    saved_model(folder)
    assert (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    png(folder / "loss_curve.png")
    png(folder / "loss_vs_unigram.png")
    assert out.count("Human thinking involves human") >= 4  # the prompt and its 3 fillings


def test_lesson06_pretraining_kantaibert(tmp_path, data):
    out = run_lesson("06_pretraining_kantaibert.py", tmp_path, data)
    check_lesson06(out, tmp_path)
    compare_with_expected("06_pretraining_kantaibert.py", out)


@pytest.mark.slow
def test_lesson06_full_mode_reads_the_context(tmp_path, data):
    """The lesson's promise: the loss ends well under the copy line, the best a model can do
    from the token at the scored position alone, so it reads the context."""
    out = run_lesson("06_pretraining_kantaibert.py", tmp_path, data, quick=False)
    check_lesson06(out, tmp_path)
    below_copy = number(r"([-+][\d.]+) against the copy line", out)
    assert below_copy < -0.3, out[-3000:]


def check_lesson07(out: str, folder: Path) -> None:
    assert number(r"-> loaded (\d+), newly initialised 0", out) >= 100
    assert "newly initialised: ['classifier.weight', 'classifier.bias']" in out
    if "max |minibert - transformers|" in out:
        assert number(r"on last_hidden_state = (\S+)", out) < 1e-4
    rows = re.findall(r"^A man is playing a guitar\.\s+([-\d. ]+)$", out, re.MULTILINE)
    sims = [float(x) for x in rows[0].split()]
    assert sims[1] > 0.4 > sims[2], sims  # guitar ~ instrument, not ~ the stock market
    assert number(r"reloaded: newly initialised (\d+)", out) == 0
    assert number(r"max difference (\S+)", out) < 1e-6
    saved_model(folder / "minilm-copy")


def test_lesson07_loading_real_weights(tmp_path, data, minilm_dir):
    out = run_lesson("07_loading_real_weights.py", tmp_path, data)
    check_lesson07(out, tmp_path)
    compare_with_expected("07_loading_real_weights.py", out)


def check_lesson08(out: str, folder: Path) -> None:
    assert "always 'acceptable'  accuracy 0.686   MCC +0.000" in out
    assert "the truth            accuracy 1.000   MCC +1.000" in out
    assert -1.0 <= number(r"MCC (-?[\d.]+) \(scikit-learn", out) <= 1.0
    assert len(re.findall(r"^P\(acceptable\) = (0\.\d\d|1\.00)  ", out, re.MULTILINE)) == 5
    saved_model(folder / "checkpoint")
    png(folder / "loss_curve.png")
    png(folder / "confusion_out_of_domain_dev.png")


def test_lesson08_finetuning_cola(tmp_path, data, minilm_dir):
    out = run_lesson("08_finetuning_cola.py", tmp_path, data)
    check_lesson08(out, tmp_path)
    compare_with_expected("08_finetuning_cola.py", out)


def check_lesson09(out: str, folder: Path) -> None:
    head = out.split("above the diagonal is the future, always 0:\n", 1)[1].split("\n\n", 1)[0]
    matrix = [[float(x) for x in line.split()] for line in head.splitlines()]
    assert len(matrix) > 3 and all(len(row) == len(matrix) for row in matrix)
    assert all(matrix[i][j] == 0.0 for i in range(len(matrix)) for j in range(i + 1, len(matrix)))
    assert all(abs(sum(row) - 1) < 0.05 for row in matrix)
    vocab = number(r"a uniform guess: (\d+)", out)
    assert 1 < number(r"perplexity (\d+)", out) <= vocab * 1.5
    assert out.count("greedy     : ") == 3 and out.count("sampled #") == 6
    saved_model(folder)
    png(folder / "loss_curve.png")


def test_lesson09_generation_causal_roberta(tmp_path, data):
    out = run_lesson("09_generation_causal_roberta.py", tmp_path, data)
    check_lesson09(out, tmp_path)
    compare_with_expected("09_generation_causal_roberta.py", out)
