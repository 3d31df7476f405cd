"""Train the learned multi-frame fusion on synthetic bursts of the 291-image SR set.

The 291 images (T91 + BSD200, the developers' data) in grayscale (BT.601 luma) become
bursts (:func:`napari_sr.multiframe.learned.training_bursts`: random shifts, PSF σ =
0.5·scale, pixel integration, Poisson noise at 100-400 photons); the HighRes-net-style
network learns them with the offset-tolerant ``shift_l1`` loss. Writes a model file.

    python benchmarks/train_misr.py --scale 2 --frames 8 --steps 4000 \
        --out highresnet_x2.safetensors
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from imageio.v3 import imread

import napari_sr
from napari_sr.multiframe.learned import train_fusion
from napari_sr.training.log import format_record

DATA = Path(os.environ.get("NAPARI_SR_DATA", Path(__file__).parents[2] / "shared" / "data"))


def luma(path: Path) -> np.ndarray:
    image = imread(path).astype(np.float32)
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return image


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
    args = parser.parse_args()
    files = sorted((DATA / "sr291").glob("*/*"))
    images = [luma(f) for f in files if f.suffix.lower() in (".bmp", ".png", ".jpg")]
    print(f"{len(images)} images", flush=True)
    start = napari_sr.load_model(args.start) if args.start else "highresnet"
    model = train_fusion(
        images, args.scale, args.frames, model=start, steps=args.steps, lr=args.lr,
        batch_size=args.batch_size, device=args.device, seed=1 if args.start else 0,
        log=lambda r: print(format_record(r), flush=True),
    )  # fmt: skip
    napari_sr.save_model(model, args.out, overwrite=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
