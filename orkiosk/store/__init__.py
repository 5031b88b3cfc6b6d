"""On-disk plan store of the kiosk: atomic commit, history, rollback refusal, audit log (audit.py).

from orkiosk.store import PlanStore, Committed, StoreError
"""

from orkiosk.store.files import StoreError
from orkiosk.store.index import Committed
from orkiosk.store.store import CRASH_ENV, CRASH_STEPS, TEMP_SUFFIX, PlanStore, read_status

__all__ = [
    "CRASH_ENV",
    "CRASH_STEPS",
    "TEMP_SUFFIX",
    "Committed",
    "PlanStore",
    "StoreError",
    "read_status",
]
