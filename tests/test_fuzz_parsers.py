"""Fuzz/property suite over the parsers of outside input beyond the package (tests/
test_plan_fuzz.py) and the sync wire (tests/test_sync_codec.py): 3D Slicer markups, labelmaps
(NRRD, NIfTI) and DICOM headers. Each example starts from a valid file, damages it (flipped,
inserted, deleted or truncated bytes, or a JSON value swapped for another), and reads it: the
only allowed failure is the reader's one-line OrkioskError, never another exception.

Brief in CI; `scripts/test.sh -m slow` runs many more examples. Coverage-guided runs with
atheris: scripts/fuzz.py (see there).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkiosk.errors import OrkioskError
from orkiosk.planning.labels import read_labels, write_nifti
from orkiosk.planning.markups import read_markups
from orkiosk.planning.phantom.anatomy import phantom_plan
from orkiosk.planning.phantom.extras import markups_json

BRIEF = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))

_SEEDS: dict[str, bytes] = {}


def seed(kind: str) -> bytes:
    """A valid input of each kind, made once."""
    if kind not in _SEEDS:
        root = Path(tempfile.mkdtemp(prefix="orkiosk-fuzz-seed-"))
        if kind == "markups":
            _SEEDS[kind] = json.dumps(markups_json(phantom_plan())).encode()
        elif kind in ("nrrd", "nifti"):
            labels = np.zeros((6, 7, 8), np.uint8)
            labels[2:4, 2:5, 3:6] = 1
            affine = np.diag([0.8, 0.8, 1.5, 1.0])
            if kind == "nifti":
                _SEEDS[kind] = write_nifti(root / "l.nii.gz", labels, affine).read_bytes()
            else:
                import nrrd

                nrrd.write(
                    str(root / "l.nrrd"),
                    np.ascontiguousarray(labels.transpose(2, 1, 0)),
                    {
                        "space": "left-posterior-superior",
                        "space directions": affine[:3, :3],
                        "space origin": np.zeros(3),
                        "encoding": "raw",
                    },
                )
                _SEEDS[kind] = (root / "l.nrrd").read_bytes()
        elif kind == "dicom":
            from orkiosk.planning.phantom.series import write_series

            hu = np.full((2, 8, 8), -1000, np.int16)
            (path, *_) = write_series(hu, np.diag([1.0, 1.0, 2.0, 1.0]), root / "ct")
            _SEEDS[kind] = path.read_bytes()
        shutil.rmtree(root, ignore_errors=True)
    return _SEEDS[kind]


@st.composite
def damaged(draw, data: bytes, head: int | None = None) -> bytes:
    """data with a few byte-level changes (mostly in the first `head` bytes, where headers are)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        limit = min(len(out), head or len(out))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, limit - 1)))
        if op == "flip" and at < len(out):
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and at < len(out):
            out[at] = draw(st.integers(0, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del out[at:]
    return bytes(out)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def swapped_json(draw) -> bytes:
    """The markups document with one value somewhere replaced by any JSON value."""
    doc = json.loads(seed("markups"))
    node, path = doc, []
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    value = draw(JSONISH)
    if not path:
        return json.dumps(value).encode()
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return json.dumps(doc).encode()


def read_as(reader, data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="orkiosk-fuzz-") as tmp:
        path = Path(tmp) / name
        if name.endswith("/"):  # a folder with one file (DICOM)
            path.mkdir()
            (path / "IM0001.dcm").write_bytes(data)
        else:
            path.write_bytes(data)
        try:
            reader(path)
        except OrkioskError as exc:
            assert str(exc).strip() and "Traceback" not in str(exc)


def read_dicom_folder(folder: Path) -> None:
    from orkiosk.planning.dicom.header import read_info
    from orkiosk.planning.dicom.scan import choose_series, scan_folder

    scan = scan_folder(folder)
    group, _notes = choose_series(scan)
    read_info(group.first_path, group.uid)


CASES = {
    "markups": (read_markups, "plan.mrk.json", None),
    "nrrd": (read_labels, "labels.nrrd", 400),
    "nifti": (read_labels, "labels.nii.gz", None),
    "dicom": (read_dicom_folder, "ct/", 1200),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_valid_seed_reads(kind):
    reader, name, _ = CASES[kind]
    read_as(reader, seed(kind), name)  # the undamaged input is accepted


def _bytes_case(kind, examples):
    reader, name, head = CASES[kind]

    @examples
    @given(data=st.data())
    def run(data):
        read_as(reader, data.draw(damaged(seed(kind), head)), name)

    run()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_damaged_inputs_raise_only_the_readers_error(kind):
    _bytes_case(kind, BRIEF)


@BRIEF
@given(swapped_json())
def test_markups_with_any_value_anywhere(data):
    read_as(read_markups, data, "plan.mrk.json")


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CASES))
def test_damaged_inputs_long(kind):
    _bytes_case(kind, LONG)


@pytest.mark.slow
@LONG
@given(swapped_json())
def test_markups_with_any_value_anywhere_long(data):
    read_as(read_markups, data, "plan.mrk.json")


def test_nrrd_header_that_broke_pynrrd_is_a_label_error(tmp_path):
    """Found by atheris (scripts/fuzz.py nrrd): pynrrd raised IndexError on an empty value."""
    path = tmp_path / "labels.nrrd"
    path.write_bytes(
        b"NRRD0005\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\n"
        b"sizes: 8 7 6\nspace directions: (0.8,0,0) (0,0.8,0) (0,0,1.5)\nencoding: raw\n"
        b"space origin: \n\n" + bytes(336)
    )
    with pytest.raises(OrkioskError, match="cannot read the label volume"):
        read_labels(path)


def test_nifti_header_nibabel_refuses_is_a_label_error(tmp_path):
    """Found by atheris (scripts/fuzz.py nifti): nibabel raised HeaderDataError ("data code
    640 not recognized") on a damaged datatype field."""
    import base64

    path = tmp_path / "labels.nii.gz"
    path.write_bytes(
        base64.b64decode(
            "H4sIAAAAAAAE/4thZCAKMDdwMLAzsDEwQiGqJiagLAg02J894wPGDAwH7EF8VLzBGcJH1T1QPJBfEADkVgQA+mM/ggdhYROD+BNdJQNDnrYhpuDAiDAyQryJThNyDbp6GJ+QPpqQXxAA5FYEAPpjP4IHYWETg/gTXSUDQ562IabgwIgwMkK8iU4Tcg26ehifkD6aygMAbjsaN7ACAAA="
        )
    )
    with pytest.raises(OrkioskError, match="labels.nii.gz"):
        read_labels(path)


def test_dicom_date_with_a_superscript_digit_is_no_date():
    """Found by atheris (scripts/fuzz.py dicom): "1²" passes str.isdigit() but not int()."""
    from orkiosk.planning.dicom.header import _iso_date

    assert _iso_date("2026112²") == "" and _iso_date("20261201") == "2026-12-01"
