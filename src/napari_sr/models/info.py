"""The model record: what a model is, how it meets an image, and where it came from.

Every model that napari-sr builds (:func:`~napari_sr.create_model`), loads
(:func:`~napari_sr.load_model`) or trains carries one :class:`ModelInfo` as ``model.info``;
the inference engine, the trainers and the widgets read that record and nothing else. A model
file (:mod:`napari_sr.models.checkpoint`) stores it as a JSON document beside the weights, in
the layout :meth:`ModelInfo.to_dict` writes and :meth:`ModelInfo.from_dict` reads:

==================  ==========================================================  ==========
file field          record field                                                since
==================  ==========================================================  ==========
format              (always ``"napari-sr-model"``)                              1
format_version      :data:`FORMAT_VERSION` (older layouts are converted)        1
architecture        ``architecture``                                            1
hparams             ``hparams``                                                 1
scale               ``scale``                                                   1
in_channels         ``in_channels`` (``out_channels`` is the same in format 1)  1
parameters          ``parameters``                                              1
normalization       ``normalization``                                           1
training            ``training`` (the recipe)                                   1
data                ``data`` (the training data), less the two keys below       1
data.color          ``color == "luma"``                                         1
data.other_dtypes   ``input.other_dtypes``                                      1
metrics             ``metrics``                                                 1
napari_sr_version   ``provenance.napari_sr_version``                            1
created             ``provenance.created``                                      1
==================  ==========================================================  ==========

``input.dtypes``, ``input.spatial_dims`` and ``provenance.source`` are not stored: format 1
holds 2-D networks that take every dtype napari-sr reads, and the source is the file a
record was read from.

Nothing in a file is trusted: it may be damaged or crafted, so :meth:`ModelInfo.from_dict`
checks every field for its type and range, and refuses anything else with a message that
names the field, what it must be and the fix. The constructor runs the same checks, so a
record in memory is always one that a model file could hold. The hyperparameters are
checked against the architecture when the network is planned
(:mod:`napari_sr.models.hyperparameters`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..normalization import NATURAL_8BIT, Normalization, default_normalization
from ..utils.intensity import SUPPORTED_DTYPES
from ..utils.jsonready import json_ready
from .registry import REGISTRY

FORMAT = "napari-sr-model"
FORMAT_VERSION = 1
"""The newest layout of the record in a model file; files of older layouts are converted
when read, files of newer ones are refused with a request to upgrade."""

FIELDS = (
    "format",
    "format_version",
    "napari_sr_version",
    "created",
    "architecture",
    "hparams",
    "scale",
    "in_channels",
    "parameters",
    "normalization",
    "training",
    "data",
    "metrics",
)
"""Every field of a format-1 document (:meth:`ModelInfo.to_dict` writes them all)."""

COLOR_ROUTES = ("per_channel", "joint", "luma")
"""How a model meets colour. ``per_channel``: a 1-channel network that runs on every
channel alone (grayscale images, or each of R, G and B). ``joint``: a network of several
channels that sees them together (3: R, G and B; the engine runs 1 and 3). ``luma``: a
1-channel network trained on the luma (Y of YCbCr) of natural images: an RGB image goes
through YCbCr, the network upscales Y and the chroma is interpolated (the SR papers'
practice), and a grayscale image is mapped to Y's range. Stored as ``data.color``."""

SPATIAL_DIMS = 2
"""Spatial dimensions of the networks a format-1 record describes: they see (Y, X) planes."""

MAX_DEPTH = 32
"""Deepest nesting of lists and objects a document may have (ours need 5)."""

MAX_PROFILE = 4096
"""Longest recorded axial profile (an isotropic model's PSF samples)."""

FIX = (
    "the file is damaged or not a napari-sr model file; re-save it with "
    "napari_sr.save_model, or load bare weights with load_model(path, architecture=..., "
    "scale=...)"
)
"""What ends the message of a file that cannot be read."""

RECORD_FIX = "give the model record values of those types"
"""What ends the message of a :class:`ModelInfo` built in code with a bad value."""

_DTYPE_NAMES = tuple(d.name for d in SUPPORTED_DTYPES)


