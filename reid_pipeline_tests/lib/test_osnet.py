"""The osnet embedder: torchreid's real OSNet architectures with random weights, and checkpoint loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reid_pipeline.lib.embedding.factory import build_embedder, choose_embedding_profile
from reid_pipeline.lib.embedding.open_clip_backend import RANDOM_WEIGHTS
from reid_pipeline.lib.embedding.osnet_backend import DIMS, OsnetEmbedder, build_osnet, checkpoint_state
from reid_pipeline.lib.embedding.pipelined import embed_jpegs
from reid_pipeline.settings import EmbeddingSettings


def crops(count: int = 3) -> list[Image.Image]:
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (90 + 10 * i, 40, 3), dtype=np.uint8)) for i in range(count)]


def vectors(embedder: OsnetEmbedder, images: list[Image.Image]) -> np.ndarray:
    return embedder.forward(torch.stack([embedder.preprocess(image) for image in images]))


def save_torchreid_checkpoint(model: torch.nn.Module, path: Path, identities: int = 751) -> Path:
    """What torchreid's training writes: DataParallel names, a classifier sized to the training identities."""
    state = {f"module.{key}": value for key, value in model.state_dict().items() if not key.startswith("classifier.")}
    state["module.classifier.weight"] = torch.randn(identities, DIMS)
    state["module.classifier.bias"] = torch.zeros(identities)
    torch.save({"state_dict": state, "epoch": 150, "rank1": 0.94}, path)
    return path


@pytest.mark.parametrize("model", ["osnet_x1_0", "osnet_x0_25"])
def test_random_osnet_gives_unit_512d_vectors(model: str) -> None:
    embedder = OsnetEmbedder(model, RANDOM_WEIGHTS, device="cpu")
    assert embedder.preprocess(crops(1)[0]).shape == (3, 256, 128), "crops are stretched to torchreid's input"

    found = vectors(embedder, crops(3))

    assert found.shape == (3, DIMS) == (3, embedder.dims) and found.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(found[0], found[1]), "different crops, different vectors"
    assert embedder.backend == "osnet" and embedder.model_name == f"{model}/random"


def test_checkpoint_round_trip_gives_the_trained_models_vectors(tmp_path: Path) -> None:
    torch.manual_seed(7)
    trained = build_osnet("osnet_x0_25").eval()
    path = save_torchreid_checkpoint(trained, tmp_path / "osnet_x0_25_market.pth")
    images = crops(2)
    with torch.inference_mode():
        expected = trained(torch.stack([OsnetEmbedder("osnet_x0_25", RANDOM_WEIGHTS).preprocess(i) for i in images]))
    expected = expected / expected.norm(dim=1, keepdim=True)

    loaded = OsnetEmbedder("osnet_x0_25", str(path), device="cpu")

    np.testing.assert_allclose(vectors(loaded, images), expected.numpy(), atol=1e-5)
    fresh = OsnetEmbedder("osnet_x0_25", RANDOM_WEIGHTS, device="cpu")
    assert not np.allclose(vectors(fresh, images), expected.numpy(), atol=1e-3), "the weights came from the file"
    assert loaded.model_name == "osnet_x0_25/osnet_x0_25_market.pth"


def test_bare_state_dict_without_prefixes_loads_too(tmp_path: Path) -> None:
    model = build_osnet("osnet_x0_25")
    path = tmp_path / "bare.pth"
    torch.save(model.state_dict(), path)

    state = checkpoint_state(path)

    assert set(state) == {key for key in model.state_dict() if not key.startswith("classifier.")}


def test_checkpoint_of_another_width_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = save_torchreid_checkpoint(build_osnet("osnet_x0_25"), tmp_path / "small.pth")
    embedder = OsnetEmbedder("osnet_x1_0", str(path), device="cpu")

    with pytest.raises(ValueError, match=r"small\.pth does not fit .*other shape"):
        _ = embedder.model


def test_missing_checkpoint_names_the_path_and_the_setting(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.pth not found: point REID_EMBEDDING__PRETRAINED"):
        OsnetEmbedder("osnet_x1_0", str(tmp_path / "absent.pth"))
    with pytest.raises(ValueError, match="unknown OSNet model"):
        OsnetEmbedder("osnet_x9", RANDOM_WEIGHTS)


def test_standard_profile_builds_osnet_and_auto_falls_back_without_a_checkpoint(tmp_path: Path) -> None:
    spec = EmbeddingSettings(model="osnet_x0_25", pretrained=RANDOM_WEIGHTS, device="cpu")
    embedder = build_embedder(spec, "standard")
    assert isinstance(embedder, OsnetEmbedder)
    assert choose_embedding_profile(spec.model_copy(update={"profile": "auto"})).profile == "standard"

    missing = spec.model_copy(update={"profile": "auto", "pretrained": str(tmp_path / "none.pth")})
    choice = choose_embedding_profile(missing)
    assert choice.profile == "offline" and choice.note is not None and "none.pth" in choice.note


def test_osnet_runs_through_the_batched_crop_embedding(tmp_path: Path) -> None:
    import io

    jpegs = []
    for image in crops(5):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG")
        jpegs.append(buffer.getvalue())
    embedder = OsnetEmbedder("osnet_x0_25", RANDOM_WEIGHTS, device="cpu")

    one = embed_jpegs(embedder, jpegs, [f"c{i}" for i in range(5)], batch_size=1, workers=2)
    four = embed_jpegs(embedder, jpegs, [f"c{i}" for i in range(5)], batch_size=4, workers=1)

    assert one.vectors.shape == (5, DIMS) and one.kept == list(range(5))
    np.testing.assert_allclose(one.vectors, four.vectors, atol=1e-4)


def test_osnet_vectors_are_matched_at_their_own_default_threshold() -> None:
    from reid_pipeline.lib.embedding.thresholds import default_match_threshold

    assert default_match_threshold("osnet") == OsnetEmbedder.match_threshold != default_match_threshold("open_clip")
