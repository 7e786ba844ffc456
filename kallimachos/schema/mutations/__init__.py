"""The Mutation type: one file per mutation, each with its input, payload and resolver."""

from __future__ import annotations

import strawberry

from kallimachos.schema.mutations import cancel_hold as _cancel_hold
from kallimachos.schema.mutations import check_in as _check_in
from kallimachos.schema.mutations import check_out as _check_out
from kallimachos.schema.mutations import ill_steps as _ill
from kallimachos.schema.mutations import pay_fee as _pay_fee
from kallimachos.schema.mutations import place_hold as _place_hold
from kallimachos.schema.mutations import renew_loan as _renew_loan
from kallimachos.schema.mutations import request_item as _request_item
from kallimachos.schema.mutations import staff_sanctions as _staff
from kallimachos.schema.mutations import waive_fee as _waive_fee
from kallimachos.schema.mutations import webhooks as _webhooks


@strawberry.type
class Mutation:
    check_out: _check_out.CheckOutPayload = strawberry.mutation(
        resolver=_check_out.resolve, description="Lend a copy at a branch desk (staff)."
    )
    check_in: _check_in.CheckInPayload = strawberry.mutation(
        resolver=_check_in.resolve, description="Receive a returned copy at a branch desk (staff)."
    )
    renew_loan: _renew_loan.RenewLoanPayload = strawberry.mutation(
        resolver=_renew_loan.resolve, description="Extend a loan (borrower or staff)."
    )
    place_hold: _place_hold.PlaceHoldPayload = strawberry.mutation(
        resolver=_place_hold.resolve, description="Queue for a work or copy (patron or staff)."
    )
    cancel_hold: _cancel_hold.CancelHoldPayload = strawberry.mutation(
        resolver=_cancel_hold.resolve, description="Withdraw a hold (patron or staff)."
    )
    pay_fee: _pay_fee.PayFeePayload = strawberry.mutation(
        resolver=_pay_fee.resolve, description="Record a payment (staff)."
    )
    waive_fee: _waive_fee.WaiveFeePayload = strawberry.mutation(
        resolver=_waive_fee.resolve, description="Waive a fee with a reason (staff)."
    )
    suspend_patron: _staff.SanctionPayload = strawberry.mutation(
        resolver=_staff.suspend,
        description="Suspend borrowing for systematic late returns (staff; AEG-8).",
    )
    charge_security_gate_fine: _staff.SanctionPayload = strawberry.mutation(
        resolver=_staff.security_gate,
        description="Fine for setting off the security gate with unborrowed material (AEG-8).",
    )
    declare_item_lost: _staff.SanctionPayload = strawberry.mutation(
        resolver=_staff.lost,
        description="Close a loan as lost and charge per policy (staff; AEG-8).",
    )
    request_item: _request_item.RequestItemPayload = strawberry.mutation(
        resolver=_request_item.resolve,
        description=(
            "Ask once: the best source (shelf, branch transfer, hold, partner library, external "
            "supplier) is chosen under both libraries' rules and set going (CONS-2)."
        ),
    )
    ill_process: _ill.IllRequestPayload = strawberry.mutation(
        resolver=_ill.process,
        description="Requesting staff forward the request to the next supplier (CUT-A6).",
    )
    ill_supplying_action: _ill.IllRequestPayload = strawberry.mutation(
        resolver=_ill.supplying,
        description="The supplying library answers (ISO 18626 statuses).",
    )
    ill_requesting_action: _ill.IllRequestPayload = strawberry.mutation(
        resolver=_ill.requesting,
        description="The requesting library acts: cancel, received, renew, return, lost, note.",
    )
    register_webhook: _webhooks.RegisterWebhookPayload = strawberry.mutation(
        resolver=_webhooks.resolve,
        description="Register (or re-key) a library's webhook for signed ILL notices.",
    )
