"""A linear upsampling tail folded into one low-resolution convolution equals the chain it
replaces at every size (edges included), in float64 to rounding; what is not linear is
refused; EDSR and RCAN run their folded form for inference."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import napari_sr  # noqa: E402
from napari_sr.models._common import PixelShuffleUpsampler, conv  # noqa: E402
from napari_sr.models.folded_tail import FoldedTail  # noqa: E402

# every size up to past the edge strips (2 · reach = 4 input pixels), and a few larger ones
SIZES = [*itertools.product(range(1, 11), range(1, 11)), (31, 17), (24, 40)]


def random_tail(scale, features, out, seed=0):
    torch.manual_seed(seed)
    tail = nn.Sequential(PixelShuffleUpsampler(scale, features), conv(features, out)).double()
    for p in tail.parameters():  # biases too: the edges are where they matter
        nn.init.normal_(p, std=0.3)
    return tail


@pytest.mark.parametrize(
    ("scale", "features", "out"), [(2, 6, 1), (3, 5, 3), (4, 4, 1), (8, 3, 2)]
)
def test_the_folded_tail_equals_the_chain_at_every_size(scale, features, out):
    tail = random_tail(scale, features, out)
    folded = FoldedTail(tail)
    assert folded.scale == scale
    assert folded.reach == 2  # a 5×5 kernel for every scale of this upsampler
    assert tuple(folded.folded.weight.shape) == (out * scale**2, features, 5, 5)
    gen = torch.Generator().manual_seed(1)
    for h, w in SIZES:
        x = torch.randn(2, features, h, w, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            expected, got = tail(x), folded(x)
        assert got.shape == expected.shape == (2, out, h * scale, w * scale)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-11, msg=f"size {h}x{w}")


def test_the_fold_reads_larger_kernels_and_stacked_convolutions():
    torch.manual_seed(2)
    # a 5×5 convolution before the shuffle, two convolutions after it
    tail = nn.Sequential(conv(3, 12, 5), nn.PixelShuffle(2), conv(3, 4), conv(4, 2, 1)).double()
    folded = FoldedTail(tail)
    assert folded.reach == 3  # 2 from the 5×5, ceil(1/2) from the 3×3 at twice the size
    for h, w in [(1, 1), (6, 7), (7, 6), (13, 9)]:
        x = torch.randn(1, 3, h, w, dtype=torch.float64)
        with torch.no_grad():
            torch.testing.assert_close(folded(x), tail(x), rtol=0, atol=1e-11)


@pytest.mark.parametrize(
    "tail",
    [
        nn.Sequential(conv(4, 16), nn.PixelShuffle(2), nn.ReLU(), conv(4, 1)),
        nn.Sequential(nn.Conv2d(4, 16, 3, stride=2, padding=1), nn.PixelShuffle(2)),
        nn.Sequential(nn.Conv2d(4, 16, 3, padding=1, padding_mode="reflect"), nn.PixelShuffle(2)),
        nn.Sequential(nn.Conv2d(4, 16, 2, padding=1), nn.PixelShuffle(2)),
        nn.Sequential(nn.PixelShuffle(2)),
        conv(4, 1),
    ],
    ids=["activation", "stride", "reflect padding", "even kernel", "no convolution", "bare conv"],
)
def test_what_is_not_a_same_padded_linear_chain_is_refused(tail):
    with pytest.raises(ValueError, match="fold|foldable"):
        FoldedTail(tail)


@pytest.mark.parametrize(
    ("architecture", "scale", "extra"),
    [
        ("edsr_light", 2, {}),
        ("edsr_light", 4, {}),
        ("edsr", 3, dict(n_resblocks=2, n_feats=8, value_range=255)),
        ("rcan", 2, dict(n_resgroups=1, n_resblocks=1, n_feats=8, reduction=2)),
    ],
)
def test_edsr_and_rcan_run_their_folded_form_with_the_same_result(architecture, scale, extra):
    torch.manual_seed(3)
    net = napari_sr.create_model(architecture, scale=scale, in_channels=3, **extra)
    net = net.double().eval()  # the fold is rounded once, to the weights' dtype
    form = net.for_inference()
    assert isinstance(form.tail, FoldedTail) and form is not net
    assert not isinstance(net.tail, FoldedTail)  # the model itself is left as it was
    x = torch.rand(2, 3, 21, 18, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(form(x), net(x), rtol=0, atol=1e-9)


def test_other_architectures_run_as_they_are():
    net = napari_sr.create_model("fsrcnn", scale=2)
    assert net.for_inference() is net
