"""Where the data comes from: a local folder if you have one, else CoLA's official release.

`data_root` is the one lookup of the data folder, used by the commands, the course
(examples/_course.py), the tests (tests/conftest.py) and scripts/: an explicit path (a
`--data` flag), then `$MINIBERT_DATA`, then `../shared/data` beside a checkout of this
repository (an installed package has no such neighbour). Given a folder, we read it and never
touch the network. Without one, CoLA is downloaded once from its official release (the URL
below) into a cache (`$MINIBERT_CACHE`, else `~/.cache/minibert`), and every raw file is
checked against the sha256 published in our data provenance notes (`checked`, which the
course's own downloads in examples/_data.py use too), so a corrupted or changed download fails
loudly instead of shifting scores. The extraction is atomic (`tokenizer/atomic.py`): an
interrupted download leaves no half cache. Standard library only (urllib, zipfile, hashlib).
Left out on purpose: mirrors, resuming, proxies beyond what urllib reads from the environment.
"""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
import zipfile
from pathlib import Path

from tokenizer.atomic import atomic_dir

COLA_URL = "https://nyu-mll.github.io/CoLA/cola_public_1.1.zip"
# sha256 of the raw v1.1 files, as listed in shared/data/SOURCES.md
COLA_SHA256 = {
    "in_domain_train.tsv": "f320a10f92d3bce6b29152fde322a362eac39238e50d8de0c8815457fdf4fc12",
    "in_domain_dev.tsv": "77176f6a03faa5a1c4f23c69971fc1bff565931112fb65af47b2d6e24b7f42f7",
    "out_of_domain_dev.tsv": "201b9c57b2a20f1282242eec0ed8995729e3be19c29a46c047b3727338836c05",
}


# ../shared/data beside a checkout (this file is train/data/download.py in it); None when the
# package is installed rather than run from a checkout.
_REPO = Path(__file__).resolve().parents[2]
CHECKOUT_DATA = _REPO.parent / "shared" / "data" if (_REPO / "pyproject.toml").is_file() else None


class ChecksumError(RuntimeError):
    """A downloaded file's sha256 is not the published one."""


class DownloadError(OSError):
    """The download failed (offline, blocked, server error); says how to go without it."""


def data_root(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local data folder: the one a flag names (`explicit`), else $MINIBERT_DATA's, else
    ../shared/data beside the checkout if it is there; None when there is none. A folder the
    flag or the variable names must exist: an error, not a silent fall-back to downloading."""
    chosen, origin = (explicit, "--data") if explicit else (os.environ.get("MINIBERT_DATA"),
                                                             "$MINIBERT_DATA")
    if not chosen:
        return CHECKOUT_DATA if CHECKOUT_DATA is not None and CHECKOUT_DATA.is_dir() else None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{origin} points to {path}, which is not a directory")
    return path


def cache_dir() -> Path:
    return Path(os.environ.get("MINIBERT_CACHE") or Path.home() / ".cache" / "minibert")


def checked(data: bytes, expected: str, source: str) -> bytes:
    """`data` when its sha256 is the published `expected`; else a ChecksumError naming
    `source`, raised before anything is saved."""
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise ChecksumError(f"{source} has sha256 {got}, expected {expected}; the download is "
                            f"corrupted or the file changed, so it was not saved")
    return data


def cola_dir(explicit: str | os.PathLike | None = None, *, url: str = COLA_URL,
             opener=urllib.request.urlopen, quiet: bool = False) -> Path:
    """A folder holding CoLA's three raw `.tsv` files: the local data folder if there is one
    (`data_root`), else the cache, downloading into it first if needed. `opener(url)` returns
    a file-like response; tests pass their own so no test ever reaches the network."""
    from train.data.cola import find_cola_dir  # local: data_cola does not need us

    root = data_root(explicit)
    if root is not None:
        return find_cola_dir(root)
    target = cache_dir() / "cola_public_1.1"
    if all((target / name).is_file() for name in COLA_SHA256):
        return target
    if not quiet:
        print(f"downloading CoLA from {url} into {target}")
    try:
        with opener(url) as response:
            payload = response.read()
    except OSError as e:  # urllib's URLError and HTTPError are OSErrors
        reason = getattr(e, "reason", None) or e
        raise DownloadError(f"CoLA is not in {target} and downloading {url} failed ({reason}); "
                            f"put in_domain_train.tsv, in_domain_dev.tsv and "
                            f"out_of_domain_dev.tsv in a folder and pass --data DIR (or set "
                            f"$MINIBERT_DATA)") from None
    atomic_dir(target, lambda tmp: _extract_checked(payload, tmp, url))
    return target


def _extract_checked(payload: bytes, out: Path, url: str) -> None:
    """Write the three raw files from the release zip into `out`, checking each hash."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except zipfile.BadZipFile as e:
        raise ChecksumError(f"{url} did not return a zip file ({len(payload)} bytes): {e}") from e
    by_name = {Path(n).name: n for n in archive.namelist() if "/raw/" in f"/{n}"}
    for name, expected in COLA_SHA256.items():
        if name not in by_name:
            raise ChecksumError(f"{url}: the zip has no raw/{name}; found {sorted(by_name)}")
        (out / name).write_bytes(checked(archive.read(by_name[name]), expected,
                                         f"{url}: raw/{name}"))
