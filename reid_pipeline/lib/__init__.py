"""Plain-Python core of reid_pipeline: footage, detection, tracking, crops, storage.

Nothing here imports Dagster, and heavy model libraries (torch, ultralytics) are imported lazily
inside the adapters that need them, so importing this package stays cheap.
"""
