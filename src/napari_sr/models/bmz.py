"""BioImage Model Zoo packages (resource description format 0.5) of napari-sr networks.

:func:`export_bmz` writes a zip that every BMZ consumer (bioimageio.core, ilastik, deepImageJ,
the zoo's own tests) runs: TorchScript weights (and ONNX where the ``onnx`` extra is
installed, both checked against PyTorch by :mod:`napari_sr.models.export`), a test input and
the output napari-sr computes for it, a cover (input beside output), the model card as the
documentation, the architecture's paper as citation, axes with sizes and scales (the output's
Y and X are ``scale`` times the input's, in pixels ``1/scale`` as long), and pre- and
post-processing that do what napari-sr's normalisation does:

- a fixed range (the bundled defaults: 0-255) → ``scale_linear`` to 0-1 before and the
  inverse after, so the output is in the input's units;
- percentiles of the image → ``scale_range`` over the image before; the output stays in
  those normalised units (BMZ processing cannot undo per-image percentiles), said in the
  output's description.

A package needs the ``bmz`` extra (``pip install "napari-sr[bmz]"``: bioimageio.core).
Tiling, RGB → luma and casting back to the input's dtype stay outside the package, as in
every BMZ model.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch

from ..utils.atomic import atomic_write, check_target
from .bmz_load import BmzNetwork, load_bmz, require_bmz

BMZ_SUFFIX = ".zip"
TEST_EDGE = 64
"""Edge of the test input, in input pixels (rounded up to the size multiple)."""

VALIDATION = """
## Validation
Exported by napari-sr: the TorchScript and ONNX weights were run at two sizes and equal
PyTorch's forward pass to 1e-4; the test output is napari-sr's result for the test input
(normalisation, network, inverse normalisation), and bioimageio.core's `test_model`
reproduces it from the package.
"""

DEFAULT_AUTHORS = ({"name": "napari-sr developers"},)
BUNDLED_LICENSE = "BSD-3-Clause"


def export_bmz(
    model: Any,
    path: str | os.PathLike,
    *,
    image: np.ndarray | None = None,
    name: str | None = None,
    description: str | None = None,
    authors: list[dict[str, str] | str] | None = None,
    license: str | None = None,
    documentation: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a BioImage Model Zoo package (spec 0.5 zip).

    Parameters
    ----------
    model : torch.nn.Module, str or path-like
        A single-image napari-sr network, bundled weights by name, or a model file.
    path : path-like
        The package, ``*.zip``.
    image : numpy.ndarray, optional
        (Y, X) image (or (Y, X, C) for a 3-channel model) like those the package is for: a
        central crop of at least :data:`TEST_EDGE` pixels is the test input and the cover,
        and its dtype picks the normalisation the package does (see
        :meth:`~napari_sr.models.info.ModelInfo.normalization_for`). Default: the bundled
        ``cell`` sample (8-bit).
    name, description : str, optional
        Default: from the bundled name or the architecture and scale.
    authors : list of str or dict, optional
        Names, or BMZ author entries (``name``, ``affiliation``, ``orcid``, ...); default
        "napari-sr developers".
    license : str, optional
        SPDX identifier of the weights' licence; bundled weights are BSD-3-Clause, other
        weights must say theirs (e.g. ``'CC-BY-4.0'``).
    documentation : str, optional
        Markdown model card; default the bundled card, else one made from the record.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ImportError
        Without the ``bmz`` extra.
    ValueError
        A fusion network, a path not ending in ``.zip``, no licence for weights that are not
        bundled, or an image of the wrong shape.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    require_bmz()
    from .bundled import bundled_models, model_card
    from .export import resolve_network

    path = Path(path)
    if path.suffix.lower() != BMZ_SUFFIX:
        raise ValueError(f"a BMZ package is a zip: name it '*.zip', not {path.name!r}")
    check_target(path, overwrite=overwrite)
    bundled = str(model) if isinstance(model, str) and model in bundled_models() else None
    network = resolve_network(model)
    info = network.info
    if network.spec.framework == "diffusion":
        raise ValueError(
            f"{info.architecture} is the denoiser of a diffusion (run step by step by a "
            "sampler); BMZ packages of diffusion networks are not supported"
        )
    if network.spec.framework == "multiframe":
        raise ValueError(
            f"{info.architecture} fuses frames; BMZ packages of fusion networks are not "
            "supported yet: export it with napari-sr export --frames K instead"
        )
    if license is None:
        if bundled is None:
            raise ValueError(
                "say the weights' licence: license='CC-BY-4.0' (--license), or another SPDX "
                "identifier"
            )
        license = BUNDLED_LICENSE
    if documentation is None:
        documentation = model_card(bundled) if bundled else _card_from_record(network)
    title = name or (bundled or f"{info.architecture} x{info.scale}").replace("_", " ")
    title = re.sub(r"[^A-Za-z0-9_+\- ()]", " ", title)  # what the spec allows in a name
    with tempfile.TemporaryDirectory(prefix="napari-sr-bmz-") as folder:
        folder = Path(folder)
        texts = {"name": title, "description": description, "documentation": documentation}
        descr = _describe(network, folder, image=image, authors=authors, license=license, **texts)
        _check_package(descr)
        from bioimageio.spec import save_bioimageio_package

        package = save_bioimageio_package(descr, output_path=folder / "package.zip")
        return atomic_write(path, lambda tmp: shutil.copyfile(package, tmp), overwrite=overwrite)


def _describe(network, folder: Path, *, image, name, description, authors, license,
              documentation):  # fmt: skip
    """The 0.5 model description of ``network``, its files written to ``folder``."""
    from bioimageio.spec.model import v0_5

    from .export import OPSET, export_model, exportable, require_onnx

    info, spec = network.info, network.spec
    scale, channels, multiple = info.scale, info.in_channels, max(1, spec.size_multiple)
    raw, dtype = _test_image(image, channels, multiple, int(spec.halo))  # (1, C, H, W)
    norm = info.normalization_for(dtype)  # for images like the test image
    luma = info.color == "luma" and channels == 1  # grayscale into a network trained on Y
    normalised, pre, post, unit_note, (low, high) = _processing(norm, raw, v0_5, luma)
    with torch.inference_mode():
        result = exportable(network)[0](torch.from_numpy(normalised)).numpy()
    if post is not None:  # the inverse of a fixed range: back to the input's units
        result = result * (high - low) + low
    np.save(folder / "test_input.npy", raw)
    np.save(folder / "test_output.npy", result.astype(np.float32))
    for which, values in (("input", raw), ("output", result)):  # viewable samples
        tifffile.imwrite(folder / f"sample_{which}.tif", values[0].astype(np.float32))
    _cover(raw, result, folder / "cover.png")
    (folder / "README.md").write_text(documentation + VALIDATION, encoding="utf-8")

    weights: dict[str, Any] = {}
    export_model(network, folder / "weights.pt")
    weights["torchscript"] = v0_5.TorchscriptWeightsDescr(
        source=folder / "weights.pt", pytorch_version=v0_5.Version(torch.__version__.split("+")[0])
    )
    try:
        require_onnx()
    except ImportError:
        pass
    else:
        export_model(network, folder / "weights.onnx")
        weights["onnx"] = v0_5.OnnxWeightsDescr(
            source=folder / "weights.onnx", opset_version=OPSET, parent="torchscript"
        )

    channel_names = ["luma" if info.color == "luma" else "intensity"] if channels == 1 else (
        ["red", "green", "blue"] if channels == 3 else [f"c{k}" for k in range(channels)]
    )  # fmt: skip
    # the smallest input keeps some output inside the halo on both sides
    smallest = multiple * -(-(2 * int(spec.halo) + 16) // multiple)
    step = v0_5.ParameterizedSize(min=smallest, step=multiple)
    inputs = v0_5.InputTensorDescr(
        id=v0_5.TensorId("input"),
        description=f"low-resolution image; {norm.kind} normalisation "
        f"({norm.low:g}-{norm.high:g})",
        axes=[
            v0_5.BatchAxis(),
            v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in channel_names]),
            v0_5.SpaceInputAxis(id=v0_5.AxisId("y"), size=step),
            v0_5.SpaceInputAxis(id=v0_5.AxisId("x"), size=step),
        ],
        test_tensor=v0_5.FileDescr(source=folder / "test_input.npy"),
        sample_tensor=v0_5.FileDescr(source=folder / "sample_input.tif"),
        preprocessing=[pre],
    )

    def space(axis: str):
        # the halo tells tiling consumers (and load_bmz) how much of each tile's border to
        # discard: the network's receptive field, in output pixels
        reference = v0_5.SizeReference(tensor_id=v0_5.TensorId("input"), axis_id=v0_5.AxisId(axis))
        return v0_5.SpaceOutputAxisWithHalo(
            id=v0_5.AxisId(axis), size=reference, scale=1 / scale, halo=int(spec.halo) * scale
        )

    outputs = v0_5.OutputTensorDescr(
        id=v0_5.TensorId("output"),
        description=f"the image upscaled ×{scale}; {unit_note}",
        axes=[
            v0_5.BatchAxis(),
            v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in channel_names]),
            space("y"),
            space("x"),
        ],
        test_tensor=v0_5.FileDescr(source=folder / "test_output.npy"),
        sample_tensor=v0_5.FileDescr(source=folder / "sample_output.tif"),
        postprocessing=[post] if post is not None else [],
    )
    return v0_5.ModelDescr(
        name=name,
        description=description
        or f"Super-resolution ×{scale} ({info.architecture}), exported by napari-sr",
        covers=[v0_5.FileDescr(source=folder / "cover.png")],
        authors=[_author(a, v0_5) for a in (authors or DEFAULT_AUTHORS)],
        cite=_citations(spec, v0_5),
        license=license,
        documentation=v0_5.FileDescr(source=folder / "README.md"),
        tags=["super-resolution", "napari-sr", info.architecture, f"x{scale}", "2d"],
        inputs=[inputs],
        outputs=[outputs],
        weights=v0_5.WeightsDescr(**weights),
        config={"napari_sr": {"record": info.to_dict(), "halo": int(spec.halo)}},
    )


def _processing(norm, raw: np.ndarray, v0_5, luma: bool):
    """BMZ pre- and post-processing doing what ``norm`` does, ``raw`` normalised by it,
    what the output's units are, and the fixed limits used (if any). A luma network seeing
    a grayscale image gets the limits widened as napari-sr widens them
    (:func:`~napari_sr.color.luma_limits`: the image's range onto Y 16-235)."""
    if norm.kind == "range":
        from ..color import luma_limits

        low, high = luma_limits((norm.low, norm.high)) if luma else (norm.low, norm.high)
        gain = 1.0 / (high - low)
        pre = v0_5.ScaleLinearDescr(kwargs=v0_5.ScaleLinearKwargs(gain=gain, offset=-low * gain))
        post = v0_5.ScaleLinearDescr(kwargs=v0_5.ScaleLinearKwargs(gain=high - low, offset=low))
        normalised = ((raw - low) * gain).astype(np.float32)
        return normalised, pre, post, "in the input's units", (low, high)
    axes = [v0_5.AxisId("channel"), v0_5.AxisId("y"), v0_5.AxisId("x")]
    eps = 1e-6
    pre = v0_5.ScaleRangeDescr(
        kwargs=v0_5.ScaleRangeKwargs(
            axes=axes, min_percentile=norm.low, max_percentile=norm.high, eps=eps
        )
    )
    low, high = np.percentile(raw, [norm.low, norm.high])
    normalised = ((raw - low) / (high - low + eps)).astype(np.float32)
    note = (f"in the normalised units of the input (its {norm.low:g} and {norm.high:g} "
            "percentiles at 0 and 1)")  # fmt: skip
    return normalised, pre, None, note, (low, high)


def _test_image(
    image: np.ndarray | None, channels: int, multiple: int, halo: int
) -> tuple[np.ndarray, np.dtype]:
    """A (1, C, E, E) float32 crop of ``image`` (default the ``cell`` sample): at least
    :data:`TEST_EDGE` pixels, and more than the halo on both sides; and the image's dtype,
    which picks the normalisation the package does (a model normalises 8-bit images by
    their range, others by percentiles, unless its record says otherwise)."""
    if image is None:
        from ..samples import load_sample

        image = np.asarray(load_sample("cell").data)
        if channels != 1:
            image = np.repeat(image[..., None], channels, axis=-1)
    image = np.asarray(image)
    expected = 2 if channels == 1 else 3
    if image.ndim != expected or (channels != 1 and image.shape[-1] != channels):
        shape = "(Y, X)" if channels == 1 else f"(Y, X, {channels})"
        raise ValueError(f"the test image must be {shape} for this model, not {image.shape}")
    edge = multiple * -(-max(TEST_EDGE, 2 * halo + 32) // multiple)
    if min(image.shape[:2]) < edge:
        raise ValueError(f"the test image must be at least {edge} × {edge} pixels")
    y0, x0 = ((n - edge) // 2 for n in image.shape[:2])
    crop = image[y0 : y0 + edge, x0 : x0 + edge].astype(np.float32)
    crop = crop[None] if channels == 1 else np.moveaxis(crop, -1, 0)
    return crop[None], image.dtype


def _cover(raw: np.ndarray, result: np.ndarray, path: Path) -> None:
    """Input (nearest-neighbour enlarged) beside output: a 2:1 PNG, as BMZ covers are."""
    from PIL import Image as PILImage

    scale = result.shape[-1] // raw.shape[-1]
    left = np.repeat(np.repeat(raw[0], scale, axis=-2), scale, axis=-1)
    both = np.concatenate([left, result[0]], axis=-1)
    low, high = np.percentile(both, [0.5, 99.5])
    grey = np.clip((both - low) / max(high - low, 1e-12) * 255, 0, 255).astype(np.uint8)
    grey = grey[0] if grey.shape[0] == 1 else np.moveaxis(grey[:3], 0, -1)
    PILImage.fromarray(grey).save(path)


def _author(entry: dict[str, str] | str, v0_5):
    return v0_5.Author(**({"name": entry} if isinstance(entry, str) else entry))


def _citations(spec, v0_5) -> list:
    """The architecture's paper, by DOI, or by its arXiv page."""
    paper = spec.paper or spec.name
    text = re.sub(r",?\s*(doi|arXiv):\s*\S+", "", paper).strip(" ,;")
    doi = re.search(r"doi:\s*(10\.[^\s,;]+)", paper)
    if doi:
        return [v0_5.CiteEntry(text=text, doi=v0_5.Doi(doi.group(1)))]
    arxiv = re.search(r"arXiv:\s*([0-9.]+)", paper)
    if arxiv:
        return [v0_5.CiteEntry(text=text, url=f"https://arxiv.org/abs/{arxiv.group(1)}")]
    return []


def _card_from_record(network) -> str:
    info, spec = network.info, network.spec
    lines = [
        f"# {info.architecture} ×{info.scale}",
        "",
        "Super-resolution network exported by napari-sr.",
        f"Architecture: {spec.paper or spec.name}.",
        "",
        f"- scale: ×{info.scale}; channels: {info.in_channels} ({info.color or 'as given'})",
        f"- normalisation: {info.normalization_for(np.dtype('float32')).to_dict()}",
    ]
    metrics = info.metrics.to_dict() if info.metrics else {}
    if metrics:
        lines.append(f"- measured: {metrics}")
    return "\n".join(lines) + "\n"


def _check_package(descr) -> None:
    """Refuse to write a description the spec library itself finds invalid."""
    summary = descr.validation_summary
    if summary.status not in ("valid-format", "passed"):
        raise ValueError(f"the BMZ description is not valid: {summary.format()[:500]}")


__all__ = ["BmzNetwork", "export_bmz", "load_bmz", "require_bmz"]
