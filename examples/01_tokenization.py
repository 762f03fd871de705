# %% [markdown]
# # Lesson 1 — Tokenization: WordPiece (BERT) and byte-level BPE (GPT-2, RoBERTa)
#
# A transformer never sees letters, only integer ids from a fixed vocabulary. This lesson
# shows the two ways BERT-family models cut text into vocabulary pieces:
#
# * **WordPiece** (BERT): split on spaces and punctuation, then cut each word greedily into
#   the longest pieces in the vocabulary. A piece that continues a word is written `##piece`,
#   so `play ##ing` and `playing` differ from `play ing`. A word that cannot be built from
#   the pieces at all becomes `[UNK]`: the information is lost.
# * **Byte-level BPE** (GPT-2, RoBERTa, KantaiBERT): work on the UTF-8 *bytes* of the text, so
#   every string can be encoded and there is no unknown token at all. A space is part of the
#   word that follows it, shown as `Ġ` (byte 0x20 mapped to a printable character).
#
# Then we train both kinds of vocabulary on Kant's *Critique of Pure Reason* and look at
# the first merges they learn.
#
# Read alongside: `tokenizer/basic.py` (cutting at whitespace, cleaning, lowercasing,
# splitting off punctuation), `tokenizer/wordpiece.py` (`WordPieceTokenizer.wordpiece`: greedy
# longest match, the code that runs for every word), `tokenizer/bytelevel.py` (the
# byte→character table behind `Ġ`), `tokenizer/bpe.py` (`bpe_word`: apply merges by rank),
# `tokenizer/bpe_reference.py` and `tokenizer/bpe_trainer.py` (learning merges),
# `tokenizer/wordpiece_trainer.py`.
#
# Run: `python examples/01_tokenization.py [--quick]` (under ten seconds on two CPU cores,
# either way).

# %%
from _course import QUICK, data_dir, section

from tokenizer import BPETrainer, ByteLevelBPETokenizer, WordPieceTokenizer, WordPieceTrainer
from tokenizer.bytelevel import bytes_to_unicode

DATA = data_dir()
KANT = DATA / "kant" / "kant.txt"

# %% [markdown]
# ## 1. WordPiece on the real bert-base-uncased vocabulary

# %%
section("WordPiece: bert-base-uncased's 30,522-token vocabulary")
bert = WordPieceTokenizer.from_file(DATA / "bert_vocab" / "bert-base-uncased-vocab.txt")
print("vocab size:", bert.vocab_size)
for text in ["The Critique of Pure Reason", "Transcendental apperception is unbelievably hard.",
             "Kant's Königsberg 🤗"]:
    enc = bert.encode(text)
    print(f"{text!r}\n   tokens {enc.tokens}\n   ids    {enc.ids}")

# %% [markdown]
# Rare words are cut into known pieces (`trans ##cend ##ental`): the `##` says "glued to
# the piece before", so `decode` can put the word back together. Accents are stripped and
# text lowercased (this is the *uncased* model). The emoji is not in the vocabulary and
# cannot be built from pieces, so it becomes `[UNK]` — decoding cannot bring it back:

# %%
print("decode:", bert.decode(bert.encode("Kant's Königsberg 🤗").ids, skip_special_tokens=True))
print("[CLS] =", bert.cls_token_id, " [SEP] =", bert.sep_token_id, " [UNK] =", bert.unk_token_id,
      " [MASK] =", bert.mask_token_id)
pair = bert.encode("Reason is pure.", pair="It is critical.")
print("a sentence pair:", pair.tokens, "\n  segment (type) ids:", pair.type_ids)

# %% [markdown]
# ## 2. Byte-level BPE on GPT-2's vocabulary and merges

# %%
section("byte-level BPE: GPT-2's encoder.json + vocab.bpe")
gpt2 = ByteLevelBPETokenizer.from_files(DATA / "gpt2_bpe" / "encoder.json",
                                        DATA / "gpt2_bpe" / "vocab.bpe", post_processor=None)
print("vocab size:", gpt2.vocab_size, " merges:", len(gpt2.merges))
for text in ["The Critique of Pure Reason", "Transcendental apperception is unbelievably hard.",
             "Kant's Königsberg 🤗"]:
    enc = gpt2.encode(text)
    print(f"{text!r}\n   tokens {enc.tokens}\n   ids    {enc.ids}")
print("decode round trip:", gpt2.decode(gpt2.encode("Kant's Königsberg 🤗").ids))

