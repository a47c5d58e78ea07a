"""A tiny real DSN setup for the DSN tests: three 500-drawing Quick, Draw! classes, a few dozen
drawings each, cached through the real pipeline, and configs of the real model classes shrunk
so a training step takes milliseconds."""
from __future__ import annotations

from pathlib import Path

from training.dsn.build import build_cache
from training.dsn.data import DataConfig

CLASSES = ("airplane", "bicycle", "calculator")


def build_tiny_cache(data_root: Path, out: Path) -> Path:
    cfg = DataConfig(classes=CLASSES, train_cap=24, val_cap=6, test_cap=6, shard_size=16)
    build_cache(data_root / "quickdraw", out, cfg, sizes=(32,))
    return out


def tiny_args(cache: Path, out_dir: Path, model: str = "dsnplus", steps_epochs: float = 0.5) -> list[str]:
    """``--key=value`` overrides of ``training.dsn.train`` for a seconds-long run."""
    return [f"--cache={cache}", f"--out_dir={out_dir}", f"--model={model}", "--image_size=32",
            "--cnn_widths=(4, 8, 8, 8)", "--cnn_embed=16", "--rnn_conv=(8, 8)", "--rnn_hidden=16",
            "--fusion_dim=16", "--batch_size=8", f"--epochs={steps_epochs}", "--warmup_iters=1",
            "--eval_interval=1000", "--log_interval=1000", "--learning_rate=0.003"]
