"""The one way a channel says a notice did not go: :class:`SendFailed`."""

from __future__ import annotations


class SendFailed(Exception):
    """A notice could not be sent; ``permanent`` if trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
