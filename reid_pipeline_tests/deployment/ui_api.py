"""The GraphQL operations the Dagster UI sends, as the tests send them to the webserver."""

from __future__ import annotations

from typing import Any

from reid_pipeline_tests.deployment.cluster import Deployment

# Verbatim from the UI's "Materialize -> backfill" dialog (LaunchAssetChoosePartitionsDialog), result fields trimmed.
LAUNCH_PARTITION_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""
START_SCHEDULE = """
mutation StartThisSchedule($scheduleSelector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $scheduleSelector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""
START_SENSOR = """
mutation StartSensor($sensorSelector: SensorSelector!) {
  startSensor(sensorSelector: $sensorSelector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message }
  }
}
"""
SCHEDULE_TICKS = """
query ScheduleTicks($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { scheduleState { ticks(limit: 20) { timestamp status runIds runKeys } } }
  }
}
"""
ASSET_JOBS = "{ assetNodes { assetKey { path } jobNames } }"


def job_assets(deployment: Deployment, job: str) -> list[dict[str, list[str]]]:
    """Asset keys of ``job``: what a person selects in the asset graph before "Materialize"."""
    nodes = deployment.graphql(ASSET_JOBS)["assetNodes"]
    return [node["assetKey"] for node in nodes if job in node["jobNames"]]


def launch_backfill(deployment: Deployment, assets: list[dict[str, list[str]]], partitions: list[str]) -> str:
    """The backfill id; the daemon launches its runs."""
    params = {"tags": [], "assetSelection": assets, "partitionNames": partitions, "fromFailure": False}
    answer = deployment.graphql(LAUNCH_PARTITION_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"backfill not launched: {answer}")
    return str(answer["backfillId"])


def start_schedule(deployment: Deployment, name: str) -> None:
    answer = deployment.graphql(START_SCHEDULE, {"scheduleSelector": deployment.selector(scheduleName=name)})
    state = answer["startSchedule"]
    if state["__typename"] != "ScheduleStateResult" or state["scheduleState"]["status"] != "RUNNING":
        raise RuntimeError(f"schedule {name} not started: {state}")


def start_sensor(deployment: Deployment, name: str) -> None:
    answer = deployment.graphql(START_SENSOR, {"sensorSelector": deployment.selector(sensorName=name)})
    state = answer["startSensor"]
    if state["__typename"] != "Sensor" or state["sensorState"]["status"] != "RUNNING":
        raise RuntimeError(f"sensor {name} not started: {state}")


def schedule_ticks(deployment: Deployment, name: str) -> list[dict[str, Any]]:
    """The schedule's ticks as the UI's Automation page lists them: time (the cron time), status, runs."""
    answer = deployment.graphql(SCHEDULE_TICKS, {"selector": deployment.selector(scheduleName=name)})
    return list(answer["scheduleOrError"]["scheduleState"]["ticks"])
