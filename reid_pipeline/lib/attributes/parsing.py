"""From a language model's text to a validated description: parse, validate, repair once, else unknown."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from reid_pipeline.lib.attributes.types import DescribeRequest, Description
from reid_pipeline.lib.attributes.vocabulary import UNKNOWN, answer_format, unknown_description, validate_description

Generate = Callable[[Sequence[tuple[DescribeRequest, str]]], list[tuple[str, float]]]
"""Runs the model on (request, prompt) pairs; returns (text, mean token probability) per pair."""

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def describe_prompt(entity_type: str) -> str:
    return (
        f"Describe the {entity_type} in this image for re-identification. Answer with only a JSON object "
        f"of this form, using exactly these keys and values:\n{answer_format(entity_type)}\n"
        f"Use {UNKNOWN!r} when a field cannot be seen. Describe only what is visible: never guess age, "
        "gender, ethnicity or identity."
    )


def repair_prompt(entity_type: str, previous: str, problem: str) -> str:
    return (
        f"Your previous answer was not valid ({problem}).\nPrevious answer: {previous[:500]}\n"
        f"Answer again with only a JSON object of this form:\n{answer_format(entity_type)}"
    )


def parse_json_object(text: str) -> Any:
    """The JSON object in ``text``: bare, inside a ```json fence, or between the first { and the last }."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    try:
        return json.loads(candidate[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at character {exc.pos}") from None


def interpret(entity_type: str, text: str) -> dict[str, Any]:
    """Parse and validate one answer; ValueError says what is wrong (fed back in the repair prompt)."""
    return validate_description(entity_type, parse_json_object(text))


def describe_with_repair(requests: Sequence[DescribeRequest], generate: Generate) -> list[Description]:
    """Ask once; ask the failures once more with the problem spelled out; what still fails is ``unknown``.

    The raw text is kept whenever the first answer was not usable as is, so nothing the model said is lost.
    """
    first = generate([(request, describe_prompt(request.entity_type)) for request in requests])
    results: list[Description | None] = []
    retry: list[tuple[int, str, str]] = []  # (index, first answer, problem)
    for index, (request, (text, probability)) in enumerate(zip(requests, first, strict=True)):
        try:
            results.append(_described(request.entity_type, interpret(request.entity_type, text), probability, "ok"))
        except ValueError as exc:
            results.append(None)
            retry.append((index, text, str(exc)))
    if retry:
        pairs = [(requests[i], repair_prompt(requests[i].entity_type, text, problem)) for i, text, problem in retry]
        for (index, text, problem), (second, probability) in zip(retry, generate(pairs), strict=True):
            entity_type = requests[index].entity_type
            raw = f"{text}\n--- repair ---\n{second}"
            try:
                results[index] = _described(entity_type, interpret(entity_type, second), probability, "repaired", raw)
            except ValueError as again:
                results[index] = Description(
                    unknown_description(entity_type), {}, "unknown", f"{raw}\n--- rejected: {problem}; {again}"
                )
    return [result for result in results if result is not None]


def _described(
    entity_type: str, attributes: dict[str, Any], probability: float, status: str, raw: str | None = None
) -> Description:
    # A language model gives no per-field probability; the answer's mean token probability stands in.
    confidence = {
        name: round(float(probability), 4) for name, value in attributes.items() if value not in (UNKNOWN, [])
    }
    return Description(attributes, confidence, status, raw)
