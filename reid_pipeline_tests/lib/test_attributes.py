"""Attribute vocabulary, the three describers, and the describe-once-per-tracklet logic."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from PIL import Image

from reid_pipeline.lib.attributes.factory import choose_describer
from reid_pipeline.lib.attributes.parsing import describe_with_repair, parse_json_object
from reid_pipeline.lib.attributes.pixels import PixelColourDescriber, colour_shares
from reid_pipeline.lib.attributes.run import describe_tracklets
from reid_pipeline.lib.attributes.types import DescribeRequest
from reid_pipeline.lib.attributes.vlm import VlmDescriber
from reid_pipeline.lib.attributes.vocabulary import (
    UNKNOWN,
    fields_for,
    summarise,
    unknown_description,
    validate_description,
)
from reid_pipeline.lib.attributes.zero_shot import ClipZeroShotDescriber
from reid_pipeline.lib.embedding.imagenet_backend import ImageNetEmbedder
from reid_pipeline.lib.embedding.open_clip_backend import RANDOM_WEIGHTS, OpenClipEmbedder
from reid_pipeline.lib.embedding.run import embed_tracklets
from reid_pipeline.lib.storage.schemas import ATTRIBUTES, TRACKLETS
from reid_pipeline.settings import AttributeSettings
from reid_pipeline_tests.lib.test_embedding import crops_table
from reid_pipeline_tests.tiny_vlm import build_tiny_vlm

RED_JACKET = {"upper_color": "Red", "upper_type": "jacket", "bag": "backpack", "accessories": ["glasses"]}


def person_image(upper: tuple[int, int, int], lower: tuple[int, int, int]) -> Image.Image:
    """A 60x150 'person': background, an upper-body band and a lower-body band."""
    pixels = np.full((150, 60, 3), (90, 140, 90), dtype=np.uint8)
    pixels[20:80, 10:50] = upper
    pixels[80:140, 10:50] = lower
    return Image.fromarray(pixels)


def request(entity_type: str = "person", vector: np.ndarray | None = None) -> DescribeRequest:
    return DescribeRequest("2024-05-01/gate/000001", entity_type, person_image((200, 30, 30), (40, 60, 170)), vector)


def test_validation_normalises_case_and_names_every_bad_field() -> None:
    valid = validate_description("person", RED_JACKET)
    assert valid["upper_color"] == "red" and valid["lower_color"] == UNKNOWN and valid["accessories"] == ["glasses"]
    assert set(valid) == {f.name for f in fields_for("person")}
    with pytest.raises(ValueError) as problem:
        validate_description("person", {"upper_color": "chartreuse", "gender": "female"})
    assert "upper_color" in str(problem.value) and "gender" in str(problem.value)
    with pytest.raises(ValueError, match="expected a JSON object"):
        validate_description("vehicle", ["silver"])
    assert summarise("person", valid) == "red jacket, backpack, glasses"
    assert (
        summarise("vehicle", {"color": "gray", "body_type": "van", "visible_text": "ACME"}) == 'gray van, text "ACME"'
    )
    assert summarise("animal", unknown_description("animal")) == UNKNOWN


def test_no_sensitive_fields_in_any_vocabulary() -> None:
    names = {f.name for entity in ("person", "vehicle", "animal") for f in fields_for(entity)}
    assert not names & {"age", "gender", "sex", "ethnicity", "race", "identity", "name"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"upper_color": "red"}', {"upper_color": "red"}),
        ('Sure! ```json\n{"bag": "none"}\n``` Hope this helps.', {"bag": "none"}),
        ('The person wears {"upper_type": "coat"} as described.', {"upper_type": "coat"}),
    ],
)
def test_json_is_found_bare_fenced_or_in_prose(text: str, expected: dict[str, str]) -> None:
    assert parse_json_object(text) == expected


@pytest.mark.parametrize(("text", "problem"), [("no braces here", "no JSON object"), ("{'a': 1,}", "invalid JSON")])
def test_unparseable_answers_say_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_json_object(text)


class ScriptedModel:
    """Stands in for the language model's generate step with fixed answers, recording each prompt."""

    def __init__(self, *rounds: list[str]) -> None:
        self.rounds = list(rounds)
        self.prompts: list[list[str]] = []

    def __call__(self, pairs: Sequence[tuple[DescribeRequest, str]]) -> list[tuple[str, float]]:
        self.prompts.append([prompt for _, prompt in pairs])
        answers = self.rounds.pop(0)
        assert len(answers) == len(pairs)
        return [(answer, 0.8) for answer in answers]


