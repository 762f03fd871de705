"""Data readers and the CoLA download: real files, broken files named by line, no network."""

import io
import zipfile
from pathlib import Path

import pytest

from train.data import download
from train.data.cola import SPLITS, DataError, cola_split, read_cola_tsv
from train.data.csv_file import make_label2id, read_text_dataset

# ---- CoLA ------------------------------------------------------------------------------

def test_cola_real_counts(data):
    counts = {s: cola_split(data, s) for s in SPLITS}
    assert [len(counts[s]) for s in SPLITS] == [8551, 527, 516]
    assert [sum(e.label for e in counts[s]) for s in SPLITS] == [6023, 365, 354]
    first = counts["in_domain_train"][0]
    assert (first.source, first.label, first.annotation) == ("gj04", 1, "")
    assert first.sentence.startswith("Our friends won't buy this analysis")
    # the row whose annotation is a single space keeps it (QUOTE_NONE, no stripping)
    assert any(e.annotation == " " for e in counts["out_of_domain_dev"])


def test_cola_quotes_are_text(tmp_path):
    f = tmp_path / "x.tsv"
    f.write_text('a\t1\t\t"Quoted," she said.\nb\t0\t*\tit "is\n', encoding="utf-8")
    rows = read_cola_tsv(f)
    assert [r.sentence for r in rows] == ['"Quoted," she said.', 'it "is']
    assert [r.label for r in rows] == [1, 0]


def test_cola_errors_name_file_and_line(tmp_path):
    f = tmp_path / "bad.tsv"
    f.write_text("a\t1\t\tfine\nb\t1\tonly three\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.tsv:2: expected 4 tab-separated fields"):
        read_cola_tsv(f)
    f.write_text("a\t1\t\tfine\na\t1\t\tfine\nb\t2\t\tlabel two\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.tsv:3: label must be 0 or 1, got '2'"):
        read_cola_tsv(f)
    with pytest.raises(ValueError, match="unknown CoLA split"):
        cola_split(tmp_path, "test")


# ---- any CSV ---------------------------------------------------------------------------

def test_tweets_train_crlf_quoted_newlines(data):
    path = data / "disaster_tweets" / "train.csv"
    assert b"\r\n" in path.read_bytes()[:2000]
    ds = read_text_dataset(path, text_col="text", label_col="target")
    assert len(ds) == 7613 and ds.label2id == {"0": 0, "1": 1}
    assert sum(ds.labels) == 3271 and len(ds.labels) - sum(ds.labels) == 4342
    assert ds.ids[:3] == ["1", "4", "5"]
    assert any("\n" in t for t in ds.texts), "quoted newlines stay inside one record"
    assert not any(t.endswith("\r") for t in ds.texts)
    assert any("\u00db" in t for t in ds.texts), "mojibake is kept as written"


def test_tweets_test_without_labels_and_joined_columns(data):
    ds = read_text_dataset(data / "disaster_tweets" / "test.csv", text_col="keyword,text",
                           label_col="target", require_labels=False)
    assert len(ds) == 3263 and ds.labels is None and ds.ids[0] == "0"
    with pytest.raises(DataError, match=r"test\.csv:1: no label column 'target'"):
        read_text_dataset(data / "disaster_tweets" / "test.csv", label_col="target")


