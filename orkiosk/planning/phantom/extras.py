"""The two files a planner would bring beside the series: the phantom plan as 3D Slicer markups
(JSON, RAS) and a labelmap of brain, ventricles and lesion (gzip NRRD, as a segmentation made
elsewhere)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orkiosk.planning.phantom.anatomy import CSF, GREY, LESION, WHITE, PhantomPlan


def markups_json(plan: PhantomPlan) -> dict:
    """The phantom plan as a 3D Slicer markups file, in RAS as Slicer writes by default."""

    def ras(p):
        return [-float(p[0]), -float(p[1]), float(p[2])]

    def point(n, label, p):
        return {
            "id": str(n),
            "label": label,
            "description": "",
            "associatedNodeID": "",
            "position": ras(p),
            "orientation": [-1.0, 0, 0, 0, -1.0, 0, 0, 0, 1.0],
            "selected": True,
            "locked": False,
            "visibility": True,
            "positionStatus": "defined",
        }

    return {
        "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/"
        "Markups/Resources/Schema/markups-schema-v1.0.3.json#",
        "markups": [
            {
                "type": "Line",
                "coordinateSystem": "RAS",
                "coordinateUnits": "mm",
                "name": "Biopsy",
                "locked": False,
                "labelFormat": "%N-%d",
                "controlPoints": [point(1, "entry", plan.entry), point(2, "target", plan.target)],
            },
            {
                "type": "Fiducial",
                "coordinateSystem": "RAS",
                "coordinateUnits": "mm",
                "name": "Landmarks",
                "locked": False,
                "labelFormat": "%N-%d",
                "controlPoints": [
                    point(n + 1, name, p) for n, (name, p) in enumerate(plan.landmarks)
                ],
            },
        ],
    }


SEGMENTS = (  # label value in the labelmap, name, sRGB colour, source tissue labels
    (1, "Brain", (0.89, 0.75, 0.72), (GREY, WHITE, CSF, LESION)),
    (2, "Ventricles", (0.35, 0.65, 0.95), (CSF,)),
    (3, "Lesion", (1.0, 0.75, 0.1), (LESION,)),
)


def write_labelmap(labels: np.ndarray, affine: np.ndarray, path) -> Path:
    """Brain, ventricles and lesion as a gzip NRRD labelmap with 3D Slicer's segment fields
    (written with pynrrd; read back through slicerio like any .seg.nrrd)."""
    import nrrd

    out = np.zeros(labels.shape, dtype=np.uint8)
    for value, _name, _rgb, src in SEGMENTS:
        out[np.isin(labels, src)] = value
    # The brain label covers everything inside; smaller segments overwrite it.
    header = {
        "space": "left-posterior-superior",
        "space directions": np.asarray(affine[:3, :3], dtype=np.float64).T,
        "space origin": np.asarray(affine[:3, 3], dtype=np.float64),
        "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip",
    }
    for n, (value, name, rgb, _src) in enumerate(SEGMENTS):
        header[f"Segment{n}_ID"] = f"Segment_{value}"
        header[f"Segment{n}_Name"] = name
        header[f"Segment{n}_LabelValue"] = str(value)
        header[f"Segment{n}_Layer"] = "0"
        header[f"Segment{n}_Color"] = f"{rgb[0]:.4g} {rgb[1]:.4g} {rgb[2]:.4g}"
    path = Path(path)
    nrrd.write(str(path), np.transpose(out, (2, 1, 0)), header, compression_level=6)
    return path
