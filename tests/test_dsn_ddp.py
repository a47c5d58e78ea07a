"""Two-process DistributedDataParallel on the CPU (gloo): the ranks read different shards, and
after a few steps they still hold identical parameters (gradients were all-reduced)."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.multiprocessing as mp  # noqa: E402

from dsn_tiny import build_tiny_cache, tiny_args  # noqa: E402
from training.dsn.model import DSN, DSNConfig  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, cache: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from training.dsn.train import parse_config, run
    model = run(parse_config(tiny_args(Path(cache), Path(out) / "run", steps_epochs=0.3)))
    # Parameters only: BatchNorm running statistics are rank-local by design (DDP broadcasts
    # rank 0's before each forward, and each rank's last forward updates its own).
    torch.save(dict(model.named_parameters()), Path(out) / f"rank{rank}.pt")


def test_two_ranks_end_with_identical_weights(tmp_path: Path, data_root: Path) -> None:
    cache = build_tiny_cache(data_root, tmp_path / "cache")
    mp.spawn(_worker, args=(2, _free_port(), str(cache), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ck = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    assert ck["world_size"] == 2 and ck["step"] >= 2
    torch.manual_seed(ck["config"]["seed"])  # the initial weights, as run() drew them
    initial = DSN(DSNConfig.from_dict(ck["model_config"])).state_dict()
    assert not torch.equal(initial["fusion.head.weight"], a["fusion.head.weight"])  # it trained
