"""Every upload path writes under one ``ObjectLease``: a refused upload leaves no object, no
row and no lease behind; an accepted one leaves its objects and no lease."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assay.errors import InvalidInputError
from assay.records import ObjectCleanupRecord
from assay.storage import layout
from tests.service.conftest import World


def leases(world: World) -> list[str]:
    with world.session() as session:
        return [record.prefix for record in session.scalars(select(ObjectCleanupRecord))]


def test_a_refused_upload_leaves_nothing(world: World) -> None:
    with pytest.raises(InvalidInputError, match="required column 'examples' is missing"):
        world.upload(b"text,label\nhello,1\n")
    assert world.store.list(layout.project_prefix(world.settings.default_project)) == []
    assert leases(world) == []


def test_an_accepted_upload_keeps_its_objects_and_releases_its_lease(world: World) -> None:
    dataset = world.dataset(world.upload())
    prefix = layout.dataset_prefix(world.settings.default_project, dataset.id)
    kept = {info.key for info in world.store.list(prefix)}
    assert kept == {dataset.original_key, dataset.parquet_key}
    assert leases(world) == []
