"""The global step: link what is new, incrementally when it can be, in full when it must.

Each day's daily entities carry a fingerprint (``daily_fingerprints``); ``linked_days`` records the
fingerprints that were linked. A day that is new and later than every linked day is linked on its own
against the stored global entities: its daily entities find their nearest stored entities
(``nearest_entities``: in memory, or the table's vector index once it is large), and only the
entities it reaches are rewritten, so the nightly cost does not grow with the history. Anything
else, a day that arrives out of order or changed after it was linked, a day that went away,
changed must-link / cannot-link corrections, a relink that died mid-commit, or an explicit ``full``
request, replays every day in date order (``linking.link_days``). One exception keeps late cameras
cheap: when the newest linked day changes, its link is undone from ``link_undo`` (the entities it
changed, as they were before) and it is linked again on its own. Both paths run the same ``linking.link_day``, so the ids and members are the
same whichever way, and in whatever order, the days came in.

Every commit goes through ``LinkGuard``: a relink that lost a race starts again on the new state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc

from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.link_guard import LinkGuard, LinkState, RelinkConflict
from reid_pipeline.lib.identity.linking import EntityState, apply_names, link_day, link_days, refuse_mixed_adapters
from reid_pipeline.lib.identity.nearest_entities import nearest_entities
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.refresh import refresh_timelines
from reid_pipeline.lib.identity.store import IdentityStore, as_rows, day_fingerprint, quoted
from reid_pipeline.lib.identity.tables import DAY_FINGERPRINTS, ENTITY_MEMBERS, entities_schema, undo_schema

# Columns an ``entities`` table written by an older version lacks: it is replaced by a full relink (the
# list columns ``days`` and ``daily_entity_ids`` gave way to ``n_days``, ``last_date`` and
# ``last_daily_entity_id``).
NEW_ENTITY_COLUMNS = ("summary_n", "attribute_votes", "n_days", "last_date", "last_daily_entity_id")
IN_LIST_CHUNK = 500  # ids per ``IN (...)`` filter


@dataclass
class RelinkReport:
    mode: str = "nothing new"  # incremental | full | names only | nothing new
    days_linked: list[str] = field(default_factory=list)
    entities_written: int = 0
    links_across_days: int = 0
    candidate_pairs: int = 0
    review_pairs: int = 0
    lost_races: int = 0
    timelines_refreshed: list[str] = field(default_factory=list)
    why_full: str = ""


def corrections_key(corrections: CorrectionSet) -> str:
    """What in the corrections changes matching (names and watch flags do not)."""
    text = json.dumps([sorted(corrections.must_link), sorted(corrections.cannot_link)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def relink(
    store: IdentityStore,
    params: MatchParams,
    corrections: CorrectionSet,
    full: bool = False,
    attempts: int = 3,
    before_commit: Callable[[], None] | None = None,
) -> RelinkReport:
    """Bring the global entities up to date with the stored daily entities; see the module docstring.

    ``before_commit`` runs between computing and claiming the commit (tests use it to line two
    processes up on the same state).
    """
    report = RelinkReport()
    guard = LinkGuard(store)
    lost = 0  # races lost in a row
    while True:
        outcome = _step(store, guard, params, corrections, full, report, before_commit)
        if outcome == "lost":
            lost += 1
            report.lost_races += 1
            if lost >= attempts:
                raise RelinkConflict(
                    f"another relink of the identities at {store.uri} committed first {lost} times in a row; "
                    f"nothing was overwritten. Run it again, or limit the identity_link pool to 1"
                )
            continue
        if outcome == "done":
            return report
        lost, full = 0, False  # one day committed; look again for the next


def _step(
    store: IdentityStore,
    guard: LinkGuard,
    params: MatchParams,
    corrections: CorrectionSet,
    full: bool,
    report: RelinkReport,
    before_commit: Callable[[], None] | None,
) -> str:
    state = guard.read()  # first: whatever is read after it belongs to this generation
    written = _fingerprints(store)
    linked = {r["date"]: r["fingerprint"] for r in store.rows("linked_days")}
    key = corrections_key(corrections)
    changed = sorted(d for d, f in written.items() if linked.get(d) != f)
    undo = store.rows("link_undo") if store.has("link_undo") else []
    undone_day = undo[0]["undo_date"] if undo else None
    why = _why_full(store, state, full, linked, written, changed, key, undone_day)
    if why:
        report.mode, report.why_full = "full", why
        return _full(store, guard, state, params, corrections, written, key, report, before_commit)
    if changed and changed[0] == state.linked_through:  # the newest day changed (a late camera)
        report.mode = "incremental"
        return _roll_back(store, guard, state, undo, linked, report, before_commit)
    if changed:
        report.mode = "incremental"
        return _one_day(
            store, guard, state, changed[0], written[changed[0]], params, corrections, key, report, before_commit
        )
    return _names_only(store, guard, state, corrections, report, before_commit)


def _why_full(
    store: IdentityStore,
    state: LinkState,
    full: bool,
    linked: dict[str, str],
    written: dict[str, str],
    changed: list[str],
    key: str,
    undone_day: str | None,
) -> str:
    """Why the days must be replayed in full; empty when the new days can be linked one by one (after
    undoing the newest day, when that is what changed and its undo rows are there)."""
    if full:
        return "asked for"
    if state.stale:
        return f"a relink ({state.holder}) died while writing"
    if _old_layout(store):
        return "the entities table has an older layout"
    if set(linked) - set(written):
        return f"days went away: {', '.join(sorted(set(linked) - set(written)))}"
    if linked and state.corrections_key != key:
        return "must-link or cannot-link corrections changed"
    newest = state.linked_through
    old = [d for d in changed if newest is not None and (d < newest or (d == newest and undone_day != newest))]
    if old:
        return f"days not after the newest linked day ({state.linked_through}) changed or arrived: {', '.join(old)}"
    return ""


def _fingerprints(store: IdentityStore) -> dict[str, str]:
    """Each day's fingerprint; computed once from the daily entities of stores written before fingerprints."""
    if not store.has("daily_fingerprints") and store.has("daily_entities"):
        daily = store.arrow("daily_entities")
        if daily is not None:
            for date in sorted(set(daily.column("date").to_pylist())):
                day = daily.filter(pc.equal(daily.column("date"), date))
                store.write_day("daily_fingerprints", DAY_FINGERPRINTS, "date", date, [day_fingerprint(date, day)])
    return {r["date"]: r["fingerprint"] for r in store.rows("daily_fingerprints")}


