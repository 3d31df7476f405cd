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

import importlib.util
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch
from torch import nn

from ..utils.atomic import atomic_write, check_target

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


def require_bmz() -> None:
    """An ImportError naming the extra when bioimageio.core is missing."""
    if importlib.util.find_spec("bioimageio.core") is None:
        raise ImportError(
            "BioImage Model Zoo packages need bioimageio.core, which is not installed: "
            "pip install 'napari-sr[bmz]'"
        )


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
    from .export import _network

    path = Path(path)
    if path.suffix.lower() != BMZ_SUFFIX:
        raise ValueError(f"a BMZ package is a zip: name it '*.zip', not {path.name!r}")
    check_target(path, overwrite=overwrite)
    bundled = str(model) if isinstance(model, str) and model in bundled_models() else None
    network = _network(model)
    info = network.info
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
    import torch
    from bioimageio.spec.model import v0_5

    from .export import OPSET, export_model, exportable, require_onnx

    info, spec = network.info, network.spec
    scale, channels, multiple = info.scale, info.in_channels, max(1, spec.size_multiple)
    raw, dtype = _test_image(image, channels, multiple, int(spec.halo))  # (1, C, H, W)
    norm = info.normalization_for(dtype)  # for images like the test image
    normalised, pre, post, unit_note = _processing(norm, raw, v0_5)
    with torch.inference_mode():
        result = exportable(network)[0](torch.from_numpy(normalised)).numpy()
    if post is not None:  # the inverse of a fixed range: back to the input's units
        low, high = norm.low, norm.high
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


def _processing(norm, raw: np.ndarray, v0_5):
    """BMZ pre- and post-processing doing what ``norm`` does, ``raw`` normalised by it, and
    what the output's units are."""
    if norm.kind == "range":
        gain = 1.0 / (norm.high - norm.low)
        pre = v0_5.ScaleLinearDescr(
            kwargs=v0_5.ScaleLinearKwargs(gain=gain, offset=-norm.low * gain)
        )
        post = v0_5.ScaleLinearDescr(
            kwargs=v0_5.ScaleLinearKwargs(gain=norm.high - norm.low, offset=norm.low)
        )
        normalised = ((raw - norm.low) * gain).astype(np.float32)
        return normalised, pre, post, "in the input's units"
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
    return normalised, pre, None, note


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


# ------------------------------------------------------------------------------ import

CANONICAL_AXES = ("batch", "channel", "y", "x")


def load_bmz(path: str | os.PathLike, *, weights: str | None = None):
    """A BioImage Model Zoo SR or restoration package as a network ``upscale`` runs.

    The package (a ``.zip``, format 0.4 or 0.5) must have one 2D input and one output,
    with batch, channel, y and x axes in any order (batch and channel may be absent), and
    TorchScript or ONNX weights (the ``weights`` format, else TorchScript where present).
    The scale is the output's pixel size relative to the input's (or the test tensors'
    ratio); the normalisation is the package's preprocessing: ``scale_range`` becomes
    napari-sr's percentile normalisation, ``scale_linear`` a fixed range; the output is
    mapped back to the input's units as napari-sr does for its own models. Nothing of the
    package is run that is not its declared weights.

    Returns
    -------
    torch.nn.Module
        With ``scale``, ``in_channels``, ``normalization`` and ``spec`` (halo and size
        multiple from the package where it says them; not tiling-safe otherwise).

    Raises
    ------
    ImportError
        Without the ``bmz`` extra.
    ValueError
        A file that is not a valid model package, or one napari-sr cannot run (3D,
        several inputs, zero-mean normalisation, Keras/TensorFlow weights only), naming
        what it found.
    """
    require_bmz()
    from bioimageio.spec import InvalidDescr, load_model_description

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            descr = load_model_description(path, format_version="latest", perform_io_checks=False)
    except Exception as exc:  # not a zip, no rdf.yaml, unreadable YAML, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{path.name} is not a valid BioImage Model Zoo model package: {reason[:200]}"
        ) from exc
    if isinstance(descr, InvalidDescr) or getattr(descr, "type", None) != "model":
        raise ValueError(f"{path.name} is not a valid BioImage Model Zoo model package")
    where = f"BMZ package {path.name}"
    if len(descr.inputs) != 1 or len(descr.outputs) != 1:
        raise ValueError(f"{where} has {len(descr.inputs)} inputs and {len(descr.outputs)} "
                         "outputs; napari-sr runs packages with one of each")  # fmt: skip
    source, target = descr.inputs[0], descr.outputs[0]
    in_axes, out_axes = _axis_names(source, where), _axis_names(target, where)
    channels = _channels(source)
    scale = _scale(source, target, in_axes, out_axes, where)
    normalization = _normalization(source, where)
    run, kind = _weights(descr, source, target, where, weights)
    halo = _halo(target, scale)
    multiple = _size_multiple(source)
    return BmzNetwork(run, kind, in_axes, out_axes, scale=scale, channels=channels,
                      normalization=normalization, halo=halo, size_multiple=multiple,
                      name=str(descr.name))  # fmt: skip


