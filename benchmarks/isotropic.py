"""Isotropic reconstruction against cubic z-interpolation: quality in a foreground mask, time.

1. **A near-isotropic real volume** (the Golgi stack of the developers' data: 25×137×147,
   0.351 µm xy, 0.388 µm z) is made anisotropic at z ×2, ×3 and ×4: blurred along z by a
   Gaussian of FWHM = factor planes, then every factor-th plane kept (planes 0, f, 2f, …,
   which stay where they were). ``napari_sr.isotropic`` and cubic z-interpolation restore
   it on the original z grid (plane k·f of the result is plane k of the input) and are
   scored against the original.
2. **A T1-weighted brain MRI** (1 mm isotropic; by default the MNI152 2009a template that
   ships inside ``nilearn``, or any NIfTI/TIFF volume given with ``--mri``), z the
   superior axis: degraded at z ×4 as above (a Gaussian slice profile of FWHM = 4 slices)
   and restored.
3. **The synthetic sample** (``anisotropic_stack``: z ×4, axial PSF σ 0.45 µm against
   0.12 µm laterally, i.e. an extra axial σ of 2.17 lateral pixels) against its known
   isotropic ground truth.
4. **Time at the target size**: a 64×256×256 uint16 stack at z ×4 (the synthetic ground
   truth, tiled laterally), trained and restored on the CPU.
5. **Real anisotropic stacks without ground truth** (chromosomes 4.4×, nuclei 4.8×, MRI head
   14×): reconstructed, and their xz views written as PNG next to cubic z-interpolation.

PSNR and SSIM (3D, 11×11×11 window) are computed inside a foreground mask: the reference
smoothed (σ = 1 voxel) above its Otsu threshold, dilated by 2 voxels — dark background
is easy to restore and would inflate both. L is the reference's max − min.

    python benchmarks/isotropic.py [--steps N] [--data DIR] [--mri FILE] [--out DIR] [--skip-real]

(``pip install nilearn`` for the default MRI volume; without it and without ``--mri`` the
MRI row is skipped.)

Targets (issues 6 and 19): at z ×4 on held-out real volumes, microscopy and MRI, ≥ +2.5 dB
PSNR over cubic (masked) and a better SSIM, within 5 minutes of CPU time for a 256×256×64
stack.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

import napari_sr
from napari_sr.selfsup.isotropic import (
    FWHM_PER_SIGMA,
    ISOTROPIC_STEPS,
    interpolate_axial,
    isotropic,
)

DATA = Path(os.environ.get("NAPARI_SR_DATA", Path(__file__).parents[2] / "shared" / "data"))
GOLGI = "microscopy-dev/xyz_calibrated_16bit__golgi_bfa.tif"
REAL = {
    "chromosomes": "microscopy-dev/xyz_8bit__chromosomes.tif",
    "nuclei": "microscopy-dev/xyz_8bit__nuclei_autothresh.tif",
    "MRI head": "microscopy-dev/xyz_8bit_calibrated_anisotropic__mri_head.tif",
}


MNI_TEMPLATE = "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"


def mri_volume(path: Path | None) -> tuple[str, np.ndarray] | None:
    """A name and a (Z, Y, X) isotropic T1 volume, z the superior axis: ``path`` (NIfTI,
    reoriented to RAS, or a file napari_sr reads, taken as ZYX), else nilearn's MNI152
    template; None when neither is at hand."""
    if path is None:
        try:
            from importlib.resources import files

            path = Path(str(files("nilearn") / MNI_TEMPLATE))
        except ModuleNotFoundError:
            return None
        name = "MRI T1 (MNI152 template)"
    else:
        name = f"MRI {path.name}"
    if not path.name.endswith((".nii", ".nii.gz")):
        return name, np.asarray(napari_sr.io.read(path).data)
    import nibabel

    image = nibabel.as_closest_canonical(nibabel.load(path))  # axes R, A, S
    return name, np.ascontiguousarray(np.asarray(image.dataobj).transpose(2, 1, 0))


def foreground(reference: np.ndarray) -> np.ndarray:
    """Smoothed reference above its Otsu threshold, dilated by 2 voxels."""
    from skimage.filters import threshold_otsu

    smooth = ndimage.gaussian_filter(reference.astype(np.float32), 1.0)
    mask = smooth > threshold_otsu(smooth)
    return ndimage.binary_dilation(mask, iterations=2)


def scores(reference: np.ndarray, test: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    span = float(reference.max()) - float(reference.min())
    options = {"data_range": span, "axes": "ZYX", "mask": mask}
    return napari_sr.psnr(reference, test, **options), napari_sr.ssim(reference, test, **options)


def make_anisotropic(volume: np.ndarray, factor: int) -> np.ndarray:
    """Blur z by a Gaussian of FWHM = factor planes, keep every factor-th plane."""
    blurred = ndimage.gaussian_filter1d(
        volume.astype(np.float32), factor / FWHM_PER_SIGMA, axis=0, mode="reflect"
    )
    return np.round(blurred[::factor]).astype(volume.dtype)


def compare(name: str, truth: np.ndarray, low: np.ndarray, factor: float, rows: list, **kw):
    started = time.perf_counter()
    cubic = interpolate_axial(low, factor, axes="ZYX")
    cubic_s = time.perf_counter() - started
    started = time.perf_counter()
    restored = isotropic(low, factor, axes="ZYX", device="cpu", **kw)
    iso_s = time.perf_counter() - started
    n = restored.shape[0]
    reference = truth[:n]
    mask = foreground(reference)
    for method, out, seconds in (("cubic z", cubic, cubic_s), ("isotropic", restored, iso_s)):
        p, s = scores(reference, out, mask)
        rows.append((name, f"x{factor:g}", method, p, s, seconds))
        print(f"  {name} x{factor:g} {method}: PSNR {p:.2f} dB, SSIM {s:.4f}, {seconds:.1f} s",
              flush=True)  # fmt: skip
    return restored


def xz_view(path: Path, cubic: np.ndarray, restored: np.ndarray, zscale: float) -> None:
    """The middle xz plane of both, side by side, contrast from the cubic one's 1-99.8 %."""
    from imageio.v3 import imwrite

    y = cubic.shape[1] // 2
    a, b = cubic[:, y, :].astype(np.float32), restored[:, y, :].astype(np.float32)
    lo, hi = np.percentile(a, (1, 99.8))
    pair = [np.clip((p - lo) / max(hi - lo, 1e-6), 0, 1) for p in (a, b)]
    gap = np.ones((a.shape[0], 4), np.float32)
    image = np.concatenate([pair[0], gap, pair[1]], axis=1)
    if zscale != 1:  # show z at its physical scale
        image = ndimage.zoom(image, (zscale, 1), order=1)
    image = np.kron(image, np.ones((2, 2), np.float32))  # twice as large, to be read
    imwrite(path, (image * 255).round().astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="default: the method's")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mri", type=Path, default=None, help="an isotropic T1 volume")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple] = []
    kw = {} if args.steps is None else {"steps": args.steps}
    steps = args.steps or ISOTROPIC_STEPS

    golgi = args.data / GOLGI
    if golgi.is_file():
        print("Golgi (real, near-isotropic; anisotropy simulated):", flush=True)
        truth = napari_sr.io.read(golgi).data
        for factor in (2, 3, 4):
            compare("golgi", truth, make_anisotropic(truth, factor), factor, rows, **kw)
    else:
        print(f"(no {golgi}: the real-volume rows are skipped)")

    mri = mri_volume(args.mri)
    if mri is not None:
        name, volume = mri
        print(f"{name} {volume.shape} (anisotropy simulated):", flush=True)
        compare("MRI T1", volume, make_anisotropic(volume, 4), 4, rows, **kw)
    else:
        print("(no MRI volume: pip install nilearn, or give --mri FILE; the MRI row is skipped)")

    print("Synthetic sample (known ground truth):", flush=True)
    stack = napari_sr.load_sample("anisotropic_stack")
    truth = napari_sr.load_sample("anisotropic_stack", ground_truth=True).data
    compare("synthetic", truth, stack.data, 4, rows, psf=2.17, **kw)

    print()
    print(f"{'volume':<10} {'z':>4}  {'method':<10} {'PSNR (dB)':>9}  {'SSIM':>6}  {'seconds':>8}")
    for name, z, method, p, s, seconds in rows:
        print(f"{name:<10} {z:>4}  {method:<10} {p:>9.2f}  {s:>6.4f}  {seconds:>8.1f}")
    for name in ("golgi", "MRI T1", "synthetic"):
        pairs = [r for r in rows if r[0] == name and r[1] == "x4"]
        if len(pairs) == 2:
            gain, ssim_gain = pairs[1][3] - pairs[0][3], pairs[1][4] - pairs[0][4]
            print(f"{name} x4: {gain:+.2f} dB, SSIM {ssim_gain:+.4f} over cubic z")

    if not args.skip_timing:
        low = np.tile(truth, (1, 2, 2))[::2]  # 64 x 256 x 256: only the time is measured
        started = time.perf_counter()
        isotropic(low, 4, axes="ZYX", device="cpu", **kw)
        seconds = time.perf_counter() - started
        print(f"\n64x256x256 uint16 at z x4 ({steps} steps): {seconds:.0f} s on the CPU "
              "(target: 300 s)")  # fmt: skip

    if args.skip_real:
        return
    print("\nReal anisotropic stacks (xz views written to the --out folder):")
    for name, relative in REAL.items():
        path = args.data / relative
        if not path.is_file():
            print(f"  (no {path})")
            continue
        image = napari_sr.io.read(path)
        started = time.perf_counter()
        restored = isotropic(image, device="cpu", **kw)
        seconds = time.perf_counter() - started
        cubic = interpolate_axial(image)
        factor = restored.metadata["provenance"]["factor"]
        file = args.out / f"xz_{name.replace(' ', '_')}.png"
        xz_view(file, cubic.data, restored.data, 1.0)
        print(f"  {name}: {image.shape} -> {restored.shape} (z x{factor:.2f}) in {seconds:.0f} s;"
              f" {file} (left cubic z, right isotropic)")  # fmt: skip


if __name__ == "__main__":
    main()
