"""Train the learned multi-frame fusion on synthetic bursts of the 291-image SR set.

The 291 images (T91 + BSD200, the developers' data) in grayscale (BT.601 luma) become
bursts (:func:`napari_sr.multiframe.learned.training_bursts`: random shifts, PSF σ =
0.5·scale, pixel integration, Poisson noise at 100-400 photons, each with its robust
classical fusion as the prior; half of them with fluorescence-like contrast,
``--sparse-fraction``); the HighRes-net-style network learns to correct that prior with
L1. Making the bursts (registration and robust fusion of each) is shared among
``--workers`` processes. Writes a model file. The bundled weights (2 CPU cores; ×2 in
two stages, the first before contrast randomisation existed):

    python benchmarks/train_misr.py --scale 2 --frames 8 --steps 3000 --sparse-fraction 0 \
        --out x2_stage1.safetensors
    python benchmarks/train_misr.py --scale 2 --frames 8 --steps 2000 --lr 5e-4 \
        --start x2_stage1.safetensors \
        --out src/napari_sr/models/weights/highresnet_x2.bursts291.safetensors
    python benchmarks/train_misr.py --scale 4 --frames 16 --steps 2000 --bursts-per-image 1 \
        --out src/napari_sr/models/weights/highresnet_x4.bursts291.safetensors
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from imageio.v3 import imread

import napari_sr
from napari_sr.multiframe.learned import (
    PEAKS,
    SPARSE_FRACTION,
    parse_psf,
    train_fusion,
    training_bursts,
)
from napari_sr.training.log import format_record

DATA = Path(os.environ.get("NAPARI_SR_DATA", Path(__file__).parents[2] / "shared" / "data"))


def luma(path: Path) -> np.ndarray:
    image = imread(path).astype(np.float32)
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return image


MICROSCOPY_CROP = 384
"""Microscopy images are cut into crops of at most this side (a burst's robust fusion costs
time in proportion to its pixels)."""


def microscopy_crops(files: list[Path], rng: np.random.Generator) -> list[np.ndarray]:
    """One random crop of each microscopy image (luma of RGB), at most MICROSCOPY_CROP."""
    from train_robust import grey_float

    out = []
    for path in files:
        image = grey_float(path)
        h, w = (min(n, MICROSCOPY_CROP) for n in image.shape)
        y, x = int(rng.integers(image.shape[0] - h + 1)), int(rng.integers(image.shape[1] - w + 1))
        out.append(image[y : y + h, x : x + w])
    return out


def _bursts(job):
    images, scale, frames, per_image, sparse, psf, peaks, seed = job
    return training_bursts(images, scale, frames, bursts_per_image=per_image, prior=True,
                           sparse_fraction=sparse, psf=psf, peaks=peaks,
                           seed=seed)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=Path, default=None, help="a fusion model to go on from")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--bursts-per-image", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sparse-fraction", type=float, default=SPARSE_FRACTION,
        help="fraction of bursts with fluorescence-like contrast (image ** gamma)",
    )  # fmt: skip
    parser.add_argument(
        "--psf", type=parse_psf, default=None,
        help="the optics' sigma in HR pixels, or a range LO,HI each burst draws from "
        "(default 0.5 x scale)",
    )  # fmt: skip
    parser.add_argument("--peaks", type=parse_psf, default=PEAKS,
                        help="range of photon peaks LO,HI (log-uniform)")  # fmt: skip
    parser.add_argument(
        "--microscopy", action="store_true",
        help="add a crop of every microscopy-train image (minus the validation groups of "
        "train_robust.py) to the 291 images",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="default 0, or 1 with --start")
    args = parser.parse_args()
    files = sorted((DATA / "sr291").glob("*/*"))
    images = [luma(f) for f in files if f.suffix.lower() in (".bmp", ".png", ".jpg")]
    seed = args.seed if args.seed is not None else (1 if args.start else 0)
    if args.microscopy:
        from train_robust import microscopy_split

        images += microscopy_crops(microscopy_split(DATA)[0], np.random.default_rng(seed))
    print(f"{len(images)} images", flush=True)
    started = time.perf_counter()
    jobs = [(images[w :: args.workers], args.scale, args.frames, args.bursts_per_image,
             args.sparse_fraction, args.psf, tuple(args.peaks), seed * 1000 + w)
            for w in range(args.workers)]  # fmt: skip
    with ProcessPoolExecutor(args.workers) as pool:
        bursts = [pair for part in pool.map(_bursts, jobs) for pair in part]
    print(f"{len(bursts)} bursts in {time.perf_counter() - started:.0f} s", flush=True)
    start = napari_sr.load_model(args.start) if args.start else "highresnet"
    model = train_fusion(
        images, args.scale, args.frames, model=start, steps=args.steps, lr=args.lr,
        batch_size=args.batch_size, device=args.device, seed=seed, bursts=bursts,
        hparams={"features": args.features}, sparse_fraction=args.sparse_fraction,
        **({} if args.psf is None else {"psf": args.psf}), peaks=tuple(args.peaks),
        log=lambda r: print(format_record(r), flush=True),
    )  # fmt: skip
    napari_sr.save_model(model, args.out, overwrite=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
