"""Cropping detections into images, scoring their quality, and summarising them into tracklets."""
