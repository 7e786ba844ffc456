"""The deliveries one event becomes: e-mails in the patron's language, webhook calls.

Rendering happens here, once, when the delivery is created: a retry days later sends the
words and the dates the event meant, whatever has changed since.  A patron without an
e-mail address still gets a delivery row, FAILED at once, so staff can see who could not
be told.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import (
    Branch,
    Delivery,
    Event,
    IllRequest,
    Library,
    Patron,
    Webhook,
    Work,
)
from kallimachos.notify.audience import Audience, audience_of
from kallimachos.notify.notices import PLANNERS, PatronNotice, patron_notices
from kallimachos.notify.templates import Facts, language_of, render
from kallimachos.notify.webhooks import document, recipients
from kallimachos.policies import PolicySet

EMAIL = "EMAIL"
WEBHOOK = "WEBHOOK"
PENDING = "PENDING"
SENT = "SENT"
RETRYING = "RETRYING"
FAILED = "FAILED"
UNSENT = (PENDING, RETRYING)
NO_ADDRESS = "the patron has no e-mail address on file"


def may_owe_deliveries(kind: str, aggregate_type: str) -> bool:
    """Whether an event of this kind can owe anyone a notice (most events owe none).

    Catalogue events (a record imported or updated, a work re-indexed) never do; an import
    writes hundreds of thousands of them, which the worker passes over without loading.
    """
    return kind in PLANNERS or aggregate_type == "ill_request"


async def deliveries_for(
    session: AsyncSession, event: Event, policies: PolicySet, *, now: datetime
) -> list[Delivery]:
    """Every delivery ``event`` owes, ready to add to the session (not added)."""
    rows = [
        await _email(session, event, notice, now)
        for notice in await patron_notices(session, event, policies)
    ]
    if event.aggregate_type == "ill_request":
        audience = await audience_of(session, event)
        rows += await _webhook_calls(session, event, audience, now)
    return [row for row in rows if row is not None]


async def _email(
    session: AsyncSession, event: Event, notice: PatronNotice, now: datetime
) -> Delivery | None:
    patron = await session.get(Patron, notice.patron_id)
    if patron is None:
        return None
    library = await session.get(Library, patron.library_id)
    assert library is not None
    language = language_of(patron.language)
    title = notice.title
    if title is None and notice.work_id is not None:
        title = await session.scalar(select(Work.title).where(Work.id == notice.work_id))
    branch = None
    if notice.branch_id is not None:
        branch = await session.scalar(select(Branch.name).where(Branch.id == notice.branch_id))
    facts = Facts(
        patron_name=patron.name,
        library_el=library.name_el or library.name,
        library_en=library.name,
        title=title,
        branch=branch,
        on=notice.on,
        amount=notice.amount,
        currency=notice.currency,
        fee_kind=notice.fee_kind,
        rule=notice.rule,
    )
    message = render(notice.notice, language, facts)
    address = (patron.email or "").strip()
    return Delivery(
        event_id=event.id,
        channel=EMAIL,
        notice=notice.notice.value,
        target=address,
        library_id=patron.library_id,
        patron_id=patron.id,
        language=language,
        subject=message.subject,
        body=message.body,
        status=PENDING if address else FAILED,
        attempts=0,
        next_attempt_at=now,
        last_error=None if address else NO_ADDRESS,
        created_at=now,
    )


async def _webhook_calls(
    session: AsyncSession, event: Event, audience: Audience, now: datetime
) -> list[Delivery | None]:
    targets = recipients(event, audience)
    if not targets:
        return []
    request = await session.get(IllRequest, event.aggregate_id)
    if request is None:
        return []
    codes = {row.id: row.code for row in await session.scalars(select(Library))}
    calls: list[Delivery | None] = []
    for library_id, role in targets:
        hooks = await session.scalars(
            select(Webhook)
            .where(Webhook.library_id == library_id, Webhook.active.is_(True))
            .order_by(Webhook.id)
        )
        body = document(
            event, request, audience=audience, codes=codes, library_id=library_id, role=role
        )
        calls += [
            Delivery(
                event_id=event.id,
                channel=WEBHOOK,
                notice=event.kind[:32],
                target=hook.url,
                library_id=library_id,
                webhook_id=hook.id,
                body=body,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for hook in hooks
        ]
    return calls
