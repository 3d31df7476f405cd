"""Building networks: :func:`create_model` (fresh weights) and :func:`from_plan` (the
network a checked plan describes, as a model file is loaded), each with its record
(:class:`~napari_sr.models.info.ModelInfo`).
"""

from __future__ import annotations

from typing import Any

from .hyperparameters import build, plan
from .info import ModelInfo


def create_model(name: str, *, scale: int, in_channels: int = 1, **hparams: Any):
    """Build a registered architecture with fresh weights.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    scale : int
        Upscaling factor; must be one of the model's ``scales``.
    in_channels : int
        Image channels in and out (1 for microscopy, 3 for RGB).
    **hparams
        Hyperparameters of the architecture, overriding the paper's defaults. Unknown
        names are an error listing the valid ones.

    Returns
    -------
    SRModel
        A torch module whose ``info`` (:class:`~napari_sr.models.info.ModelInfo`) records
        the architecture, the hyperparameters given here, scale and channels, without a
        training record; ``spec`` is its :class:`~napari_sr.models.spec.ModelSpec`, with
        the model's own ``halo`` and ``size_multiple`` where it has them (they follow its
        hyperparameters).

    Raises
    ------
    UnknownModelError
        No model of that name.
    ValueError
        A scale the model does not support, an unknown hyperparameter, a value of the
        wrong type or out of range, or a network too large to build (its size is
        estimated before any memory is allocated; see
        :mod:`napari_sr.models.hyperparameters`).
    """
    # types, ranges and the network's size are checked before anything is allocated
    return from_plan(plan(name, scale=scale, in_channels=in_channels, hparams=hparams))


def from_plan(planned):
    """Build a network planned by :func:`napari_sr.models.hyperparameters.plan`, with the
    record :func:`create_model` documents."""
    model = build(planned)
    model.info = ModelInfo(
        architecture=planned.name,
        scale=int(planned.kwargs["scale"]),
        in_channels=int(planned.kwargs["in_channels"]),
        # what save_model records to rebuild the same architecture
        hparams=dict(planned.hparams),
        parameters=sum(p.numel() for p in model.parameters()),
    )
    return model
