"""Partitions: a day x camera grid for per-camera assets; the camera dimension grows with new footage.

The days start on ``footage.start_date`` of the settings the definitions are built from. Asset and
check decorators need a partitions definition when their module is imported, before any settings are
known, so they carry ``days`` / ``camera_days`` (the default start date) and ``Calendar.place`` moves
them onto the deployment's own calendar in ``build_definitions``. Nothing here reads settings.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from reid_pipeline.settings import FootageSettings

CAMERA_DIMENSION = "camera"
DATE_DIMENSION = "date"

cameras = dg.DynamicPartitionsDefinition(name="cameras")


CAMERAS = cameras.name or "cameras"


def unregistered_cameras(instance: dg.DagsterInstance, found: Sequence[str]) -> list[str]:
    """The cameras of ``found`` that are not yet partitions of ``cameras``, sorted, each once."""
    known = set(instance.get_dynamic_partitions(CAMERAS))
    return sorted({camera for camera in found if camera not in known})


def register_cameras(instance: dg.DagsterInstance, found: Sequence[str]) -> list[str]:
    """Add the cameras of ``found`` that are new as ``cameras`` partitions; returns the ones added.

    Schedules and the command-line launcher call this; the footage sensor returns the same cameras as a
    ``dynamic_partitions_requests`` entry instead, so the addition is recorded with its tick.
    """
    new = unregistered_cameras(instance, found)
    if new:
        instance.add_dynamic_partitions(CAMERAS, new)
    return new


def daily_partitions(start_date: str) -> dg.DailyPartitionsDefinition:
    # end_offset=1 includes today, so footage of the running day can be processed (and re-run later).
    return dg.DailyPartitionsDefinition(start_date=start_date, end_offset=1)


def camera_day_partitions(day_partitions: dg.DailyPartitionsDefinition) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition({DATE_DIMENSION: day_partitions, CAMERA_DIMENSION: cameras})


# Placeholders for the decorators (see the module docstring): the settings' default start date.
days = daily_partitions(FootageSettings.model_fields["start_date"].default)
camera_days = camera_day_partitions(days)


@dataclass(frozen=True)
class Calendar:
    """The day and camera-day partitions of one deployment."""

    days: dg.DailyPartitionsDefinition
    camera_days: dg.MultiPartitionsDefinition

    @classmethod
    def starting(cls, start_date: str) -> Calendar:
        day_partitions = daily_partitions(start_date)
        return cls(day_partitions, camera_day_partitions(day_partitions))

    def _swap(self, partitions: dg.PartitionsDefinition | None) -> dg.PartitionsDefinition | None:
        if partitions == days:
            return self.days
        if partitions == camera_days:
            return self.camera_days
        return partitions

    def place(self, definitions: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
        """``definitions`` (assets and asset checks) moved from the placeholder partitions onto this calendar."""
        placed: list[dg.AssetsDefinition] = []
        for definition in definitions:
            if isinstance(definition, dg.AssetChecksDefinition):
                placed.append(self._place_checks(definition))
            else:
                placed.append(
                    definition.map_asset_specs(
                        lambda s: s.replace_attributes(partitions_def=self._swap(s.partitions_def))
                    )
                )
        return placed

    def _place_checks(self, checks: dg.AssetChecksDefinition) -> dg.AssetChecksDefinition:
        with warnings.catch_warnings():  # partitioned checks are a preview in Dagster 1.13 (see checks.py)
            warnings.simplefilter("ignore", dg.PreviewWarning)
            specs = {
                output: spec._replace(partitions_def=self._swap(spec.partitions_def))
                for output, spec in checks.node_check_specs_by_output_name.items()
            }
            return dg.AssetChecksDefinition.create(
                keys_by_input_name=checks.node_keys_by_input_name,
                node_def=checks.op,
                check_specs_by_output_name=specs,
                can_subset=checks.can_subset,
            )


def camera_day_key(day: str, camera_id: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE_DIMENSION: day, CAMERA_DIMENSION: camera_id})


def split_camera_day(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(date, camera) of a camera-day partition key, whichever form it arrives in."""
    if not isinstance(key, dg.MultiPartitionKey):
        key = camera_days.get_partition_key_from_str(key)
    dims = key.keys_by_dimension
    return dims[DATE_DIMENSION], dims[CAMERA_DIMENSION]


# Heavy per-camera assets (decoding, GPU models): one run per camera-day in a backfill, so runs spread
# over workers, a failure or retry touches one camera-day only, and the GPU pool holds one model at once.
CAMERA_DAY_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
# ``backfill_policy`` is beta in Dagster 1.13; the policies here are deliberate, so its warning is noise.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
