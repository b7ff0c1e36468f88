"""Baatcheet: a fast real-time server speaking Socket.IO v5 / Engine.IO v4, and a chat system."""

__version__ = "0.1.0"
