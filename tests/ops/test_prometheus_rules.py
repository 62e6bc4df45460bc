"""deploy/prometheus: the scrape config and alerting rules, checked and unit-tested by promtool."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.promtool import exported_series, promtool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy/prometheus"
RULES = DEPLOY / "guardline-rules.yml"
EXPECTED = {
    "GuardlineWorkerDown",
    "GuardlineConsumerLagGrowing",
    "GuardlineDeadLetterRate",
    "GuardlineNoInputEvents",
    "GuardlineAlertFlood",
    "GuardlineTargetsAbsent",
    "GuardlinePartitionsUnassigned",
    "GuardlineAlertLatencyHigh",
    "GuardlineSkippedEvents",
    "GuardlineProcessingErrors",
}
RUNBOOK = DEPLOY.parents[1] / "docs/runbook.md"


def test_rules_are_valid() -> None:
    assert f"SUCCESS: {len(EXPECTED)} rules found" in promtool("check", "rules", RULES)


def test_rules_pass_their_unit_tests() -> None:
    out = promtool("test", "rules", DEPLOY / "tests/guardline-rules.test.yml")
    assert "SUCCESS" in out


def test_every_rule_is_unit_tested_and_documented() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == EXPECTED
    assert all(r["annotations"]["summary"] and r["annotations"]["description"] for r in rules)
    cases = yaml.safe_load((DEPLOY / "tests/guardline-rules.test.yml").read_text())["tests"]
    tested = {t["alertname"] for case in cases for t in case["alert_rule_test"]}
    assert tested == EXPECTED
    # Each rule is shown firing once and quiet once.
    for name in EXPECTED:
        outcomes = {
            bool(t["exp_alerts"])
            for case in cases
            for t in case["alert_rule_test"]
            if t["alertname"] == name
        }
        assert outcomes == {True, False}, name


def test_rules_read_only_series_the_worker_exports() -> None:
    exported = exported_series()
    used = set(re.findall(r"\bguardline_[a-z_]+", RULES.read_text()))
    assert used and used <= exported, used - exported


def test_scrape_config_is_valid_and_loads_the_rules() -> None:
    out = promtool("check", "config", DEPLOY / "prometheus.yml")
    assert "SUCCESS: 1 rule files found" in out
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["guardline"]["dns_sd_configs"][0]["port"] == 9310


def test_every_rule_links_its_own_runbook_section() -> None:
    """runbook_url = docs/runbook.md#<rule name, lower case>, a heading that exists there."""
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    headings = re.findall(r"^## (\S+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    assert sorted(headings) == sorted(EXPECTED)  # one section per rule, no stale ones
    for rule in rules:
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (DEPLOY.parents[1] / path) == RUNBOOK
        assert anchor == rule["alert"].lower()  # GitHub's anchor for "## <name>"
