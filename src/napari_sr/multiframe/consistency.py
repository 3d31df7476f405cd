"""Do the frames look like views of one scene? Checks before multi-frame fusion.

Multi-image SR assumes frames of one scene, each moved by a small shift and otherwise alike
but for noise (a burst). A z-stack, a time series with moving content or a folder of
unrelated images fed to it gives a confident-looking, meaningless result. Four
measurements catch those, each calibrated to stay silent on noisy bursts (synthetic bursts
of natural and fluorescence images down to about 10 photons at the peak, ×2 to ×4,
2 to 8 frames; the bundled burst) and to speak on the anisotropic sample's planes, a
defocus series and unrelated images:

- **similarity**: each frame, moved back by its shift and smoothed (σ = 2 pixels), against
  the mean of the others (a Pearson correlation, windowed). Noise lowers a correlation
  even between views of one scene, so it is corrected for the noise each side holds
  (estimated per frame from its finest-scale differences, Immerkær 1996): two noisy views
  of one scene correlate about 1, different planes or scenes much less. Frames that are
  mostly noise after smoothing are not judged;
- **focus**: the energy of each frame's Laplacian relative to its variance (high
  frequencies over all); a burst keeps it within a few per cent, a focus series changes
  it several times over;
- **brightness and contrast**: the frames' means, and the standard deviation of each
  smoothed frame's signal (its noise removed);
- **shifts**: a burst moves by a few pixels; planes of a stack "register" at random large
  shifts.

References
----------
.. [1] J. Immerkær, "Fast noise variance estimation," Computer Vision and Image
   Understanding 64(2), 300-302 (1996). doi:10.1006/cviu.1996.0060
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .registration import _fourier_shift

SMOOTHING = 2.0
"""σ (pixels) of the Gaussian that the similarity is measured after (it removes most noise)."""
MIN_SIMILARITY = 0.5
"""Below this noise-corrected correlation with the other frames a frame shows another scene.
Measured: bursts ≥ 0.57 at 20 photons (×4, sparse fluorescence), most ≥ 0.9; z-stack planes
0.25-0.79 (8 frames), unrelated images ≤ 0.32. Bursts of 10 photons may fall below."""
MIN_SIGNAL = 0.5
"""Frames whose smoothed variance is less than this fraction signal (the rest noise) are too
noisy to judge their similarity."""
MAX_FOCUS_RATIO = 1.75
"""Largest / smallest Laplacian-to-variance ratio over the frames, for frames of 64 pixels
or more (smaller ones: ``1 + FOCUS_SPREAD / side``, as the measure is noisier). Measured on
128-pixel frames: bursts ≤ 1.40; z-stack planes ≥ 2.1 (3 frames), a defocus series (σ 0 to
1 pixel) 9.5; on crops of the burst sample, 1.8 at 24 pixels, 1.4 at 48."""
FOCUS_SPREAD = 48.0
MAX_BRIGHTNESS_CHANGE = 0.25
"""Largest relative change of a frame's mean from the median (bursts ≤ 0.13 at 5 photons)."""
MAX_CONTRAST_RATIO = 2.25
"""Largest / smallest standard deviation of the smoothed frames' signal (noise removed).
Measured: bursts ≤ 2.0 (×4, 10 photons, sparse), most ≤ 1.4; 8 planes of the z-stack
sample 3.2-21."""
MAX_SHIFT_FRACTION = 0.25
"""Shifts beyond this fraction of the frame leave little overlap: not a burst's jitter."""
MIN_SIZE = 24
"""Frames smaller than this (pixels, either side) are not checked: too few to judge."""

_IMMERKAER = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


class FramesMismatchWarning(UserWarning):
    """The frames given to multi-frame SR do not look like shifted views of one scene
    (a z-stack, a time series or unrelated images?); the fused result may be meaningless."""


