"""FSRCNN's deconvolution computed as a sub-pixel convolution is the same operator."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_sr.models import create_model  # noqa: E402
from napari_sr.models.fsrcnn import subpixel_deconvolution  # noqa: E402

CASES = [(2, 9, 4), (3, 9, 4), (4, 9, 4), (2, 5, 2), (3, 7, 3), (8, 9, 4)]


@pytest.mark.parametrize(("scale", "size", "padding"), CASES)
def test_subpixel_convolution_equals_the_transposed_convolution(scale, size, padding):
    torch.manual_seed(scale + size)
    deconv = torch.nn.ConvTranspose2d(
        6, 2, size, stride=scale, padding=padding, output_padding=scale - 1
    )
    torch.nn.init.normal_(deconv.weight)
    torch.nn.init.normal_(deconv.bias)
    x = torch.randn(2, 6, 7, 5)
    weight, bias, pad = subpixel_deconvolution(deconv)
    y = torch.nn.functional.pixel_shuffle(
        torch.nn.functional.conv2d(x, weight, bias, padding=pad), scale
    )
    expected = deconv(x)
    assert y.shape == expected.shape == (2, 2, 7 * scale, 5 * scale)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)


def test_fsrcnn_forward_and_gradients_match_the_papers_layers():
    torch.manual_seed(0)
    model = create_model("fsrcnn", scale=3)
    torch.nn.init.normal_(model.deconv.weight, std=0.1)
    x = torch.rand(1, 1, 9, 11)
    ours = model(x)
    reference = model.deconv(model.body(x))
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    (grad_ours,) = torch.autograd.grad(ours.square().sum(), model.deconv.weight)
    (grad_ref,) = torch.autograd.grad(
        model.deconv(model.body(x)).square().sum(), model.deconv.weight
    )
    torch.testing.assert_close(grad_ours, grad_ref, rtol=1e-4, atol=1e-6)


def test_deconvolutions_without_an_exact_sub_pixel_form_are_refused():
    odd_size = torch.nn.ConvTranspose2d(4, 1, 9, stride=2, padding=4, output_padding=0)
    with pytest.raises(ValueError, match=r"output_padding = stride \+ 2 padding - kernel \(1\)"):
        subpixel_deconvolution(odd_size)
    grouped = torch.nn.ConvTranspose2d(4, 2, 9, stride=2, padding=4, output_padding=1, groups=2)
    with pytest.raises(ValueError, match="square, ungrouped, undilated"):
        subpixel_deconvolution(grouped)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("m", [1, 4, 8])
def test_halo_is_the_receptive_field_in_input_pixels(scale, m):
    """Tiling needs the halo to cover every input pixel an output pixel reads: bump one
    input pixel and find the input rows whose output pixels moved."""
    torch.manual_seed(0)
    model = create_model("fsrcnn", scale=scale, s=4, m=m, d=8).eval()
    # random deconvolution weights instead of the paper's near-zero initialisation, so that
    # every tap shows
    torch.nn.init.normal_(model.deconv.weight)
    x = torch.rand(1, 1, 41, 9)
    row = 20
    with torch.no_grad():
        bumped = x.clone()
        bumped[..., row, 4] += 10.0
        changed = (model(bumped) - model(x)).abs().amax(dim=(0, 1, 3)) > 1e-7
    rows = torch.nonzero(changed).flatten() // scale  # the input row of each output row
    reach = max(row - int(rows.min()), int(rows.max()) - row)
    assert model.spec.halo == 2 + m + 2 >= reach >= model.spec.halo - 1