def _axis_names(tensor, where: str) -> tuple[str, ...]:
    names = []
    for axis in tensor.axes:
        kind = axis.type
        if kind in ("batch", "channel"):
            names.append(kind)
        elif kind == "space" and str(axis.id) in ("y", "x"):
            names.append(str(axis.id))
        else:
            raise ValueError(
                f"{where}: tensor {tensor.id!s} has a {kind} axis {axis.id!s}; napari-sr runs "
                "2D packages (batch, channel, y, x)"
            )
    if "y" not in names or "x" not in names:
        raise ValueError(f"{where}: tensor {tensor.id!s} lacks a y or x axis")
    return tuple(names)


def _channels(tensor) -> int:
    for axis in tensor.axes:
        if axis.type == "channel":
            return len(axis.channel_names)
    return 1


def _scale(source, target, in_axes, out_axes, where: str) -> int:
    """Output pixels per input pixel along y and x, from the axes' pixel sizes, else the
    test tensors."""
    factors = []
    for name in ("y", "x"):
        a_in = source.axes[in_axes.index(name)]
        a_out = target.axes[out_axes.index(name)]
        factors.append(float(a_in.scale) / float(a_out.scale))
    if factors == [1.0, 1.0]:  # scales left at their default: trust the test tensors
        test_in = _read_npy(source.test_tensor)
        test_out = _read_npy(target.test_tensor)
        factors = [test_out.shape[out_axes.index(n)] / test_in.shape[in_axes.index(n)]
                   for n in ("y", "x")]  # fmt: skip
    if factors[0] != factors[1] or not float(factors[0]).is_integer() or factors[0] < 1:
        raise ValueError(
            f"{where} scales y and x by {factors[0]:g} and {factors[1]:g}; napari-sr runs "
            "packages that enlarge both by the same whole factor (1 for restoration)"
        )
    return int(factors[0])


def _normalization(tensor, where: str):
    from ..normalization import Normalization

    steps = [p for p in tensor.preprocessing if p.id not in ("ensure_dtype", "binarize")]
    if not steps:
        return Normalization("range", 0.0, 1.0)
    if len(steps) > 1:
        raise ValueError(f"{where} preprocesses with {', '.join(p.id for p in steps)}; "
                         "napari-sr runs packages with one normalisation step")  # fmt: skip
    step = steps[0]
    if step.id == "scale_range":
        return Normalization(
            "percentile", float(step.kwargs.min_percentile), float(step.kwargs.max_percentile)
        )
    if step.id == "scale_linear" and np.ndim(step.kwargs.gain) == np.ndim(step.kwargs.offset) == 0:
        low = -float(step.kwargs.offset) / float(step.kwargs.gain)
        return Normalization("range", low, low + 1.0 / float(step.kwargs.gain))
    raise ValueError(
        f"{where} normalises its input with {step.id}, which napari-sr's engine does not "
        "(it runs percentile ranges and fixed ranges)"
    )


