"""Diffusion SR: a conditional denoising diffusion that samples high-resolution images
given a low-resolution one (ResShift's residual shifting), so that several samples show
where the data leave the answer open.

The schedule, its Gaussians and the sampler are :mod:`napari_sr.models.resshift` (the
model record and the training loop use them too); the denoiser is
:class:`napari_sr.models.diffusion_unet.DiffusionUNet`;
:mod:`~napari_sr.diffusion.calibration` checks that the samples' spread is an uncertainty.
"""
