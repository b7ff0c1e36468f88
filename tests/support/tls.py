"""Self-signed certificates for TLS tests, made with the ``openssl`` command."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

from support.paths import SETUP_HINT

__all__ = ["self_signed_certificate"]


def _subject_alt_name(name: str) -> str:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f"DNS:{name}"
    return f"IP:{name}"


def self_signed_certificate(
    directory: Path, names: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` (RSA 2048, valid one day) into ``directory``.

    The certificate is its own CA, so a client that trusts ``cert.pem`` verifies it
    properly; it is valid for every host name and IP address in ``names``.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError(f"openssl is not installed: {SETUP_HINT}")
    cert, key = directory / "cert.pem", directory / "key.pem"
    alt_names = ",".join(_subject_alt_name(name) for name in names)
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={alt_names}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
