"""E-mail to patrons from the outbox, through a real SMTP server (aiosmtpd on 127.0.0.1).

Circulation happens through GraphQL at business times; the worker is driven pass by pass
with ``run_once(now=...)``, so retries and backoff are exercised without waiting.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from strawberry import relay

from kallimachos.api.settings import Settings
from kallimachos.db.engine import make_engine, make_sessionmaker
from kallimachos.db.models import Delivery, Work
from kallimachos.domain.clock import parse_business_time
from kallimachos.notify.templates import format_date
from kallimachos.notify.worker import NotificationWorker
from kallimachos.policies import load_policies
from tests.conftest import token_for
from tests.e2e.circulation_support import Desk
from tests.notify.app import NotifyApp
from tests.notify.conftest import set_patron
from tests.notify.servers import SmtpServer

UOC = load_policies().member("UOC")
FACULTY, UNDERGRAD = "UOC-FACULT-001", "UOC-UNDERG-003"
FACULTY_MAIL, UNDERGRAD_MAIL = "uoc-facult-001@demo.invalid", "uoc-underg-003@demo.invalid"


def at(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+02:00"


def when(day: date, hour: int = 10) -> datetime:
    return parse_business_time(at(day, hour))


MONDAY = date(2026, 11, 23)


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


async def deliveries(settings: Settings) -> list[Delivery]:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return list(await session.scalars(select(Delivery).order_by(Delivery.id)))
    finally:
        await engine.dispose()


async def title_of(settings: Settings, work_id: int) -> str:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            title = await session.scalar(select(Work.title).where(Work.id == work_id))
    finally:
        await engine.dispose()
    assert title is not None
    return title


async def recall_scenario(desk: Desk) -> tuple[str, str, int]:
    """A faculty member borrows the only copy; an undergraduate's hold recalls it (UOC-4a)."""
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    work = relay.to_base64("Work", copy.work_id)
    lent = await desk.check_out(copy.barcode, FACULTY, "UOC-HER", at(MONDAY))
    assert lent["userErrors"] == []
    placed = await desk.place_hold(UNDERGRAD, "UOC-HER", at(MONDAY), work=work)
    assert placed["userErrors"] == []
    return copy.barcode, placed["recalledLoan"]["dueDate"], copy.work_id


