"""Inference engine: runs a single-image method over the planes of an n-D stack."""
