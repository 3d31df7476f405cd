"""The description a napari-sr model file carries, checked field by field before any of it
is used.

A model file (see :mod:`napari_sr.models.checkpoint`) stores a JSON document beside its
weights. The file may be damaged or crafted, so every field that napari-sr reads, here or
later (the engine's colour route and normalisation, multi-frame fusion, isotropic
reconstruction, the widgets), is checked for its type and range in this one place, and
anything else is refused with a message that names the field, what it must be, and the
fix. The hyperparameters are checked against the architecture when the network is
planned (:mod:`napari_sr.models.hyperparameters`).
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

FORMAT = "napari-sr-model"
FORMAT_VERSION = 1

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
"""Every field of a format-1 description (:func:`~napari_sr.save_model` writes them all)."""

MAX_DEPTH = 32
"""Deepest nesting of lists and objects a description may have (ours need 5)."""

MAX_PROFILE = 4096
"""Longest recorded axial profile (an isotropic model's PSF samples)."""

FIX = (
    "the file is damaged or not a napari-sr model file; re-save it with "
    "napari_sr.save_model, or load bare weights with load_model(path, architecture=..., "
    "scale=...)"
)


def parse(text: str, name: str, *, fix: str = FIX) -> dict[str, Any]:
    """The description ``text`` of model file ``name``, parsed and checked.

    Raises
    ------
    ValueError
        Not JSON (or JSON with NaN or Infinity, which napari-sr never writes), or a field
        of the wrong type, out of range, missing or unknown.
    """
    where = f"model file {name!r}"

    def no_constants(token: str) -> float:
        raise ValueError(f"{token} is not a JSON number")

    try:
        document = json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ValueError(f"{where}: its description is not valid JSON ({reason}); {fix}") from None
    return validate(document, name, fix=fix)


def validate(document: Any, name: str, *, fix: str = FIX) -> dict[str, Any]:
    """Check a parsed description; returns it (``hparams`` null becomes ``{}``).

    ``fix`` ends every message (what the user can do about it).

    Raises
    ------
    ValueError
        A field of the wrong type, out of range, missing or unknown; a description from a
        newer napari-sr; an architecture this napari-sr does not have.
    """
    where = f"model file {name!r}"
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{where}: its description is not a napari-sr model record; {fix}")
    field = _Fields(where, document, fix)
    version = field.whole("format_version", low=1)
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

    architecture = field.string("architecture")
    from .registry import list_models

    if architecture not in list_models():
        raise ValueError(
            f"{where} holds a network of architecture {architecture!r}, which this napari-sr "
            "does not have (napari_sr.list_models() lists them); upgrade napari-sr if a "
            "newer one has it, otherwise " + fix
        )
    field.whole("scale", low=1)
    field.whole("in_channels", low=1)
    field.whole("parameters", low=0, optional=True)
    field.string("napari_sr_version", optional=True)
    field.string("created", optional=True)

    hparams = field.mapping("hparams", "a JSON object of hyperparameters", optional=True)
    for key, value in (hparams or {}).items():
        scalars = (type(None), bool, numbers.Real, str)
        flat = isinstance(value, list) and all(isinstance(v, scalars) for v in value)
        if not (isinstance(value, scalars) or flat):
            field.fail(
                f"hparams.{key}", "a number, true/false, a string or a list of those", value
            )
    document["hparams"] = hparams or {}

    field.normalization(document, "normalization")
    field.mapping("training", "a JSON object (the training recipe)", optional=True)
    metrics = field.mapping("metrics", "a JSON object of measured metrics", optional=True)
    if metrics:
        _check_metrics(field, metrics)
    data = field.mapping("data", "a JSON object describing the training data", optional=True)
    if data:
        _check_data(field, data)
    return document


# ------------------------------------------------------------------------------- internals


def _check_data(field: _Fields, data: dict[str, Any]) -> None:
    """The parts of ``data`` that inference reads (the rest is a free-form record)."""
    color = data.get("color")
    if color is not None and not isinstance(color, str):
        field.fail("data.color", 'a string such as "luma"', color)
    field.normalization(data, "other_dtypes", prefix="data.")
    for key in ("training", "validation"):
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            field.fail(f"data.{key}", "a JSON object describing images", value)
    bursts = data.get("bursts")
    if bursts is not None:
        if not isinstance(bursts, dict):
            field.fail("data.bursts", "a JSON object describing the training bursts", bursts)
        sigma = bursts.get("psf_sigma_hr_px")
        if sigma is not None and not _positive(sigma):
            field.fail("data.bursts.psf_sigma_hr_px", "a positive number (pixels)", sigma)
    isotropic = data.get("isotropic")
    if isotropic is not None:
        if not isinstance(isotropic, dict):
            field.fail("data.isotropic", "a JSON object describing the z factor", isotropic)
        factor = isotropic.get("factor")
        if not _positive(factor):
            field.fail("data.isotropic.factor", "a positive number (the z factor)", factor)
        profile = isotropic.get("axial_profile")
        if profile is not None and not (
            isinstance(profile, list)
            and 1 <= len(profile) <= MAX_PROFILE
            and all(_real(v) for v in profile)
        ):
            field.fail(
                "data.isotropic.axial_profile", f"a list of 1 to {MAX_PROFILE} numbers", profile
            )


def _check_metrics(field: _Fields, metrics: dict[str, Any]) -> None:
    """The scores the widgets and the command line show (the rest is free-form)."""
    for key in ("psnr", "ssim", "gain_db", "bicubic_psnr", "final_loss"):
        value = metrics.get(key)
        if value is not None and not _real(value):
            field.fail(f"metrics.{key}", "a number or null", value)
    steps = metrics.get("steps_done")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        field.fail("metrics.steps_done", "a whole number of at least 0", steps)
    for key in ("validation", "bicubic"):
        record = metrics.get(key)
        if record is None:
            continue
        if not isinstance(record, dict):
            field.fail(f"metrics.{key}", "a JSON object of scores, or null", record)
        for score in ("psnr", "ssim"):
            value = record.get(score)
            if value is not None and not _real(value):
                field.fail(f"metrics.{key}.{score}", "a number or null", value)


class _Fields:
    """Typed reads of a description's fields, failing with one message shape."""

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
        from ..normalization import Normalization

        try:
            Normalization(value["kind"], float(value["low"]), float(value["high"]))
        except ValueError as err:
            raise ValueError(f"{self.where}: field {prefix + key!r}: {err}; {self.fix}") from None


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