@dataclass(frozen=True)
class InputContract:
    """What a model accepts.

    Attributes
    ----------
    dtypes : tuple of str
        Names of the numpy dtypes it takes; every dtype napari-sr reads (uint8, uint16,
        int16, float32, float64).
    spatial_dims : int
        Spatial dimensions the network sees together: 2, one (Y, X) plane at a time (all
        other axes are looped over).
    other_dtypes : Normalization or None
        For a model trained on uint8 images in the fixed 0-255 range
        (:data:`~napari_sr.normalization.NATURAL_8BIT`): the normalisation it uses for
        images of any other dtype, whose values are not grey levels of 0-255 (the bundled
        single-image defaults: :data:`~napari_sr.normalization.IMAGE_RANGE`). None: the
        recorded normalisation applies to every dtype. Stored as ``data.other_dtypes``.
    """

    dtypes: tuple[str, ...] = _DTYPE_NAMES
    spatial_dims: int = SPATIAL_DIMS
    other_dtypes: Normalization | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a record came from.

    Attributes
    ----------
    napari_sr_version : str or None
        The napari-sr that wrote the model file.
    created : str or None
        When it was written (ISO 8601, UTC, seconds).
    source : str or None
        The file name (or bundled weights name) the record was read from; None for a model
        built in this session. Not stored in the file.
    """

    napari_sr_version: str | None = None
    created: str | None = None
    source: str | None = None


class Metrics(Mapping):
    """Measured scores of a model (the file's ``metrics``), read-only, with typed access.

    It is the recorded mapping (``metrics["psnr"]``, ``dict(metrics)``), checked on load,
    plus properties for the scores the training loop writes (:func:`napari_sr.train`): a
    misspelt score is an AttributeError, not a silent None.

    Parameters
    ----------
    values : mapping
        The recorded scores, JSON-ready values.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values = dict(values or {})

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Metrics({self._values!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping of lists and dicts

    def __deepcopy__(self, memo: dict) -> Metrics:
        return Metrics(copy.deepcopy(self._values, memo))

    def to_dict(self) -> dict[str, Any]:
        """The recorded scores as a plain dict."""
        return dict(self._values)

    # the scores the training loop records (each None when absent or unmeasured)
    @property
    def psnr(self) -> float | None:
        """Best validation PSNR (dB)."""
        return self._values.get("psnr")

    @property
    def ssim(self) -> float | None:
        """SSIM at the best validation PSNR."""
        return self._values.get("ssim")

    @property
    def bicubic_psnr(self) -> float | None:
        """Bicubic interpolation's PSNR (dB) on the same validation images."""
        return self._values.get("bicubic_psnr")

    @property
    def bicubic_ssim(self) -> float | None:
        """Bicubic interpolation's SSIM on the same validation images."""
        return self._values.get("bicubic_ssim")

    @property
    def gain_db(self) -> float | None:
        """Validation PSNR minus bicubic's (dB); negative: worse than interpolation."""
        return self._values.get("gain_db")

    @property
    def final_loss(self) -> float | None:
        """Training loss at the last step."""
        return self._values.get("final_loss")

    @property
    def steps_done(self) -> int | None:
        """Training steps done."""
        return self._values.get("steps_done")

    @property
    def stopped(self) -> str | None:
        """Why training stopped early (``'early'``, ``'cancelled'``, ...), else None."""
        return self._values.get("stopped")

    @property
    def validation(self) -> dict[str, Any] | None:
        """The best validation scores with their step and protocol."""
        return self._values.get("validation")

    @property
    def bicubic(self) -> dict[str, Any] | None:
        """Bicubic interpolation's scores on the validation images."""
        return self._values.get("bicubic")

    @property
    def validation_psnr(self) -> float | None:
        """The best validation PSNR (dB): ``validation["psnr"]``, else ``psnr``."""
        record = self.validation
        value = record.get("psnr") if isinstance(record, Mapping) else self.psnr
        return None if value is None else float(value)

    @property
    def gain_over_bicubic(self) -> float | None:
        """Validation PSNR minus bicubic's (dB): ``gain_db``, else computed from the two
        PSNRs; None without both."""
        if self.gain_db is not None:
            return float(self.gain_db)
        record = self.bicubic
        reference = record.get("psnr") if isinstance(record, Mapping) else self.bicubic_psnr
        psnr = self.validation_psnr
        return None if psnr is None or reference is None else psnr - float(reference)


@dataclass(frozen=True)
class ModelInfo:
    """The typed, versioned record of a model (``model.info``).

    Attributes
    ----------
    architecture : str
        Registry name (:func:`~napari_sr.list_models`), e.g. ``'edsr_light'``; for a torch
        module napari-sr did not build, its class name.
    scale : int
        Upscaling factor (1 for same-size restoration networks).
    in_channels : int
        Channels the network takes: 1 (grayscale, or one channel at a time) or 3 (RGB).
    hparams : dict
        Hyperparameters given beyond the paper's defaults (JSON-ready values; lists as
        tuples once planned).
    color : {'per_channel', 'joint', 'luma'}
        How the model meets colour (:data:`COLOR_ROUTES`); default ``'per_channel'`` for 1
        channel and ``'joint'`` for more (RGB together).
    normalization : Normalization or None
        The intensity normalisation it was trained with; None: the default for the input's
        dtype (:func:`~napari_sr.normalization.default_normalization`).
    input : InputContract
        Dtypes and spatial dimensions it takes, and the normalisation of other dtypes.
    parameters : int or None
        Number of trainable values.
    training : dict or None
        The training recipe (:meth:`napari_sr.training.config.TrainConfig.to_dict`); None
        for a model that was not trained by napari-sr.
    data : dict or None
        A description of the training data (images, validation split, and the records of
        the self-supervised and fusion trainers: ``bursts``, ``isotropic``, ``zssr``).
    metrics : Metrics or None
        Measured scores.
    provenance : Provenance
        The napari-sr version and time that wrote the file, and the file read.
    out_channels : int
        Channels the network returns; as many as it takes (format 1).

    Raises
    ------
    ValueError
        A field of the wrong type or out of range (the message names the field).
    """

    architecture: str
    scale: int
    in_channels: int = 1
    hparams: Mapping[str, Any] = field(default_factory=dict)
    color: str | None = None
    normalization: Normalization | None = None
    input: InputContract = field(default_factory=InputContract)
    parameters: int | None = None
    training: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    metrics: Metrics | None = None
    provenance: Provenance = field(default_factory=Provenance)
    out_channels: int | None = None

    format_version: ClassVar[int] = FORMAT_VERSION

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: derived and normalised values are written once
        put(self, "hparams", dict(self.hparams) if isinstance(self.hparams, Mapping)
            else self.hparams)  # fmt: skip
        for name in ("training", "data", "metrics"):  # what a file holds: NaN becomes None
            value = getattr(self, name)
            if value is not None:
                put(self, name, json_ready(value, strict=True, where=f"the model's {name}"))
        if isinstance(self.metrics, Mapping):
            put(self, "metrics", Metrics(self.metrics))
        if isinstance(self.normalization, Mapping):
            put(self, "normalization", _normalization(self.normalization, "normalization"))
        self._lift_route()
        if self.color is None and isinstance(self.in_channels, int):
            put(self, "color", "joint" if self.in_channels > 1 else "per_channel")
        if self.out_channels is None:
            put(self, "out_channels", self.in_channels)
        self._check()

    def _lift_route(self) -> None:
        """``data.color == 'luma'`` (of a 1-channel model) and ``data.other_dtypes``, the
        file's places for them, become ``color`` and ``input.other_dtypes``."""
        data = self.data
        if not isinstance(data, dict) or not isinstance(self.input, InputContract):
            return  # the checks say what is wrong
        data = dict(data)
        if self.in_channels == 1 and data.get("color") == "luma":
            if self.color not in (None, "luma"):
                _Fields("model record", {}, RECORD_FIX).fail(
                    "data.color", f"left out when color is {self.color!r}", "luma"
                )
            del data["color"]
            object.__setattr__(self, "color", "luma")
        if data.get("other_dtypes") is not None:
            other = _normalization(data.pop("other_dtypes"), "data.other_dtypes")
            if self.input.other_dtypes not in (None, other):
                _Fields("model record", {}, RECORD_FIX).fail(
                    "data.other_dtypes", "left out when input.other_dtypes is given", other
                )
            object.__setattr__(self, "input", dataclasses.replace(self.input, other_dtypes=other))
        object.__setattr__(self, "data", data)

    # ---------------------------------------------------------------- reading

    def normalization_for(self, dtype: Any) -> Normalization:
        """The normalisation that maps images of ``dtype`` to the network's range.

        The recorded one, else the default for ``dtype`` (fixed 0-255 for uint8,
        percentiles 1 and 99.8 otherwise). A model trained on uint8 in the fixed 0-255
        range that records ``input.other_dtypes`` uses that for every other dtype.
        """
        if self.normalization is None:
            return default_normalization(dtype)
        other = self.input.other_dtypes
        if other is not None and self.normalization == NATURAL_8BIT:
            if np.dtype(dtype) != np.uint8:
                return other
        return self.normalization

    @property
    def luma(self) -> bool:
        """Whether the model was trained on luma (``color == 'luma'``)."""
        return self.color == "luma"

    # ---------------------------------------------------------- the file layout

    def to_dict(self) -> dict[str, Any]:
        """The record in the model file's layout (every field of :data:`FIELDS`)."""
        data = dict(self.data) if isinstance(self.data, Mapping) else self.data
        route = {}
        if self.color == "luma":
            route["color"] = "luma"
        if isinstance(self.input, InputContract) and self.input.other_dtypes is not None:
            route["other_dtypes"] = _as_dict(self.input.other_dtypes)
        if route and (data is None or isinstance(data, dict)):
            data = {**(data or {}), **route}
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "napari_sr_version": self.provenance.napari_sr_version,
            "created": self.provenance.created,
            "architecture": self.architecture,
            "hparams": _copy(self.hparams),
            "scale": self.scale,
            "in_channels": self.in_channels,
            "parameters": self.parameters,
            "normalization": _as_dict(self.normalization),
            "training": _copy(self.training),
            "data": data,
            "metrics": _copy(self.metrics),
        }

    @classmethod
    def from_dict(cls, document: Any, *, source: str | None = None, fix: str = FIX) -> ModelInfo:
        """The record stored as ``document`` (parsed JSON), checked field by field.

        Parameters
        ----------
        document : dict
            A model file's description, in its layout (any format version up to
            :data:`FORMAT_VERSION`).
        source : str, optional
            The file's name: named in every message and kept as ``provenance.source``.
        fix : str
            What ends every message (what the user can do about it).

        Raises
        ------
        ValueError
            Not a napari-sr record; a field of the wrong type, out of range, missing or
            unknown; a record from a newer napari-sr; an architecture this napari-sr does
            not have.
        """
        document = check_document(document, _where(source), fix=fix)
        return cls(
            architecture=document["architecture"],
            scale=document["scale"],
            in_channels=document["in_channels"],
            hparams=document["hparams"],
            normalization=document.get("normalization"),
            parameters=document.get("parameters"),
            training=document.get("training"),
            data=document.get("data"),  # its color and other_dtypes are lifted out
            metrics=document.get("metrics"),
            provenance=Provenance(
                document.get("napari_sr_version"), document.get("created"), source
            ),
        )

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None, fix: str = FIX) -> ModelInfo:
        """The record stored as JSON ``text`` (see :meth:`from_dict`); NaN and Infinity,
        which napari-sr never writes, are refused."""
        return cls.from_dict(parse_json(text, _where(source), fix=fix), source=source, fix=fix)

    def updated(self, *, fix: str = RECORD_FIX, **fields: Any) -> ModelInfo:
        """A copy with model-file fields replaced, given in the file's layout (``data``
        may carry ``color`` and ``other_dtypes``, ``normalization`` may be a dict), checked
        as a file is; the hyperparameters and the provenance are kept.

        Raises
        ------
        ValueError
            A field of the wrong type or out of range, or one a model file has not.
        TypeError
            A value that is not JSON-ready.
        """
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"a model record has no field(s) {', '.join(unknown)}")
        document = {**self.to_dict(), **fields}
        document["normalization"] = _as_dict(document["normalization"])
        document = json_ready(document, strict=True, where="the model record")
        info = ModelInfo.from_dict(document, fix=fix)
        return dataclasses.replace(info, hparams=self.hparams, provenance=self.provenance)

    def replace(self, **changes: Any) -> ModelInfo:
        """A copy with typed fields replaced (:func:`dataclasses.replace`), checked."""
        return dataclasses.replace(self, **changes)

    # ---------------------------------------------------------------- checks

    def _check(self) -> None:
        fields = _Fields("model record", {}, RECORD_FIX)
        for name, value, kind in (
            ("input", self.input, InputContract),
            ("provenance", self.provenance, Provenance),
            ("normalization", self.normalization, (Normalization, type(None))),
        ):
            if not isinstance(value, kind):
                fields.fail(name, f"a {_names(kind)}", value)
        if not isinstance(self.input.other_dtypes, (Normalization, type(None))):
            fields.fail("input.other_dtypes", "a Normalization or None", self.input.other_dtypes)
        for name in ("napari_sr_version", "created", "source"):
            value = getattr(self.provenance, name)
            if value is not None and not isinstance(value, str):
                fields.fail(f"provenance.{name}", "a string or None", value)
        # every field a file stores, as a file's fields are (registered or not: a record may
        # describe a module built outside napari-sr)
        document = json_ready(self.to_dict(), strict=True, where="the model record")
        check_document(document, "model record", fix=RECORD_FIX, registered=False)
        channels = self.in_channels
        if self.color not in COLOR_ROUTES:
            fields.fail("color", f"one of {', '.join(map(repr, COLOR_ROUTES))}", self.color)
        if (self.color == "joint") != (channels > 1):
            route = "'joint'" if channels > 1 else "'per_channel' or 'luma'"
            fields.fail("color", f"{route} for a {channels}-channel network", self.color)
        if self.out_channels != channels:
            fields.fail("out_channels", f"{channels}, as many as it takes (format 1)",
                        self.out_channels)  # fmt: skip
        contract = self.input
        if not (
            isinstance(contract.dtypes, tuple)
            and contract.dtypes
            and all(isinstance(d, str) and d in _DTYPE_NAMES for d in contract.dtypes)
        ):
            fields.fail("input.dtypes", f"a tuple of some of {', '.join(_DTYPE_NAMES)}",
                        contract.dtypes)  # fmt: skip
        if isinstance(contract.spatial_dims, bool) or contract.spatial_dims != SPATIAL_DIMS:
            fields.fail("input.spatial_dims", f"{SPATIAL_DIMS} (format 1 holds 2-D networks)",
                        contract.spatial_dims)  # fmt: skip


