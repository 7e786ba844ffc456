"""The refusal tree: stable codes, and the userErrors shape mutations return."""

import pytest

from kallimachos.domain import errors
from kallimachos.domain.errors import (
    LoanLimitReached,
    OverdueLoansBlock,
    PatronBlocked,
    Refusal,
    RefusalCode,
    RefusalError,
    SuspensionBlock,
)


def leaves() -> list[type[Refusal]]:
    classes = [getattr(errors, name) for name in errors.__all__]
    refusals = [c for c in classes if isinstance(c, type) and issubclass(c, Refusal)]
    return [c for c in refusals if "code" in vars(c)]


def test_refusal_tree_every_code_has_a_class_and_blocks_share_patron_blocked() -> None:
    assert {c.code for c in leaves()} == set(RefusalCode)
    assert OverdueLoansBlock.code is SuspensionBlock.code is RefusalCode.PATRON_BLOCKED
    assert issubclass(SuspensionBlock, PatronBlocked)
    for cls in leaves():
        assert cls.__name__ in (errors.__doc__ or "")
        assert f"[{cls.code.value}]" in (errors.__doc__ or "")


def test_refusal_user_error_shape_and_refusal_error() -> None:
    refusal = LoanLimitReached(message="7 of 7", rule="UOC-5-UG", field="itemBarcode")
    assert refusal.user_error() == {
        "code": "LOAN_LIMIT_REACHED",
        "message": "7 of 7",
        "rule": "UOC-5-UG",
        "field": "itemBarcode",
    }
    raised = RefusalError([refusal, refusal])
    assert raised.refusals == (refusal, refusal)
    assert str(raised) == "7 of 7; 7 of 7"
    with pytest.raises(ValueError, match="at least one"):
        RefusalError([])
