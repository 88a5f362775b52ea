"""Fast describer: CLIP zero-shot over the attribute vocabulary, on the vectors already computed.

Each value of each field becomes a text prompt ("a photo of a person wearing a red top"); the
tracklet's image vector is scored against the field's prompts through the model's own logit scale and
a softmax. The top value and its probability are kept. No extra model and no extra image pass: the
image side is the pooled vector the ``embeddings`` asset already wrote.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reid_pipeline.lib.attributes.types import DescribeRequest, Description
from reid_pipeline.lib.attributes.vocabulary import AttributeField, fields_for, unknown_description
from reid_pipeline.lib.embedding.types import TextEncoder


class ClipZeroShotDescriber:
    backend = "clip-zero-shot"

    def __init__(self, text: TextEncoder) -> None:
        self.text = text
        self.model_name = text.model_name
        self._prompts: dict[tuple[str, str], np.ndarray] = {}

    def prompt_vectors(self, entity_type: str, field: AttributeField) -> np.ndarray:
        """Unit text vectors of the field's prompts, one row per value (computed once per run)."""
        key = (entity_type, field.name)
        if key not in self._prompts:
            assert field.values is not None
            self._prompts[key] = self.text.encode_text([field.prompt.format(value=v) for v in field.values])
        return self._prompts[key]

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        scale = self.text.logit_scale()
        return [self._describe_one(request, scale) for request in requests]

    def _describe_one(self, request: DescribeRequest, scale: float) -> Description:
        if request.vector is None:
            raise ValueError(f"tracklet {request.tracklet_id} has no image vector: CLIP zero-shot needs one")
        attributes: dict[str, Any] = unknown_description(request.entity_type)
        confidence: dict[str, float] = {}
        for field in fields_for(request.entity_type):
            if not field.prompt or field.values is None or field.is_list:
                continue
            logits = scale * (self.prompt_vectors(request.entity_type, field) @ request.vector)
            probabilities = np.exp(logits - logits.max())
            probabilities /= probabilities.sum()
            best = int(np.argmax(probabilities))
            attributes[field.name] = field.values[best]
            confidence[field.name] = round(float(probabilities[best]), 4)
        return Description(attributes, confidence)
