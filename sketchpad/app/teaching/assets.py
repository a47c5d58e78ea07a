"""The pack's teaching sections, read and checked: ``projection`` (t-SNE maps) and ``probes``
(inner layers), both written by ``python -m training.teaching_assets PACK``.

Both are optional: an older pack without them keeps working, and the views say in one sentence
how to add them. A section that is there but wrong raises :class:`~sketchpad.pack.PackError`
naming the pack and the fault, as :func:`sketchpad.pack.load_pack` does for the rest of the
manifest (that loader lets unknown top-level keys through; their checks live here). No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...pack import DEPTHS, Pack, PackError, load_npz

ASSETS_COMMAND = "python -m training.teaching_assets"


def add_assets_advice(pack: Pack, what: str) -> str:
    """One sentence: how to give this pack what a view lacks."""
    return (f"This pack has no {what} yet: run “{ASSETS_COMMAND} {pack.path}” "
            "(a training tool) to add it.")


def _where(pack: Pack, section: str) -> str:
    return f"pack {pack.name!r}: manifest section {section!r}"


def _dict(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PackError(f"{where}: {what} must be an object")
    return value


def _listed_file(pack: Pack, rel: Any, where: str) -> Path:
    if not isinstance(rel, str) or rel not in pack.manifest.get("files", {}):
        raise PackError(f"{where}: file {rel!r} is not listed in 'files'")
    return pack.path / rel


@dataclass(frozen=True)
class StoredMaps:
    """The pack's neighbourhood-keeping maps: one ``[N, 2]`` array per depth, and how to place a
    new sketch on them (median position of its ``k`` nearest gallery sketches)."""

    method: str
    description: str
    positions: dict[str, np.ndarray]
    k: int
    #: ``{"pca": {depth: share}, "tsne": {depth: share}}``, measured at export
    share: dict[str, dict[str, float]] = field(default_factory=dict)
    check: dict[str, dict[str, Any]] = field(default_factory=dict)


def _share(value: Any, where: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for method, per_depth in _dict(value, where, "'neighbourhood_share'").items():
        if method == "k":
            continue
        for depth, v in _dict(per_depth, where, f"neighbourhood_share.{method}").items():
            if depth not in DEPTHS or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise PackError(f"{where}: neighbourhood_share.{method}.{depth} must be a "
                                "share between 0 and 1")
            out.setdefault(method, {})[depth] = float(v)
    return out


def load_maps(pack: Pack, n_gallery: int) -> StoredMaps | None:
    """The ``projection`` section with its arrays, or None when the pack has none."""
    section = pack.manifest.get("projection")
    if section is None:
        return None
    where = _where(pack, "projection")
    section = _dict(section, where, "the section")
    path = _listed_file(pack, section.get("file"), where)
    placement = _dict(section.get("placement"), where, "'placement'")
    k = placement.get("k")
    if placement.get("rule") != "median" or not isinstance(k, int) or not 1 <= k <= 200:
        raise PackError(f"{where}: placement must be the median rule with an integer k in "
                        "1..200")
    names = _dict(section.get("arrays"), where, "'arrays'")
    positions = {}
    data = load_npz(path, f"{where}: {path.name}")
    for depth, name in names.items():
        if depth not in DEPTHS:
            raise PackError(f"{where}: unknown depth {depth!r}")
        if name not in data:
            raise PackError(f"{where}: {path.name} has no array {name!r}")
        xy = data[name]
        if (xy.shape != (n_gallery, 2) or xy.dtype.kind not in "biuf"
                or not np.isfinite(xy).all()):
            raise PackError(f"{where}: {name} must be {n_gallery} finite 2-D points, "
                            f"got shape {xy.shape}")
        positions[depth] = xy.astype(np.float32)
    check = section.get("placement", {}).get("check", {})
    return StoredMaps(str(section.get("method", "tsne")), str(section.get("description", "")),
                      positions, k, _share(section.get("neighbourhood_share", {}), where),
                      check if isinstance(check, dict) else {})


@dataclass(frozen=True)
class AttentionSpec:
    """The DSN fusion's attention probe and whether its weights tell which branch decides."""

    file: Path
    output: str
    check: dict[str, Any]

    @property
    def meaningful(self) -> bool:
        return bool(self.check.get("meaningful"))


@dataclass(frozen=True)
class ProbeSpec:
    """``probe.onnx`` (the convnet with inner layers as extra outputs) and the first layer's
    filters (``first_filters.npy``)."""

    file: Path
    outputs: dict[str, str]   # "first" and each depth → output name in probe.onnx
    filters: Path
    attention: AttentionSpec | None


def _weights_source(pack: Pack, section: dict[str, Any], where: str) -> None:
    """A probe reads its large weights from the model it was cut from (``weights_from``): that
    file must still be the one the probe was written for."""
    source = section.get("weights_from")
    if source is None:
        return
    _listed_file(pack, source, where)
    if pack.manifest["files"][source] != section.get("weights_from_sha256"):
        raise PackError(f"{where}: the probe was written for another {source}; run "
                        f"“{ASSETS_COMMAND} {pack.path}” again")


def probe_spec(pack: Pack) -> ProbeSpec | None:
    """The ``probes`` section, or None when the pack has none."""
    section = pack.manifest.get("probes")
    if section is None:
        return None
    where = _where(pack, "probes")
    section = _dict(section, where, "the section")
    _weights_source(pack, section, where)
    outputs = _dict(section.get("outputs"), where, "'outputs'")
    if "first" not in outputs or not all(isinstance(v, str) for v in outputs.values()) \
            or not set(outputs) <= {"first", *DEPTHS}:
        raise PackError(f"{where}: outputs must name 'first' and depths, each an output name")
    attention = None
    if section.get("attention") is not None:
        att = _dict(section["attention"], where, "'attention'")
        _weights_source(pack, att, where)
        if not isinstance(att.get("output"), str):
            raise PackError(f"{where}: attention.output must be an output name")
        check = att.get("check", {})
        attention = AttentionSpec(_listed_file(pack, att.get("file"), where), att["output"],
                                  check if isinstance(check, dict) else {})
    return ProbeSpec(_listed_file(pack, section.get("file"), where), dict(outputs),
                     _listed_file(pack, section.get("filters"), where), attention)


def load_filters(spec: ProbeSpec) -> np.ndarray:
    """The first convolution's weights ``[out, in, kh, kw]``."""
    try:
        w = np.load(spec.filters, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PackError(f"{spec.filters.name} is unreadable ({exc})") from None
    if w.ndim != 4 or not np.isfinite(w).all():
        raise PackError(f"{spec.filters.name} must hold finite [out, in, kh, kw] weights")
    return w.astype(np.float32)
