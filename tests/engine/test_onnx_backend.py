"""ONNX Runtime as the CPU backend: used where it applies and is faster, equal to PyTorch to
1e-4, remembered on disk, and PyTorch whenever it does not apply."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import napari_sr  # noqa: E402
from napari_sr.engine import onnx_backend  # noqa: E402
from napari_sr.models import export  # noqa: E402


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder and no networks kept in memory."""
    monkeypatch.setenv("NAPARI_SR_CACHE", str(tmp_path))
    monkeypatch.delenv("NAPARI_SR_BACKEND", raising=False)
    monkeypatch.setattr(onnx_backend, "_sessions", {})
    return tmp_path / "onnx"


def model(seed=0):
    torch.manual_seed(seed)
    return napari_sr.create_model("edsr_light", scale=2, n_resblocks=1, n_feats=8).eval()


def image(edge=256):
    data = np.random.default_rng(5).random((edge, edge), dtype=np.float32)
    return napari_sr.Image(data, axes="YX")


def backend_of(result):
    return result.metadata["provenance"]["backend"]


def test_a_faster_onnx_runtime_runs_the_network_with_pytorchs_result(cache, monkeypatch):
    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *args: True)
    net = model()
    result = napari_sr.upscale(image(), 2, method=net, self_ensemble=True)
    assert backend_of(result).startswith("onnxruntime ")
    monkeypatch.setenv("NAPARI_SR_BACKEND", "torch")
    reference = napari_sr.upscale(image(), 2, method=net, self_ensemble=True)
    assert backend_of(reference).startswith("PyTorch ")
    np.testing.assert_allclose(result.data, reference.data, atol=1e-4, rtol=0)
    assert len(list(cache.glob("*.onnx"))) == 1


def test_the_export_is_kept_on_disk_for_the_next_process(cache, monkeypatch):
    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *args: True)
    first = napari_sr.upscale(image(), 2, method=model())
    monkeypatch.setattr(onnx_backend, "_sessions", {})  # a new process
    monkeypatch.setattr(export, "onnx_bytes", lambda *a, **k: pytest.fail("exported again"))
    again = napari_sr.upscale(image(), 2, method=model())
    assert backend_of(again).startswith("onnxruntime ")
    np.testing.assert_array_equal(np.asarray(first.data), np.asarray(again.data))


def test_changed_weights_are_exported_anew(cache, monkeypatch):
    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *args: True)
    net = model()
    before = napari_sr.upscale(image(), 2, method=net)
    with torch.no_grad():  # as a training step would
        next(net.parameters()).mul_(1.5)
    after = napari_sr.upscale(image(), 2, method=net)
    monkeypatch.setenv("NAPARI_SR_BACKEND", "torch")
    reference = napari_sr.upscale(image(), 2, method=net)
    assert not np.allclose(np.asarray(before.data), np.asarray(after.data))
    np.testing.assert_allclose(after.data, reference.data, atol=1e-4, rtol=0)
    assert len(list(cache.glob("*.onnx"))) == 2


def test_a_network_pytorch_runs_faster_stays_in_pytorch_and_that_is_remembered(cache, monkeypatch):
    timed = []
    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *a: timed.append(1) > [])
    assert backend_of(napari_sr.upscale(image(), 2, method=model())).startswith("PyTorch")
    monkeypatch.setattr(onnx_backend, "_sessions", {})
    assert backend_of(napari_sr.upscale(image(), 2, method=model())).startswith("PyTorch")
    assert len(timed) == 1 and len(list(cache.glob("*.torch"))) == 1


def test_a_network_that_does_not_export_runs_in_pytorch(cache, monkeypatch):
    def fails(*args, **kwargs):
        raise export.ExportError("no")

    monkeypatch.setattr(export, "onnx_bytes", fails)
    result = napari_sr.upscale(image(), 2, method=model())
    assert backend_of(result).startswith("PyTorch")


def test_small_planes_and_other_precisions_stay_in_pytorch(cache, monkeypatch):
    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *args: True)
    small = napari_sr.upscale(image(200), 2, method=model())
    assert backend_of(small).startswith("PyTorch")
    cpu = torch.device("cpu")
    assert not onnx_backend.wanted(cpu, "bf16", (512, 512))
    assert onnx_backend.wanted(cpu, "fp32", (256, 256))
    assert not onnx_backend.wanted(torch.device("meta"), "fp32", (512, 512))
    assert not list(cache.glob("*"))


