"""LPIPS from a user's backbone weights and the shipped linear layers: the release's
computation step by step, the shipped layers' provenance, and the checks."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr import similarity  # noqa: E402


def _backbone_file(path, net):
    """Random weights in torchvision's layout (``features.N.weight``), as a user's file."""
    torch.manual_seed(0)
    state = {}
    index = 0
    for item in similarity.BACKBONES[net]:
        if isinstance(item, tuple):
            conv = torch.nn.Conv2d(*item[:3])
            state[f"features.{index}.weight"] = conv.weight.detach()
            state[f"features.{index}.bias"] = conv.bias.detach()
            index += 2
        else:
            index += 1
    state["classifier.1.weight"] = torch.zeros(2, 2)  # torchvision's files hold it too
    torch.save(state, path)
    return state


@pytest.fixture(scope="module", params=["vgg", "alex"])
def backbone(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("lpips") / f"{request.param}.pth"
    return request.param, path, _backbone_file(path, request.param)


def _by_hand(a, b, net, state):
    """The release's recipe written out in numpy-flavoured torch, layer by layer."""
    import torch.nn.functional as F

    lines = np.load(similarity.resources.files("napari_sr") / "data" / "lpips_linear.npz")

    def prepare(x):
        x = torch.from_numpy(x.astype(np.float32) / 255 * 2 - 1).permute(2, 0, 1)[None]
        return (x - torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)) / torch.tensor(
            [0.458, 0.448, 0.450]
        ).view(1, 3, 1, 1)

    def taps(x):
        out, index = [], 0
        for item in similarity.BACKBONES[net]:
            if item == "M":
                x = F.max_pool2d(x, 2, 2)
                index += 1
            elif item == "P":
                x = F.max_pool2d(x, 3, 2)
                index += 1
            else:
                w, bias = state[f"features.{index}.weight"], state[f"features.{index}.bias"]
                x = F.relu(F.conv2d(x, w, bias, stride=item[3], padding=item[4]))
                index += 2
                if index - 1 in similarity.TAPS[net]:
                    out.append(x)
        return out

    total = 0.0
    for i, (fa, fb) in enumerate(zip(taps(prepare(a)), taps(prepare(b)), strict=True)):
        na = fa / (fa.norm(dim=1, keepdim=True) + 1e-10)
        nb = fb / (fb.norm(dim=1, keepdim=True) + 1e-10)
        w = torch.from_numpy(lines[f"{net}_{i}"]).view(1, -1, 1, 1)
        total += float(((na - nb) ** 2 * w).sum(dim=1).mean())
    return total


def test_lpips_follows_the_release(backbone):
    net, path, state = backbone
    rng = np.random.default_rng(1)
    a = (rng.random((64, 72, 3)) * 255).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    got = napari_sr.lpips(a, b, weights=path)
    assert got == pytest.approx(_by_hand(a, b, net, state), rel=1e-5)
    assert napari_sr.lpips(a, a, weights=path) == 0.0
    assert napari_sr.lpips(b, a, weights=path) == pytest.approx(got, rel=1e-6)
    gray = a[..., 0]
    assert napari_sr.lpips(gray, gray[::-1], weights=path) == pytest.approx(
        napari_sr.lpips(np.repeat(gray[..., None], 3, -1),
                        np.repeat(gray[::-1, :, None], 3, -1), weights=path)
    )  # fmt: skip


def test_the_shipped_linear_layers_are_the_releases():
    """Sums of the v0.1 linear weights of the lpips 0.1.4 package (vgg.pth sha256
    a78928a0…, alex.pth df73285e…), read from the files when this was vendored."""
    lines = np.load(similarity.resources.files("napari_sr") / "data" / "lpips_linear.npz")
    sums = {"vgg": (6.925992, 8.858334, 17.515005, 51.521324, 47.034855),
            "alex": (2.349532, 16.143026, 39.268440, 27.197178, 20.317177)}  # fmt: skip
    for net, expected in sums.items():
        got = [float(lines[f"{net}_{i}"].sum()) for i in range(5)]
        assert got == pytest.approx(expected, abs=1e-5)
        assert all((lines[f"{net}_{i}"] >= 0).all() for i in range(5))  # fitted non-negative


def test_lpips_checks(tmp_path, backbone):
    _, path, state = backbone
    a = np.zeros((40, 40), np.uint8)
    with pytest.raises(ValueError, match="same size"):
        napari_sr.lpips(a, a[:-1], weights=path)
    with pytest.raises(ValueError, match="at least 32"):
        napari_sr.lpips(a, a, weights=path, crop_border=5)
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        napari_sr.lpips(a, a, weights=tmp_path / "none.pth")
    bad = dict(state)
    bad["features.0.weight"] = torch.zeros(64, 3, 7, 7)
    torch.save(bad, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="neither VGG16's nor AlexNet's"):
        napari_sr.lpips(a, a, weights=tmp_path / "other.pth")
    cut = {k: v for k, v in state.items() if not k.startswith("features.10.")}
    torch.save(cut, tmp_path / "cut.pth")
    with pytest.raises(ValueError, match="features.10"):
        napari_sr.lpips(a, a, weights=tmp_path / "cut.pth")
