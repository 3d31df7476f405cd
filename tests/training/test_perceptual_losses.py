"""The loss terms of perceptual training: consistency (exact MATLAB-bicubic downscaling in
torch), the VGG19 feature loss from a user's weights file, and the features of napari-sr's
own network."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr import degrade  # noqa: E402
from napari_sr.training import losses, perceptual  # noqa: E402


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_downscale_equals_matlab_imresize_inside_the_image(scale):
    """Where the kernel lies inside the image, the torch downscaling equals
    ``napari_sr.degrade`` (MATLAB ``imresize``, tested against MATLAB elsewhere)."""
    image = np.random.default_rng(scale).random((12 * scale, 10 * scale))
    reference = np.asarray(degrade(image, scale), dtype=np.float64)
    got = losses.bicubic_downscale(torch.from_numpy(image)[None, None], scale)[0, 0].numpy()
    start = 2  # ceil(taps before the centre / scale): 3/2, 4/3, 6/4 round up to 2
    rows, cols = got.shape
    assert rows >= 12 - 4 and cols >= 10 - 4
    np.testing.assert_allclose(got, reference[start : start + rows, start : start + cols],
                               atol=1e-13)  # fmt: skip


def test_consistency_forgives_detail_above_the_low_resolution_band():
    """A checkerboard at the Nyquist frequency of the output vanishes when downscaled by
    an even factor: the consistency loss ignores it, the L1 loss does not; a shift of the
    mean is seen by both."""
    target = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)  # fmt: skip
    y, x = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    checker = ((-1.0) ** (y + x)).to(target)
    for scale in (2, 4):
        assert losses.consistency(target + 0.1 * checker, target, scale=scale) < 1e-12
        assert losses.consistency(target + 0.1, target, scale=scale) == pytest.approx(0.1)
    assert losses.l1(target + 0.1 * checker, target) == pytest.approx(0.1)
    assert losses.consistency(target, target + 0.1, scale=1) == pytest.approx(0.1)


def _random_vgg19_file(path, extra=True):
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in perceptual.vgg19_features().state_dict().items()}
    if extra:  # torchvision's file also holds the classifier
        state["classifier.0.weight"] = torch.zeros(2, 2)
    torch.save(state, path)
    return state


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    _random_vgg19_file(path)
    return path


def test_vgg_loss_from_a_weights_file(vgg_file):
    term = losses.build_loss({"l1": 1, "vgg": 1}, perceptual_weights=vgg_file)
    a = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    b = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    assert term(a, a.clone())[1]["vgg"] == 0.0
    prediction = a.clone().requires_grad_(True)
    total, terms = term(prediction, b)
    assert terms["vgg"] > 0
    total.backward()
    assert prediction.grad.abs().sum() > 0
    network = perceptual.load_vgg19(vgg_file)
    assert isinstance(network[-1], torch.nn.Conv2d) and len(network) == perceptual.VGG_LAYER + 1
    assert not any(p.requires_grad for p in network.parameters())


def test_vgg_weights_are_read_without_running_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"features.0.weight": Payload()}, handle, protocol=2)
    with pytest.raises(ValueError, match="weights_only=True"):
        perceptual.load_vgg19(path)


def test_vgg_weights_of_another_network_are_refused(tmp_path):
    state = _random_vgg19_file(tmp_path / "full.pth", extra=False)
    del state["features.34.weight"]
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(ValueError, match="not a VGG19 state dict: it lacks .*features.34.weight"):
        perceptual.load_vgg19(tmp_path / "cut.pth")
    with pytest.raises(FileNotFoundError, match="no such file .*VGG19 weights"):
        perceptual.load_vgg19(tmp_path / "missing.pth")
    from safetensors.torch import save_file

    full = _random_vgg19_file(tmp_path / "again.pth", extra=False)
    save_file(full, tmp_path / "vgg.safetensors")
    assert isinstance(perceptual.load_vgg19(tmp_path / "vgg.safetensors"), torch.nn.Sequential)


def test_sr_features_of_napari_srs_own_network():
    term = perceptual.sr_feature_loss()
    a = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    assert term(a, a.clone()).item() == 0.0  # RGB: each channel on its own
    blurred = torch.nn.functional.avg_pool2d(a, 3, stride=1, padding=1)
    prediction = blurred.clone().requires_grad_(True)
    value = term(prediction, a)
    value.backward()
    assert value.item() > 0 and prediction.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in term.network.parameters())


def test_spectrum_loss_wants_the_truths_power_at_every_frequency():
    """Blur (too little high-frequency power) and a periodic pattern on a smooth patch (power
    where the truth has none) both cost; the same power at another phase does not."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    smooth = torch.from_numpy(ndimage.gaussian_filter(rng.random((2, 1, 64, 64)), (0, 0, 3, 3)))
    noise = torch.from_numpy(rng.random((2, 1, 64, 64)))
    assert losses.spectrum(noise, noise.clone()).item() == 0.0
    blurred = torch.nn.functional.avg_pool2d(noise, 3, stride=1, padding=1)
    assert losses.spectrum(blurred, noise) > 0.3
    y, x = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    grid = (((y % 4) == 0) & ((x % 4) == 0)).to(smooth) * 0.02  # an x4 upsampler's print
    assert losses.spectrum(smooth + grid, smooth) > 10 * losses.l1(smooth + grid, smooth)
    shifted = torch.roll(noise, shifts=(5, 7), dims=(-2, -1))  # same power, other phase
    assert losses.spectrum(shifted, noise) < 0.25 * losses.spectrum(blurred, noise)
