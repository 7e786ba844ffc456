"""Notices to people and partner libraries, carried from the outbox (ADR 0003).

Every committed event is read once by the worker, which decides what it means to whom
(:mod:`~kallimachos.notify.notices`), writes one :class:`~kallimachos.db.models.Delivery`
per recipient and channel in the same transaction that marks the event read, and then
sends: e-mail to patrons (:mod:`~kallimachos.notify.email`, Greek or English by
:mod:`~kallimachos.notify.templates`) and HMAC-signed JSON to libraries' webhooks
(:mod:`~kallimachos.notify.webhooks`), retrying with exponential backoff.  GraphQL
subscriptions are fed the same committed events by :mod:`~kallimachos.notify.broker`.
"""
