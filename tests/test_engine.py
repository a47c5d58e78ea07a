"""The engine against real ONNX files: manifest/graph mismatches are caught precisely, and the
execution provider actually in use is read back and explained."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from packcopy import copy_pack
from sketchpad import engine as engine_mod
from sketchpad.engine import CPU, CUDA, Engine, softmax
from sketchpad.ink import iter_ndjson
from sketchpad.pack import PackError, load_pack

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "selftest.ndjson"


def broken(tiny_pack_dir: Path, tmp_path: Path, edit) -> Path:
    return copy_pack(tiny_pack_dir, tmp_path / "tiny", edit)


def test_predict_gives_probabilities_per_model_and_features(tiny_pack_dir: Path) -> None:
    pack = load_pack(tiny_pack_dir)
    pred = Engine(pack, prefer_gpu=False).predict(next(iter_ndjson(SAMPLE)))
    assert set(pred.per_model) == {"convnet", "rnn", "fusion"}
    assert pred.probs is pred.per_model["fusion"]
    for p in pred.per_model.values():
        assert p.shape == (3,) and p.sum() == pytest.approx(1.0, abs=1e-5)
    assert {d: v.shape[0] for d, v in pred.features.items()} == \
        {d: f.dim for d, f in pack.features.items()}
    assert [c for c, _ in pred.top(3)] == [pack.classes[i] for i in np.argsort(-pred.probs)]


def test_softmax_is_stable_for_large_logits() -> None:
    p = softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    assert np.allclose(p, [[0.5, 0.5, 0.0]])


def test_wrong_output_name_is_named(tiny_pack_dir: Path, tmp_path: Path) -> None:
    def rename(m):
        outs = m["models"]["rnn"]["outputs"]
        outs["embed"] = outs["embedding"]
    pack = load_pack(broken(tiny_pack_dir, tmp_path, rename))
    with pytest.raises(PackError, match=r"rnn.onnx has no output 'embed' \(it has logits, embedding\)"):
        Engine(pack, prefer_gpu=False)


def test_wrong_dtype_is_named(tiny_pack_dir: Path, tmp_path: Path) -> None:
    def retype(m):
        m["models"]["rnn"]["outputs"]["embedding"]["dtype"] = "int64"
    pack = load_pack(broken(tiny_pack_dir, tmp_path, retype))
    with pytest.raises(PackError, match=r"output 'embedding' is tensor\(float\), manifest says "
                                        r"tensor\(int64\)"):
        Engine(pack, prefer_gpu=False)


def test_wrong_shape_is_named(tiny_pack_dir: Path, tmp_path: Path) -> None:
    def reshape(m):  # a manifest consistent in itself (see test_pack_schema), not with the graph
        m["models"]["convnet"]["inputs"]["image"]["shape"] = ["N", 1, 64, 64]
        m["models"]["convnet"]["preprocess"]["size"] = 64
    pack = load_pack(broken(tiny_pack_dir, tmp_path, reshape))
    with pytest.raises(PackError, match=r"input 'image' has shape .*32, 32.*manifest says"):
        Engine(pack, prefer_gpu=False)


def test_corrupt_onnx_fails_the_hash_then_the_load(tiny_pack_dir: Path, tmp_path: Path) -> None:
    path = broken(tiny_pack_dir, tmp_path, None)
    onnx = path / "convnet.onnx"
    onnx.write_bytes(onnx.read_bytes()[:500])
    with pytest.raises(PackError, match="file convnet.onnx is corrupt .sha256"):
        load_pack(path)
    pack = load_pack(path, verify_hashes=False)
    with pytest.raises(PackError, match=r"pack 'tiny': convnet.onnx does not load \("):
        Engine(pack, prefer_gpu=False)


def test_an_image_on_a_stroke_pack_is_refused(tiny_pack_dir: Path) -> None:
    engine = Engine(load_pack(tiny_pack_dir), prefer_gpu=False)
    with pytest.raises(PackError, match="needs strokes"):
        engine.predict(np.full((64, 64), 255, np.uint8))


def test_cpu_and_its_reason_without_cuda(tiny_pack_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    choice = Engine(load_pack(tiny_pack_dir)).provider
    assert choice.provider == CPU and choice.label == "CPU"
    assert "no CUDA provider" in choice.reason
    assert "switched off" in Engine(load_pack(tiny_pack_dir), prefer_gpu=False).provider.reason


def test_cuda_offered_but_its_library_missing_says_which(tiny_pack_dir: Path, monkeypatch) -> None:
    """A build that claims CUDA on a machine without CUDA/cuDNN: the loader's own message."""
    if CUDA in ort.get_available_providers():
        pytest.skip("this onnxruntime really has CUDA")
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    engine_mod.cuda_library_problem.cache_clear()
    try:
        providers, reason = engine_mod.wanted_providers(True)
    finally:
        engine_mod.cuda_library_problem.cache_clear()
    assert providers == [CPU]
    assert "CUDA provider cannot load" in reason and "libonnxruntime_providers_cuda" in reason


def test_a_frozen_apps_generic_load_error_gives_the_loaders_reason(monkeypatch) -> None:
    """PyInstaller's ctypes wraps the loader's OSError in "not found when frozen"."""
    def frozen_cdll(name):
        try:
            raise OSError("libcudnn.so.9: cannot open shared object file")
        except OSError as cause:
            raise OSError(f"Failed to load dynlib/dll {name!r}. Most likely ...") from cause
    monkeypatch.setattr(engine_mod.ctypes, "CDLL", frozen_cdll)
    engine_mod.cuda_library_problem.cache_clear()
    try:
        assert engine_mod.cuda_library_problem() == "libcudnn.so.9: cannot open shared object file"
    finally:
        engine_mod.cuda_library_problem.cache_clear()


@pytest.mark.filterwarnings("ignore:Specified provider")
def test_cuda_offered_but_not_started_reads_back_cpu(tiny_pack_dir: Path, monkeypatch) -> None:
    """The library loads, the session still falls back to CPU: the engine believes the session."""
    if CUDA in ort.get_available_providers():
        pytest.skip("this onnxruntime really has CUDA; the fallback cannot be provoked")
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(engine_mod, "cuda_library_problem", lambda: "")
    assert engine_mod.wanted_providers(True) == ([CUDA, CPU], "")
    engine = Engine(load_pack(tiny_pack_dir))
    assert all(s.get_providers() == [CPU] for s in engine.sessions.values())
    assert engine.provider.provider == CPU
    assert "CUDA provider did not start" in engine.provider.reason
    assert engine.describe()["provider"] == CPU
