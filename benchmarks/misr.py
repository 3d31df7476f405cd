"""Multi-image SR against single-frame upscaling, on synthetic bursts of real images.

Every image (the 2D images of the developers' data, if present, and bundled samples; a
320×320 crop of each, grayscale) becomes a burst (``napari_sr.multiframe.simulate``):
random shifts of up to ±1 low-resolution pixel, a Gaussian PSF of σ = 0.5·scale
high-resolution pixels, scale × scale pixel integration, Poisson noise at a peak of 200
photons; ×2 with 8 frames and ×4 with 16. Scored against the sharp image, in photons:

- bicubic and Lanczos-3 upscaling of the reference frame (frame 0), and the bundled
  single-image quality default where one exists for the scale (trained for the SR
  protocol's bicubic degradation, not for this PSF and noise);
- ``misr`` with each classical fusion (``shift-add``, ``ibp``, ``robust``), told the PSF;
- ``misr(method="learned")``: the bundled fusion network of that scale (it corrects the
  robust fusion), or with ``--fusion-model FILE`` that trained fusion network instead;
- the registration error: the largest distance between measured and true shifts, in
  low-resolution pixels.

PSNR/SSIM by the SR protocol (border = scale), L = the truth's max − min.

    python benchmarks/misr.py [--data DIR] [--fusion-model FILE ...]

Targets (issue 7): the best classical method ≥ +2.5 dB over bicubic on the reference frame
at both settings; the learned fusion ≥ the best classical; registration error ≤ 0.1
low-resolution pixel at a peak of 200.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import napari_sr
from napari_sr.models.bundled import default_model
from napari_sr.multiframe.misr import learned_scales
from napari_sr.multiframe.registration import register
from napari_sr.multiframe.simulate import make_burst

DATA = Path(os.environ.get("NAPARI_SR_DATA", Path(__file__).parents[2] / "shared" / "data"))
REAL = {  # developers' data: file, how to make it one 2D grayscale image
    "BPAE actin": ("microscopy-dev/BPAE_actin.tif", lambda a: a),
    "maize CLSM": ("microscopy-dev/maize_clsm.tif", lambda a: a),
    "nup nuclei": ("microscopy-dev/xyc_16bit__nup_nuclei.tif", lambda a: a[0]),
    "membrane": ("microscopy-dev/membrane_2d_timelapse.tif", lambda a: a[0]),
}
SAMPLES = {  # bundled: name -> 2D grayscale
    "immunohistochemistry": lambda a: a[..., 0],
    "retina": lambda a: a[..., 1],
    "burst ground truth": None,
}
SETTINGS = ((2, 8), (4, 16))
METHODS = ("shift-add", "ibp", "robust")


def images(data: Path) -> dict[str, np.ndarray]:
    out = {}
    for name, (relative, pick) in REAL.items():
        path = data / relative
        if path.is_file():
            out[name] = pick(napari_sr.io.read(path).data)
    for name, pick in SAMPLES.items():
        if pick is None:
            out[name] = napari_sr.load_sample("burst", ground_truth=True).data
        else:
            out[name] = pick(napari_sr.load_sample(name).data)
    return {k: _centre(v.astype(np.float32), 320) for k, v in out.items()}


def _centre(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[y : y + size, x : x + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fusion-model", type=Path, action="append", default=[],
        help="a trained fusion model file (its scale picks the setting); repeatable",
    )  # fmt: skip
    args = parser.parse_args()
    learned: dict[int, object] = {s: "learned" for s in learned_scales()}
    for path in args.fusion_model:
        model = napari_sr.load_model(path)
        learned[int(model.scale)] = model
    rows = []
    for name, image in images(args.data).items():
        for scale, frames in SETTINGS:
            burst, shifts, truth = make_burst(image, scale, frames, psf=0.5 * scale,
                                              peak=200, seed=args.seed)  # fmt: skip
            options = {"crop_border": scale, "data_range": float(np.ptp(truth))}

            def score(out, truth=truth, options=options):
                return napari_sr.psnr(truth, out, **options), napari_sr.ssim(truth, out, **options)

            started = time.perf_counter()
            found = register(burst, reference=0)
            error = float(np.sqrt(((found.shifts - shifts) ** 2).sum(1)).max())
            register_s = time.perf_counter() - started
            results = {}
            singles = ["bicubic", "lanczos3", *(["quality"] if default_model(scale) else [])]
            for single in singles:
                started = time.perf_counter()
                out = napari_sr.upscale(burst[0], scale, method=single)
                results[single] = (*score(out), time.perf_counter() - started)
            for method in METHODS:
                started = time.perf_counter()
                out = napari_sr.misr(burst, scale, method=method, psf=0.5 * scale,
                                     shifts=found.shifts)  # fmt: skip
                results[method] = (*score(out), time.perf_counter() - started + register_s)
            if scale in learned:
                started = time.perf_counter()
                out = napari_sr.misr(burst, scale, method=learned[scale])
                results["learned"] = (*score(out), time.perf_counter() - started)
            rows.append((name, scale, frames, error, results))
            line = ", ".join(f"{k} {p:.2f}" for k, (p, _, _) in results.items())
            print(f"{name} x{scale} ({frames} frames): registration error {error:.3f} px; {line}",
                  flush=True)  # fmt: skip

    print()
    quality = any("quality" in r[4] for r in rows)
    columns = ("bicubic", "lanczos3", *(("quality",) if quality else ()), *METHODS,
               *(("learned",) if learned else ()))  # fmt: skip
    head = "".join(f"{m:>18}" for m in columns)
    print(f"{'image':<22}{'setting':>12}{'reg. err':>9}{head}")
    for name, scale, frames, error, results in rows:
        cells = "".join(f"{results[c][0]:>9.2f}/{results[c][1]:.3f}" if c in results
                        else f"{'-':>15}" for c in columns)  # fmt: skip
        print(f"{name:<22}{f'x{scale}, {frames} fr':>12}{error:>9.3f}{cells}")
    print("\n(PSNR dB / SSIM; seconds of the fusions, registration included:)")
    for scale, frames in SETTINGS:
        chosen = [r for r in rows if r[1] == scale]
        gains = [max(r[4][m][0] for m in METHODS) - r[4]["bicubic"][0] for r in chosen]
        seconds = {m: np.mean([r[4][m][2] for r in chosen]) for m in METHODS}
        errors = [r[3] for r in chosen]
        print(f"x{scale}, {frames} frames: best classical over bicubic {min(gains):+.2f} to "
              f"{max(gains):+.2f} dB (mean {np.mean(gains):+.2f}); registration error at most "
              f"{max(errors):.3f} px; mean seconds "
              + ", ".join(f"{m} {v:.1f}" for m, v in seconds.items()))  # fmt: skip
        if scale in learned:
            margins = [r[4]["learned"][0] - max(r[4][m][0] for m in METHODS) for r in chosen]
            print(f"x{scale}, {frames} frames: learned over the best classical "
                  f"{min(margins):+.2f} to {max(margins):+.2f} dB (mean {np.mean(margins):+.2f}"
                  f"), better on {sum(m >= 0 for m in margins)} of {len(margins)}; mean "
                  f"seconds {np.mean([r[4]['learned'][2] for r in chosen]):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
