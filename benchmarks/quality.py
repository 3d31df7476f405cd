"""Single-image SR quality by the standard protocol of SR papers, on a folder of images.

For every high-resolution image in DIR (``.png``, ``.bmp``, ``.jpg``, ``.tif``): crop it to
a multiple of the scale; make the low-resolution input by MATLAB ``imresize`` bicubic
downscaling (antialiased, Keys a = −0.5) of the RGB image, rounded to uint8; upscale it
with each method; score PSNR and SSIM on the luma Y = 16 + 65.481 R + 128.553 G +
24.966 B (RGB in [0, 1]) of uint8 results, ``scale`` pixels cropped from every border;
one-channel images are scored as they are (``../shared/data/README.md``). Bicubic is
always the first row, so that a run on Set5, Set14, B100 or Urban100 can be checked
against the published bicubic numbers (e.g. Set5 ×2/×3/×4: 33.66 / 30.39 / 28.42 dB;
Kim et al. 2016, VDSR, Table 3).

    python benchmarks/quality.py DIR --scale 2 [--models lanczos3 MODEL.safetensors ...]
    python benchmarks/quality.py --held-out --scale 2      # the held-out BSD200 images
    python benchmarks/quality.py --microscopy --scale 2    # real microscopy/MRI planes

Models (``--models``, or ``--methods``) are anything ``napari_sr.upscale`` takes:
interpolation names, model files, bundled weights (``edsr_light_x2.sr291``) or the
defaults ``quality`` and ``fast``. Without ``--models``: Lanczos-3 and every bundled
single-image model of that scale.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from imageio.v3 import imread

import napari_sr

DATA = Path(os.environ.get("NAPARI_SR_DATA", Path(__file__).parents[2] / "shared" / "data"))
SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")
HELD_OUT_EVERY = 20
"""The held-out validation images of the 291 set: every 20th BSD200 image by name (10)."""


def held_out_bsd200(data: Path = DATA) -> list[Path]:
    """The BSD200 images kept out of training for validation (every ``HELD_OUT_EVERY``-th
    by sorted name, from the first)."""
    files = sorted(p for p in (data / "sr291" / "BSD200").iterdir() if p.suffix in SUFFIXES)
    return files[::HELD_OUT_EVERY]


def load_rgb_or_gray(path: Path) -> np.ndarray:
    """A uint8 image: (Y, X) or (Y, X, 3) (alpha dropped)."""
    image = imread(path)
    if image.dtype != np.uint8:
        raise ValueError(f"{path.name}: the protocol is for 8-bit images, not {image.dtype}")
    return image[..., :3] if image.ndim == 3 else image


def low_resolution(image: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(high-resolution cropped to a multiple of ``scale``, its MATLAB-bicubic uint8 LR)."""
    h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
    high = image[:h, :w]
    axes = "YXC" if high.ndim == 3 else "YX"
    low = napari_sr.resize(high, {"Y": 1 / scale, "X": 1 / scale}, method="bicubic",
                           axes=axes, dtype=np.uint8)  # fmt: skip
    return high, low


def score(high: np.ndarray, sr: np.ndarray, scale: int) -> tuple[float, float]:
    """Y-channel PSNR (dB) and SSIM of uint8 images, ``scale`` border pixels cropped."""
    options = {"crop_border": scale, "y_channel": True, "data_range": 255.0}
    return napari_sr.psnr(high, sr, **options), napari_sr.ssim(high, sr, **options)


def evaluate(files: list[Path], scale: int, methods: list[str]) -> dict[str, dict[str, float]]:
    """Mean PSNR, SSIM and seconds of each method over ``files``."""
    results = {m: {"psnr": [], "ssim": [], "seconds": []} for m in methods}
    for path in files:
        high, low = low_resolution(load_rgb_or_gray(path), scale)
        for method in methods:
            started = time.perf_counter()
            sr = napari_sr.upscale(low, scale, method=method)
            seconds = time.perf_counter() - started
            p, s = score(high, np.asarray(sr), scale)
            results[method]["psnr"].append(p)
            results[method]["ssim"].append(s)
            results[method]["seconds"].append(seconds)
    return {m: {k: float(np.mean(v)) for k, v in r.items()} for m, r in results.items()}


