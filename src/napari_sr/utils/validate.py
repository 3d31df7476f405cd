"""Up-front checks of user arguments: numbers, flags, callbacks and numeric arrays.

Every public function checks its arguments before any work, so that a mistake gives one
ValueError or TypeError that names the argument, the value given and what to give
instead, never a traceback from deep inside numpy, or worse a result computed from
nonsense (a NaN shift, a negative PSF, a string scale). ``bool`` is refused wherever a
number is expected: ``True`` is an int to Python but never a meaningful scale or count.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

REAL_KINDS = "uif"
"""numpy dtype kinds of real numbers (unsigned, signed, float)."""


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    hint: str = "",
) -> float:
    """``value`` as a finite float, checked against bounds.

    Parameters
    ----------
    value : Any
        What the user passed.
    name : str
        The argument's name, for the message.
    minimum, maximum : float, optional
        Inclusive bounds.
    above : float, optional
        Exclusive lower bound (``value > above``).
    hint : str
        Appended to the message, e.g. "a typical value is 1".

    Raises
    ------
    TypeError
        If ``value`` is not a real number (strings and booleans included).
    ValueError
        If it is NaN, infinite or out of bounds.
    """
    tail = f"; {hint}" if hint else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {type(value).__name__} {value!r}{tail}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, not {value}{tail}")
    if above is not None and not number > above:
        raise ValueError(f"{name} must be greater than {above:g}, not {value}{tail}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, not {value}{tail}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum:g}, not {value}{tail}")
    return number


def check_integer(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    hint: str = "",
) -> int:
    """``value`` as an int: a whole number (``3`` or ``3.0``, not ``2.5``, ``"3"`` or
    ``True``) within the inclusive bounds; TypeError or ValueError naming ``name``."""
    tail = f"; {hint}" if hint else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a whole number, not {type(value).__name__} {value!r}{tail}"
        )
    if isinstance(value, numbers.Integral):
        number = int(value)
    else:
        real = float(value)
        if not (math.isfinite(real) and real.is_integer()):
            raise ValueError(f"{name} must be a whole number, not {value}{tail}")
        number = int(real)
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}{tail}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum}, not {value}{tail}")
    return number


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a bool; only True or False (numpy's too), not ``"no"`` or 1."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__} {value!r}")
    return bool(value)


def check_callback(value: Any, name: str = "progress") -> None:
    """Refuse a ``progress`` that cannot be called (it would fail only after some work)."""
    if value is not None and not callable(value):
        raise TypeError(
            f"{name} must be a function called as {name}(done, total), or None, "
            f"not {type(value).__name__}"
        )


def real_array(value: Any, name: str, *, finite: bool = True) -> np.ndarray:
    """``value`` as a numpy array of real numbers (any int, uint or float dtype).

    Raises
    ------
    TypeError
        For complex (its imaginary part would be dropped silently), boolean, string,
        object or structured data.
    ValueError
        If ``finite`` and the array holds NaN or infinite values.
    """
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(
            f"{name} is complex ({array.dtype}); napari-sr works on real images and would "
            f"otherwise drop the imaginary part - pass numpy.abs({name}) or {name}.real"
        )
    if kind == "b":
        raise TypeError(
            f"{name} is boolean; convert it to numbers first, e.g. {name}.astype(numpy.uint8)"
        )
    if kind not in REAL_KINDS:
        raise TypeError(
            f"{name} has dtype {array.dtype}, not numbers; pass a numeric array "
            f"(integers or floats), e.g. numpy.asarray({name}, dtype=numpy.float32)"
        )
    if finite and not all_finite(array):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); replace or mask them first, "
            f"e.g. numpy.nan_to_num({name})"
        )
    return array


def all_finite(array: np.ndarray) -> bool:
    """True if a real array holds no NaN or infinity; without an array-sized mask (min and
    max propagate NaN, and an infinity is the min or the max)."""
    if array.dtype.kind != "f" or array.size == 0:
        return True
    return bool(np.isfinite(array.min()) and np.isfinite(array.max()))
