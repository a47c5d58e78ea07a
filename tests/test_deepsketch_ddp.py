"""Two-process DDP (gloo, CPU) through the real training entry point ends with identical weights."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from training.deepsketch.data import build_cache
from training.deepsketch.train import configure, train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, argv: list[str], out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    model = train(configure(argv))
    torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")


def test_two_ranks_end_identical(tmp_path: Path, data_root: Path):
    cache = build_cache(data_root / "tu-berlin", tmp_path / "c.npy", workers=1, n_classes=4,
                        per_class=5)
    argv = ["--widths=(4,4,8,8)", "--fc=16", "--batch_size=2", "--train_per_class=4",
            "--epochs=2", "--threads=1", "--eval_items=0", "--lr=0.01", f"--cache={cache}",
            f"--out_dir={tmp_path / 'run'}"]
    mp.spawn(_worker, args=(2, _free_port(), argv, str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    init = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    assert init["world_size"] == 2 and init["epoch"] == 1
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the ranks trained: weights moved away from the shared initialisation
    torch.manual_seed(1337)
    from training.deepsketch.model import DeepSketch, DeepSketchConfig
    fresh = DeepSketch(DeepSketchConfig((4, 4, 8, 8), 16, 0.5, 4)).state_dict()
    assert any(not torch.equal(a[k], fresh[k]) for k in a)
