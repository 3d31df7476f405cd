"""The perception–distortion trade-off at ×4: PSNR, SSIM, NIQE, spectral fidelity and data
consistency of bicubic, the quality default and the perceptual model, on held-out images.

Blau & Michaeli (CVPR 2018) showed that no method can be both as close to the truth as
possible (PSNR, SSIM) and as natural as possible (NIQE): a method that invents texture
moves along the trade-off, not past it. This prints where each method sits, on the
held-out BSD200 images of the 291 set (``quality.held_out_bsd200``: never trained on),
by the SR protocol (MATLAB-bicubic LR rounded to uint8, RGB, PSNR/SSIM on Y with a
``scale``-pixel border removed), each score the mean over the images
(:func:`napari_sr.evaluation.compare_methods` with ``perceptual=True``):

- NIQE of the output (lower: more natural; MATLAB's gray of the RGB output),
- the radial power spectrum's mean absolute error against the truth (dB, on luma),
- the data consistency: RMS of (input − output bicubic-downscaled again), grey levels.

    python benchmarks/perception.py [--scale 4] [--methods bicubic quality perceptual ...]
        [--lpips-weights alexnet-owt-7be5be79.pth] [--data DIR] [--photo [JSON]]

``--photo`` makes each input by Real-ESRGAN's second-order degradation instead (blur,
resize, noise, JPEG, twice; :class:`napari_sr.photo_degradation.PhotoDegradationRange`
with its defaults, or the ranges of the JSON given; one draw per image, seeded by its
index): photographs as they are found, not as the protocol makes them. Consistency then
compares the output with that degraded input, noise and JPEG included.

``--methods`` takes anything ``napari_sr.upscale`` takes (model files included); by
default bicubic, the quality default and, where bundled, the perceptual model of the
scale. ``--lpips-weights`` adds LPIPS with a torchvision VGG16 or AlexNet weights file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from quality import DATA, SUFFIXES, held_out_bsd200, load_rgb_or_gray, low_resolution

import napari_sr
from napari_sr.evaluation import BEYOND_PSNR, compare_low_resolution, compare_methods
from napari_sr.metrics import METRICS
from napari_sr.photo_degradation import PhotoDegradationRange


def default_methods(scale: int) -> list[str]:
    from napari_sr.models.bundled import bundled_models

    methods = ["bicubic", "quality"]
    perceptual = f"edsr_light_x{scale}.perceptual"
    if perceptual in bundled_models():
        methods.append(perceptual)
    return methods


def photo_input(image: np.ndarray, scale: int, spec: PhotoDegradationRange, seed: int):
    """(high-resolution cropped to a multiple of ``scale``, its photo-degraded uint8 LR)."""
    high, _ = low_resolution(image, scale)
    planes = high[None] if high.ndim == 2 else np.moveaxis(high, -1, 0)
    low = spec.apply(planes.astype(np.float32), scale, np.random.default_rng([seed, 7]))
    low = np.clip(np.round(low), 0, 255).astype(np.uint8)
    return high, (low[0] if high.ndim == 2 else np.moveaxis(low, 0, -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--data", type=Path, default=None, help="a folder of 8-bit images")
    parser.add_argument("--lpips-weights", type=Path, default=None)
    parser.add_argument(
        "--photo",
        nargs="?",
        const="{}",
        default=None,
        type=json.loads,
        help="inputs by Real-ESRGAN's degradation: {} or ranges as JSON",
    )
    args = parser.parse_args()
    spec = None if args.photo is None else PhotoDegradationRange.from_dict(args.photo)
    methods = args.methods or default_methods(args.scale)
    if args.data is not None:
        files = sorted(p for p in args.data.iterdir() if p.suffix.lower() in SUFFIXES)
        source = str(args.data)
    else:
        files, source = held_out_bsd200(DATA), "held-out BSD200 (every 20th of the 291 set)"
    started = time.perf_counter()
    rows: dict[str, list[dict]] = {}
    for index, path in enumerate(files):
        image = load_rgb_or_gray(path)
        if spec is None:
            result = compare_methods(image, args.scale, methods, perceptual=True)
        else:
            high, low = photo_input(image, args.scale, spec, index)
            result = compare_low_resolution(low, args.scale, methods, reference=high,
                                            perceptual=True)  # fmt: skip
        for row in result.rows:
            if args.lpips_weights is not None:
                crop = args.scale
                row["lpips"] = napari_sr.lpips(
                    result.reference, result.outputs[row["method"]],
                    weights=args.lpips_weights, crop_border=crop,
                )  # fmt: skip
            rows.setdefault(row["method"], []).append(row)
    table = [*METRICS, *BEYOND_PSNR]
    keys = [m.key for m in table] + (["lpips"] if args.lpips_weights else [])
    titles = [m.title for m in table] + (["LPIPS"] if args.lpips_weights else [])
    made = "MATLAB-bicubic LR" if spec is None else "Real-ESRGAN-degraded LR"
    print(f"x{args.scale}, {len(files)} images: {source}; {made} (uint8), "
          f"PSNR/SSIM on Y, {args.scale}-pixel border; means over the images")  # fmt: skip
    width = max(len("method"), *(len(m) for m in rows))
    print("| " + " | ".join([f"{'method':<{width}}", *titles]) + " |")
    print("|" + "|".join(["---"] + ["---:"] * len(titles)) + "|")
    for method, scored in rows.items():
        cells = []
        for key in keys:
            values = [r[key] for r in scored if r.get(key) is not None]
            cells.append(f"{np.mean(values):.3f}" if values else "—")
        print("| " + " | ".join([f"{method:<{width}}", *cells]) + " |")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