def test_generate_parse_validate_repair_fallback() -> None:
    requests = [request(), request(), request()]
    model = ScriptedModel(
        [json.dumps(RED_JACKET), '{"upper_color": "chartreuse"}', "I cannot tell."],
        ['{"upper_color": "green"}', "still no JSON"],
    )
    ok, repaired, unknown = describe_with_repair(requests, model)

    assert ok.status == "ok" and ok.attributes["upper_type"] == "jacket" and ok.raw_text is None
    assert ok.field_confidence == {"upper_color": 0.8, "upper_type": 0.8, "bag": 0.8, "accessories": 0.8}
    assert repaired.status == "repaired" and repaired.attributes["upper_color"] == "green"
    assert "chartreuse" in (repaired.raw_text or "")
    assert unknown.status == "unknown" and unknown.attributes == unknown_description("person")
    assert unknown.confidence == 0.0 and "I cannot tell." in (unknown.raw_text or "")
    assert len(model.prompts) == 2 and len(model.prompts[1]) == 2, "only the failures are asked again"
    assert "upper_color" in model.prompts[1][0] and "no JSON object" in model.prompts[1][1]


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-qwen2.5-vl"))


def test_tiny_vision_language_model_runs_the_whole_path(tiny_vlm: Path) -> None:
    describer = VlmDescriber(str(tiny_vlm), device="cpu", batch_size=2, max_new_tokens=24, offline=True)
    requests = [request(), request("vehicle"), request("animal")]

    first = describer.describe(requests)
    again = describer.describe(requests)

    assert [d.attributes.keys() for d in first] == [unknown_description(r.entity_type).keys() for r in requests]
    # Random weights write garbage: each answer is asked once more, then stored as unknown with its text.
    assert all(d.status == "unknown" and "--- repair ---" in (d.raw_text or "") for d in first)
    assert [d.raw_text for d in first] == [d.raw_text for d in again], "greedy decoding is deterministic"


def test_missing_vision_language_model_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="REID_ATTRIBUTES__MODE=fast"):
        VlmDescriber(str(tmp_path / "no-model"), offline=True)


def test_pixel_colours_name_upper_and_lower_body() -> None:
    (description,) = PixelColourDescriber().describe([request()])
    assert description.attributes["upper_color"] == "red" and description.attributes["lower_color"] == "blue"
    assert description.field_confidence["upper_color"] > 0.8 and description.attributes["upper_type"] == UNKNOWN
    car = DescribeRequest("t", "vehicle", Image.new("RGB", (120, 60), (240, 240, 240)))
    (vehicle,) = PixelColourDescriber().describe([car])
    assert vehicle.attributes["color"] == "white" and vehicle.field_confidence == {"color": 1.0}
    shares = colour_shares(np.array([[[0, 0, 0], [0, 0, 0], [250, 250, 250], [10, 10, 10]]], dtype=np.uint8))
    assert shares == [("black", 0.75), ("white", 0.25)]


@pytest.fixture(scope="module")
def clip_model() -> OpenClipEmbedder:
    torch.manual_seed(0)
    return OpenClipEmbedder("ViT-B-32", RANDOM_WEIGHTS, device="cpu")


def test_clip_zero_shot_scores_prompts_against_the_image_vector(clip_model: OpenClipEmbedder) -> None:
    describer = ClipZeroShotDescriber(clip_model)
    field = next(f for f in fields_for("person") if f.name == "upper_color")
    prompts = describer.prompt_vectors("person", field)
    assert field.values is not None and prompts.shape == (len(field.values), clip_model.dims)

    # An image vector equal to the "green top" prompt's text vector must read as green, whatever the weights.
    green = prompts[field.values.index("green")]
    (description,) = describer.describe([request(vector=green)])
    assert description.attributes["upper_color"] == "green"
    assert all(0 < p <= 1 for p in description.field_confidence.values())
    assert description.attributes["accessories"] == [] and "accessories" not in description.field_confidence
    with pytest.raises(ValueError, match="no image vector"):
        describer.describe([request(vector=None)])


