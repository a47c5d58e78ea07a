"""Copy the tiny pack and break it on purpose (the CLI, pack and engine tests share this)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable


def copy_pack(src: Path, dst: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """``src`` copied to ``dst``; ``edit`` changes the manifest in place (hashes left as they were)."""
    shutil.copytree(src, dst)
    if edit is not None:
        path = dst / "manifest.json"
        manifest = json.loads(path.read_text())
        edit(manifest)
        path.write_text(json.dumps(manifest))
    return dst
