"""Data parallelism across processes: DistributedDataParallel, launched with `torchrun`.

`torchrun --nproc_per_node N -m train.cli pretrain ...` starts N copies of the program and
sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT in each; `init_from_env`
reads them and joins the process group (nccl on CUDA, gloo on CPU). Without those variables
everything here is a no-op for a single process, so the loop has one code path.

How the pretraining loop splits work (see `train/data/loader.py`): every rank computes the
same data order and takes its own slice of each global batch's rows (`shard_rows`); it reads,
pads and masks only those, with the masking draws one process would give them. Its loss is
divided by the target count summed over all ranks (`all_reduce_sum`, `train/objectives.py`)
and multiplied by the number of ranks, which DDP's gradient averaging undoes, so the gradients
add up to the whole batch's. So a run on N processes computes exactly what one process
computes on the whole batch, which is what the tests check.

Left out on purpose: multi-node rendezvous options, FSDP / ZeRO sharding, elastic restarts.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device: torch.device | None = None) -> DistInfo:
    """Join the process group described by torchrun's environment variables, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        if device is not None and device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over all ranks (in place, also returned); identity for one process."""
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def any_rank(flag: bool, device: torch.device, info: DistInfo) -> bool:
    """True on every rank when `flag` is true on at least one (e.g. Ctrl-C pressed there)."""
    return all_reduce_sum(torch.tensor(float(flag), device=device), info).item() > 0


def all_gather_stack(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Every rank's `t`, stacked in rank order: (world_size, *t.shape); (1, *t.shape) for one
    process. nccl gathers only GPU tensors, so pass `t` on the run's device."""
    if not info.enabled:
        return t[None]
    gathered = [torch.empty_like(t) for _ in range(info.world_size)]
    dist.all_gather(gathered, t)
    return torch.stack(gathered)


def shard_rows(n_rows: int, info: DistInfo) -> slice:
    """The contiguous block of a global batch's rows that this rank trains on."""
    per, extra = divmod(n_rows, info.world_size)
    start = info.rank * per + min(info.rank, extra)
    return slice(start, start + per + (1 if info.rank < extra else 0))


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now (for tests and `spawn`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawned(rank: int, fn: Callable, world_size: int, port: int, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    try:
        fn(rank, *args)
    finally:
        shutdown()


def spawn(fn: Callable, world_size: int, *args) -> None:
    """Run `fn(rank, *args)` in `world_size` fresh processes wired up like torchrun does;
    a way to use several CPU processes (gloo) without a launcher. `fn` must be importable
    (a module-level function), because the children are started with `spawn`."""
    import torch.multiprocessing as mp

    mp.spawn(_spawned, args=(fn, world_size, free_port(), args), nprocs=world_size, join=True)