def _commit(
    guard: LinkGuard,
    state: LinkState,
    before_commit: Callable[[], None] | None,
    write: Callable[[], str | None],
    key: str | None,
) -> bool:
    if before_commit is not None:
        before_commit()
    if not guard.claim(state):
        return False
    linked_through = write()
    guard.release(state, linked_through, key)
    return True


def _full(
    store: IdentityStore,
    guard: LinkGuard,
    state: LinkState,
    params: MatchParams,
    corrections: CorrectionSet,
    written: dict[str, str],
    key: str,
    report: RelinkReport,
    before_commit: Callable[[], None] | None,
) -> str:
    daily = store.rows("daily_entities")
    before = store.rows("entity_members")
    result = link_days(daily, params, corrections)
    dims = len(daily[0]["vector"]) if daily else 1

    def write() -> str | None:
        if _old_layout(store):  # rewritten whole below; the undo rows, of the same layout, are dropped
            store.forget_table("entities")
            store.drop("link_undo")
        store.write_all("entities", entities_schema(dims), "entity_id", result.entities)
        store.write_all("entity_members", ENTITY_MEMBERS, "tracklet_id", result.members)
        store.write_all("link_undo", undo_schema(dims), "entity_id", [])  # nothing to undo after a replay
        store.write_review("daily_entity", None, result.review)
        rows = [{"date": d, "fingerprint": f} for d, f in sorted(written.items())]
        store.write_all("linked_days", DAY_FINGERPRINTS, "date", rows)
        report.timelines_refreshed = refresh_timelines(store, before, result.members)
        return max(written) if written else None

    if not _commit(guard, state, before_commit, write, key):
        return "lost"
    report.days_linked = sorted(written)
    report.entities_written = len(result.entities)
    report.links_across_days = result.merged_edges
    report.candidate_pairs = result.candidate_pairs
    report.review_pairs = len(result.review)
    return "done"


