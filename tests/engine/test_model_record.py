"""The engine reads the model's record (``model.info``) and nothing else: colour route,
normalisation, the normalisation of other dtypes and the input contract."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr import Image, create_model, upscale  # noqa: E402
from napari_sr.color import luma_limits  # noqa: E402
from napari_sr.models.info import InputContract  # noqa: E402
from napari_sr.normalization import IMAGE_RANGE, NATURAL_8BIT, Normalization  # noqa: E402


@pytest.fixture
def fsrcnn():
    torch.manual_seed(0)
    return create_model("fsrcnn", scale=2, d=4, s=2, m=1)


def test_the_colour_route_of_the_record_decides_how_rgb_runs(fsrcnn, rng):
    rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    fsrcnn.info = fsrcnn.info.replace(color="luma")
    luma = upscale(Image(rgb, "YXC"), 2, method=fsrcnn)
    assert "network on Y" in luma.metadata["provenance"]["color"]
    fsrcnn.info = fsrcnn.info.replace(color="per_channel")
    per_channel = upscale(Image(rgb, "YXC"), 2, method=fsrcnn)
    assert "color" not in per_channel.metadata["provenance"]
    np.testing.assert_array_equal(per_channel.data[..., 2], upscale(rgb[..., 2], 2, method=fsrcnn))
    assert not np.array_equal(luma.data, per_channel.data)


def test_the_record_of_a_model_file_is_what_runs(fsrcnn, rng, tmp_path):
    from napari_sr import save_model

    fsrcnn.info = fsrcnn.info.replace(
        color="luma", normalization=NATURAL_8BIT, input=InputContract(other_dtypes=IMAGE_RANGE)
    )
    path = save_model(fsrcnn, tmp_path / "m.safetensors")
    data = rng.integers(0, 4096, (2, 9, 9), dtype=np.uint16)
    out = upscale(Image(data, "ZYX"), 2, method=path)
    record = out.metadata["provenance"]["normalization"]
    # a 0-255 model with other_dtypes sees uint16 through them, as recorded
    assert (record["kind"], record["low"], record["high"]) == ("percentile", 0.1, 99.99)
    # grayscale is mapped to Y's range (16-235): the luma route of the record
    assert "luma" in record
    assert record["limits"] == pytest.approx(luma_limits(IMAGE_RANGE.limits(data)))


def test_the_recorded_normalisation_is_used(fsrcnn):
    seen = []
    fsrcnn.register_forward_pre_hook(lambda m, args: seen.append(float(args[0].max())))
    fsrcnn.info = fsrcnn.info.replace(normalization=Normalization("range", 0, 1000))
    upscale(np.full((6, 6), 500, np.uint16), 2, method=fsrcnn, tile=0)
    assert seen[-1] == pytest.approx(0.5)


def test_the_input_contract_of_the_record_is_checked(fsrcnn):
    fsrcnn.info = fsrcnn.info.replace(input=InputContract(dtypes=("uint8",)))
    assert upscale(np.zeros((8, 8), np.uint8), 2, method=fsrcnn).shape == (16, 16)
    with pytest.raises(TypeError, match=r"fsrcnn takes images of dtype uint8, not uint16"):
        upscale(np.zeros((8, 8), np.uint16), 2, method=fsrcnn)
