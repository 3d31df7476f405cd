"""Axes strings: one letter per array dimension, saying what that dimension is.

The letters are ``T`` (time), ``Z`` (depth), ``C`` (channel, including RGB samples),
``Y`` and ``X`` (the image plane). Every array napari-sr handles carries such a string,
given explicitly or read from file metadata. When none is given, :func:`default_axes`
guesses from the shape, following these rules (also in the README, "Conventions"):

==========  ====================  ==========================================
ndim        shape ends in 3 or 4   otherwise
==========  ====================  ==========================================
2           --                    ``YX``
3           ``YXC`` (RGB/RGBA)     ``ZYX`` (a stack of planes for 2D methods)
4           ``ZYXC``               ``TZYX``
5           ``TZYXC``              ``TZCYX``
==========  ====================  ==========================================

A napari layer says itself whether it is RGB (``default_axes(shape, rgb=False)`` keeps
the last two axes as the image plane). The frames of a burst
(:func:`napari_sr.misr`) take T, so one frame is guessed by :func:`frame_axes`: ``YX``,
``ZYX``, ``ZCYX``. These tables are the only place napari-sr guesses axes.
"""

from __future__ import annotations

from collections.abc import Sequence

AXIS_LETTERS = "TZCYX"
"""Every axis letter napari-sr understands."""

SPATIAL_AXES = "ZYX"
"""Axes along which pixels have a physical size and super-resolution applies."""

_DEFAULTS = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TZCYX"}
_DEFAULTS_RGB = {3: "YXC", 4: "ZYXC", 5: "TZYXC"}
_FRAME_DEFAULTS = {2: "YX", 3: "ZYX", 4: "ZCYX"}


def default_axes(shape: Sequence[int], *, rgb: bool | None = None) -> str:
    """Guess the axes of an array from its shape alone.

    Parameters
    ----------
    shape : sequence of int
        The array's shape.
    rgb : bool, optional
        Whether the last axis holds RGB(A) samples; None (default) guesses it from the
        shape (a last axis of 3 or 4 on a 3-D to 5-D array).

    Returns
    -------
    str
        The axes string, one letter per dimension (see the module docstring).

    Raises
    ------
    ValueError
        For arrays of fewer than 2 or more than 5 dimensions, where no guess is safe.
    """
    ndim = len(shape)
    if rgb is None:
        rgb = ndim in _DEFAULTS_RGB and shape[-1] in (3, 4)
    table = _DEFAULTS_RGB if rgb else _DEFAULTS
    if ndim in table:
        return table[ndim]
    raise ValueError(
        f"cannot guess the axes of a {ndim}-D array of shape {tuple(shape)}; "
        "napari-sr needs at least the two image axes Y and X and at most five axes "
        "- pass axes explicitly, e.g. axes='TZCYX'"
    )


def frame_axes(ndim: int) -> str | None:
    """The axes guessed for one frame of a burst of ``ndim`` dimensions (its T axis is the
    frames'): ``YX``, ``ZYX`` or ``ZCYX``; None where no guess is safe."""
    return _FRAME_DEFAULTS.get(ndim)


def validate_axes(axes: str, shape: Sequence[int]) -> str:
    """Check an axes string against an array shape and return it in upper case.

    Raises
    ------
    TypeError
        If ``axes`` is not a string.
    ValueError
        If its length differs from the number of dimensions, a letter is unknown or
        repeated, or the image axes Y and X are missing.
    """
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string such as 'ZYX', not {type(axes).__name__}")
    upper = axes.upper()
    shape = tuple(shape)
    if len(upper) != len(shape):
        raise ValueError(
            f"axes {axes!r} has {len(upper)} letters but the array has {len(shape)} "
            f"dimensions (shape {shape}); give one letter per dimension, "
            f"e.g. axes={_suggest(shape)!r}"
        )
    unknown = sorted(set(upper) - set(AXIS_LETTERS))
    if unknown:
        raise ValueError(
            f"axes {axes!r} contains unknown letter(s) {''.join(unknown)!r}; "
            f"use only {', '.join(AXIS_LETTERS)} (time, depth, channel, rows, columns)"
        )
    repeated = sorted({a for a in upper if upper.count(a) > 1})
    if repeated:
        raise ValueError(f"axes {axes!r} repeats {''.join(repeated)!r}; each axis may appear once")
    if "Y" not in upper or "X" not in upper:
        raise ValueError(
            f"axes {axes!r} lacks the image axes Y and X; napari-sr works on images, "
            "so both must be present"
        )
    return upper


def resolve_axes(axes: str | None, shape: Sequence[int]) -> str:
    """Return ``axes`` validated against ``shape``, or the default guess when it is None."""
    if axes is None:
        return default_axes(shape)
    return validate_axes(axes, shape)


def is_rgb(axes: str, shape: Sequence[int]) -> bool:
    """True if the array is an RGB(A) image: a last ``C`` axis of length 3 or 4."""
    return axes.endswith("C") and shape[-1] in (3, 4)


def _suggest(shape: tuple[int, ...]) -> str:
    try:
        return default_axes(shape)
    except ValueError:
        return "TZCYX"
