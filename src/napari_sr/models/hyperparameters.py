"""Hyperparameters: checked against the architecture and bounded before a network exists.

Every path that builds a network goes through :func:`plan`: :func:`~napari_sr.create_model`
(and so :func:`~napari_sr.train` and ``napari-sr train --hparams``) and
:func:`~napari_sr.load_model` (whose hyperparameters come from a file that may be damaged or
crafted). :func:`plan`

1. checks each value against the type the architecture's constructor declares (an ``int``
   hyperparameter takes whole numbers only, not ``True`` or ``4.0``; a ``float`` a finite
   number; a tuple a list of the right length), and that counts and sizes are positive and
   below :data:`MAX_INT`;
2. builds the network on PyTorch's ``meta`` device, where tensors have shapes but no memory,
   stopping after :data:`MAX_TORCH_CALLS` tensor operations (a network of millions of layers
   is refused before it has been built), and without running the weight initialisation;
3. refuses a network of more than :data:`MAX_PARAMETERS` values, or one larger than the
   memory available, naming the hyperparameters that made it so.

The network itself is then built by :func:`build`, which turns any constructor failure on
odd-but-typed values into a ValueError naming the architecture and its hyperparameters.
"""

from __future__ import annotations

import functools
import math
import numbers
import typing
from dataclasses import dataclass
from typing import Any

from .info import json_kind as _kind
from .registry import REGISTRY

MAX_INT = 1 << 16
"""Largest value of an integer hyperparameter (a width, a depth, a kernel size) and of
``in_channels``; the size estimate bounds the network as a whole."""

MAX_SEQUENCE = 64
"""Longest tuple hyperparameter (e.g. SwinIR's ``depths``)."""

MAX_PARAMETERS = 1 << 28
"""Most parameter and buffer values a network may have: 1 GiB in float32, six times the
largest architecture at its paper's defaults (EDSR, 43 M)."""

MAX_TORCH_CALLS = 100_000
"""Most tensor operations building a network on the meta device may take (RCAN, the
deepest architecture at its defaults, takes 11,400): bounds the time a network of
millions of layers takes to be refused."""

MAX_FLOAT = 1e6
"""Largest magnitude of a float hyperparameter (they are scales and ratios)."""

_MAY_BE_ZERO = {("fsrcnn", "m"), ("drrn", "blocks")}
"""Integer hyperparameters for which 0 is meaningful (no mapping layers, no recursion)."""

_FLOAT_RANGES: dict[str, tuple[float, float, str]] = {
    "drop_path_rate": (0.0, 1.0, "in [0, 1)"),
    "mlp_ratio": (0.0, MAX_FLOAT, "positive"),
    "img_range": (0.0, MAX_FLOAT, "positive"),
    "kappa": (0.0, MAX_FLOAT, "positive"),
    "power": (0.0, MAX_FLOAT, "positive"),
}
"""Float hyperparameters with a meaningful range: (exclusive low, exclusive high) except
that ``drop_path_rate`` may be 0."""


class _TooDeep(Exception):
    """Raised inside the meta build when it takes more than MAX_TORCH_CALLS operations."""


@dataclass(frozen=True)
class Plan:
    """A network that passed the checks, not yet built.

    Attributes
    ----------
    name : str
        Registry name.
    cls : type
        The class that builds it.
    kwargs : dict
        Every keyword argument of the constructor (``scale``, ``in_channels`` and the
        checked hyperparameters).
    hparams : dict
        The checked hyperparameters alone (tuples for lists).
    shapes : dict
        Name → (shape, :func:`number_kind`) of every entry of the network's state dict.
    parameters : int
        Parameter and buffer values.
    """

    name: str
    cls: type
    kwargs: dict[str, Any]
    hparams: dict[str, Any]
    shapes: dict[str, tuple[tuple[int, ...], str]]
    parameters: int


def number_kind(dtype: Any) -> str:
    """``'floating point'``, ``'complex'``, ``'true/false'`` or ``'integer'``: the kind of
    number a torch dtype holds (weights of one kind never load into another)."""
    if dtype.is_floating_point:
        return "floating point"
    if dtype.is_complex:
        return "complex"
    return "true/false" if str(dtype) == "torch.bool" else "integer"


def describe(hparams: dict[str, Any]) -> str:
    """``n_feats=600, n_resblocks=4`` (or ``its defaults``) for messages."""
    if not hparams:
        return "its default hyperparameters"
    return ", ".join(f"{k}={v!r}" for k, v in hparams.items())


def check_scale(name: str, scale: Any, scales: tuple[int, ...]) -> int:
    """``scale`` as an int, if it is one of ``scales`` (a whole float such as 2.0 is taken)."""
    whole = _whole(scale)
    if whole is None or whole not in scales:
        raise ValueError(
            f"{name} supports scales {', '.join(map(str, scales))}, not {scale!r}; pass one "
            f"of them, e.g. scale={scales[0]}"
        )
    return whole


