"""Resources mirror the settings sections, so a setting can never exist under two names or be dropped."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.definitions import build_definitions, build_resources
from reid_pipeline.settings import Settings


def test_each_resource_is_its_settings_section_field_for_field() -> None:
    settings = Settings()
    resources = build_resources(settings)
    sections = set(type(settings).model_fields) - {"operations"}  # operations configure schedules, not steps
    for section in sections:
        key = section if section in resources else f"{section}_settings"
        resource = resources[key]
        assert isinstance(resource, dg.ConfigurableResource), key
        assert set(type(resource).model_fields) == set(type(getattr(settings, section)).model_fields), key
        assert resource.model_dump() == {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in getattr(settings, section).model_dump().items()
        }, key


def test_no_resource_key_is_also_an_asset_name() -> None:
    settings = Settings()
    assets = {key.to_user_string() for key in build_definitions(settings).resolve_all_asset_keys()}
    assert not assets & set(build_resources(settings)), "an asset and a resource would share a parameter name"
