"""Make ``docs/isotropic_xz.png``, the README's xz view of isotropic reconstruction.

The bundled synthetic stack (``anisotropic_stack``: z sampled 4× coarser than xy, axial PSF
σ 0.45 µm against 0.12 µm laterally) is restored by ``napari_sr.isotropic`` (defaults,
1000 steps, ``psf=2.17`` lateral pixels: the PSF's extra axial σ) and by cubic
z-interpolation; one xz plane of each is drawn next to the same plane of the isotropic
ground truth, z down, at the physical scale (every panel 0.2 µm per pixel).

    python docs/isotropic_xz.py        # about 2 minutes on 2 CPU cores
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imageio.v3 import imwrite

import napari_sr
from napari_sr.selfsup.isotropic import interpolate_axial

OUT = Path(__file__).with_name("isotropic_xz.png")
ROW = 64  # the y of the xz plane


def main() -> None:
    stack = napari_sr.load_sample("anisotropic_stack")
    truth = napari_sr.load_sample("anisotropic_stack", ground_truth=True).data
    restored = napari_sr.isotropic(stack, psf=2.17, steps=1000, device="cpu").data
    cubic = interpolate_axial(stack).data
    nearest = np.repeat(stack.data, 4, axis=0)[: restored.shape[0]]  # as sampled
    panels = [a[:, ROW, :].astype(np.float32) for a in (nearest, cubic, restored)]
    panels.append(truth[: restored.shape[0], ROW, :].astype(np.float32))
    top = np.percentile(panels[-1], 99.8)
    gap = np.ones((panels[0].shape[0], 3), np.float32)
    row = [np.clip(p / top, 0, 1) for p in panels]
    image = np.concatenate([row[0], gap, row[1], gap, row[2], gap, row[3]], axis=1)
    image = np.kron(image, np.ones((2, 2), np.float32))  # twice as large, to be read
    imwrite(OUT, (image * 255).round().astype(np.uint8))
    print(f"wrote {OUT}: as sampled (z x4), cubic z, isotropic, ground truth")


if __name__ == "__main__":
    main()
