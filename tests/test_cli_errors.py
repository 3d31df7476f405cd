"""The command line's contract under hostile input, signals and warnings (issue 17): one
line on stderr for an error, in the command line's words, exit 2; 130 for Ctrl-C, 143 for
SIGTERM, nothing left behind; our warnings shown, the libraries' hidden."""

from __future__ import annotations

import logging
import os
import signal
import struct
import subprocess
import sys
import time
import types
import warnings
import zlib

import numpy as np
import pytest

from napari_sr import io
from napari_sr.cli import DEBUG_ENV, build_parser, cli_wording
from test_cli import assert_one_line_error, run


@pytest.fixture
def small(tmp_path):
    """A 2-D 8-bit image file, 5 x 5."""
    return io.write(tmp_path / "in.ome.tif", (np.arange(25, dtype=np.uint8) * 9).reshape(5, 5))


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------- wording


@pytest.mark.parametrize(
    ("command", "message", "expected"),
    [
        ("upscale", "'o.tif' already exists; choose another name or pass overwrite=True "
         "(--overwrite on the command line)", "'o.tif' already exists; choose another name "
         "or pass --overwrite"),
        ("upscale", "give one letter per dimension, e.g. axes='YX'",
         "give one letter per dimension, e.g. --axes YX"),
        ("upscale", "scale=3 does not match the model's scale 2; pass scale=2 or use a model",
         "--scale 3 does not match the model's scale 2; pass --scale 2 or use a model"),
        ("upscale", "use precision='bf16' there", "use --precision bf16 there"),
        ("upscale", "tile must be None (automatic), 0 (never tile)",
         "--tile must be left out (automatic), 0 (never tile)"),
        ("compare", "or an interpolation such as method='bicubic'",
         "or an interpolation such as --methods bicubic"),
        # Python code quoted in a message stays Python; a path is left alone
        ("upscale", "run napari_sr.misr(frames, scale, method='learned') (napari-sr misr "
         "--method learned)", "run napari_sr.misr(frames, scale, method='learned') "
         "(napari-sr misr --method learned)"),
        ("upscale", "cannot read '/d/self_ensemble.tif'", "cannot read '/d/self_ensemble.tif'"),
        ("train", "resume=True needs checkpoint=PATH, the run's model file",
         "--resume needs --out PATH, the run's model file"),
        ("train", "train without resume=True (--resume) to start a new run",
         "train without --resume to start a new run"),
        ("train", "smaller than patch_size (64); leave in_channels out",
         "smaller than --patch-size (64); leave --in-channels out"),
        ("misr", "pass axes with T for the frames, e.g. axes='TYX', or frame_axis=",
         "pass --axes with T for the frames, e.g. --axes TYX"),
        ("isotropic", "pass factor= (z step / xy pixel size)",
         "pass --factor (z step / xy pixel size)"),
        ("zssr", "gradual=False and self_ensemble=False", "--no-gradual and --no-self-ensemble"),
        ("zssr", "progress=False", "--no-progress"),
        ("train", "fine-tune from the bundled weights (init='bundled', --init bundled), or",
         "fine-tune from the bundled weights (--init bundled), or"),
        ("compare", "pass data_range, e.g. data_range=255", "pass --data-range, e.g. "
         "--data-range 255"),
    ],
)  # fmt: skip
def test_api_messages_are_reworded_for_the_command_line(command, message, expected):
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices)
    assert cli_wording(message, sub.choices[command], command) == expected


def test_an_api_error_names_the_flag(capsys, tmp_path):
    path = io.write(tmp_path / "z.ome.tif", np.zeros((3, 6, 6), np.uint8), axes="ZYX")
    code, _, err = run(capsys, "misr", str(path), str(tmp_path / "o.ome.tif"), "-s", "2")
    assert_one_line_error(code, err, "pass --axes with T for the frames, e.g. --axes TYX")
    assert "frame_axis" not in err


