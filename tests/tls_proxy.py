"""A TLS + SASL/PLAIN front for the embedded broker, which has neither (tests only).

noida-db advertises exactly the address it binds, and Kafka clients reconnect to the advertised
address they get in metadata. So the broker binds 127.0.0.2:P and this proxy serves TLS on
127.0.0.1:P: it decrypts each Kafka frame, checks the client authenticated with SASL/PLAIN as the
expected user before any other request, forwards it in plaintext, and in the answers that name
brokers (Metadata, FindCoordinator, DescribeCluster) rewrites 127.0.0.2:P to 127.0.0.1:P (same
length, so no size field changes). A client configured for TLS cannot talk to the plaintext
broker at all, so a client that works went through here. Also makes the throwaway CA,
server and client certificates (`cryptography`).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BROKER_ANSWERS = {3, 10, 60}  # Metadata, FindCoordinator, DescribeCluster: they name brokers
SASL_HANDSHAKE, SASL_AUTHENTICATE, API_VERSIONS, FETCH = 17, 36, 18, 1


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(directory: Path, host: str = "127.0.0.1") -> Certificates:
    """A CA, a server certificate for `host` (IP SAN, so the hostname check can pass) and a
    client certificate, all signed by the CA; PEM files in `directory`."""
    now = datetime.datetime.now(datetime.UTC)

    def issue(
        name: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name | None,
        signer: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
        san: list[x509.GeneralName],
    ) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer or subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(signer, hashes.SHA256())

    def write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("guardline test CA", ca_key, None, ca_key, ca=True, san=[])
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server_san: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(host))]
    server = issue(host, server_key, ca.subject, ca_key, ca=False, san=server_san)
    client = issue("guardline-client", client_key, ca.subject, ca_key, ca=False, san=[])
    write(directory / "ca.pem", ca, ca_key)
    write(directory / "server.pem", server, server_key)
    write(directory / "client.pem", client, client_key)
    return Certificates(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client.pem",
        directory / "client.key",
    )


@dataclass
class ProxyStats:
    tls_sessions: int = 0  # connections that completed a TLS handshake with a client cert
    authenticated: int = 0  # sessions that authenticated as the expected user
    rejected: list[str] = field(default_factory=list)  # why a session was closed
    fetches: int = 0  # Fetch requests forwarded (how busy idle consumers keep the broker)


class TlsProxy:
    """Serves TLS on `listen`, forwards to the plaintext broker at `backend` (same port)."""

    def __init__(
        self,
        listen_host: str,
        backend_host: str,
        port: int,
        certs: Certificates,
        username: str,
        password: str,
    ) -> None:
        self.listen_host, self.backend_host, self.port = listen_host, backend_host, port
        self.expected_token = b"\x00" + username.encode() + b"\x00" + password.encode()
        self.stats = ProxyStats()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs.ca))
        self.context.load_cert_chain(str(certs.server_cert), str(certs.server_key))
        self.context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: clients show their cert
        port_bytes = struct.pack(">i", port)
        self.rewrite = (backend_host.encode() + port_bytes, listen_host.encode() + port_bytes)
        assert len(self.rewrite[0]) == len(self.rewrite[1])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> TlsProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.listen_host, self.port, ssl=self.context
        )

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.stats.tls_sessions += 1
        try:
            broker_r, broker_w = await asyncio.open_connection(self.backend_host, self.port)
        except OSError:
            client_w.close()
            return
        apis: dict[int, int] = {}  # correlation id -> api key, for answers to rewrite
        up = asyncio.create_task(self._upstream(client_r, broker_w, apis))
        down = asyncio.create_task(self._downstream(broker_r, client_w, apis))
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        for writer in (client_w, broker_w):
            writer.close()

    async def _upstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, apis: dict[int, int]
    ) -> None:
        authenticated = False
        raw_token_next = False  # SaslHandshake v0: the token follows as a bare frame
        while True:
            frame = await _read_frame(reader)
            if frame is None:
                return
            if raw_token_next:
                raw_token_next = False
                authenticated = self._check_token(frame)
                if not authenticated:
                    return
                writer.write(struct.pack(">i", len(frame)) + frame)
                await writer.drain()
                continue
            api, version, correlation = struct.unpack(">hhi", frame[:8])
            apis[correlation] = api
            self.stats.fetches += api == FETCH
            if api == SASL_HANDSHAKE:
                raw_token_next = version == 0
            elif api == SASL_AUTHENTICATE:
                authenticated = self._check_token(frame)
                if not authenticated:
                    return
            elif api != API_VERSIONS and not authenticated:
                self.stats.rejected.append(f"api {api} before SASL authentication")
                return
            writer.write(struct.pack(">i", len(frame)) + frame)
            await writer.drain()

    def _check_token(self, frame: bytes) -> bool:
        if self.expected_token in frame:
            self.stats.authenticated += 1
            return True
        self.stats.rejected.append("wrong SASL/PLAIN user or password")
        return False

    async def _downstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, apis: dict[int, int]
    ) -> None:
        while True:
            frame = await _read_frame(reader)
            if frame is None:
                return
            if len(frame) >= 4:
                (correlation,) = struct.unpack(">i", frame[:4])
                if apis.pop(correlation, None) in BROKER_ANSWERS:
                    frame = frame.replace(*self.rewrite)
            writer.write(struct.pack(">i", len(frame)) + frame)
            await writer.drain()


async def _read_frame(reader: asyncio.StreamReader) -> bytes | None:
    try:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        return await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        return None
