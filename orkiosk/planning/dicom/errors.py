"""The one error of the DICOM reader, and the progress callback type its stages take."""

from __future__ import annotations

from collections.abc import Callable

from orkiosk.errors import OrkioskError

ProgressFn = Callable[[int, int], None]


class DicomError(OrkioskError):
    """A DICOM folder, series or file that cannot become a trustworthy volume."""
