"""The one text reader (tokenizer/corpus.py): byte-order marks, invalid UTF-8, missing files,
files vs texts; and that every user (both trainers, the datasets, the shard writer, the CSV
and CoLA readers, the commands) reads through it and reports a broken file the same way."""

from __future__ import annotations

import re

import pytest

from tokenizer.corpus import (
    CorpusError,
    check_utf8,
    count_words,
    is_file_list,
    read_lines,
    read_span,
    read_text,
)


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_lines_keep_their_endings_and_join_back(tmp_path):
    data = "one\r\ntwo  \n\nthree\u2028four".encode()
    path = _write(tmp_path, "a.txt", data)
    assert list(read_lines(path)) == ["one\r\n", "two  \n", "\n", "three\u2028four"]
    assert read_text(path).encode() == data


def test_bom_dropped_at_file_start_only(tmp_path):
    path = _write(tmp_path, "bom.txt", b"\xef\xbb\xbfHello\n\xef\xbb\xbfinside\n")
    assert list(read_lines(path)) == ["Hello\n", "\ufeffinside\n"]
    assert read_text(_write(tmp_path, "only.txt", b"\xef\xbb\xbf")) == ""


def test_invalid_utf8_names_file_line_and_byte(tmp_path):
    path = _write(tmp_path, "latin1.txt", b"\xef\xbb\xbfok\ncaf\xe9 au lait\n")
    with pytest.raises(CorpusError, match=r"latin1\.txt: line 2 \(byte 9\) is not valid UTF-8"):
        read_text(path)
    assert read_text(path, errors="replace") == "ok\ncaf\ufffd au lait\n"
    with pytest.raises(ValueError, match="errors='ignore'; expected 'strict'"):
        read_text(path, errors="ignore")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.txt: file not found"):
        read_text(tmp_path / "nowhere.txt")


def test_files_or_texts(tmp_path):
    a = _write(tmp_path, "a.txt", b"x")
    assert is_file_list(a) and is_file_list(str(a)) and is_file_list([a, str(a)])
    assert not is_file_list(["just some text", "more"]) and not is_file_list(iter([str(a)]))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        is_file_list([str(a), str(tmp_path / "missing.txt")])


def test_count_words_same_from_file_and_texts(tmp_path):
    path = _write(tmp_path, "c.txt", b"\xef\xbb\xbfthe cat\nthe dog\n")
    from_file = count_words(path, str.split)
    assert from_file == count_words(["the cat\n", "the dog\n"], str.split)
    assert list(from_file) == ["the", "cat", "dog"]  # order of first appearance
    with pytest.raises(CorpusError, match=r"empty corpus.*e\.txt"):
        count_words(_write(tmp_path, "e.txt", b" \n\t\n"), str.split)
    with pytest.raises(TypeError, match="item 1 of the training texts is bytes"):
        count_words(iter(["ok", b"bytes"]), str.split)


# A byte-order mark, CRLF line ends and one bad byte on line 3: every reader of text must drop
# the mark, count the lines as an editor does, and name the file, line 3 and this byte.
BOOK = b"\xef\xbb\xbfthe the\r\nthe cat\r\nbad \xff\r\n"
CSV = b"\xef\xbb\xbftext,label\r\nthe cat,1\r\nbad \xff,0\r\n"
COLA = b"\xef\xbb\xbfgj04\t1\t\tthe cat\r\ngj04\t0\t*\tthe dog\r\ngj04\t0\t*\tbad \xff\r\n"


def _where(name: str, data: bytes) -> str:
    byte = data.index(b"\xff")
    return rf"{name}: line 3 \(byte {byte}\) is not valid UTF-8"


def test_every_reader_names_the_same_place(tmp_path):
    """Each user of the reader, fed a broken file: the same error naming file, line and byte."""
    from tokenizer import BPETrainer, WordPieceTrainer
    from train.data.cola import read_cola_tsv
    from train.data.csv_file import read_text_dataset
    from train.data.datasets import read_text as datasets_read_text

    book, csv, cola = (_write(tmp_path, name, data) for name, data in
                       [("book.txt", BOOK), ("data.csv", CSV), ("cola.tsv", COLA)])
    line_2, line_3 = BOOK.index(b"the cat"), BOOK.index(b"bad")
    cases = [(book, BOOK, lambda: BPETrainer(300, show_progress=False).train(book)),
             (book, BOOK, lambda: WordPieceTrainer(50, show_progress=False).train(book)),
             (book, BOOK, lambda: datasets_read_text(book)),
             (book, BOOK, lambda: check_utf8(book)),
             *[(book, BOOK, lambda s=s: read_span(book, s, len(BOOK))) for s in (0, line_2,
                                                                                  line_3)],
             (csv, CSV, lambda: read_text_dataset(csv)),
             (cola, COLA, lambda: read_cola_tsv(cola))]
    for path, data, read in cases:
        with pytest.raises(CorpusError, match=_where(path.name, data)):
            read()


def test_every_reader_drops_the_bom_and_reads_crlf(tmp_path):
    from tokenizer import BPETrainer, WordPieceTrainer
    from train.data.cola import read_cola_tsv
    from train.data.csv_file import read_text_dataset
    from train.data.datasets import read_text as datasets_read_text

    good = _write(tmp_path, "good.txt", BOOK.replace(b"\xff", b"ok"))
    text = "the the\r\nthe cat\r\nbad ok\r\n"
    assert datasets_read_text(good) == read_span(good, 0, len(BOOK) + 1) == text
    assert read_span(good, BOOK.index(b"the cat"), BOOK.index(b"bad")) == "the cat\r\n"
    bpe = BPETrainer(300, 1, special_tokens=(), show_progress=False).train(good)
    assert not any("ï" in token for token in bpe.get_vocab() if len(token) > 1)
    wordpiece = WordPieceTrainer(50, show_progress=False).train(good)
    assert "\ufeff" not in wordpiece.get_vocab()
    rows = read_text_dataset(_write(tmp_path, "good.csv", CSV.replace(b"\xff", b"ok")))
    assert rows.texts == ["the cat", "bad ok"]  # the header's "text" without the mark
    cola = read_cola_tsv(_write(tmp_path, "good.tsv", COLA.replace(b"\xff", b"ok")))
    assert [(r.source, r.sentence) for r in cola] == [("gj04", "the cat"), ("gj04", "the dog"),
                                                     ("gj04", "bad ok")]


def test_the_commands_name_the_same_place(tmp_path, capsys):
    """`pretrain --train` refuses the file before --out is claimed; `prepare-data`, which
    reads pieces of files in worker processes, names the same line and byte."""
    from tokenizer import WordPieceTrainer
    from train.cli import main

    book = _write(tmp_path, "book.txt", BOOK)
    tok = tmp_path / "tok"
    WordPieceTrainer(50, show_progress=False).train_from_iterator(["the cat bad"]).save(tok)
    for argv in (["pretrain", "--tokenizer", str(tok), "--train", str(book)],
                 ["prepare-data", "--tokenizer", str(tok), "--workers", "1", "--no-progress",
                  str(book)]):
        out = tmp_path / f"out-{argv[0]}"
        assert main([*argv, "--out", str(out)]) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith("minibert: error: ") and re.search(_where("book.txt", BOOK), last)
        if argv[0] == "pretrain":
            assert not out.exists(), "refused after --out was claimed"
