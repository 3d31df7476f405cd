"""Tiles with halo and blending: the cut of an axis, and stitching that reproduces the
untiled result (numpy only: the 'model' here is a local filter plus nearest upsampling)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from napari_sr.engine.tiling import Stitcher, round_up, split_axis


@pytest.mark.parametrize("length", [1, 7, 32, 33, 101])
@pytest.mark.parametrize("tile", [None, 4, 16, 40])
@pytest.mark.parametrize("multiple", [1, 4])
def test_cores_partition_the_axis_and_reads_stay_aligned(length, tile, multiple):
    axis = split_axis(length, tile, margin=5, blend=3, multiple=multiple)
    starts = [start for start, _ in axis.cores]
    stops = [stop for _, stop in axis.cores]
    assert starts[0] == 0 and stops[-1] == length and starts[1:] == stops[:-1]
    assert axis.padded == round_up(length, multiple)
    for k, (start, stop) in enumerate(axis.cores):
        if tile is not None:
            assert stop - start <= max(tile // multiple, 1) * multiple
        read_start, read_stop = axis.read(k)
        assert read_start % multiple == 0 and (read_stop - read_start) % multiple == 0
        assert 0 <= read_start <= start - min(axis.margin, start)
        assert stop <= read_stop <= axis.padded
        # the kept outputs (core ± blend) lie inside what the tile read
        assert read_start <= start - (axis.blend if k else 0)
    if tile is None or tile >= length:
        assert len(axis) == 1 and axis.read(0) == (0, axis.padded)


def test_cores_have_nearly_equal_lengths():
    axis = split_axis(100, 30, margin=0, blend=0, multiple=4)
    lengths = [stop - start for start, stop in axis.cores]
    assert len(lengths) == 4 and max(lengths) - min(lengths) <= 4


def test_blend_shrinks_to_fit_short_cores():
    axis = split_axis(10, 3, margin=8, blend=8)
    assert axis.blend <= min(stop - start for start, stop in axis.cores) // 2


@pytest.mark.parametrize("blend", [0, 2, 5])
@pytest.mark.parametrize("scale", [1, 3])
def test_pieces_cover_every_output_pixel_with_total_weight_one(blend, scale):
    axis = split_axis(37, 10, margin=8, blend=blend)
    total = np.zeros(37 * scale)
    for k in range(len(axis)):
        for _, start, stop, weights in axis.pieces(k, scale):
            total[start:stop] += 1 if weights is None else weights
    np.testing.assert_allclose(total, 1, rtol=1e-6)


def _filter_and_upsample(image: np.ndarray, scale: int) -> np.ndarray:
    """A stand-in for a model with a 2-pixel receptive radius: a 5×5 weighted sum with
    zero padding at the border of what it sees, then nearest upsampling."""
    weights = np.arange(1.0, 26.0).reshape(5, 5)  # not symmetric: catches flipped offsets
    padded = np.pad(image, [(0, 0)] * (image.ndim - 2) + [(2, 2), (2, 2)])
    h, w = image.shape[-2:]
    out = sum(
        weights[dy, dx] * padded[..., dy : dy + h, dx : dx + w]
        for dy, dx in itertools.product(range(5), range(5))
    )
    return out.repeat(scale, -2).repeat(scale, -1).astype(np.float32)


def _stitch(image, scale, tile, *, halo, blend, multiple=1):
    h, w = image.shape[-2:]
    rows, cols = (
        split_axis(n, tile, margin=halo + blend, blend=blend, multiple=multiple) for n in (h, w)
    )
    out = np.full((*image.shape[:-2], h * scale, w * scale), np.nan, np.float32)
    writes = np.zeros((h * scale, w * scale), int)

    def write(ys, xs, values):
        out[..., ys, xs] = values
        writes[ys, xs] += 1

    stitcher = Stitcher(rows, cols, scale, write)
    for r, c in itertools.product(range(len(rows)), range(len(cols))):
        (y0, y1), (x0, x1) = rows.read(r), cols.read(c)
        # inside the image only: no size multiple here, so reads never pass the border
        stitcher.add(r, c, _filter_and_upsample(image[..., y0:y1, x0:x1], scale))
    assert stitcher.done
    assert (writes == 1).all()  # every output pixel written exactly once
    return out


@pytest.mark.parametrize("tile", [5, 8, 13, 100])
@pytest.mark.parametrize("blend", [0, 3])
def test_tiles_with_enough_halo_reproduce_the_whole_image(rng, tile, blend):
    image = rng.random((2, 23, 30)).astype(np.float32)
    whole = _filter_and_upsample(image, 2)
    tiled = _stitch(image, 2, tile, halo=2, blend=blend)
    np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-5)


def test_too_little_halo_shows_at_the_seams(rng):
    """The check above has teeth: a halo shorter than the receptive radius differs."""
    image = rng.random((23, 30)).astype(np.float32)
    tiled = _stitch(image, 2, 8, halo=1, blend=0)
    assert np.abs(tiled - _filter_and_upsample(image, 2)).max() > 0.1


def test_blending_fades_between_differing_tiles():
    """Tiles that disagree (each adds its own offset) meet in a linear ramp, not a step."""
    rows = split_axis(8, 4, margin=2, blend=2)
    cols = split_axis(4, None, margin=0, blend=0)
    out = np.zeros((8, 4), np.float32)

    def write(ys, xs, values):
        out[ys, xs] = values

    stitcher = Stitcher(rows, cols, 1, write)
    for r in range(len(rows)):
        y0, y1 = rows.read(r)
        stitcher.add(r, 0, np.full((y1 - y0, 4), float(r), np.float32))
    column = out[:, 0]
    np.testing.assert_allclose(column, [0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1])
