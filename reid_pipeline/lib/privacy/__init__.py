"""Privacy: erasing one entity everywhere, the tombstones that keep it erased, and the audit log."""

from reid_pipeline.lib.privacy.audit import record
from reid_pipeline.lib.privacy.erasure import Erasure, erase, find_erasure
from reid_pipeline.lib.privacy.tombstones import Tombstones

__all__ = ["Erasure", "Tombstones", "erase", "find_erasure", "record"]
