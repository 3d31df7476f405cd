"""``napari-sr upscale`` into OME-Zarr: block by block, on worker processes, interrupted
and resumed; the large-data options refused for other outputs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask")
pytest.importorskip("zarr")

from napari_sr import Image, io, upscale
from napari_sr.engine import blockwise
from test_cli import assert_one_line_error, run


@pytest.fixture
def stack(tmp_path, rng):
    data = (np.cumsum(rng.integers(0, 3, (6, 40, 48)), axis=-1) * 40).astype(np.uint16)
    image = Image(data, axes="ZYX", pixel_size={"Y": 0.2, "X": 0.2})
    return io.write(tmp_path / "in.ome.tif", image), data


def test_tiff_in_ome_zarr_out_with_chunks(capsys, tmp_path, stack):
    path, data = stack
    code, out, err = run(capsys, "upscale", str(path), str(tmp_path / "o.ome.zarr"), "-s", "2",
                         "-m", "bicubic", "--chunks", "Y=16,X=32", "--levels", "2")  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"wrote {tmp_path / 'o.ome.zarr'} with bicubic: shape (6, 80, 96)")
    result = io.read(tmp_path / "o.ome.zarr", lazy=True)
    assert result.data.chunksize == (1, 16, 32) and result.metadata["levels"] == 2
    assert result.pixel_size == {"Y": 0.1, "X": 0.1}
    np.testing.assert_array_equal(result.data.compute(), upscale(data, 2, method="bicubic"))


def test_interrupted_run_says_how_to_resume_and_resumes(capsys, tmp_path, stack, monkeypatch):
    path, data = stack
    target = str(tmp_path / "o.ome.zarr")
    monkeypatch.setattr(blockwise, "BLOCK_BYTES", 1)
    real, calls = blockwise._upscale_block, []

    def interrupted(block, job, limits):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C (or SIGTERM, which napari-sr turns into it)
        return real(block, job, limits)

    monkeypatch.setattr(blockwise, "_upscale_block", interrupted)
    code, out, err = run(capsys, "upscale", str(path), target, "-s", "2", "-m", "fast")
    assert code == 130 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"napari-sr: interrupted; the blocks written so far are kept in {target}.partial - "
        "run the same command with --resume to finish it"
    )
    monkeypatch.setattr(blockwise, "_upscale_block", real)
    code, out, err = run(capsys, "upscale", str(path), target, "-s", "2", "-m", "fast")
    assert_one_line_error(code, err, "pass --resume to finish it")
    code, out, err = run(capsys, "upscale", str(path), target, "-s", "2", "-m", "fast",
                         "--resume")  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(io.read(target).data, upscale(data, 2, method="fast"))


def test_worker_processes(capsys, tmp_path, stack):
    path, data = stack
    code, _out, err = run(capsys, "upscale", str(path), str(tmp_path / "o.ome.zarr"), "-s", "2",
                         "-m", "bicubic", "--workers", "2")  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(
        io.read(tmp_path / "o.ome.zarr").data, upscale(data, 2, method="bicubic")
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (["--workers", "2"], "--workers only work when OUT is an OME-Zarr store"),
        (["--resume", "--chunks", "64"], "--resume, --chunks only work when OUT is an OME-Zarr"),
    ],
)
def test_large_data_options_need_an_ome_zarr_out(capsys, tmp_path, stack, options, match):
    path, _ = stack
    code, _out, err = run(capsys, "upscale", str(path), str(tmp_path / "o.tif"), "-s", "2",
                         *options)  # fmt: skip
    assert_one_line_error(code, err, match)
    assert "e.g. " + str(tmp_path / "o.ome.zarr") in err


def test_bad_chunks_and_both_places_to_run(capsys, tmp_path, stack):
    path, _ = stack
    out = str(tmp_path / "o.ome.zarr")
    code, _, err = run(capsys, "upscale", str(path), out, "-s", "2", "--chunks", "Y:4")
    assert_one_line_error(code, err, "--chunks 'Y:4' must be one number (Y and X) or AXIS=SIZE")
    code, _, err = run(capsys, "upscale", str(path), out, "-s", "2", "--workers", "2",
                       "--scheduler", "tcp://x:1")  # fmt: skip
    assert code == 2 and "not allowed with argument" in err
    assert not (tmp_path / "o.ome.zarr.partial").exists()


def test_a_lazy_input_too_large_for_a_tiff_out_is_told_to_write_ome_zarr(
    capsys, tmp_path, stack, monkeypatch
):
    from napari_sr.utils import memory

    path, _ = stack
    monkeypatch.setattr(memory, "available_memory", lambda: 60_000)  # read lazily, no room
    code, _, err = run(capsys, "upscale", str(path), str(tmp_path / "o.tif"), "-s", "2",
                       "-m", "bicubic")  # fmt: skip
    assert_one_line_error(code, err, "write it block by block instead, as OME-Zarr")


def test_isotropic_tiff_in_ome_zarr_out_interrupted_and_resumed(capsys, tmp_path, monkeypatch):
    from napari_sr.selfsup import _isotropic_blocks
    from napari_sr.selfsup.isotropic import reconstruct

    rng = np.random.default_rng(7)
    data = (np.cumsum(rng.integers(0, 3, (5, 24, 20)), axis=-1) * 60).astype(np.uint16)
    image = Image(data, axes="ZYX", pixel_size={"Z": 0.6, "Y": 0.2, "X": 0.2})
    path = io.write(tmp_path / "stack.ome.tif", image)
    target = str(tmp_path / "iso.ome.zarr")
    options = ["--steps", "2", "--seed", "3", "--device", "cpu", "--chunks", "Z=4,Y=8,X=8"]
    monkeypatch.setattr(_isotropic_blocks, "MAX_LANE", 8)
    monkeypatch.setattr(blockwise, "BLOCK_BYTES", 1)  # one xz plane per task
    real, calls = _isotropic_blocks._write_xz_block, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_isotropic_blocks, "_write_xz_block", interrupted)
    code, out, err = run(capsys, "isotropic", str(path), target, *options)
    assert code == 130 and out == ""
    assert err.strip().splitlines()[-1].endswith("run the same command with --resume to finish it")
    monkeypatch.setattr(_isotropic_blocks, "_write_xz_block", real)
    code, out, err = run(capsys, "isotropic", str(path), target, *options, "--resume")
    assert code == 0, err
    assert out.startswith(f"wrote {target}: shape (13, 24, 20), uint16, axes ZYX")
    written = io.read(target, lazy=True)
    assert written.data.chunksize == (4, 8, 8)
    assert written.pixel_size == pytest.approx({"Z": 0.2, "Y": 0.2, "X": 0.2})
    expected = reconstruct(image, steps=2, seed=3, device="cpu").image
    np.testing.assert_array_equal(np.asarray(written.data), expected.data)


def test_isotropic_large_data_options_need_an_ome_zarr_out(capsys, tmp_path, stack):
    path, _ = stack
    code, _out, err = run(capsys, "isotropic", str(path), str(tmp_path / "o.tif"),
                          "--factor", "3", "--resume")  # fmt: skip
    assert_one_line_error(code, err, "--resume only work when OUT is an OME-Zarr store")


def test_degrade_of_a_lazy_input_writes_ome_zarr_by_blocks(capsys, tmp_path, stack, monkeypatch):
    from napari_sr import degrade
    from napari_sr.io import _common

    path, data = stack
    monkeypatch.setattr(_common, "lazy_threshold", lambda: 1)  # read lazily
    assert not isinstance(io.read(path).data, np.ndarray)
    code, _out, err = run(capsys, "degrade", str(path), str(tmp_path / "d.ome.zarr"), "-s", "2",
                         "--blur", "1.5", "--noise", "poisson=40", "--seed", "2")  # fmt: skip
    assert code == 0, err
    expected = degrade(data, 2, blur=1.5, noise={"poisson": 40}, seed=2, axes="ZYX")
    np.testing.assert_array_equal(io.read(tmp_path / "d.ome.zarr").data, expected)
