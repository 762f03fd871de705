"""transformers' and tokenizers' calling conventions on minibert: parity with the real ones.

The transformers flavour (minibert.BertTokenizer / RobertaTokenizer, the Auto classes, model
outputs) is compared with transformers on the real all-MiniLM-L6-v2 and on a byte-level BPE
trained here on a slice of kant.txt; the tokenizers flavour (tokenizer.ByteLevelBPETokenizer
created empty and trained, BertWordPieceTokenizer, save_model, BertProcessing) with tokenizers.
`model(**tok(texts, padding=True, return_tensors="pt"))` runs for every model and tokenizer.
"""

from __future__ import annotations

import json

import pytest
import torch

import minibert
from minibert import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertTokenizer,
    RobertaConfig,
    RobertaForCausalLM,
    RobertaForMaskedLM,
    RobertaTokenizer,
)
from minibert.auto import MODEL_CLASSES
from tokenizer import BertWordPieceTokenizer, ByteLevelBPETokenizer
from tokenizer.processors import BertProcessing, RobertaProcessing

KANTAI_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
pytestmark = [pytest.mark.parity,  # transformers warns about a call we make on purpose:
              pytest.mark.filterwarnings("ignore:`max_length` is ignored when `padding`")]


@pytest.fixture(scope="module")
def texts(data):
    rows = (data / "cola" / "in_domain_dev.tsv").read_text(encoding="utf-8").splitlines()
    return [row.split("\t")[3] for row in rows[:120]]


@pytest.fixture(scope="module")
def kant_part(data, tmp_path_factory):
    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").split("\n")[:1500]
    path = tmp_path_factory.mktemp("kant") / "kant_part.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def kantai_dir(kant_part, tmp_path_factory):
    """The book's first cells: an empty ByteLevelBPETokenizer trained, then save_model."""
    tok = ByteLevelBPETokenizer()
    tok.train(files=[str(kant_part)], vocab_size=2000, min_frequency=2,
              special_tokens=KANTAI_SPECIALS, show_progress=False)
    out = tmp_path_factory.mktemp("KantaiBERT")
    assert tok.save_model(str(out)) == [str(out / "vocab.json"), str(out / "merges.txt")]
    return out


@pytest.fixture(scope="module")
def bert_tok(minilm_dir):
    return BertTokenizer.from_pretrained(minilm_dir, do_lower_case=True)


@pytest.fixture(scope="module")
def roberta_tok(kantai_dir):
    return RobertaTokenizer.from_pretrained(kantai_dir, max_length=512)


@pytest.fixture(scope="module")
def hf_bert_tok(transformers, minilm_dir):
    return transformers.BertTokenizer.from_pretrained(str(minilm_dir), do_lower_case=True)


@pytest.fixture(scope="module")
def hf_roberta_tok(transformers, kantai_dir):
    return transformers.RobertaTokenizer.from_pretrained(str(kantai_dir))


def _same(ours, theirs):
    """Two tokenizer outputs hold the same keys and values (lists or tensors)."""
    assert list(ours) == list(theirs)
    for key in theirs:
        a, b = ours[key], theirs[key]
        if isinstance(b, torch.Tensor):
            assert a.dtype == b.dtype and a.equal(b), key
        else:
            assert a == b, key


CALLS = [{}, {"padding": True}, {"padding": "max_length", "max_length": 40, "truncation": True},
         {"truncation": True, "max_length": 9}, {"max_length": 9}, {"truncation": True},
         {"padding": True, "max_length": 9},
         {"padding": True, "return_tensors": "pt"},
         {"padding": True, "truncation": "only_second", "max_length": 56},
         {"return_special_tokens_mask": True, "return_token_type_ids": True}]


