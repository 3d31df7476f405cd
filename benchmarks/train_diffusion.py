"""Train the bundled diffusion SR model (``diffusion_unet_x4.microscope``; issue 23).

The network (:class:`napari_sr.models.diffusion_unet.DiffusionUNet`) is ResShift's denoiser
over a prior: an EDSR-light whose estimate is the condition ``y0`` and the start of
sampling, started from the bundled ``edsr_light_x<s>.microscope`` weights and trained with
the U-Net. Data and degradations are those of ``benchmarks/train_robust.py``: the 291-image
set minus its held-out BSD200 images (luma) and ``$NAPARI_SR_DATA/microscopy-train`` minus
its validation groups; every patch draws a microscope degradation (blur, pixel integration,
Poisson and read noise), half of them the SR benchmark protocol instead. Validation (one
sample, seed 0) on the held-out microscopy crops.

    python benchmarks/train_diffusion.py --scale 4 --steps 3000 \\
        --out diffusion_unet_x4.microscope.safetensors [--resume]

A resumable state is saved every ``--checkpoint-every`` steps; the calibration of the
uncertainty is a separate step (``benchmarks/diffusion.py --calibrate``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from train_robust import prepared_data, ranges

import napari_sr
from napari_sr.models.bundled import load_bundled
from napari_sr.normalization import NATURAL_8BIT
from napari_sr.training.config import TrainConfig
from napari_sr.training.log import format_record
from napari_sr.training.loop import fit
from napari_sr.training.state import state_path

LAYOUT = {"features": 32, "multipliers": (1, 2, 2), "blocks": 1, "levels": 15, "kappa": 1.0,
          "prior": "edsr_light"}  # fmt: skip
"""The bundled denoiser: 3 resolutions of 32/64/64 features, one block each, attention at
the lowest; 15 levels with κ = 1 (ResShift's κ = 2 for images in [-1, 1], here in [0, 1])."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--protocol", type=float, default=0.5)
    parser.add_argument("--validate-every", type=int, default=500)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    started = time.perf_counter()

    model = napari_sr.create_model("diffusion_unet", scale=args.scale, in_channels=1, **LAYOUT)
    prior = f"edsr_light_x{args.scale}.microscope"
    model.prior.load_state_dict(load_bundled(prior).state_dict())
    spec = ranges(args.scale, protocol=args.protocol)
    config = TrainConfig(
        architecture="diffusion_unet",
        normalization=NATURAL_8BIT.to_dict(),
        scale=args.scale,
        steps=args.steps,
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        lr=args.lr,
        loss="mse",
        warmup_steps=min(200, args.steps // 20),
        degradation={"random": spec.to_dict()},
        validate_every=args.validate_every,
        checkpoint_every=args.checkpoint_every,
        seed=0,
    )
    train_images, val_images, extra = prepared_data(args.scale, config)
    extra["started_from"] = f"prior: {prior}; U-Net: random (seed 0)"
    trained = fit(
        model, train_images, val_images, config, normalization=NATURAL_8BIT, in_channels=1,
        data_extra=extra, paths=(args.out, state_path(args.out)), resume=args.resume,
        device=args.device, log_every=50, log=lambda r: print(format_record(r), flush=True),
    )  # fmt: skip
    napari_sr.save_model(trained, args.out, overwrite=True)
    minutes = (time.perf_counter() - started) / 60
    print(f"wrote {args.out} after {minutes:.1f} min (this run, data preparation included)")


if __name__ == "__main__":
    main()
