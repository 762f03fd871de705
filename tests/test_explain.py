"""The attention explorer's data and page (train/explain.py, train/explain_page.py, and
`minibert explain`), on tiny random models and on the real all-MiniLM-L6-v2.

The page's behaviour in a browser is tested in test_browser.py; here: that the numbers in the
page are the model's own, that predictions for a position equal a fill-mask run with that
position masked, that a classifier's probabilities are its softmax, and that the page carries
no external resource and cannot be broken out of by the sentence.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from tiny_models import save_tiny

from tokenizer import load_tokenizer
from train.cli import main
from train.explain import explain, load_for_explain
from train.explain_page import render_page

TEXT = "The animal didn't cross the street because it was too tired."


def page_data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="explain-data">(.*?)</script>',
                      page, re.DOTALL)
    assert block, "the page has no data block"
    return json.loads(block.group(1))


def test_masked_lm_page_has_every_head_and_the_masked_guesses(tmp_path):
    folder = save_tiny(tmp_path / "mlm")
    model, tok = load_for_explain(folder), load_tokenizer(folder)
    assert type(model).__name__ == "BertForMaskedLM"
    data = explain(model, tok, TEXT, top_k=3)
    T = len(data["tokens"])
    A = torch.tensor(data["attentions"])
    assert A.shape == (2, 4, T, T)
    assert torch.allclose(A.sum(-1), torch.ones(2, 4, T), atol=3e-3)  # rounded to 3 decimals
    with torch.no_grad():
        ref = model(torch.tensor([tok.encode(TEXT).ids]), output_attentions=True).attentions
    assert torch.allclose(A[1, 2], ref[1][0, 2], atol=6e-4)
    assert data["predictions"][0] is None and data["predictions"][-1] is None  # [CLS], [SEP]
    i = data["tokens"].index("street")
    ids = tok.encode(TEXT).ids
    ids[i] = tok.mask_token_id
    with torch.no_grad():
        probs = model(torch.tensor([ids])).logits[0, i].softmax(-1)
    best = probs.topk(3)
    assert [t for t, _ in data["predictions"][i]] == [tok.decode([j]) for j in best.indices]
    assert data["predictions"][i][0][1] == pytest.approx(best.values[0].item(), abs=1e-4)


def test_classifier_page_shows_labels_and_pair_segments(tmp_path):
    folder = save_tiny(tmp_path / "clf", kind="classifier")
    model, tok = load_for_explain(folder), load_tokenizer(folder)
    data = explain(model, tok, "the cat sat", pair="a dog ran")
    assert data["kind"] == "classifier" and "predictions" not in data
    assert [n for n, _ in data["labels"]] == ["unacceptable", "acceptable"]
    enc = tok.encode("the cat sat", "a dog ran")
    with torch.no_grad():
        probs = model(torch.tensor([enc.ids]), token_type_ids=torch.tensor([enc.type_ids])
                      ).logits[0].softmax(-1)
    assert [p for _, p in data["labels"]] == pytest.approx(probs.tolist(), abs=1e-4)
    assert data["segments"] == enc.type_ids and 1 in data["segments"]


def test_page_is_self_contained_and_escapes_the_sentence(tmp_path):
    folder = save_tiny(tmp_path / "mlm")
    text = "the cat </script><script>alert(1)</script> sat"
    data = explain(load_for_explain(folder), load_tokenizer(folder), text)
    page = render_page(data)
    assert page.count("<script") == 2 and page.count("</script>") == 2
    # the SVG namespace is a name, not an address anything is fetched from
    fetches = page.replace("'http://www.w3.org/2000/svg'", "")
    assert not re.search(r"""(src|href)\s*=|@import|url\(|https?://""", fetches)
    assert page_data(page)["text"] == text


def test_cli_writes_the_page_for_minilm(tmp_path, minilm_dir, capsys):
    out = tmp_path / "page.html"
    assert main(["explain", str(minilm_dir), TEXT, "--out", str(out)]) == 0
    assert "16 tokens, 6 layers x 12 heads, encoder" in capsys.readouterr().out
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["tokens"][10] == "it" and "predictions" not in data
    assert len(data["attentions"]) == 6 and len(data["attentions"][0]) == 12


def test_explain_refuses_an_empty_sentence(tmp_path):
    folder = save_tiny(tmp_path / "mlm")
    with pytest.raises(ValueError, match="non-empty"):
        explain(load_for_explain(folder), load_tokenizer(folder), "  ")