MICROSCOPY = {
    # name: (file under ../shared/data, the 2D plane to use)
    "BPAE actin (float32)": ("microscopy-dev/BPAE_actin.tif", lambda a: a),
    "maize CLSM (uint8)": ("microscopy-dev/maize_clsm.tif", lambda a: a),
    "nup nuclei (uint16)": ("microscopy-dev/xyc_16bit__nup_nuclei.tif", lambda a: a[0]),
    "membrane (uint16)": ("microscopy-dev/membrane_2d_timelapse.tif", lambda a: a[0]),
    "golgi z12 (uint16)": ("microscopy-dev/xyz_calibrated_16bit__golgi_bfa.tif", lambda a: a[12]),
    "chromosomes z20 (uint16)": ("microscopy-dev/xyz_8bit__chromosomes.tif", lambda a: a[20]),
    "nuclei z18 (uint8)": ("microscopy-dev/xyz_8bit__nuclei_autothresh.tif", lambda a: a[18]),
    "MRI head z13 (uint8)": (
        "microscopy-dev/xyz_8bit_calibrated_anisotropic__mri_head.tif", lambda a: a[13]),
}  # fmt: skip
"""Real microscopy and MRI planes (never trained on), for ``--microscopy``."""


def evaluate_microscopy(scale: int, methods: list[str]) -> dict[str, dict[str, float]]:
    """PSNR of each method on each plane of :data:`MICROSCOPY`: MATLAB-bicubic LR in the
    image's dtype, border = scale, L = 255 for uint8 and the reference's span otherwise."""
    import tifffile

    from napari_sr.evaluation import compare_methods
    from napari_sr.metrics import scoring_range

    table = {}
    for name, (relative, plane) in MICROSCOPY.items():
        image = plane(tifffile.imread(DATA / relative))
        result = compare_methods(image, scale, methods, axes="YX",
                                 data_range=scoring_range(image))  # fmt: skip
        table[name] = {row["method"]: row["psnr_db"] for row in result.rows}
    return table


def bundled_single_image(scale: int) -> list[str]:
    """Lanczos-3 and the bundled single-image models of ``scale`` (fast ones first)."""
    from napari_sr.engine.method_table import single_image_weights
    from napari_sr.models.bundled import DEFAULT_WEIGHTS, parse_name

    wanted = (scale, DEFAULT_WEIGHTS)
    names = [n for n in single_image_weights() if (parse_name(n) or ())[1:] == wanted]
    fast = [n for n in names if n.startswith("fsrcnn")]
    return ["lanczos3", *fast, *[n for n in names if n not in fast]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, help="folder of high-resolution images")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--models", "--methods", dest="methods", nargs="*", default=None,
                        help="besides bicubic (default: lanczos3, the bundled ones)")  # fmt: skip
    parser.add_argument("--held-out", action="store_true",
                        help="the held-out BSD200 images of ../shared/data/sr291")  # fmt: skip
    parser.add_argument("--microscopy", action="store_true",
                        help="real microscopy and MRI planes (PSNR only)")  # fmt: skip
    args = parser.parse_args()
    chosen = bundled_single_image(args.scale) if args.methods is None else args.methods
    methods = ["bicubic", *[m for m in chosen if m != "bicubic"]]
    if args.microscopy:
        table = evaluate_microscopy(args.scale, methods)
        print(f"x{args.scale}; PSNR (dB), border {args.scale}; L = 255 (uint8) or the span")
        labels = [Path(m).name.split(".")[0] for m in methods]
        print(f"{'image':<26}" + "".join(f"{label:>15}" for label in labels))
        for name, row in table.items():
            print(f"{name:<26}" + "".join(f"{row[m]:>15.2f}" for m in methods))
        gains = {m: np.mean([row[m] - row["bicubic"] for row in table.values()]) for m in methods}
        print(f"{'mean gain over bicubic':<26}" + "".join(f"{gains[m]:>+15.2f}" for m in methods))
        return
    if args.held_out:
        files = held_out_bsd200()
    elif args.dir is not None:
        files = sorted(p for p in args.dir.iterdir() if p.suffix.lower() in SUFFIXES)
    else:
        parser.error("give DIR or --held-out")
    if not files:
        parser.error("no images (.png, .bmp, .jpg, .tif) found")
    results = evaluate(files, args.scale, methods)
    print(f"{len(files)} images, x{args.scale}; Y-channel PSNR (dB) / SSIM, border {args.scale}")
    print(f"{'method':<40}{'PSNR':>8}{'SSIM':>8}{'s/image':>9}")
    for method, r in results.items():
        name = Path(method).name if os.sep in method else method
        print(f"{name:<40}{r['psnr']:>8.2f}{r['ssim']:>8.4f}{r['seconds']:>9.2f}")


if __name__ == "__main__":
    main()