def test_an_unknown_backend_setting_is_an_error_that_names_the_choices(monkeypatch):
    monkeypatch.setenv("NAPARI_SR_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="NAPARI_SR_BACKEND='tensorrt'.*'torch'"):
        onnx_backend.wanted(torch.device("cpu"), "fp32", (512, 512))


def test_the_timing_compares_like_with_like(monkeypatch):
    monkeypatch.setattr(onnx_backend, "TIMING_TILES", ((64, 64), (48, 64)))
    net = model()
    record = export.export_record(net)
    seen = []

    def slow(array):
        seen.append(array.shape)
        __import__("time").sleep(0.05)
        return net(torch.from_numpy(array))

    assert onnx_backend._faster_than_torch(net, slow, record) is False
    # every round runs every size: the engine's tiles differ in size
    assert seen == [(1, 1, 64, 64), (1, 1, 48, 64)] * (1 + onnx_backend.TIMING_ROUNDS)
    fast = lambda array: np.zeros((1, 1, 2 * array.shape[2], 2 * array.shape[3]), np.float32)  # noqa: E731
    assert onnx_backend._faster_than_torch(net, fast, record) is True


def test_a_session_gives_its_memory_back_when_idle(cache, monkeypatch):
    monkeypatch.setattr(onnx_backend, "IDLE_RELEASE_S", 0.05)
    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *args: True)
    network = onnx_backend.network_for(model())
    released = []
    real = network.release
    monkeypatch.setattr(network, "release", lambda: (released.append(1), real()))
    x = np.random.default_rng(0).random((1, 1, 40, 40), dtype=np.float32)
    first = network(x)
    network.timer.cancel()  # the release the first call scheduled is replaced by the next
    network.timer = None
    second = network(x)
    network.timer.join(timeout=5)
    assert released == [1]  # once, after the last run
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(network(x), first)  # and it runs as before afterwards
    network.timer.cancel()


def test_onnx_runtime_runs_the_inference_form_with_the_folded_tail(cache, monkeypatch):
    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *args: True)
    onnx = pytest.importorskip("onnx")
    net = model()
    assert onnx_backend.network_for(net) is not None
    (path,) = cache.glob("*.onnx")
    graph = onnx.load(path).graph
    shapes = {tuple(t.dims) for t in graph.initializer}
    assert (4, 8, 5, 5) in shapes  # the folded tail: 8 features to 2² outputs, 5×5
    small = np.random.default_rng(0).random((1, 1, 17, 16), dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(small)).numpy()
    np.testing.assert_allclose(onnx_backend.network_for(net)(small), expected, atol=1e-5)
    assert not onnx_backend.wanted(torch.device("cpu"), "fp32", (8192, 15))


def test_a_fusion_network_runs_in_onnx_runtime_for_its_number_of_frames(cache, monkeypatch):
    from napari_sr.multiframe.simulate import make_burst

    monkeypatch.setattr(onnx_backend, "_faster_than_torch", lambda *args: True)
    torch.manual_seed(4)
    net = napari_sr.create_model("highresnet", scale=2, prior=True, features=8).eval()
    torch.nn.init.normal_(net.decoder[-1].weight, std=0.05)  # a correction to the prior
    scene = napari_sr.resize(np.random.default_rng(1).random((64, 64)), 8, method="bicubic")
    frames, _, _ = make_burst(scene, 2, 6, peak=None, seed=2)  # 6 frames of 256²
    result = napari_sr.misr(frames, 2, method=net)
    # exported for the burst's 6 frames and for the guard's halves of 3
    assert len(list(cache.glob("*.onnx"))) == 2
    monkeypatch.setenv("NAPARI_SR_BACKEND", "torch")
    reference = napari_sr.misr(frames, 2, method=net)
    span = float(frames.max() - frames.min())
    np.testing.assert_allclose(result, reference, atol=1e-4 * span, rtol=0)
    assert not np.allclose(reference, napari_sr.misr(frames, 2, method="robust"), atol=1e-3)


def _prelu_model(slope):
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("PRelu", ["x", "slope"], ["y"])],
        "prelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 5])],
        [numpy_helper.from_array(np.asarray(slope, np.float32), "slope")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize(
    ("slope", "rewritten"),
    [
        (np.array([0.1, -0.5, 2.0]).reshape(3, 1, 1), True),  # per channel
        (np.array([0.1, -0.5, 2.0]).reshape(1, 3, 1, 1), True),
        (np.array([0.25]), False),  # one slope for all: left as it is
        (np.linspace(0, 1, 5), False),  # broadcast over the last axis, not the channels
    ],
)
def test_prelu_is_rewritten_as_per_channel_scalings_with_the_same_values(slope, rewritten):
    import onnxruntime

    data = _prelu_model(slope).SerializeToString()
    new = onnx_backend.prelu_as_scalings(data)
    ops = [node.op_type for node in __import__("onnx").load_from_string(new).graph.node]
    assert ("PRelu" not in ops) is rewritten
    x = np.random.default_rng(0).normal(size=(1, 3, 4, 5)).astype(np.float32)
    run = lambda d: onnxruntime.InferenceSession(d).run(None, {"x": x})[0]  # noqa: E731
    np.testing.assert_allclose(run(new), run(data), rtol=1e-6, atol=1e-7)
    expected = np.where(x > 0, x, np.broadcast_to(slope, x.shape[-slope.ndim :]) * x)
    np.testing.assert_allclose(run(new), expected, rtol=1e-6, atol=1e-7)