def check_in_channels(name: str, in_channels: Any) -> int:
    """``in_channels`` as an int between 1 and :data:`MAX_INT`."""
    if isinstance(in_channels, bool) or not isinstance(in_channels, numbers.Integral):
        raise ValueError(
            f"in_channels of {name} must be a whole number such as 1 or 3, not {in_channels!r}"
        )
    if not 1 <= in_channels <= MAX_INT:
        raise ValueError(
            f"in_channels of {name} must be between 1 and {MAX_INT}, not {in_channels}; use 1 "
            "for grayscale or microscopy, 3 for RGB"
        )
    return int(in_channels)


def check_hparams(name: str, cls: type, hparams: dict[str, Any]) -> dict[str, Any]:
    """Check ``hparams`` against the types ``cls`` declares; the values normalised
    (lists to tuples, integers of a float hyperparameter to float).

    Raises
    ------
    ValueError
        An unknown name, a value of the wrong type, out of range, or too large.
    """
    hints = _hints(cls)
    unknown = sorted(set(map(str, hparams)) - set(hints))
    if unknown or not all(isinstance(k, str) for k in hparams):
        raise ValueError(
            f"{name} has no hyperparameter(s) {', '.join(unknown)}; it takes "
            f"{', '.join(hints) or 'none'}"
        )
    return {key: _check_value(name, key, value, hints[key]) for key, value in hparams.items()}


def plan(name: str, *, scale: Any, in_channels: Any, hparams: dict[str, Any]) -> Plan:
    """Check the arguments of :func:`~napari_sr.create_model` and estimate the network's
    size without allocating it.

    Raises
    ------
    ValueError
        Bad arguments, a constructor that refuses them, or a network larger than
        :data:`MAX_PARAMETERS` values or than the memory available.
    """
    spec = REGISTRY.spec(name)
    scale = check_scale(name, scale, tuple(spec.scales))
    in_channels = check_in_channels(name, in_channels)
    cls = REGISTRY.builder(name)
    checked = check_hparams(name, cls, dict(hparams))
    kwargs = {"scale": scale, "in_channels": in_channels, **checked}
    meta = _build_on_meta(name, cls, kwargs, checked)
    state = meta.state_dict()
    shapes = {k: (tuple(v.shape), number_kind(v.dtype)) for k, v in state.items()}
    # parameters and buffers, persistent or not (a non-persistent mask takes memory too)
    tensors = {id(t): t for t in (*meta.parameters(), *meta.buffers())}
    empty = [(k, tuple(p.shape)) for k, p in meta.named_parameters() if p.numel() == 0]
    if empty:
        raise ValueError(
            f"{name} with {describe(checked)} has layers without weights ({empty[0][0]} "
            f"has shape {empty[0][1]}); choose values that leave every layer at least one "
            "channel"
        )
    count = sum(t.numel() for t in tensors.values())
    nbytes = sum(t.numel() * t.element_size() for t in tensors.values())
    _check_size(name, checked, in_channels, count, nbytes)
    return Plan(name, cls, kwargs, checked, shapes, count)


def build(planned: Plan):
    """Build the planned network with fresh weights (a ValueError if its constructor
    refuses the values)."""
    import warnings

    try:
        with warnings.catch_warnings():  # an error stays one line; the plan checked the rest
            warnings.simplefilter("ignore")
            return planned.cls(**planned.kwargs)
    except MemoryError:
        raise ValueError(
            f"{planned.name} with {describe(planned.hparams)} does not fit in memory "
            f"({planned.parameters:,} parameters); choose smaller hyperparameters"
        ) from None
    except Exception as err:
        raise _refused(planned.name, planned.hparams, err) from None


# ------------------------------------------------------------------------------- internals


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _hints(cls: type) -> dict[str, Any]:
    """Keyword-only hyperparameters of ``cls`` (not ``scale``/``in_channels``) → type."""
    import inspect

    parameters = inspect.signature(cls).parameters.values()
    names = [
        p.name
        for p in parameters
        if p.kind == p.KEYWORD_ONLY and p.name not in ("scale", "in_channels")
    ]
    try:
        resolved = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that does not resolve: no type known
        resolved = {}
    return {n: resolved.get(n, Any) for n in names}


