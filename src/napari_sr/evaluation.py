"""Benchmark-style comparison of SR methods on a high-resolution image.

The standard protocol of SR papers: crop the high-resolution (HR) image to a multiple of the
scale, make the low-resolution input by MATLAB-bicubic downscaling (rounded to the image's
dtype), restore it with each method, and score against HR with PSNR and SSIM after removing
``scale`` pixels from every border, on the luma (Y) of RGB images. Stacks are scored plane
by plane (2D SSIM), as 2D methods see them.
"""

from __future__ import annotations

import csv
import io as stdio
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._atomic import atomic_write
from .axes import is_rgb, resolve_axes
from .degrade import degrade
from .engine.methods import resolve_method
from .engine.progress import CancelToken, raise_if_cancelled
from .engine.upscaler import upscale
from .geometry import check_scale
from .metrics import psnr, ssim

COLUMNS = ("method", "psnr_db", "ssim", "seconds")


@dataclass
class Comparison:
    """Scores of several methods on one image.

    Attributes
    ----------
    rows : list of dict
        One per method: ``method``, ``psnr_db``, ``ssim``, ``seconds``.
    scale : float
    crop_border : int
    y_channel : bool
        Whether RGB was scored on luma.
    low_resolution : numpy.ndarray
        The degraded input all methods restored.
    outputs : dict of str to numpy.ndarray
        Each method's result (HR-sized).
    reference : numpy.ndarray
        The high-resolution reference as scored (cropped to a multiple of the scale).
    """

    rows: list[dict]
    scale: float
    crop_border: int
    y_channel: bool
    low_resolution: np.ndarray
    outputs: dict[str, np.ndarray] = field(repr=False)
    reference: np.ndarray | None = field(default=None, repr=False)

    def difference(self, method: str) -> np.ndarray:
        """``|output - reference|`` of ``method``, float32, the reference's shape."""
        return np.abs(self.outputs[method].astype(np.float32) - self.reference.astype(np.float32))

    def table(self) -> str:
        """The scores as a fixed-width text table, best PSNR marked with ``*``."""
        best = max((r["psnr_db"] for r in self.rows), default=None)
        width = max([len("method"), *(len(r["method"]) for r in self.rows)])
        lines = [f"{'method':<{width}}  {'PSNR (dB)':>9}  {'SSIM':>6}  {'seconds':>8}"]
        for r in self.rows:
            mark = "*" if r["psnr_db"] == best else " "
            lines.append(
                f"{r['method']:<{width}}  {r['psnr_db']:>9.3f}{mark} {r['ssim']:>6.4f}  "
                f"{r['seconds']:>8.3f}"
            )
        return "\n".join(lines)

    def csv_text(self) -> str:
        buffer = stdio.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: r[k] for k in COLUMNS})
        return buffer.getvalue()

    def write_csv(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Save the scores as CSV (atomically; an existing file only with ``overwrite``)."""
        text = self.csv_text()

        def _write(tmp: str) -> None:
            with open(tmp, "w", newline="") as fh:
                fh.write(text)

        atomic_write(path, _write, overwrite=overwrite)


def compare_methods(
    high_res: np.ndarray,
    scale: float,
    methods: Sequence[str],
    *,
    axes: str | None = None,
    data_range: float | None = None,
    y_channel: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
) -> Comparison:
    """Degrade ``high_res`` by the standard protocol, restore it with each method, score.

    Parameters
    ----------
    high_res : numpy.ndarray
        The reference image (any supported dtype; floats need ``data_range``).
    scale : float
        SR factor, > 1.
    methods : sequence
        Methods for :func:`~napari_sr.upscale`: interpolation names, model file paths or
        model objects (labelled by their registry name).
    axes : str, optional
        Axes of ``high_res``.
    data_range : float, optional
        For float images: the range of possible values.
    y_channel : bool
        Score RGB on luma (the SR protocol); grayscale is unaffected.
    progress : callable, optional
        ``progress(done, total)`` after each method.
    cancel : threading.Event or callable, optional
        Checked before each method and inside each run;
        :class:`~napari_sr.engine.progress.Cancelled` is raised once it is set.

    Returns
    -------
    Comparison
    """
    scale = check_scale(scale)
    if scale <= 1:
        raise ValueError(f"compare needs a scale above 1 (the SR factor), not {scale}")
    if not methods:
        raise ValueError("give at least one method to compare")
    # unknown names fail before any work, and a model file is read once, not per call
    resolved = [resolve_method(method) for method in methods]
    runs = [getattr(r, "model", m) for m, r in zip(methods, resolved, strict=True)]
    labels = [m if isinstance(m, str) else r.name for m, r in zip(methods, resolved, strict=True)]
    hr = np.asarray(high_res)
    axes = resolve_axes(axes, hr.shape)
    # crop Y and X to a multiple of the scale (for integer scales: exact LR/HR pairing)
    step = round(scale) if float(scale).is_integer() else 1
    index = tuple(
        slice(0, n - n % step) if a in "YX" else slice(None)
        for a, n in zip(axes, hr.shape, strict=True)
    )
    hr = hr[index]
    low = degrade(hr, scale, axes=axes)
    crop = math.ceil(scale)
    rows, outputs = [], {}
    warm = low[tuple(slice(0, min(n, 16)) for n in low.shape)]
    for done, (method, label) in enumerate(zip(runs, labels, strict=True), start=1):
        raise_if_cancelled(cancel)
        upscale(warm, scale, method=method, axes=axes)  # compile/load first, so time is fair
        started = time.perf_counter()
        restored = upscale(low, scale, method=method, axes=axes, cancel=cancel)
        seconds = time.perf_counter() - started
        restored = restored[tuple(slice(0, n) for n in hr.shape)]  # ceil() may overshoot
        if restored.shape != hr.shape:
            raise ValueError(
                f"{label} made shape {restored.shape} from {low.shape}, not {hr.shape}; "
                "use an integer scale or an image whose size is a multiple of it"
            )
        ref_planes, metric_axes = _as_planes(hr, axes)  # 2D methods: score plane by plane
        out_planes, _ = _as_planes(restored, axes)
        kwargs = {
            "data_range": data_range,
            "crop_border": crop,
            "y_channel": y_channel,
            "axes": metric_axes,
        }
        rows.append(
            {
                "method": label,
                "psnr_db": psnr(ref_planes, out_planes, **kwargs),
                "ssim": ssim(ref_planes, out_planes, **kwargs),
                "seconds": seconds,
            }
        )
        outputs[label] = restored
        if progress is not None:
            progress(done, len(methods))
    return Comparison(rows, scale, crop, y_channel, low, outputs, reference=hr)


def _as_planes(array: np.ndarray, axes: str) -> tuple[np.ndarray, str]:
    """Stack of 2D images for plane-by-plane scoring: every axis but Y, X (and RGB
    channels) folded into one leading axis ``T``."""
    keep = "YXC" if is_rgb(axes, array.shape) else "YX"
    loop = [i for i, a in enumerate(axes) if a not in keep]
    moved = np.transpose(array, loop + [axes.index(a) for a in keep])
    return moved.reshape(-1, *moved.shape[len(loop) :]), "T" + keep
