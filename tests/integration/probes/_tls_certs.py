"""A throwaway PKI for the TLS tests: a test CA and the leaf certificates a probe must judge.

EC P-256 keys: generating them takes microseconds, where RSA 2048 takes tens of milliseconds.
"""

from __future__ import annotations

import ipaddress
import ssl
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path
    not_after: datetime

    def server_context(self, *, oldest: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        if oldest < ssl.TLSVersion.TLSv1_2:
            with warnings.catch_warnings():  # deprecated versions are the point of the test
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = oldest
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # TLS 1.0/1.1 need SHA-1
        return context


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


class TestPKI:
    """Writes the CA and leaves as PEM files under `directory`."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, directory: Path, now: datetime | None = None) -> None:
        self.dir = directory
        self.now = now or datetime.now(UTC)
        self.ca_key = _key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Forewarn Test CA"))
            .issuer_name(_name("Forewarn Test CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=365))
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))

    def leaf(
        self,
        label: str,
        names: tuple[str, ...] = ("localhost", "127.0.0.1"),
        *,
        days: float = 60,
        expired_days_ago: float | None = None,
        self_signed: bool = False,
    ) -> Pair:
        """A server certificate for `names` (DNS names or IP addresses)."""
        key = _key()
        if expired_days_ago is not None:
            not_after = self.now - timedelta(days=expired_days_ago)
            not_before = not_after - timedelta(days=90)
        else:
            not_after = self.now + timedelta(days=days)
            not_before = self.now - timedelta(days=1)
        sans: list[x509.GeneralName] = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        issuer_name = _name(names[0]) if self_signed else self.ca_cert.subject
        signer = key if self_signed else self.ca_key
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
        cert = builder.sign(signer, hashes.SHA256())
        cert_path = self.dir / f"{label}.pem"
        key_path = self.dir / f"{label}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Pair(cert_path, key_path, cert.not_valid_after_utc)
