"""``registerWebhook``: a library's URL and secret for signed ILL notices (partner, staff,
admin).  Registering a URL the library already has rotates its secret."""

from __future__ import annotations

import strawberry

from kallimachos.db.models import Webhook as WebhookRow
from kallimachos.notify.registration import register_webhook
from kallimachos.schema.context import Info
from kallimachos.schema.mutations.common import UserError, user_errors
from kallimachos.schema.types import Library


@strawberry.input
class RegisterWebhookInput:
    url: str = strawberry.field(description="http(s) URL that receives POSTed JSON.")
    secret: str = strawberry.field(
        description="16-256 characters; signs every call (HMAC-SHA256). Never shown again."
    )
    library: str | None = strawberry.field(
        default=None, description="Library code: admins name it; others act for their own."
    )


@strawberry.type(description="A library's endpoint for signed interlibrary-loan notices.")
class Webhook:
    id: strawberry.ID
    url: str
    active: bool
    created_at: str
    library: Library

    @classmethod
    def of(cls, row: WebhookRow, library: Library) -> Webhook:
        return cls(
            id=strawberry.ID(str(row.id)),
            url=row.url,
            active=row.active,
            created_at=row.created_at.isoformat(),
            library=library,
        )


@strawberry.type
class RegisterWebhookPayload:
    webhook: Webhook | None
    rotated: bool = strawberry.field(description="True if the URL was known: new secret.")
    user_errors: list[UserError]


async def resolve(info: Info, input: RegisterWebhookInput) -> RegisterWebhookPayload:
    outcome = await register_webhook(
        info.context.services.sessions,
        actor=info.context.actor,
        now=info.context.now,
        url=input.url,
        secret=input.secret,
        library=input.library,
    )
    if outcome.value is None:
        return RegisterWebhookPayload(
            webhook=None, rotated=False, user_errors=user_errors(outcome.problems)
        )
    done = outcome.value
    return RegisterWebhookPayload(
        webhook=Webhook.of(done.webhook, Library.from_row(done.library)),
        rotated=done.rotated,
        user_errors=[],
    )


@strawberry.type
class WebhookMutation:
    register_webhook: RegisterWebhookPayload = strawberry.mutation(
        resolver=resolve,
        description="Register (or re-key) a library's webhook for signed ILL notices.",
    )
