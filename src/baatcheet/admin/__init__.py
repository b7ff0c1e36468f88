"""Instrumentation for the unmodified ``@socket.io/admin-ui`` 0.5 front end.

:func:`instrument` gives a :class:`~baatcheet.sio.Server` what Node's
``instrument(io, opts)`` gives an ``io``: the ``/admin`` namespace behind basic auth
(:mod:`.auth`), ``server_stats`` every 2 s (:mod:`.stats`), in development mode the
sockets and their life as notifications (:mod:`.serialize`), and the commands the UI
sends, acting cluster-wide through the broadcast operator (:mod:`.instrument`).
"""

from baatcheet.admin.auth import AdminAuth, SessionStore
from baatcheet.admin.instrument import AdminUI, instrument
from baatcheet.admin.stats import StatsSampler

__all__ = ["AdminAuth", "AdminUI", "SessionStore", "StatsSampler", "instrument"]
