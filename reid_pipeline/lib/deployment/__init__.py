"""Deployment: the production profile of the Dagster instance (Postgres storage, queued runs, pools, retries)."""

from reid_pipeline.lib.deployment.instance import POOLS, InstanceProfile, instance_config, instance_yaml, write_instance

__all__ = ["POOLS", "InstanceProfile", "instance_config", "instance_yaml", "write_instance"]
