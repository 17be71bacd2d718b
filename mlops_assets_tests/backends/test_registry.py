"""The registry client on a SQLite MLflow registry: aliases, promotions, history, re-runs."""

import json

import pytest

from mlops_assets.backends.champion_moves import (
    DECISION_TAG,
    DECISION_TAG_PREFIX,
    PREVIOUS_CHAMPION_TAG,
    PROMOTED_FOR_TAG,
    ChampionConflict,
)
from mlops_assets.backends.mlflow_filters import filter_value
from mlops_assets.backends.registry import RegistryClient
from mlops_assets_tests.support.registry import register


@pytest.fixture
def registry(tmp_path) -> RegistryClient:
    return RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}", "registry-test")


def test_a_new_version_is_the_challenger_with_its_hash(registry, tmp_path):
    assert registry.champion() is None and registry.by_alias("challenger") is None
    [version] = register(registry, tmp_path, 1)
    challenger = registry.by_alias("challenger")
    assert challenger.version == version == "1"
    assert challenger.sha256 == "0" * 64
    assert registry.champion() is None


def test_promotion_remembers_what_it_replaced(registry, tmp_path):
    first, second = register(registry, tmp_path, 2)
    assert registry.promote(first, "first", month="2025-01-01") is None
    assert registry.promote(second, "better", month="2025-02-01") == first
    assert registry.champion().version == second
    tags = registry.client().get_model_version(registry.model_name, second).tags
    assert tags[PREVIOUS_CHAMPION_TAG] == first and tags[PROMOTED_FOR_TAG] == "2025-02-01"
    assert registry.rollback("regret") == (second, first)
    assert registry.champion().version == first
    assert [(e["action"], e["version"]) for e in registry.history()] == [
        ("promoted", first),
        ("promoted", second),
        ("rolled_back", first),
    ]


def test_a_rerun_month_is_judged_against_the_champion_of_its_time(registry, tmp_path):
    v1, v2, v3 = register(registry, tmp_path, 3)
    registry.promote(v1, "m1", month="2025-01-01")
    registry.promote(v3, "m3", month="2025-03-01")
    assert registry.champion_for("2025-04-01").version == v3
    assert registry.later_month_decided("2025-02-01")
    assert registry.champion_for("2025-02-01").version == v1
    assert registry.champion_for("2024-12-01") is None
    assert not registry.later_month_decided("2025-03-01")
    assert v2 == "2"


def test_every_decision_is_kept_as_tags_on_its_version(registry, tmp_path):
    v1, v2 = register(registry, tmp_path, 2)
    for i in range(60):
        registry.record("defended", v1, None, f"month {i}: " + "x" * 40)
    registry.record("rejected", v2, v1, "accuracy 0.87 is not above 0.90")
    entries = registry.history()
    assert len(entries) == 61
    assert [e["reason"][:8] for e in entries[:2]] == ["month 0:", "month 1:"]
    assert entries[-1] | {"at": None} == {
        "at": None,
        "action": "rejected",
        "version": v2,
        "previous": v1,
        "reason": "accuracy 0.87 is not above 0.90",
        "month": None,
        "transition": None,
    }
    tags = registry.client().get_model_version(registry.model_name, v2).tags
    assert tags[DECISION_TAG] == "rejected"
    [key] = [k for k in tags if k.startswith(DECISION_TAG_PREFIX)]
    assert json.loads(tags[key])["action"] == "rejected"
    found = registry.client().search_model_versions(
        f"name='{registry.model_name}' and tags.{DECISION_TAG} = 'rejected'"
    )
    assert [str(v.version) for v in found] == [v2]


def test_rollback_needs_a_champion_with_a_predecessor(registry, tmp_path):
    with pytest.raises(ValueError, match="no @champion"):
        registry.rollback("nothing yet")
    [version] = register(registry, tmp_path, 1)
    registry.promote(version, "first")
    with pytest.raises(ValueError, match="first champion"):
        registry.rollback("nowhere to go")
    assert registry.champion().version == version


def test_a_rollback_moves_only_from_the_version_it_expects(registry, tmp_path):
    v1, v2, v3 = register(registry, tmp_path, 3)
    for version in (v1, v2, v3):
        registry.promote(version, f"v{version}")
    with pytest.raises(ChampionConflict, match="not v2 that this rollback removes"):
        registry.rollback("stale", expected=v2)
    assert registry.champion().version == v3
    assert registry.rollback("on time", expected=v3, transition="req-1") == (v3, v2)
    # The same request again: done once, reported as it was.
    assert registry.rollback("on time", expected=v3, transition="req-1") == (v3, v2)
    assert registry.champion().version == v2
    assert [e["action"] for e in registry.history()].count("rolled_back") == 1


def test_a_move_that_does_not_hold_after_writing_is_reported(registry, tmp_path, monkeypatch):
    v1, v2 = register(registry, tmp_path, 2)
    registry.promote(v1, "first")
    client = registry.client()
    # A writer outside the lock moves the alias back between this write and its re-read.
    real = type(client).set_registered_model_alias

    def raced(self, name, alias, version):
        real(self, name, alias, version)
        real(self, name, alias, v1)

    monkeypatch.setattr(type(client), "set_registered_model_alias", raced)
    with pytest.raises(ChampionConflict, match="a writer outside the champion lock"):
        registry.promote(v2, "second", expected=v1)


def test_filter_values_are_quoted_so_a_name_cannot_change_the_query_item11(tmp_path):
    """Issue 26, item 11: names and run ids were formatted into MLflow filters unescaped."""
    assert filter_value("plain") == "'plain'"
    assert filter_value("x' OR name LIKE '%") == "\"x' OR name LIKE '%\""
    with pytest.raises(ValueError, match="cannot be quoted"):
        filter_value("both ' and \"")
    quoted = RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}", "task's photos")
    [version] = register(quoted, tmp_path, 1)
    quoted.record("promoted", version, None, "first champion")
    assert [entry["version"] for entry in quoted.history()] == [version]
