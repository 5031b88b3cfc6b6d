"""Read one DICOM image series into a volume in patient LPS millimetres.

A folder is scanned recursively (any file names; files that are not DICOM are ignored), images are
grouped by Series Instance UID (files an anonymiser left without one: by what identifies the
acquisition, under a `no-uid-<hash>` id) and one series is chosen: the one asked for (UID, id,
series number or description), else the one with the most images (localizers never win)
(scan.py). Its slices are sorted by their position along the
slice normal (the cross product of the two ImageOrientationPatient cosines) and the geometry is
checked before anything is built: one orientation, one matrix size and pixel spacing, at least two
slices, one image per position (geometry.py). Positions the scanner rounded are placed on the
least-squares grid; a missing slice, varying spacing or a gantry tilt is resampled onto a regular
grid from the true positions (geometry.py plans it, regularise.py does it), each with a note; a
gap too wide to interpolate honestly is refused. Pixel
values go through RescaleSlope/RescaleIntercept (Hounsfield units for CT). Compressed transfer
syntaxes decode through pydicom's plugins (pylibjpeg, pylibjpeg-libjpeg, -openjpeg, -rle)
(pixels.py). Enhanced multi-frame images (one file, many frames, positions in the per-frame
functional groups) are read frame by frame in the same way (frames.py). series.read_series runs
it all; header.py reads the patient and study fields.

Conventions of the result (volume.Volume):
- `array` is indexed [k, j, i]: k = slice (sorted along the slice normal), j = row, i = column.
- `affine` (4x4) maps the voxel index column (i, j, k, 1) to patient LPS millimetres, so the
  centre of voxel array[k, j, i] is at affine @ (i, j, k, 1).

Every refusal is a DicomError (errors.py) whose message names the series or the file to blame and
why.
"""
