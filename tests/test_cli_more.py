"""The self-supervised and multi-frame commands: isotropic, zssr and misr."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_sr import Image, io
from test_cli import assert_one_line_error, run

TRAIN = ["--steps", "3", "--batch-size", "2", "--device", "cpu"]


@pytest.fixture
def stack(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, (5, 20, 20), dtype=np.uint16)
    image = Image(data, "ZYX", pixel_size={"Z": 0.6, "Y": 0.2, "X": 0.2})
    return io.write(tmp_path / "stack.ome.tif", image)


def test_isotropic_writes_isotropic_voxels_and_the_model(capsys, tmp_path, stack):
    out, model = tmp_path / "iso.ome.tif", tmp_path / "iso.safetensors"
    code, printed, err = run(
        capsys, "isotropic", str(stack), str(out), *TRAIN, "--patch-size", "12",
        "--hparams", "n_first=4,depth=1", "--save-model", str(model), "--progress",
    )  # fmt: skip
    assert code == 0, err
    # training steps, then tiles: mixed units, so the bar shows a percentage, not "planes"
    assert "100%, " in err and " elapsed" in err and "planes" not in err
    assert "shape (13, 20, 20)" in printed and "Z 0.2 µm, Y 0.2 µm, X 0.2 µm" in printed
    result = io.read(out)
    assert result.shape == (13, 20, 20) and result.pixel_size["Z"] == pytest.approx(0.2)
    assert result.metadata["provenance"]["method"] == "isotropic"
    # the saved model restores another stack of the same microscope, without training
    again = tmp_path / "again.ome.tif"
    code, _, err = run(capsys, "isotropic", str(stack), str(again), "--model", str(model),
                       "--device", "cpu")  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(io.read(again).data, result.data)
    # nothing is overwritten unless asked
    code, _, err = run(capsys, "isotropic", str(stack), str(out), "--model", str(model))
    assert_one_line_error(code, err, "exists")


def test_isotropic_needs_the_anisotropy(capsys, tmp_path):
    path = io.write(tmp_path / "plain.tif", np.zeros((4, 16, 16), np.uint8))
    code, _, err = run(capsys, "isotropic", str(path), str(tmp_path / "o.ome.tif"), *TRAIN)
    assert_one_line_error(code, err, "factor")


def test_zssr_with_a_gaussian_blur(capsys, tmp_path):
    image = np.random.default_rng(1).integers(0, 255, (20, 22), dtype=np.uint8)
    source = io.write(tmp_path / "small.tif", image)
    out = tmp_path / "x2.ome.tif"
    code, printed, err = run(
        capsys, "zssr", str(source), str(out), "-s", "2", *TRAIN, "--patch-size", "16",
        "--hparams", "depth=3,features=8", "--blur", "1.0",
    )  # fmt: skip
    assert code == 0, err
    assert "shape (40, 44)" in printed
    assert io.read(out).metadata["provenance"]["method"] == "zssr"


def test_zssr_kernel_from_a_file_and_conflicting_options(capsys, tmp_path):
    from napari_sr.selfsup.zssr import gaussian_kernel

    image = np.random.default_rng(2).integers(0, 255, (20, 20), dtype=np.uint8)
    source = io.write(tmp_path / "small.tif", image)
    np.save(tmp_path / "k.npy", gaussian_kernel(0.8))
    code, _, err = run(
        capsys, "zssr", str(source), str(tmp_path / "a.ome.tif"), "-s", "2", *TRAIN,
        "--patch-size", "16", "--hparams", "depth=3,features=8",
        "--kernel", str(tmp_path / "k.npy"),
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        capsys, "zssr", str(source), str(tmp_path / "b.ome.tif"), "-s", "2",
        "--kernel", str(tmp_path / "k.npy"), "--blur", "1",
    )  # fmt: skip
    assert_one_line_error(code, err, "give --blur or --kernel, not both")


# ------------------------------------------------------------------------------ misr


def test_misr_fuses_the_sample_burst(capsys, tmp_path):
    from napari_sr.samples import sample_path

    out = tmp_path / "fused.ome.tif"
    code, printed, err = run(capsys, "misr", str(sample_path("burst")), str(out), "-s", "2",
                             "--method", "shift-add")  # fmt: skip
    assert code == 0, err
    assert "fused 8 frames with shift-add" in printed
    result = io.read(out)
    assert result.shape == (256, 256) and result.pixel_size["Y"] == pytest.approx(0.1)


def test_misr_learned_uses_the_bundled_network(capsys, tmp_path):
    from napari_sr.samples import sample_path

    out = tmp_path / "fused.ome.tif"
    code, printed, err = run(capsys, "misr", str(sample_path("burst")), str(out), "-s", "2",
                             "--method", "learned")  # fmt: skip
    assert code == 0, err
    assert "fused 8 frames with learned" in printed
    record = io.read(out).metadata["provenance"]
    assert record["method"] == "misr learned (highresnet)" and record["guard"] is True
    raw = tmp_path / "raw.ome.tif"
    code, _, err = run(capsys, "misr", str(sample_path("burst")), str(raw), "-s", "2",
                       "--method", "learned", "--no-guard")  # fmt: skip
    assert code == 0 and io.read(raw).metadata["provenance"]["guard"] is False, err
    code, _, err = run(capsys, "misr", str(sample_path("burst")), str(tmp_path / "x3.ome.tif"),
                       "-s", "3", "--method", "learned")  # fmt: skip
    assert_one_line_error(code, err, "no fusion network is bundled for x3")
    assert not (tmp_path / "x3.ome.tif").exists()


def test_misr_needs_frames(capsys, tmp_path):
    path = io.write(tmp_path / "one.tif", np.zeros((16, 16), np.uint8))
    code, _, err = run(capsys, "misr", str(path), str(tmp_path / "o.ome.tif"), "-s", "2")
    assert_one_line_error(code, err, "need a T axis")
    code, _, err = run(capsys, "misr", str(path), str(tmp_path / "o.ome.tif"), "-s", "2",
                       "--reference", "first")  # fmt: skip
    assert_one_line_error(code, err, "--reference takes a frame index or 'median'")


def test_models_lists_the_bundled_weights_and_prints_cards(capsys, fake_weights):
    code, out, _ = run(capsys, "models")
    assert code == 0
    assert "  fsrcnn_x3.sr291              stand-in" in out
    assert "--method quality (the default): EDSR-light trained on the 291-image set (x2)" in out
    assert "--method fast: FSRCNN trained on the 291-image set (x2, x3)" in out
    assert "edsr_light" in out.split("architectures")[1]
    code, out, _ = run(capsys, "models", "--card", "fsrcnn_x2.sr291")
    assert (code, out) == (0, "# fsrcnn_x2.sr291 — stand-in\n")
    code, _, err = run(capsys, "models", "--card", "fsrcnn_x4.sr291")
    assert_one_line_error(code, err, "no bundled model is named 'fsrcnn_x4.sr291'; bundled: ")


def test_upscale_defaults_to_the_quality_model_and_names_it(capsys, tmp_path, fake_weights):
    source = tmp_path / "in.tif"
    io.write(source, Image(np.arange(144, dtype=np.uint8).reshape(12, 12), axes="YX"))
    code, _, _ = run(capsys, "upscale", str(source), str(tmp_path / "out.ome.tif"), "-s", "2")
    assert code == 0
    written = io.read(tmp_path / "out.ome.tif")
    assert written.shape == (24, 24)
    assert written.metadata["provenance"]["method"] == "edsr_light_x2.sr291"
    code, _, err = run(capsys, "upscale", str(source), str(tmp_path / "f.ome.tif"), "-s", "4",
                       "--method", "fast")  # fmt: skip
    assert_one_line_error(code, err, "no fast default is bundled for x4 (bundled: x2, x3)")
    assert not (tmp_path / "f.ome.tif").exists()


def test_compare_adds_the_bundled_defaults_of_the_scale(capsys, fake_weights):
    from napari_sr.samples import sample_path

    image = str(sample_path("microaneurysms"))
    code, out, _ = run(capsys, "compare", image, "-s", "2")
    assert code == 0
    rows = [line.split()[0] for line in out.splitlines()[2:]]
    assert rows[-3:] == ["area", "fast", "quality"]
    code, out, _ = run(capsys, "compare", image, "-s", "3")
    assert [line.split()[0] for line in out.splitlines()[2:]][-2:] == ["area", "fast"]


def test_diffusion_writes_the_spread_beside_the_image(capsys, tmp_path):
    import napari_sr

    model = napari_sr.create_model("diffusion_unet", scale=2, features=8, multipliers=(1, 2, 2),
                                   blocks=1, levels=3)  # fmt: skip
    weights = napari_sr.save_model(model, tmp_path / "d.safetensors")
    image = Image(np.random.default_rng(0).integers(0, 255, (10, 12), dtype=np.uint8),
                  axes="YX", pixel_size={"Y": 0.4, "X": 0.4})  # fmt: skip
    source = io.write(tmp_path / "in.ome.tif", image)
    out = tmp_path / "out.ome.tif"
    code, printed, err = run(capsys, "upscale", str(source), str(out), "--scale", "2",
                             "--method", str(weights), "--samples", "3",
                             "--uncertainty")  # fmt: skip
    assert code == 0, err
    spread = io.read(tmp_path / "out.std.ome.tif")
    assert "out.std.ome.tif: the standard deviation over the samples, float32" in printed
    assert spread.shape == (20, 24) and spread.dtype == np.float32
    assert spread.pixel_size == {"Y": 0.2, "X": 0.2}
    # nothing is overwritten unless asked, and other methods refuse the flags
    code, _, err = run(capsys, "upscale", str(source), str(tmp_path / "b.tif"), "--scale", "2",
                       "--method", "bicubic", "--uncertainty")  # fmt: skip
    assert_one_line_error(code, err, "apply to diffusion models")
    code, _, err = run(capsys, "upscale", str(source), str(tmp_path / "c.tif"), "--scale", "2",
                       "--method", str(weights), "--uncertainty", "--samples", "1")  # fmt: skip
    assert_one_line_error(code, err, "needs at least 2 samples")
    assert not (tmp_path / "c.tif").exists() and not (tmp_path / "c.std.tif").exists()
