"""``training.distributed`` on its own: a lone process is rank 0 of 1, a checkpoint write that
fails leaves the previous checkpoint whole, seeds are offset by rank, metric sums come back as
numbers. (Two real gloo ranks: ``test_dsn_ddp.py`` and ``test_deepsketch_ddp.py``.)"""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training import distributed as D  # noqa: E402


def test_a_lone_process_is_the_master_of_a_world_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    ctx = D.setup()
    assert (ctx.rank, ctx.world, ctx.is_master, ctx.distributed) == (0, 1, True, False)
    D.teardown(ctx)  # nothing to leave


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    D.save_atomic({"step": 1}, path)
    with pytest.raises(Exception):
        D.save_atomic({"step": 2, "bad": lambda: None}, path)  # cannot be pickled
    assert torch.load(path)["step"] == 1


def test_seeds_are_offset_by_rank() -> None:
    draws = []
    for rank in (0, 0, 1):
        D.seed(7, D.Dist(rank=rank, world=2))
        draws.append(torch.rand(3))
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_metric_sums_mix_device_tensors_and_host_counts() -> None:
    sums = {"loss": torch.tensor(1.5) + torch.tensor(2.0), "seen": 64.0}
    assert D.reduce_sums(sums, D.Dist()) == {"loss": 3.5, "seen": 64.0}
