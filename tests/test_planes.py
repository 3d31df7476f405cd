"""napari_sr.utils.planes: an n-D array as a stack of its planes, and back."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr.utils.planes import fold_planes, unfold_planes


@pytest.mark.parametrize(("axes", "keep"), [("YX", "YX"), ("ZCYX", "YX"), ("TYXC", "CYX"),
                                            ("CZYX", "CYX"), ("YXC", "YXC")])  # fmt: skip
def test_planes_fold_in_the_arrays_order_and_unfold_back(axes, keep):
    shape = (2, 3, 4, 5)[: len(axes)]
    data = np.arange(np.prod(shape)).reshape(shape)
    planes = fold_planes(data, axes, keep)
    kept = tuple(shape[axes.index(a)] for a in keep)
    assert planes.shape == (data.size // np.prod(kept), *kept)
    # plane n is the n-th combination of the folded axes, in their order
    loop = [a for a in axes if a not in keep]
    first = data[tuple(0 if a in loop else slice(None) for a in axes)]
    np.testing.assert_array_equal(planes[0], np.transpose(first, [
        [a for a in axes if a in keep].index(a) for a in keep]))  # fmt: skip
    np.testing.assert_array_equal(unfold_planes(planes, axes, shape, keep), data)


def test_kept_axes_may_change_length_when_unfolding():
    data = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # ZYX
    doubled = np.repeat(np.repeat(fold_planes(data, "ZYX"), 2, axis=1), 2, axis=2)
    out = unfold_planes(doubled, "ZYX", data.shape)
    assert out.shape == (2, 6, 8)
    np.testing.assert_array_equal(out[1, ::2, ::2], data[1])
