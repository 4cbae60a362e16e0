"""TLS: `tls.enable/cert/key` serve HTTPS directly; the openai SDK trusts a test-made certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own trust anchor) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aiproxyapi test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_https_with_a_self_signed_certificate(
    tmp_path: Path, fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    cert, key = self_signed(tmp_path)
    tls = {"enable": True, "cert": str(cert), "key": str(key)}
    config = gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"]), tls=tls)
    gateway = gateway_factory(config, tls_ca=cert)
    assert gateway.base_url.startswith("https://")
    trusted = ssl.create_default_context(cafile=str(cert))
    client = tracked(
        openai.OpenAI(
            base_url=f"{gateway.base_url}/v1",
            api_key=CLIENT_KEY,
            http_client=httpx.Client(verify=trusted, trust_env=False),
            max_retries=0,
        )
    )
    answer = client.chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "hello from key sk-a"
    streamed = client.chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    assert text == "hello from key sk-a"
    # A client that does not trust the certificate is refused by its own TLS check.
    with pytest.raises(httpx.ConnectError), httpx.Client(trust_env=False) as untrusting:
        untrusting.get(f"{gateway.base_url}/healthz")
    # Plain HTTP on the TLS port gets no HTTP answer.
    with pytest.raises(httpx.TransportError), httpx.Client(trust_env=False) as plain:
        plain.get(f"http://127.0.0.1:{gateway.port}/healthz", timeout=5)
    assert "https://127.0.0.1:" in gateway.log_text()
