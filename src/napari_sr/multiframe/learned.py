"""Learned multi-frame fusion: training on synthetic bursts, and prediction.

The network (:class:`~napari_sr.models.highresnet.HighResNet`) sees the frames of a burst
as the channels of one input and returns the fine image. It is trained with the loop of
:func:`napari_sr.training.loop.fit` on bursts made from high-resolution images by
:func:`~napari_sr.multiframe.simulate.make_burst` (random shifts, PSF, pixel integration,
Poisson noise), with the offset-tolerant ``shift_l1`` loss: the network may place its
output a fraction of a pixel off frame 0's grid, and prediction puts it back by
registering the result against the reference frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..engine.progress import CancelToken, ProgressCallback, raise_if_cancelled, report
from ..normalization import MICROSCOPY
from .simulate import make_burst

BURSTS_PER_IMAGE = 2
PEAKS = (100.0, 400.0)
"""Range of the photon peaks of the training bursts (uniform)."""


def training_bursts(
    images: Sequence[np.ndarray],
    scale: int,
    frames: int,
    *,
    psf: float | None = None,
    bursts_per_image: int = BURSTS_PER_IMAGE,
    seed: int = 0,
):
    """TrainingImage pairs: ``low`` = a burst's frames as channels (1, K, h, w), ``high`` =
    the sharp image (1, 1, h·s, w·s), in photons, normalised by the frames' percentiles.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        2D grayscale high-resolution images.
    scale, frames : int
        SR factor and frames per burst.
    psf : float, optional
        Gaussian σ of the optics in high-resolution pixels (default ``0.5 * scale``).
    bursts_per_image : int
        Bursts drawn from each image (other shifts, noise and peak).
    seed : int
        Seeds shifts, noise and peaks.
    """
    from ..training.data import TrainingImage

    rng = np.random.default_rng(seed)
    psf = 0.5 * scale if psf is None else psf
    out = []
    for index, image in enumerate(images):
        for draw in range(bursts_per_image):
            peak = float(rng.uniform(*PEAKS))
            burst, _, truth = make_burst(image, scale, frames, psf=psf, peak=peak, seed=rng)
            limits = MICROSCOPY.limits(burst)
            out.append(
                TrainingImage(
                    name=f"image {index} burst {draw}",
                    high=truth[None, None],
                    low=burst[None],
                    dtype=np.dtype(np.float32),
                    limits=limits,
                    peak=float(burst.max()),
                    axes="YX",
                    shape=tuple(truth.shape),
                )
            )
    return out


def train_fusion(
    images: Sequence[np.ndarray],
    scale: int,
    frames: int,
    *,
    model: Any = "highresnet",
    steps: int = 4000,
    psf: float | None = None,
    patch_size: int | None = None,
    batch_size: int = 8,
    lr: float = 1e-3,
    hparams: dict[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    log: Callable[[dict], None] | None = None,
    cancel: CancelToken | None = None,
):
    """Train a HighRes-net-style fusion network on synthetic bursts of ``images``
    (``model``: the architecture name, or a fusion model to train further).

    Returns the model (``model.checkpoint["data"]["bursts"]`` records how the bursts were
    made: scale, frames, PSF, photon peaks).
    """
    from ..training.config import TrainConfig
    from ..training.loop import fit

    pairs = training_bursts(images, scale, frames, psf=psf, seed=seed)
    patch = patch_size or 32 * scale
    config = TrainConfig(
        scale=scale, steps=steps, patch_size=patch, batch_size=batch_size, lr=lr,
        loss="shift_l1", warmup_steps=min(200, steps // 10), augment=("hflip", "vflip", "rot90"),
        normalization=MICROSCOPY.to_dict(), seed=seed,
    )  # fmt: skip
    record = {
        "scale": scale,
        "frames": frames,
        "psf_sigma_hr_px": 0.5 * scale if psf is None else psf,
        "photon_peaks": list(PEAKS),
        "images": len(images),
        "bursts_per_image": BURSTS_PER_IMAGE,
    }
    return fit(
        model, pairs, [], config, normalization=MICROSCOPY, in_channels=1,
        hparams=hparams if isinstance(model, str) else None, data_extra={"bursts": record},
        device=device, progress=progress, log=log, cancel=cancel,
    )  # fmt: skip


def fuse_learned(
    model: Any,
    frames: np.ndarray,
    *,
    reference: int = 0,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """The fine image of (N, Y, X) ``frames`` by a fusion network, on frame ``reference``'s
    grid and brightness (float64, the frames' intensities)."""
    import torch

    from ..engine.device import resolve_device
    from ..normalization import denormalize, normalize
    from .registration import _fourier_shift, register

    raise_if_cancelled(cancel)
    run_device = resolve_device(device)
    norm = getattr(model, "normalization", None) or MICROSCOPY
    limits = norm.limits(frames)
    x = torch.from_numpy(np.ascontiguousarray(normalize(frames.astype(np.float32), limits)))
    model = model.to(run_device).eval()
    with torch.inference_mode():
        out = model(x[None].to(run_device))[0, 0].float().cpu().numpy()
    fused = denormalize(out, limits).astype(np.float64)
    # put the result on the reference frame's grid: the network may sit a little off it
    s = int(model.scale)
    h, w = frames.shape[-2:]
    binned = fused[: h * s, : w * s].reshape(h, s, w, s).mean(axis=(1, 3))
    offset = register(np.stack([frames[reference], binned]), reference=0).shifts[1]
    # and on its brightness: the loss forgives a global offset, so the network may keep one
    fused = fused + (float(np.mean(frames)) - float(binned.mean()))
    report(progress, 1, 1)
    return _fourier_shift(fused, -offset * s)
