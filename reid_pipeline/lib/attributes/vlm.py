"""Enhanced describer: a vision-language model through transformers (default Qwen2.5-VL-3B-Instruct)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reid_pipeline.lib.attributes.parsing import describe_with_repair
from reid_pipeline.lib.attributes.types import DescribeRequest, Description
from reid_pipeline.lib.footage.sampling import batched
from reid_pipeline.lib.runtime.devices import resolve_device, resolve_dtype


def vlm_available_locally(model: str) -> bool:
    """A local model folder, or a hub id already in the Hugging Face cache."""
    if Path(model).is_dir() or model.startswith(("/", ".", "~")) or model.count("/") > 1:
        return (Path(model).expanduser() / "config.json").is_file()
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "config.json"), str)


class VlmDescriber:
    """Batched, greedy generation of a JSON description from each tracklet's best crop."""

    backend = "vlm"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 4,
        max_new_tokens: int = 192,
        offline: bool = False,
    ) -> None:
        if offline and not vlm_available_locally(model):
            raise FileNotFoundError(
                f"vision-language model {model!r} is not on this machine and downloads are off. Run once online "
                f"(transformers caches it), set REID_ATTRIBUTES__VLM_MODEL to a local model folder, or use "
                f"REID_ATTRIBUTES__MODE=fast."
            )
        self.model_id = model
        self.model_name = Path(model).name if Path(model).is_dir() else model
        self.device = resolve_device(device)
        self.precision = precision
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self._model: Any = None
        self._processor: Any = None

    def _load(self) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self._processor = AutoProcessor.from_pretrained(self.model_id)
        self._processor.tokenizer.padding_side = "left"  # batched generation continues every row at its end
        self._model = AutoModelForImageTextToText.from_pretrained(
            self.model_id, dtype=resolve_dtype(self.precision, self.device)
        )
        self._model = self._model.to(self.device).eval()

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        if self._model is None:
            self._load()
        return describe_with_repair(requests, self._generate)

    def _generate(self, pairs: Sequence[tuple[DescribeRequest, str]]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for chunk in batched(pairs, self.batch_size):
            out.extend(self._generate_batch(chunk))
        return out

    def _generate_batch(self, pairs: list[tuple[DescribeRequest, str]]) -> list[tuple[str, float]]:
        import torch

        texts = [
            self._processor.apply_chat_template(
                [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}],
                add_generation_prompt=True,
                tokenize=False,
            )
            for _, prompt in pairs
        ]
        images = [request.image for request, _ in pairs]
        inputs = self._processor(text=texts, images=images, padding=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            generated = self._model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                return_dict_in_generate=True,
                output_scores=True,
            )
            scores = self._model.compute_transition_scores(generated.sequences, generated.scores, normalize_logits=True)
        new_tokens = generated.sequences[:, inputs["input_ids"].shape[1] :]
        answers = self._processor.batch_decode(new_tokens, skip_special_tokens=True)
        pad = self._processor.tokenizer.pad_token_id
        results = []
        for row, answer in enumerate(answers):
            real = new_tokens[row] != pad  # padding after an early stop is not part of the answer
            probability = float(scores[row][real].exp().mean()) if bool(real.any()) else 0.0
            results.append((answer.strip(), probability))
        return results
