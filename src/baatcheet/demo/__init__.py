"""Demo code for learners: the open ``/`` chat namespace and the plain ``/ws`` echo.

Neither belongs to the product (``chat``) or to the server (``sio``); ``baatcheet serve``
mounts both from the composition root.
"""

from baatcheet.demo.echo import WELCOME, echo, mount_echo, receipt_for
from baatcheet.demo.namespace import DEMO_OFF_MESSAGE, register_demo

__all__ = [
    "DEMO_OFF_MESSAGE",
    "WELCOME",
    "echo",
    "mount_echo",
    "receipt_for",
    "register_demo",
]
