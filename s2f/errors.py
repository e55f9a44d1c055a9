"""The error a user can fix: a missing or unusable input named by its params key. The CLI prints it plainly."""

from pathlib import Path


class InputError(ValueError):
    """An input the params point at is missing or unusable; the message names the key and the path."""


def require(path: str, key: str, hint: str = "") -> str:
    """Return `path` if it exists, else raise InputError naming the params key."""
    if not Path(path).exists():
        raise InputError(f"{key}: {path} not found" + (f" ({hint})" if hint else ""))
    return path
