"""Optimistic concurrency for the global linking: a relink that lost a race never overwrites the winner.

``link_state`` holds one row with a generation number. A relink reads it before reading anything else,
computes, and then claims the commit with a conditional update (``generation = what I read``, one Lance
commit, so two claims cannot both succeed). Only the winner writes; it marks the row ``writing`` while
it does, and a relink that starts meanwhile waits for it. A relink whose claim fails read a state that
another relink has since changed: it starts again from the new state, and after ``attempts`` lost races
it fails with a message saying so. A ``writing`` mark older than ``stale_after_s`` is a relink that died
mid-commit: the next relink takes over and relinks everything, which repairs what it left.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import LINK_STATE

KEY = "link"
# Old versions of ``link_state`` and ``link_undo`` are pruned every this many commits. Both are rewritten
# in place by every relink (one fragment, no index), so the upkeep policy never finds them due: without
# this, every version of them would stay on disk, one more each night.
PRUNE_EVERY = 32


class RelinkConflict(RuntimeError):
    """Another relink committed first, every time, or is still committing."""


@dataclass(frozen=True)
class LinkState:
    generation: int
    writing: bool
    holder: str
    linked_through: str | None
    corrections_key: str | None
    updated_at: datetime
    stale: bool = False  # a writer died mid-commit: relink everything


class LinkGuard:
    def __init__(
        self, store: IdentityStore, stale_after_s: float = 600.0, wait_s: float = 300.0, prune_every: int = PRUNE_EVERY
    ) -> None:
        self.store = store
        self.stale_after_s = stale_after_s
        self.wait_s = wait_s
        self.prune_every = prune_every
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def _table(self) -> object:
        # A parallel relink creating the table makes it listed a moment before its first version is
        # committed: opening it then fails, so wait for that version rather than fail the relink.
        deadline = time.monotonic() + 30.0
        while True:
            try:
                return self._open_or_create()
            except ValueError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _open_or_create(self) -> object:
        if not self.store.has("link_state"):
            first = pa.Table.from_pylist(
                [
                    {
                        "key": KEY,
                        "generation": 0,
                        "writing": False,
                        "holder": "",
                        "linked_through": None,
                        "corrections_key": None,
                        "updated_at": datetime.now(UTC),
                    }
                ],
                schema=LINK_STATE,
            )
            # exist_ok: a parallel relink may create it first; then its row stands and this one is dropped.
            return self.store.lance.db.create_table("link_state", data=first, schema=LINK_STATE, exist_ok=True)
        return self.store.table("link_state")

    def read(self) -> LinkState:
        """The state to relink from; waits while another relink is writing (up to ``wait_s``)."""
        deadline = time.monotonic() + self.wait_s
        while True:
            table = self._table()
            row = table.to_arrow().to_pylist()[0]  # type: ignore[attr-defined]
            state = LinkState(
                row["generation"],
                row["writing"],
                row["holder"],
                row["linked_through"],
                row["corrections_key"],
                row["updated_at"],
            )
            if not state.writing:
                return state
            age = (datetime.now(UTC) - state.updated_at).total_seconds()
            if age > self.stale_after_s:
                return LinkState(**{**state.__dict__, "stale": True})
            if time.monotonic() > deadline:
                raise RelinkConflict(
                    f"another relink ({state.holder}) has been writing the identities at {self.store.uri} for "
                    f"{age:.0f} s; run this one again when it has finished (it is taken over after "
                    f"{self.stale_after_s:.0f} s without progress)"
                )
            time.sleep(0.2)

    def claim(self, seen: LinkState) -> bool:
        """Take the commit if nobody committed since ``seen`` was read; False when another relink did."""
        return self._update(seen.generation, seen.generation + 1, True, seen.linked_through, seen.corrections_key)

    def release(self, claimed: LinkState, linked_through: str | None, corrections_key: str | None) -> None:
        """Mark the commit finished, recording what is now linked."""
        if not self._update(claimed.generation + 1, claimed.generation + 1, False, linked_through, corrections_key):
            raise RelinkConflict(
                f"the link state at {self.store.uri} was taken over while this relink was writing (it was "
                f"thought dead after {self.stale_after_s:.0f} s); run the relink again"
            )
        if (claimed.generation + 1) % self.prune_every == 0:
            for name in ("link_state", "link_undo"):
                self.store.prune_versions(name)

    def _update(
        self, expected: int, generation: int, writing: bool, linked_through: str | None, corrections_key: str | None
    ) -> bool:
        row = {
            "key": KEY,
            "generation": generation,
            "writing": writing,
            "holder": self.token,
            "linked_through": linked_through,
            "corrections_key": corrections_key,
            "updated_at": datetime.now(UTC),
        }
        condition = f"target.generation = {int(expected)}"
        if not writing:  # releasing: only the claim this relink holds
            condition += f" AND target.holder = '{self.token}'"
        result = (
            self._table()  # type: ignore[attr-defined]
            .merge_insert("key")
            .when_matched_update_all(where=condition)
            .execute(pa.Table.from_pylist([row], schema=LINK_STATE))
        )
        return int(result.num_updated_rows) == 1
