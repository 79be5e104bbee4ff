"""Engine resource names and labels: DNS-safe, bounded, collision-free, readable when possible."""

from __future__ import annotations

import re

import pytest

from assay.naming import MAX_LENGTH, engine_labels, engine_name, label_value

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)?$")


def test_clean_names_are_kept_as_they_are() -> None:
    assert engine_name("assay", "my-lab", "nightly-eval") == "assay-my-lab-nightly-eval"
    assert engine_labels("assay", "my-lab", "inference", "assay-my-lab-x", "alice") == {
        "assay.namespace": "assay",
        "assay.project": "my-lab",
        "assay.kind": "inference",
        "assay.name": "assay-my-lab-x",
        "assay.user": "alice",
    }


@pytest.mark.parametrize(
    "name",
    ["Nightly Eval", "job_1", "résumé/summary", "x" * 200, "---", "", "UPPER", "a.b", "🚀 launch"],
)
def test_any_name_becomes_a_dns_label_of_at_most_63(name: str) -> None:
    built = engine_name("assay", "team-a", name)
    assert DNS_LABEL.fullmatch(built), built
    assert len(built) <= MAX_LENGTH
    assert built.startswith("assay-team-a")


def test_changed_or_cut_names_never_collide() -> None:
    long_a, long_b = "a" * 100 + "1", "a" * 100 + "2"
    assert engine_name("assay", "p", long_a) != engine_name("assay", "p", long_b)
    assert len(engine_name("assay", "p", long_a)) == MAX_LENGTH
    assert engine_name("assay", "p", "job_1") != engine_name("assay", "p", "job-1")
    assert engine_name("assay", "p", "Job") != engine_name("assay", "p", "job")
    assert engine_name("assay", "p", "job_1") == engine_name("assay", "p", "job_1")
    assert engine_name("assay", "p", "job_1").startswith("assay-p-job-1-")


@pytest.mark.parametrize("value", ["alice", "Ünïcode user", "-edge-", "x" * 90, "a b/c", "", "_"])
def test_label_values_follow_the_kubernetes_rules(value: str) -> None:
    built = label_value(value)
    assert LABEL_VALUE.fullmatch(built), built
    assert len(built) <= MAX_LENGTH
    assert (built == value) == bool(LABEL_VALUE.fullmatch(value) and len(value) <= MAX_LENGTH)


def test_namespace_setting_is_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.config import Settings

    monkeypatch.delenv("ASSAY_NAMESPACE", raising=False)
    assert engine_name(Settings().namespace, "p", "run") == "assay-p-run"
    monkeypatch.setenv("ASSAY_NAMESPACE", "lab-prod")
    assert engine_name(Settings().namespace, "p", "run") == "lab-prod-p-run"
