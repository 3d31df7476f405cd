"""The multi-frame and isotropic benchmarks: what each case feeds the methods (small data)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
pytest.importorskip("torch")

import napari_sr


def test_a_burst_is_scored_by_every_method_and_the_network_is_told_the_psf():
    import misr

    from napari_sr.multiframe.simulate import make_burst

    truth = napari_sr.load_sample("burst", ground_truth=True).data[:64, :64]
    burst, shifts, sharp = make_burst(truth, 2, 4, psf=1.0, peak=200.0, seed=0)
    network = napari_sr.models.bundled.load_bundled(misr.fusion_network(2))
    assert misr.takes_psf(network)  # the bundled network was trained over a range of optics
    error, results = misr.evaluate(burst, sharp, 2, 1.0, {2: network}, shifts)
    assert error < 0.3
    assert {"bicubic", "lanczos3", "quality", *misr.METHODS, "learned", "unguarded"} <= set(
        results
    )
    assert results["robust"][0] > results["bicubic"][0] + 1  # PSNR
    assert all(np.isfinite(v).all() for v in results.values())


def test_the_mri_case_reads_a_volume_as_zyx(tmp_path):
    import isotropic

    volume = np.arange(4 * 5 * 6, dtype=np.uint8).reshape(4, 5, 6)
    path = tmp_path / "t1.tif"
    napari_sr.io.write(path, napari_sr.Image(volume, "ZYX"))
    name, read = isotropic.mri_volume(path)
    assert name == "MRI t1.tif"
    np.testing.assert_array_equal(read, volume)
    low = isotropic.make_anisotropic(np.repeat(volume, 2, axis=0), 4)
    assert low.shape == (2, 5, 6) and low.dtype == np.uint8
