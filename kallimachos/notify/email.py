"""Sending one e-mail through SMTP with aiosmtplib, and saying whether a failure may pass.

A refused recipient (5xx to RCPT TO) will be refused again: that failure is permanent.
Anything else (the server down or busy, a 4xx, a timeout, a dropped connection) is
transient, and the worker tries again later.  The Message-ID is derived from the delivery,
so the copies a retry may produce (sent, but the answer lost) can be recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from typing import Protocol

import aiosmtplib

from kallimachos.notify.config import NotifySettings
from kallimachos.notify.failures import SendFailed


@dataclass(frozen=True, kw_only=True)
class Email:
    delivery_id: int
    notice: str
    to: str
    subject: str
    body: str
    language: str | None = None


class EmailSender(Protocol):
    async def send(self, email: Email) -> None:
        """Hand ``email`` to the mail system or raise :class:`SendFailed`."""


def build_message(email: Email, *, sender: str, sender_name: str) -> Message:
    """A plain-text UTF-8 message, marked as automatically generated (RFC 3834).

    Built with the classic ``email.mime``/``Header`` API on purpose: the modern
    ``EmailMessage`` folding drops the space between RFC 2047 encoded words, so a long
    Greek subject would arrive as "διαδανεισμού:επιστροφή".
    """
    message = MIMEText(email.body, "plain", "utf-8")
    message["From"] = formataddr((sender_name, sender), charset="utf-8")
    message["To"] = email.to
    # typeshed types compat32 header values as str; a Header is the documented value here
    message["Subject"] = Header(email.subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<delivery-{email.delivery_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Kallimachos-Delivery"] = str(email.delivery_id)
    message["X-Kallimachos-Notice"] = email.notice
    if email.language:
        message["Content-Language"] = email.language
    return message


class SmtpSender:
    """Sends through the SMTP server the settings name, one connection per message."""

    def __init__(self, settings: NotifySettings, *, sender_name: str = "Kallimachos") -> None:
        self.settings = settings
        self.sender_name = sender_name

    async def send(self, email: Email) -> None:
        s = self.settings
        if not s.smtp_host:
            raise SendFailed("no SMTP server configured (KALLIMACHOS_NOTIFY_SMTP_HOST)")
        message = build_message(email, sender=s.sender, sender_name=self.sender_name)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                use_tls=s.smtp_tls,
                start_tls=True if s.smtp_starttls else None,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            raise SendFailed(f"recipient refused: {exc}", permanent=permanent) from exc
        except (OSError, TimeoutError) as exc:  # refused, dropped or timed out connections
            raise SendFailed(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from exc
        except aiosmtplib.SMTPException as exc:
            raise SendFailed(f"SMTP: {type(exc).__name__}: {exc}") from exc
