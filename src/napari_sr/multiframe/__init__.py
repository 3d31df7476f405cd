"""Multi-image SR: registration of frames and their fusion on a finer grid.

- :func:`~napari_sr.multiframe.registration.register`: sub-pixel translations by phase
  correlation;
- :func:`~napari_sr.multiframe.fusion.misr`: shift-and-add, iterative back-projection and
  robust (L1 + bilateral TV) fusion of registered frames;
- :class:`FramesMismatchWarning`: what ``misr`` warns with when the frames do not look like
  views of one scene (:mod:`~napari_sr.multiframe.consistency`).
"""

from .consistency import FramesMismatchWarning

__all__ = ["FramesMismatchWarning"]