def test_degrade_along_axes_the_image_lacks(capsys, tmp_path, small):
    code, _, err = run(capsys, "degrade", str(small), str(tmp_path / "o.ome.tif"), "-s", "2",
                       "--along", "Z")  # fmt: skip
    assert_one_line_error(code, err, "--along Z must name spatial axes of")
    assert "use letters of YX" in err


# ----------------------------------------------------------------------------- the method


def test_the_wrote_line_names_the_method_that_ran(capsys, tmp_path, small, fake_weights):
    code, out, err = run(capsys, "upscale", str(small), str(tmp_path / "a.ome.tif"), "-s", "2")
    assert code == 0 and err == ""
    assert out.startswith(f"wrote {tmp_path / 'a.ome.tif'} with edsr_light_x2.sr291 "
                          "(quality default, clean input: noise 0.0 % of the range <= 1 %): "
                          "shape (10, 10)")  # fmt: skip
    code, out, err = run(capsys, "upscale", str(small), str(tmp_path / "b.ome.tif"), "-s", "2.5")
    assert code == 0
    assert f"wrote {tmp_path / 'b.ome.tif'} with bicubic (the default at x2.5): " in out
    assert err == (
        "napari-sr: warning: no learned quality default is bundled for x2.5 (bundled: x2), so "
        "bicubic interpolation ran; pass --method bicubic to choose it explicitly\n"
    )
    assert io.read(tmp_path / "b.ome.tif").metadata["provenance"]["method"] == "bicubic"
    code, out, err = run(capsys, "upscale", str(small), str(tmp_path / "c.ome.tif"), "-s", "2.5",
                         "--method", "bicubic")  # fmt: skip
    assert (code, err) == (0, "") and " with bicubic: shape (13, 13)" in out
    code, out, err = run(capsys, "upscale", str(small), str(tmp_path / "d.ome.tif"), "-s", "3",
                         "--method", "fast")  # fmt: skip
    assert code == 0 and " with fsrcnn_x3.sr291 (fast default, clean input: " in out


# ----------------------------------------------------------------------------- warnings


def _chatty_library():
    """A stand-in third-party module that warns and logs (as torch, Pillow, tifffile do)."""
    module = types.ModuleType("fakelib")
    exec(
        "import logging, warnings\n"
        "import numpy as np\n"
        "def chatter():\n"
        "    warnings.warn('lib chatter', UserWarning)\n"
        "    np.log(np.zeros(1))\n"  # numpy's RuntimeWarning, raised in C
        "    logging.getLogger('tifffile').warning('log chatter')\n",
        module.__dict__,
    )
    return module.chatter


@pytest.mark.parametrize("fail", [False, True])
def test_library_warnings_are_hidden_ours_shown_and_an_error_is_one_line(
    capsys, tmp_path, small, monkeypatch, fake_weights, fail
):
    chatter, real_read = _chatty_library(), io.read
    shown_before = warnings.showwarning

    def read(*args, **kwargs):
        chatter()
        if fail:
            raise ValueError("this file has no pixels; pass axes='YX'")
        return real_read(*args, **kwargs)

    monkeypatch.setattr(io, "read", read)
    argv = ["upscale", str(small), str(tmp_path / "o.ome.tif"), "-s", "2.5"]
    code, _, err = run(capsys, *argv)
    if fail:  # our fallback warning came first, but an error is one line
        assert err == "napari-sr: error: this file has no pixels; pass --axes YX\n"
        assert code == 2 and not list(tmp_path.glob("*o.ome.tif*"))  # nor a part file
        return
    ours = (
        "napari-sr: warning: no learned quality default is bundled for x2.5 (bundled: x2), "
        "so bicubic interpolation ran; pass --method bicubic to choose it explicitly"
    )
    assert (code, err.splitlines()) == (0, [ours])
    code, _, err = run(capsys, *argv, "--overwrite", "--verbose")
    assert code == 0
    assert err.splitlines()[0] == ours
    assert "napari-sr: warning: (library) UserWarning (<string>:4): lib chatter" in err
    assert "RuntimeWarning" in err and "napari-sr: warning: (library) tifffile: log chatter" in err
    assert warnings.showwarning is shown_before  # restored
    assert not [h for h in logging.getLogger().handlers if type(h).__name__ == "_Notices"]


