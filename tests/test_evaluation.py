"""The benchmark-style comparison: protocol, scores and table."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr import degrade, psnr, ssim, upscale
from napari_sr.evaluation import compare_low_resolution, compare_methods


@pytest.fixture
def rgb(rng):
    from skimage.data import immunohistochemistry

    return immunohistochemistry()[:98, :101]  # not a multiple of 3: the protocol crops


def test_protocol_by_hand(rgb):
    result = compare_methods(rgb, 3, ["bicubic", "nearest"])
    hr = rgb[:96, :99]  # cropped to a multiple of the scale
    low = degrade(hr, 3)
    np.testing.assert_array_equal(result.low_resolution, low)
    restored = upscale(low, 3, method="bicubic")
    expected_psnr = psnr(hr, restored, crop_border=3, y_channel=True)
    expected_ssim = ssim(hr, restored, crop_border=3, y_channel=True)
    row = result.rows[0]
    assert row["method"] == "bicubic"
    assert row["psnr_db"] == pytest.approx(expected_psnr)
    assert row["ssim"] == pytest.approx(expected_ssim)
    assert row["seconds"] > 0
    # bicubic restores natural images better than nearest
    assert result.rows[0]["psnr_db"] > result.rows[1]["psnr_db"]


def test_table_and_csv(rgb, tmp_path):
    result = compare_methods(rgb, 2, ["nearest", "bicubic"])
    table = result.table().splitlines()
    assert table[0].split() == ["method", "PSNR", "(dB)", "SSIM", "seconds"]
    assert table[2].startswith("bicubic") and "*" in table[2]  # best PSNR marked
    result.write_csv(tmp_path / "scores.csv")
    lines = (tmp_path / "scores.csv").read_text().splitlines()
    assert lines[0] == "method,psnr_db,ssim,seconds"
    assert float(lines[2].split(",")[1]) == pytest.approx(result.rows[1]["psnr_db"])
    with pytest.raises(FileExistsError):
        result.write_csv(tmp_path / "scores.csv")


def test_stack_scored_plane_by_plane(rng):
    stack = (rng.random((3, 40, 40)) * 1000).astype(np.uint16)
    result = compare_methods(stack, 2, ["bilinear"])
    low = degrade(stack, 2)
    out = upscale(low, 2, method="bilinear")
    per_plane = np.mean([ssim(stack[z], out[z], crop_border=2) for z in range(3)])
    assert result.rows[0]["ssim"] == pytest.approx(per_plane)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((1, ["bicubic"]), "scale above 1"),
        ((2, []), "at least one method"),
        ((2, ["magic"]), "unknown method 'magic'"),
    ],
)
def test_errors(rgb, args, match):
    with pytest.raises(ValueError, match=match):
        compare_methods(rgb, *args)


def test_float_needs_data_range(rng):
    with pytest.raises(ValueError, match="data_range is required"):
        compare_methods(rng.random((32, 32)), 2, ["bicubic"])
    assert compare_methods(rng.random((32, 32)), 2, ["bicubic"], data_range=1.0).rows


@pytest.mark.parametrize("axes", ["TZYX", "ZTYX", "TCYX"])
def test_stacks_with_time_and_channels(rng, axes):
    stack = (rng.random((2, 3, 32, 32)) * 255).astype(np.uint8)
    result = compare_methods(stack, 2, ["bicubic"], axes=axes)
    out = upscale(degrade(stack, 2, axes=axes), 2, axes=axes, method="bicubic")
    planes = [(stack[i, j], out[i, j]) for i in range(2) for j in range(3)]
    assert result.rows[0]["ssim"] == pytest.approx(
        np.mean([ssim(a, b, crop_border=2) for a, b in planes])
    )


def test_cancel_between_methods_stops_the_comparison(rng):
    import threading

    from napari_sr import Cancelled

    hr = rng.integers(0, 255, (24, 24), dtype=np.uint8)
    cancel = threading.Event()
    done = []

    def progress(k, total):
        done.append(k)
        cancel.set()  # the user presses Cancel while the first method's result comes in

    with pytest.raises(Cancelled):
        compare_methods(hr, 2, ["bicubic", "bilinear", "nearest"], progress=progress,
                        cancel=cancel)  # fmt: skip
    assert done == [1]


def test_difference_is_against_the_cropped_reference(rng):
    # 25 is not a multiple of 3: the reference is scored (and differenced) cropped to 24
    hr = rng.integers(0, 255, (25, 25), dtype=np.uint8)
    result = compare_methods(hr, 3, ["bicubic"])
    assert result.reference.shape == (24, 24)
    diff = result.difference("bicubic")
    assert diff.dtype == np.float32 and diff.shape == (24, 24)
    np.testing.assert_array_equal(
        diff, np.abs(result.outputs["bicubic"].astype(np.float32) - hr[:24, :24])
    )


# ------------------------------------------------------- an image that is already low-res


def test_low_resolution_with_reference_scores_as_the_protocol(rgb):
    """Given the protocol's own LR/HR pair, the low-resolution comparison scores the same."""
    by_protocol = compare_methods(rgb, 3, ["bicubic", "nearest"])
    hr = by_protocol.reference
    result = compare_low_resolution(degrade(hr, 3), 3, ["bicubic", "nearest"], reference=hr)
    for ours, theirs in zip(result.rows, by_protocol.rows, strict=True):
        assert ours["method"] == theirs["method"]
        assert ours["psnr_db"] == pytest.approx(theirs["psnr_db"])
        assert ours["ssim"] == pytest.approx(theirs["ssim"])
    np.testing.assert_array_equal(result.outputs["bicubic"], by_protocol.outputs["bicubic"])
    assert result.difference("nearest").shape == hr.shape


