"""The ``napari-sr`` command: the main job, and one line + exit 2 for every bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from napari_sr import io
from napari_sr.cli import ProgressBar, main
from napari_sr.models.bundled import default_model
from napari_sr.samples import sample_path
from napari_sr.utils import memory


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


PYTHON_KEYWORD = re.compile(r"(?<![\w.-])[a-z_]+=(?:True|False|None\b|'|\"|PATH|\s|$)")
"""``overwrite=True``, ``axes='TYX'``, ``factor=``: Python wording, not the command line's."""


def assert_one_line_error(code, err, match):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("napari-sr: error: ")
    assert lines[0].count("napari-sr: ") == 1, lines[0]  # one prefix
    assert "Traceback" not in err
    assert not PYTHON_KEYWORD.search(lines[0]), lines[0]  # worded for the command line
    assert match in lines[0], lines[0]


@pytest.fixture
def stack(tmp_path):
    """A copy of the bundled anisotropic stack: 0.2 µm in xy, 0.8 µm in z."""
    path = tmp_path / "stack.ome.tif"
    shutil.copy(sample_path("anisotropic_stack"), path)
    return path


@pytest.mark.slow
def test_upscale_sample_halves_the_pixel_size(tmp_path):
    """The issue's acceptance check, through the installed console script."""
    src = sample_path("anisotropic_stack")
    out = tmp_path / "x2.ome.tif"
    done = subprocess.run(
        ["napari-sr", "upscale", str(src), str(out), "--scale", "2"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    info = subprocess.run(
        ["napari-sr", "info", str(out), "--json"], capture_output=True, text=True
    )
    record = json.loads(info.stdout)
    assert record["pixel_size"] == pytest.approx({"Z": 0.8, "Y": 0.1, "X": 0.1})
    assert record["unit"]["X"] == "µm"
    assert record["dtype"] == "uint16" == io.read(src).dtype.name
    assert record["shape"] == [32, 256, 256]
    # the bundled quality default of x2 (edsr_light_x2.sr291)
    # a clean 16-bit stack runs the microscope-trained weights where they are bundled
    assert record["provenance"]["method"] == (default_model(2, noisy=True) or "bicubic")
    text = subprocess.run(["napari-sr", "info", str(out)], capture_output=True, text=True).stdout
    assert "Y 0.1 µm, X 0.1 µm" in text


def test_upscale_values_match_the_api(capsys, stack, tmp_path):
    code, out, _ = run(
        capsys,
        "upscale",
        str(stack),
        str(tmp_path / "o.ome.tif"),
        "-s",
        "3",
        "--method",
        "bilinear",
    )
    assert code == 0 and "wrote" in out
    from napari_sr import upscale

    expected = upscale(io.read(stack).data, 3, method="bilinear")
    np.testing.assert_array_equal(io.read(tmp_path / "o.ome.tif").data, expected)


def test_progress_bar_is_drawn(capsys, stack, tmp_path):
    code, _, err = run(
        capsys, "upscale", str(stack), str(tmp_path / "o.ome.tif"), "-s", "2", "--progress",
        "--method", "bicubic",
    )  # fmt: skip
    assert code == 0
    assert "32/32 planes" in err and " elapsed" in err and "\033" not in err


def test_progress_bar_rendering(monkeypatch):
    """Count, unit, rate, elapsed and time left; never backwards, never past the total
    (stages that report in other units must not break the bar)."""
    import io as stdio

    from napari_sr.cli import _output

    clock = iter([0.0, 2.0, 4.0, 5.0, 6.0])
    monkeypatch.setattr(_output.time, "perf_counter", lambda: next(clock))
    stream = stdio.StringIO()
    bar = ProgressBar(stream, label="tiles", width=10)
    bar(5, 10)
    bar(3, 10)  # behind what was shown: stays at 5
    bar(12, 10)  # beyond the total: shown as done
    bar.close()
    frames = stream.getvalue().split("\r")[1:]
    assert (
        frames[0].rstrip()
        == "[#####-----] 5/10 tiles, 2.5 tiles/s, 2.0 s elapsed, about 2.0 s left"
    )
    assert (
        frames[1].rstrip()
        == "[#####-----] 5/10 tiles, 1.25 tiles/s, 4.0 s elapsed, about 4.0 s left"
    )
    assert (
        frames[2]
        == "[##########] 10/10 tiles, 2 tiles/s, 5.0 s elapsed".ljust(len(frames[1])) + "\n"
    )
    mixed = ProgressBar(stdio.StringIO(), label=None, width=10)
    assert (
        mixed.render(1, 4, 90.0) == "[##--------] 25%, 1 min 30 s elapsed, about 4 min 30 s left"
    )


@pytest.mark.slow
def test_axes_option(capsys, stack, tmp_path):
    code, _, _ = run(
        capsys, "upscale", str(stack), str(tmp_path / "o.ome.tif"), "-s", "2", "--axes", "TYX"
    )
    assert code == 0
    assert io.read(tmp_path / "o.ome.tif").axes == "TYX"


def test_info_text(capsys, stack):
    code, out, _ = run(capsys, "info", str(stack))
    assert code == 0
    assert "shape       32 x 128 x 128" in out
    assert "axes        ZYX" in out
    assert "pixel size  Z 0.8 µm, Y 0.2 µm, X 0.2 µm" in out


def test_samples_lists_every_sample(capsys):
    code, out, _ = run(capsys, "samples")
    assert code == 0
    for name in ("cell", "anisotropic_stack", "burst"):
        assert name in out


@pytest.mark.slow
def test_existing_output_is_kept_without_overwrite(capsys, stack, tmp_path):
    target = tmp_path / "o.ome.tif"
    target.write_bytes(b"keep me")
    code, _, err = run(capsys, "upscale", str(stack), str(target), "-s", "2")
    assert_one_line_error(code, err, "already exists")
    assert target.read_bytes() == b"keep me"
    code, _, _ = run(capsys, "upscale", str(stack), str(target), "-s", "2", "--overwrite")
    assert code == 0 and io.read(target).shape == (32, 256, 256)


# ------------------------------------------------------------------------- bad input: exit 2


def _truncated(tmp_path):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, np.ones((4, 64, 64), np.uint16), photometric="minisblack")
    path.write_bytes(path.read_bytes()[:20000])
    return path


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.tif"
    tifffile.imwrite(path, np.ones((8, 8), np.uint8))
    raw = bytearray(path.read_bytes())
    raw[4:8] = b"\xff\xff\xff\x7f"
    path.write_bytes(bytes(raw))
    return path


def _text(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("not an image")
    return path


def _array_file(tmp_path, data, name="in.ome.tif", **kwargs):
    path = tmp_path / name
    io.write(path, data, **kwargs)
    return path


@pytest.mark.parametrize(
    ("make_input", "extra", "match"),
    [
        (lambda p: p / "missing.tif", [], "no such file"),
        (_text, [], "not an image napari-sr can read"),
        (_truncated, [], "truncated or corrupt"),
        (_corrupt, [], "truncated or corrupt"),
        (
            lambda p: _array_file(p, np.ones((4, 4), np.uint8)),
            ["--method", "magic"],
            "unknown method 'magic'",
        ),
        (
            lambda p: _array_file(p, np.ones((4, 4), np.uint8)),
            ["--axes", "ZYX"],
            "has 3 letters but the array has 2 dimensions",
        ),
        (lambda p: _array_file(p, np.full((4, 4), np.nan, np.float32)), [], "NaN or infinite"),
        (
            lambda p: _array_file(p, np.array([[1, np.inf], [0, 0]], np.float32)),
            [],
            "NaN or infinite",
        ),
        (
            lambda p: _array_file(p, np.ones((4, 4), np.uint8)),
            ["--scale", "0"],
            "scale must be a positive number",
        ),
        (
            lambda p: _array_file(p, np.ones((4, 4), np.uint8)),
            ["--scale", "-2"],
            "scale must be a positive number",
        ),
        (
            lambda p: _array_file(p, np.ones((4, 4), np.uint8)),
            ["--scale", "two"],
            "invalid float value: 'two'",
        ),
        (
            lambda p: _array_file(p, np.ones((100, 100), np.uint8)),
            ["--scale", "1e6"],
            "would not fit|would need",
        ),
    ],
    ids=[
        "missing",
        "not-an-image",
        "truncated",
        "corrupt",
        "unknown-method",
        "axes-mismatch",
        "nan",
        "inf",
        "scale-zero",
        "scale-negative",
        "scale-text",
        "too-large",
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, make_input, extra, match):
    src = make_input(tmp_path)
    argv = ["upscale", str(src), str(tmp_path / "out.ome.tif"), *extra]
    if "--scale" not in extra:
        argv += ["--scale", "2"]
    code, _out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert any(m in lines[0] for m in match.split("|")), lines[0]
    assert not (tmp_path / "out.ome.tif").exists()


def test_unreadable_file(capsys, tmp_path, monkeypatch):
    """A file the user may not read (simulated: the tests may run as root, who reads all)."""
    path = _array_file(tmp_path, np.ones((4, 4), np.uint8))
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    code, _, err = run(capsys, "info", str(path))
    assert_one_line_error(code, err, "cannot read")
    assert "Permission denied" in err


def test_empty_image_file(capsys, tmp_path):
    path = tmp_path / "empty.tif"
    with pytest.warns(UserWarning, match="zero-size"):
        tifffile.imwrite(path, np.zeros((0, 0), np.uint8))
    code, _, err = run(capsys, "info", str(path))
    assert_one_line_error(code, err, "empty")


def test_too_large_is_checked_before_allocating(capsys, tmp_path, monkeypatch):
    src = _array_file(tmp_path, np.ones((64, 64), np.uint16))
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)
    code, _, err = run(capsys, "upscale", str(src), str(tmp_path / "o.ome.tif"), "-s", "16")
    assert_one_line_error(code, err, "but only 1.0 MiB is available")
    assert "shape (1024, 1024) (uint16)" in err


def test_bad_output_name(capsys, stack, tmp_path):
    code, _, err = run(capsys, "upscale", str(stack), str(tmp_path / "o.bmp"), "-s", "2")
    assert_one_line_error(
        code, err, "must end in .ome.tif (or .tif/.tiff), .ome.zarr, .nii.gz (or .nii) or .png"
    )


def test_missing_required_argument(capsys, stack, tmp_path):
    code, _, err = run(capsys, "upscale", str(stack), str(tmp_path / "o.ome.tif"))
    assert_one_line_error(code, err, "the following arguments are required: --scale")
    assert err == (  # one prefix, not "napari-sr: error: napari-sr upscale: ..."
        "napari-sr: error: the following arguments are required: --scale/-s "
        "(see napari-sr upscale --help)\n"
    )


def test_no_command(capsys):
    code, _, err = run(capsys)
    assert_one_line_error(code, err, "required")


def test_interrupt_leaves_no_output(capsys, stack, tmp_path, monkeypatch):
    from napari_sr.engine import upscaler

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(upscaler, "upscale", interrupted)
    code, _, err = run(capsys, "upscale", str(stack), str(tmp_path / "o.ome.tif"), "-s", "2")
    assert code == 130
    assert "nothing was written" in err
    assert list(tmp_path.iterdir()) == [stack]


def test_module_entry_point(stack):
    done = subprocess.run(
        [sys.executable, "-m", "napari_sr.cli", "info", str(stack)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "ZYX" in done.stdout


# ------------------------------------------------------------------------- degrade, compare


def test_compare_prints_a_table(capsys, tmp_path):
    csv_path = tmp_path / "scores.csv"
    code, out, err = run(
        capsys,
        "compare",
        str(sample_path("immunohistochemistry")),
        "--scale",
        "2",
        "--methods",
        "nearest,bicubic",
        "--csv",
        str(csv_path),
    )
    assert code == 0, err
    lines = out.splitlines()
    assert "x2" in lines[0] and "Y (BT.601)" in lines[0] and "2-pixel border" in lines[0]
    assert lines[1].split()[:3] == ["method", "PSNR", "(dB)"]
    assert lines[2].startswith("nearest") and lines[3].startswith("bicubic")
    assert csv_path.read_text().startswith("method,psnr_db,ssim,seconds")


def test_compare_beyond_psnr(capsys):
    code, out, err = run(
        capsys, "compare", str(sample_path("immunohistochemistry")), "--scale", "2",
        "--methods", "bicubic", "--perceptual",
    )  # fmt: skip
    assert code == 0, err
    header = out.splitlines()[1]
    assert "NIQE" in header and "spectrum (dB)" in header and "consistency RMS" in header
    values = out.splitlines()[2].split()
    assert values[0] == "bicubic" and all(float(v.rstrip("*")) > 0 for v in values[1:6])


def test_compare_sixteen_bit_scores_on_the_reference_span(capsys):
    path = sample_path("burst", ground_truth=True)  # uint16, values 0..~350 of 0..65535
    span = float(np.ptp(io.read(path).data))
    code, out, err = run(capsys, "compare", str(path), "-s", "2", "--methods", "bicubic")
    assert code == 0, err
    assert f"L = {span:g} (the reference's max - min)" in out.splitlines()[0]
    default = float(out.splitlines()[2].split()[1].rstrip("*"))
    code, out, err = run(
        capsys, "compare", str(path), "-s", "2", "--methods", "bicubic", "--data-range", "65535"
    )
    assert "L = 65535," in out.splitlines()[0]
    # the dtype's range would add 20 log10(65535 / span) dB to the same errors
    as_dtype = float(out.splitlines()[2].split()[1].rstrip("*"))
    assert as_dtype - default == pytest.approx(20 * np.log10(65535 / span), abs=1e-3)


def test_compare_default_methods(capsys):
    code, out, _ = run(capsys, "compare", str(sample_path("microaneurysms")), "-s", "2")
    assert code == 0
    for method in ("nearest", "bilinear", "bicubic", "bicubic-opencv", "lanczos3", "area"):
        assert any(line.startswith(method + " ") for line in out.splitlines())


def test_compare_bad_method(capsys):
    code, _, err = run(capsys, "compare", str(sample_path("cell")), "-s", "2", "--methods", "x")
    assert_one_line_error(code, err, "unknown method 'x'")


def test_compare_low_resolution_with_reference(capsys, tmp_path):
    hr = sample_path("immunohistochemistry")
    low = tmp_path / "low.ome.tif"
    code, _, err = run(capsys, "degrade", str(hr), str(low), "-s", "2")
    assert code == 0, err
    code, out, err = run(
        capsys, "compare", str(low), "-s", "2", "--reference", str(hr),
        "--methods", "nearest,bicubic",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert "as it is" in lines[0] and f"against {hr}" in lines[0]
    assert lines[2].startswith("nearest") and lines[3].startswith("bicubic")
    assert float(lines[3].split()[1].rstrip("*")) > float(lines[2].split()[1].rstrip("*"))


def test_compare_low_resolution_without_reference(capsys):
    code, out, err = run(
        capsys, "compare", str(sample_path("cell")), "-s", "2", "--low-res", "--methods", "bicubic"
    )
    assert code == 0, err
    assert "no reference, times only" in out
    assert out.splitlines()[2].split()[:3] == ["bicubic", "—", "—"]


def test_compare_reference_of_another_field(capsys):
    code, _, err = run(
        capsys, "compare", str(sample_path("cell")), "-s", "2",
        "--reference", str(sample_path("cell")),
    )  # fmt: skip
    assert_one_line_error(code, err, "give the high-resolution image of the same field")


def test_degrade_z_with_psf_and_noise(capsys, tmp_path):
    out = tmp_path / "low.ome.tif"
    code, _, err = run(
        capsys,
        "degrade",
        str(sample_path("anisotropic_stack", ground_truth=True)),
        str(out),
        "--scale",
        "4",
        "--along",
        "Z",
        "--psf",
        "na=0.9,wavelength=0.52",
        "--noise",
        "poisson=200",
        "--seed",
        "3",
    )
    assert code == 0, err
    image = io.read(out)
    assert image.shape == (32, 128, 128)
    assert image.pixel_size == pytest.approx({"Z": 0.8, "Y": 0.2, "X": 0.2})
    assert image.metadata["provenance"]["operation"] == "degrade"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--noise", "speckle=3"], "--noise takes KEY=VALUE pairs"),
        (["--noise", "poisson=lots"], "is not a valid value"),
        (["--psf", "na=1.4"], "psf needs wavelength"),
        (["--kernel", "gauss"], "unknown kernel"),
    ],
)
def test_degrade_errors(capsys, tmp_path, extra, match):
    code, _, err = run(
        capsys, "degrade", str(sample_path("cell")), str(tmp_path / "o.ome.tif"), "-s", "2", *extra
    )
    assert_one_line_error(code, err, match)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["upscale", "{src}", "{out}", "-s", "1e300"], "would need"),
        (["degrade", "{src}", "{out}", "-s", "2", "--blur", "1e300"], "blur sigma"),
        (["degrade", "{src}", "{out}", "-s", "2", "--noise", "gaussian=1e300"], "overflowed"),
        (["degrade", "{src}", "{out}", "-s", "1e-9"], "would need|out of range"),
        (
            [
                "degrade",
                "{src}",
                "{out}",
                "-s",
                "2",
                "--psf",
                "na=1.4,wavelength=0.5,kind=confocal,excitation=nan",
            ],
            "excitation",
        ),
    ],
)
def test_extreme_values_exit_2(capsys, tmp_path, argv, match):
    src = _array_file(tmp_path, np.ones((16, 16), np.uint16), pixel_size=0.1)
    argv = [a.format(src=src, out=tmp_path / "o.ome.tif") for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert any(m in err for m in match.split("|")), err


def test_info_json_with_nan_is_valid_json(capsys, tmp_path):
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, np.full((4, 4), np.nan, np.float32))
    code, out, _ = run(capsys, "info", str(path), "--json")
    assert code == 0 and json.loads(out)["min"] == "nan"


