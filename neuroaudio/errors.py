"""Errors the user can fix. The CLI prints them as one line and exits with status 2."""


class InputError(Exception):
    """Bad usage or bad input: the message names the problem and the fix, on one line."""