def _one_day(
    store: IdentityStore,
    guard: LinkGuard,
    state: LinkState,
    date: str,
    fingerprint: str,
    params: MatchParams,
    corrections: CorrectionSet,
    key: str,
    report: RelinkReport,
    before_commit: Callable[[], None] | None,
) -> str:
    """Link one new day, later than every linked day, against the stored global entities."""
    day = sorted(as_rows(store.arrow("daily_entities", f"date = {quoted(date)}")), key=lambda r: r["daily_entity_id"])
    if state.linked_through is not None:  # vectors of two site adaptations are never compared
        where = f"date = {quoted(state.linked_through)}"
        refuse_mixed_adapters(day + store.rows("daily_entities", where, ["date", "adapter_id"])[:1])
    candidates, found = nearest_entities(store, day, params.k)
    owners = _owners(store, _correction_tracklets(corrections))
    entities = {r["entity_id"]: EntityState.from_row(r) for r in found}
    pinned = set(owners.values()) - set(entities)
    entities.update({r["entity_id"]: EntityState.from_row(r) for r in _rows_in(store, "entities", "entity_id", pinned)})
    links = link_day(date, day, candidates, entities, owners.get, params, corrections)
    owners.update({m["tracklet_id"]: m["entity_id"] for m in links.members})
    named = _named_entities(store, corrections, owners, entities, links.changed)
    dims = len(day[0]["vector"]) if day else 1

    undo = [
        {**(entities[e].row() if e in entities else s.row()), "undo_date": date, "created": e not in entities}
        for e, s in sorted(links.changed.items())
    ]

    def write() -> str | None:
        rows = [state.row() for state in named.values()]
        store.write_all("link_undo", undo_schema(dims), "entity_id", undo)
        report.entities_written += store.upsert("entities", entities_schema(dims), "entity_id", rows)
        store.write_day("entity_members", ENTITY_MEMBERS, "tracklet_id", date, links.members)
        store.write_review("daily_entity", date, links.review)
        store.upsert("linked_days", DAY_FINGERPRINTS, "date", [{"date": date, "fingerprint": fingerprint}])
        renamed = {e for e in named if e not in links.changed}
        report.timelines_refreshed += refresh_timelines(store, None, None, sorted({date} | _days_of(store, renamed)))
        return date

    if not _commit(guard, state, before_commit, write, key):
        return "lost"
    report.days_linked.append(date)
    report.links_across_days += links.merged_edges
    report.candidate_pairs += links.candidate_pairs
    report.review_pairs += len(links.review)
    return "stepped"


def _roll_back(
    store: IdentityStore,
    guard: LinkGuard,
    state: LinkState,
    undo: list[Any],
    linked: dict[str, str],
    report: RelinkReport,
    before_commit: Callable[[], None] | None,
) -> str:
    """Undo the newest linked day (its entities as they were before it, its members and pairs gone), so
    the next step links it again. One commit; ``link_undo`` holds what that day's link changed."""
    date = undo[0]["undo_date"]
    fields = set(store.table("entities").schema.names)
    restore = [{k: v for k, v in row.items() if k in fields} for row in undo if not row["created"]]
    created = {row["entity_id"] for row in undo if row["created"]}
    earlier = sorted(d for d in linked if d != date)
    dims = len(undo[0]["vector"])

    def write() -> str | None:
        store.upsert("entities", entities_schema(dims), "entity_id", restore)
        for lo in range(0, len(created), IN_LIST_CHUNK):
            chunk = sorted(created)[lo : lo + IN_LIST_CHUNK]
            store.table("entities").delete(f"entity_id IN ({', '.join(quoted(e) for e in chunk)})")
        store.write_day("entity_members", ENTITY_MEMBERS, "tracklet_id", date, [])
        store.write_review("daily_entity", date, [])
        store.write_day("linked_days", DAY_FINGERPRINTS, "date", date, [])
        store.write_all("link_undo", undo_schema(dims), "entity_id", [])
        return earlier[-1] if earlier else None

    return "stepped" if _commit(guard, state, before_commit, write, state.corrections_key) else "lost"