def test_low_resolution_without_reference_times_only(rng):
    low = rng.integers(0, 255, (2, 12, 10), dtype=np.uint8)
    result = compare_low_resolution(low, 2, ["bilinear", "bicubic"], axes="ZYX")
    assert [r["psnr_db"] for r in result.rows] == [None, None]
    assert [r["ssim"] for r in result.rows] == [None, None]
    assert all(r["seconds"] >= 0 for r in result.rows)
    assert result.outputs["bicubic"].shape == (2, 24, 20)
    np.testing.assert_array_equal(result.low_resolution, low)
    assert result.reference is None
    lines = result.table().splitlines()
    assert lines[1].split()[:3] == ["bilinear", "—", "—"]
    assert result.csv_text().splitlines()[1].startswith("bilinear,,,")
    with pytest.raises(ValueError, match="no reference was given"):
        result.difference("bicubic")


def test_low_resolution_reference_of_a_non_multiple_size():
    """x1.5 of 21 pixels is 31.5: a 31-pixel reference is scored on the common extent."""
    y, x = np.mgrid[0:31, 0:32]
    hr = (0.5 + 0.4 * np.sin(y / 5.0) * np.cos(x / 7.0)).astype(np.float32)  # smooth
    low = degrade(hr, 1.5)
    result = compare_low_resolution(low, 1.5, ["bicubic"], reference=hr, data_range=1.0)
    assert result.reference.shape == result.outputs["bicubic"].shape
    assert result.reference.shape[0] == 31
    assert result.rows[0]["psnr_db"] > 35  # the pixels line up: no shift by the cropping


@pytest.mark.parametrize(
    ("reference_shape", "axes"),
    [((40, 40), "YX"), ((2, 24, 20), "YX"), ((3, 24, 20), "ZYX")],
)
def test_low_resolution_reference_must_be_the_same_field(rng, reference_shape, axes):
    low = rng.random((12, 10) if axes == "YX" else (2, 12, 10))
    with pytest.raises(ValueError, match="give the high-resolution image of the same field"):
        compare_low_resolution(
            low, 2, ["bicubic"], reference=rng.random(reference_shape), axes=axes,
            data_range=1.0,
        )  # fmt: skip