@pytest.mark.parametrize("which", ["bert", "roberta"])
def test_call_matches_transformers(which, bert_tok, roberta_tok, hf_bert_tok, hf_roberta_tok,
                                   texts):
    ours, theirs = (bert_tok, hf_bert_tok) if which == "bert" else (roberta_tok, hf_roberta_tok)
    firsts, seconds = texts[:40], texts[40:80]
    for kwargs in CALLS:
        if kwargs.get("truncation") != "only_second":
            _same(ours(firsts, **kwargs), theirs(firsts, **kwargs))
        _same(ours(firsts, seconds, **kwargs), theirs(firsts, seconds, **kwargs))
        _same(ours(firsts[0], seconds[0], **kwargs), theirs(firsts[0], seconds[0], **kwargs))
    for text in texts:
        assert ours.encode(text) == theirs.encode(text)
        assert ours.tokenize(text) == theirs.tokenize(text)
        ids = theirs.encode(text)
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == \
            theirs.decode(ids, skip_special_tokens=True)
        tokens = theirs.convert_ids_to_tokens(ids)
        assert ours.convert_ids_to_tokens(ids) == tokens
        assert ours.convert_tokens_to_ids(tokens) == ids
        assert ours.convert_tokens_to_string(tokens) == theirs.convert_tokens_to_string(tokens)
        assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == \
            theirs.get_special_tokens_mask(ids, already_has_special_tokens=True)
    assert ours.encode(texts[0], return_tensors="pt").equal(
        theirs.encode(texts[0], return_tensors="pt"))
    batch = ours(texts[:5], padding=True, return_tensors="pt")
    assert batch.to("cpu") is batch and batch.input_ids is batch["input_ids"]
    assert ours.batch_decode(batch.input_ids) == theirs.batch_decode(batch.input_ids)
    theirs_batch = theirs(texts[:5], texts[5:10], padding=True)
    for i in range(5):
        assert batch.tokens(i) == theirs(texts[:5], padding=True).tokens(i)
        assert ours(texts[:5], texts[5:10], padding=True).word_ids(i) == \
            theirs_batch.word_ids(i)
    with pytest.raises(ValueError, match="keeps no encodings"):
        ours.pad([{"input_ids": [5, 6]}]).tokens()
    assert (len(ours), ours.vocab_size, ours.mask_token, ours.pad_token_id, ours.unk_token_id,
            ours.cls_token, ours.sep_token, ours.bos_token, ours.eos_token) == \
        (len(theirs), theirs.vocab_size, theirs.mask_token, theirs.pad_token_id,
         theirs.unk_token_id, theirs.cls_token, theirs.sep_token, theirs.bos_token,
         theirs.eos_token)
    assert set(ours.all_special_ids) == set(theirs.all_special_ids)
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert ours.model_input_names == theirs.model_input_names
    if which == "bert":
        assert ours.do_lower_case is theirs.do_lower_case is True


BERT_TOKEN_LISTS = [["hel", "##lo"], ["hello", ",", "world", "!", "don", "'", "t", "."],
                    ["zzzqqq", "##xx", "[CLS]", "a"], ["##lo", "x"], ["é", "日", "##本"], []]
ROBERTA_TOKEN_LISTS = [["Ġhel", "lo"], ["<s>", "Ġhello", "</s>", "<mask>"],
                       ["Ã©", "æĹ¥", "æľ¬"], ["Ã"], ["ĠÃ", "<s>", "©"], ["日", "x", " y"],
                       ["zzzqq"], []]


def test_convert_tokens_to_string_reads_the_tokens(bert_tok, hf_bert_tok, roberta_tok,
                                                   hf_roberta_tok):
    """Tokens the vocabulary lacks and multi-byte characters come back as written, not unk."""
    assert bert_tok.convert_tokens_to_string(["hel", "##lo"]) == "hello"
    assert roberta_tok.convert_tokens_to_string(["Ã©", "æĹ¥"]) == "é日"
    for ours, theirs, lists in ((bert_tok, hf_bert_tok, BERT_TOKEN_LISTS),
                                (roberta_tok, hf_roberta_tok, ROBERTA_TOKEN_LISTS)):
        for tokens in lists:
            assert ours.convert_tokens_to_string(tokens) == \
                theirs.convert_tokens_to_string(tokens), tokens