def _names_only(
    store: IdentityStore,
    guard: LinkGuard,
    state: LinkState,
    corrections: CorrectionSet,
    report: RelinkReport,
    before_commit: Callable[[], None] | None,
) -> str:
    """Nothing to link: carry name and watch-list corrections over to the entities they name."""
    owners = _owners(store, set(corrections.names) | corrections.watched)
    changed = _named_entities(store, corrections, owners, {}, {})  # only those whose flags change
    if not changed:
        return "done"
    report.mode = "names only"
    dims = len(next(iter(changed.values())).vector)

    def write() -> str | None:
        report.entities_written += store.upsert(
            "entities", entities_schema(dims), "entity_id", [s.row() for s in changed.values()]
        )
        report.timelines_refreshed += refresh_timelines(store, None, None, sorted(_days_of(store, set(changed))))
        return state.linked_through

    return "done" if _commit(guard, state, before_commit, write, state.corrections_key) else "lost"


def _named_entities(
    store: IdentityStore,
    corrections: CorrectionSet,
    owners: dict[str, str],
    loaded: dict[str, EntityState],
    changed: dict[str, EntityState],
) -> dict[str, EntityState]:
    """``changed`` plus every entity whose name or watch flag may change, with both set from corrections.

    An entity whose flags do not change and that linking did not touch is left out (not rewritten).
    """
    flagged = store.rows("entities", "name IS NOT NULL OR watch = true", ["entity_id"]) if store.has("entities") else []
    ids = {owners[t] for t in (*corrections.names, *corrections.watched) if t in owners} | {
        r["entity_id"] for r in flagged
    }
    missing = ids - set(changed) - set(loaded)
    extra = {r["entity_id"]: EntityState.from_row(r) for r in _rows_in(store, "entities", "entity_id", missing)}
    pool = {**loaded, **extra, **changed}
    chosen = {e: pool[e] for e in (ids | set(changed)) if e in pool}
    before = {e: (s.name, s.watch) for e, s in chosen.items()}
    apply_names(chosen, owners.get, corrections)
    return {e: s for e, s in chosen.items() if e in changed or (s.name, s.watch) != before[e]}


def _old_layout(store: IdentityStore) -> bool:
    """Whether the ``entities`` table was written by a version whose rows lack ``NEW_ENTITY_COLUMNS``."""
    return store.has("entities") and any(c not in store.table("entities").schema.names for c in NEW_ENTITY_COLUMNS)


def _days_of(store: IdentityStore, entity_ids: set[str]) -> set[str]:
    """The days the entities were seen on (their timelines show their name and watch flag)."""
    return {r["date"] for r in _rows_in(store, "entity_members", "entity_id", entity_ids, ["date"])}


def _correction_tracklets(corrections: CorrectionSet) -> set[str]:
    pairs = corrections.must_link | corrections.cannot_link
    return {t for pair in pairs for t in pair} | set(corrections.names) | corrections.watched


def _owners(store: IdentityStore, tracklets: set[str]) -> dict[str, str]:
    """The global entity of each of ``tracklets`` that is linked already."""
    rows = _rows_in(store, "entity_members", "tracklet_id", tracklets, ["tracklet_id", "entity_id"])
    return {r["tracklet_id"]: r["entity_id"] for r in rows}


def _rows_in(
    store: IdentityStore, table: str, column: str, values: set[str], columns: list[str] | None = None
) -> list[Any]:
    listed = sorted(values)
    rows: list[Any] = []
    for lo in range(0, len(listed), IN_LIST_CHUNK):
        chunk = ", ".join(quoted(v) for v in listed[lo : lo + IN_LIST_CHUNK])
        rows.extend(store.rows(table, f"{column} IN ({chunk})", columns))
    return rows
