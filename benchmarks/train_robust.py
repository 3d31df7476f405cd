"""Train a noise- and optics-robust single-image default: a bundled bicubic-protocol network
fine-tuned on microscope degradations drawn afresh for every patch (issue 19).

Training images: the 291-image set minus its held-out BSD200 images (as luma) and the real
microscopy of ``$NAPARI_SR_DATA/microscopy-train`` (every file, RGB as luma) minus the
groups held out for validation (:data:`VALIDATION_GROUPS`). Never ``microscopy-dev``: that
folder is the held-out evaluation of ``benchmarks/real_inputs.py``.

Every patch draws its own degradation (:class:`napari_sr.degradation.DegradationRange`,
:func:`ranges`): a Gaussian PSF of σ from 0 to 0.75·s high-resolution pixels, independent
in y and x, pixel integration (the block mean), then, in 95 % of the patches, Poisson noise
at a photon peak drawn log-uniformly from 10 to 1,500 photo-electrons, Gaussian read noise
of σ 0-4 electrons and a camera offset of 0-20 ADU; a quarter of the patches are made by
the SR benchmark protocol instead (:data:`PROTOCOL`). Images are given as float32, so every
patch is normalised the way inference normalises a float or 16-bit image (percentiles 0.1
and 99.99 of the whole, noisy image, mapped to the network's luma range).

    python benchmarks/train_robust.py edsr_light --scale 2 --steps 3000 \\
        --out edsr_light_x2.microscope.safetensors [--resume]

The network starts from the bundled ``<architecture>_x<scale>.sr291`` weights (``--start``
gives another model file). A resumable state is saved every ``--checkpoint-every`` steps.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import tifffile
from train_defaults import DATA, grow_fsrcnn, luma_uint8, split

import napari_sr
from napari_sr.color import luma
from napari_sr.degradation import DegradationRange
from napari_sr.models.bundled import bundled_path
from napari_sr.normalization import IMAGE_RANGE, NATURAL_8BIT
from napari_sr.training.config import TrainConfig
from napari_sr.training.data import collect, prepare
from napari_sr.training.log import format_record
from napari_sr.training.loop import fit
from napari_sr.training.state import state_path

MICROSCOPY = "microscopy-train"
VALIDATION_GROUPS = ("cpex_fly_pos218_", "cpex_speckles_", "cpex_worms_C20_")
"""File-name prefixes of the microscopy-train groups held out for validation (whole groups,
so that no field of view is on both sides)."""
VALIDATION_CROP = 256
"""Validation images are centre crops of at most this many pixels a side."""


PROTOCOL = 0.25
"""Share of patches made by the SR benchmark protocol (bicubic, no blur or noise): the noisy
weights run on every input whose noise reads above the threshold, and finely textured
photographs can read so; with these patches the network still restores them."""


NOISY_PEAK = (10.0, 4000.0)
"""Photon peaks of ``--noisy-only`` weights: up to where an image's noise falls below the
routing threshold (about 1 % of the range), so every input routed to them is in range."""


def ranges(scale: int, noisy_only: bool = False, protocol: float = PROTOCOL) -> DegradationRange:
    """The degradations a patch draws from at ``scale``: microscope degradations, and a
    share ``protocol`` of patches made by the SR benchmark protocol; ``noisy_only``: every
    microscope patch noisy (weights that run only on inputs whose noise reads above the
    threshold, :data:`napari_sr.models.bundled.NOISY_ONLY`)."""
    return DegradationRange(
        blur=(0.0, 0.75 * scale),
        anisotropic=True,
        kernel="area",
        peak=NOISY_PEAK if noisy_only else (10.0, 1500.0),
        clean=0.0 if noisy_only else 0.05,
        read_noise=(0.0, 4.0),
        offset=(0.0, 20.0),
        protocol=protocol,
    )


def grey_float(path: Path) -> np.ndarray:
    """A microscopy file as one float32 plane (RGB as its luma)."""
    image = np.asarray(tifffile.imread(path), dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = luma(image[..., :3], float(image.max()) or 1.0).astype(np.float32)
    if image.ndim != 2:
        raise ValueError(f"{path.name}: expected a 2D image, got shape {image.shape}")
    return image


def centre(image: np.ndarray, size: int = VALIDATION_CROP) -> np.ndarray:
    y0, x0 = (max(0, (n - size) // 2) for n in image.shape)
    return image[y0 : y0 + size, x0 : x0 + size]


def microscopy_split(data: Path = DATA) -> tuple[list[Path], list[Path]]:
    """(training files, validation files) of microscopy-train."""
    files = sorted((data / MICROSCOPY).glob("*.tif"))
    held = [p for p in files if p.name.startswith(VALIDATION_GROUPS)]
    return [p for p in files if p not in held], held


def prepared_data(scale: int, config: TrainConfig) -> tuple[list, list, dict]:
    """The training and validation pairs of both recipes (the 291 set's luma and the
    microscopy, degraded as ``config`` says) and the data record the model file keeps."""
    photo_files, _ = split()
    micro_files, micro_val = microscopy_split()
    train = [luma_uint8(p).astype(np.float32) for p in photo_files]
    train += [grey_float(p) for p in micro_files]
    val = [centre(grey_float(p)) for p in micro_val]
    print(
        f"{len(photo_files)} photographs + {len(micro_files)} microscopy images; "
        f"{len(val)} validation images ({', '.join(p.name for p in micro_val)})",
        flush=True,
    )
    common = {
        "scale": scale,
        "in_channels": 1,
        "degradation": config.degradation,
        "normalization": NATURAL_8BIT,
        "other_dtypes": IMAGE_RANGE,
        "luma": True,
        "seed": config.seed,
    }
    train_images = prepare(collect(train, "images"), validation=False, **common)
    val_images = prepare(collect(val, "validation"), validation=True, **common)
    extra = {
        "color": "luma",
        "other_dtypes": IMAGE_RANGE.to_dict(),
        "training_set": (
            "sr291 (T91 + BSD200) minus the held-out BSD200 images, as luma; "
            f"{MICROSCOPY} minus the groups {', '.join(VALIDATION_GROUPS)}"
        ),
        "held_out": [p.name for p in micro_val],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU threads",
    }
    return train_images, val_images, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("architecture", choices=("edsr_light", "fsrcnn"))
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=Path, help="model file to start from")
    parser.add_argument("--patch-size", type=int)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--validate-every", type=int, default=500)
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--grow", metavar="S,M",
        help="FSRCNN only: first grow the start weights to FSRCNN(d, S, M), same function",
    )  # fmt: skip
    parser.add_argument(
        "--noisy-only", action="store_true",
        help="every microscope patch noisy: weights for noisy inputs only (bundled.NOISY_ONLY)",
    )  # fmt: skip
    parser.add_argument(
        "--protocol", type=float, default=PROTOCOL,
        help=f"share of patches made by the bicubic protocol (default {PROTOCOL})",
    )  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()

    start = args.start or bundled_path(f"{args.architecture}_x{args.scale}.sr291")
    model = napari_sr.load_model(start)
    if args.grow:
        if args.architecture != "fsrcnn":
            parser.error("--grow is for fsrcnn")
        s, m = (int(v) for v in args.grow.split(","))
        small, d = model, model.body[0].out_channels
        model = napari_sr.create_model("fsrcnn", scale=args.scale, in_channels=1, d=d, s=s, m=m)
        grow_fsrcnn(model, small)  # the same function, more capacity
    spec = ranges(args.scale, args.noisy_only, args.protocol)
    config = TrainConfig(
        architecture=args.architecture,
        normalization=NATURAL_8BIT.to_dict(),
        scale=args.scale,
        steps=args.steps,
        patch_size=args.patch_size or 24 * args.scale,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=min(200, args.steps // 20),
        degradation={"random": spec.to_dict()},
        validate_every=args.validate_every,
        checkpoint_every=args.checkpoint_every,
        seed=0,
    )
    train_images, val_images, extra = prepared_data(args.scale, config)
    extra["started_from"] = start.name
    trained = fit(
        model, train_images, val_images, config, normalization=NATURAL_8BIT, in_channels=1,
        data_extra=extra, paths=(args.out, state_path(args.out)), resume=args.resume,
        device=args.device, log_every=100, log=lambda r: print(format_record(r), flush=True),
        validate_start=not args.resume,
    )  # fmt: skip
    napari_sr.save_model(trained, args.out, overwrite=True)
    minutes = (time.perf_counter() - started) / 60
    print(f"wrote {args.out} after {minutes:.1f} min (this run, data preparation included)")


if __name__ == "__main__":
    main()
