"""A DICOM slice written the way a scanner writes one (Part 10, explicit VR little endian),
for the tests of the DICOM reader."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid


def write_slice(path, pixels, *, series, position=(0.0, 0.0, 0.0),
                orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), spacing=(1.0, 1.0), instance=1,
                slope=None) -> None:  # fmt: skip
    """One slice of ``series`` (a UID): ``pixels`` (rows, columns) stored as int16 (uint8
    as 8-bit), its first pixel at ``position`` (LPS mm)."""
    pixels = np.asarray(pixels)
    eight = pixels.dtype == np.uint8
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = series, series, "MR"
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelSpacing = [float(v) for v in spacing]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.InstanceNumber = instance
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    bits = 8 if eight else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = 0 if eight else 1
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, -1024
    ds.PixelData = (pixels if eight else pixels.astype(np.int16)).tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def new_series() -> str:
    return generate_uid()
