"""Self-supervised SR: networks trained on the image they restore.

- :func:`~napari_sr.selfsup.isotropic.isotropic`: isotropic reconstruction of anisotropic
  3D stacks (CARE, Weigert et al. 2018; SMORE, Zhao et al. 2021), trained on the stack's
  own lateral planes;
- :func:`~napari_sr.selfsup.zssr.zssr`: zero-shot 2D SR (ZSSR, Shocher et al. 2018),
  trained on the image and its own downscaled versions.

Both make training pairs of their own and run them through the training loop of
:mod:`napari_sr.training` and the inference engine of :mod:`napari_sr.engine`. Their
recipes (:mod:`~napari_sr.selfsup.config`) are subclasses of the training recipe
:class:`~napari_sr.training.config.TrainConfig`: one declaration per option.
"""