def _check_value(name: str, key: str, value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    label = f"hyperparameter {key} of {name}"
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:
            return _check_value(name, key, value, others[0])
        return value  # no union of two real types is declared today
    if hint is int:
        whole = None if isinstance(value, bool) else value
        if not isinstance(whole, numbers.Integral):
            raise ValueError(f"{label} must be a whole number, got {_kind(value)}")
        low = 0 if (name, key) in _MAY_BE_ZERO else 1
        if not low <= value <= MAX_INT:
            raise ValueError(f"{label} must be between {low} and {MAX_INT}, got {value}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{label} must be a number, got {_kind(value)}")
        number = float(value)
        low, high, words = _FLOAT_RANGES.get(
            key, (-MAX_FLOAT, MAX_FLOAT, f"between -{MAX_FLOAT:g} and {MAX_FLOAT:g}")
        )
        inside = (low <= number if key == "drop_path_rate" else low < number) and (
            number < min(high, MAX_FLOAT)
        )
        if not math.isfinite(number) or not inside:
            raise ValueError(f"{label} must be {words}, got {value!r}")
        return number
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{label} must be true or false, got {_kind(value)}")
        return value
    if hint is str:
        if not isinstance(value, str) or len(value) > 100:
            raise ValueError(f"{label} must be a short string, got {_kind(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{label} must be a list such as {[1, 2]}, got {_kind(value)}")
        variable = len(args) == 2 and args[1] is Ellipsis
        if variable and not 1 <= len(value) <= MAX_SEQUENCE:
            raise ValueError(f"{label} must list 1 to {MAX_SEQUENCE} values, got {len(value)}")
        if not variable and len(value) != len(args):
            raise ValueError(f"{label} must list {len(args)} values, got {_kind(value)}")
        items = [args[0]] * len(value) if variable else list(args)
        return tuple(
            _check_value(name, f"{key}[{i}]", v, t)
            for i, (v, t) in enumerate(zip(value, items, strict=True))
        )
    # an undeclared type: plain JSON values only
    if value is not None and not isinstance(value, (bool, numbers.Real, str, list, tuple)):
        raise ValueError(f"{label} must be a JSON value, got {_kind(value)}")
    return value


def _refused(name: str, hparams: dict[str, Any], err: BaseException) -> ValueError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(
        f"{name} cannot be built with {describe(hparams)} ({reason}); use values like the "
        "paper's defaults (napari_sr.models.registry.REGISTRY.spec(name).defaults)"
    )


def _build_on_meta(name: str, cls: type, kwargs: dict[str, Any], hparams: dict[str, Any]):
    import warnings

    import torch

    mode = _meta_build_mode()()
    grad = torch.is_grad_enabled()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.device("meta"), mode:
                model = cls(**kwargs)
        if mode.calls > MAX_TORCH_CALLS:  # layers without weights after the last check
            raise _TooDeep
        return model
    except _TooDeep:
        raise ValueError(
            f"{name} with {describe(hparams)} has too many layers to build (more than "
            f"{MAX_TORCH_CALLS:,} tensor operations); choose fewer blocks or layers"
        ) from None
    except Exception as err:
        raise _refused(name, hparams, err) from None
    finally:
        # a constructor stopped half-way may leave a context unexited (guard the one
        # global state a constructor commonly sets)
        torch.set_grad_enabled(grad)


def _check_size(
    name: str, hparams: dict[str, Any], in_channels: int, count: int, nbytes: int
) -> None:
    from ..utils.memory import available_memory

    try:
        available = available_memory()
    except Exception:  # a probe that fails leaves the fixed bound only
        available = None
    if count <= MAX_PARAMETERS and (available is None or nbytes <= available):
        return
    given = [k for k in hparams if not isinstance(hparams[k], (bool, str, float))]
    culprits = ", ".join(f"{k}={hparams[k]!r}" for k in given) or f"in_channels={in_channels}"
    limit = (
        f"napari-sr builds at most {MAX_PARAMETERS:,} (1 GiB in float32)"
        if count > MAX_PARAMETERS
        else f"only {available / 2**30:.1f} GiB of memory is available"
    )
    raise ValueError(
        f"{name} with {culprits} would have {count:,} parameters "
        f"({nbytes / 2**30:.1f} GiB); {limit}. Choose smaller values for {culprits}"
    )


@functools.cache
def _meta_build_mode() -> type:
    """The class of :func:`_build_on_meta`'s torch-function mode (made on first use, so
    that importing this module does not import torch)."""
    import torch
    from torch.overrides import TorchFunctionMode

    # in-place initialisers: on meta tensors they do nothing, and some of them (normal_)
    # take PyTorch's reference path, whose first use imports the compiler (seconds)
    skipped = {
        "normal_", "uniform_", "trunc_normal_", "kaiming_normal_", "kaiming_uniform_",
        "xavier_normal_", "xavier_uniform_", "orthogonal_", "zeros_", "ones_", "zero_",
        "fill_", "constant_", "copy_", "mul_", "add_", "sub_", "div_", "clamp_",
        "erfinv_", "exponential_", "bernoulli_", "random_", "eye_", "dirac_",
    }  # fmt: skip

    # where the build may be stopped: tensor factories, called in a constructor's body
    # (stopping inside a context's __exit__, e.g. no_grad's, would leave it half-undone)
    factories = {
        "empty", "zeros", "ones", "full", "tensor", "as_tensor", "arange", "linspace",
        "rand", "randn", "eye", "empty_like", "zeros_like", "ones_like", "full_like",
    }  # fmt: skip

    class MetaBuild(TorchFunctionMode):
        """Counts the tensor operations of a meta build (modes are per thread, so other
        threads are not affected) and skips the weight initialisation."""

        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            self.calls += 1
            name = getattr(func, "__name__", "")
            if self.calls > MAX_TORCH_CALLS and name in factories:
                raise _TooDeep
            if name in skipped:
                first = args[0] if args else next(iter(kwargs.values()), None)
                if isinstance(first, torch.Tensor) and first.is_meta:
                    return first
            return func(*args, **kwargs)

    return MetaBuild