# ------------------------------------------------------------------------- train


def _smooth(shape, seed):
    from scipy import ndimage

    image = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), 1.5)
    return ((image - image.min()) / np.ptp(image) * 1000).astype(np.uint16)


@pytest.fixture
def train_data(tmp_path):
    """A folder of two high-resolution images (and a file that is skipped) and a
    held-out validation image."""
    folder = tmp_path / "hr"
    folder.mkdir()
    io.write(folder / "a.ome.tif", _smooth((40, 40), 1), pixel_size=0.1)
    io.write(folder / "b.ome.tif", _smooth((48, 40), 2), pixel_size=0.1)
    (folder / "notes.txt").write_text("not an image")
    return folder, _array_file(tmp_path, _smooth((32, 32), 3), name="val.ome.tif")


TRAIN_FAST = [
    "--scale", "2", "--patch-size", "16", "--batch-size", "2", "--lr", "0.001",
    "--hparams", "d=8,s=4,m=1", "--device", "cpu",
]  # fmt: skip


@pytest.mark.slow
def test_train_writes_a_model_that_upscale_reads(capsys, tmp_path, train_data):
    from napari_sr.models.checkpoint import read_metadata

    folder, val = train_data
    out = tmp_path / "m.safetensors"
    code, stdout, err = run(
        capsys, "train", "fsrcnn", str(folder), "--steps", "4", "--out", str(out),
        "--validation", str(val), "--validate-every", "2", "--loss", "l1=1,ssim=0.2",
        "--noise", "gaussian=2", *TRAIN_FAST,
    )  # fmt: skip
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: fsrcnn x2, 4 steps (completed) in ")
    assert "validation PSNR" in stdout and "bicubic" in stdout
    assert "2 training plane(s), 1 validation plane(s)" in err
    assert "step 4/4  loss" in err and "eta" in err
    assert "validation at step 2/4: PSNR" in err
    meta = read_metadata(out)
    assert meta["hparams"] == {"d": 8, "s": 4, "m": 1}
    assert meta["training"]["loss"] == {"l1": 1.0, "ssim": 0.2}
    assert meta["training"]["degradation"] == {"noise": {"gaussian": 2.0}}
    assert meta["training"]["batch_size"] == 2
    names = [image["name"] for image in meta["data"]["training"]["images"]]
    assert names == ["a.ome.tif", "b.ome.tif"]
    assert meta["metrics"]["bicubic"]["psnr"] > 0
    up = tmp_path / "up.ome.tif"
    code, _, err = run(capsys, "upscale", str(val), str(up), "-s", "2", "--method", str(out))
    assert code == 0, err
    assert io.read(up).shape == (64, 64)
    tiled = tmp_path / "tiled.ome.tif"
    code, _, err = run(
        capsys, "upscale", str(val), str(tiled), "-s", "2", "--method", str(out),
        "--device", "cpu", "--tile", "24", "--precision", "fp32", "--self-ensemble",
    )  # fmt: skip
    assert code == 0, err
    record = io.read(tiled).metadata["provenance"]
    # 24-pixel tiles asked for on a 32-pixel input: two even tiles of 16 are used
    assert (record["tile"], record["self_ensemble"], record["device"]) == (16, True, "cpu")
    code, _, err = run(capsys, "upscale", str(val), str(tmp_path / "x.tif"), "-s", "2",
                       "--method", "bicubic", "--tile", "64")  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert "--tile, --precision and --self-ensemble apply to learned models" in err


