"""``misr``: one finer image from several frames of the same scene.

Frames along the T axis (or ``frame_axis``) are registered (:func:`register`, unless
``shifts`` are given), frames that do not match are left out, and the rest are fused on a
grid ``scale`` times finer (:func:`~napari_sr.multiframe.fusion.fuse`). Stacks with Z (or
C) fuse every plane with the same shifts, measured on the frames' mean over those axes (a
stage jitter moves all planes alike). A dask or zarr stack is registered one frame at a
time and fused lazily, one task per plane.
"""

from __future__ import annotations

import functools
import numbers
import threading
import uuid
import warnings
from typing import Any

import numpy as np

from ..axes import frame_axes, resolve_axes
from ..image import Image
from ..utils.intensity import cast, check_dtype, check_finite
from ..utils.lazy import as_dask, is_lazy
from ..utils.progress import CancelToken, ProgressCallback, Stages, raise_if_cancelled
from ..utils.validate import all_finite, check_callback, check_flag
from .consistency import FramesMismatchWarning, frame_mismatches, mismatch_message
from .fusion import (
    DEFAULT_FUSION,
    METHODS,
    check_fusion_options,
    check_sr_scale,
    fuse,
    fusion_methods,
    fusion_steps,
)
from .learned import fuse_learned, prior_psf
from .registration import DEFAULT_UPSAMPLE, PASSES, check_reference, check_shifts, register