async def test_uoc_4a_recall_and_uoc_4b_hold_ready_reach_patrons_in_their_language(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    _, desk = api
    await set_patron(desk.settings, UNDERGRAD, language="en")
    barcode, new_due, work_id = await recall_scenario(desk)
    title = await title_of(desk.settings, work_id)
    report = await worker.run_once(now=when(MONDAY))
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [recall] = smtp.mailbox.to(FACULTY_MAIL)
    assert new_due == "2026-12-02"  # seven working days from Monday 23 November (UOC-4a)
    assert recall["Subject"] == "Ανάκληση δανεισμού: επιστροφή έως Τετάρτη 02/12/2026"
    assert "Η νέα ημερομηνία επιστροφής είναι Τετάρτη 02/12/2026" in text(recall)
    assert f"«{title}»" in text(recall)
    assert "Κανόνας δανεισμού: UOC-4a" in text(recall)
    assert recall["Content-Language"] == "el"
    assert recall["Auto-Submitted"] == "auto-generated"

    returned_on = date(2026, 11, 26)
    back = await desk.check_in(barcode, "UOC-HER", at(returned_on))
    assert back["hold"]["status"] == "READY"
    await worker.run_once(now=when(returned_on))
    [ready] = smtp.mailbox.to(UNDERGRAD_MAIL)
    deadline = returned_on + timedelta(days=UOC.holds.hold_shelf_days)
    assert deadline == date(2026, 12, 3)
    assert ready["Subject"].startswith("Your hold is ready for pickup: ")
    assert "Please collect it by Thursday 3 December 2026." in text(ready)
    assert "Lending rule: UOC-4b" in text(ready)
    assert text(ready).startswith("Dear Kostas Michail,")
    rows = await deliveries(desk.settings)
    assert [(r.notice, r.status, r.attempts) for r in rows] == [
        ("loan_recalled", "SENT", 1),
        ("hold_ready", "SENT", 1),
    ]
    # a pass with nothing new sends nothing again
    again = await worker.run_once(now=when(returned_on) + timedelta(hours=1))
    assert (again.events, again.sent) == (0, 0)
    assert len(smtp.mailbox.messages) == 2


async def test_smtp_outage_retries_with_backoff_and_catches_up_in_order(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    _, desk = api
    smtp.stop()
    await recall_scenario(desk)  # recall notice to the faculty member
    t0 = when(MONDAY)
    first = await worker.run_once(now=t0)
    assert (first.events, first.created, first.sent, first.retrying) == (3, 1, 0, 1)
    # two more notices for the same reader queue behind the one that failed
    assert await worker.remind(now=when(date(2026, 11, 30))) == 1  # due in two days
    assert await worker.remind(now=when(date(2026, 12, 3))) == 1  # now overdue
    t1 = t0 + timedelta(seconds=10)
    second = await worker.run_once(now=t1)
    assert (second.created, second.sent, second.retrying) == (2, 0, 0)  # not due yet
    rows = await deliveries(desk.settings)
    assert [(r.notice, r.status, r.attempts) for r in rows] == [
        ("loan_recalled", "RETRYING", 1),
        ("due_soon", "PENDING", 0),
        ("overdue", "PENDING", 0),
    ]
    assert rows[0].next_attempt_at == t0 + timedelta(seconds=30)
    assert "unreachable" in (rows[0].last_error or "")
    third = await worker.run_once(now=t0 + timedelta(seconds=30))
    assert third.retrying == 1
    rows = await deliveries(desk.settings)
    assert rows[0].attempts == 2
    assert rows[0].next_attempt_at == t0 + timedelta(seconds=90)  # 30 s, then 60 s
    assert smtp.mailbox.messages == []

    smtp.start()
    assert (await worker.run_once(now=t0 + timedelta(seconds=60))).sent == 0  # still waiting
    caught_up = await worker.run_once(now=t0 + timedelta(seconds=90))
    assert (caught_up.sent, caught_up.retrying) == (3, 0)
    subjects = [m["Subject"] for m in smtp.mailbox.to(FACULTY_MAIL)]
    assert subjects == [
        "Ανάκληση δανεισμού: επιστροφή έως Τετάρτη 02/12/2026",
        "Υπενθύμιση: επιστροφή έως Τετάρτη 02/12/2026",
        "Εκπρόθεσμος δανεισμός: " + subjects[2].split(": ", 1)[1],
    ]
    rows = await deliveries(desk.settings)
    assert [(r.status, r.attempts) for r in rows] == [("SENT", 3), ("SENT", 1), ("SENT", 1)]
    assert all(r.sent_at == t0 + timedelta(seconds=90) for r in rows)


async def test_reminders_are_written_once_per_due_date(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    _, desk = api
    copy = (await desk.copies("UOC", "UOC-HER", limit=1))[0]
    lent = await desk.check_out(copy.barcode, FACULTY, "UOC-HER", at(MONDAY))
    due = date.fromisoformat(lent["loan"]["dueDate"])
    assert await worker.remind(now=when(due - timedelta(days=3))) == 0
    assert await worker.remind(now=when(due - timedelta(days=2))) == 1
    assert await worker.remind(now=when(due - timedelta(days=1))) == 0
    assert await worker.remind(now=when(due)) == 0
    assert await worker.remind(now=when(due + timedelta(days=1))) == 1
    assert await worker.remind(now=when(due + timedelta(days=5))) == 0
    report = await worker.run_once(now=when(due + timedelta(days=5)))
    assert report.sent == 2
    kinds = [m["X-Kallimachos-Notice"] for m in smtp.mailbox.to(FACULTY_MAIL)]
    assert kinds == ["due_soon", "overdue"]


async def test_a_refused_address_fails_for_good_without_holding_up_others(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    _, desk = api
    smtp.mailbox.refuse.add(FACULTY_MAIL)
    barcode, _, _ = await recall_scenario(desk)
    await desk.check_in(barcode, "UOC-HER", at(date(2026, 11, 26)))
    report = await worker.run_once(now=when(date(2026, 11, 26)))
    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    rows = await deliveries(desk.settings)
    assert [(r.notice, r.status) for r in rows] == [
        ("loan_recalled", "FAILED"),
        ("hold_ready", "SENT"),
    ]
    assert "550" in (rows[0].last_error or "")
    later = await worker.run_once(now=when(date(2026, 11, 27)))
    assert later.failed == 0  # never tried again
    assert [m["To"] for m in smtp.mailbox.messages] == [UNDERGRAD_MAIL]


async def test_staff_see_delivery_state_partners_and_patrons_do_not(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    _, desk = api
    await set_patron(desk.settings, FACULTY, email=None)
    await recall_scenario(desk)
    await worker.run_once(now=when(MONDAY))
    query = """query($s: [DeliveryStatus!]) { notificationDeliveries(statuses: $s) {
      channel notice target status attempts lastError sentAt } }"""
    staff = await desk.call(query, at(MONDAY), token_for("staff", library="UOC"))
    [row] = staff["notificationDeliveries"]
    assert (row["channel"], row["notice"], row["status"]) == ("EMAIL", "loan_recalled", "FAILED")
    assert row["lastError"] == "the patron has no e-mail address on file"
    assert smtp.mailbox.messages == []
    other = await desk.call(query, at(MONDAY), token_for("staff", library="CUT"))
    assert other["notificationDeliveries"] == []
    for token in (token_for("partner", library="UOC"), token_for("patron", card_number=FACULTY)):
        body = await desk.http.post(
            "/graphql",
            json={"query": query, "variables": {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert body.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_aeg_8_security_gate_fine_is_announced_with_the_amount(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    _, desk = api
    charge = """mutation($card: String!) { chargeSecurityGateFine(input: {
      patronCardNumber: $card, reason: "alarm at the exit"}) { userErrors { code } } }"""
    done = await desk.call(
        charge, at(MONDAY), token_for("staff", library="AEG"), card="AEG-UNDERG-003"
    )
    assert done["chargeSecurityGateFine"]["userErrors"] == []
    await worker.run_once(now=when(MONDAY))
    [mail] = smtp.mailbox.to("aeg-underg-003@demo.invalid")
    assert mail["Subject"] == "Νέα χρέωση στον λογαριασμό σας: 20,00 €"
    assert "χρέωση 20,00 € (πρόστιμο συστήματος ασφαλείας)" in text(mail)


async def test_two_workers_at_once_send_each_notice_once(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    _, desk = api
    barcode, _, _ = await recall_scenario(desk)
    await desk.check_in(barcode, "UOC-HER", at(date(2026, 11, 26)))
    other = NotificationWorker(
        make_sessionmaker(make_engine(desk.settings.database_url)),
        worker.policies,
        email=worker.email,
        webhooks=worker.webhooks,
        settings=worker.settings,
    )
    now = when(date(2026, 11, 26))
    try:
        reports = await asyncio.gather(worker.run_once(now=now), other.run_once(now=now))
    finally:
        await other.sessions.kw["bind"].dispose()
    assert sum(r.created for r in reports) == 2
    assert sum(r.sent for r in reports) == 2
    assert sorted(m["To"] for m in smtp.mailbox.messages) == [FACULTY_MAIL, UNDERGRAD_MAIL]


async def test_uoc_4b_an_expired_or_cancelled_hold_passes_the_copy_on_with_a_notice(
    api: tuple[NotifyApp, Desk], worker: NotificationWorker, smtp: SmtpServer
) -> None:
    from kallimachos.services.hold_expiry import expire_all
    from tests.e2e.circulation_support import CANCEL_HOLD

    _, desk = api
    copy = await desk.work_with_single_copy("UOC", "UOC-HER")
    work = relay.to_base64("Work", copy.work_id)
    await desk.check_out(copy.barcode, FACULTY, "UOC-HER", at(MONDAY))
    await desk.place_hold(UNDERGRAD, "UOC-HER", at(MONDAY, 9), work=work)
    second = await desk.place_hold("UOC-EXCHAN-004", "UOC-HER", at(MONDAY, 11), work=work)
    third = await desk.place_hold("UOC-POSTGR-006", "UOC-HER", at(MONDAY, 12), work=work)
    assert second["userErrors"] == third["userErrors"] == []
    returned_on = date(2026, 11, 25)
    await desk.check_in(copy.barcode, "UOC-HER", at(returned_on))
    await worker.run_once(now=when(returned_on))
    assert [m["X-Kallimachos-Notice"] for m in smtp.mailbox.to(UNDERGRAD_MAIL)] == ["hold_ready"]
    # nobody came: the nightly sweep expires the hold and the next one gets the copy
    expired_on = returned_on + timedelta(days=UOC.holds.hold_shelf_days + 1)
    assert await expire_all(worker.sessions, worker.policies, now=when(expired_on)) == 1
    await worker.run_once(now=when(expired_on))
    [ready] = smtp.mailbox.to("uoc-exchan-004@demo.invalid")
    assert ready["X-Kallimachos-Notice"] == "hold_ready"
    deadline = format_date(expired_on + timedelta(days=UOC.holds.hold_shelf_days), "el")
    assert f"Παραλάβετέ το έως και {deadline}." in text(ready)
    # the second reader withdraws: the third is told
    cancelled = await desk.call(
        CANCEL_HOLD,
        at(expired_on),
        token_for("patron", card_number="UOC-EXCHAN-004"),
        id=second["hold"]["id"],
    )
    assert cancelled["cancelHold"]["userErrors"] == []
    await worker.run_once(now=when(expired_on) + timedelta(hours=1))
    [third_ready] = smtp.mailbox.to("uoc-postgr-006@demo.invalid")
    assert third_ready["X-Kallimachos-Notice"] == "hold_ready"