def test_train_adversarial_from_the_command_line(capsys, tmp_path, train_data):
    from napari_sr.models.checkpoint import read_metadata

    folder, val = train_data
    out = tmp_path / "gan.safetensors"
    code, stdout, err = run(
        capsys, "train", "fsrcnn", str(folder), "--steps", "2", "--out", str(out),
        "--validation", str(val), "--adversarial", "--discriminator-hparams", "features=4",
        "--gan-loss", "lsgan", "--adversarial-weight", "0.05", "--ema-decay", "0.9",
        "--loss", "l1=1,consistency=5,feature_matching=0.5", *TRAIN_FAST,
    )  # fmt: skip
    assert code == 0, err
    assert "the latest)" in stdout and "D acc" in err
    training = read_metadata(out)["training"]
    assert training["adversarial"] is True and training["gan_loss"] == "lsgan"
    assert training["discriminator_hparams"] == {"features": 4}
    assert (training["adversarial_weight"], training["ema_decay"]) == (0.05, 0.9)
    assert training["loss"] == {"l1": 1.0, "consistency": 5.0, "feature_matching": 0.5}


@pytest.mark.slow
def test_train_resume_overwrite_and_fine_tune(capsys, tmp_path, train_data):
    from napari_sr.models.checkpoint import load_model, read_metadata

    folder, _ = train_data
    out, once = tmp_path / "m.safetensors", tmp_path / "once.safetensors"
    args = ["train", "fsrcnn", str(folder), *TRAIN_FAST, "--schedule", "constant"]
    assert run(capsys, *args, "--steps", "2", "--out", str(out))[0] == 0
    code, _, err = run(capsys, *args, "--steps", "2", "--out", str(out))
    assert_one_line_error(code, err, "already exists")
    code, stdout, err = run(capsys, *args, "--steps", "4", "--out", str(out), "--resume")
    assert code == 0, err
    assert "resuming at step 2" in err and ", 4 steps (completed)" in stdout
    assert run(capsys, *args, "--steps", "4", "--out", str(once))[0] == 0
    resumed, whole = load_model(out).state_dict(), load_model(once).state_dict()
    assert all(np.array_equal(resumed[k].numpy(), whole[k].numpy()) for k in whole)
    code, _, err = run(
        capsys, *args, "--steps", "6", "--out", str(out), "--resume", "--batch-size", "4"
    )
    assert_one_line_error(code, err, "cannot resume: the run was started with other options")
    code, _, err = run(capsys, *args, "--steps", "1", "--out", str(out), "--overwrite")
    assert code == 0, err
    assert read_metadata(out)["metrics"]["steps_done"] == 1
    # MODEL may be a model file: it is trained further
    tuned = tmp_path / "tuned.safetensors"
    options = [a for a in TRAIN_FAST if a not in ("--hparams", "d=8,s=4,m=1")]
    code, stdout, err = run(
        capsys, "train", str(once), str(folder), "--steps", "1", "--out", str(tuned), *options
    )
    assert code == 0, err
    assert read_metadata(tuned)["hparams"] == {"d": 8, "s": 4, "m": 1}


