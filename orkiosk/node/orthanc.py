"""A local Orthanc (Debian's package) as a plain process on 127.0.0.1, for the node's tests and
`orkiosk bench intake`: a real archive, configured restrictively (HTTP only from this machine
and with a password, the called AE title checked, stores accepted only from known modalities at
their known hosts)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

USER, PASSWORD = "orkiosk", "test-only-secret"
AET = "ORTHANC"
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"  # Debian's orthanc-dicomweb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def orthanc_executable() -> str | None:
    """Debian's Orthanc, or None when it is not installed."""
    found = shutil.which("Orthanc")
    return found or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None)


class Orthanc:
    def __init__(
        self, root: Path, modalities: dict[str, tuple[str, str, int]], dicomweb: bool = False
    ):
        exe = orthanc_executable()
        if exe is None:
            raise FileNotFoundError("Orthanc is not installed (Debian: apt install orthanc)")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.http, self.dicom = free_port(), free_port()
        config = {
            "Name": "orkiosk-test",
            "StorageDirectory": str(self.root / "storage"),
            "IndexDirectory": str(self.root / "index"),
            "DicomAet": AET,
            "DicomPort": self.dicom,
            "HttpPort": self.http,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowStore": False,
            "DicomCheckModalityHost": True,
            "DicomModalities": {k: list(v) for k, v in modalities.items()},
            "Plugins": [PLUGIN] if dicomweb else [],
            "DicomWeb": {"Enable": dicomweb, "Root": "/dicom-web/"},
            "ConcurrentJobs": 1,
        }
        (self.root / "orthanc.json").write_text(json.dumps(config, indent=2))
        self.log = open(self.root / "orthanc.log", "w")  # noqa: SIM115
        self.p = subprocess.Popen(
            [exe, str(self.root / "orthanc.json")], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/system")
                break
            except (urllib.error.URLError, ConnectionError):
                assert self.p.poll() is None, (self.root / "orthanc.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "Orthanc did not start"
                time.sleep(0.2)

    # ------------------------------------------------------------ REST
    def _request(self, method: str, path: str, body: bytes | None = None, ctype: str = ""):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http}{path}", data=body, method=method
        )
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        if ctype:
            req.add_header("Content-Type", ctype)
        with urllib.request.urlopen(req, timeout=600) as r:
            data = r.read()
        return json.loads(data) if data else None

    @property
    def dicomweb_url(self) -> str:
        return f"http://127.0.0.1:{self.http}/dicom-web"

    def get(self, path: str):
        return self._request("GET", path)

    def post(self, path: str, doc) -> dict:
        return self._request("POST", path, json.dumps(doc).encode(), "application/json")

    def upload(self, files) -> list[str]:
        """DICOM files into Orthanc; returns the Orthanc ids of their series."""
        return sorted({r["ParentSeries"] for r in self._upload(files)})

    def upload_instances(self, files) -> list[str]:
        """DICOM files into Orthanc; returns the Orthanc ids of the instances."""
        return [r["ID"] for r in self._upload(files)]

    def _upload(self, files) -> list[dict]:
        return [
            self._request("POST", "/instances", Path(f).read_bytes(), "application/dicom")
            for f in files
        ]

    def store(self, modality: str, resources: list[str], transcode: str | None = None) -> dict:
        """C-STORE to a modality (synchronously); Orthanc raises HTTPError when it fails."""
        doc = {"Resources": resources, "Synchronous": True}
        if transcode:
            doc["Transcode"] = transcode
        return self.post(f"/modalities/{modality}/store", doc)

    def close(self) -> None:
        self.p.terminate()
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()
