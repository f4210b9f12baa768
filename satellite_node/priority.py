"""Downlink priorities: a rank, 0 most urgent. Fire before cloud before building by default."""

from __future__ import annotations

from shared.errors import ConfigurationError

PRIORITY_NAMES: dict[str, int] = {"alert": 0, "high": 1, "normal": 2, "low": 3}
TASK_DEFAULTS: dict[str, int] = {"fire": 0, "cloud": 2, "building": 3}
MAX_RANK = 9


def parse_priority(value: str | None, task: str) -> int:
    """The rank of an upload's ``priority`` field.

    Accepts a name (``alert``, ``high``, ``normal``, ``low``), a rank ``0``..``9`` (0 most
    urgent) or nothing/``auto`` for the task's default (fire is an alert, cloud normal,
    building low).

    Raises:
        ConfigurationError: the value is none of those.
    """
    if value is None or value.strip() in ("", "auto"):
        return TASK_DEFAULTS.get(task, PRIORITY_NAMES["normal"])
    text = value.strip().lower()
    if text in PRIORITY_NAMES:
        return PRIORITY_NAMES[text]
    if text.isascii() and text.isdigit() and 0 <= int(text) <= MAX_RANK:
        return int(text)
    raise ConfigurationError(
        f"priority {value!r} is not valid; use one of {', '.join(PRIORITY_NAMES)}, "
        f"a rank 0..{MAX_RANK} (0 most urgent) or auto (the task's default)"
    )


def priority_name(rank: int) -> str:
    """A readable label for a rank (its name where it has one)."""
    for name, value in PRIORITY_NAMES.items():
        if value == rank:
            return name
    return str(rank)


def wire_priority(rank: int) -> int:
    """The protocol's ``TransferCreate.priority``, where higher is more urgent (the ground
    processes the highest first): an alert (rank 0) is 9, a low-priority tile (rank 3) is 6."""
    return MAX_RANK - rank