# %% [markdown]
# `Ġ` is how a space looks after the byte→character table: BPE learns merges on strings of
# printable characters, so each of the 256 bytes gets one. Bytes that are printable Latin-1
# characters map to themselves: the two bytes of `ö` (195, 182) become `Ã` and `¶`, which is
# why `Ã¶` appears above. The others (space 0x20, newline, control bytes, 0x7F-0xA0, 0xAD)
# are shifted to code points from 256 up: space becomes `Ġ` (256 + 32). The emoji 🤗 is four
# bytes, F0 9F A4 97: F0 and A4 map to themselves (`ð`, `¤`), 9F and 97 are shifted (`Ł`,
# `Ĺ`). Nothing is ever unknown, but bytes are merged like any other symbols, so the emoji
# ends up in pieces that cut across its bytes: `'ĠðŁ', '¤', 'Ĺ'` (the space, two bytes; one
# byte; one byte).

# %%
table = bytes_to_unicode()
print("space ->", repr(table[ord(" ")]), "  newline ->", repr(table[ord("\n")]))
print("'ö' is bytes", list("ö".encode()), "->", "".join(table[b] for b in "ö".encode()))
print("'🤗' is bytes", [f"{b:02X}" for b in "🤗".encode()], "->",
      [table[b] for b in "🤗".encode()])
print("GPT-2's first 5 merges:", gpt2.merges[:5])

# %% [markdown]
# ## 3. Train both on kant.txt and watch the first merges
#
# Both trainers start from single characters (bytes for BPE) and repeatedly merge the
# adjacent pair with the highest score, and the score is simply how often the pair occurs.
# For WordPiece that is Hugging Face's choice (its `WordPieceTrainer` runs BPE over `##`
# pieces), and ours follows it so that our vocabulary can be checked against theirs token for
# token. Google's original WordPiece, the one BERT's vocabulary came from, chose pieces by
# likelihood instead: at each step the piece that most raised the likelihood of the training
# text under a language model over the pieces. The encoder (greedy longest match) is the same
# whichever way the vocabulary was found. The first merges are the most frequent pairs in
# Kant's English.

# %%
section("training on kant.txt")
lines = KANT.read_text(encoding="utf-8-sig").splitlines()
if QUICK:
    lines = lines[:3000]
print(f"{len(lines):,} lines of Kant")

# KantaiBERT's settings: 52,000 tokens asked for, pairs must occur at least twice.
bpe_trainer = BPETrainer(vocab_size=52_000, min_frequency=2, show_progress=False)
bpe = bpe_trainer.train(iter(lines))
print("BPE:", bpe.vocab_size, "tokens;", len(bpe.merges), "merges; stopped because",
      bpe_trainer.report.stopped)
print("  first 12 merges:", [a + b for a, b in bpe.merges[:12]])

wp = WordPieceTrainer(vocab_size=8_000, show_progress=False).train(iter(lines))
specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
vocab = sorted(wp.get_vocab().items(), key=lambda kv: kv[1])
learned = [t for t, _ in vocab
           if t not in specials and len(t.removeprefix("##")) > 1]  # beyond the alphabet
print("WordPiece:", wp.vocab_size, "tokens;", len(learned), "learned by merging")
print("  first 12 learned:", learned[:12])

sentence = "Metaphysics is the battle-field of endless controversies."
print("Kant BPE      :", bpe.encode(sentence).tokens)
print("Kant WordPiece:", wp.encode(sentence).tokens)
print("GPT-2 BPE     :", gpt2.encode(sentence).tokens)
print(f"tokens needed for the sentence: Kant BPE {len(bpe.encode(sentence))} "
      f"(incl. <s> </s>), GPT-2 {len(gpt2.encode(sentence))}, bert {len(bert.encode(sentence))} "
      "(incl. [CLS] [SEP])")

# %% [markdown]
# ## Exercises
# 1. Train the BPE tokenizer with `min_frequency=1` and then with `vocab_size=1000`. How does
#    the number of tokens for the sentence above change, and why?
# 2. Find a lowercase English word that the bert-base vocabulary encodes as one piece but
#    Kant's 8,000-token WordPiece cuts into three or more (hint: loop over `bert.get_vocab()`).