def _weights(descr, source, target, where: str, wanted: str | None):
    """The forward pass (numpy in the package's input layout → output layout) and its
    format."""
    available = [f for f in ("torchscript", "onnx") if getattr(descr.weights, f) is not None]
    if wanted is not None and wanted not in available:
        raise ValueError(f"{where} has no {wanted} weights; it has "
                         f"{', '.join(available) or 'none napari-sr runs'}")  # fmt: skip
    if not available:
        present = [f for f, v in descr.weights if v is not None]
        raise ValueError(
            f"{where} has {', '.join(present)} weights; napari-sr runs TorchScript and ONNX "
            "weights of BMZ packages"
        )
    kind = wanted or available[0]
    data = getattr(descr.weights, kind).get_reader().read()
    if kind == "torchscript":
        import io

        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(io.BytesIO(data), map_location="cpu").eval()
        return module, kind
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return (lambda x: session.run(None, {name: x})[0]), kind


def _halo(target, scale: int) -> int | None:
    """The input pixels the package says to crop around each tile, if it says."""
    halos = [getattr(axis, "halo", None) for axis in target.axes if axis.type == "space"]
    halos = [h for h in halos if h]
    return -(-max(halos) // scale) if halos else None


def _size_multiple(tensor) -> int:
    steps = [axis.size.step for axis in tensor.axes
             if axis.type == "space" and hasattr(axis.size, "step")]  # fmt: skip
    return max([1, *map(int, steps)])


def _read_npy(file_descr) -> np.ndarray:
    import io

    return np.load(io.BytesIO(file_descr.get_reader().read()))


class BmzNetwork(nn.Module):
    """The weights of a BMZ package behind napari-sr's network interface: (N, C, H, W)
    normalised float32 in, (N, C, H·s, W·s) out, converted to and from the package's axes.

    Attributes
    ----------
    scale, in_channels : int
    normalization : Normalization
        From the package's preprocessing.
    spec : ModelSpec
        Named ``bmz``; halo and size multiple from the package (tiling-safe only where it
        declares a halo).
    weights_format : {'torchscript', 'onnx'}
    """

    def __init__(
        self, run, kind: str, in_axes, out_axes, *, scale: int, channels: int,
        normalization, halo: int | None, size_multiple: int, name: str,
    ) -> None:  # fmt: skip
        from .spec import ModelSpec

        super().__init__()
        self.scale, self.in_channels, self.normalization = scale, channels, normalization
        self.weights_format, self.in_axes, self.out_axes = kind, in_axes, out_axes
        if isinstance(run, nn.Module):
            self.network = run
        else:
            self._session = run
        self.spec = ModelSpec(
            "bmz",
            "",
            framework="post" if scale > 1 else "restoration",
            scales=(scale,),
            paper=f"BioImage Model Zoo package '{name}'",
            size_multiple=size_multiple,
            tiling_safe=halo is not None,
            halo=halo if halo is not None else 32,
            half_precision_safe=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = x.device
        x = x.detach().float().cpu()
        if "batch" not in self.in_axes:  # a package without a batch axis: one at a time
            return torch.cat([self._one(item[None]) for item in x]).to(device)
        return self._one(x).to(device)

    def _one(self, x: torch.Tensor) -> torch.Tensor:
        present = list(CANONICAL_AXES)
        if "channel" not in self.in_axes:
            x, present = x[:, 0], [a for a in present if a != "channel"]
        if "batch" not in self.in_axes:
            x, present = x[0], [a for a in present if a != "batch"]
        x = x.permute(*[present.index(a) for a in self.in_axes]).contiguous()
        if hasattr(self, "network"):
            with torch.inference_mode():
                y = self.network(x)
        else:
            y = torch.from_numpy(self._session(x.numpy()))
        names = list(self.out_axes)
        for axis in ("batch", "channel"):  # absent axes added in front, then put in place
            if axis not in names:
                y, names = y.unsqueeze(0), [axis, *names]
        return y.permute(*[names.index(a) for a in CANONICAL_AXES]).float()
