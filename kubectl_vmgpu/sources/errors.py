"""The one error a source raises: the input could not be read (exit code 3)."""


class SourceError(Exception):
    """A cluster or snapshot that could not be read; the message is one line for the user."""
