"""``baatcheet bench``: load any Socket.IO server and compare it with others.

Scenarios (fan-out, persisted chat, cluster, connection storm, idle connections) are run
by Node load-generator processes (``js/loadgen.js``, raw Engine.IO over ``ws``: a Python or
socket.io-client generator would cost more CPU per message than the servers measured).
This package starts them, deals them the clients, reads their progress, merges their
histograms, starts the reference servers when asked to compare, and writes the table, the
JSON record and the PNG plots. See ``docs/how-to/benchmark.md``.
"""

from baatcheet.loadtest.command import main

__all__ = ["main"]
