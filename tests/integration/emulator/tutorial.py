"""The seed tutorial steps live in the package (the demo uses them too)."""

from connector.emulator.tutorial import (
    CLIENT_ID,
    CLIENT_SECRET,
    CONTENT_TYPE,
    Provisioned,
    envelope,
    event_message,
    platform_session,
    profile_message,
    provision,
)

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CONTENT_TYPE",
    "Provisioned",
    "envelope",
    "event_message",
    "platform_session",
    "profile_message",
    "provision",
]
