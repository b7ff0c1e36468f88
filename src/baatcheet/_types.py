"""Identifier types shared by every layer."""

from __future__ import annotations

from typing import NewType

__all__ = ["EngineSid", "Namespace", "Room", "SocketId"]

EngineSid = NewType("EngineSid", str)
"""Engine.IO session id: one per physical connection (across an upgrade)."""
SocketId = NewType("SocketId", str)
"""Socket.IO socket id: one per namespace connection."""
Room = NewType("Room", str)
"""A room name; every socket is also in the room named by its own id."""
Namespace = NewType("Namespace", str)
"""A namespace name such as ``/`` or ``/chat``."""