@pytest.mark.parametrize("which", ["bert", "roberta"])
def test_pad_to_multiple_of_matches_transformers(which, bert_tok, roberta_tok, hf_bert_tok,
                                                 hf_roberta_tok, texts):
    ours, theirs = (bert_tok, hf_bert_tok) if which == "bert" else (roberta_tok, hf_roberta_tok)
    for kwargs in ({"padding": True}, {"padding": "max_length", "max_length": 21},
                   {"padding": True, "truncation": True, "max_length": 40}, {}):
        for multiple in (8, 5):
            call = {**kwargs, "pad_to_multiple_of": multiple}
            got = ours(texts[:7], return_tensors="pt" if kwargs else None, **call)
            _same(got, theirs(texts[:7], return_tensors="pt" if kwargs else None, **call))
            _same(ours(texts[0], texts[1], **call), theirs(texts[0], texts[1], **call))
            if kwargs:
                assert got["input_ids"].shape[1] % multiple == 0
    batch = ours.batch_encode_plus(texts[:3], padding=True, pad_to_multiple_of=8)
    assert {len(row) for row in batch["input_ids"]} == {len(batch.tokens(0))}
    assert len(ours.encode_plus(texts[0], padding=True, pad_to_multiple_of=8)["input_ids"]) % 8 == 0
    with pytest.raises(ValueError, match="pad_to_multiple_of must be a positive int"):
        ours(texts[:2], padding=True, pad_to_multiple_of=0)
    with pytest.raises(ValueError, match="make max_length a multiple of pad_to_multiple_of"):
        ours(texts[:2], padding=True, truncation=True, max_length=13, pad_to_multiple_of=8)
    with pytest.raises(ValueError, match="multiple of pad_to_multiple_of"):
        theirs(texts[:2], padding=True, truncation=True, max_length=13, pad_to_multiple_of=8)


def test_encode_plus_as_the_tutorial_calls_it(bert_tok, hf_bert_tok, texts):
    """McCormick's loop: encode_plus(..., max_length=64, pad_to_max_length=True), which
    transformers 5 no longer has; its __call__ with padding="max_length" is the same request,
    and truncation is on because max_length was given without padding=."""
    long_text = " ".join(texts[:8])
    for text in texts[:20] + [long_text]:
        got = bert_tok.encode_plus(text, add_special_tokens=True, max_length=64,
                                   pad_to_max_length=True, return_attention_mask=True,
                                   return_tensors="pt")
        want = hf_bert_tok(text, max_length=64, padding="max_length", truncation=True,
                           return_attention_mask=True, return_tensors="pt")
        _same(got, want)
        assert got["input_ids"].shape == (1, 64)
    batch = bert_tok.batch_encode_plus(texts[:10] + [long_text], max_length=32,
                                       padding="max_length", truncation=True)
    _same(batch, hf_bert_tok(texts[:10] + [long_text], max_length=32, padding="max_length",
                             truncation=True))
    assert len(bert_tok.encode(long_text, add_special_tokens=True)) > 64  # no max_length: whole
    with pytest.raises(ValueError, match="padding=True"):
        bert_tok(texts[:3], return_tensors="pt")


def test_special_tokens_typed_in_the_text_stay_whole(bert_tok, hf_bert_tok, roberta_tok,
                                                     hf_roberta_tok):
    text = "[CLS] the book was [MASK] by everyone . [SEP]"
    assert bert_tok.tokenize(text) == hf_bert_tok.tokenize(text)
    assert bert_tok.tokenize(text)[0] == "[CLS]" and "[MASK]" in bert_tok.tokenize(text)
    text = "<s>Human thinking involves human<mask>.</s>"
    assert roberta_tok.tokenize(text) == hf_roberta_tok.tokenize(text)
    # RoBERTa's <mask> takes the space before it (transformers 4's AddedToken lstrip)
    assert roberta_tok.tokenize("Human thinking involves human <mask>.")[-2:] == ["<mask>", "."]


def test_pad_and_special_tokens_mask(bert_tok, hf_bert_tok, roberta_tok, hf_roberta_tok,
                                     texts):
    for ours, theirs in ((bert_tok, hf_bert_tok), (roberta_tok, hf_roberta_tok)):
        examples = [{"input_ids": theirs.encode(t)} for t in texts[:6]]
        _same(ours.pad(examples, return_tensors="pt"), theirs.pad(examples, return_tensors="pt"))
        _same(ours.pad(examples, padding="max_length", max_length=40),
              theirs.pad(examples, padding="max_length", max_length=40))
        ids0, ids1 = (ours.encode(t, add_special_tokens=False) for t in texts[:2])
        both = theirs(texts[0], texts[1], return_special_tokens_mask=True)
        assert ours.build_inputs_with_special_tokens(ids0, ids1) == both["input_ids"]
        assert ours.get_special_tokens_mask(ids0, ids1) == both["special_tokens_mask"]
        assert ours.get_special_tokens_mask(ids0) == \
            theirs(texts[0], return_special_tokens_mask=True)["special_tokens_mask"]


