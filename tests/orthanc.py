"""A real DICOM archive for the tests: the product's local Orthanc (orkiosk/node/orthanc.py).
`scripts/setup.sh --test` installs Orthanc; in CI a missing Orthanc fails, elsewhere it skips."""

from __future__ import annotations

import os

import pytest

from orkiosk.node import orthanc as _orthanc
from orkiosk.node.orthanc import AET, PASSWORD, USER, free_port  # noqa: F401 (the tests' names)


def Orthanc(*args, **kwargs):  # noqa: N802 - the tests construct it like the class
    if _orthanc.orthanc_executable() is None:
        if os.environ.get("CI"):
            pytest.fail("Orthanc is missing (scripts/setup.sh --test installs it)")
        pytest.skip("Orthanc is not installed (scripts/setup.sh --test installs it)")
    return _orthanc.Orthanc(*args, **kwargs)
