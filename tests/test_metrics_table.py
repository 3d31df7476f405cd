"""The table of metrics (napari_sr.metrics.METRICS): every entry does what it declares, and
the comparison, its text table and CSV follow the table."""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
from scipy import ndimage

from napari_sr import metrics
from napari_sr.evaluation import compare_methods
from napari_sr.metrics import METRICS, PROTOCOL_OPTIONS, get_metric


def _scene(rng, shape=(48, 40)):
    """A smooth float image in [0, 1]: noise and blur lower every metric's agreement."""
    return ndimage.gaussian_filter(rng.random(shape), 2.0) * 0.8 + 0.1


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_better_is_the_declared_way_on_a_clean_and_a_degraded_image(rng, metric):
    reference = _scene(rng)
    noise = rng.standard_normal(reference.shape)
    clean = reference + 0.01 * noise
    degraded = ndimage.gaussian_filter(reference, 1.5) + 0.05 * noise
    good = metric.function(reference, clean, data_range=1.0)
    bad = metric.function(reference, degraded, data_range=1.0)
    assert good != bad
    assert (good > bad) == metric.higher_is_better
    assert metric.best([bad, None, good]) == good
    assert metric.best([None]) is None


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_the_declared_unit(rng, metric):
    reference = _scene(rng)
    noise = 0.01 * rng.standard_normal(reference.shape)
    one = metric.function(reference, reference + noise, data_range=1.0)
    two = metric.function(reference, reference + 2 * noise, data_range=1.0)
    if metric.unit == "dB":  # ten log10 of a power ratio: twice the error is 6.02 dB
        assert one - two == pytest.approx(20 * math.log10(2))
    else:
        assert metric.unit == "" and -1 <= two < one <= 1  # a similarity index


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_the_declared_protocol_options_are_taken_and_used(rng, metric):
    assert set(metric.options) <= set(PROTOCOL_OPTIONS)
    parameters = inspect.signature(metric.function).parameters
    assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in metric.options)
    reference = _scene(rng, (40, 44, 3))
    test = reference + 0.02 * rng.standard_normal(reference.shape)
    test[:3] += 0.3  # errors on the border only: crop_border removes them
    base = {"data_range": 1.0, "axes": "YXC"}
    plain = metric.function(reference, test, **base)
    if "crop_border" in metric.options:
        assert metric.function(reference, test, **base, crop_border=3) > plain
    if "y_channel" in metric.options:
        assert metric.function(reference, test, **base, y_channel=True) != plain
    if "mask" in metric.options:  # the border rows left out: a better score
        inside = np.zeros(reference.shape[:2], bool)
        inside[8:, :] = True
        luma = {**base, "y_channel": True}
        assert metric.function(reference, test, **luma, mask=inside) > metric.function(
            reference, test, **luma
        )


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_averages_planes_says_whether_a_stack_is_the_mean_of_its_planes(rng, metric):
    reference = np.stack([_scene(rng) for _ in range(3)])
    test = reference + rng.standard_normal(reference.shape) * np.array([0.01, 0.05, 0.1])[
        :, None, None
    ]  # fmt: skip
    options = {"data_range": 1.0, "axes": "TYX"}
    whole = metric.function(reference, test, **options)
    planes = np.mean(
        [metric.function(r, t, data_range=1.0) for r, t in zip(reference, test, strict=True)]
    )
    assert (whole == pytest.approx(planes, rel=1e-12)) == metric.averages_planes


def test_names_headers_and_formats():
    psnr, ssim = get_metric("psnr"), get_metric("ssim")
    assert METRICS[:2] == (psnr, ssim)  # PSNR ranks the methods
    assert (psnr.name, psnr.key, psnr.title, psnr.short_title) == (
        "psnr", "psnr_db", "PSNR (dB)", "PSNR dB",
    )  # fmt: skip
    assert (ssim.name, ssim.key, ssim.title, ssim.short_title) == ("ssim", "ssim", "SSIM", "SSIM")
    assert psnr.format(30.51234) == "30.512" and ssim.format(0.79468) == "0.7947"
    assert psnr.format(None) == "—"
    assert metrics.metric_labels() == "/".join(m.label for m in METRICS)
    assert metrics.metric_labels(", ").startswith("PSNR, SSIM")
    assert get_metric(" SSIM ") is ssim
    assert len({m.name for m in METRICS}) == len({m.key for m in METRICS}) == len(METRICS)


def test_unknown_metric_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown metric 'mse'; choose one of psnr, ssim$"):
        get_metric("mse")


def _mean_absolute_error(reference, test, *, data_range=None, crop_border=0, axes=None):
    """A stand-in for a metric someone adds: lower is better, no luma option."""
    c = crop_border
    difference = np.abs(np.asarray(reference, float) - np.asarray(test, float))
    return float(
        difference[..., c : difference.shape[-2] - c, c : difference.shape[-1] - c].mean()
    )


def test_a_metric_added_to_the_table_is_computed_tabled_and_written(rng, monkeypatch, tmp_path):
    """Adding a metric touches the table only: the comparison, its table and CSV follow."""
    mae = metrics.Metric(
        "mae", _mean_absolute_error, False, "MAE", "", "mae", 2,
        options=("data_range", "crop_border", "axes"),
    )  # fmt: skip
    monkeypatch.setattr(metrics, "METRICS", (mae, *METRICS))  # first: it ranks the methods
    image = (_scene(rng, (24, 24)) * 255).astype(np.uint8)
    result = compare_methods(image, 2, ["nearest", "bicubic"])
    keys = tuple(m.key for m in METRICS)
    assert result.columns == ("method", "mae", *keys, "seconds")
    assert list(result.rows[0]) == list(result.columns)
    by_method = {r["method"]: r for r in result.rows}
    expected = _mean_absolute_error(result.reference, result.outputs["bicubic"], crop_border=2)
    assert by_method["bicubic"]["mae"] == pytest.approx(expected)
    lines = result.table().splitlines()
    titles = [word for m in METRICS for word in m.title.split()]
    assert lines[0].split() == ["method", "MAE", *titles, "seconds"]
    best = min(result.rows, key=lambda r: r["mae"])["method"]  # lower is better
    assert [line.split()[0] for line in lines[1:] if "*" in line] == [best]
    result.write_csv(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == ",".join(result.columns)


def test_the_table_entries_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        METRICS[0].higher_is_better = False  # type: ignore[misc]