def frame_mismatches(frames: np.ndarray, shifts: np.ndarray, *, left_out: int = 0) -> list[str]:
    """What makes a stack of frames look unlike views of one scene, in words.

    Parameters
    ----------
    frames : numpy.ndarray
        (N, Y, X) frames (N ≥ 2), finite.
    shifts : numpy.ndarray
        (N, 2) ``(dy, dx)`` of each frame, pixels, as :func:`register` gives them.
    left_out : int
        How many more frames registration flagged as not matching (not in ``frames``).

    Returns
    -------
    list of str
        One phrase per finding; empty when the frames look like a burst (or are too few,
        too small or too noisy to judge).
    """
    stack = np.asarray(frames, dtype=np.float64)
    shifts = np.asarray(shifts, dtype=np.float64)
    n, h, w = stack.shape
    total = n + left_out
    found = []
    if left_out and left_out * 2 >= total:
        found.append(f"registration finds {left_out} of the {total} frames unlike the others")
    largest = np.abs(shifts).max(axis=0) if n else np.zeros(2)
    if largest[0] > MAX_SHIFT_FRACTION * h or largest[1] > MAX_SHIFT_FRACTION * w:
        found.append(
            f"frames are shifted by up to {largest.max():.0f} pixels in a {h}x{w} frame "
            "(a burst moves by a few)"
        )
    if n < 2 or min(h, w) < MIN_SIZE:
        return found
    window = np.outer(np.hanning(h), np.hanning(w))
    noise = np.array([_noise_variance(f) for f in stack])
    moved_back = (_fourier_shift(f, -s) for f, s in zip(stack, shifts, strict=True))
    smooth = np.array([ndimage.gaussian_filter(f, SMOOTHING) for f in moved_back])
    similarity, signal = _similarity(smooth, noise, window)
    poor = np.flatnonzero(similarity < MIN_SIMILARITY)
    if poor.size:
        found.append(
            f"{_frames(poor)} the others poorly (noise-corrected correlation "
            f"{_values(similarity[poor])}; views of one scene give about 1)"
        )
    focus = np.array([_focus(f, window) for f in stack])
    limit = max(MAX_FOCUS_RATIO, 1 + FOCUS_SPREAD / min(h, w))
    if focus.min() > 0 and focus.max() / focus.min() > limit:
        sharpest, softest = int(np.argmax(focus)), int(np.argmin(focus))
        trend = _trend(focus)
        found.append(
            f"sharpness changes {focus.max() / focus.min():.1f}-fold between frames "
            f"(sharpest {sharpest}, softest {softest}{trend}): a focus series or z-stack?"
        )
    means = stack.mean(axis=(1, 2))
    middle = float(np.median(means))
    if middle > 0:
        change = np.abs(means / middle - 1)
        if change.max() > MAX_BRIGHTNESS_CHANGE:
            k = int(np.argmax(change))
            found.append(
                f"brightness changes by up to {100 * change.max():.0f} % (frame {k} against "
                "the median)"
            )
    contrast = np.sqrt(signal[np.isfinite(signal)])
    if contrast.size >= 2 and contrast.max() / contrast.min() > MAX_CONTRAST_RATIO:
        judged = np.flatnonzero(np.isfinite(signal))
        high = int(judged[np.argmax(contrast)])
        low = int(judged[np.argmin(contrast)])
        found.append(
            f"contrast changes {contrast.max() / contrast.min():.1f}-fold between frames "
            f"{high} and {low}"
        )
    return found


def mismatch_message(found: list[str]) -> str:
    """The warning's text for the findings of :func:`frame_mismatches`."""
    return (
        "the frames do not look like shifted views of one scene: "
        + "; ".join(found)
        + ". Multi-frame SR needs frames of one scene with small shifts (a burst); a "
        "z-stack or time series fused this way gives a meaningless image. For a stack of "
        "planes, give its real axes (axes='ZYX', or --axes ZYX) and use upscale instead; "
        "for frames of one scene, check their registration or give the shifts"
    )


# ----------------------------------------------------------------------------- helpers


def _noise_variance(frame: np.ndarray) -> float:
    """Variance of white noise in ``frame``: the mean square of Immerkær's mask response
    (which cancels planes and ramps) over its energy, 36."""
    response = ndimage.convolve(frame, _IMMERKAER, mode="reflect")[1:-1, 1:-1]
    return float(np.mean(response * response) / 36.0)


def _kernel_energy(sigma: float) -> float:
    """Σ k² of a Gaussian kernel: the factor by which it scales white-noise variance."""
    size = int(8 * sigma) | 1
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    return float(np.sum(ndimage.gaussian_filter(delta, sigma, mode="constant") ** 2))


def _similarity(
    smooth: np.ndarray, noise: np.ndarray, window: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the windowed correlation of the smoothed frame with the mean of the
    others, divided by what noise alone would reduce it to (NaN where a side is mostly
    noise: not judged); and the power of each smoothed frame's signal (its windowed
    power less the noise's; NaN where mostly noise)."""
    n = len(smooth)
    gain = _kernel_energy(SMOOTHING) * float(np.sum(window**2))
    total = smooth.sum(axis=0)
    out = np.full(n, np.nan)
    signal = np.full(n, np.nan)
    for k in range(n):
        others = (total - smooth[k]) / (n - 1)
        a = (smooth[k] - smooth[k].mean()) * window
        b = (others - others.mean()) * window
        power_a, power_b = float(np.sum(a * a)), float(np.sum(b * b))
        if power_a <= 0 or power_b <= 0:
            continue
        signal_a = 1 - noise[k] * gain / power_a
        signal_b = 1 - (noise.sum() - noise[k]) / (n - 1) ** 2 * gain / power_b
        if signal_a < MIN_SIGNAL:
            continue
        signal[k] = power_a * signal_a
        if signal_b < MIN_SIGNAL:
            continue
        out[k] = float(np.sum(a * b)) / np.sqrt(power_a * power_b * signal_a * signal_b)
    return out, signal


def _focus(frame: np.ndarray, window: np.ndarray) -> float:
    """Energy of the Laplacian over the variance (windowed): how much of the frame is fine
    detail. Independent of gain and offset."""
    centred = (frame - frame.mean()) * window
    variance = float(np.sum(centred**2))
    if variance <= 0:
        return 0.0
    return float(np.sum((ndimage.laplace(frame) * window) ** 2)) / variance


def _trend(values: np.ndarray) -> str:
    """', steadily along the frames' when the values rise or fall with the frame index."""
    if len(values) < 3:
        return ""
    ranks = np.argsort(np.argsort(values))
    rho = np.corrcoef(np.arange(len(values)), ranks)[0, 1]
    return ", steadily along the frames" if abs(rho) > 0.8 else ""


def _frames(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(k)) for k in indices[:6])
    more = f" and {len(indices) - 6} more" if len(indices) > 6 else ""
    return f"frame {shown} matches" if len(indices) == 1 else f"frames {shown}{more} match"


def _values(values: np.ndarray) -> str:
    shown = ", ".join(f"{v:.2f}" for v in values[:6])
    return shown + (", ..." if len(values) > 6 else "")
