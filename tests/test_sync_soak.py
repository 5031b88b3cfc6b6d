"""Soak (slow, run with -m slow): 20 headless kiosks and 10 successive versions. Every kiosk's
committed versions only grow and end at the last one."""

import os
import re

import pytest
from sync_support import Net, manifest_sha

KIOSKS = int(os.environ.get("ORKIOSK_SOAK_KIOSKS", "20"))
VERSIONS = int(os.environ.get("ORKIOSK_SOAK_VERSIONS", "10"))


@pytest.mark.slow
def test_many_kiosks_many_versions_only_grow(tmp_path):
    names = [f"k{i}" for i in range(KIOSKS)]
    net = Net(tmp_path, kiosks=names)
    try:
        net.start_hub()
        procs = {n: net.start_kiosk(n) for n in names}
        last = None
        for v in range(1, VERSIONS + 1):
            last = net.package(v)
            result = net.push(last, wait=0)  # the next version goes out before all answered
            assert result.returncode == 0, result.stderr
        for n, p in procs.items():
            p.wait_line(f"case CASE-1 v{VERSIONS} shown", timeout=300)
            shown = [int(m) for m in re.findall(r"case CASE-1 v(\d+) shown", "\n".join(p.lines))]
            assert shown == sorted(set(shown)) and shown[-1] == VERSIONS, (n, shown)
            assert net.status(n)["manifest_sha256"] == manifest_sha(last)
    finally:
        net.close()