def test_stack_ssim_in_chunks_is_the_stack_ssim(rng):
    """SSIM is computed a few planes at a time (so Cancel is seen); the mean is the same."""
    from napari_sr.evaluation import _chunked

    a = rng.integers(0, 255, (7, 24, 20, 3), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    kwargs = {"data_range": None, "crop_border": 2, "y_channel": True, "axes": "TYXC"}
    whole = ssim(a, b, **kwargs)
    for pixels in (1, 24 * 20 * 2, 24 * 20 * 3, 10**9):  # chunks of 1, 2, 3 planes and all
        assert _chunked(ssim, a, b, kwargs, None, pixels) == pytest.approx(whole, rel=1e-12)


def test_cancel_during_scoring(rng, monkeypatch):
    """A cancel that arrives while scoring is seen before the (slow) SSIM starts."""
    import threading
    from dataclasses import replace

    from napari_sr import Cancelled, metrics

    cancel = threading.Event()
    ssim_calls = []

    def psnr_then_cancel(*args, **kwargs):
        cancel.set()  # the user presses Cancel while PSNR is computed
        return psnr(*args, **kwargs)

    first, second = metrics.METRICS  # psnr, then ssim
    monkeypatch.setattr(metrics, "METRICS", (
        replace(first, function=psnr_then_cancel),
        replace(second, function=lambda *a, **k: ssim_calls.append(1) or 1.0),
    ))  # fmt: skip
    with pytest.raises(Cancelled):
        compare_methods(rng.random((6, 32, 32)), 2, ["bicubic"], axes="ZYX", data_range=1.0,
                        cancel=cancel)  # fmt: skip
    assert ssim_calls == []


def test_beyond_psnr_scores_are_the_public_functions():
    """A perceptual comparison's NIQE, spectrum and consistency are napari_sr.niqe,
    spectral_fidelity and data_consistency of each output by the protocol; the
    consistency map is the latter's error map."""
    from skimage.data import camera

    from napari_sr import data_consistency, niqe, spectral_fidelity

    hr = camera()[:400, :402]
    result = compare_methods(hr, 2, ["nearest", "bicubic"], perceptual=True)
    assert result.columns == ("method", "psnr_db", "ssim", "niqe", "spectral_error_db",
                              "consistency_rms", "seconds")  # fmt: skip
    low = degrade(hr, 2)
    for row in result.rows:
        out = upscale(low, 2, method=row["method"])
        inner = out[2:-2, 2:-2]
        assert row["niqe"] == pytest.approx(niqe(inner))
        expected = spectral_fidelity(hr[2:-2, 2:-2], inner).error_db
        assert row["spectral_error_db"] == pytest.approx(expected)
        agreement = data_consistency(out, low, 2, fit_intensity=False)
        assert row["consistency_rms"] == pytest.approx(agreement.rse)
        np.testing.assert_allclose(result.consistency(row["method"]), agreement.error)
    # nearest's blocks have the power of detail (a lower NIQE and spectrum error than
    # bicubic's blur) without its truth: why these scores stand beside PSNR, not alone
    nearest, bicubic = result.rows
    assert nearest["spectral_error_db"] < bicubic["spectral_error_db"]
    assert nearest["psnr_db"] < bicubic["psnr_db"]
    header = result.table().splitlines()[0]
    assert "NIQE" in header and "consistency RMS" in header
    plain = compare_methods(hr, 2, ["bicubic"])
    with pytest.raises(ValueError, match="compare with perceptual=True"):
        plain.consistency("bicubic")


def test_beyond_psnr_without_a_reference_scores_what_needs_none(rng):
    low = (rng.random((30, 30)) * 255).astype(np.uint8)
    result = compare_low_resolution(low, 2, ["bicubic"], perceptual=True)
    row = result.rows[0]
    assert row["psnr_db"] is None and row["spectral_error_db"] is None
    assert row["niqe"] is None  # 60 pixels: NIQE needs 192
    assert row["consistency_rms"] > 0


def test_beyond_psnr_of_rgb_is_consistency_on_luma(rgb):
    """RGB scored on luma (the protocol) is checked for consistency on luma too: a luma
    network leaves chroma to bicubic, whose own inconsistency is no fault of the network."""
    from napari_sr import data_consistency
    from napari_sr.color import luma

    result = compare_methods(rgb, 2, ["bicubic"], perceptual=True)
    low, out = result.low_resolution, result.outputs["bicubic"]
    expected = data_consistency(luma(out, 255), luma(low, 255), 2, fit_intensity=False)
    assert result.rows[0]["consistency_rms"] == pytest.approx(expected.rse)
    assert result.consistency("bicubic").shape == low.shape[:2]