def test_from_pretrained_options(minilm_dir, kantai_dir):
    assert RobertaTokenizer.from_pretrained(kantai_dir, max_length=512).model_max_length == 512
    assert BertTokenizer.from_pretrained(minilm_dir).model_max_length == 512
    cased = BertTokenizer.from_pretrained(minilm_dir, do_lower_case=False)
    assert cased.tokenize("Hello")[0] != "hello"
    assert (cased.do_lower_case, BertTokenizer.from_pretrained(minilm_dir).do_lower_case) == \
        (False, True)  # as loaded: the folder's tokenizer_config.json says uncased
    with pytest.raises(TypeError, match="unknown option.*do_lower_case"):
        RobertaTokenizer.from_pretrained(kantai_dir, do_lower_case=True)
    assert type(AutoTokenizer.from_pretrained(minilm_dir)) is BertTokenizer
    assert type(AutoTokenizer.from_pretrained(kantai_dir)) is RobertaTokenizer  # no config.json


# ---- models ---------------------------------------------------------------------------------


def _tiny(cls, vocab_size, **extra):
    return cls(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=32, max_position_embeddings=80, **extra)


@pytest.mark.parametrize("model_type,task", [(t, k) for t in MODEL_CLASSES
                                             for k in MODEL_CLASSES[t]])
def test_every_model_takes_every_tokenizer_call(model_type, task, bert_tok, roberta_tok, texts):
    config_class = RobertaConfig if model_type == "roberta" else BertConfig
    config = _tiny(config_class, max(len(bert_tok), len(roberta_tok)))
    torch.manual_seed(0)
    model = MODEL_CLASSES[model_type][task](config).eval()
    for tok in (bert_tok, roberta_tok):
        for batch in (tok(texts[:3], padding=True, return_tensors="pt"),
                      tok(texts[:3], texts[3:6], padding=True, truncation=True, max_length=40,
                          return_tensors="pt"),
                      tok(texts[0], return_tensors="pt")):
            with torch.no_grad():
                out = model(**batch)
            assert out[0].shape[0] == batch["input_ids"].shape[0]


def test_name_or_path_as_transformers(minilm_dir, transformers):
    """The folder given to from_pretrained, as given; "" for a model built from a config."""
    ours, theirs = (lib.AutoModel.from_pretrained(str(minilm_dir), **extra)
                    for lib, extra in ((minibert, {"verbose": False}), (transformers, {})))
    assert ours.name_or_path == theirs.name_or_path == str(minilm_dir)
    small = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 64}
    assert minibert.BertModel(BertConfig(**small)).name_or_path == \
        transformers.BertModel(transformers.BertConfig(**small)).name_or_path == ""


def test_outputs_read_like_model_output(transformers):
    from transformers.modeling_outputs import SequenceClassifierOutput

    torch.manual_seed(0)
    model = BertForSequenceClassification(_tiny(BertConfig, 50, num_labels=3)).eval()
    ids, labels = torch.randint(5, 50, (2, 7)), torch.tensor([0, 2])
    with torch.no_grad():
        plain, scored = model(ids), model(ids, token_type_ids=None, labels=labels)
    assert plain[0] is plain.logits and scored[0] is scored.loss and scored[1] is scored.logits
    assert scored["logits"] is scored.logits and scored[:1] == (scored.loss,)
    loss, logits = model(ids, labels=labels, return_dict=False)
    assert torch.equal(loss, scored.loss) and torch.equal(logits, scored.logits)
    for ours in (plain, scored):
        theirs = SequenceClassifierOutput(**ours.to_dict())
        assert (list(ours), len(ours), list(ours.keys()), "loss" in ours) == \
            (list(theirs), len(theirs), list(theirs.keys()), "loss" in theirs)
        assert all(a is b for a, b in zip(ours.to_tuple(), theirs.to_tuple()))
    with pytest.raises(KeyError):
        plain["loss"]
    with torch.no_grad():
        attentions = BertForSequenceClassification(
            model.config.replace(output_attentions=True)).eval()(ids).attentions
    assert len(attentions) == 2


