"""The napari plugin: the only package of napari-sr that may import napari, Qt or magicgui.

Reader, writer and sample data work on napari's layer-data tuples and import no napari at
all; the dock widgets do.
"""
