"""Multi-image SR against single-frame upscaling, on synthetic bursts of real images.

Every image (the 2D images of the developers' data, if present, and bundled samples; a
320×320 crop of each, grayscale) becomes bursts (``napari_sr.multiframe.simulate``):
random shifts of up to ±1 low-resolution pixel, a Gaussian PSF, scale × scale pixel
integration, Poisson noise; ×2 with 8 frames and ×4 with 16, under three optics and noise
conditions (:data:`CONDITIONS`): PSF σ = 0.5·scale high-resolution pixels at a peak of 200
photons, no optical blur at 200, and σ = 0.5·scale at 50. The bundled ``burst`` sample
itself (8 frames, ×2, no blur beyond its ground truth's) is one more burst. Scored against
the sharp image, in photons:

- bicubic and Lanczos-3 upscaling of the reference frame (frame 0), and the bundled
  single-image quality default where one exists for the scale (trained for the SR
  protocol's bicubic degradation, not for this PSF and noise);
- ``misr`` with each classical fusion (``shift-add``, ``ibp``, ``robust``), told the PSF;
- ``misr(method="learned")``: the bundled fusion network of that scale (it corrects the
  robust fusion), told the PSF if it takes one, or with ``--fusion-model FILE`` that
  trained fusion network instead; guarded by held-out frames (the default), and
  ``unguarded`` (``guard=False``);
- the registration error: the largest distance between measured and true shifts, in
  low-resolution pixels.

PSNR/SSIM by the SR protocol (border = scale), L = the truth's max − min.

    python benchmarks/misr.py [--data DIR] [--fusion-model FILE ...] [--conditions 0,1,2]

Targets (issues 7 and 19): the best classical method ≥ +2.5 dB over bicubic on the
reference frame at both settings; the learned fusion ≥ the robust fusion on every burst;
registration error ≤ 0.1 low-resolution pixel at a peak of 200.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import napari_sr
from napari_sr.models.bundled import default_model, load_bundled
from napari_sr.multiframe.fusion import fusion_methods
from napari_sr.multiframe.learned import training_psf
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
CONDITIONS = (
    ("PSF 0.5s, peak 200", 0.5, 200.0),
    ("no blur, peak 200", 0.0, 200.0),
    ("PSF 0.5s, peak 50", 0.5, 50.0),
)
"""(label, PSF σ in units of the scale, photon peak) of the simulated bursts."""
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


def fusion_network(scale: int) -> str:
    """The bundled network ``method="learned"`` runs at ``scale``."""
    (entry,) = (m for m in fusion_methods() if m.name == "learned")
    return entry.network(scale)


def takes_psf(network) -> bool:
    """Whether a fusion network is told the frames' PSF (trained over a range of them)."""
    return isinstance(training_psf(network), tuple)


