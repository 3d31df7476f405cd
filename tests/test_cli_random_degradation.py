"""``napari-sr train --random-degradation``: the per-patch microscope degradation of
:class:`napari_sr.degradation.DegradationRange`, from the command line."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr
from napari_sr.cli import main


@pytest.fixture
def hr_file(tmp_path):
    rng = np.random.default_rng(0)
    image = (rng.random((48, 48)) * 200).astype(np.uint8)
    path = tmp_path / "hr.tif"
    napari_sr.io.write(path, image)
    return path


def _train(hr_file, tmp_path, *extra):
    out = tmp_path / "m.safetensors"
    argv = ["train", "fsrcnn", str(hr_file), "--scale", "2", "--steps", "2", "--init", "scratch"]
    return main([*argv, "--patch-size", "16", "--out", str(out), *extra]), out


def test_the_ranges_are_the_recipe_saved_with_the_model(hr_file, tmp_path):
    code, out = _train(
        hr_file, tmp_path, "--random-degradation", '{"blur": [0.5, 2], "peak": [20, 1000]}'
    )
    assert code == 0
    random = napari_sr.load_model(out).info.training["degradation"]["random"]
    assert random["blur"] == [0.5, 2.0]
    assert random["peak"] == [20.0, 1000.0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--random-degradation", "[1]"], "--random-degradation takes a JSON object"),
        (["--random-degradation", "{blur: 1}"], "--random-degradation takes a JSON object"),
        (["--blur", "1", "--random-degradation", "{}"], "drop --kernel, --blur and --noise"),
        (["--random-degradation", '{"blur": [2, 1]}'], "has low > high"),
        (["--photo-degradation", "[1]"], "--photo-degradation takes a JSON object"),
        (
            ["--random-degradation", "{}", "--photo-degradation", "{}"],
            "drop --kernel, --blur, --noise and --random-degradation",
        ),
        (["--photo-degradation", '{"jpeg": [30, 120]}'], "jpeg quality must be at most 100"),
        (["--photo-degradation", '{"sigma": 1}'], "unknown photo degradation option(s) sigma"),
    ],
)
def test_bad_ranges_are_one_line_and_exit_2(hr_file, tmp_path, capsys, extra, message):
    code, out = _train(hr_file, tmp_path, *extra)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_photo_ranges_are_the_recipe_saved_with_the_model(hr_file, tmp_path):
    code, out = _train(hr_file, tmp_path, "--photo-degradation", '{"jpeg": [60, 95]}')
    assert code == 0
    photo = napari_sr.load_model(out).info.training["degradation"]["photo"]
    assert photo["jpeg"] == [60.0, 95.0]
    assert photo["blur"] == [0.2, 3.0]  # Real-ESRGAN's, stored in full
