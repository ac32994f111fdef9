"""Keys as a terminal delivers them when they arrive together (a paste, `tmux send-keys a b`, a key
held down, a laggy SSH link): Textual's driver parses one read and posts every `Key` to the app
before the app handles any of them. Pilot's `press` waits after each key, which hides the bugs that
only show when keys queue up; `burst` does what the driver does."""

from __future__ import annotations

import unicodedata

from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key


def key_event(key: str) -> events.Key:
    """The `Key` event the driver would make for `key` (a character or a key name such as enter)."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


def burst(app, *keys: str) -> list[events.Key]:
    """Post every key to the app at once, as one read from the terminal; the caller then waits on an
    outcome (`until`). Returns the events (their `time` is when they "arrived")."""
    sent = [key_event(key) for key in keys]
    for event in sent:
        event.set_sender(app)
        app.post_message(event)
    return sent
