"""The one base of every error a user sees as a single line (the CLI prints it; nothing shows a traceback).

It sits at the bottom layer so that index, ingest, qa, eval and app can all derive from it.
"""


class GroundworkError(Exception):
    """A problem the user can act on; str() is one line that says what happened and what to run next."""
