"""The anti-chaining pass: chains of look-alikes come apart, agreeing groups stay whole."""

from __future__ import annotations

import pytest

from reid_pipeline.lib.identity.cluster_checks import split_chains

# A looks like B, B like C, but A and C are unlike: single link joined all three through B.
CHAIN = {("A", "B"): 0.90, ("B", "C"): 0.88, ("A", "C"): 0.40}
TIGHT = {("A", "B"): 0.90, ("B", "C"): 0.88, ("A", "C"): 0.86}


def lookup(table: dict[tuple[str, str], float]):  # type: ignore[no-untyped-def]
    return lambda a, b: table.get((a, b), table.get((b, a), 0.0))


@pytest.mark.parametrize(
    ("scores", "expected", "split"),
    [
        (CHAIN, [["A", "B"], ["C"]], 1),  # the chain is refused: C averages 0.64 with {A, B}
        (TIGHT, [["A", "B", "C"]], 0),  # everyone agrees: the group stays
    ],
)
def test_chain_of_look_alikes_is_refused(scores, expected, split) -> None:  # type: ignore[no-untyped-def]
    result = split_chains([["A", "B", "C"]], lookup(scores), min_average=0.8)
    assert result.groups == expected
    assert result.split_groups == split


def test_people_saying_same_keeps_members_together() -> None:
    result = split_chains([["A", "B", "C"]], lookup(CHAIN), min_average=0.8, must_link=[("A", "C")])
    # A and C start as one part; B averages 0.89 with it, so it joins.
    assert result.groups == [["A", "B", "C"]]


def test_pairs_and_singles_pass_untouched() -> None:
    result = split_chains([["X"], ["Y", "Z"]], lookup({}), min_average=0.9)
    assert result.groups == [["X"], ["Y", "Z"]]
    assert result.split_groups == 0
