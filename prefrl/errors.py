"""The one exception type the CLI turns into a one-line message instead of a traceback."""


class PrefrlError(Exception):
    """A problem the user can fix; the message says what it is and what to do."""