def test_string_labels_pairs_and_known_map(tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("q\ta\tlabel\nhi\tthere\tspam\nyo\tdude\tham\nx\ty\tspam\n", encoding="utf-8")
    ds = read_text_dataset(f, text_col="q", pair_col="a", label_col="label")
    assert ds.label2id == {"ham": 0, "spam": 1} and ds.labels == [1, 0, 1]
    assert ds.pairs == ["there", "dude", "y"] and ds.id2label == {0: "ham", 1: "spam"}
    with pytest.raises(DataError, match=r"pairs\.tsv:3: label 'ham' is not one the model knows"):
        read_text_dataset(f, text_col="q", label_col="label", label2id={"spam": 0})
    assert make_label2id(["10", "2", "b", "a"]) == {"2": 0, "10": 1, "a": 2, "b": 3}


def test_csv_errors(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text('text,label\n"multi\nline",1\ntoo,many,fields\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.csv:4: expected 2 fields"):
        read_text_dataset(f)
    with pytest.raises(DataError, match=r"no column 'body'"):
        read_text_dataset(f, text_col="body")


# ---- the data folder and the download ----------------------------------------------------

@pytest.fixture
def no_local_data(monkeypatch):
    """Neither $MINIBERT_DATA nor ../shared/data beside the checkout: CoLA must be fetched."""
    monkeypatch.delenv("MINIBERT_DATA", raising=False)
    monkeypatch.setattr(download, "CHECKOUT_DATA", None)


def _zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, payload in files.items():
            z.writestr(f"cola_public/raw/{name}", payload)
    return buf.getvalue()


class _Opener:
    def __init__(self, payload: bytes):
        self.payload, self.calls = payload, []

    def __call__(self, url):
        self.calls.append(url)
        return io.BytesIO(self.payload)


def test_download_checks_hashes_and_caches(data, tmp_path, monkeypatch, no_local_data):
    monkeypatch.setenv("MINIBERT_CACHE", str(tmp_path / "cache"))
    real = {n: (data / "cola" / n).read_bytes() for n in download.COLA_SHA256}
    opener = _Opener(_zip_of(real))
    got = download.cola_dir(opener=opener, quiet=True)
    assert opener.calls == [download.COLA_URL]
    assert len(cola_split(got, "out_of_domain_dev")) == 516
    download.cola_dir(opener=opener, quiet=True)
    assert len(opener.calls) == 1, "second call reads the cache"


def test_download_file_url(data, tmp_path, monkeypatch, no_local_data):
    monkeypatch.setenv("MINIBERT_CACHE", str(tmp_path / "cache"))
    z = tmp_path / "cola.zip"
    z.write_bytes(_zip_of({n: (data / "cola" / n).read_bytes() for n in download.COLA_SHA256}))
    got = download.cola_dir(url=z.as_uri(), quiet=True)
    assert (got / "in_domain_dev.tsv").read_bytes() == (
        data / "cola" / "in_domain_dev.tsv"
    ).read_bytes()


def test_download_bad_hash_leaves_no_cache(data, tmp_path, monkeypatch, no_local_data):
    monkeypatch.setenv("MINIBERT_CACHE", str(tmp_path / "cache"))
    files = {n: (data / "cola" / n).read_bytes() for n in download.COLA_SHA256}
    files["in_domain_dev.tsv"] = files["in_domain_dev.tsv"].replace(b"\t1\t", b"\t0\t", 1)
    with pytest.raises(download.ChecksumError, match="raw/in_domain_dev.tsv has sha256"):
        download.cola_dir(opener=_Opener(_zip_of(files)), quiet=True)
    assert not (tmp_path / "cache" / "cola_public_1.1").exists()
    with pytest.raises(download.ChecksumError, match="did not return a zip"):
        download.cola_dir(opener=_Opener(b"<html>404</html>"), quiet=True)


def test_local_folder_never_downloads(data, tmp_path, monkeypatch):
    def no_network(url):
        raise AssertionError("the network was touched")

    monkeypatch.setenv("MINIBERT_DATA", str(data))
    assert download.data_root() == data
    assert download.cola_dir(opener=no_network) == data / "cola"
    monkeypatch.delenv("MINIBERT_DATA")
    monkeypatch.setattr(download, "CHECKOUT_DATA", data)  # ../shared/data beside a checkout
    assert download.cola_dir(opener=no_network) == data / "cola"
    monkeypatch.setattr(download, "CHECKOUT_DATA", None)  # an installed package
    assert download.data_root() is None
    assert download.cola_dir(data / "cola", opener=no_network) == data / "cola"
    with pytest.raises(FileNotFoundError, match="--data points to"):
        download.data_root(tmp_path / "missing")


def test_one_lookup_of_the_data_folder(tmp_path, monkeypatch):
    """The flag, then $MINIBERT_DATA, then ../shared/data beside the checkout: the commands,
    the tests' fixture and the course all ask `download.data_root`, so they agree."""
    import conftest

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "examples"))
    import _course

    flag, env, beside = (tmp_path / name for name in ("flag", "env", "beside"))
    for folder in (flag, env, beside):
        folder.mkdir()
    monkeypatch.setattr(download, "CHECKOUT_DATA", beside)
    monkeypatch.setattr(_course, "FETCHED", tmp_path / "fetched")
    monkeypatch.setenv("MINIBERT_DATA", str(env))
    assert download.data_root(flag) == flag
    assert download.data_root() == conftest.data_dir() == _course.data_dir() == env
    monkeypatch.delenv("MINIBERT_DATA")
    assert download.data_root() == conftest.data_dir() == _course.data_dir() == beside
    beside.rmdir()
    assert download.data_root() is None and conftest.data_dir() == beside
    with pytest.raises(SystemExit, match="no data folder: set MINIBERT_DATA"):
        _course.data_dir()
    (tmp_path / "fetched").mkdir()
    assert _course.data_dir() == tmp_path / "fetched"
    monkeypatch.setenv("MINIBERT_DATA", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=r"\$MINIBERT_DATA points to .*typo"):
        _course.data_dir()


def test_course_files_are_checked_before_they_are_saved(tmp_path, monkeypatch):
    """The course's fetch and CoLA's download share one sha256 check: a changed file is
    refused and nothing is written; a good one is written whole."""
    import hashlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "examples"))
    import _data

    good = b"the critique of pure reason\n"
    monkeypatch.setattr(_data, "FILES", {"kant/kant.txt": (
        "https://example.invalid/kant.txt", hashlib.sha256(good).hexdigest())})
    monkeypatch.setattr(_data, "_read", lambda source: good.upper())
    with pytest.raises(download.ChecksumError, match=r"kant\.txt has sha256 .* not saved"):
        _data.fetch(tmp_path)
    assert not any(tmp_path.rglob("*.txt")), "a refused file was saved"
    monkeypatch.setattr(_data, "_read", lambda source: good)
    assert _data.fetch(tmp_path) == tmp_path
    assert (tmp_path / "kant" / "kant.txt").read_bytes() == good
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kant", "kant.txt"]
