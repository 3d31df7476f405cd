"""The memory probe and the budgets that size tiles and batches."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_sr.engine import footprint  # noqa: E402

CPU = torch.device("cpu")


class Widening(torch.nn.Module):
    """1 → 64 channels and back: at its peak 64 + 64 float32 maps (512 bytes per pixel)
    live together, plus a fixed 1 MiB buffer made on every call."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.Conv2d(1, 64, 1)
        self.down = torch.nn.Conv2d(64, 1, 1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        scratch = torch.zeros(2**18)  # 1 MiB whatever the input size
        wide = self.up(x)
        return self.down(torch.relu(wide)) + scratch[:1]


def test_probe_measures_bytes_per_pixel_and_fixed_bytes():
    model = Widening()
    found = footprint.measure(model, channels=1, multiple=1, device=CPU, precision="fp32")
    assert found.per_pixel == pytest.approx(512, rel=0.05)
    assert found.fixed == pytest.approx(2**20, rel=0.05)
    assert found.planned(1000) == int(footprint.SAFETY * (found.fixed + 1000 * found.per_pixel))


def test_probe_runs_once_per_model_device_and_precision():
    model = Widening()
    for _ in range(3):
        footprint.measure(model, channels=1, multiple=1, device=CPU, precision="fp32")
    assert model.calls == 2  # the two probe sizes, once
    footprint.measure(model, channels=1, multiple=1, device=CPU, precision="bf16")
    assert model.calls == 4


def test_probe_sizes_respect_the_size_multiple():
    sizes = []

    class Strict(torch.nn.Module):
        def forward(self, x):
            assert x.shape[-1] % 12 == 0
            sizes.append(x.shape[-1])
            return x.repeat(1, 1, 2, 2)

    footprint.measure(Strict(), channels=1, multiple=12, device=CPU, precision="fp32")
    assert sizes == [12, 24]


def test_invisible_tensors_still_get_a_floor():
    class Opaque(torch.nn.Module):  # returns its input: nothing new for the probe to see
        def forward(self, x):
            return x

    found = footprint.measure(Opaque(), channels=3, multiple=1, device=CPU, precision="fp32")
    assert found.per_pixel == 64 * 3


def test_budgets(monkeypatch):
    assert footprint.device_budget(CPU) is None  # the host budget covers the CPU
    monkeypatch.setattr(footprint, "available_memory", lambda: 16 * 2**30)
    assert footprint.host_budget() == 4 * 2**30  # a quarter of what is available
    monkeypatch.setattr(footprint, "available_memory", lambda: 2 * 2**30)
    assert footprint.host_budget() == 2**30  # at least 1 GiB
    monkeypatch.setattr(footprint, "available_memory", lambda: 2**29)
    assert footprint.host_budget() == 2**28  # but never more than half of what is available
    monkeypatch.setattr(footprint, "HOST_BUDGET", 3 * 2**20)  # a budget set by hand
    assert footprint.host_budget() == 3 * 2**20


def test_cuda_budget_counts_free_and_cached_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * 2**30, 80 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 3 * 2**30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 1 * 2**30)
    budget = footprint.device_budget(torch.device("cuda"))
    assert budget == int(footprint.CUDA_FRACTION * 12 * 2**30)
