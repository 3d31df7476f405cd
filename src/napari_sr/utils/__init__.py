"""The bottom layer: utilities every other module may use and that import nothing above.

``progress`` (progress callbacks, cancel tokens, :class:`~napari_sr.Cancelled`), ``memory``
(available memory, finiteness checks in bounded blocks), ``atomic`` (atomic writes and stale
part files), ``validate`` (shared argument checks), ``intensity`` (dtype round trips),
``jsonready`` (metadata made JSON-safe) and ``device`` (devices by name; imports torch, so
only modules that run models import it).
"""
