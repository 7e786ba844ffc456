"""``renewLoan``: the borrower (or their library's staff) extends a loan."""

from __future__ import annotations

import strawberry

from kallimachos.schema.circulation import Loan
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, node_id, user_errors
from kallimachos.services.outcome import Abort
from kallimachos.services.renewal import renew_loan


@strawberry.input
class RenewLoanInput:
    loan_id: strawberry.ID


@strawberry.type
class RenewLoanPayload:
    loan: Loan | None
    user_errors: list[UserError]


async def resolve(info: Info, input: RenewLoanInput) -> RenewLoanPayload:
    services = info.context.services
    try:
        outcome = await renew_loan(
            services.sessions,
            services.policies,
            actor=info.context.actor,
            now=info.context.now,
            loan_id=node_id(input.loan_id, "Loan", "loanId"),
        )
    except Abort as stop:
        return RenewLoanPayload(loan=None, user_errors=user_errors(stop.problems))
    if outcome.value is None:
        return RenewLoanPayload(loan=None, user_errors=user_errors(outcome.problems))
    return RenewLoanPayload(loan=Loan.from_row(outcome.value.loan), user_errors=[])
