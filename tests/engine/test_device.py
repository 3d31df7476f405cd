"""Device and precision choice, with the GPUs mocked: the logic runs on any machine."""

from __future__ import annotations

import contextlib

import pytest

torch = pytest.importorskip("torch")

from napari_sr.engine import device as dev  # noqa: E402
from napari_sr.utils import device as devices  # noqa: E402


@pytest.fixture
def machine(monkeypatch):
    """Pretend the machine has the given CUDA GPUs (and MPS or not)."""

    def configure(cuda: int = 0, mps: bool = False, bf16: bool = True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
        monkeypatch.setattr(devices, "mps_available", lambda: mps)  # device choice lives here

    return configure


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(2, True, "cuda"), (0, True, "mps"), (0, False, "cpu")]
)
def test_auto_prefers_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert dev.resolve_device("auto").type == expected
    assert dev.resolve_device(None).type == expected


def test_explicit_devices(machine):
    machine(cuda=2, mps=True)
    assert dev.resolve_device("cpu") == torch.device("cpu")
    assert dev.resolve_device(" CUDA:1 ") == torch.device("cuda", 1)
    assert dev.resolve_device(torch.device("cuda")) == torch.device("cuda")
    assert dev.resolve_device("mps") == torch.device("mps")
    assert dev.available_devices() == ["cpu", "cuda:0", "cuda:1", "mps"]


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps", "tpu", "gpu"])
def test_unavailable_device_names_the_available_ones(machine, name):
    machine(cuda=0, mps=False)
    match = rf"device '{name}' is not available.*available: auto, cpu"
    with pytest.raises(ValueError, match=match):
        dev.resolve_device(name)


def test_cuda_index_out_of_range(machine):
    machine(cuda=1)
    with pytest.raises(ValueError, match="'cuda:1' is not available.*cuda:0"):
        dev.resolve_device("cuda:1")


def test_device_of_the_wrong_type():
    with pytest.raises(TypeError, match="device must be"):
        dev.resolve_device(0.5)


@pytest.mark.parametrize(
    ("bf16", "half_safe", "expected"),
    [(True, True, "bf16"), (False, True, "fp16"), (True, False, "fp32"), (False, False, "fp32")],
)
def test_automatic_precision_on_cuda(machine, bf16, half_safe, expected):
    machine(cuda=1, bf16=bf16)
    assert dev.resolve_precision(None, torch.device("cuda"), half_safe=half_safe) == expected


@pytest.mark.parametrize("where", ["cpu", "mps"])
def test_automatic_precision_elsewhere_is_fp32(where):
    assert dev.resolve_precision(None, torch.device(where), half_safe=True) == "fp32"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("fp32", "fp32"), ("float32", "fp32"), ("BF16", "bf16"), (torch.bfloat16, "bf16")],
)
def test_explicit_precision_names(given, expected):
    assert dev.resolve_precision(given, torch.device("cpu"), half_safe=True) == expected


def test_fp16_on_cuda_and_mps_but_not_cpu():
    for where in ("cuda", "mps"):
        assert dev.resolve_precision("half", torch.device(where), half_safe=True) == "fp16"
    with pytest.raises(ValueError, match="'fp16' is not supported on the CPU.*'bf16'"):
        dev.resolve_precision("fp16", torch.device("cpu"), half_safe=True)


def test_unknown_precision():
    with pytest.raises(ValueError, match="precision 'int8' is not supported.*'bf16'"):
        dev.resolve_precision("int8", torch.device("cpu"), half_safe=True)


def test_explicit_half_precision_on_an_unsafe_model_warns():
    with pytest.warns(UserWarning, match="not marked safe in half precision"):
        assert dev.resolve_precision("bf16", torch.device("cpu"), half_safe=False) == "bf16"


def test_autocast_only_for_half_precision():
    assert isinstance(dev.autocast(torch.device("cpu"), "fp32"), contextlib.nullcontext)
    with dev.autocast(torch.device("cpu"), "bf16"):
        out = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
    assert out.dtype == torch.bfloat16


def test_out_of_memory_errors_are_recognised():
    assert dev.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert dev.is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not dev.is_out_of_memory(RuntimeError("shapes do not match"))
    assert not dev.is_out_of_memory(MemoryError())
