"""Notifications: e-mail through a real SMTP server, webhooks, subscriptions."""
