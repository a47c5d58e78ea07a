"""Property-based: whatever a pack's manifest or files hold, opening and using it either works or
raises :class:`PackError`, never another exception (and never a crash).

A copy of the tiny pack is damaged one way per example: a random JSON value put at a random path
of its manifest (or the key removed), or random bytes in one of its index, gallery or ONNX files
(truncated, bits flipped, a span overwritten, an int32 written where Annoy keeps node fields).
Hashes are not checked (they would refuse every file edit before the structure checks run).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchpad.ink import iter_ndjson
from sketchpad.pack import PackError, load_pack
from sketchpad.runtime import open_pack
from sketchpad.selftest import SAMPLE

FUZZ = settings(max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FILES = ("index_low.ann", "index_mid.ann", "index_high.ann", "gallery.npz", "convnet.onnx",
         "rnn.onnx", "fusion.onnx")

#: JSON values, with the edge cases that broke packs before: huge and negative numbers, zero,
#: NaN and infinities (written as the non-JSON NaN/Infinity), strings where numbers go, nesting.
SCALARS = (st.none() | st.booleans() | st.sampled_from([0, -1, 1, 2 ** 31, 2 ** 63, 10 ** 400, "", "N"])
           | st.integers(-10 ** 6, 10 ** 6) | st.floats() | st.text(max_size=12))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def work(tiny_pack_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copytree(tiny_pack_dir, tmp_path_factory.mktemp("fuzz") / "tiny"))


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key and index path of a JSON document."""
    out = [prefix] if prefix else []
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in children:
        out += paths(v, prefix + (k,))
    return out


def outcome(path: Path) -> str:
    """'works' (opened, and a sample classified and searched) or 'refused' (PackError)."""
    try:
        loaded = open_pack(load_pack(path, verify_hashes=False), prefer_gpu=False, threads=1)
        for sketch in iter_ndjson(SAMPLE):
            loaded.analyse(sketch, k=3)
    except PackError:
        return "refused"
    return "works"


@FUZZ
@given(data=st.data())
def test_any_manifest_value_anywhere(work: Path, tiny_pack_dir: Path, data: st.DataObject) -> None:
    doc = json.loads((tiny_pack_dir / "manifest.json").read_text())
    *head, last = data.draw(st.sampled_from(paths(doc)), label="path")
    holder = doc
    for k in head:
        holder = holder[k]
    if data.draw(st.booleans(), label="remove"):
        del holder[last]
    else:
        holder[last] = data.draw(JSON, label="value")
    (work / "manifest.json").write_text(json.dumps(doc))
    assert outcome(work) in ("works", "refused")


@FUZZ
@given(name=st.sampled_from(FILES), how=st.sampled_from(["truncate", "flip", "span", "int32"]),
       where=st.floats(0, 1, exclude_max=True), seed=st.integers(0, 2 ** 32 - 1))
def test_any_damage_to_a_file(work: Path, tiny_pack_dir: Path, name: str, how: str, where: float,
                              seed: int) -> None:
    shutil.copy(tiny_pack_dir / "manifest.json", work / "manifest.json")
    for f in FILES:
        shutil.copy(tiny_pack_dir / f, work / f)
    data = bytearray((tiny_pack_dir / name).read_bytes())
    rng = np.random.default_rng(seed)
    at = int(where * len(data))
    if how == "truncate":
        del data[at:]
    elif how == "flip":
        for i in rng.integers(0, len(data), 8):
            data[i] ^= 1 << int(rng.integers(8))
    elif how == "span":
        data[at:at + 64] = rng.bytes(min(64, len(data) - at))
    else:
        at -= at % 4
        value = int(rng.choice([-1, 0, 1, 2 ** 30, -(2 ** 31), int(rng.integers(0, 400))]))
        data[at:at + 4] = value.to_bytes(4, "little", signed=True)[: len(data) - at]
    (work / name).write_bytes(bytes(data))
    assert outcome(work) in ("works", "refused")