def info_of(model: Any) -> ModelInfo:
    """The record of ``model``: its ``info``, or, for a torch module napari-sr did not
    build, one that describes it from the attributes such a module carries: ``scale``,
    ``in_channels``, its ``spec`` name and, where set, ``normalization``.

    Raises
    ------
    ValueError
        A module whose attributes a record cannot hold (e.g. 0 channels).
    """
    info = getattr(model, "info", None)
    if isinstance(info, ModelInfo):
        return info
    spec = getattr(model, "spec", None)
    name = getattr(spec, "name", None) or type(model).__name__.lower()
    recorded = getattr(model, "normalization", None)
    return ModelInfo(
        architecture=name,
        scale=int(model.scale),
        in_channels=int(model.in_channels),
        normalization=None if recorded is None else Normalization.from_dict(recorded),
    )


# ----------------------------------------------------------------- the document checks


def parse_json(text: str, where: str, *, fix: str = FIX) -> Any:
    """``text`` parsed as JSON, refusing NaN and Infinity; a ValueError naming ``where``."""

    def no_constants(token: str) -> float:
        raise ValueError(f"{token} is not a JSON number")

    try:
        return json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ValueError(f"{where}: its description is not valid JSON ({reason}); {fix}") from None


def check_document(
    document: Any, where: str, *, fix: str = FIX, registered: bool = True
) -> dict[str, Any]:
    """Check a parsed model-file document; a shallow copy of it, in the current layout
    (``hparams`` null becomes ``{}``).

    Parameters
    ----------
    document : Any
        The parsed JSON.
    where : str
        What the messages name, e.g. ``"model file 'm.safetensors'"``.
    fix : str
        What ends every message.
    registered : bool
        Also require an architecture of this napari-sr's registry (a file must be
        rebuildable; a record of a module built elsewhere names its class).

    Raises
    ------
    ValueError
        A field of the wrong type, out of range, missing or unknown; a document from a
        newer napari-sr; an architecture this napari-sr does not have.
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{where}: its description is not a napari-sr model record; {fix}")
    document = dict(document)
    field_ = _Fields(where, document, fix)
    version = field_.whole("format_version", low=1)
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{where} was written by a newer napari-sr (model format {version}, this one "
            f"reads up to {FORMAT_VERSION}); upgrade napari-sr to read it"
        )
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"{where}: its description has unknown field(s) {', '.join(map(repr, unknown))}; "
            + fix
        )
    if _depth(document) > MAX_DEPTH:
        raise ValueError(
            f"{where}: its description is nested more than {MAX_DEPTH} levels deep; {fix}"
        )

    architecture = field_.string("architecture")
    if not architecture:
        field_.fail("architecture", "a name such as 'edsr'", architecture)
    if registered:
        if architecture not in REGISTRY:
            raise ValueError(
                f"{where} holds a network of architecture {architecture!r}, which this "
                "napari-sr does not have (napari_sr.list_models() lists them); upgrade "
                "napari-sr if a newer one has it, otherwise " + fix
            )
    field_.whole("scale", low=1)
    field_.whole("in_channels", low=1)
    field_.whole("parameters", low=0, optional=True)
    field_.string("napari_sr_version", optional=True)
    field_.string("created", optional=True)

    hparams = field_.mapping("hparams", "a JSON object of hyperparameters", optional=True)
    for key, value in (hparams or {}).items():
        scalars = (type(None), bool, numbers.Real, str)
        flat = isinstance(value, list) and all(isinstance(v, scalars) for v in value)
        if not (isinstance(value, scalars) or flat):
            field_.fail(
                f"hparams.{key}", "a number, true/false, a string or a list of those", value
            )
    document["hparams"] = hparams or {}

    field_.normalization(document, "normalization")
    field_.mapping("training", "a JSON object (the training recipe)", optional=True)
    metrics = field_.mapping("metrics", "a JSON object of measured metrics", optional=True)
    if metrics:
        _check_metrics(field_, metrics)
    data = field_.mapping("data", "a JSON object describing the training data", optional=True)
    if data:
        _check_data(field_, data)
    return document


def _check_data(field_: _Fields, data: dict[str, Any]) -> None:
    """The parts of ``data`` that napari-sr reads (the rest is a free-form record)."""
    color = data.get("color")
    if color is not None and not isinstance(color, str):
        field_.fail("data.color", 'a string such as "luma"', color)
    field_.normalization(data, "other_dtypes", prefix="data.")
    for key in ("training", "validation"):
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            field_.fail(f"data.{key}", "a JSON object describing images", value)
    bursts = data.get("bursts")
    if bursts is not None:
        if not isinstance(bursts, dict):
            field_.fail("data.bursts", "a JSON object describing the training bursts", bursts)
        sigma = bursts.get("psf_sigma_hr_px")
        if sigma is not None and not _positive(sigma):
            field_.fail("data.bursts.psf_sigma_hr_px", "a positive number (pixels)", sigma)
        span = bursts.get("psf_range_hr_px")
        if span is not None and not (
            isinstance(span, list)
            and len(span) == 2
            and all(_real(v) and v >= 0 for v in span)
            and span[0] <= span[1]
        ):
            field_.fail("data.bursts.psf_range_hr_px", "two numbers, low <= high (pixels)", span)
    isotropic = data.get("isotropic")
    if isotropic is not None:
        if not isinstance(isotropic, dict):
            field_.fail("data.isotropic", "a JSON object describing the z factor", isotropic)
        factor = isotropic.get("factor")
        if not _positive(factor):
            field_.fail("data.isotropic.factor", "a positive number (the z factor)", factor)
        profile = isotropic.get("axial_profile")
        if profile is not None and not (
            isinstance(profile, list)
            and 1 <= len(profile) <= MAX_PROFILE
            and all(_real(v) for v in profile)
        ):
            field_.fail(
                "data.isotropic.axial_profile", f"a list of 1 to {MAX_PROFILE} numbers", profile
            )


def _check_metrics(field_: _Fields, metrics: dict[str, Any]) -> None:
    """The scores the widgets and the command line show (the rest is free-form)."""
    for key in ("psnr", "ssim", "gain_db", "bicubic_psnr", "final_loss"):
        value = metrics.get(key)
        if value is not None and not _real(value):
            field_.fail(f"metrics.{key}", "a number or null", value)
    steps = metrics.get("steps_done")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        field_.fail("metrics.steps_done", "a whole number of at least 0", steps)
    for key in ("validation", "bicubic"):
        record = metrics.get(key)
        if record is None:
            continue
        if not isinstance(record, dict):
            field_.fail(f"metrics.{key}", "a JSON object of scores, or null", record)
        for score in ("psnr", "ssim"):
            value = record.get(score)
            if value is not None and not _real(value):
                field_.fail(f"metrics.{key}.{score}", "a number or null", value)


class _Fields:
    """Typed reads of a document's fields, failing with one message shape."""

    def __init__(self, where: str, document: dict[str, Any], fix: str) -> None:
        self.where, self.document, self.fix = where, document, fix

    def fail(self, name: str, what: str, value: Any) -> None:
        raise ValueError(
            f"{self.where}: field {name!r} must be {what}, got {json_kind(value)}; {self.fix}"
        )

    def _get(self, name: str, what: str, optional: bool) -> tuple[bool, Any]:
        if name not in self.document:
            if optional:
                return False, None
            raise ValueError(
                f"{self.where}: its description lacks field {name!r} ({what}); {self.fix}"
            )
        return True, self.document[name]

    def whole(self, name: str, *, low: int, optional: bool = False) -> int | None:
        what = f"a whole number of at least {low}"
        present, value = self._get(name, what, optional)
        if not present or (optional and value is None):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.fail(name, what, value)
        return value

    def string(self, name: str, *, optional: bool = False) -> str | None:
        present, value = self._get(name, "a string", optional)
        if not present or (optional and value is None):
            return None
        if not isinstance(value, str):
            self.fail(name, "a string", value)
        return value

    def mapping(self, name: str, what: str, *, optional: bool = False) -> dict | None:
        present, value = self._get(name, what, optional)
        if not present or value is None:
            return None
        if not isinstance(value, dict):
            self.fail(name, what, value)
        return value

    def normalization(self, record: dict[str, Any], key: str, *, prefix: str = "") -> None:
        """``record[key]``: absent, null, or {kind, low, high} that Normalization accepts."""
        value = record.get(key)
        if value is None:
            return
        what = 'a JSON object such as {"kind": "percentile", "low": 1, "high": 99.8}'
        if (
            not isinstance(value, dict)
            or set(value) != {"kind", "low", "high"}
            or not isinstance(value["kind"], str)
            or not (_real(value["low"]) and _real(value["high"]))
        ):
            self.fail(prefix + key, what, value)
        try:
            Normalization(value["kind"], float(value["low"]), float(value["high"]))
        except ValueError as err:
            raise ValueError(f"{self.where}: field {prefix + key!r}: {err}; {self.fix}") from None


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("None" if k is type(None) else k.__name__ for k in kinds)


def _where(source: str | None) -> str:
    return "model record" if source is None else f"model file {source!r}"


def _normalization(value: Any, name: str = "normalization") -> Normalization:
    """A checked normalisation dict (or Normalization) as a Normalization."""
    if isinstance(value, Normalization):
        return value
    _Fields("model record", {name: value}, RECORD_FIX).normalization({name: value}, name)
    return Normalization(value["kind"], float(value["low"]), float(value["high"]))


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _as_dict(value: Any) -> Any:
    return value.to_dict() if isinstance(value, Normalization) else value


def _real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _real(value) and value > 0


def _depth(value: Any, level: int = 0) -> int:
    """Nesting depth of lists and objects (stops counting past MAX_DEPTH)."""
    if level > MAX_DEPTH or not isinstance(value, (dict, list)):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(v, level + 1) for v in items), default=level + 1)


def json_kind(value: Any) -> str:
    """What ``value`` is, in JSON words, for messages (``a string ('abc')``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, numbers.Integral):
        return f"a whole number ({value})"
    if isinstance(value, numbers.Real):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    return type(value).__name__
