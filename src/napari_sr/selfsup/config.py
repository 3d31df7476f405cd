"""The recipes of the self-supervised methods: :class:`ZSSRConfig` and
:class:`IsotropicConfig`.

Both are :class:`~napari_sr.training.config.TrainConfig` subclasses: the training options
(``steps``, ``patch_size``, ``batch_size``, ``lr``, ``loss``, ``hparams``, ``seed``, …) are
those of supervised training, declared once there; a subclass changes a few defaults
(:attr:`~napari_sr.training.config.TrainConfig.DEFAULTS`), refuses the options its method
sets itself (:attr:`~napari_sr.training.config.TrainConfig.FIXED`) and adds its own fields
(how the image was made, how it is predicted). :func:`~napari_sr.selfsup.zssr.zssr`,
:func:`~napari_sr.selfsup.isotropic.isotropic` and
:func:`~napari_sr.selfsup.isotropic.train_isotropic` take a config or its fields as
keyword arguments; the ``zssr`` and ``isotropic`` commands derive their flags from these
fields.

Importing this module loads neither torch nor the methods themselves.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..training.config import TrainConfig, option, without_adversarial

DEFAULT_STEPS = 1000
"""Training steps of ZSSR per gradual stage when none are given."""

ISOTROPIC_STEPS = 2000
"""Training steps of isotropic reconstruction per channel when none are given."""

ISOTROPIC_LR = 1e-3
"""Learning rate of isotropic reconstruction. At CARE's 4e-4 the U-Net was far from
converged after the steps a CPU can afford: on a T1 brain MRI at z ×4 it gained 0.9 dB over
cubic z at 1000 steps and 3.6 dB at 3000; at 1e-3, 3.7 dB in 2000 steps (4e-3 diverged)."""

DEFAULT_MODEL = "care_unet"
"""The network isotropic reconstruction trains by default."""

FUSIONS = ("mean", "geometric")
"""How isotropic reconstruction combines its xz and yz predictions."""

_NOT_TRAINED_HERE = "the method has no checkpoints of its own"
_NO_DISCRIMINATOR = "self-supervised training fits the image's own data, with no discriminator"

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_STEPS",
    "FUSIONS",
    "ISOTROPIC_LR",
    "ISOTROPIC_STEPS",
    "IsotropicConfig",
    "ZSSRConfig",
]


@dataclass(frozen=True, kw_only=True)
class ZSSRConfig(TrainConfig):
    """The recipe of zero-shot SR (:func:`~napari_sr.selfsup.zssr.zssr`).

    The training options are those of :class:`~napari_sr.training.config.TrainConfig`
    for the same-size network (``zssr_net``, scale 1: the SR factor is the ``scale``
    argument of :func:`~napari_sr.selfsup.zssr.zssr`), with ZSSR's defaults: 1000 steps
    per gradual stage, batches of 4, ``lr`` 1e-3 and a warm-up of a tenth of the steps
    (at most 100).

    Attributes
    ----------
    architecture : str
        The same-size restoration network trained on the image (``zssr_net``).
    hparams : dict or None
        Hyperparameters of that network (``depth``, ``features``); its defaults where left
        out.
    steps : int
        Training steps per gradual stage.
    patch_size : int or None
        Side of the square training patches, pixels; by default 48, or the smallest
        father's side. Four patches of 48² per step are about the 128² crop per step of
        the paper.
    warmup_steps : int or None
        Steps of linear warm-up; default a tenth of the steps, at most 100.
    normalization : dict or None
        Intensity normalisation; None for the default of the image's dtype.
    kernel : str or tuple of tuple of float
        How the image was made from the unknown finer one: ``bicubic`` (MATLAB
        ``imresize``, the SR benchmark protocol) or another interpolation of
        :func:`napari_sr.resize`, or a 2D blur kernel followed by taking every
        ``scale``-th pixel (integer scales). A blur kernel has odd sides (e.g. an
        estimated PSF in the finer pixels); an array is kept as nested tuples.
    blur : float or None
        Instead of ``kernel``: a Gaussian blur of this σ in the finer pixels, followed by
        taking every ``scale``-th pixel (:func:`~napari_sr.selfsup.zssr.gaussian_kernel`).
    gradual : bool
        Reach factors above 2 in ×2 stages (the paper's gradual SR); a blur kernel, which
        describes the whole factor, has one stage.
    self_ensemble : bool
        Average the network over the 8 rotations and flips of the input.
    back_projection : bool
        Make the result consistent with the input under the kernel (two iterations).
    """

    TASK: ClassVar[str] = "zssr"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "architecture": "zssr_net",
        "scale": 1,
        "steps": DEFAULT_STEPS,
        "batch_size": 4,
        "lr": 1e-3,
        "warmup_steps": None,
    }
    FIXED: ClassVar[Mapping[str, str]] = {
        "scale": "its network is same-size; the SR factor is zssr(image, scale)",
        "in_channels": "the image's channels",
        "init": "the network starts from random weights drawn from seed",
        "degradation": "kernel or blur says how the image was made",
        "validation_fraction": "every pixel of the image teaches",
        "validate_every": "there is no validation",
        "patience": "there is no validation",
        "checkpoint_every": _NOT_TRAINED_HERE,
        **without_adversarial(_NO_DISCRIMINATOR),
    }
    DERIVED: ClassVar[tuple[str, ...]] = ("warmup_steps",)

    kernel: str | tuple[tuple[float, ...], ...] = option("bicubic", metavar="NAME|FILE")
    blur: float | None = option(None, parse=float, metavar="SIGMA")
    gradual: bool = option(True, parse=bool)
    self_ensemble: bool = option(True, parse=bool)
    back_projection: bool = option(True, parse=bool)

    def _derived(self) -> dict[str, Any]:
        return {"warmup_steps": min(100, self.steps // 10)}

    def _check(self) -> None:
        set_ = object.__setattr__
        set_(self, "kernel", _kernel(self.kernel))
        if self.blur is not None:
            from ..training.config import _float

            set_(self, "blur", _float(self.blur, "blur", low=0, low_open=True))
            if self.kernel != "bicubic":
                raise ValueError("give blur or kernel, not both")
        for name in ("gradual", "self_ensemble", "back_projection"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, not {getattr(self, name)!r}")


@dataclass(frozen=True, kw_only=True)
class IsotropicConfig(TrainConfig):
    """The recipe of isotropic reconstruction
    (:func:`~napari_sr.selfsup.isotropic.isotropic`,
    :func:`~napari_sr.selfsup.isotropic.train_isotropic`).

    The training options are those of :class:`~napari_sr.training.config.TrainConfig`
    for a same-size network (scale 1: the z factor is the ``factor`` argument), with the
    method's defaults: ``care_unet``, 2000 steps per channel, ``lr`` 1e-3, flips only, a
    tenth of the columns held out, a warm-up of a tenth of the steps (at most 100) and
    five validations.

    Attributes
    ----------
    architecture : str
        A registered same-size restoration network (``care_unet``, ``zssr_net``).
    hparams : dict or None
        Its hyperparameters; where left out,
        :data:`~napari_sr.selfsup.isotropic.DEFAULT_HPARAMS` of the architecture (``{}``
        for the class defaults).
    steps : int
        Training steps per channel.
    patch_size : int or None
        Side of the square training patches, pixels; default 64 (less for small planes),
        a multiple of the network's size multiple.
    augment : tuple of str
        Random flips of each patch pair (``hflip``, ``vflip``); rotations would turn the
        degraded axis away from the rows.
    normalization : dict or None
        Intensity normalisation; None for the default of the stack's dtype.
    validation_fraction : float
        Columns held out of every plane to score the network against cubic interpolation
        (recorded in the model's metrics; at least 13, so none for planes narrower than 29
        pixels); 0 for none.
    warmup_steps : int or None
        Steps of linear warm-up; default a tenth of the steps, at most 100.
    validate_every : int or None
        Steps between validations; default a fifth of the steps.
    psf : float, tuple of float or None
        The axial profile of the training pairs: the Gaussian σ of the extra axial blur in
        lateral pixels (by default a Gaussian whose FWHM is the z step). Or the profile
        itself, odd length (:func:`~napari_sr.selfsup.isotropic.axial_profile`).
    fuse : {'mean', 'geometric'}
        How the xz and yz predictions are combined: their mean, or their geometric mean
        in the normalised intensities (negative values clipped; CSBDeep's choice).
    """

    TASK: ClassVar[str] = "isotropic"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "architecture": DEFAULT_MODEL,
        "scale": 1,
        "steps": ISOTROPIC_STEPS,
        "lr": ISOTROPIC_LR,
        "augment": ("hflip", "vflip"),
        "validation_fraction": 0.1,
        "warmup_steps": None,
        "validate_every": None,
    }
    FIXED: ClassVar[Mapping[str, str]] = {
        "scale": "its network is same-size; the z factor is the factor argument",
        "in_channels": "one network per channel",
        "init": "the network starts from random weights drawn from seed",
        "degradation": "psf says how z was blurred",
        "checkpoint_every": _NOT_TRAINED_HERE,
        **without_adversarial(_NO_DISCRIMINATOR),
    }
    DERIVED: ClassVar[tuple[str, ...]] = ("warmup_steps", "validate_every")

    psf: float | tuple[float, ...] | None = option(None, parse=float, metavar="SIGMA")
    fuse: str = option("mean", choices=FUSIONS)

    def _derived(self) -> dict[str, Any]:
        return {
            "warmup_steps": min(100, self.steps // 10),
            "validate_every": max(1, self.steps // 5),
        }

    def _check(self) -> None:
        if "rot90" in self.augment:
            raise ValueError(
                "isotropic reconstruction augments with flips only (hflip, vflip): a "
                "rotation would turn the degraded axis away from the rows"
            )
        psf = check_psf(self.psf)
        if psf is not None and not isinstance(psf, float):
            psf = tuple(float(v) for v in psf)
        object.__setattr__(self, "psf", psf)
        if self.fuse not in FUSIONS:
            raise ValueError(f"fuse must be one of {', '.join(FUSIONS)}, not {self.fuse!r}")


def check_psf(psf: Any) -> Any:
    """An axial profile as :func:`~napari_sr.selfsup.isotropic.axial_profile` takes it:
    None, a σ ≥ 0 (float), or a 1-D profile of odd length (a numpy array, not normalised);
    a TypeError or ValueError naming ``psf`` otherwise."""
    import numpy as np

    if psf is None:
        return None
    if np.ndim(psf) == 0:
        if isinstance(psf, (bool, str, bytes, np.bool_)) or not isinstance(
            psf, (numbers.Real, np.ndarray)
        ):
            raise TypeError(
                f"psf must be the Gaussian sigma of the axial profile in lateral pixels, "
                f"the profile itself (an array), or None; not {psf!r}"
            )
        sigma = float(psf)
        if not math.isfinite(sigma) or sigma < 0:
            raise ValueError(
                f"psf must be the Gaussian sigma of the axial profile in lateral pixels "
                f"(>= 0), or the profile itself; got {psf}"
            )
        return sigma
    profile = np.asarray(psf, dtype=np.float64)
    if profile.ndim != 1 or profile.size % 2 == 0:
        raise ValueError(
            f"an axial profile must be a 1-D array of odd length (centred), not shape "
            f"{profile.shape}; or give its Gaussian sigma in lateral pixels"
        )
    if not np.all(np.isfinite(profile)) or profile.min() < 0 or profile.sum() <= 0:
        raise ValueError("an axial profile must be finite, non-negative and not all zero")
    return profile


def _kernel(kernel: Any) -> str | tuple[tuple[float, ...], ...]:
    """ZSSR's kernel: an interpolation name, or a 2D blur kernel as nested tuples."""
    import numpy as np

    from ..resample import INTERPOLATION_METHODS

    if isinstance(kernel, str):
        if kernel not in INTERPOLATION_METHODS:
            raise ValueError(
                f"unknown kernel {kernel!r}; give one of {', '.join(INTERPOLATION_METHODS)} "
                "or a 2D blur kernel array"
            )
        return kernel
    blur = np.asarray(kernel, dtype=np.float64)
    if blur.ndim != 2 or blur.shape[0] % 2 == 0 or blur.shape[1] % 2 == 0:
        raise ValueError(f"a kernel array must be 2D with odd sides, not shape {blur.shape}")
    if not np.all(np.isfinite(blur)) or blur.sum() <= 0:
        raise ValueError("a kernel array must be finite with a positive sum")
    return tuple(tuple(float(v) for v in row) for row in blur)
