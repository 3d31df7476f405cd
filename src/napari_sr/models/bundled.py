"""Weights that ship inside the package, each with its model card.

A bundled model is a napari-sr model file in ``models/weights/`` named
``<architecture>_x<scale>.<training data>.safetensors`` (the name separates the
architecture from the weights, e.g. ``highresnet_x2.bursts291``: HighRes-net at ×2
trained on bursts of the 291-image set), beside ``<name>.md``, its model card
(architecture, training data, recipe, steps, device and time, measured results, licence).
Nothing is downloaded: these files are all there is. Listing reads file names only and
imports no torch.
"""

from __future__ import annotations

import re
from pathlib import Path

from .checkpoint import load_model
from .registry import REGISTRY

WEIGHTS_DIR = Path(__file__).parent / "weights"
SUFFIX = ".safetensors"

DEFAULT_ARCHITECTURES = {"quality": "edsr_light", "fast": "fsrcnn", "perceptual": "edsr_light"}
"""The architecture of each kind of single-image default (``method='quality'``, ``'fast'``
or ``'perceptual'``; ``method=None`` is the quality default)."""

DEFAULT_NETWORKS = {"edsr_light": "EDSR-light", "fsrcnn": "FSRCNN"}
"""How the defaults' architectures are named in menus and help texts."""

DEFAULT_WEIGHTS = "sr291"
"""Training data of the single-image defaults for inputs like the SR benchmark protocol's:
the 291-image set (T91 + BSD200), bicubic-downscaled and rounded to 8 bits."""

NOISY_WEIGHTS = "microscope"
"""Training data of the single-image defaults for every other input (noisy, or not 8-bit):
the same networks fine-tuned on the 291-image set and real microscopy under random
microscope degradations (PSF blur, pixel integration, shot and read noise;
``benchmarks/train_robust.py``)."""

PERCEPTUAL_WEIGHTS = "perceptual"
"""Training of the perceptual default: the quality default fine-tuned against a
discriminator (adversarial training) to synthesise texture, on clean and on
Real-ESRGAN-degraded photographs; it runs on every input as it is (no routing by noise:
it is asked for by name, for pictures, not for measurement)."""

ROLE_WEIGHTS = {"quality": DEFAULT_WEIGHTS, "fast": DEFAULT_WEIGHTS,
                "perceptual": PERCEPTUAL_WEIGHTS}  # fmt: skip
"""The weights (training) of each kind of default on clean 8-bit inputs."""

PROTOCOL_DTYPE = "uint8"
"""The dtype of the inputs the :data:`DEFAULT_WEIGHTS` are for: the SR benchmark protocol
downscales 8-bit photographs. Clean inputs of other dtypes (the 12- to 16-bit counts of a
scientific camera, float data) come through optics that blur them, which the
:data:`NOISY_WEIGHTS` learnt to undo: on the held-out microscopy of
``benchmarks/real_inputs.py``, clean, they gain +1.25 / +1.05 / +1.09 dB over bicubic at
×2 / ×3 / ×4 where the protocol weights gain +1.13 / +0.89 / +0.93."""


NOISY_ONLY = frozenset({"fsrcnn_x2.microscope"})
""":data:`NOISY_WEIGHTS` that learnt noisy microscope inputs only (and, as all of them, a
quarter of bicubic-protocol patches), not clean blurred ones: they run on noisy inputs,
and clean inputs of every dtype keep the protocol weights. The fast ×2 network is small
(FSRCNN(56, 16, 5): at ×2 it runs on a quarter of the output's pixels, so capacity costs
speed); the paper's FSRCNN(56, 12, 4) fine-tuned on clean and noisy inputs at once lost
to bicubic on clean microscopy."""


def noise_threshold(scale: float) -> float:
    """Relative noise (:func:`napari_sr.noise.relative_noise`: σ over the image's span)
    above which a default runs its :data:`NOISY_WEIGHTS` at ``scale``: 1.0 % at ×2,
    1.2 % at ×3, 1.4 % at ×4 (0.6 % + 0.2 % per unit of scale).

    Measured on the held-out microscopy and the samples of ``benchmarks/real_inputs.py``,
    microscopy-like training images and bicubic-downscaled photographs of the 291-image
    set: a noise-free microscope input reads 0-0.7 % at ×2 (nine in ten; up to 1.2 %, and up
    to 2 % at ×4), one of 200 photons at the brightest pixel 1.1-6 % (1.3-6 % at ×4;
    without read noise a few sparse images read as low as 0.7 %); most photographs read
    below 1 %, but finely textured ones read as noise, and more so the coarser they are
    sampled, hence the rise with scale. A photograph read as noisy still gets a sharp
    result: the noisy weights learnt a quarter of their patches by the bicubic protocol.
    """
    return 0.006 + 0.002 * float(scale)


