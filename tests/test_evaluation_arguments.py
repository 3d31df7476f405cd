"""compare_methods / compare_low_resolution check their inputs and scoring options before
running any method (a mistake found only when scoring wasted every run)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr.evaluation import compare_low_resolution, compare_methods

IMAGE = (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("image", "kwargs", "error", "match"),
    [
        (IMAGE.astype(complex), {}, TypeError, "high_res is complex"),
        (np.full((32, 32), np.nan, np.float32), {"data_range": 1}, ValueError,
         "high_res contains 1024 NaN"),
        (IMAGE.astype(np.float32), {}, ValueError, "data_range is required to score float32"),
        (IMAGE, {"data_range": "255"}, TypeError, "data_range must be a number, not str"),
        (IMAGE, {"data_range": 0}, ValueError, "data_range must be greater than 0"),
        (IMAGE, {"y_channel": "no"}, TypeError, "y_channel must be True or False"),
        (IMAGE, {"progress": 5}, TypeError, "progress must be a function"),
    ],
)  # fmt: skip
def test_compare_methods_refuses_before_running(monkeypatch, image, kwargs, error, match):
    import napari_sr.evaluation as evaluation

    def never(*args, **kwargs):
        raise AssertionError("a method ran before the arguments were checked")

    monkeypatch.setattr(evaluation, "upscale", never)
    with pytest.raises(error, match=match):
        compare_methods(image, 2, ["bicubic"], **kwargs)


def test_compare_low_resolution_checks_the_reference():
    with pytest.raises(ValueError, match="reference contains 1024 NaN"):
        compare_low_resolution(IMAGE[:16, :16], 2, ["bicubic"],
                               reference=np.full((32, 32), np.nan))  # fmt: skip
    with pytest.raises(TypeError, match="reference is complex"):
        compare_low_resolution(IMAGE[:16, :16], 2, ["bicubic"], reference=IMAGE.astype(complex))


def test_one_method_name_is_one_method():
    result = compare_methods(IMAGE, 2, "bicubic")
    assert [row["method"] for row in result.rows] == ["bicubic"]
