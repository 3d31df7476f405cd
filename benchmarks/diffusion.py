"""Diffusion SR at ×4: quality against the quality default, quality against steps, and
whether the samples' spread is an uncertainty (issue 23).

Two kinds of held-out input, each as 256 × 256 high-resolution centre crops:

- **photographs**: held-out BSD200 images of the 291 set (``quality.held_out_bsd200``,
  never trained on), by the SR protocol (MATLAB-bicubic LR of the RGB crop, rounded to
  uint8); PSNR on Y with a 4-pixel border, NIQE of the RGB output;
- **microscopy**: the 2D planes of ``$NAPARI_SR_DATA/microscopy-dev`` (never trained on),
  made as a microscope makes them (``real_inputs.microscope_pair``: Gaussian PSF of
  σ = 0.5·s, pixel integration, Poisson noise at a photon peak of 200 and read noise); PSNR
  with L = the reference's range.

For each image the model draws ``--samples`` samples (seed 0): the PSNR of their mean and
of the first sample, NIQE of the first sample, the rank correlation (Spearman) between the
per-pixel standard deviation and the error of the mean, and the coverage of the interval
``mean ± k·std``, all on luma with the border removed. ``k`` is the model's calibrated
interval scale; ``--calibrate`` computes it first, by split conformal prediction on a
calibration set that no figure below uses (the other held-out BSD200 images of the 291
set's validation split — the first half — and the microscopy-train validation crops, made
the same two ways), and writes it into the model file's ``metrics["calibration"]``.

    python benchmarks/diffusion.py --model diffusion_unet_x4.microscope.safetensors \\
        [--calibrate] [--steps-sweep 1 2 4 8 15] [--samples 8] [--coverage 0.9]

``--time`` measures the CPU (or GPU) seconds per 256 × 256 output tile for 8 samples.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from quality import held_out_bsd200, load_rgb_or_gray, low_resolution
from real_inputs import centre_crop, held_out_images, microscope_pair
from train_robust import centre, grey_float, microscopy_split

import napari_sr
from napari_sr.color import luma
from napari_sr.diffusion.calibration import (
    interval_coverage,
    interval_scale,
    uncertainty_error_correlation,
)
from napari_sr.metrics import scoring_range

SCALE, CROP, PEAK = 4, 256, 200.0


def photo_pairs(files: list[Path]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, HR RGB crop, its protocol LR) of each photograph."""
    out = []
    for path in files:
        image = load_rgb_or_gray(path)
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        crop = np.stack([centre_crop(image[..., c], CROP) for c in range(3)], axis=-1)
        high, low = low_resolution(crop, SCALE)
        out.append((path.stem, high, low))
    return out


