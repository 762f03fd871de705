"""DistributedDataParallel on CPU: 2 processes with the gloo backend train the same model as
one process on the same global batch, and must end with identical replicas and the same loss.

Dropout is off: each rank draws its own dropout masks (seed + rank), so with dropout on even
a perfect DDP run would differ from one process. Masking is not a problem: each rank masks
its rows of the global batch with the draws one process gives them (train/data/loader.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_pretrain import collator, make_examples, quiet, tiny_model

from train import ddp
from train.pretrain import pretrain

ARGS = {
    "objective": "bert",
    "batch_size": 6,
    "grad_accum": 2,
    "epochs": 1,
    "lr": 3e-3,
    "warmup_steps": 1,
}
N = 36  # 3 optimizer steps of 2 x 6 examples


def _train(rank: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    model = tiny_model("bert")
    result = pretrain(model, make_examples("bert", N), collator("bert"), quiet(**ARGS))
    torch.save({"losses": result.losses, "model": model.state_dict()}, f"{out_dir}/rank{rank}.pt")


# Two spawned interpreters that import torch and this module: the longest of the fast runs.
# CI keeps DDP = one process through the command line (test_torchrun_command_line_equals_one_
# process, step by step) and ddp.spawn through test_loader's two-process resume.
@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    single_model = tiny_model("bert")
    single = pretrain(single_model, make_examples("bert", N), collator("bert"), quiet(**ARGS))
    assert single.steps == 3

    ddp.spawn(_train, 2, str(tmp_path))
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["losses"] == r1["losses"]  # the loss is all-reduced: every rank reports the same
    torch.testing.assert_close(torch.tensor(r0["losses"]), torch.tensor(single.losses),
                               rtol=1e-5, atol=1e-6)
    for name, p in r0["model"].items():
        assert torch.equal(p, r1["model"][name]), f"replicas differ at {name}"
        torch.testing.assert_close(p, single_model.state_dict()[name], rtol=1e-4, atol=1e-5,
                                   msg=f"DDP and one process differ at {name}")


def test_shard_rows_cover_the_batch():
    for n in range(1, 12):
        for world in (1, 2, 3, 5):
            if n < world:
                continue
            parts = [
                ddp.shard_rows(n, ddp.DistInfo(rank=r, world_size=world)) for r in range(world)
            ]
            rows = [i for s in parts for i in range(n)[s]]
            assert rows == list(range(n)) and all(s.stop > s.start for s in parts)


def test_single_process_needs_no_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not ddp.init_from_env().enabled


def test_torchrun_command_line_equals_one_process(data, tmp_path):
    """`python -m torch.distributed.run --nproc_per_node 2 -m train.cli pretrain ...` (gloo, CPU)
    logs the same losses as the same command in one process."""
    import json
    import os
    import subprocess
    import sys

    from train.cli import main

    text = tmp_path / "kant_head.txt"
    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()[:300]
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["train-tokenizer", "--type", "bpe", "--vocab-size", "400", str(text),
                 "--out", str(tmp_path / "tok")]) == 0
    args = ["pretrain", "--tokenizer", str(tmp_path / "tok"), "--train", str(text),
            "--hidden-size", "32", "--num-hidden-layers", "2", "--num-attention-heads", "4",
            "--intermediate-size", "37", "--vocab-size", "tokenizer", "--block-size", "32",
            "--batch-size", "16", "--max-steps", "3", "--lr", "1e-3", "--no-progress",
            "--precision", "fp32",
            "--hidden-dropout-prob", "0", "--attention-probs-dropout-prob", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    "--master_port", str(ddp.free_port()), "-m", "train.cli", *args,
                    "--out", str(tmp_path / "ddp")], check=True, env=env,
                   cwd=Path(__file__).resolve().parents[1], capture_output=True)
    assert main([*args, "--out", str(tmp_path / "one")]) == 0

    def losses(d):
        return [json.loads(line)["loss"] for line in (d / "metrics.jsonl").read_text().splitlines()]

    torch.testing.assert_close(torch.tensor(losses(tmp_path / "ddp")),
                               torch.tensor(losses(tmp_path / "one")), rtol=1e-5, atol=1e-6)