def test_the_books_configs_and_parameter_count(transformers):
    kwargs = dict(vocab_size=52_000, max_position_embeddings=514, num_attention_heads=12,
                  num_hidden_layers=6, type_vocab_size=1)
    config, theirs = RobertaConfig(**kwargs), transformers.RobertaConfig(**kwargs)
    for key, value in config.to_dict().items():
        if hasattr(theirs, key) and key not in ("id2label", "label2id"):
            assert getattr(theirs, key) == value, key
    with torch.device("meta"):  # shapes only: the count needs no weights
        assert RobertaForMaskedLM(config=config).num_parameters() == 83_504_416
        decoder = RobertaForCausalLM(config=RobertaConfig(**kwargs, is_decoder=True))
    assert decoder.config.is_decoder and decoder.roberta.causal
    assert BertConfig(hidden_size=64, num_attention_heads=4).hidden_size == 64


@pytest.fixture(scope="module")
def classifier(minilm_dir):
    model = BertForSequenceClassification.from_pretrained(
        minilm_dir, num_labels=2, output_attentions=False, output_hidden_states=False,
        verbose=False)
    model.classifier.reset_parameters()  # nonzero bias too, so the comparison sees it
    return model


def test_classifier_matches_transformers(classifier, bert_tok, transformers, minilm_dir,
                                         texts):
    """The tutorial's call, model(ids, token_type_ids=None, attention_mask=m, labels=y)."""
    theirs = transformers.BertForSequenceClassification.from_pretrained(
        str(minilm_dir), num_labels=2).eval()
    theirs.classifier.load_state_dict(classifier.classifier.state_dict())
    batch = bert_tok(texts[:16], padding=True, return_tensors="pt")
    labels = torch.tensor([0, 1] * 8)
    with torch.no_grad():
        ours = classifier(batch["input_ids"], token_type_ids=None,
                          attention_mask=batch["attention_mask"], labels=labels)
        ref = theirs(batch["input_ids"], token_type_ids=None,
                     attention_mask=batch["attention_mask"], labels=labels)
        unlabelled = classifier(**batch)
    assert torch.allclose(ours[0], ref[0], atol=1e-5) and torch.allclose(ours[1], ref[1],
                                                                        atol=1e-5)
    assert torch.allclose(unlabelled[0], ref.logits, atol=1e-5)


def test_saved_model_and_tokenizer_load_in_transformers(classifier, bert_tok, transformers,
                                                        texts, tmp_path):
    classifier.save_pretrained(tmp_path)
    files = bert_tok.save_pretrained(tmp_path)
    assert all((tmp_path / name).is_file() for name in ("vocab.txt", "tokenizer_config.json"))
    assert set(files) == {str(tmp_path / "vocab.txt"), str(tmp_path / "tokenizer_config.json")}
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    hf_model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(tmp_path)).eval()
    ours = BertTokenizer.from_pretrained(tmp_path)(texts[:8], padding=True, return_tensors="pt")
    _same(ours, hf_tok(texts[:8], padding=True, return_tensors="pt"))
    with torch.no_grad():
        assert torch.allclose(classifier(**ours).logits, hf_model(**ours).logits, atol=1e-5)


def test_roberta_saved_loads_in_transformers(roberta_tok, transformers, texts, tmp_path):
    torch.manual_seed(0)
    model = RobertaForMaskedLM(_tiny(RobertaConfig, len(roberta_tok))).eval()
    model.save_pretrained(tmp_path)
    roberta_tok.save_pretrained(tmp_path)
    hf_tok = transformers.RobertaTokenizer.from_pretrained(str(tmp_path))
    hf_model = transformers.RobertaForMaskedLM.from_pretrained(str(tmp_path)).eval()
    # <mask> takes the space before it in transformers too: the saved folder says so
    some = texts[:6] + ["Kant wrote the <mask> of pure reason.", "<mask> is  <mask>"]
    batch = roberta_tok(some, padding=True, return_tensors="pt")
    _same(batch, hf_tok(some, padding=True, return_tensors="pt"))
    auto = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    _same(batch, auto(some, padding=True, return_tensors="pt"))
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        ours, ref = model(**batch, labels=labels), hf_model(**batch, labels=labels)
    assert torch.allclose(ours.logits, ref.logits, atol=1e-4)
    assert torch.allclose(ours.loss, ref.loss, atol=1e-5)


