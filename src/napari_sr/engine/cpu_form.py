"""The form of a network the engine runs on a CPU.

An architecture may know a faster form of the same function for inference
(:meth:`napari_sr.models.network.SRModel.for_inference`: EDSR and RCAN fold their linear
upsampling tail into one low-resolution convolution). Both CPU backends, PyTorch and ONNX
Runtime (:mod:`.onnx_backend`), run that form. It is built once per network and kept until
the network's weights change (training updates them in place between validations).
"""

from __future__ import annotations

import itertools
import threading
import weakref

import torch

_forms: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def cpu_form(model: torch.nn.Module) -> torch.nn.Module:
    """``model.for_inference()`` when the model has one, else ``model``; a form other than
    the model itself is kept for as long as ``model`` lives and its weights stay as they
    are."""
    make = getattr(model, "for_inference", None)
    if make is None:
        return model
    stamp = _stamp(model)
    with _lock:
        kept = _forms.get(model)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        with torch.no_grad():
            form = make()
        if form is not model:  # kept only apart from the model: a value naming its own
            _forms[model] = (stamp, form)  # key would keep the key alive
        return form


def _stamp(model: torch.nn.Module) -> tuple:
    """What identifies the weights' current values: each tensor's storage and version
    counter (in-place updates such as optimiser steps increase it)."""
    tensors = itertools.chain(model.parameters(), model.buffers())
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)
