"""Embedders with real architectures: packaged ImageNet weights and random-weight open_clip."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from PIL import Image

from reid_pipeline.lib.embedding.batching import AdaptiveBatcher, is_out_of_memory
from reid_pipeline.lib.embedding.checks import check_embeddings
from reid_pipeline.lib.embedding.factory import build_embedder, choose_embedding_profile
from reid_pipeline.lib.embedding.imagenet_backend import ImageNetEmbedder
from reid_pipeline.lib.embedding.images import decode_jpeg, pad_to_square
from reid_pipeline.lib.embedding.open_clip_backend import RANDOM_WEIGHTS, OpenClipEmbedder
from reid_pipeline.lib.embedding.pipelined import BATCH_FOR_ALL_CORES, embed_jpegs, model_threads
from reid_pipeline.lib.embedding.run import embed_tracklets, tracklet_vectors, vectors_of
from reid_pipeline.lib.embedding.types import l2_normalise, pool_vectors, resolve_batch_size
from reid_pipeline.lib.runtime.cpu import usable_cores
from reid_pipeline.lib.storage.schemas import CROPS
from reid_pipeline.settings import EmbeddingSettings


def jpeg(seed: int, size: tuple[int, int] = (48, 120)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def clip_model() -> OpenClipEmbedder:
    torch.manual_seed(0)
    return OpenClipEmbedder("ViT-B-32", RANDOM_WEIGHTS, device="cpu")


def out_of_memory() -> Exception:
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_l2_normalise_and_quality_weighted_pooling() -> None:
    vectors = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 0.0]])
    # weights 3:1 of (1,0) and (0,1): mean (0.75, 0.25), normalised
    pooled = pool_vectors(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([3.0, 1.0]))
    np.testing.assert_allclose(pooled, np.array([0.75, 0.25]) / np.hypot(0.75, 0.25), rtol=1e-6)
    equal = pool_vectors(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.0, 0.0]))
    np.testing.assert_allclose(equal, [2**-0.5, 2**-0.5], rtol=1e-6)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (torch.cuda.OutOfMemoryError("CUDA out of memory"), True),
        (RuntimeError("MPS backend out of memory"), True),
        (MemoryError("out of memory"), True),
        (RuntimeError("shape mismatch"), False),
        (ValueError("out of memory"), False),
    ],
)
def test_out_of_memory_is_recognised(error: Exception, expected: bool) -> None:
    assert is_out_of_memory(error) is expected


def test_batcher_halves_on_out_of_memory_and_keeps_the_smaller_size() -> None:
    calls: list[int] = []

    def fn(chunk: Sequence[int]) -> list[int]:
        calls.append(len(chunk))
        if len(chunk) > 3:
            raise out_of_memory()
        return [item * 10 for item in chunk]

    shrinks: list[tuple[int, int]] = []
    batcher = AdaptiveBatcher(8, on_shrink=lambda failed, new: shrinks.append((failed, new)))
    assert batcher.run(list(range(11)), fn) == [i * 10 for i in range(11)]
    assert shrinks == [(8, 4), (4, 2)]
    assert batcher.batch_size == 2 and batcher.shrinks == 2
    assert calls == [8, 4, 2, 2, 2, 2, 2, 1]


def test_batcher_reraises_other_errors_and_out_of_memory_at_size_one() -> None:
    def broken(chunk: Sequence[int]) -> list[int]:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        AdaptiveBatcher(4).run([1, 2, 3], broken)

    def always_oom(chunk: Sequence[int]) -> list[int]:
        raise out_of_memory()

    with pytest.raises(torch.cuda.OutOfMemoryError):
        AdaptiveBatcher(4).run([1, 2, 3], always_oom)


@pytest.mark.parametrize(
    ("device", "workers", "batch_size"), [("cpu", 1, 1), ("cpu", 64, 1), ("cpu", 64, 16), ("cuda:0", 1, 1)]
)
def test_model_threads_leave_decode_workers_their_cores_only_at_small_batches(
    device: str, workers: int, batch_size: int
) -> None:
    before = torch.get_num_threads()
    if device != "cpu":
        expected = before
    elif batch_size >= BATCH_FOR_ALL_CORES:
        expected = usable_cores()
    else:
        expected = max(1, usable_cores() - workers)
    with model_threads(device, workers, batch_size):
        assert torch.get_num_threads() == expected
    assert torch.get_num_threads() == before, "the process's thread count is restored afterwards"


def test_pad_to_square_keeps_the_whole_crop() -> None:
    tall = Image.new("RGB", (40, 100), (255, 0, 0))
    square = pad_to_square(tall)
    assert square.size == (100, 100)
    assert square.getpixel((50, 50)) == (255, 0, 0) and square.getpixel((0, 50)) != (255, 0, 0)


def test_unreadable_crop_names_itself() -> None:
    with pytest.raises(ValueError, match="crop 2024-05-01/x is not a readable image"):
        decode_jpeg(b"not a jpeg", "2024-05-01/x")


def test_open_clip_vectors_are_unit_and_independent_of_batching(clip_model: OpenClipEmbedder) -> None:
    jpegs = [jpeg(i) for i in range(5)] + [b"broken"]
    names = [f"crop-{i}" for i in range(6)]
    single = embed_jpegs(clip_model, jpegs, names, batch_size=1, workers=1)
    batched = embed_jpegs(clip_model, jpegs, names, batch_size=4, workers=2)

    assert batched.vectors.shape == (5, 512) and batched.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched.vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(single.vectors, batched.vectors, atol=1e-4)
    assert batched.kept == [0, 1, 2, 3, 4]
    assert len(batched.errors) == 1 and "crop-5" in batched.errors[0]
    assert not np.allclose(batched.vectors[0], batched.vectors[1]), "different crops, different vectors"


def test_out_of_memory_in_the_model_backs_off_and_gives_the_same_vectors(
    clip_model: OpenClipEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    jpegs = [jpeg(i) for i in range(6)]
    names = [str(i) for i in range(6)]
    reference = embed_jpegs(clip_model, jpegs, names, batch_size=6, workers=1).vectors
    real_forward = clip_model.forward

    def small_memory(batch: torch.Tensor) -> np.ndarray:
        if len(batch) > 2:
            raise out_of_memory()
        return real_forward(batch)

    monkeypatch.setattr(clip_model, "forward", small_memory)
    shrinks: list[tuple[int, int]] = []
    result = embed_jpegs(clip_model, jpegs, names, 8, 1, on_shrink=lambda a, b: shrinks.append((a, b)))
    assert shrinks == [(6, 3), (3, 1)] and result.batch_size == 1
    np.testing.assert_allclose(result.vectors, reference, atol=1e-4)


def test_text_vectors_share_the_image_space(clip_model: OpenClipEmbedder) -> None:
    text = clip_model.encode_text(["a person in a red jacket", "a silver sedan"])
    assert text.shape == (2, clip_model.dims)
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)


def test_local_checkpoint_loads_and_missing_one_says_how_to_fix(clip_model: OpenClipEmbedder, tmp_path: Path) -> None:
    checkpoint = tmp_path / "vit-b-32-test.pt"
    torch.save(clip_model.model.state_dict(), checkpoint)
    loaded = OpenClipEmbedder("ViT-B-32", str(checkpoint), device="cpu", offline=True)
    assert loaded.model_name == "ViT-B-32/vit-b-32-test.pt"
    jpegs = [jpeg(7)]
    np.testing.assert_allclose(
        embed_jpegs(loaded, jpegs, ["a"], 1, 1).vectors, embed_jpegs(clip_model, jpegs, ["a"], 1, 1).vectors, atol=1e-5
    )
    with pytest.raises(FileNotFoundError, match="REID_EMBEDDING__PRETRAINED"):
        OpenClipEmbedder("ViT-B-32", str(tmp_path / "missing.pt"), offline=True)


def test_colour_fusion_splits_the_cosine_between_cnn_and_body_colours() -> None:
    import io

    from PIL import Image

    def person(top: tuple[int, int, int]) -> bytes:
        image = np.full((150, 60, 3), 128, np.uint8)
        image[10:75, 10:50] = top
        image[75:140, 10:50] = (30, 30, 90)
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG")
        return buffer.getvalue()

    jpegs = [person((200, 20, 20)), person((20, 20, 200))]
    cnn = embed_jpegs(ImageNetEmbedder("mobilenetv2", device="cpu"), jpegs, ["r", "b"], 2, 1).vectors
    fused_model = ImageNetEmbedder("mobilenetv2", colour_weight=0.5, device="cpu")
    fused = embed_jpegs(fused_model, jpegs, ["r", "b"], 2, 1).vectors
    assert fused.shape == (2, fused_model.dims) == (2, 1280 + 64)
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    colour = fused[:, 1280:] / np.sqrt(0.5)
    expected = 0.5 * float(cnn[0] @ cnn[1]) + 0.5 * float(colour[0] @ colour[1])
    assert float(fused[0] @ fused[1]) == pytest.approx(expected, abs=1e-5)
    assert float(colour[0] @ colour[1]) < 0.9, "a red top and a blue top differ in colour"
    assert fused_model.backend == "imagenet-cnn+colour" and fused_model.model_name == "mobilenetv2+colour0.5"
    with pytest.raises(ValueError, match="colour_weight"):
        ImageNetEmbedder("mobilenetv2", colour_weight=1.5)


@pytest.mark.parametrize("backbone", ["mobilenetv2", "efficientnet-lite0"])
def test_packaged_imagenet_backbones(backbone: str) -> None:
    embedder = ImageNetEmbedder(backbone, device="cpu")
    jpegs = [jpeg(i, (60, 150)) for i in range(3)]
    first = embed_jpegs(embedder, jpegs, ["a", "b", "c"], 2, 2).vectors
    again = embed_jpegs(embedder, jpegs, ["a", "b", "c"], 3, 1).vectors
    assert first.shape == (3, 1280) == (3, embedder.dims)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, again, atol=1e-5)


def test_profile_choice() -> None:
    absent = EmbeddingSettings(profile="auto", pretrained="/nonexistent/clip.pt", offline=True)
    choice = choose_embedding_profile(absent)
    assert choice.profile == "offline" and choice.note and "neither present nor downloadable" in choice.note
    assert choose_embedding_profile(EmbeddingSettings(profile="auto", pretrained=RANDOM_WEIGHTS)).profile == "standard"
    assert choose_embedding_profile(EmbeddingSettings(profile="offline")).profile == "offline"
    assert build_embedder(EmbeddingSettings(offline_backbone="efficientnet-lite0"), "offline").dims == 1280
    with pytest.raises(ValueError, match="unknown embedding profile"):
        build_embedder(EmbeddingSettings(), "fancy")
    with pytest.raises(ValueError, match="unknown offline backbone"):
        ImageNetEmbedder("resnet9000")


def crops_table(tracklets: dict[str, list[float]]) -> pa.Table:
    """Crops of the given tracklets with the given qualities; all marked best, plus one crop that is not."""
    rows = []
    for tracklet_id, qualities in tracklets.items():
        for rank, quality in enumerate(qualities, start=1):
            rows.append(crop_row(f"{tracklet_id}-c{rank}", tracklet_id, quality, rank))
    rows.append(crop_row("t-extra", next(iter(tracklets)), 0.0, None))
    return pa.Table.from_pylist(rows, schema=CROPS)


def crop_row(crop_id: str, tracklet_id: str, quality: float, rank: int | None) -> dict[str, object]:
    return {
        "crop_id": crop_id,
        "date": "2024-05-01",
        "camera_id": "gate",
        "tracklet_id": tracklet_id,
        "entity_type": "person",
        "timestamp": datetime(2024, 5, 1, 8, 0, rank or 59, tzinfo=UTC),
        "width": 48,
        "height": 120,
        "sharpness": 100.0,
        "truncated": False,
        "score": 0.9,
        "quality": quality,
        "is_best": rank is not None,
        "best_rank": rank,
        "jpeg": jpeg(abs(hash(crop_id)) % 1000),
    }


def test_tracklet_embeddings_pool_the_best_crops_and_pass_their_checks() -> None:
    embedder = ImageNetEmbedder("mobilenetv2", device="cpu")
    crops = crops_table({"2024-05-01/gate/000001": [0.9, 0.3], "2024-05-01/gate/000002": [0.5]})
    result = embed_tracklets(crops, embedder, batch_size=2, workers=1)

    table = result.table
    kinds = table.column("kind").to_pylist()
    assert kinds.count("crop") == 3 and kinds.count("tracklet") == 2 == result.tracklets
    assert "t-extra" not in table.column("embedding_id").to_pylist(), "only best crops are embedded"
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 1280)
    crop_vectors = {
        row["crop_id"]: np.array(row["vector"], dtype=np.float32) for row in table.to_pylist() if row["kind"] == "crop"
    }
    expected = pool_vectors(
        np.stack([crop_vectors["2024-05-01/gate/000001-c1"], crop_vectors["2024-05-01/gate/000001-c2"]]),
        np.array([0.9, 0.3]),
    )
    np.testing.assert_allclose(tracklet_vectors(table)["2024-05-01/gate/000001"], expected, atol=1e-5)

    selected = [f"2024-05-01/gate/00000{t}-c{r}" for t, r in ((1, 1), (1, 2), (2, 1))]
    outcomes = {o.name: o for o in check_embeddings(table, selected, 1280)}
    assert all(o.passed for o in outcomes.values()), outcomes

    # The checks do fail on bad data: a stretched vector, a NaN, a missing crop, a wrong width.
    vectors = vectors_of(table)
    vectors[0] *= 2
    vectors[1, 0] = np.nan
    broken = table.set_column(
        table.schema.get_field_index("vector"), "vector", pa.FixedSizeListArray.from_arrays(vectors.ravel(), 1280)
    )
    failed = {o.name: o for o in check_embeddings(broken, [*selected, "missing-crop"], 512)}
    assert not any(o.passed for o in failed.values())
    assert failed["one_vector_per_selected_crop"].metadata["first_missing"] == "missing-crop"


def test_auto_batch_size_depends_on_device_and_model_family(clip_model: OpenClipEmbedder) -> None:
    cnn = ImageNetEmbedder("efficientnet-lite0", device="cpu")
    assert resolve_batch_size(0, cnn) == 16 and resolve_batch_size(0, clip_model) == 16
    assert resolve_batch_size(12, cnn) == 12
    assert resolve_batch_size(0, ImageNetEmbedder("mobilenetv2", device="cuda:0")) == 64
