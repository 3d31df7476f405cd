"""The engine runs a network's inference form on a CPU (EDSR's folded tail): built once,
rebuilt when the weights change, with the network's result; the network itself untouched."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.engine.cpu_form import cpu_form  # noqa: E402
from napari_sr.models.folded_tail import FoldedTail  # noqa: E402


def edsr(seed=0):
    torch.manual_seed(seed)
    return napari_sr.create_model("edsr_light", scale=3, n_resblocks=1, n_feats=8).eval()


def test_the_form_is_built_once_and_again_after_a_training_step():
    net = edsr()
    form = cpu_form(net)
    assert isinstance(form.tail, FoldedTail)
    assert cpu_form(net) is form
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.rand(1, 1, 8, 8)).mean().backward()
    optimiser.step()  # updates the weights in place
    rebuilt = cpu_form(net)
    assert rebuilt is not form
    x = torch.rand(1, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), net(x), rtol=0, atol=1e-5)


def test_a_module_without_an_inference_form_is_run_as_it_is():
    plain = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.PixelShuffle(2))
    assert cpu_form(plain) is plain


def test_upscale_on_a_cpu_runs_the_folded_tail_with_the_networks_result(monkeypatch):
    net = edsr(1)
    calls = []
    forward = FoldedTail.forward
    monkeypatch.setattr(FoldedTail, "forward", lambda self, x: calls.append(1) or forward(self, x))
    data = np.random.default_rng(2).random((40, 36), dtype=np.float32)
    result = napari_sr.upscale(napari_sr.Image(data, axes="YX"), 3, method=net, device="cpu")
    assert calls
    assert not isinstance(net.tail, FoldedTail)
    limits = result.metadata["provenance"]["normalization"]["limits"]
    x = torch.from_numpy((data - limits[0]) / (limits[1] - limits[0]))[None, None]
    with torch.no_grad():
        expected = net(x)[0, 0].numpy() * (limits[1] - limits[0]) + limits[0]
    np.testing.assert_allclose(np.asarray(result.data), expected, rtol=0, atol=1e-5)


def test_a_network_that_is_its_own_form_is_not_kept_alive():
    import gc
    import weakref

    net = napari_sr.create_model("fsrcnn", scale=2)
    assert cpu_form(net) is net
    alive = weakref.ref(net)
    del net
    gc.collect()
    assert alive() is None
