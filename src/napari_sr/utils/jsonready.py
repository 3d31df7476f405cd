"""Records (provenance, model descriptions, training configs) made ready for JSON."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_ready(value: Any, *, strict: bool = False, where: str = "value") -> Any:
    """A copy of ``value`` that ``json.dumps`` takes and that compares equal after a round
    trip: mappings become dicts with string keys, tuples and lists become lists, numpy
    scalars Python numbers, paths strings.

    Parameters
    ----------
    value
        The record.
    strict : bool
        Also turn NaN and infinities into None (JSON has no such numbers) and refuse any
        other object with a TypeError naming where it is; otherwise other objects are
        left as they are.
    where : str
        Name of ``value`` in that message.
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v, strict=strict, where=f"{where}[{k!r}]")
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list | tuple):
        return [json_ready(v, strict=strict, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if not strict:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(
        f"{where} is a {type(value).__name__}, which a record cannot hold; give numbers, "
        "strings, lists or dicts"
    )
