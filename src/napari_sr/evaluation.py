"""Benchmark-style comparison of SR methods on a high-resolution image.

The standard protocol of SR papers: crop the high-resolution (HR) image to a multiple of the
scale, make the low-resolution input by MATLAB-bicubic downscaling (rounded to the image's
dtype), restore it with each method, and score against HR with the metrics of
:data:`napari_sr.metrics.METRICS` (PSNR and SSIM) after removing ``scale`` pixels from every
border, on the luma (Y) of RGB images. Stacks are scored plane by plane (2D SSIM), as 2D
methods see them.
"""

from __future__ import annotations

import csv
import io as stdio
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import metrics
from .axes import is_rgb, resolve_axes
from .degradation import degrade
from .engine.method_table import choose_default, requested_role
from .engine.methods import resolve_method
from .engine.upscaler import upscale
from .geometry import check_scale
from .utils.atomic import atomic_write
from .utils.planes import fold_planes
from .utils.progress import CancelToken, raise_if_cancelled
from .utils.validate import check_callback, check_flag, check_real, real_array


@dataclass
class Comparison:
    """Scores of several methods on one image.

    Attributes
    ----------
    rows : list of dict
        One per method: ``method``, the score of each metric of
        :data:`~napari_sr.metrics.METRICS` under its ``key`` (``psnr_db``, ``ssim``), and
        ``seconds``; the scores are None when there was no reference.
    scale : float
    crop_border : int
    y_channel : bool
        Whether RGB was scored on luma.
    low_resolution : numpy.ndarray
        The degraded input all methods restored.
    outputs : dict of str to numpy.ndarray
        Each method's result (HR-sized).
    reference : numpy.ndarray or None
        The high-resolution reference as scored (cropped to a multiple of the scale, or to
        the outputs' extent); None when the comparison had none.
    """

    rows: list[dict]
    scale: float
    crop_border: int
    y_channel: bool
    low_resolution: np.ndarray
    outputs: dict[str, np.ndarray] = field(repr=False)
    reference: np.ndarray | None = field(default=None, repr=False)
    perceptual: bool = False
    consistency_maps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def metrics(self) -> tuple[metrics.Metric, ...]:
        """The scores of each row, in column order: PSNR and SSIM, then (``perceptual``)
        those of :data:`BEYOND_PSNR`."""
        return metrics.METRICS + (BEYOND_PSNR if self.perceptual else ())

    def consistency(self, method: str) -> np.ndarray:
        """The data-consistency error map of ``method`` (``perceptual`` comparisons):
        ``|input − output degraded again|`` on the input's grid, float64, intensity units
        (:func:`napari_sr.data_consistency`)."""
        if method not in self.consistency_maps:
            raise ValueError(
                "this comparison has no consistency maps: compare with perceptual=True"
            )
        return self.consistency_maps[method]

    def difference(self, method: str) -> np.ndarray:
        """``|output - reference|`` of ``method``, float32, the reference's shape."""
        if self.reference is None:
            raise ValueError("no reference was given, so there is no difference to show")
        return np.abs(self.outputs[method].astype(np.float32) - self.reference.astype(np.float32))

    @property
    def columns(self) -> tuple[str, ...]:
        """Keys of each row, in order: ``("method", "psnr_db", "ssim", "seconds")``, with
        ``niqe``, ``spectral_error_db`` and ``consistency_rms`` before ``seconds`` in
        ``perceptual`` comparisons."""
        return ("method", *(m.key for m in self.metrics), "seconds")

    def table(self) -> str:
        """The scores as a fixed-width text table, the best by the first metric (PSNR)
        marked with ``*``."""
        table = self.metrics
        best = table[0].best([r[table[0].key] for r in self.rows])
        width = max([len("method"), *(len(r["method"]) for r in self.rows)])
        # one column per metric, as wide as its header or its numbers, then a mark column
        widths = [max(len(m.title), m.decimals + 2) for m in table]
        head = " ".join(f"{m.title:>{w}} " for m, w in zip(table, widths, strict=True))
        lines = [f"{'method':<{width}}  {head} {'seconds':>8}"]
        for r in self.rows:
            cells = []
            for i, (m, w) in enumerate(zip(table, widths, strict=True)):
                mark = "*" if i == 0 and best is not None and r[m.key] == best else " "
                cells.append(f"{m.format(r[m.key]):>{w}}{mark}")  # "—": no reference
            lines.append(f"{r['method']:<{width}}  {' '.join(cells)} {r['seconds']:>8.3f}")
        return "\n".join(lines)

    def csv_text(self) -> str:
        """The rows as CSV, one column per key of :attr:`columns` (scores unrounded)."""
        buffer = stdio.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: r[k] for k in self.columns})
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
    methods: Sequence[Any],
    *,
    axes: str | None = None,
    data_range: float | None = None,
    y_channel: bool = True,
    perceptual: bool = False,
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
        Methods for :func:`~napari_sr.upscale`: interpolation names, ``'quality'`` and
        ``'fast'`` (the bundled defaults for ``scale``), bundled weights by name, model file
        paths, model objects (labelled by their registry name), or None (the default
        method of ``scale``, labelled by what it resolved to).
    axes : str, optional
        Axes of ``high_res``.
    data_range : float, optional
        For float images: the range of possible values.
    y_channel : bool
        Score RGB on luma (the SR protocol); grayscale is unaffected.
    perceptual : bool
        Score beyond PSNR too (:data:`BEYOND_PSNR`): NIQE, spectral fidelity and the data
        consistency of each output with the input, whose error maps the result keeps
        (:meth:`Comparison.consistency`).
    progress : callable, optional
        ``progress(done, total)`` after each method.
    cancel : threading.Event or callable, optional
        Checked before each method and inside each run;
        :class:`~napari_sr.utils.progress.Cancelled` is raised once it is set.

    Returns
    -------
    Comparison

    See Also
    --------
    compare_low_resolution : the same on an image that is already low-resolution.
    """
    scale = _check_sr_scale(scale)
    hr = real_array(high_res, "high_res")
    data_range, y_channel = _check_options(hr, data_range, y_channel, progress)
    runs, labels = _resolve_methods(methods, scale)
    axes = resolve_axes(axes, hr.shape)
    # crop Y and X to a multiple of the scale (for integer scales: exact LR/HR pairing)
    step = round(scale) if float(scale).is_integer() else 1
    index = tuple(
        slice(0, n - n % step) if a in "YX" else slice(None)
        for a, n in zip(axes, hr.shape, strict=True)
    )
    hr = hr[index]
    low = degrade(hr, scale, axes=axes)
    raise_if_cancelled(cancel)
    return _run_and_score(
        low, scale, runs, labels, axes, hr,
        data_range=data_range, y_channel=y_channel, progress=progress, cancel=cancel,
        protocol=True, perceptual=check_flag(perceptual, "perceptual"),
    )  # fmt: skip


def compare_low_resolution(
    low_res: np.ndarray,
    scale: float,
    methods: Sequence[Any],
    *,
    reference: np.ndarray | None = None,
    axes: str | None = None,
    data_range: float | None = None,
    y_channel: bool = True,
    perceptual: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
) -> Comparison:
    """Restore an image that is already low-resolution with each method; score the
    results against ``reference`` when one is given.

    This is the comparison for real acquisitions: the low-resolution image is not made by
    a simulated degradation, so the scores say how each method does on the true one.

    Parameters
    ----------
    low_res : numpy.ndarray
        The image to restore.
    scale : float
        SR factor, > 1.
    methods : sequence
        As for :func:`compare_methods`.
    reference : numpy.ndarray, optional
        The high-resolution image of the same field, same axes: non-spatial axes as in
        ``low_res``; Y and X ``scale`` times as long (give or take the rounding of a
        non-multiple size: outputs and reference are cropped to their common extent).
        Without it the rows have no PSNR/SSIM (``None``) and only times.
    axes : str, optional
        Axes of ``low_res`` (and ``reference``).
    data_range, y_channel, perceptual, progress, cancel
        As for :func:`compare_methods` (without a reference, NIQE and consistency only;
        consistency assumes bicubic downscaling made the input).

    Returns
    -------
    Comparison
        ``low_resolution`` is ``low_res``; ``reference`` the (cropped) reference or None.
    """
    scale = _check_sr_scale(scale)
    low = real_array(low_res, "low_res")
    hr = None if reference is None else real_array(reference, "reference")
    data_range, y_channel = _check_options(hr, data_range, y_channel, progress)
    runs, labels = _resolve_methods(methods, scale)
    axes = resolve_axes(axes, low.shape)
    if hr is not None:
        expected = _upscaled_shape(low.shape, axes, scale)
        close = hr.ndim == low.ndim and all(
            abs(h - e) < math.ceil(scale) if a in "YX" else h == e
            for a, h, e in zip(axes, hr.shape, expected, strict=True)
        )
        if not close:
            raise ValueError(
                f"the reference has shape {hr.shape}, but a x{scale:g} result of the "
                f"{low.shape} image ({axes}) has shape {expected}; give the high-resolution "
                "image of the same field, with the same axes"
            )
    return _run_and_score(
        low, scale, runs, labels, axes, hr,
        data_range=data_range, y_channel=y_channel, progress=progress, cancel=cancel,
        perceptual=check_flag(perceptual, "perceptual"),
    )  # fmt: skip


def _check_sr_scale(scale: float) -> float:
    scale = check_scale(scale)
    if scale <= 1:
        raise ValueError(f"compare needs a scale above 1 (the SR factor), not {scale}")
    return scale


def _check_options(
    reference: np.ndarray | None, data_range: Any, y_channel: Any, progress: Any
) -> tuple[float | None, bool]:
    """The scoring options, checked before any method runs (a mistake found only when
    scoring would waste every run)."""
    if data_range is not None:
        data_range = check_real(
            data_range, "data_range", above=0.0,
            hint="the range of possible values, e.g. 1.0 for images in [0, 1] or 255",
        )  # fmt: skip
    elif reference is not None and reference.dtype.kind == "f":
        raise ValueError(
            f"data_range is required to score {reference.dtype} images: pass the range of "
            "possible values, e.g. data_range=1.0 for images in [0, 1] or 255 for 8-bit "
            "data as floats"
        )
    check_callback(progress)
    return data_range, check_flag(y_channel, "y_channel")


def _resolve_methods(methods: Sequence[Any], scale: float) -> tuple[list[Any], list[str]]:
    """What to run and the label of each; unknown names fail before any work, and a model
    file is read once, not per call."""
    if isinstance(methods, (str, os.PathLike)):
        methods = [methods]  # one method, not a sequence of one-letter names
    if not methods:
        raise ValueError("give at least one method to compare")
    runs = [resolve_method(method, scale) for method in methods]
    labels = [m if isinstance(m, str) else r.name for m, r in zip(methods, runs, strict=True)]
    # a default role stays a role: _run_and_score picks its weights by the image's noise
    runs = [m if isinstance(m, str) and requested_role(m) else r
            for m, r in zip(methods, runs, strict=True)]  # fmt: skip
    return runs, labels


def _upscaled_shape(shape: tuple[int, ...], axes: str, scale: float) -> tuple[int, ...]:
    return tuple(
        math.ceil(n * scale - 1e-9) if a in "YX" else n for a, n in zip(axes, shape, strict=True)
    )


def _run_and_score(
    low: np.ndarray,
    scale: float,
    runs: list[Any],
    labels: list[str],
    axes: str,
    hr: np.ndarray | None,
    *,
    data_range: float | None,
    y_channel: bool,
    progress: Callable[[int, int], None] | None,
    cancel: CancelToken | None,
    protocol: bool = False,
    perceptual: bool = False,
) -> Comparison:
    """Restore ``low`` with every method (timed after a warm-up) and score against ``hr``
    with every metric of :data:`~napari_sr.metrics.METRICS`; ``protocol``: ``low`` was
    made by the bicubic protocol (see :func:`~napari_sr.engine.method_table.choose_default`)."""
    table = metrics.METRICS  # the scores of reference and output alone (BEYOND_PSNR below)
    keys = [m.key for m in table + (BEYOND_PSNR if perceptual else ())]
    crop = math.ceil(scale)
    rows, outputs, maps = [], {}, {}
    warm = low[tuple(slice(0, min(n, 16)) for n in low.shape)]
    for done, (method, label) in enumerate(zip(runs, labels, strict=True), start=1):
        raise_if_cancelled(cancel)
        # a default role runs the weights the whole image's noise picks (not its corner's)
        role = requested_role(method) if isinstance(method, str) else None
        # (the protocol's LR runs the protocol's weights whatever its dtype)
        choice = (
            None if role is None
            else choose_default(role, scale, low, axes, protocol=protocol)
        )  # fmt: skip
        method = method if choice is None else choice.name
        upscale(warm, scale, method=method, axes=axes)  # compile/load first, so time is fair
        started = time.perf_counter()
        restored = upscale(low, scale, method=method, axes=axes, cancel=cancel)
        seconds = time.perf_counter() - started
        row = {"method": label, **dict.fromkeys(keys), "seconds": seconds}
        if hr is not None:
            # the common extent (ceil() may overshoot a cropped reference by a pixel)
            common = tuple(
                slice(0, min(a, b)) for a, b in zip(restored.shape, hr.shape, strict=True)
            )
            restored, hr = restored[common], hr[common]
            ref_planes, metric_axes = _as_planes(hr, axes)  # 2D methods: plane by plane
            out_planes, _ = _as_planes(restored, axes)
            kwargs = {
                "data_range": data_range,
                "crop_border": crop,
                "y_channel": y_channel,
                "axes": metric_axes,
            }
            for metric in table:
                raise_if_cancelled(cancel)
                options = {k: v for k, v in kwargs.items() if k in metric.options}
                if metric.averages_planes:  # slow ones (SSIM): cancel seen between chunks
                    score = _chunked(metric.function, ref_planes, out_planes, options, cancel)
                else:
                    score = metric.function(ref_planes, out_planes, **options)
                row[metric.key] = score
        if perceptual:
            raise_if_cancelled(cancel)
            scores, error = _beyond_psnr(
                low, restored, hr, scale, axes, data_range=data_range, crop=crop,
                y_channel=y_channel,
            )  # fmt: skip
            row.update(scores)
            if error is not None:
                maps[label] = error
        rows.append(row)
        outputs[label] = restored
        if progress is not None:
            progress(done, len(runs))
    if hr is not None:  # every output cropped to the same extent as the reference
        outputs = {k: v[tuple(slice(0, n) for n in hr.shape)] for k, v in outputs.items()}
    return Comparison(rows, scale, crop, y_channel, low, outputs, reference=hr,
                      perceptual=perceptual, consistency_maps=maps)  # fmt: skip


BEYOND_PSNR: tuple[metrics.Metric, ...] = (
    metrics.Metric("niqe", None, False, "NIQE", "", "niqe", 3, options=()),
    metrics.Metric("spectrum", None, False, "spectrum", "dB", "spectral_error_db", 2, options=()),
    metrics.Metric(
        "consistency", None, False, "consistency RMS", "", "consistency_rms", 3, options=()
    ),
)
"""The scores of ``perceptual`` comparisons, after PSNR and SSIM (lower is better for
each; computed from the input too, by :func:`_beyond_psnr`): :func:`napari_sr.niqe`
of the output (no reference needed; planes of at least 192 pixels after the border crop,
else None; RGB as MATLAB's gray), the mean absolute radial-spectrum error against the
reference (:func:`napari_sr.spectral_fidelity`, dB, on luma), and the RMS of the data
consistency error (:func:`napari_sr.data_consistency`: the output MATLAB-bicubic downscaled
again against the input, no intensity fitting; the image's intensity units; on luma for
RGB scored on luma)."""


def _beyond_psnr(
    low: np.ndarray,
    restored: np.ndarray,
    hr: np.ndarray | None,
    scale: float,
    axes: str,
    *,
    data_range: float | None,
    crop: int,
    y_channel: bool = True,
) -> tuple[dict[str, float | None], np.ndarray]:
    """The :data:`BEYOND_PSNR` scores of one output, and its consistency error map (of
    luma for RGB scored on luma, as PSNR is)."""
    from .color import luma
    from .consistency import data_consistency
    from .naturalness import niqe
    from .spectrum import spectral_fidelity

    planes, plane_axes = _as_planes(restored, axes)
    rgb = plane_axes.endswith("C")
    inner = (slice(None), slice(crop, -crop or None), slice(crop, -crop or None))
    span = data_range or metrics.scoring_range(low) or 255.0
    scored = [p for p in planes[inner] if min(p.shape[:2]) >= 192]
    quality = float(np.mean([niqe(p, data_range=span) for p in scored])) if scored else None
    spectrum = None
    if hr is not None:
        truth, _ = _as_planes(hr, axes)
        gray_truth, gray_out = truth[inner], planes[inner]
        if rgb:
            gray_truth = luma(gray_truth.astype(np.float64), span)
            gray_out = luma(gray_out.astype(np.float64), span)
        if min(gray_out.shape[1:3]) >= 8:
            spectrum = spectral_fidelity(gray_truth, gray_out).error_db
    # the output's extent may overshoot the input's by the rounding of a non-whole scale
    agreement = None
    if _upscaled_shape(low.shape, axes, scale) == restored.shape:
        observed, output, along = low, restored, axes
        if rgb and y_channel:  # luma, as PSNR: a luma network leaves chroma to bicubic
            observed = luma(low.astype(np.float64), span)
            output = luma(restored.astype(np.float64), span)
            along = axes.replace("C", "")
        agreement = data_consistency(output, observed, scale, axes=along, fit_intensity=False)
    scores = {"niqe": quality, "spectral_error_db": spectrum,
              "consistency_rms": None if agreement is None else agreement.rse}  # fmt: skip
    return scores, (None if agreement is None else agreement.error)


def _chunked(
    function: Callable[..., float],
    reference: np.ndarray,
    test: np.ndarray,
    kwargs: dict,
    cancel: CancelToken | None,
    pixels_per_chunk: int = 4_000_000,
) -> float:
    """``function`` (a metric whose stack score is the mean of its planes' scores, such as
    SSIM) of a stack of planes, a few million pixels at a time so that ``cancel`` is seen
    between chunks (SSIM of a large stack takes seconds): the plane-weighted mean of the
    chunks' scores."""
    per_chunk = max(1, pixels_per_chunk // max(1, reference[0].size))
    total, planes = 0.0, len(reference)
    for start in range(0, planes, per_chunk):
        raise_if_cancelled(cancel)
        chunk = slice(start, start + per_chunk)
        count = len(reference[chunk])
        total += function(reference[chunk], test[chunk], **kwargs) * count
    return total / planes


def _as_planes(array: np.ndarray, axes: str) -> tuple[np.ndarray, str]:
    """Stack of 2D images for plane-by-plane scoring: every axis but Y, X (and RGB
    channels) folded into one leading axis ``T``."""
    keep = "YXC" if is_rgb(axes, array.shape) else "YX"
    return fold_planes(array, axes, keep), "T" + keep
