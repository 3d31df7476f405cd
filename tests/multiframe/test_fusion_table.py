"""The table of fusion methods (napari_sr.multiframe.fusion.fusion_methods): every method
named runs, at the scales it says, and is refused with its reason elsewhere."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

import napari_sr
from napari_sr.models.bundled import bundled_models, is_multiframe, parse_name
from napari_sr.multiframe import fusion
from napari_sr.multiframe.fusion import (
    CLASSICAL,
    DEFAULT_FUSION,
    fusion_help,
    fusion_methods,
    fusion_names,
    get_fusion_method,
)
from napari_sr.multiframe.simulate import make_burst

TABLE = fusion_methods()


def _burst(scale: int, frames: int = 6, size: int = 32):
    rng = np.random.default_rng(3)
    truth = ndimage.gaussian_filter(rng.random((size * scale, size * scale)), 1.5 * scale)
    truth = (truth - truth.min()) / np.ptp(truth) * 180 + 20
    low, shifts, truth = make_burst(truth, scale, frames, psf=0.5 * scale, peak=400, seed=1)
    return low, shifts, truth


def _available_scale(method) -> int:
    return 2 if method.scales is None else method.scales[0]


def test_the_table_lists_the_classical_methods_then_the_bundled_networks():
    names = fusion_names()
    assert names[:4] == ("shift-add", "ibp", "robust", "learned")
    networks = [n for n in bundled_models() if is_multiframe(n)]
    assert networks == [
        "highresnet_x2.bursts291", "highresnet_x2.microscope",
        "highresnet_x4.bursts291", "highresnet_x4.microscope",
    ]  # fmt: skip
    assert list(names[4:]) == networks  # asked from models.bundled, not parsed here
    assert DEFAULT_FUSION in names and len(set(names)) == len(names)
    assert [m.learned for m in TABLE] == [False] * 3 + [True] * (len(TABLE) - 3)
    assert tuple(m.name for m in CLASSICAL) == fusion.METHODS
    assert fusion.DEFAULT_ITERATIONS == {"ibp": 10, "robust": 40}


@pytest.mark.parametrize("method", TABLE, ids=lambda m: m.name)
def test_every_method_named_runs_where_it_is_available(method):
    scale = _available_scale(method)
    assert method.unavailable(scale) is None
    low, shifts, truth = _burst(scale)
    image = napari_sr.Image(low, "TYX", pixel_size={"Y": 1.0, "X": 1.0})
    out = napari_sr.misr(image, scale, method=method.name, shifts=shifts)  # known: quicker
    assert out.shape == truth.shape and out.dtype == low.dtype
    assert out.pixel_size == pytest.approx({"Y": 1 / scale, "X": 1 / scale})
    # better than upscaling one frame: what every fusion method is for
    single = napari_sr.upscale(low[0], scale, method="bicubic")
    span = float(np.ptp(truth))
    gain = napari_sr.psnr(truth, out.data, data_range=span, crop_border=scale) - napari_sr.psnr(
        truth, single, data_range=span, crop_border=scale
    )
    assert gain > 1.0, method.name
    if method.learned:  # the network of the entry, as its provenance says
        assert out.metadata["provenance"]["method"] == "misr learned (highresnet)"
        assert parse_name(method.network(scale))[1] == scale


def test_a_bundled_network_by_name_is_what_learned_runs_at_its_scale():
    low, shifts, _ = _burst(2, frames=4, size=16)
    by_name = napari_sr.misr(low, 2, method="highresnet_x2.microscope", shifts=shifts)
    np.testing.assert_array_equal(by_name, napari_sr.misr(low, 2, method="learned", shifts=shifts))


@pytest.mark.parametrize("method", TABLE, ids=lambda m: m.name)
def test_every_method_is_refused_with_its_reason_where_it_is_not_available(method):
    frames = np.zeros((3, 16, 16), np.float32)
    if method.scales is None:  # classical: every whole scale
        assert all(method.unavailable(s) is None for s in range(2, fusion.MAX_SCALE + 1))
        return
    missing = next(s for s in range(2, 9) if s not in method.scales)
    reason = method.unavailable(missing)
    have = ", ".join(f"x{s}" for s in method.scales)
    assert f"x{missing}" in reason and have in reason and "train_fusion" in reason
    with pytest.raises(ValueError, match="^" + reason.replace("(", r"\(").replace(")", r"\)")):
        napari_sr.misr(frames, missing, method=method.name)


def test_the_reasons_in_words():
    learned = get_fusion_method("learned")
    assert learned.scales == (2, 4) and learned.network(4) == "highresnet_x4.microscope"
    assert learned.unavailable(3).startswith(
        "no fusion network is bundled for x3 (bundled: x2, x4); use a classical method"
    )
    named = get_fusion_method("highresnet_x2.bursts291")
    assert named.scales == (2,) and named.network(4) is None
    assert named.unavailable(4).startswith(
        "the fusion network highresnet_x2.bursts291 works at x2, not x4; use a classical method"
    )
    assert get_fusion_method("robust").unavailable(7) is None


@pytest.mark.parametrize("method", CLASSICAL, ids=lambda m: m.name)
def test_classical_iterations_are_the_declared_default(method):
    low, shifts, _ = _burst(2, frames=4, size=16)
    seen = []
    fusion.fuse(low.astype(float), shifts, 2, method=method.name,
                progress=lambda done, total: seen.append(total))  # fmt: skip
    assert (method.refine is None) == (method.iterations is None)
    assert set(seen) == {method.iterations or 1}
    assert fusion.fusion_steps(method.name, None) == (method.iterations or 1)
    if method.iterations is None:
        with pytest.raises(ValueError, match=r"iterations apply to the iterative methods "
                                             r"'ibp' and 'robust', not 'shift-add'"):  # fmt: skip
            fusion.fuse(low.astype(float), shifts, 2, method=method.name, iterations=3)


def test_unknown_names_list_every_method():
    every = ", ".join(fusion_names())
    with pytest.raises(ValueError, match=f"unknown fusion method 'magic'; choose one of {every}$"):
        get_fusion_method("magic")
    with pytest.raises(ValueError, match=f"unknown method 'magic'; choose one of {every}, or a"):
        napari_sr.misr(np.zeros((3, 16, 16), np.float32), 2, method="magic")


def test_help_names_every_method_and_the_default():
    text = fusion_help()
    assert text.startswith(f"default {DEFAULT_FUSION}; ")
    assert all(f"{m.name}: {m.summary}" in text for m in TABLE)


def test_the_entries_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TABLE[0].name = "other"  # type: ignore[misc]
