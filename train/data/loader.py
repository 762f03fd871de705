"""Feeding a dataset to the pretraining loop: one epoch order for every dataset, each rank
reading only its own rows, collated and masked (in DataLoader worker processes when asked),
from any position.

Order: epoch e visits the examples in `epoch_order(n, e, seed)`, a permutation drawn by a
torch.Generator seeded from (seed, e), computed once per epoch in each process. Micro-batch m
of the run is global batch m % per_epoch of epoch m // per_epoch (batch_size rows of that
order); rank r keeps its contiguous part of the rows (`train/ddp.shard_rows`), so the ranks
read disjoint rows that together cover the batch, and the epoch. Only those rows are read,
padded and masked on that rank.

Masks: micro-batch m is masked from a generator seeded by (seed, m) that draws one table for
the whole global batch, as wide as the dataset's longest example; row r, position t of the
global batch reads entry (r, t) of it (`train/data/masking.py`, `table`). So micro-batch m is
a pure function of the seed and m: the same whichever rank builds a row and however that
rank's rows are padded, the same in a worker process as here, in any order. A run resumed at
micro-batch m gets exactly the batches an uninterrupted run gets (nothing but m needs
saving), and N ranks train on the batches of one process.

Datasets: those of `train/data/datasets.py` and `train/data/nsp.NSPPairs` (`example(i,
epoch)`, `max_length`; packed blocks also build a padded batch with array operations), or any
sequence of examples (`dataset[i]`; its longest example is measured once). A collator with
`from_padded` (ours) gets the padded batch and the generator; any other collate function gets
the list of examples, and its own randomness is its own. `data_settings` is what a checkpoint
keeps of the dataset and the collator, so a resume on other data or masks is refused.
Left out on purpose: sampling weights across corpora, bucketing by length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from train import ddp
from train.data.collator import example_ids, pad_batch

ORDER, MASKS = 0, 1  # stream tags: the epoch order and the masks never share a generator seed


def mixed_seed(seed: int, stream: int, number: int) -> int:
    """A generator seed for one (seed, stream, number), independent of every other triple."""
    state = np.random.SeedSequence([seed, stream, number]).generate_state(1, np.uint64)
    return int(state[0] >> 1)


def epoch_order(n: int, epoch: int, seed: int, shuffle: bool = True) -> torch.Tensor:
    """(n,) the example order of one epoch: the same on every rank and in every process."""
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(mixed_seed(seed, ORDER,
                                                                                epoch)))


def data_settings(dataset, collate: Callable) -> dict:
    """What the batches depend on besides the seed and the micro-batch number: the number of
    examples, and what the dataset and the collator record of themselves (`settings()`: the
    kind of examples, their block size and corpus; the masking). A checkpoint keeps it, so
    that resuming on other data or with other masks is refused instead of silently training
    on batches the interrupted run would not have seen (`train/pretrain_setup.resume`)."""
    def own(part) -> dict:
        settings = getattr(part, "settings", None)
        return settings() if settings is not None else {}

    # the kind of examples first: a mismatch there is the one worth naming
    return own(dataset) | {"n_examples": len(dataset)} | own(collate)


def longest(dataset) -> int:
    """The longest example a dataset can give: its `max_length`, or measured over it."""
    known = getattr(dataset, "max_length", None)
    if known is not None:
        return known
    return max(len(example_ids(dataset[i], i)) for i in range(len(dataset)))


class RankBatches(torch.utils.data.Dataset):
    """Item m: this rank's rows of micro-batch m, collated (padded and masked)."""

    def __init__(self, dataset, collate: Callable, *, batch_size: int, per_epoch: int, seed: int,
                 shuffle: bool, info: ddp.DistInfo):
        self.dataset, self.collate, self.batch_size = dataset, collate, batch_size
        self.per_epoch, self.seed, self.shuffle, self.info = per_epoch, seed, shuffle, info
        self.from_padded = getattr(collate, "from_padded", None)
        self.width = longest(dataset) if self.from_padded is not None else None
        self._order_of = (-1, None)  # (epoch, order): one permutation kept per process
        self._generator = None  # made in each process, reseeded for every micro-batch

    def rows(self, m: int) -> tuple[int, np.ndarray, slice]:
        """(epoch, the example indices of global micro-batch m, this rank's part of them)."""
        epoch, index = divmod(m, self.per_epoch)
        if self._order_of[0] != epoch:
            order = epoch_order(len(self.dataset), epoch, self.seed, self.shuffle)
            self._order_of = (epoch, order.numpy())
        rows = self._order_of[1][index * self.batch_size:(index + 1) * self.batch_size]
        return epoch, rows, ddp.shard_rows(len(rows), self.info)

    def __getstate__(self) -> dict:  # a worker started by spawn makes its own generator
        return {**self.__dict__, "_generator": None}

    def _example(self, i: int, epoch: int):
        example = getattr(self.dataset, "example", None)
        return example(i, epoch) if example is not None else self.dataset[i]

    def __getitem__(self, m: int) -> dict[str, torch.Tensor]:
        epoch, rows, part = self.rows(m)
        mine = rows[part]
        if self.from_padded is None:
            return self.collate([self._example(i, epoch) for i in mine.tolist()])
        pad_id = self.collate.pad_token_id
        padded = getattr(self.dataset, "padded_batch", None)
        batch = padded(mine, pad_id) if padded is not None else \
            pad_batch([self._example(i, epoch) for i in mine.tolist()], pad_id)
        if self._generator is None:
            self._generator = torch.Generator()
        generator = self._generator.manual_seed(mixed_seed(self.seed, MASKS, m))
        return self.from_padded(batch, generator=generator, table=(len(rows), self.width),
                                first_row=part.start)


class _Packed(torch.utils.data.Dataset):
    """RankBatches for worker processes: the (B, T) fields stacked into one tensor.

    A worker hands every tensor to the main process through a shared-memory segment of its
    own, and for 64 x 128 batches that per-tensor cost was most of the loader's CPU time
    (bench/RESULTS.md, "Corpora larger than memory")."""

    def __init__(self, batches: RankBatches):
        self.batches = batches

    def __getitem__(self, m: int) -> tuple[list[str], torch.Tensor, dict]:
        batch = self.batches[m]
        first = batch["input_ids"]
        keys = [k for k, v in batch.items() if v.shape == first.shape and v.dtype == first.dtype]
        rest = {k: v for k, v in batch.items() if k not in keys}
        return keys, torch.stack([batch[k] for k in keys]), rest  # (F, B, T)


def _unpacked(keys: list[str], stacked: torch.Tensor, rest: dict) -> dict[str, torch.Tensor]:
    return dict(zip(keys, stacked.unbind(0))) | rest


def _one_thread(worker_id: int) -> None:
    torch.set_num_threads(1)  # the workers share the cores with the training step


def rank_stream(batches: RankBatches, start: int, stop: int,
                num_workers: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Micro-batches start, start + 1, ..., stop - 1 of this rank, built by `num_workers`
    processes ahead of the training step (0: in this process, when asked for)."""
    loader = torch.utils.data.DataLoader(
        _Packed(batches) if num_workers else batches, batch_size=None,
        sampler=range(start, stop), num_workers=num_workers,
        worker_init_fn=_one_thread if num_workers else None,
        prefetch_factor=4 if num_workers else None,
        # its own generator: drawing the workers' base seed from torch's global RNG would
        # shift the dropout masks of a resumed run
        generator=torch.Generator().manual_seed(0))
    if not num_workers:
        return iter(loader)
    return (_unpacked(*item) for item in loader)
