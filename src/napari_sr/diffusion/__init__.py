"""Diffusion SR: a conditional denoising diffusion that samples high-resolution images
given a low-resolution one (ResShift's residual shifting), so that several samples show
where the data leave the answer open.

:class:`~napari_sr.diffusion.schedule.ResShiftSchedule` holds the noise schedule and its
Gaussians; :func:`~napari_sr.diffusion.sampler.sample` runs the reverse process with any
network that predicts the clean image.
"""
