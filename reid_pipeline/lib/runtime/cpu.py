"""The CPU cores this process may use, and OpenCV's share of them."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under ``taskset`` or a container's cpuset)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def opencv_on_all_cores() -> None:
    """Give OpenCV (its DNN forward pass, its image operations) every usable core.

    Importing ultralytics (its trackers, YOLO) sets OpenCV to a single thread, against forked PyTorch
    DataLoader workers, which this pipeline never starts. Left so, the SSD detector ran on one of two
    cores: 72 ms a sampled frame in the pipeline against 42 ms in ``eval detection``, which never
    imports ultralytics.
    """
    import cv2

    cores = usable_cores()
    if cv2.getNumThreads() != cores:
        cv2.setNumThreads(cores)


def torch_on_all_cores() -> None:
    """Give PyTorch's intra-op pool every usable core (the embedder narrows it while it runs, then restores it)."""
    import torch

    cores = usable_cores()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