_NAME = re.compile(r"^(?P<architecture>\w+?)_x(?P<scale>\d+)\.(?P<weights>[\w-]+)$")


def bundled_models() -> dict[str, Path]:
    """Name → file of every bundled model, sorted by name."""
    if not WEIGHTS_DIR.is_dir():
        return {}
    files = sorted(WEIGHTS_DIR.glob(f"*{SUFFIX}"))
    return {f.name[: -len(SUFFIX)]: f for f in files}


def bundled_path(name: str) -> Path:
    """The file of bundled model ``name``; a ValueError that lists them if there is none."""
    models = bundled_models()
    if name not in models:
        available = ", ".join(models) or "none"
        raise ValueError(f"no bundled model is named {name!r}; bundled: {available}")
    return models[name]


def load_bundled(name: str, *, device: str = "cpu"):
    """The bundled model ``name``, loaded (see :func:`napari_sr.load_model`)."""
    return load_model(bundled_path(name), device=device)


def model_card(name: str) -> str:
    """The model card of bundled model ``name`` (Markdown text)."""
    bundled_path(name)  # a clear error for an unknown name
    return (WEIGHTS_DIR / f"{name}.md").read_text(encoding="utf-8")


def parse_name(name: str) -> tuple[str, int, str] | None:
    """(architecture, scale, training data) of a bundled-model name such as
    ``'edsr_light_x2.sr291'``; None when ``name`` does not have that form."""
    match = _NAME.match(name)
    if match is None:
        return None
    return match["architecture"], int(match["scale"]), match["weights"]


def bundled_for(architecture: str, scale: int | None = None) -> list[str]:
    """Names of the bundled weights of ``architecture`` (at ``scale``, if given)."""
    found = []
    for name in bundled_models():
        parts = parse_name(name)
        if parts and parts[0] == architecture and scale in (None, parts[1]):
            found.append(name)
    return found


def is_multiframe(name: str) -> bool:
    """Whether bundled model ``name`` fuses bursts (``misr``) rather than upscaling one
    image (read from the registry, without torch)."""
    parts = parse_name(name)
    if parts is None or parts[0] not in REGISTRY:
        return False
    return REGISTRY.spec(parts[0]).framework == "multiframe"


def _check_kind(kind: str) -> None:
    if kind not in DEFAULT_ARCHITECTURES:
        raise ValueError(f"kind must be one of {', '.join(DEFAULT_ARCHITECTURES)}, not {kind!r}")


def default_model(
    scale: float, kind: str = "quality", *, noisy: bool = False, camera: bool = False
) -> str | None:
    """Name of the bundled single-image default of ``kind`` for ``scale``, or None.

    Parameters
    ----------
    scale : float
        Upscaling factor; only integer factors with bundled weights have a default.
    kind : {'quality', 'fast'}
        The quality default (EDSR-light) or the fast one (FSRCNN).
    noisy : bool
        The input is noisy: the :data:`NOISY_WEIGHTS` where they are bundled for ``scale``,
        else the protocol ones.
    camera : bool
        The input is clean but not of the :data:`PROTOCOL_DTYPE` (a camera's counts, float
        data): the :data:`NOISY_WEIGHTS` where they are bundled and learnt clean inputs too
        (not in :data:`NOISY_ONLY`), else the protocol ones.
    """
    _check_kind(kind)
    if not float(scale).is_integer():
        return None
    clean = f"{DEFAULT_ARCHITECTURES[kind]}_x{int(scale)}.{ROLE_WEIGHTS[kind]}"
    if clean not in bundled_models():
        return None
    if ROLE_WEIGHTS[kind] != DEFAULT_WEIGHTS:  # asked for by name: runs as it is
        return clean
    robust = noise_trained(clean)
    if robust is None:
        return clean
    return robust if noisy or (camera and robust not in NOISY_ONLY) else clean


def noise_trained(name: str) -> str | None:
    """The bundled :data:`NOISY_WEIGHTS` of the network and scale of bundled weights
    ``name`` (``'fsrcnn_x2.sr291'`` → ``'fsrcnn_x2.microscope'``), or None where there are
    none."""
    parts = parse_name(name)
    if parts is None:
        return None
    robust = f"{parts[0]}_x{parts[1]}.{NOISY_WEIGHTS}"
    return robust if robust in bundled_models() else None


def default_scales(kind: str = "quality") -> list[int]:
    """The scales for which a single-image default of ``kind`` is bundled."""
    _check_kind(kind)
    names = bundled_for(DEFAULT_ARCHITECTURES[kind])
    return sorted(p[1] for p in map(parse_name, names) if p and p[2] == ROLE_WEIGHTS[kind])