# %% [markdown]
# ## Expected output (full mode; timings and threads vary by machine)
# ```
#
# == WordPiece: bert-base-uncased's 30,522-token vocabulary ================
# vocab size: 30522
# 'The Critique of Pure Reason'
#    tokens ['[CLS]', 'the', 'critique', 'of', 'pure', 'reason', '[SEP]']
#    ids    [101, 1996, 16218, 1997, 5760, 3114, 102]
# 'Transcendental apperception is unbelievably hard.'
#    tokens ['[CLS]', 'trans', '##cend', '##ental', 'app', '##er', '##ception', 'is', 'un', '##bel', '##ie', '##va', '##bly', 'hard', '.', '[SEP]']
#    ids    [101, 9099, 23865, 21050, 10439, 2121, 24422, 2003, 4895, 8671, 2666, 3567, 6321, 2524, 1012, 102]
# "Kant's Königsberg 🤗"
#    tokens ['[CLS]', 'kant', "'", 's', 'ko', '##nig', '##sberg', '[UNK]', '[SEP]']
#    ids    [101, 26044, 1005, 1055, 12849, 25518, 11711, 100, 102]
# decode: kant ' s konigsberg
# [CLS] = 101  [SEP] = 102  [UNK] = 100  [MASK] = 103
# a sentence pair: ['[CLS]', 'reason', 'is', 'pure', '.', '[SEP]', 'it', 'is', 'critical', '.', '[SEP]']
#   segment (type) ids: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
#
# == byte-level BPE: GPT-2's encoder.json + vocab.bpe ======================
# vocab size: 50257  merges: 50000
# 'The Critique of Pure Reason'
#    tokens ['The', 'ĠCrit', 'ique', 'Ġof', 'ĠPure', 'ĠReason']
#    ids    [464, 10056, 2350, 286, 17129, 23219]
# 'Transcendental apperception is unbelievably hard.'
#    tokens ['Trans', 'cend', 'ental', 'Ġapp', 'er', 'ception', 'Ġis', 'Ġunbelievably', 'Ġhard', '.']
#    ids    [8291, 15695, 2470, 598, 263, 4516, 318, 48943, 1327, 13]
# "Kant's Königsberg 🤗"
#    tokens ['K', 'ant', "'s", 'ĠK', 'Ã¶n', 'igs', 'berg', 'ĠðŁ', '¤', 'Ĺ']
#    ids    [42, 415, 338, 509, 48863, 9235, 3900, 12520, 97, 245]
# decode round trip: Kant's Königsberg 🤗
# space -> 'Ġ'   newline -> 'Ċ'
# 'ö' is bytes [195, 182] -> Ã¶
# '🤗' is bytes ['F0', '9F', 'A4', '97'] -> ['ð', 'Ł', '¤', 'Ĺ']
# GPT-2's first 5 merges: [('Ġ', 't'), ('Ġ', 'a'), ('h', 'e'), ('i', 'n'), ('r', 'e')]
#
# == training on kant.txt ==================================================
# 20,819 lines of Kant
# BPE: 9485 tokens; 9224 merges; stopped because the most frequent pair occurs 1 times, below min_frequency=2
#   first 12 merges: ['Ġt', 'he', 'Ġa', 'on', 'in', 'Ġo', 'Ġthe', 're', 'it', 'Ġof', 'en', 'is']
# WordPiece: 8000 tokens; 7899 learned by merging
#   first 12 learned: ['th', '##on', 'the', '##ti', '##er', '##en', 'of', '##in', '##es', '##tion', 'in', '##nd']
# Kant BPE      : ['<s>', 'Metaphys', 'ics', 'Ġis', 'Ġthe', 'Ġb', 'attle', '-', 'field', 'Ġof', 'Ġendless', 'Ġcontro', 'versies', '.', '</s>']
# Kant WordPiece: ['[CLS]', 'metaphysics', 'is', 'the', 'battle', '-', 'field', 'of', 'endless', 'controversies', '.', '[SEP]']
# GPT-2 BPE     : ['Met', 'aph', 'ysics', 'Ġis', 'Ġthe', 'Ġbattle', '-', 'field', 'Ġof', 'Ġendless', 'Ġcontroversies', '.']
# tokens needed for the sentence: Kant BPE 15 (incl. <s> </s>), GPT-2 12, bert 13 (incl. [CLS] [SEP])
# ```

