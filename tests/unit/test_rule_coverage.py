"""Every rule of RULES.md is implemented by policy data or named as enforced in code.

Policy data means a ``rule``/``rules``/``cite`` entry of a parsed, validated policy file (not
a comment); code means ``ENFORCED_IN_CODE``. Nothing may name an ID that RULES.md lacks.
"""

import re
from pathlib import Path

import pytest

from kallimachos.domain.rules_in_code import ENFORCED_IN_CODE
from kallimachos.policies import load_policies

REPO = Path(__file__).resolve().parents[2]
RULES_COPY = REPO / "tests" / "fixtures" / "shared_docs" / "RULES.md"
SHARED_RULES = REPO.parent / "shared" / "RULES.md"
RULE_BULLET = re.compile(r"^\s*-\s+\*\*([A-Z][A-Za-z0-9-]*-[A-Za-z0-9-]+)\*\*", re.MULTILINE)


def rules_md_ids() -> list[str]:
    return RULE_BULLET.findall(RULES_COPY.read_text(encoding="utf-8"))


def policy_rule_ids() -> dict[str, tuple[str, ...]]:
    return load_policies(REPO / "policies").rule_references()


def test_rules_md_lists_each_id_once() -> None:
    ids = rules_md_ids()
    assert len(ids) == len(set(ids))
    assert len(ids) >= 50, ids  # 55 when written: TUC 8, UOC 12, CUT 23, AEG 9, CONS 3
    spot_checks = {"TUC-ILL-1", "UOC-4a", "UOC-5-UG", "CUT-A1-PAY", "CUT-B9", "AEG-9", "CONS-3"}
    assert spot_checks <= set(ids)


@pytest.mark.shared
def test_fixture_copy_is_the_shared_rules_md() -> None:
    if not SHARED_RULES.exists():
        pytest.skip(f"{SHARED_RULES} is not present (no ../shared next to the repository)")
    assert RULES_COPY.read_bytes() == SHARED_RULES.read_bytes(), (
        "tests/fixtures/shared_docs/RULES.md differs from ../shared/RULES.md: copy it again"
    )


def test_every_rule_is_in_policy_data_or_enforced_in_code() -> None:
    covered = set(policy_rule_ids()) | set(ENFORCED_IN_CODE)
    missing = [rule_id for rule_id in rules_md_ids() if rule_id not in covered]
    assert not missing, f"no policy section or ENFORCED_IN_CODE entry names {missing}"


def test_policy_files_name_only_rules_that_exist() -> None:
    known = set(rules_md_ids())
    unknown = {
        rule_id: where for rule_id, where in policy_rule_ids().items() if rule_id not in known
    }
    assert not unknown, f"policy files name rules missing from RULES.md: {unknown}"


def test_enforced_in_code_names_existing_rules_and_a_module() -> None:
    known = set(rules_md_ids())
    assert set(ENFORCED_IN_CODE) <= known, set(ENFORCED_IN_CODE) - known
    for rule_id, sentence in ENFORCED_IN_CODE.items():
        assert re.search(r"kallimachos/[\w/]+(\.py|/)", sentence), rule_id
        assert sentence.endswith("."), rule_id


def test_no_rule_is_both_data_and_code() -> None:
    """A rule with values in the policy files does not also need an ENFORCED_IN_CODE entry;
    keeping the two apart keeps that list as short as it honestly can be."""
    both = set(policy_rule_ids()) & set(ENFORCED_IN_CODE)
    assert not both, f"named by policy data, remove from ENFORCED_IN_CODE: {sorted(both)}"
