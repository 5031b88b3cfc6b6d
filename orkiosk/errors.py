"""The one base class for errors that are meant for a person to read.

Every layer raises a subclass with a message that names what is wrong and why; the CLI and the
kiosk show str(error) and never a traceback.
"""


class OrkioskError(Exception):
    """An error whose message is fit to show to a user."""
