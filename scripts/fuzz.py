"""Coverage-guided fuzzing of the parsers of outside input with atheris (libFuzzer for Python).

    .venv/bin/pip install atheris          # builds here (Debian 12, Python 3.11); not in CI
    .venv/bin/python scripts/fuzz.py TARGET [libFuzzer options]
    e.g. .venv/bin/python scripts/fuzz.py codec -max_total_time=600 -rss_limit_mb=2048

Targets: codec (sync wire frames -> orkiosk.sync.codec.decode), markups (3D Slicer .mrk.json),
nrrd and nifti (labelmaps), dicom (one DICOM file's header through the series scan). Each starts
from a valid seed (written into a fresh corpus folder) and accepts only the reader's one-line
OrkioskError; anything else is a crash libFuzzer reports with the input that caused it (saved
as crash-*). -rss_limit_mb bounds memory: an input that makes the reader grow past it fails the
run. The brief property tests in tests/test_fuzz_parsers.py use the same seeds with hypothesis.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

with atheris.instrument_imports(include=["orkiosk"]):
    from orkiosk.errors import OrkioskError
    from orkiosk.planning.dicom.header import read_info
    from orkiosk.planning.dicom.scan import choose_series, scan_folder
    from orkiosk.planning.labels import read_labels
    from orkiosk.planning.markups import read_markups
    from orkiosk.sync import codec

TMP = Path(
    tempfile.mkdtemp(
        prefix="orkiosk-atheris-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    )
)


def _file_target(name: str, reader):
    path = TMP / name

    def run(data: bytes) -> None:
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
            (path / "IM0001.dcm").write_bytes(data)
        else:
            path.write_bytes(data)
        with contextlib.suppress(OrkioskError):
            reader(path)

    return run


def _dicom(folder: Path) -> None:
    group, _ = choose_series(scan_folder(folder))
    read_info(group.first_path, group.uid)


def _value(fdp, depth: int = 0):
    """A JSON value of any type; hashes, names and offsets often enough to pass the first checks."""
    pick = fdp.ConsumeIntInRange(0, 9 if depth < 2 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return fdp.ConsumeBool()
    if pick == 2:
        return fdp.ConsumeIntInRange(-(2**40), 2**40)
    if pick == 3:
        return fdp.ConsumeFloat()
    if pick == 4:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
    if pick == 5:
        return "ab" * 32  # a well-formed sha256
    if pick == 6:
        return fdp.PickValueInList(["OR-1", "meshes/a.glb", "plan.json", "../x", "", "a" * 300])
    if pick == 7:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    keys = FIELDS + [fdp.ConsumeUnicodeNoSurrogates(8)]
    return {
        fdp.PickValueInList(keys): _value(fdp, depth + 1)
        for _ in range(fdp.ConsumeIntInRange(0, 4))
    }


def _codec(data: bytes) -> None:
    """Structure-aware: mostly a right magic and a JSON header of a known kind with known field
    names and values of every type, so the fuzzer reaches the per-field checks. The private
    decoder is called, so anything but a ProtocolError (which decode() would hide) is a crash."""
    fdp = atheris.FuzzedDataProvider(data)
    magic = codec.MAGIC if fdp.ConsumeIntInRange(0, 15) else fdp.ConsumeBytes(12)
    if fdp.ConsumeIntInRange(0, 7):
        doc = {"t": fdp.PickValueInList(sorted(codec.KINDS))}
        for _ in range(fdp.ConsumeIntInRange(0, 10)):
            doc[fdp.PickValueInList(FIELDS)] = _value(fdp)
        header = json.dumps(doc).encode()
    else:
        header = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 20000))
    frames = [magic, header]
    if fdp.ConsumeBool():
        frames.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096)))
    with contextlib.suppress(codec.ProtocolError):
        codec._decode(frames)


FIELDS = sorted({f for cls in codec.KINDS.values() for f in cls.__dataclass_fields__})
TARGETS = {
    "codec": (_codec, None),
    "markups": (_file_target("plan.mrk.json", read_markups), "markups"),
    "nrrd": (_file_target("labels.nrrd", read_labels), "nrrd"),
    "nifti": (_file_target("labels.nii.gz", read_labels), "nifti"),
    "dicom": (_file_target("ct/", _dicom), "dicom"),
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz.py {{{','.join(TARGETS)}}} [libFuzzer options]")
    name = sys.argv[1]
    target, seed_kind = TARGETS[name]
    corpus = TMP / f"corpus-{name}"
    corpus.mkdir()
    if seed_kind:
        from test_fuzz_parsers import seed

        (corpus / "seed").write_bytes(seed(seed_kind))
    else:
        from orkiosk.sync.codec import GetState, encode

        (corpus / "seed").write_bytes(b"".join(encode(GetState("OR-1"))))
    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
