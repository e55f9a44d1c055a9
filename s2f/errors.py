"""The error a user can fix: a missing or unusable input named by its params key. The CLI prints it plainly.

Which inputs each stage reads, and the checks on them, are in s2f.catalog.check_paths."""


class InputError(ValueError):
    """An input the params point at is missing or unusable; the message names the key and the path."""
