"""Settings of the notification channels, from ``KALLIMACHOS_NOTIFY_*`` variables.

No SMTP server is assumed: until ``KALLIMACHOS_NOTIFY_SMTP_HOST`` names one, e-mail
deliveries wait (RETRYING, visible to staff) instead of going to whatever listens on
port 25, and go out once it is set.  Webhooks need no setting.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    """How to reach the SMTP server and webhooks, and how patiently to retry."""

    model_config = SettingsConfigDict(env_prefix="KALLIMACHOS_NOTIFY_", extra="ignore")

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    sender: str = "kallimachos@localhost"
    webhook_timeout_seconds: float = 10.0
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    due_soon_days: int = 2
    settle_seconds: float = 600.0
    idle_seconds: float = 1.0
    reminder_interval_seconds: float = 3600.0
