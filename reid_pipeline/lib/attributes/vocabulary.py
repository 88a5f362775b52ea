"""What may be said about each kind of entity, and the schema a description is validated against.

The same vocabulary drives all three backends: the vision-language model is asked for JSON with these
fields and values, CLIP zero-shot scores one text prompt per value, and the pixel backend names colours
from the same palette. Deliberately absent: ethnicity, age, gender or anything else sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

UNKNOWN = "unknown"

COLOURS = (
    "black",
    "white",
    "gray",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "beige",
)


@dataclass(frozen=True)
class AttributeField:
    """One attribute: its name, allowed values (None = free text) and the CLIP prompt pattern."""

    name: str
    values: tuple[str, ...] | None
    prompt: str = ""  # "{value}" is replaced; empty = not scored by CLIP zero-shot
    is_list: bool = False


PERSON = (
    AttributeField("upper_color", COLOURS, "a photo of a person wearing a {value} top"),
    AttributeField(
        "upper_type",
        ("t-shirt", "shirt", "sweater", "jacket", "coat", "dress", "vest", "hoodie"),
        "a photo of a person wearing a {value}",
    ),
    AttributeField("lower_color", COLOURS, "a photo of a person wearing {value} trousers or skirt"),
    AttributeField(
        "lower_type", ("trousers", "jeans", "shorts", "skirt", "dress"), "a photo of a person wearing {value}"
    ),
    AttributeField(
        "headwear",
        ("none", "cap", "hat", "hood", "helmet", "headscarf"),
        "a photo of a person with {value} on the head",
    ),
    AttributeField(
        "bag",
        ("none", "backpack", "shoulder bag", "handbag", "suitcase"),
        "a photo of a person carrying {value}",
    ),
    AttributeField(
        "carried_object",
        ("none", "umbrella", "phone", "bicycle", "stroller", "box", "other"),
        "a photo of a person holding {value}",
    ),
    AttributeField("hair_length", ("short", "medium", "long", "not visible"), "a photo of a person with {value} hair"),
    AttributeField(
        "hair_color",
        ("black", "brown", "blond", "red", "gray", "white", "not visible"),
        "a photo of a person with {value} hair",
    ),
    AttributeField("accessories", ("glasses", "sunglasses", "scarf", "mask", "watch", "gloves"), is_list=True),
)

VEHICLE = (
    AttributeField("color", COLOURS, "a photo of a {value} vehicle"),
    AttributeField(
        "body_type",
        ("sedan", "hatchback", "suv", "van", "pickup", "truck", "bus", "motorcycle", "bicycle"),
        "a photo of a {value}",
    ),
    AttributeField("visible_text", None),
)

ANIMAL = (
    AttributeField("species", ("dog", "cat", "horse", "cow", "sheep", "deer", "bird", "other"), "a photo of a {value}"),
    AttributeField("coat_color", COLOURS, "a photo of a {value} animal"),
    AttributeField(
        "markings", ("none", "spots", "stripes", "patches"), "a photo of an animal with {value} on its coat"
    ),
    AttributeField("antlers", ("yes", "no"), ""),
)

FIELDS: dict[str, tuple[AttributeField, ...]] = {"person": PERSON, "vehicle": VEHICLE, "animal": ANIMAL}

# The flattened columns of the attributes table (the one list: the table schema, the attributes stage and
# identity scoring all read it). Each holds the field of that name, except ``color``: the body colour,
# filled from the field COLOUR_COLUMN names for the entity type.
FLAT_FIELDS = (
    "color",
    "upper_color",
    "upper_type",
    "lower_color",
    "lower_type",
    "headwear",
    "bag",
    "body_type",
    "species",
)
COLOUR_COLUMN = {"vehicle": "color", "animal": "coat_color"}


def fields_for(entity_type: str) -> tuple[AttributeField, ...]:
    try:
        return FIELDS[entity_type]
    except KeyError:
        raise ValueError(f"no attribute vocabulary for entity type {entity_type!r}: use {', '.join(FIELDS)}") from None


def unknown_description(entity_type: str) -> dict[str, Any]:
    """Every field explicitly unknown: what a failed description becomes."""
    return {f.name: ([] if f.is_list else UNKNOWN) for f in fields_for(entity_type)}


def _value_type(field: AttributeField) -> Any:
    from typing import Literal

    literal: Any = Literal  # subscripted with values known only at run time
    if field.values is None:
        return str
    return list[literal[field.values]] if field.is_list else literal[(*field.values, UNKNOWN)]


def _model_for(entity_type: str) -> type[BaseModel]:
    fields: dict[str, Any] = {f.name: (_value_type(f), [] if f.is_list else UNKNOWN) for f in fields_for(entity_type)}
    return create_model(f"{entity_type.title()}Attributes", __config__=ConfigDict(extra="forbid"), **fields)


MODELS: dict[str, type[BaseModel]] = {entity: _model_for(entity) for entity in FIELDS}


def validate_description(entity_type: str, data: object) -> dict[str, Any]:
    """``data`` checked against the entity type's schema (values lower-cased first); raises ValueError."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    cleaned = {key: _lower(value) for key, value in data.items()}
    try:
        return MODELS[entity_type].model_validate(cleaned).model_dump()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(problems) from None


def _lower(value: object) -> object:
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, list):
        return [_lower(item) for item in value]
    return value


def answer_format(entity_type: str) -> str:
    """The JSON object the model must write: each field with its allowed values (what goes in the prompt)."""
    lines = []
    for f in fields_for(entity_type):
        if f.values is None:
            lines.append(f'  "{f.name}": free text, or "{UNKNOWN}"')
        elif f.is_list:
            lines.append(f'  "{f.name}": a list of zero or more of {", ".join(f.values)}')
        else:
            lines.append(f'  "{f.name}": one of {", ".join((*f.values, UNKNOWN))}')
    return "{\n" + ",\n".join(lines) + "\n}"


def summarise(entity_type: str, attributes: dict[str, Any]) -> str:
    """Short human-readable text, e.g. "red jacket, blue jeans, backpack" or "silver sedan"."""

    def known(name: str) -> str | None:
        value = attributes.get(name)
        return value if isinstance(value, str) and value not in (UNKNOWN, "none", "not visible", "") else None

    parts: list[str] = []
    if entity_type == "person":
        for colour, kind, garment in (("upper_color", "upper_type", "top"), ("lower_color", "lower_type", "bottoms")):
            if known(colour) or known(kind):
                parts.append(" ".join(w for w in (known(colour), known(kind) or garment) if w))
        parts.extend(w for w in (known("headwear"), known("bag"), known("carried_object")) if w)
        parts.extend(attributes.get("accessories") or [])
    elif entity_type == "vehicle":
        words = [w for w in (known("color"), known("body_type")) if w]
        if words:
            parts.append(" ".join(words))
        if known("visible_text"):
            parts.append(f'text "{attributes["visible_text"]}"')
    else:
        words = [w for w in (known("coat_color"), known("species")) if w]
        if words:
            parts.append(" ".join(words))
        if known("markings"):
            parts.append(f"{attributes['markings']} markings")
        if attributes.get("antlers") == "yes":
            parts.append("antlers")
    return ", ".join(parts) if parts else UNKNOWN
