"""Linking never compares vectors of two site adaptations: it names the days to re-run instead."""

from __future__ import annotations

import pytest

from reid_pipeline.lib.identity.linking import refuse_mixed_adapters


def daily(date: str, adapter_id: str | None) -> dict[str, object]:
    return {"daily_entity_id": f"de:{date}", "date": date, "adapter_id": adapter_id}


def test_one_adapter_links() -> None:
    refuse_mixed_adapters([daily("2024-05-01", "centering-a"), daily("2024-05-02", "centering-a")])
    refuse_mixed_adapters([daily("2024-05-01", None), daily("2024-05-02", "none")])  # older rows: backbone vectors


def test_two_adapters_are_refused_with_the_days_to_redo() -> None:
    with pytest.raises(ValueError, match=r"centering-a: 2024-05-01; centering-b: 2024-05-02.*identity_job"):
        refuse_mixed_adapters([daily("2024-05-01", "centering-a"), daily("2024-05-02", "centering-b")])
