"""Feeding a dataset on shards to the pretraining loop: each rank reads only its own rows,
collated and masked in DataLoader worker processes, from any position.

The order of epoch e is a permutation of the examples drawn from (seed, e): the same on every
rank, as every rank computes it itself. Micro-batch m of the run is global batch m % per_epoch
of epoch m // per_epoch (batch_size rows of that order); rank r keeps its contiguous part of
the rows (`train/ddp.shard_rows`), so the ranks read disjoint rows that together cover the
batch, and the epoch. Only those rows are read, padded and masked on that rank.

Masking draws from a generator seeded by (seed, m, rank), not from one generator that runs
through the epoch, so micro-batch m is a pure function of m: worker processes can build
batches ahead in any order (the DataLoader hands them back in order), and a run resumed at
micro-batch m gets exactly the batches an uninterrupted run gets; nothing but m needs saving.
The price: the masks of a run depend on the number of ranks (the in-memory path of
`train/pretrain.py` masks the whole global batch on every rank instead).
Left out on purpose: sampling weights across corpora, bucketing by length (packed blocks are
all full).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from train import ddp


def epoch_order(n: int, epoch: int, seed: int, shuffle: bool) -> np.ndarray:
    """(n,) the example order of one epoch, the same on every rank."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_seed(seed: int, micro_batch: int, rank: int) -> int:
    """The masking seed of one rank's micro-batch (independent streams per (seed, m, rank))."""
    return int(np.random.SeedSequence([seed, micro_batch, rank]).generate_state(1, np.uint64)[0]
               >> 1)


class RankBatches(torch.utils.data.Dataset):
    """Item m: this rank's rows of micro-batch m, collated (padded and masked)."""

    def __init__(self, dataset, collate: Callable, *, batch_size: int, per_epoch: int, seed: int,
                 shuffle: bool, info: ddp.DistInfo):
        self.dataset, self.collate, self.batch_size = dataset, collate, batch_size
        self.per_epoch, self.seed, self.shuffle, self.info = per_epoch, seed, shuffle, info
        self._order_of = (-1, None)  # (epoch, order): one permutation kept per process

    def rows(self, m: int) -> tuple[int, np.ndarray]:
        """(epoch, this rank's example indices) of micro-batch m."""
        epoch, index = divmod(m, self.per_epoch)
        if self._order_of[0] != epoch:
            self._order_of = (epoch, epoch_order(len(self.dataset), epoch, self.seed,
                                                 self.shuffle))
        rows = self._order_of[1][index * self.batch_size:(index + 1) * self.batch_size]
        return epoch, rows[ddp.shard_rows(len(rows), self.info)]

    def __getitem__(self, m: int) -> dict[str, torch.Tensor]:
        epoch, rows = self.rows(m)
        generator = getattr(self.collate, "generator", None)
        if isinstance(generator, torch.Generator):
            generator.manual_seed(batch_seed(self.seed, m, self.info.rank))
        padded = getattr(self.dataset, "padded_batch", None)
        if padded is not None and hasattr(self.collate, "from_padded"):  # the vectorised road
            return self.collate.from_padded(padded(rows, self.collate.pad_token_id))
        return self.collate([self.dataset.example(int(i), epoch) for i in rows])


class _Packed(torch.utils.data.Dataset):
    """RankBatches for worker processes: the (B, T) fields stacked into one tensor.

    A worker hands every tensor to the main process through a shared-memory segment of its
    own, and for 64 x 128 batches that per-tensor cost was most of the loader's CPU time
    (bench/RESULTS.md, "Memory does not grow with the corpus", has the two speeds)."""

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
