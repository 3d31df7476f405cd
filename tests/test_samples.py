"""The bundled sample data: present, documented, small, and what the generator says."""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pytest

import napari_sr
from conftest import REPO
from napari_sr.samples import SAMPLES, sample_folder, sample_path

FOLDER = REPO / "sample_data"


def _generator():
    spec = importlib.util.spec_from_file_location("generate", FOLDER / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_folder_is_small_and_documented():
    files = [p for p in FOLDER.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 20 * 2**20
    readme = (FOLDER / "README.md").read_text()
    for path in files:
        if path.name != "README.md":
            assert path.name in readme, f"{path.name} lacks provenance in sample_data/README.md"
    assert "licen" in readme.lower()


def test_package_finds_the_samples():
    assert sample_folder().resolve() == FOLDER.resolve()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_every_sample_loads(sample):
    image = napari_sr.load_sample(sample.name)
    assert image.data.size > 0
    assert image.metadata["format"] == "OME-TIFF"
    if sample.ground_truth:
        truth = napari_sr.load_sample(sample.name, ground_truth=True)
        assert truth.pixel_size


def test_unknown_sample():
    with pytest.raises(ValueError, match="unknown sample 'nope'; bundled samples are cell"):
        napari_sr.load_sample("nope")
    with pytest.raises(ValueError, match="has no ground truth"):
        sample_path("cell", ground_truth=True)


def test_cell_pixel_size_from_skimage_docs():
    assert napari_sr.load_sample("cell").pixel_size == pytest.approx({"Y": 0.107, "X": 0.107})


def test_anisotropic_stack_geometry():
    observed = napari_sr.load_sample("anisotropic_stack")
    truth = napari_sr.load_sample("anisotropic_stack", ground_truth=True)
    assert observed.axes == truth.axes == "ZYX"
    assert observed.pixel_size == pytest.approx({"Z": 0.8, "Y": 0.2, "X": 0.2})
    assert truth.pixel_size == pytest.approx({"Z": 0.2, "Y": 0.2, "X": 0.2})
    assert truth.shape == (4 * observed.shape[0], *observed.shape[1:])
    # the observed planes are the truth's planes 0, 4, 8, ... seen through a worse z PSF
    kept = truth.data[::4].astype(float).ravel()
    corr = np.corrcoef(kept, observed.data.astype(float).ravel())[0, 1]
    off = np.corrcoef(truth.data[2::4].astype(float).ravel(), observed.data.astype(float).ravel())
    assert corr > 0.6 and corr > off[0, 1]


def test_burst_shifts_are_what_the_metadata_says():
    """Phase correlation of each frame against frame 0 recovers the recorded shifts."""
    from skimage.registration import phase_cross_correlation

    burst = napari_sr.load_sample("burst")
    assert burst.axes == "TYX" and burst.shape == (8, 128, 128)
    shifts = np.array(burst.metadata["provenance"]["shifts_yx_lowres_pixels"])
    with open(FOLDER / "burst_shifts.csv") as fh:
        rows = list(csv.DictReader(fh))
    np.testing.assert_allclose(
        [[float(r["dy_pixels"]), float(r["dx_pixels"])] for r in rows], shifts, atol=1e-6
    )
    frames = burst.data.astype(float)
    for k in range(1, 8):
        # phase_cross_correlation returns the shift that registers moving onto reference,
        # i.e. minus the motion of frame k's content relative to frame 0
        found, _, _ = phase_cross_correlation(frames[0], frames[k], upsample_factor=20)
        np.testing.assert_allclose(-found, shifts[k], atol=0.15)
    truth = napari_sr.load_sample("burst", ground_truth=True)
    assert truth.pixel_size == pytest.approx({"Y": 0.1, "X": 0.1})
    binned = truth.data.astype(float).reshape(128, 2, 128, 2).mean(axis=(1, 3))
    assert np.corrcoef(binned.ravel(), frames[0].ravel())[0, 1] > 0.9


def test_generator_reproduces_the_shipped_files():
    gen = _generator()
    observed, truth = gen.make_anisotropic_stack()
    frames, shifts, scene = gen.make_burst()
    hint = "regenerate with `python sample_data/generate.py` if numpy changed its RNG streams"
    np.testing.assert_array_equal(observed, napari_sr.load_sample("anisotropic_stack").data, hint)
    np.testing.assert_array_equal(
        truth, napari_sr.load_sample("anisotropic_stack", ground_truth=True).data, hint
    )
    np.testing.assert_array_equal(frames, napari_sr.load_sample("burst").data, hint)
    np.testing.assert_array_equal(scene, napari_sr.load_sample("burst", ground_truth=True).data)
    recorded = napari_sr.load_sample("burst").metadata["provenance"]["shifts_yx_lowres_pixels"]
    np.testing.assert_allclose(shifts, recorded, atol=1e-6)
    assert json.dumps(recorded)  # plain JSON numbers