def test_auto_classes(minilm_dir, transformers, roberta_tok, tmp_path, texts):
    base = AutoModel.from_pretrained(minilm_dir, verbose=False)
    assert type(base) is minibert.BertModel
    ref = transformers.AutoModel.from_pretrained(str(minilm_dir)).eval()
    batch = BertTokenizer.from_pretrained(minilm_dir)(texts[:4], padding=True,
                                                      return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(base(**batch)[0], ref(**batch)[0], atol=1e-5)
    assert type(AutoModelForMaskedLM.from_pretrained(minilm_dir, verbose=False)) is \
        minibert.BertForMaskedLM
    assert type(AutoModelForPreTraining.from_pretrained(minilm_dir, verbose=False)) is \
        minibert.BertForPreTraining
    with pytest.raises(ValueError, match="AutoModelForCausalLM: minibert has no such bert "
                       "model; the bert classes are BertModel, BertForPreTraining, "):
        AutoModelForCausalLM.from_pretrained(minilm_dir)
    torch.manual_seed(0)
    RobertaForCausalLM(_tiny(RobertaConfig, len(roberta_tok))).save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)) is RobertaConfig
    loaded = {cls.__name__: type(cls.from_pretrained(tmp_path, verbose=False)).__name__
              for cls in (AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForPreTraining,
                          AutoModelForSequenceClassification, AutoModel)}
    assert loaded == {"AutoModelForCausalLM": "RobertaForCausalLM",
                      "AutoModelForMaskedLM": "RobertaForMaskedLM",
                      "AutoModelForPreTraining": "RobertaForMaskedLM",
                      "AutoModelForSequenceClassification": "RobertaForSequenceClassification",
                      "AutoModel": "RobertaModel"}
    assert type(AutoModelForMaskedLM.from_config(RobertaConfig(**_tiny(dict, 99)))) is \
        RobertaForMaskedLM


# ---- the tokenizers flavour ---------------------------------------------------------------


def test_bpe_trained_in_place_matches_tokenizers(hf_tokenizers, kant_part, kantai_dir, texts,
                                                 tmp_path):
    theirs = hf_tokenizers.ByteLevelBPETokenizer()
    theirs.train(files=[str(kant_part)], vocab_size=2000, min_frequency=2,
                 special_tokens=KANTAI_SPECIALS, show_progress=False)
    ours = ByteLevelBPETokenizer()
    ours.train_from_iterator(kant_part.read_text(encoding="utf-8").split("\n"),
                             vocab_size=2000, min_frequency=2, special_tokens=KANTAI_SPECIALS,
                             show_progress=False)
    assert ours.get_vocab() == theirs.get_vocab() and ours.get_vocab_size() == 2000
    for text in texts + ["The Critique of Pure Reason.", "a <mask>b</s>"]:
        got, want = ours.encode(text), theirs.encode(text)
        assert (got.tokens, got.ids, got.type_ids) == (want.tokens, want.ids, want.type_ids)
    theirs.save_model(str(tmp_path))
    assert json.loads((kantai_dir / "vocab.json").read_text(encoding="utf-8")) == \
        json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert (kantai_dir / "merges.txt").read_text(encoding="utf-8").split("\n")[1:] == \
        (tmp_path / "merges.txt").read_text(encoding="utf-8").split("\n")[1:]


def test_book_post_processing_and_truncation_match_tokenizers(hf_tokenizers, kantai_dir,
                                                              texts):
    """The book's cell: load the two files, set BertProcessing, enable_truncation."""
    files = (str(kantai_dir / "vocab.json"), str(kantai_dir / "merges.txt"))
    pair = (ByteLevelBPETokenizer(*files), hf_tokenizers.ByteLevelBPETokenizer(*files))
    for tok in pair:
        tok._tokenizer.post_processor = hf_tokenizers.processors.BertProcessing(
            ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>"))) \
            if isinstance(tok, hf_tokenizers.ByteLevelBPETokenizer) else BertProcessing(
            ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
        tok.enable_truncation(max_length=12)
    ours, theirs = pair
    assert ours.truncation == theirs.truncation
    for a, b in zip(texts, texts[1:] + texts[:1]):
        for got, want in ((ours.encode(a), theirs.encode(a)),
                          (ours.encode(a, b), theirs.encode(a, b))):
            assert (got.tokens, got.ids, got.type_ids, got.offsets, got.attention_mask,
                    got.special_tokens_mask) == (want.tokens, want.ids, want.type_ids,
                                                 want.offsets, want.attention_mask,
                                                 want.special_tokens_mask)
    ours.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0))
    assert ours.encode("a", "b").tokens == ["<s>", "a", "</s>", "</s>", "b", "</s>"]
    with pytest.raises(ValueError, match="cls=\\('<x>', 0\\)"):
        ours.post_processor = BertProcessing(("</s>", 2), ("<x>", 0))


