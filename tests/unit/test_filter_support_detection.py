"""Which way the services write conditionally follows from what the server says it is."""

from __future__ import annotations

import pytest

from services.runtime.mongo import FilterSupport, support_from_build_info

pytestmark = pytest.mark.unit

_MONGODB = {"version": "8.0.4", "ok": 1.0}
_FERRETDB = {"version": "7.0.77", "ferretdbVersion": "v1.24.2", "ok": 1.0}


def test_mongodb_takes_conditions_in_the_filter_atomically() -> None:
    assert support_from_build_info(_MONGODB) is FilterSupport.FULL
    assert FilterSupport.FULL.conditions_in_filter


def test_an_unpatched_ferretdb_is_written_to_by_bare_id_after_a_read() -> None:
    plain = _FERRETDB | {"ferretdbFeatures": {"aggregationStages": ["$match"]}}

    assert support_from_build_info(_FERRETDB) is FilterSupport.BARE_ID
    assert support_from_build_info(plain) is FilterSupport.BARE_ID
    assert not FilterSupport.BARE_ID.conditions_in_filter


def test_the_local_stacks_ferretdb_takes_conditions_anchored_by_id_in_the_filter() -> None:
    patched = _FERRETDB | {"ferretdbFeatures": {"aggregationStages": [], "idAnchoredFilters": True}}

    assert support_from_build_info(patched) is FilterSupport.ID_ANCHORED
    assert FilterSupport.ID_ANCHORED.conditions_in_filter


def test_a_feature_flag_that_is_not_plainly_true_is_not_taken_for_the_patch() -> None:
    odd = _FERRETDB | {"ferretdbFeatures": {"idAnchoredFilters": "yes"}}

    assert support_from_build_info(odd) is FilterSupport.BARE_ID