def evaluate(burst, truth, scale, psf, learned, shifts=None) -> tuple[float | None, dict]:
    """Registration error (None without true shifts) and ``{method: (PSNR, SSIM,
    seconds)}`` of one burst."""
    options = {"crop_border": scale, "data_range": float(np.ptp(truth))}

    def score(out):
        return napari_sr.psnr(truth, out, **options), napari_sr.ssim(truth, out, **options)

    started = time.perf_counter()
    found = register(burst, reference=0)
    register_s = time.perf_counter() - started
    error = None
    if shifts is not None:
        error = float(np.sqrt(((found.shifts - shifts) ** 2).sum(1)).max())
    results = {}
    singles = ["bicubic", "lanczos3", *(["quality"] if default_model(scale) else [])]
    for single in singles:
        started = time.perf_counter()
        out = napari_sr.upscale(burst[0], scale, method=single)
        results[single] = (*score(out), time.perf_counter() - started)
    for method in METHODS:
        started = time.perf_counter()
        out = napari_sr.misr(burst, scale, method=method, psf=psf, shifts=found.shifts)
        results[method] = (*score(out), time.perf_counter() - started + register_s)
    if scale in learned:
        network = learned[scale]
        told = {"psf": psf} if takes_psf(network) else {}
        started = time.perf_counter()
        out = napari_sr.misr(burst, scale, method=network, **told)
        results["learned"] = (*score(out), time.perf_counter() - started)
        started = time.perf_counter()
        out = napari_sr.misr(burst, scale, method=network, guard=False, **told)
        results["unguarded"] = (*score(out), time.perf_counter() - started)
    return error, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fusion-model", type=Path, action="append", default=[],
        help="a trained fusion model file (its scale picks the setting); repeatable",
    )  # fmt: skip
    parser.add_argument("--conditions", default=",".join(map(str, range(len(CONDITIONS)))),
                        help="which of CONDITIONS to run, by index")  # fmt: skip
    args = parser.parse_args()
    learned: dict[int, object] = {s: load_bundled(fusion_network(s)) for s in learned_scales()}
    for path in args.fusion_model:
        model = napari_sr.load_model(path)
        learned[int(model.scale)] = model
    rows = []
    conditions = [CONDITIONS[int(i)] for i in args.conditions.split(",")]

    def show(name, scale, frames, condition, error, results):
        rows.append((name, scale, frames, condition, error, results))
        line = ", ".join(f"{k} {p:.2f}" for k, (p, _, _) in results.items())
        where = "" if error is None else f"registration error {error:.3f} px; "
        print(f"{name} x{scale} ({frames} frames, {condition}): {where}{line}", flush=True)

    for name, image in images(args.data).items():
        for condition, psf_per_scale, peak in conditions:
            for scale, frames in SETTINGS:
                psf = psf_per_scale * scale
                burst, shifts, truth = make_burst(image, scale, frames, psf=psf, peak=peak,
                                                  seed=args.seed)  # fmt: skip
                error, results = evaluate(burst, truth, scale, psf, learned, shifts)
                show(name, scale, frames, condition, error, results)
    # the bundled burst as it is: no blur beyond its ground truth's, read noise, background
    sample = napari_sr.load_sample("burst")
    truth = napari_sr.load_sample("burst", ground_truth=True).data.astype(np.float32)
    shifts = np.asarray(sample.metadata["provenance"]["shifts_yx_lowres_pixels"])
    error, results = evaluate(sample.data.astype(np.float32), truth, 2, 0.0, learned, shifts)
    show("bundled burst sample", 2, len(sample.data), "as bundled", error, results)

    print()
    quality = any("quality" in r[5] for r in rows)
    columns = ("bicubic", "lanczos3", *(("quality",) if quality else ()), *METHODS,
               *(("learned", "unguarded") if learned else ()))  # fmt: skip
    head = "".join(f"{m:>18}" for m in columns)
    print(f"{'image':<22}{'condition':<20}{'setting':>12}{'reg. err':>9}{head}")
    for name, scale, frames, condition, error, results in rows:
        cells = "".join(f"{results[c][0]:>9.2f}/{results[c][1]:.3f}" if c in results
                        else f"{'-':>15}" for c in columns)  # fmt: skip
        err = "-" if error is None else f"{error:.3f}"
        print(f"{name:<22}{condition:<20}{f'x{scale}, {frames} fr':>12}{err:>9}{cells}")
    print("\n(PSNR dB / SSIM; seconds of the fusions, registration included:)")
    for condition in [c[0] for c in conditions] + ["as bundled"]:
        for scale, frames in SETTINGS:
            chosen = [r for r in rows if r[1] == scale and r[3] == condition]
            if not chosen:
                continue
            gains = [max(r[5][m][0] for m in METHODS) - r[5]["bicubic"][0] for r in chosen]
            seconds = {m: np.mean([r[5][m][2] for r in chosen]) for m in METHODS}
            errors = [r[4] for r in chosen if r[4] is not None]
            print(f"{condition}, x{scale}, {frames} frames: best classical over bicubic "
                  f"{min(gains):+.2f} to {max(gains):+.2f} dB (mean {np.mean(gains):+.2f}); "
                  f"registration error at most {max(errors):.3f} px; mean seconds "
                  + ", ".join(f"{m} {v:.1f}" for m, v in seconds.items()))  # fmt: skip
            if scale in learned:
                margins = [r[5]["learned"][0] - r[5]["robust"][0] for r in chosen]
                print(f"{condition}, x{scale}: learned over robust {min(margins):+.2f} to "
                      f"{max(margins):+.2f} dB (mean {np.mean(margins):+.2f}), not below it on "
                      f"{sum(m >= 0 for m in margins)} of {len(margins)}; mean seconds "
                      f"{np.mean([r[5]['learned'][2] for r in chosen]):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
