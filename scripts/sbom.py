"""Write the product's CycloneDX SBOM: the Python environment (from `cyclonedx-py environment`)
plus the Debian packages the product needs, merged into one document with cyclonedx-python-lib.

    python scripts/sbom.py PYTHON_SBOM.json OUT.json   (run with the cyclonedx-bom tool's Python)

Debian packages: the runtime libraries scripts/setup.sh installs (Mesa EGL/GL/GBM, the software
renderer, mtdev), Python itself, and the appliance's compositor (cage) where installed; each with
the installed version (dpkg-query), its licences (the License: fields of the machine-readable
/usr/share/doc/<package>/copyright, DEP-5) and a purl pkg:deb/debian/NAME@VERSION?arch=ARCH.
A package that is not installed is listed in the SBOM's properties, not silently left out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
from cyclonedx.output.json import JsonV1Dot5
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

DEBIAN_PACKAGES = (
    "libegl1",
    "libgl1",
    "libgbm1",
    "libgl1-mesa-dri",
    "libegl-mesa0",
    "libglx-mesa0",
    "libmtdev1",
    "libzmq5",
    "python3",
    "cage",
    "xwayland",
)


def dpkg(name: str) -> tuple[str, str] | None:
    r = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version} ${Architecture}", name],
        capture_output=True,
        text=True,
    )
    parts = r.stdout.split()
    if r.returncode != 0 or len(parts) != 3 or parts[0] != "installed":
        return None
    return parts[1], parts[2]


def licences(name: str) -> list[str]:
    """The distinct License: short names of the package's DEP-5 copyright file, in order."""
    path = Path("/usr/share/doc") / name / "copyright"
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return []
    seen: list[str] = []
    for m in re.finditer(r"^License:[ \t]*(\S[^\n]*)$", text, re.M):
        value = m.group(1).strip()
        if value and value not in seen:
            seen.append(value)
    return seen


def debian_component(name: str, version: str, arch: str) -> Component:
    names = licences(name)
    lic = []
    if len(names) == 1 and " " not in names[0]:
        lic = [DisjunctiveLicense(name=names[0])]
    elif names:
        lic = [LicenseExpression(" AND ".join(f"({n})" if " " in n else n for n in names))]
    else:  # a copyright file that is not machine-readable: point at it, assert nothing
        lic = [DisjunctiveLicense(name=f"see /usr/share/doc/{name}/copyright")]
    return Component(
        type=ComponentType.LIBRARY if name.startswith("lib") else ComponentType.APPLICATION,
        name=name,
        version=version,
        purl=PackageURL("deb", "debian", name, version, {"arch": arch}),
        bom_ref=f"deb:{name}@{version}",
        licenses=lic,
        properties=[Property(name="orkiosk:source", value="dpkg-query + /usr/share/doc copyright")],
    )


def main(python_sbom: str, out: str) -> int:
    with open(python_sbom, encoding="utf-8") as f:
        bom = Bom.from_json(json.load(f))  # type: ignore[attr-defined]
    missing = []
    for name in DEBIAN_PACKAGES:
        got = dpkg(name)
        if got is None:
            missing.append(name)
            continue
        comp = debian_component(name, *got)
        bom.components.add(comp)
        if bom.metadata.component is not None:
            bom.register_dependency(bom.metadata.component, [comp])
    if missing:
        bom.metadata.properties.add(
            Property(name="orkiosk:debian-not-installed", value=" ".join(missing))
        )
    text = JsonV1Dot5(bom).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
    if error is not None:
        print(f"sbom: the merged document is not valid CycloneDX 1.5: {error}", file=sys.stderr)
        return 1
    Path(out).write_text(text, encoding="utf-8")
    python = sum(1 for c in bom.components if c.purl and c.purl.type == "pypi")
    debian = sum(1 for c in bom.components if c.purl and c.purl.type == "deb")
    print(f"sbom: {out}: {python} Python and {debian} Debian components", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
