"""``eval clustering``: score the stored identities against true labels, and find the best threshold.

The sweep re-runs the pipeline's own matching (per-day clustering, then linking across days) from the
stored appearances for each threshold and attribute weight, in a scratch LanceDB, and reports each
setting's scores; the best pairwise F1 becomes a ready-to-use ``[identity]`` settings snippet.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reid_pipeline.lib.evaluation.clustering_metrics import score_clustering
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.daily import cluster_day
from reid_pipeline.lib.identity.linking import link_days
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.schemas import Row


def read_labels(path: Path) -> dict[str, str]:
    """tracklet_id -> identity from a CSV or Parquet file with those two columns.

    A filled-in label CSV of ``review export`` (``label`` instead of ``identity``) works too: a
    tracklet takes the label most of its crops have, and tracklets labelled ``?`` are left out.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass a CSV or Parquet file of tracklet_id, identity")
    table: pa.Table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    if "identity" not in table.column_names and {"tracklet_id", "label"} <= set(table.column_names):
        return _from_review_labels(table.to_pylist())
    missing = {"tracklet_id", "identity"} - set(table.column_names)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}: expected tracklet_id, identity")
    return {
        str(t): str(i) for t, i in zip(table["tracklet_id"].to_pylist(), table["identity"].to_pylist(), strict=True)
    }


def _from_review_labels(rows: list[dict[str, object]]) -> dict[str, str]:
    from reid_pipeline.lib.evaluation.ground_truth import UNKNOWN, crop_labels

    labels = {}
    for row in rows:
        crops = int(str(row.get("crops") or 1))
        per_crop = crop_labels(str(row["label"] or ""), str(row.get("split_at_crop") or ""), crops)
        label = Counter(per_crop).most_common(1)[0][0]
        if label != UNKNOWN:
            labels[str(row["tracklet_id"])] = label
    return labels


def stored_membership(store: IdentityStore) -> dict[str, str]:
    return {
        r["tracklet_id"]: r["entity_id"] for r in store.rows("entity_members", columns=["tracklet_id", "entity_id"])
    }


def membership_for(store: IdentityStore, days: Sequence[str], params: MatchParams) -> dict[str, str]:
    """What the pipeline would decide with ``params``, recomputed from the stored appearances."""
    daily: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        work = IdentityStore(scratch, store.ann_min_rows)
        for day in days:
            rows = store.rows("appearances", f"date = {quoted(day)}")
            if not rows:
                continue
            result = cluster_day(day, rows, store.table("appearances"), params, CorrectionSet())
            work.write_daily_entities(day, result.entities, len(rows[0]["vector"]))
            daily.extend(result.entities)
        if not daily:
            return {}
        linked = link_days(work.rows("daily_entities"), work.table("daily_entities"), params, CorrectionSet())
    return {m["tracklet_id"]: m["entity_id"] for m in linked.members}


def sweep(
    store: IdentityStore,
    truth: Mapping[str, Hashable],
    base: MatchParams,
    thresholds: Sequence[float],
    attribute_weights: Sequence[float],
) -> list[dict[str, float | int]]:
    days = sorted({r["date"] for r in store.rows("appearances", columns=["date"])})
    results = []
    for weight in attribute_weights:
        for threshold in thresholds:
            params = replace(base, match_threshold=threshold, link_threshold=threshold, attribute_weight=weight)
            scores = score_clustering(membership_for(store, days, params), truth)
            results.append({"match_threshold": threshold, "attribute_weight": weight, **scores.as_dict()})
    return results


def config_snippet(best: Mapping[str, float | int]) -> str:
    return (
        "[identity]\n"
        f"match_threshold = {best['match_threshold']:.3f}   # best pairwise F1 {best['pairwise_f1']}\n"
        f"link_threshold = {best['match_threshold']:.3f}\n"
        f"attribute_weight = {best['attribute_weight']:.2f}\n"
    )
