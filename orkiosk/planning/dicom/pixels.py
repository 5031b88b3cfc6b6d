"""Decoding the pixel data of the chosen frames and rescaling it (Hounsfield units for CT)."""

from __future__ import annotations

import warnings

import numpy as np

from orkiosk.planning.dicom.errors import DicomError, ProgressFn
from orkiosk.planning.dicom.frames import Frame, frame_name


def _decode(path: str, ds) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.pixel_array
    except Exception as exc:  # decoders raise many kinds; name the file and the cause
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        syntax = f"{ts.name} ({ts})" if ts is not None else "unknown transfer syntax"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ""
        if ts is not None and ts.is_compressed:
            hint = (
                "; compressed images need the pylibjpeg plugins (pip install pylibjpeg "
                "pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle)"
            )
        raise DicomError(
            f"{path}: cannot decode the pixel data ({syntax}): {text}; the file may be "
            f"truncated or damaged{hint}"
        ) from exc


def _name_raw_syntax(ds) -> None:
    """A raw data set (no file meta, e.g. as a PACS stored it) is native: name the transfer syntax
    it was read in, which the decoder needs."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        return
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian
        if implicit
        else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    )


def _pixels(f: Frame, cache: dict[str, np.ndarray]) -> np.ndarray:
    """The decoded pixel data of the frame's file (multi-frame files decode once)."""
    import pydicom

    if f.frame is not None and f.path in cache:
        return cache[f.path]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(f.path, force=True)  # raw data sets (no preamble) too
    except Exception as exc:
        raise DicomError(f"{f.path}: cannot be read ({type(exc).__name__}: {exc})") from exc
    _name_raw_syntax(ds)
    pixels = _decode(f.path, ds)
    if f.frame is not None:
        cache.clear()
        cache[f.path] = pixels
    return pixels


def load_frames(frames: list[Frame], progress: ProgressFn | None = None) -> np.ndarray:
    """Decode and rescale the frames into array[k, j, i]: int16 when the rescale is exact (int32
    if values need it), else float32."""
    exact = all(f.slope == 1.0 and float(f.intercept).is_integer() for f in frames)
    first = frames[0]
    shape = (len(frames), first.rows, first.columns)
    out = np.empty(shape, dtype=np.int16 if exact else np.float32)
    cache: dict[str, np.ndarray] = {}  # multi-frame files decode once
    for n, f in enumerate(frames):
        if progress:
            progress(n, len(frames))
        pixels = _pixels(f, cache)
        img = pixels if f.frame is None else (pixels if pixels.ndim == 2 else pixels[f.frame])
        if img.shape != (first.rows, first.columns):
            raise DicomError(
                f"{frame_name(f)}: decoded image is {img.shape[1]}x{img.shape[0]}, header says "
                f"{first.columns}x{first.rows}"
            )
        if exact:
            vals = img.astype(np.int32) + int(f.intercept)
            if out.dtype == np.int16 and (vals.min() < -32768 or vals.max() > 32767):
                out = out.astype(np.int32)  # rare: values beyond int16, keep them exact
            out[n] = vals
        else:
            out[n] = img.astype(np.float32) * np.float32(f.slope) + np.float32(f.intercept)
    if progress:
        progress(len(frames), len(frames))
    return out