# %% [markdown]
# ## Expected output, quick mode (`--quick`, as CI runs it)
# tests/test_examples.py runs the lesson so and compares a fresh run with this: the same
# lines, numbers within 2 %; times and speeds are not compared.
# ```
#
# == WordPiece: bert-base-uncased's 30,522-token vocabulary ================
# vocab size: 30522
# 'The Critique of Pure Reason'
#    tokens ['[CLS]', 'the', 'critique', 'of', 'pure', 'reason', '[SEP]']
#    ids    [101, 1996, 16218, 1997, 5760, 3114, 102]
# 'Transcendental apperception is unbelievably hard.'
#    tokens ['[CLS]', 'trans', '##cend', '##ental', 'app', '##er', '##ception', 'is', 'un', '##bel', '##ie', '##va', '##bly', 'hard', '.', '[SEP]']
#    ids    [101, 9099, 23865, 21050, 10439, 2121, 24422, 2003, 4895, 8671, 2666, 3567, 6321, 2524, 1012, 102]
# "Kant's Königsberg 🤗"
#    tokens ['[CLS]', 'kant', "'", 's', 'ko', '##nig', '##sberg', '[UNK]', '[SEP]']
#    ids    [101, 26044, 1005, 1055, 12849, 25518, 11711, 100, 102]
# decode: kant ' s konigsberg
# [CLS] = 101  [SEP] = 102  [UNK] = 100  [MASK] = 103
# a sentence pair: ['[CLS]', 'reason', 'is', 'pure', '.', '[SEP]', 'it', 'is', 'critical', '.', '[SEP]']
#   segment (type) ids: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
#
# == byte-level BPE: GPT-2's encoder.json + vocab.bpe ======================
# vocab size: 50257  merges: 50000
# 'The Critique of Pure Reason'
#    tokens ['The', 'ĠCrit', 'ique', 'Ġof', 'ĠPure', 'ĠReason']
#    ids    [464, 10056, 2350, 286, 17129, 23219]
# 'Transcendental apperception is unbelievably hard.'
#    tokens ['Trans', 'cend', 'ental', 'Ġapp', 'er', 'ception', 'Ġis', 'Ġunbelievably', 'Ġhard', '.']
#    ids    [8291, 15695, 2470, 598, 263, 4516, 318, 48943, 1327, 13]
# "Kant's Königsberg 🤗"
#    tokens ['K', 'ant', "'s", 'ĠK', 'Ã¶n', 'igs', 'berg', 'ĠðŁ', '¤', 'Ĺ']
#    ids    [42, 415, 338, 509, 48863, 9235, 3900, 12520, 97, 245]
# decode round trip: Kant's Königsberg 🤗
# space -> 'Ġ'   newline -> 'Ċ'
# 'ö' is bytes [195, 182] -> Ã¶
# '🤗' is bytes ['F0', '9F', 'A4', '97'] -> ['ð', 'Ł', '¤', 'Ĺ']
# GPT-2's first 5 merges: [('Ġ', 't'), ('Ġ', 'a'), ('h', 'e'), ('i', 'n'), ('r', 'e')]
#
# == training on kant.txt ==================================================
# 3,000 lines of Kant
# BPE: 4077 tokens; 3816 merges; stopped because the most frequent pair occurs 1 times, below min_frequency=2
#   first 12 merges: ['Ġt', 'he', 'Ġa', 'on', 'in', 'Ġo', 'Ġthe', 're', 'ti', 'en', 'Ġof', 'it']
# WordPiece: 5079 tokens; 4982 learned by merging
#   first 12 learned: ['th', '##on', 'the', '##ti', '##en', '##er', 'of', '##tion', '##in', 'in', '##es', '##al']
# Kant BPE      : ['<s>', 'M', 'e', 'taphys', 'ics', 'Ġis', 'Ġthe', 'Ġb', 'at', 'tle', '-', 'f', 'ield', 'Ġof', 'Ġend', 'less', 'Ġcontrover', 'sies', '.', '</s>']
# Kant WordPiece: ['[CLS]', 'metaphysics', 'is', 'the', 'ba', '##t', '##tle', '-', 'field', 'of', 'endless', 'controversies', '.', '[SEP]']
# GPT-2 BPE     : ['Met', 'aph', 'ysics', 'Ġis', 'Ġthe', 'Ġbattle', '-', 'field', 'Ġof', 'Ġendless', 'Ġcontroversies', '.']
# tokens needed for the sentence: Kant BPE 20 (incl. <s> </s>), GPT-2 12, bert 13 (incl. [CLS] [SEP])
# ```
