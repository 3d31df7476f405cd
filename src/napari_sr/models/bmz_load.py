"""Reading BioImage Model Zoo packages as networks ``upscale`` runs (:func:`load_bmz`).

Separate from :mod:`napari_sr.models.bmz` (writing packages), which needs the exporters:
:func:`napari_sr.load_model` reads packages through this module alone.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn


def require_bmz() -> None:
    """An ImportError naming the extra when bioimageio.core is missing."""
    if importlib.util.find_spec("bioimageio.core") is None:
        raise ImportError(
            "BioImage Model Zoo packages need bioimageio.core, which is not installed: "
            "pip install 'napari-sr[bmz]'"
        )


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
