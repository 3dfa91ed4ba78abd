"""NATS over TLS with a private CA, as production requires: a service that trusts the CA connects
with its user; a client without TLS, or one that does not trust the CA, does not get in."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploy.local import free_port, start_nats
from deploy.nats_auth import Tls
from libs.common.nats import NatsLink, connect_options
from libs.common.settings import CommonSettings


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca_and_server(directory: Path) -> tuple[Path, Tls]:
    """A CA and a server certificate for 127.0.0.1 signed by it, as PEM files."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("SIB test CA"))
        .issuer_name(_name("SIB test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("nats"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (directory / "server-key.pem").write_bytes(_pem(server_key))
    return directory / "ca.pem", Tls(directory / "server.pem", directory / "server-key.pem")


@pytest.fixture
def tls_nats(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, tls = make_ca_and_server(tmp_path / "certs")
    port = free_port()
    process = start_nats("127.0.0.1", port, tmp_path / "nats", tmp_path / "nats-server.log", tls=tls)
    try:
        yield f"tls://127.0.0.1:{port}", ca
    finally:
        process.stop()


async def test_a_service_trusting_the_ca_connects_over_tls(tls_nats: tuple[str, Path]) -> None:
    url, ca = tls_nats
    settings = CommonSettings(service_name="settlement", nats_url=url, nats_tls_ca=ca)
    assert settings.nats_tls_required
    link = NatsLink(settings)
    await link.connect()  # also makes sure the streams exist, with settlement's rights
    try:
        assert link.is_connected
        assert link.client is not None and link.client.connected_url is not None
    finally:
        await link.close()


async def test_plaintext_and_an_untrusted_server_are_refused(tls_nats: tuple[str, Path]) -> None:
    url, _ = tls_nats
    plain = url.replace("tls://", "nats://")
    options = connect_options(CommonSettings(service_name="settlement", nats_url=plain))
    assert "tls" not in options
    with pytest.raises(Exception):  # noqa: B017 (nats-py raises several kinds for a failed handshake)
        await nats.connect(plain, allow_reconnect=False, connect_timeout=2, **options)
    # TLS, but with the system's CAs only: the private CA's server is not trusted.
    untrusted = connect_options(CommonSettings(service_name="settlement", nats_url=url))
    assert isinstance(untrusted["tls"], ssl.SSLContext)
    with pytest.raises(Exception):  # noqa: B017
        await nats.connect(url, allow_reconnect=False, connect_timeout=2, **untrusted)