@pytest.mark.slow
def test_train_ending_below_bicubic_says_so(capsys, tmp_path):
    """Our own warning from deep inside train() reaches the user as one line."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    source = io.write(tmp_path / "hr.ome.tif", (rng.random((64, 64)) * 255).astype(np.uint8))
    code, _, err = run(
        capsys, "train", "fsrcnn", str(source), "-s", "2", "--steps", "1", "--out",
        str(tmp_path / "m.safetensors"), "--patch-size", "24", "--validation-fraction", "0.25",
        "--device", "cpu", "--init", "scratch", "--hparams", "d=4,s=2,m=1",
    )  # fmt: skip
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("napari-sr: warning: ")]
    assert len(warned) == 1 and "below bicubic" in warned[0], err
    assert "--init bundled" in warned[0] and "init='bundled'" not in warned[0]


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
def test_a_torchscript_model_is_one_line_without_torch_warnings(capsys, tmp_path, small):
    torch = pytest.importorskip("torch")
    path = tmp_path / "scripted.pt"
    torch.jit.script(torch.nn.Conv2d(1, 1, 3)).save(str(path))
    code, _, err = run(capsys, "upscale", str(small), str(tmp_path / "o.ome.tif"), "-s", "2",
                       "--method", str(path))  # fmt: skip
    assert_one_line_error(code, err, "TorchScript")


# ----------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("name", "content", "where", "match"),
    [
        ("random.safetensors", os.urandom(3000), "method", "not a readable safetensors file"),
        ("huge_header.safetensors", struct.pack("<Q", 10**12) + b"{}", "method",
         "not a readable safetensors file"),
        ("garbage.tif", b"II*\x00" + bytes(range(256)) * 8, "input", "truncated or corrupt"),
        ("folder", None, "input", "is a folder"),
    ],
)  # fmt: skip
def test_hostile_files_are_one_line(capsys, tmp_path, small, name, content, where, match):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    source, extra = (small, ["--method", str(path)]) if where == "method" else (path, [])
    code, _, err = run(capsys, "upscale", str(source), str(tmp_path / "o.ome.tif"), "-s", "2",
                       *extra)  # fmt: skip
    assert_one_line_error(code, err, match)
    assert not (tmp_path / "o.ome.tif").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_as_input_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.tif"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "napari_sr.cli", "info", str(fifo)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"napari-sr: error: {str(fifo)!r} is a named pipe (FIFO), not a regular file; "
        "napari-sr reads image files - save the data to a file and give that"
    ]


@pytest.mark.parametrize(
    "error",
    [
        KeyError("O"),
        IndexError("list index out of range"),
        RuntimeError("CUDA error: an illegal memory access"),
        struct.error("unpack requires a buffer of 8 bytes"),
        zlib.error("Error -3 while decompressing data"),
        ZeroDivisionError("division by zero"),
        AttributeError("'NoneType' object has no attribute 'shape'"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_unexpected_error_is_one_line_and_exit_2(capsys, tmp_path, small, monkeypatch, error):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(io, "read", broken)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    argv = ["upscale", str(small), str(tmp_path / "o.ome.tif"), "-s", "2"]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, f"unexpected {type(error).__name__}: ")
    assert err.rstrip().endswith(f"{DEBUG_ENV}=1 shows the traceback)")
    monkeypatch.setenv(DEBUG_ENV, "1")  # developers get the traceback
    with pytest.raises(type(error)):
        run(capsys, *argv)


# ----------------------------------------------------------------------------- signals


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_work_leaves_nothing(capsys, tmp_path, small, monkeypatch, signum,
                                                 status):  # fmt: skip
    from napari_sr.engine import upscaler

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signum)
        time.sleep(10)  # the handler interrupts the sleep
        raise AssertionError("not interrupted")

    def unhandled(signum, frame):  # SIGTERM's default would end pytest itself
        raise AssertionError("SIGTERM was not handled by the command")

    monkeypatch.setattr(upscaler, "upscale", killed)
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        code, out, err = run(capsys, "upscale", str(small), str(tmp_path / "o.ome.tif"), "-s", "2")
        assert signal.getsignal(signal.SIGTERM) is unhandled  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (code, out, err) == (status, "", "napari-sr: interrupted; nothing was written\n")
    assert _files(tmp_path) == ["in.ome.tif"]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_to_the_command_exits_143_and_leaves_no_part_file(tmp_path):
    """As `timeout` or a scheduler would: a real process, killed while it works."""
    source = io.write(tmp_path / "big.ome.tif", np.ones((64, 256, 256), np.uint16), axes="ZYX")
    out = tmp_path / "out.ome.tif"
    process = subprocess.Popen(
        [sys.executable, "-m", "napari_sr.cli", "upscale", str(source), str(out), "-s", "4",
         "--method", "lanczos3", "--progress"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    seen = b""
    while b"[" not in seen:  # the work has started: the bar is drawn (unbuffered reads)
        byte = os.read(process.stderr.fileno(), 1)
        assert byte, f"ended before working: {seen}"
        seen += byte
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 143
    text = (seen + rest).decode()
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1] == "napari-sr: interrupted; nothing was written"
    assert [line for line in lines if line.startswith("napari-sr")] == lines[-1:]
    assert _files(tmp_path) == ["big.ome.tif"]  # no output, no hidden part file


# ----------------------------------------------------------------------------- formats


def test_png_in_png_out(capsys, tmp_path):
    source = tmp_path / "in.png"
    io.write(source, (np.arange(48, dtype=np.uint8) * 5).reshape(6, 8))
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "upscale", str(source), str(out), "-s", "2",
                             "--method", "bicubic")  # fmt: skip
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = io.read(out)
    assert written.shape == (12, 16) and written.dtype == np.uint8
    expected = io.read(source)
    from napari_sr import upscale

    np.testing.assert_array_equal(written.data, upscale(expected.data, 2, method="bicubic"))


@pytest.mark.parametrize(("option", "expected"), [([], "ADOBE_DEFLATE"), (["none"], "NONE"),
                                                  (["zlib"], "ADOBE_DEFLATE")])  # fmt: skip
def test_compression_option(capsys, tmp_path, small, option, expected):
    import tifffile

    out = tmp_path / "o.ome.tif"
    extra = ["--compression", *option] if option else []
    code, _, err = run(capsys, "degrade", str(small), str(out), "-s", "1", *extra)
    assert code == 0, err
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].compression.name == expected


def test_zstd_without_imagecodecs_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(io, "zstd_available", lambda: False)
    argv = [str(tmp_path / "missing.tif"), str(tmp_path / "o.ome.tif"), "-s", "2"]
    code, _, err = run(capsys, "upscale", *argv, "--compression", "zstd")
    assert_one_line_error(code, err, "--compression zstd needs the imagecodecs package")


def test_train_init_option_reaches_train(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from napari_sr.training import loop

    seen = {}

    def fake_train(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("stopped here")

    monkeypatch.setattr(loop, "train", fake_train)
    code, _, err = run(capsys, "train", "fsrcnn", str(tmp_path), "-s", "2", "--steps", "1",
                       "--out", str(tmp_path / "m.safetensors"), "--init", "scratch")  # fmt: skip
    assert_one_line_error(code, err, "stopped here")
    assert seen["init"] == "scratch"
    seen.clear()
    code, _, err = run(capsys, "train", "fsrcnn", str(tmp_path), "-s", "2", "--steps", "1",
                       "--out", str(tmp_path / "m.safetensors"))  # fmt: skip
    assert "init" not in seen  # train() owns the default
