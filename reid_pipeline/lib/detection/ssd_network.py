"""SSD-MobileNet-v2 COCO as a PyTorch module, built from the weights OpenCV reads out of the frozen graph.

Why not OpenCV's own forward pass: on a 2-core CPU it takes 37-40 ms a 300x300 frame (72-76 ms of CPU),
and detection was most of a camera-hour's compute. The same network in PyTorch, batch norms folded into the
convolutions, run channels-last and scoring only the classes the pipeline keeps, gives the same boxes and
scores (to float rounding; a test compares the two on real footage) in 24-26 ms (46-50 ms of CPU).

OpenCV stays the model's reader: it parses the TensorFlow graph, and its prior boxes (which depend only on
the input size) are taken from one forward pass at load. Layer names are those of the TF Object Detection
export; a graph that lacks one is not this architecture, and loading says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURES = "FeatureExtractor/MobilenetV2"
# Depthwise stride of MobileNetV2's 17 inverted-residual blocks (expanded_conv, expanded_conv_1 ... _16).
BLOCK_STRIDES = (1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1)
HEAD_BLOCK = 13  # the first box predictor reads the expansion of block 13 (576 channels, 19x19)
# SSD's extra feature layers after Conv_1: (number, 1x1 width, output width), each halving the map.
EXTRA_LAYERS = ((2, 256, 512), (3, 128, 256), (4, 128, 256), (5, 64, 128))
BN_EPSILON = 0.001  # every FusedBatchNorm of the export uses TF's default
NUM_CLASSES = 91  # background and TF's 90 COCO ids


def _blobs(net: Any, name: str) -> list[np.ndarray]:
    layer_id = net.getLayerId(name)
    if layer_id < 0:
        raise ValueError(f"layer {name!r} is missing: the graph is not an SSD-MobileNet-v2 COCO export")
    return [np.asarray(blob, dtype=np.float32) for blob in net.getLayer(layer_id).blobs]


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding: the odd pixel goes after, not before (PyTorch pads symmetrically)."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _Conv(nn.Module):
    """A convolution with its batch norm folded in, TF 'SAME' padding, and ReLU6 when ``relu6``."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride: int, relu6: bool) -> None:
        super().__init__()
        out_channels, in_per_group, kernel, _ = weight.shape
        groups = 1 if in_per_group > 1 or out_channels == 1 else out_channels
        self.stride, self.kernel, self.relu6 = stride, kernel, relu6
        self.conv = nn.Conv2d(
            in_per_group * groups, out_channels, kernel, stride, padding=0 if stride > 1 else kernel // 2, groups=groups
        )
        self.conv.weight = nn.Parameter(torch.from_numpy(weight), requires_grad=False)
        self.conv.bias = nn.Parameter(torch.from_numpy(bias), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            top, bottom = _same_padding(x.shape[2], self.kernel, self.stride)
            left, right = _same_padding(x.shape[3], self.kernel, self.stride)
            x = F.pad(x, (left, right, top, bottom))
        x = self.conv(x)
        return x.clamp(0.0, 6.0) if self.relu6 else x


def _conv_bn(net: Any, prefix: str, conv: str, stride: int = 1, relu6: bool = True) -> _Conv:
    """``prefix/conv`` followed by ``prefix/BatchNorm``, folded into one convolution."""
    (weight,) = _blobs(net, f"{prefix}/{conv}")
    mean, variance, gamma, beta = (blob.reshape(-1) for blob in _blobs(net, f"{prefix}/BatchNorm/batchnorm/add_1"))
    scale = gamma / np.sqrt(variance + BN_EPSILON)
    return _Conv(weight * scale[:, None, None, None], beta - mean * scale, stride, relu6)


class _InvertedResidual(nn.Module):
    def __init__(self, net: Any, block: int, stride: int) -> None:
        super().__init__()
        prefix = f"{FEATURES}/expanded_conv" + (f"_{block}" if block else "")
        self.expand = _conv_bn(net, f"{prefix}/expand", "Conv2D") if block else None
        self.depthwise = _conv_bn(net, f"{prefix}/depthwise", "depthwise", stride)
        self.project = _conv_bn(net, f"{prefix}/project", "Conv2D", relu6=False)
        first = self.expand if self.expand is not None else self.depthwise
        self.residual = stride == 1 and first.conv.in_channels == self.project.conv.out_channels

    def expanded(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(x) if self.expand is not None else x

    def rest(self, x: torch.Tensor, expanded: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(expanded))
        return out + x if self.residual else out


def _head(net: Any, index: int, kind: str, classes: Sequence[int] | None = None) -> _Conv:
    """Box predictor ``index``'s ``kind`` convolution; for class scores, only the channels of ``classes``."""
    weight, bias = _blobs(net, f"BoxPredictor_{index}/{kind}/Conv2D")
    bias = bias.reshape(-1)
    if classes is not None:
        anchors = weight.shape[0] // NUM_CLASSES
        channels = [anchor * NUM_CLASSES + c for anchor in range(anchors) for c in classes]
        weight, bias = np.ascontiguousarray(weight[channels]), bias[channels]
    return _Conv(weight, bias, 1, relu6=False)


class SsdMobileNetV2(nn.Module):
    """Image batch (N, 3, 300, 300), RGB 0-255, to box encodings (N, P, 4) and scores (N, P, len(classes)).

    ``classes`` are TF class ids (1 = person, ...). Scores are independent sigmoids, so computing only the
    classes the pipeline keeps changes none of their scores, and saves most of the work: the class heads'
    3x3 convolutions over all 91 classes cost more than the whole MobileNetV2 backbone.
    """

    def __init__(self, net: Any, classes: Sequence[int] = tuple(range(NUM_CLASSES))) -> None:
        super().__init__()
        self.classes = list(classes)
        self.stem = _conv_bn(net, f"{FEATURES}/Conv", "Conv2D", stride=2)
        self.block_list = [_InvertedResidual(net, i, s) for i, s in enumerate(BLOCK_STRIDES)]
        self.blocks = nn.ModuleList(self.block_list)  # registered, so .to() and .eval() reach them
        self.last = _conv_bn(net, f"{FEATURES}/Conv_1", "Conv2D")
        self.extras = nn.ModuleList(
            nn.Sequential(
                _conv_bn(net, f"{FEATURES}/layer_19_1_Conv2d_{n}_1x1_{mid}", "Conv2D"),
                _conv_bn(net, f"{FEATURES}/layer_19_2_Conv2d_{n}_3x3_s2_{out}_depthwise", "depthwise", stride=2),
                _conv_bn(net, f"{FEATURES}/layer_19_2_Conv2d_{n}_3x3_s2_{out}", "Conv2D"),
            )
            for n, mid, out in EXTRA_LAYERS
        )
        self.box_heads = nn.ModuleList(_head(net, i, "BoxEncodingPredictor") for i in range(6))
        self.class_heads = nn.ModuleList(_head(net, i, "ClassPredictor", self.classes) for i in range(6))

    def _feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x * (2.0 / 255.0) - 1.0)  # the export's Preprocessor: 0..255 to -1..1
        maps = []
        for index, block in enumerate(self.block_list):
            expanded = block.expanded(x)
            if index == HEAD_BLOCK:
                maps.append(expanded)
            x = block.rest(x, expanded)
        x = self.last(x)
        maps.append(x)
        for extra in self.extras:
            x = extra(x)
            maps.append(x)
        return maps

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        boxes, scores = [], []
        for feature, box_head, class_head in zip(
            self._feature_maps(images), self.box_heads, self.class_heads, strict=True
        ):
            n = feature.shape[0]
            # Anchors vary fastest, then columns, then rows: the order of the prior boxes.
            boxes.append(box_head(feature).permute(0, 2, 3, 1).reshape(n, -1, 4))
            scores.append(class_head(feature).permute(0, 2, 3, 1).reshape(n, -1, len(self.classes)))
        return torch.cat(boxes, 1), torch.sigmoid(torch.cat(scores, 1))


# The export's DetectionOutput settings (its .pbtxt): per-class NMS at IoU 0.6, 100 boxes per class and image.
NMS_IOU = 0.6
TOP_K = 100
MIN_CONFIDENCE = 0.01


class SsdRunner:
    """The network plus the export's prior boxes and DetectionOutput: frames in, OpenCV-style rows out.

    Rows are ``[image, tf_class, score, x1, y1, x2, y2]`` with coordinates in 0..1, exactly the layout of
    OpenCV's ``detection_out``, so the detector reads either. Only boxes scoring at least ``min_score`` are
    decoded: the rest would be dropped by the caller, and no box above it is changed by leaving them out
    (NMS only suppresses a box with a higher-scored one, and the top-k cuts keep the highest).
    ``classes`` (TF ids; all 90 when None) are the only ones scored. The one difference this can make to
    OpenCV's rows: with over 100 boxes of all classes in one image, the 100 kept may include some of these
    classes that the other classes' boxes had pushed out.
    """

    def __init__(self, net: Any, input_size: int, classes: Sequence[int] | None = None) -> None:
        import cv2

        self.input_size = input_size
        kept = sorted(set(classes)) if classes is not None else list(range(1, NUM_CLASSES))
        self.labels = torch.tensor(kept)
        self.model = SsdMobileNetV2(net, kept).eval().to(memory_format=torch.channels_last)
        # The prior boxes depend on the input size only: read them off one OpenCV pass over a blank frame.
        blank = np.zeros((input_size, input_size, 3), np.uint8)
        net.setInput(cv2.dnn.blobFromImage(blank, 1.0, (input_size, input_size), swapRB=True, crop=False))
        priors = torch.from_numpy(np.asarray(net.forward("PriorBox/concat"), np.float32).reshape(2, -1, 4))
        self.priors, self.variances = priors[0], priors[1]

    def rows(self, blob: np.ndarray, min_score: float) -> np.ndarray:
        """Detections of an OpenCV blob (N, 3, size, size), RGB 0-255, as one (K, 7) float32 array."""
        with torch.inference_mode():
            images = torch.from_numpy(blob).contiguous(memory_format=torch.channels_last)
            encodings, scores = self.model(images)
            found = [self._image_rows(i, encodings[i], scores[i], min_score) for i in range(len(blob))]
        return np.concatenate(found) if found else np.zeros((0, 7), np.float32)

    def _decode(self, encodings: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """Caffe's CENTER_SIZE decoding of the encodings of priors ``prior``; boxes x1, y1, x2, y2 in 0..1."""
        priors, variances, encodings = self.priors[prior], self.variances[prior], encodings[prior]
        size = priors[:, 2:] - priors[:, :2]
        centre = (priors[:, :2] + priors[:, 2:]) / 2 + variances[:, :2] * encodings[:, :2] * size
        half = torch.exp(variances[:, 2:] * encodings[:, 2:]) * size / 2
        return torch.cat([centre - half, centre + half], 1)

    def _image_rows(self, image: int, encodings: torch.Tensor, scores: torch.Tensor, min_score: float) -> np.ndarray:
        import torchvision

        candidates = (scores >= max(min_score, MIN_CONFIDENCE)).nonzero()
        prior, column = candidates[:, 0], candidates[:, 1]
        label, score = self.labels[column], scores[prior, column]
        kept = torch.cat([_top(score, label == c, TOP_K) for c in label.unique()]) if len(label) else label
        boxes = self._decode(encodings, prior[kept])
        # batched_nms returns survivors best first: the first TOP_K are the export's keep_top_k.
        survivors = torchvision.ops.batched_nms(boxes, score[kept], label[kept], NMS_IOU)[:TOP_K]
        kept, boxes = kept[survivors], boxes[survivors]
        columns = [torch.full_like(score[kept], image), label[kept].float(), score[kept], *boxes.unbind(1)]
        return torch.stack(columns, 1).numpy().astype(np.float32)


def _top(score: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Indexes of the ``k`` best-scored entries where ``mask`` holds."""
    where = mask.nonzero().reshape(-1)
    return where[torch.argsort(score[where], descending=True)[:k]]
