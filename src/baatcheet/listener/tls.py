"""TLS for the listener: the server-side SSL context that ``settings`` asks for."""

from __future__ import annotations

import ssl

from baatcheet.errors import ConfigurationError
from baatcheet.settings import Settings

__all__ = ["server_ssl_context"]


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The context for ``tls_certfile``/``tls_keyfile``, or None to serve plain HTTP.

    Raises:
        ConfigurationError: Only one of the two files is set.
    """
    if settings.tls_certfile is None and settings.tls_keyfile is None:
        return None
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        raise ConfigurationError("TLS needs both tls_certfile and tls_keyfile")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_certfile, settings.tls_keyfile)
    return context