def test_describer_choice_follows_profile_and_mode(clip_model: OpenClipEmbedder, tiny_vlm: Path) -> None:
    offline_embedder = ImageNetEmbedder("mobilenetv2", device="cpu")
    assert choose_describer(AttributeSettings(mode="fast"), offline_embedder, True).profile == "pixel-colours"
    assert choose_describer(AttributeSettings(mode="fast"), clip_model, True).profile == "clip-zero-shot"
    enhanced = AttributeSettings(mode="enhanced", vlm_model=str(tiny_vlm))
    assert choose_describer(enhanced, clip_model, True).profile == "vlm"
    missing = choose_describer(AttributeSettings(mode="enhanced", vlm_model="/nowhere/vlm"), clip_model, True)
    assert missing.profile == "clip-zero-shot" and missing.note and "neither present nor downloadable" in missing.note


def tracklets_of(crops: pa.Table) -> pa.Table:
    ids = sorted(set(crops.column("tracklet_id").to_pylist()))
    rows = [
        {
            "tracklet_id": tracklet_id,
            "date": "2024-05-01",
            "camera_id": "gate",
            "track_id": i,
            "entity_type": "person",
            "file_id": "f",
            "start_time": crops.column("timestamp")[0].as_py(),
            "end_time": crops.column("timestamp")[0].as_py(),
            "n_detections": 1,
            "mean_score": 0.9,
            "best_quality": 0.9,
            "best_crop_ids": [],
        }
        for i, tracklet_id in enumerate([*ids, "2024-05-01/gate/000009"])
    ]
    return pa.Table.from_pylist(rows, schema=TRACKLETS)


def test_described_once_and_reused_until_the_look_drifts() -> None:
    crops = crops_table({"2024-05-01/gate/000001": [0.9, 0.3], "2024-05-01/gate/000002": [0.5]})
    tracklets = tracklets_of(crops)
    embeddings = embed_tracklets(crops, ImageNetEmbedder("mobilenetv2", device="cpu"), 4, 1).table
    describer = PixelColourDescriber()

    first = describe_tracklets(tracklets, crops, embeddings, None, describer, 0.15, "run-1", log=lambda _: None)
    assert first.table.schema.equals(ATTRIBUTES)
    assert first.described == 2 and first.reused == 0 and first.without_crop == 1
    row = first.table.to_pylist()[0]
    assert row["crop_id"] == "2024-05-01/gate/000001-c1", "the best-ranked crop is described"
    assert json.loads(row["attributes"])["upper_color"] == row["upper_color"]

    second = describe_tracklets(tracklets, crops, embeddings, first.table, describer, 0.15, "run-2", log=lambda _: None)
    assert second.described == 0 and second.reused == 2
    assert set(second.table.column("described_at_run").to_pylist()) == {"run-1"}
    assert second.table.equals(first.table), "a reused description comes back whole, its vector too"

    # Turn one tracklet's pooled vector around: it no longer looks the same and is described again.
    vectors = embeddings.column("vector").to_pylist()
    kinds = embeddings.column("kind").to_pylist()
    flipped = [
        [-x for x in v] if kind == "tracklet" and i == kinds.index("tracklet") else v
        for i, (v, kind) in enumerate(zip(vectors, kinds, strict=True))
    ]
    moved = embeddings.set_column(
        embeddings.schema.get_field_index("vector"), "vector", pa.array(flipped, embeddings.schema.field("vector").type)
    )
    third = describe_tracklets(tracklets, crops, moved, second.table, describer, 0.15, "run-3", log=lambda _: None)
    assert third.described == 1 and third.reused == 1


def test_a_best_crop_that_does_not_decode_is_reported_and_left_out() -> None:
    crops = crops_table({"2024-05-01/gate/000001": [0.9], "2024-05-01/gate/000002": [0.5]})
    at = crops.schema.get_field_index("jpeg")
    jpegs = [
        b"not a jpeg" if crop_id.startswith("2024-05-01/gate/000002") else data
        for crop_id, data in zip(crops.column("crop_id").to_pylist(), crops.column("jpeg").to_pylist(), strict=True)
    ]
    broken = crops.set_column(at, "jpeg", pa.array(jpegs, pa.binary()))
    embeddings = embed_tracklets(crops, ImageNetEmbedder("mobilenetv2", device="cpu"), 4, 1).table
    result = describe_tracklets(
        tracklets_of(crops),
        broken,
        embeddings,
        None,
        PixelColourDescriber(),
        0.15,
        "run-1",
        batch_size=1,
        log=lambda _: None,
    )
    assert result.described == 1 and len(result.errors) == 1 and "000002" in result.errors[0]
    assert result.table.column("tracklet_id").to_pylist() == ["2024-05-01/gate/000001"]