def test_bert_wordpiece_flavour_matches_tokenizers(hf_tokenizers, kant_part, texts, tmp_path):
    lines = kant_part.read_text(encoding="utf-8").split("\n")
    ours, theirs = BertWordPieceTokenizer(), hf_tokenizers.BertWordPieceTokenizer()
    ours.train(files=[str(kant_part)], vocab_size=1200, show_progress=False)
    theirs.train_from_iterator(lines, vocab_size=1200, show_progress=False)
    a, b = set(ours.get_vocab()), set(theirs.get_vocab())
    assert len(a) == len(b) == 1200 and len(a & b) >= 0.99 * len(b)  # tokenizers' ties vary
    (tmp_path / "ours").mkdir()
    vocab_txt = ours.save_model(str(tmp_path / "ours"))[0]
    loaded = (BertWordPieceTokenizer(vocab_txt, lowercase=True),
              hf_tokenizers.BertWordPieceTokenizer(vocab_txt, lowercase=True))
    for tok in loaded:
        tok.enable_truncation(max_length=16)
    for x, y in zip(texts, texts[1:] + texts[:1]):
        for got, want in ((loaded[0].encode(x), loaded[1].encode(x)),
                          (loaded[0].encode(x, y), loaded[1].encode(x, y))):
            assert (got.tokens, got.ids, got.type_ids) == (want.tokens, want.ids, want.type_ids)
    assert BertWordPieceTokenizer().encode("anything").tokens == ["[CLS]", "[UNK]", "[SEP]"]


def test_bert_wordpiece_training_keeps_the_recipe():
    """clean_text, handle_chinese_chars (given at construction) and wordpieces_prefix (given to
    train) hold for the trained tokenizer."""
    tok = BertWordPieceTokenizer(clean_text=False, handle_chinese_chars=False)
    tok.train_from_iterator(["the cat sat on the mat", "cats and mats", "\u4e2d\u6587"] * 5,
                            vocab_size=60, show_progress=False, wordpieces_prefix="@@")
    basic = tok.basic
    assert (basic.clean_text, basic.handle_chinese_chars, tok.prefix) == (False, False, "@@")
    assert tok.encode("\u4e2d\u6587", add_special_tokens=False).word_ids == [0]  # one word


def test_to_tensors_gives_model_inputs_only(bert_tok, texts):
    backend = bert_tok.backend_tokenizer
    batch = backend.to_tensors(backend.encode_batch(texts[:3]))
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids"}
    torch.manual_seed(0)
    model = minibert.BertForMaskedLM(_tiny(BertConfig, len(bert_tok))).eval()
    with torch.no_grad():
        assert model(**batch).logits.shape[:2] == batch["input_ids"].shape


def test_what_cannot_be_done_is_refused(kantai_dir, roberta_tok, bert_tok):
    assert len(ByteLevelBPETokenizer()) == 0  # created empty, as tokenizers does
    with pytest.raises(TypeError, match="merges must be the path of merges.txt"):
        ByteLevelBPETokenizer(str(kantai_dir / "vocab.json"))
    with pytest.raises(ValueError, match="needs a cls token"):
        ByteLevelBPETokenizer().post_processor = "roberta"
    with pytest.raises(ValueError, match="layout is fixed to 'bert'"):
        BertWordPieceTokenizer().post_processor = None
    with pytest.raises(ValueError, match="clean_up_tokenization_spaces=True"):
        roberta_tok.decode([0, 5, 2], clean_up_tokenization_spaces=True)
    with pytest.raises(ValueError, match="only 'pt'"):
        bert_tok("a", return_tensors="np")
    for call, method in ((bert_tok, "__call__"), (bert_tok.encode, "encode"),
                         (bert_tok.encode_plus, "encode_plus"),
                         (roberta_tok.batch_encode_plus, "batch_encode_plus")):
        text = ["a"] if method == "batch_encode_plus" else "a"
        with pytest.raises(TypeError, match=rf"\.{method}\(\) got an unexpected keyword "
                                            "argument 'is_split_into_words'; it takes"):
            call(text, is_split_into_words=True)
    unlimited = RobertaTokenizer.from_pretrained(kantai_dir)
    with pytest.raises(ValueError, match="padding='max_length' needs max_length"):
        unlimited(["a"], padding="max_length")
