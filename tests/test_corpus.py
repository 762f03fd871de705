"""The one text reader (tokenizer/corpus.py): byte-order marks, invalid UTF-8, missing files,
files vs texts; and that its three users (both trainers, the datasets) read through it."""

from __future__ import annotations

import pytest

from tokenizer.corpus import CorpusError, count_words, is_file_list, read_lines, read_text


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


def test_the_three_readers_share_the_policy(tmp_path):
    """A BOM-headed file with one bad byte: each user drops the BOM and names the same place."""
    from tokenizer import BPETrainer, WordPieceTrainer
    from train.data.datasets import read_text as datasets_read_text

    path = _write(tmp_path, "book.txt", b"\xef\xbb\xbfthe the\nbad \xff\n")
    where = r"book\.txt: line 2 \(byte 15\) is not valid UTF-8"
    for read in (lambda: BPETrainer(300, show_progress=False).train(path),
                 lambda: WordPieceTrainer(50, show_progress=False).train(path),
                 lambda: datasets_read_text(path)):
        with pytest.raises(CorpusError, match=where):
            read()
    good = _write(tmp_path, "good.txt", b"\xef\xbb\xbfthe the\n")
    assert datasets_read_text(good) == "the the\n"
    bpe = BPETrainer(300, 1, special_tokens=(), show_progress=False).train(good)
    assert not any("ï" in token for token in bpe.get_vocab() if len(token) > 1)
    wordpiece = WordPieceTrainer(50, show_progress=False).train(good)
    assert "\ufeff" not in wordpiece.get_vocab()
