"""Cutting a plane into tiles with a halo, and stitching the upscaled tiles back.

Each axis of a plane is cut into *cores*, consecutive ranges that partition it. A tile is
computed on its core widened by a *margin* of context on both sides (clipped at the image
border, never padded with invented content there, so that a border tile sees exactly what
the whole image sees), and only the outputs of its core, widened by the *blend* width, are
kept. Where two tiles' kept outputs overlap (``2 * blend`` input pixels around each seam)
they are combined with linear ramps that sum to one, so equal values stay equal and
differing ones fade into each other without a visible edge.

Stitching writes every output pixel once, as soon as all the tiles covering it are done:
apart from the tile being processed, only the overlap bands of one row of tiles are held,
so memory does not grow with the plane.

Everything here is numpy; the model that computes a tile is someone else's business.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple`` (≥ 1)."""
    return -(-int(value) // multiple) * multiple


@dataclass(frozen=True)
class AxisTiles:
    """How one axis of a plane is cut.

    Attributes
    ----------
    length : int
        Input pixels along the axis.
    multiple : int
        Every read range starts at, and is as long as, a multiple of this (the model's
        size multiple); the image is reflect-padded at its far end to reach one.
    cores : tuple of (int, int)
        ``[start, stop)`` of each tile's own input pixels; they partition ``[0, length)``.
    margin : int
        Context read on each side of a core, in input pixels (a multiple of ``multiple``).
    blend : int
        Half-width, in input pixels, of the band around each seam where neighbouring tiles
        are blended (0: tiles are cut at the seam).
    """

    length: int
    multiple: int
    cores: tuple[tuple[int, int], ...]
    margin: int
    blend: int

    @property
    def padded(self) -> int:
        """``length`` rounded up to ``multiple``: the extent the model sees untiled."""
        return round_up(self.length, self.multiple)

    def __len__(self) -> int:
        return len(self.cores)

    def read(self, k: int) -> tuple[int, int]:
        """``[start, stop)`` of the input tile ``k`` is computed on, within ``[0, padded)``.

        Beyond ``length`` lie the reflect-padded pixels the untiled model also sees.
        """
        start, stop = self.cores[k]
        # the last core ends at ``length``: its read reaches the padded end like the whole
        # image's does, so that its input is a multiple long too
        stop = round_up(stop + self.margin, self.multiple)
        return max(0, start - self.margin), min(self.padded, stop)

    def largest_read(self) -> int:
        """The longest read range, in input pixels."""
        return max(stop - start for start, stop in map(self.read, range(len(self))))

    def pieces(self, k: int, scale: int) -> list[tuple[int, int, int, np.ndarray | None]]:
        """The output ranges tile ``k`` contributes to, each as ``(segment, start, stop,
        weights)`` in output pixels: segment ``2k`` is owned by tile ``k`` alone (weights
        None); segment ``2k ± 1`` is the band shared with the previous/next tile, with the
        float32 ramp this tile's values are weighted by. Empty ranges are left out."""
        start, stop = self.cores[k]
        last = len(self.cores) - 1
        band = 2 * self.blend * scale
        ramp = ((np.arange(band, dtype=np.float64) + 0.5) / max(band, 1)).astype(np.float32)
        out = []
        if k > 0 and band:
            band_start, band_stop = (start - self.blend) * scale, (start + self.blend) * scale
            out.append((2 * k - 1, band_start, band_stop, ramp))
        solo_start = start + (self.blend if k > 0 else 0)
        solo_stop = stop - (self.blend if k < last else 0)
        if solo_stop > solo_start:
            out.append((2 * k, solo_start * scale, solo_stop * scale, None))
        if k < last and band:
            band_start, band_stop = (stop - self.blend) * scale, (stop + self.blend) * scale
            out.append((2 * k + 1, band_start, band_stop, (1 - ramp).astype(np.float32)))
        return out


def split_axis(
    length: int, tile: int | None, *, margin: int, blend: int, multiple: int = 1
) -> AxisTiles:
    """Cut an axis of ``length`` input pixels into cores of at most about ``tile`` pixels.

    Parameters
    ----------
    length : int
        Input pixels along the axis.
    tile : int or None
        Longest core, in input pixels (rounded down to ``multiple``, at least one
        multiple); None or ≥ ``length`` for a single core.
    margin : int
        Context each tile reads on each side, in input pixels (the model's halo plus the
        blend width); rounded up to ``multiple`` so that reads stay aligned.
    blend : int
        Half-width of the blended band around each seam, in input pixels; lowered where
        cores are too short to hold two bands.
    multiple : int
        The model's size multiple.

    Returns
    -------
    AxisTiles
        Cores of nearly equal length (multiples of ``multiple`` except the last).
    """
    multiple = max(1, int(multiple))
    if tile is None or tile >= length:
        return AxisTiles(length, multiple, ((0, length),), 0, 0)
    blocks = math.ceil(length / multiple)
    per_tile = max(1, int(tile) // multiple)
    count = math.ceil(blocks / per_tile)
    base, extra = divmod(blocks, count)
    bounds = [0]
    for k in range(count):
        bounds.append(min(length, bounds[-1] + (base + (k < extra)) * multiple))
    cores = tuple(itertools.pairwise(bounds))
    shortest = min(stop - start for start, stop in cores)
    blend = max(0, min(int(blend), shortest // 2))
    return AxisTiles(length, multiple, cores, round_up(margin, multiple), blend)


class Stitcher:
    """Collects upscaled tiles of one batch of planes and writes each output pixel once.

    Parameters
    ----------
    rows, cols : AxisTiles
        How the plane's Y and X axes are cut.
    scale : int
        Output pixels per input pixel along each axis.
    write : callable
        ``write(ys, xs, values)`` stores ``values`` (float32, shape ``(..., len(ys),
        len(xs))``) as the finished output at rows ``ys`` and columns ``xs`` (slices, in
        output pixels).

    Notes
    -----
    Call :meth:`add` once for every tile, in any order; raster order (row by row) keeps
    the pending overlap bands to one row of tiles.
    """

    def __init__(
        self,
        rows: AxisTiles,
        cols: AxisTiles,
        scale: int,
        write: Callable[[slice, slice, np.ndarray], None],
    ) -> None:
        self.rows, self.cols, self.scale, self.write = rows, cols, int(scale), write
        # segment (ys, xs) -> [weighted sum so far, tiles still missing]
        self._pending: dict[tuple[int, int], list] = {}

    def add(self, r: int, c: int, values: np.ndarray) -> None:
        """Stitch tile ``(r, c)``: ``values`` is the model's float output, shape
        ``(..., height, width)`` for the input range ``rows.read(r)`` × ``cols.read(c)``
        (``scale`` times as many pixels)."""
        s = self.scale
        top, left = self.rows.read(r)[0] * s, self.cols.read(c)[0] * s
        for sy, y0, y1, wy in self.rows.pieces(r, s):
            for sx, x0, x1, wx in self.cols.pieces(c, s):
                part = values[..., y0 - top : y1 - top, x0 - left : x1 - left]
                if wy is None and wx is None:
                    self.write(slice(y0, y1), slice(x0, x1), part)
                    continue
                weight = (1 if wy is None else wy[:, None]) * (1 if wx is None else wx)
                key = (sy, sx)
                entry = self._pending.get(key)
                if entry is None:
                    missing = (1 + (wy is not None)) * (1 + (wx is not None)) - 1
                    entry = self._pending[key] = [part * weight, missing]
                else:
                    entry[0] += part * weight
                    entry[1] -= 1
                if entry[1] == 0:
                    self.write(slice(y0, y1), slice(x0, x1), entry[0])
                    del self._pending[key]

    @property
    def done(self) -> bool:
        """True once no output pixel waits for another tile."""
        return not self._pending
