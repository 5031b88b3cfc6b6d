"""Planning side: DICOM series -> volume -> segmentation -> meshes -> planning package."""