@pytest.mark.parametrize(("signame", "status"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_train_ctrl_c_saves_a_checkpoint(capsys, tmp_path, train_data, monkeypatch, signame,
                                         status):  # fmt: skip
    """Ctrl-C, or a scheduler's SIGTERM, stops at the next step and saves a checkpoint."""
    import os
    import signal

    from napari_sr import cli
    from napari_sr.models.checkpoint import read_metadata

    def interrupt_at_step_2(self, done, total):
        if done == 2:
            os.kill(os.getpid(), getattr(signal, signame))  # the CLI's handler stops the run

    monkeypatch.setattr(cli.ProgressBar, "__call__", interrupt_at_step_2)
    folder, _ = train_data
    out = tmp_path / "m.safetensors"
    code, _, err = run(
        capsys, "train", "fsrcnn", str(folder), "--steps", "50", "--out", str(out),
        "--progress", *TRAIN_FAST,
    )  # fmt: skip
    assert code == status
    assert "training cancelled after 2 of 50 steps; checkpoint saved to" in err
    assert "--resume" in err and "Traceback" not in err
    assert read_metadata(out)["metrics"]["stopped"] == "cancelled"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--model", "x"], "unrecognized arguments"),
        (["--scale", "1.5"], "invalid int value: '1.5'"),
        (["--loss", "l3"], "unknown loss l3; valid: l1, mse"),
        (["--loss", "l1=x"], "loss weight of l1 must be a number"),
        (["--patch-size", "64"], "smaller than --patch-size (64)"),
        (["--noise", "salt=1"], "--noise takes KEY=VALUE pairs"),
        (["--hparams", "d"], "--hparams takes KEY=VALUE pairs"),
        (["--hparams", "depth=2"], "fsrcnn has no hyperparameter(s) depth"),
        (["--resume"], "no training state"),
        (["--schedule", "linear"], "invalid choice: 'linear'"),
        (["--validation-fraction", "0.9"], "--validation-fraction must be"),
        (["--device", "tpu"], "tpu"),
        (["--steps", "0"], "steps must be at least 1"),
    ],
)
def test_train_bad_input_exits_2_with_one_line(capsys, tmp_path, train_data, extra, match):
    folder, _ = train_data
    argv = [
        "train",
        "fsrcnn",
        str(folder),
        "--steps",
        "2",
        "--out",
        str(tmp_path / "m.safetensors"),
    ]
    code, _, err = run(capsys, *argv, *TRAIN_FAST, *extra)
    assert_one_line_error(code, err, match)
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["train", "fsrcnnn", "{hr}", "-s", "2", "--steps", "1", "--out", "{m}"], "unknown model"),
        (["train", "fsrcnn", "{hr}", "-s", "2", "--steps", "1", "--out", "{o}"], ".safetensors"),
        (["train", "fsrcnn", "{x}", "-s", "2", "--steps", "1", "--out", "{m}"], "no such file"),
        (["train", "fsrcnn", "{hr}", "-s", "2", "--out", "{m}"], "--steps"),
        (["train", "{x}", "{hr}", "-s", "2", "--steps", "1", "--out", "{m}"], "no model file"),
    ],
)
def test_train_bad_arguments(capsys, tmp_path, train_data, argv, match):
    folder, _ = train_data
    names = {
        "hr": folder,
        "m": tmp_path / "m.safetensors",
        "o": tmp_path / "m.ome.tif",
        "x": tmp_path / "missing.safetensors",
    }
    code, _, err = run(capsys, *[a.format(**names) for a in argv])
    assert_one_line_error(code, err, match)