def microscope_pairs(planes: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, HR reference, microscope LR) of each plane, noise seeded by its index."""
    out = []
    for index, (name, plane) in enumerate(planes.items()):
        reference, low = microscope_pair(centre_crop(plane, CROP), SCALE, PEAK, seed=index)
        out.append((name, reference, low))
    return out


def scored(truth: np.ndarray, output: np.ndarray) -> np.ndarray:
    """The luma (RGB) or plane of ``output`` without its border, float64."""
    values = luma(output, 255.0) if output.ndim == 3 else output
    b = SCALE
    return np.asarray(values, np.float64)[b:-b, b:-b]


def run(model, pairs, samples: int, steps: int | None, k: float | None) -> dict[str, list]:
    """Per image: PSNR of the mean and of a sample, NIQE of the sample, Spearman, coverage;
    and the (truth, mean, std) luma of each, for calibration."""
    rows = {"psnr_mean": [], "psnr_sample": [], "niqe_sample": [], "spearman": [],
            "spearman_input": [], "coverage": [], "triples": []}  # fmt: skip
    for _name, high, low in pairs:
        photo = high.dtype == np.uint8
        run = dict(method=model, steps=steps, seed=0, dtype=np.float32)
        result = napari_sr.upscale(low, SCALE, samples=samples, uncertainty=True, **run)
        mean = result.image
        first = napari_sr.upscale(low, SCALE, samples=1, estimate="sample", **run)
        data_range = 255.0 if photo else scoring_range(high)
        kwargs = {"data_range": data_range, "crop_border": SCALE, "y_channel": photo}
        rows["psnr_mean"].append(napari_sr.psnr(high.astype(np.float32), mean, **kwargs))
        rows["psnr_sample"].append(napari_sr.psnr(high.astype(np.float32), first, **kwargs))
        shown = np.clip(first, 0, 255).astype(np.uint8) if photo else first
        if min(first.shape[:2]) - 2 * SCALE >= 192:  # NIQE's least
            rows["niqe_sample"].append(napari_sr.niqe(shown, data_range=data_range))
        truth = scored(high, high.astype(np.float64))
        centre_ = scored(high, mean)
        b = SCALE
        spread = np.asarray(result.std, np.float64)[b:-b, b:-b]
        rows["spearman"].append(uncertainty_error_correlation(truth, centre_, spread))
        rows["spearman_input"].append(block_correlation(truth, centre_, spread))
        if k is not None:
            rows["coverage"].append(interval_coverage(truth, centre_, spread, k))
        rows["triples"].append((truth, centre_, spread))
    return rows


def block_correlation(truth, mean, std) -> float:
    """Spearman's correlation per input pixel: the RMS error of the mean against the RMS
    standard deviation over each ``SCALE`` × ``SCALE`` block of output pixels (what one
    pixel of the input covers)."""
    from scipy.stats import spearmanr

    h, w = (n // SCALE * SCALE for n in truth.shape)

    def rms(values):
        blocks = values[:h, :w].reshape(h // SCALE, SCALE, w // SCALE, SCALE)
        return np.sqrt((blocks**2).mean(axis=(1, 3))).ravel()

    return float(spearmanr(rms(std), rms(truth - mean)).statistic)


def baseline(method: str, pairs) -> tuple[float, float]:
    """Mean PSNR and NIQE of a one-pass method."""
    psnrs, niqes = [], []
    for _name, high, low in pairs:
        photo = high.dtype == np.uint8
        out = napari_sr.upscale(low, SCALE, method=method, dtype=np.float32)
        data_range = 255.0 if photo else scoring_range(high)
        psnrs.append(napari_sr.psnr(high.astype(np.float32), out, data_range=data_range,
                                    crop_border=SCALE, y_channel=photo))  # fmt: skip
        shown = np.clip(np.rint(out), 0, 255).astype(np.uint8) if photo else out
        if min(out.shape[:2]) - 2 * SCALE >= 192:
            niqes.append(napari_sr.niqe(shown, data_range=data_range))
    return float(np.mean(psnrs)), float(np.mean(niqes)) if niqes else float("nan")


def calibrate(model_path: Path, samples: int, steps, coverage: float) -> float:
    """Compute k on the calibration set and write it into the model file."""
    bsd = held_out_bsd200()
    _, micro_val = microscopy_split()
    pairs = photo_pairs(bsd[: len(bsd) // 2])
    pairs += microscope_pairs({p.stem: centre(grey_float(p)) for p in micro_val})
    model = napari_sr.load_model(model_path)
    rows = run(model, pairs, samples, steps, None)
    truth, mean, std = (np.concatenate([t[i].ravel() for t in rows["triples"]])
                        for i in range(3))  # fmt: skip
    k = interval_scale(truth, mean, std, coverage)
    metrics = dict(model.info.metrics or {})
    metrics["calibration"] = {
        "coverage": coverage,
        "interval_scale": k,
        "samples": samples,
        "steps": steps,
        "pixels": int(truth.size),
        "method": "split conformal: the ceil((n+1)c)-th smallest |truth - mean| / std over "
        "the calibration pixels (luma, border removed)",
        "calibration_set": f"{len(bsd) // 2} held-out BSD200 photographs (SR protocol) and "
        f"{len(micro_val)} microscopy-train validation crops (PSF, pixel integration, "
        f"Poisson peak {PEAK:g}), 256 x 256 HR crops",
        "spearman": float(uncertainty_error_correlation(truth, mean, std)),
    }
    model.info = model.info.updated(metrics=metrics)
    napari_sr.save_model(model, model_path, overwrite=True)
    print(f"calibrated on {truth.size:,} pixels: k = {k:.3f} for {coverage:.0%} coverage")
    return k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--coverage", type=float, default=0.9)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--steps-sweep", type=int, nargs="*", default=[])
    parser.add_argument("--time", action="store_true")
    parser.add_argument("--no-table", action="store_true", help="only the sweep and time")
    args = parser.parse_args()

    if args.calibrate:
        calibrate(args.model, args.samples, args.steps, args.coverage)
    model = napari_sr.load_model(args.model)
    k = ((model.info.metrics or {}).get("calibration") or {}).get("interval_scale")
    bsd = held_out_bsd200()
    sets = {
        "photographs": photo_pairs(bsd[len(bsd) // 2 :]),
        "microscopy": microscope_pairs(held_out_images(CROP)),
    }
    print(f"{args.model.name}: {args.samples} samples, steps {args.steps or 'default'}, "
          f"k = {k if k is None else round(k, 3)}")  # fmt: skip
    print("| set | method | PSNR (dB) | NIQE | Spearman | coverage |")
    print("|---|---|---:|---:|---:|---:|")
    for label, pairs in sets.items():
        if not pairs or args.no_table:
            continue
        for method in ("bicubic", "quality"):
            p, n = baseline(method, pairs)
            print(f"| {label} ({len(pairs)}) | {method} | {p:.3f} | {n:.3f} | | |")
        rows = run(model, pairs, args.samples, args.steps, k)
        cover = f"{np.mean(rows['coverage']):.3f}" if rows["coverage"] else "-"
        niqe = f"{np.mean(rows['niqe_sample']):.3f}" if rows["niqe_sample"] else "-"
        print(f"| {label} ({len(pairs)}) | diffusion, mean of {args.samples} | "
              f"{np.mean(rows['psnr_mean']):.3f} | | {np.mean(rows['spearman']):.3f} "
              f"(per input pixel {np.mean(rows['spearman_input']):.3f}) | {cover} |")  # fmt: skip
        print(
            f"| {label} ({len(pairs)}) | diffusion, one sample | "
            f"{np.mean(rows['psnr_sample']):.3f} | {niqe} | | |"
        )
    for steps in args.steps_sweep:
        pairs = sets["photographs"]
        started = time.perf_counter()
        rows = run(model, pairs, args.samples, steps, None)
        seconds = (time.perf_counter() - started) / len(pairs)
        print(f"steps {steps}: photographs PSNR of the mean {np.mean(rows['psnr_mean']):.3f}, "
              f"of a sample {np.mean(rows['psnr_sample']):.3f}, NIQE of a sample "
              f"{np.mean(rows['niqe_sample']):.3f}; Spearman {np.mean(rows['spearman']):.3f}, "
              f"per input pixel {np.mean(rows['spearman_input']):.3f}; {seconds:.1f} s per "
              "image")  # fmt: skip
    if args.time:
        low = np.random.default_rng(0).random((CROP // SCALE, CROP // SCALE), np.float32)
        napari_sr.upscale(low, SCALE, method=model, samples=8, steps=args.steps)  # warm-up
        started = time.perf_counter()
        napari_sr.upscale(low, SCALE, method=model, samples=8, steps=args.steps)
        default = ((model.info.metrics or {}).get("calibration") or {}).get("steps")
        print(f"{time.perf_counter() - started:.2f} s per 256 x 256 output tile, 8 samples, "
              f"steps {args.steps or default or 'all'}")  # fmt: skip


if __name__ == "__main__":
    main()
