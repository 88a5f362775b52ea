"""COCO classes the pipeline keeps, and the entity type each belongs to."""

from __future__ import annotations

from collections.abc import Iterable

PERSON_CLASSES = {0: "person"}
VEHICLE_CLASSES = {1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}
ANIMAL_CLASSES = {
    14: "bird",
    15: "cat",
    16: "dog",
    17: "horse",
    18: "sheep",
    19: "cow",
    20: "elephant",
    21: "bear",
    22: "zebra",
    23: "giraffe",
}
ENTITY_CLASSES: dict[str, dict[int, str]] = {
    "person": PERSON_CLASSES,
    "vehicle": VEHICLE_CLASSES,
    "animal": ANIMAL_CLASSES,
}
CLASS_NAMES: dict[int, str] = {cid: name for group in ENTITY_CLASSES.values() for cid, name in group.items()}
ENTITY_TYPE_OF: dict[int, str] = {cid: etype for etype, group in ENTITY_CLASSES.items() for cid in group}


def class_ids_for(entity_types: Iterable[str]) -> list[int]:
    """COCO class ids to ask the detector for, given the entity types to keep."""
    unknown = set(entity_types) - ENTITY_CLASSES.keys()
    if unknown:
        raise ValueError(f"unknown entity types {sorted(unknown)}; choose from {sorted(ENTITY_CLASSES)}")
    return sorted(cid for etype in entity_types for cid in ENTITY_CLASSES[etype])