def misr(
    frames: np.ndarray | Image,
    scale: int,
    *,
    method: str = DEFAULT_FUSION,
    frame_axis: int | None = None,
    axes: str | None = None,
    shifts: np.ndarray | None = None,
    reference: str | int = 0,
    psf: float = 0.0,
    iterations: int | None = None,
    keep_outliers: bool = False,
    guard: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray | Image:
    """Multi-image super-resolution of a stack of frames.

    Parameters
    ----------
    frames : numpy.ndarray, dask or zarr array, or Image
        Frames of one scene with sub-pixel shifts between them: ``TYX``, ``TZYX``,
        ``TCYX``… (T holds the frames). A dask or zarr stack (or an Image of one) is
        registered at once, one frame in memory at a time, and fused lazily: the result is
        a dask array with one task per plane, equal to the in-memory result (``progress``
        and ``cancel`` then cover the registration).
    scale : int
        Integer SR factor (≥ 2).
    method : str or model
        A name of the table of fusion methods,
        :func:`~napari_sr.multiframe.fusion.fusion_methods` (see
        :mod:`napari_sr.multiframe.fusion`): ``'shift-add'``, normalised convolution and
        Wiener deblurring; ``'ibp'``, iterative back-projection from it; or ``'robust'``, a
        robust data term with bilateral TV (the default: best when a frame or a pixel does
        not fit). ``'learned'``: the
        bundled fusion network for ``scale`` (×2 and ×4, grayscale; see
        :mod:`napari_sr.multiframe.learned` and its model card), which corrects the robust
        fusion; a bundled fusion network by name (``'highresnet_x2.bursts291'``, trained for
        one PSF); or any
        multi-frame fusion network or its model file. ``iterations`` do not apply to a
        network. The bundled ones were trained over a range of optics (σ from 0 to
        0.75·scale output pixels) and take the frames' ``psf`` within it; a network trained
        for one σ brings its own (``psf`` does not apply).
    frame_axis : int, optional
        Index of the frame axis for arrays without ``axes`` (default 0).
    axes : str, optional
        Axes of ``frames``, with T for the frames (default from the Image, else ``TYX``
        for 3D and ``TZYX`` for 4D arrays).
    shifts : numpy.ndarray, optional
        (N, 2) known ``(dy, dx)`` per frame, low-resolution pixels (content at ``(y, x)`` of
        the reference appears at ``(y + dy, x + dx)``); default measured.
    reference : int or ``"median"``
        The frame whose grid the output lies on (default the first, so that the result
        overlays it exactly), or ``"median"`` for the frames' median position
        (:func:`register`).
    psf : float
        Gaussian σ of the optics, in output pixels, to deblur (0: only the camera pixels);
        for the classical methods and networks trained over a range of optics.
    iterations : int, optional
        For ``ibp`` and ``robust``.
    keep_outliers : bool
        Fuse frames that registration flags as not matching, too.
    guard : bool
        For a network that corrects the robust fusion (the bundled ones): keep its
        correction only where the frames confirm it — each half of the frames is fused
        both ways and predicts the other half; where the network predicts them worse, the
        result is the robust fusion
        (:func:`~napari_sr.multiframe.learned.holdout_weights`; from 4 frames; about
        three times the time). False: the network's output as it is.
    progress, cancel : optional
        ``progress(done, total)`` over registration and fusion; cancellation between
        frames and iterations.

    Returns
    -------
    numpy.ndarray or Image
        The fused image: the input's axes without T, Y and X ``scale`` times longer, the
        input's dtype. An Image gets pixel sizes and origins as :func:`napari_sr.upscale`
        gives them (on the reference frame's grid) and a provenance record with the method,
        the shifts, each frame's registration quality and the frames left out.

    Raises
    ------
    TypeError, ValueError
        For any argument out of place, before any work: shifts that are not finite or
        reach beyond the frame, a reference out of range, a negative or huge ``psf``,
        ``iterations`` below 1 (or given for ``shift-add`` or a network), a scale that is
        not a whole number from 2 to 16, NaN frames, fewer than 2 frames.
    napari_sr.Cancelled
        When ``cancel`` is set, also during the last step.

    Warns
    -----
    napari_sr.multiframe.consistency.FramesMismatchWarning
        When the frames do not look like shifted views of one scene (a z-stack, a focus
        series, unrelated images: see :mod:`napari_sr.multiframe.consistency`). The
        result is still returned.
    """
    source = frames if isinstance(frames, Image) else None
    data = source.data if source is not None else frames
    lazy = is_lazy(data)
    data = as_dask(data) if lazy else _as_array(data)
    dtype = check_dtype(data.dtype, "frames")
    if not lazy and not all_finite(data):  # a lazy stack is checked frame by frame
        check_finite(data, "frames")
    scale = check_sr_scale(scale)
    network = _fusion_network(method, scale)
    if network is None and method not in METHODS:
        raise ValueError(
            f"unknown method {method!r}; choose one of "
            f"{', '.join(m.name for m in fusion_methods())}, or a fusion model "
            "(napari_sr.multiframe.learned.train_fusion) or its model file"
        )
    if network is not None and int(network.scale) != scale:
        raise ValueError(f"the fusion model works at x{network.scale}, not x{scale}")
    axes = _frame_axes(data, source, axes, frame_axis)
    t = axes.index("T")
    stack = np.moveaxis(data, t, 0)  # (N, ..., Y, X); a dask array stays lazy
    rest = axes[:t] + axes[t + 1 :]
    n = stack.shape[0]
    if n < 2:
        raise ValueError(
            f"misr needs at least 2 frames; the frame axis (T) has {n}. For a single "
            "image use napari_sr.upscale; if the frames lie along another axis, say so "
            "with axes= (T for the frames)"
        )
    frame_shape = stack.shape[-2:]
    if min(frame_shape) < 2:
        raise ValueError(f"frames of {frame_shape} pixels are too small to fuse")
    reference = check_reference(reference, n)
    if shifts is not None:
        shifts = check_shifts(shifts, n, frame_shape)
    psf, iterations = check_fusion_options(psf, iterations, scale, method, network)
    keep_outliers = check_flag(keep_outliers, "keep_outliers")
    guard = check_flag(guard, "guard")
    check_callback(progress)
    raise_if_cancelled(cancel)
    planes = stack.reshape(n, -1, *frame_shape).astype(np.float64)
    n_planes = planes.shape[1]
    steps = fusion_steps(method if network is None else "learned", iterations)
    total = PASSES * len(planes) + n_planes * steps
    stages = Stages(progress, total)

    frames_seen = _frames_seen(planes)  # the frames' mean over Z/C: what is registered
    if shifts is None:
        registration = register(frames_seen, reference=reference,
                                upsample=DEFAULT_UPSAMPLE, progress=stages.part(),
                                cancel=cancel)  # fmt: skip
        shifts = registration.shifts
        quality, outliers = registration.quality, registration.outliers
    else:
        quality, outliers = None, np.zeros(len(planes), bool)
    stages.advance(PASSES * len(planes))
    weights = np.ones(len(planes)) if keep_outliers else (~outliers).astype(float)
    anchor = 0 if isinstance(reference, str) else int(reference) % len(planes)
    weights[anchor] = 1.0  # the frame whose grid the output lies on always takes part
    kept = weights > 0
    found = frame_mismatches(frames_seen[kept], shifts[kept], left_out=int((~kept).sum()))
    if found:
        warnings.warn(mismatch_message(found), FramesMismatchWarning, stacklevel=2)
    fuse_plane = functools.partial(
        _fuse_plane, network=network, shifts=shifts, weights=weights, anchor=anchor,
        scale=scale, method=method, psf=psf, iterations=iterations, guard=guard,
        dtype=dtype)  # fmt: skip
    if lazy:  # every plane a task, computed when the result is
        out = _lazy_planes(fuse_plane, planes, stack.shape[1:-2], scale)
    else:
        fused = []
        for p in range(n_planes):
            fused.append(fuse_plane(planes[:, p], progress=stages.part(), cancel=cancel))
            stages.advance(steps)
        raise_if_cancelled(cancel)  # a cancel during the last plane: nothing is returned
        out = np.stack(fused).reshape(*stack.shape[1:-2], *fused[0].shape)
    if source is None:
        return out
    label = method if network is None else f"learned ({network.spec.name})"
    provenance: dict[str, Any] = {
        "method": f"misr {label}",
        "scale": scale,
        "frames": len(planes),
        "shifts_lowres_pixels": shifts.round(4).tolist(),
        "reference": reference,
        "psf_sigma_px": psf if network is None else prior_psf(network, psf),
        "left_out": [int(k) for k in np.flatnonzero(weights == 0)],
    }
    if network is not None:
        provenance["guard"] = guard
    if quality is not None:
        provenance["registration_quality"] = quality.round(4).tolist()
    resolved = source.with_axes(axes)
    first = resolved.data[(slice(None),) * t + (0,)]  # frame 0, lazy for a lazy stack
    frame = Image(first, rest, resolved.pixel_size, resolved.unit, resolved.origin,
                  resolved.metadata)  # fmt: skip
    return frame.resampled(out, {"Y": scale, "X": scale}, provenance)


def _frames_seen(planes: Any) -> np.ndarray:
    """(N, Y, X) float64: each frame's mean over its planes, one frame in memory at a time
    (the same sums for an in-memory and a lazy stack)."""
    seen = []
    for frame in planes:
        frame = np.asarray(frame)
        if not all_finite(frame):
            check_finite(frame, "frames")
        seen.append(frame.mean(axis=0))
    return np.stack(seen)


_NETWORK_LOCK = threading.Lock()
"""Held while a fusion network runs on a plane of a lazy stack: the tasks of a process
share the network object."""


def _fuse_plane(frames: np.ndarray, *, network, shifts, weights, anchor, scale, method, psf,
                iterations, guard, dtype, progress=None, cancel=None) -> np.ndarray:  # fmt: skip
    """One plane's frames (N, Y, X) fused, in ``dtype``."""
    frames = np.asarray(frames, dtype=np.float64)
    if network is not None:
        with _NETWORK_LOCK:
            fused = fuse_learned(network, frames, shifts=shifts, weights=weights,
                                 reference=anchor, psf=psf, guard=guard, progress=progress,
                                 cancel=cancel)  # fmt: skip
    else:
        fused = fuse(frames, shifts, scale, method=method, psf=psf, iterations=iterations,
                     weights=weights, progress=progress, cancel=cancel)  # fmt: skip
    return cast(fused, dtype)


def _lazy_planes(fuse_plane, planes, lead: tuple[int, ...], scale: int):
    """The fused stack as a dask array: one task per plane, reading that plane's frames;
    the method's state (a network) travels as one key."""
    import dask
    import dask.array as da

    n_planes, shape = planes.shape[1], planes.shape[-2:]
    out_shape = (shape[0] * scale, shape[1] * scale)
    dtype = fuse_plane.keywords["dtype"]
    method = dask.delayed((fuse_plane,), name=f"napari-sr-fuse-{uuid.uuid4().hex}",
                          traverse=False)  # fmt: skip
    task = dask.delayed(_apply, pure=True)
    fused = [
        da.from_delayed(task(method, planes[:, p]), out_shape, dtype=dtype)
        for p in range(n_planes)
    ]
    return da.stack(fused).reshape(*lead, *out_shape)


def _apply(method: tuple, frames: np.ndarray) -> np.ndarray:
    return method[0](frames)


def _frame_axes(data: np.ndarray, source: Image | None, axes: str | None, frame_axis) -> str:
    """The axes with T on the frame axis."""
    if axes is None and source is not None:
        axes = source.axes
    if axes is None:
        if frame_axis is not None:
            index = _check_frame_axis(frame_axis, data.ndim)
            guess = frame_axes(data.ndim - 1)
            if guess is None:
                raise ValueError(f"cannot guess the axes of shape {data.shape}; pass axes=")
            axes = guess[:index] + "T" + guess[index:]
        else:
            guess = frame_axes(data.ndim - 1)
            axes = None if guess is None else "T" + guess
            if axes is None:
                raise ValueError(
                    f"frames of shape {data.shape}: pass axes= with T for the frames, e.g. 'TYX'"
                )
    elif frame_axis is not None:
        given = "the Image's axes" if source is not None and axes == source.axes else "axes"
        index = _check_frame_axis(frame_axis, data.ndim)
        if str(axes).upper()[index : index + 1] != "T":
            raise ValueError(
                f"frame_axis={frame_axis} disagrees with {given} {axes!r}, whose T (the "
                "frames) is elsewhere; give one of them"
            )
    axes = resolve_axes(axes, data.shape)
    if "T" not in axes:
        raise ValueError(
            f"the frames need a T axis (axes {axes!r}): pass axes with T for the frames, "
            "e.g. axes='TYX', or frame_axis="
        )
    return axes


def _check_frame_axis(frame_axis: Any, ndim: int) -> int:
    """``frame_axis`` as an index in ``[0, ndim)``; negative counts from the end."""
    if isinstance(frame_axis, (bool, np.bool_)) or not isinstance(frame_axis, numbers.Integral):
        raise TypeError(
            f"frame_axis must be a whole number (an axis index), not "
            f"{type(frame_axis).__name__} {frame_axis!r}"
        )
    if not -ndim <= int(frame_axis) < ndim:
        raise ValueError(
            f"frame_axis {frame_axis} is out of range for an array of {ndim} dimensions; "
            f"give an index from 0 to {ndim - 1} (or from {-ndim} counting from the end)"
        )
    return int(frame_axis) % ndim


def _as_array(frames: Any) -> np.ndarray:
    """``frames`` as an array, with a message naming them when they are not numbers."""
    try:
        return np.asarray(frames)
    except (ValueError, TypeError) as exc:  # ragged lists of frames of different sizes
        raise ValueError(
            f"frames must be one array of equally sized frames (e.g. numpy.stack(frames)): {exc}"
        ) from None


def learned_scales() -> tuple[int, ...]:
    """The scales for which a fusion network is bundled (``method="learned"``)."""
    (learned,) = (m for m in fusion_methods() if m.name == "learned")
    return learned.scales


def _fusion_network(method: Any, scale: int):
    """A fusion model from a learned name of the table (the bundled network), a model
    object or a model file path; None for a classical name."""
    import os

    if isinstance(method, str) and method in METHODS:
        return None
    entry = next((m for m in fusion_methods() if m.name == method), None)
    if entry is not None:  # a learned method of the table
        reason = entry.unavailable(scale)
        if reason is not None:
            raise ValueError(reason)
        from ..models.bundled import load_bundled

        return load_bundled(entry.network(scale))
    if isinstance(method, (str, os.PathLike)):
        if not os.path.isfile(method):
            return None  # an unknown name: reported by the caller
        from ..models.checkpoint import load_model

        method = load_model(method)
    spec = getattr(method, "spec", None)
    if spec is None or spec.framework != "multiframe":
        raise ValueError(
            f"method must be {', '.join(map(repr, METHODS))}, or a multi-frame fusion model "
            "(such as napari_sr.create_model('highresnet', scale=2), trained)"
        )
    return method
