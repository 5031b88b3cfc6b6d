"""A synthetic CT head written as an ordinary DICOM series (no real patient data).

The head is drawn in patient LPS millimetres (x = patient's left, y = posterior, z = superior), centred
near the origin: skin and soft tissue with a nose (anterior, -y) and ears, a skull vault in three
layers (outer table, diploe, inner table) with a skull base, foramen magnum and orbits, eyes, brain
(grey and white matter), two lateral ventricles of different size, an enhancing lesion in the
patient's LEFT frontal lobe (+x), and contrast-filled arteries and venous sinuses. Nothing is mirror
symmetric, so a left/right or front/back swap anywhere down the line shows.

`orkiosk phantom OUT_DIR` writes the series (CT Image Storage, one file per slice, HU stored with
RescaleIntercept -1024, names that do not sort by position) and, beside it, two files a planner
would bring: `phantom.mrk.json` (3D Slicer markups in RAS: a biopsy trajectory to the lesion that
keeps clear of the vessels, and landmarks) and `phantom-labels.nrrd` (a labelmap of brain,
ventricles and lesion, as a segmentation made elsewhere). Both are ignored by the DICOM scan.

Modules: anatomy (tissues, their places and the planner's marks), canvas (partial-volume
painting), head (the head as labels, CT numbers and an in-memory Volume), series (any volume as a
DICOM series), extras (markups JSON, labelmap), writer (`orkiosk phantom`: all of it into a folder).
"""
