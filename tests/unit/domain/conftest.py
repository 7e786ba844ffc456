"""Fixtures for the domain rules: the REAL policy files, and calendars with real holidays."""

from collections.abc import Callable
from pathlib import Path

import pytest

from kallimachos.domain.calendar import LibraryCalendar
from kallimachos.domain.policy import MemberLibrary, PolicySet
from kallimachos.policies import load_policies
from kallimachos.services.holiday_data import calendar_for

POLICIES = Path(__file__).resolve().parents[3] / "policies"


@pytest.fixture(scope="session")
def policies() -> PolicySet:
    return load_policies(POLICIES)


@pytest.fixture(scope="session")
def uoc(policies: PolicySet) -> MemberLibrary:
    return policies.member("UOC")


@pytest.fixture(scope="session")
def aeg(policies: PolicySet) -> MemberLibrary:
    return policies.member("AEG")


@pytest.fixture(scope="session")
def cut(policies: PolicySet) -> MemberLibrary:
    return policies.member("CUT")


@pytest.fixture(scope="session")
def tuc(policies: PolicySet) -> MemberLibrary:
    return policies.member("TUC")


CalendarOf = Callable[[MemberLibrary, str | None], LibraryCalendar]


@pytest.fixture(scope="session")
def calendar_of() -> CalendarOf:
    """``calendar_of(library, branch)``: the branch's calendar with real GR/CY holidays."""
    return calendar_for
