"""The development token issuer: an ES256 key pair under ``var/issuer/``, its JWKS and OpenID discovery
document, a client-credentials token endpoint for the services' own identities, and ``make token``.

It stands in for a municipality's identity provider on a developer's machine and in the tests; the
services only ever verify its tokens against the JWKS it serves, as they would a real provider's. It
refuses to run when ``SIB_ENV=production``.

    python -m libs.common.devtoken token --role jobcenter --programme hedensted-2022
    python -m libs.common.devtoken serve --port 8000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from libs.common.auth import ALL_PROGRAMMES, SERVICE_CLIENTS, Role
from libs.common.clock import utcnow
from libs.common.files import write_private
from libs.common.settings import REPO_ROOT

DEFAULT_DIRECTORY = REPO_ROOT / "var" / "issuer"
DEFAULT_URL = "http://127.0.0.1:8000"
# Every service's audience: a development token for a person works at all three, as a token from a
# municipality's provider lists the services it is meant for.
ALL_AUDIENCES = ("sib-intake", "sib-progression", "sib-settlement")
SERVICE_TOKEN_TTL = timedelta(minutes=5)


class ProductionRefused(RuntimeError):
    pass


def refuse_production() -> None:
    if os.environ.get("SIB_ENV", "").strip().lower() == "production":
        raise ProductionRefused(
            "The development token issuer does not run with SIB_ENV=production: tokens come from the "
            "municipality's identity provider (OIDC_ISSUER)."
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class ServiceClient:
    client_id: str
    secret: str
    role: Role
    audience: tuple[str, ...]


class DevelopmentIssuer:
    """A signing key and the service clients, kept in ``directory`` so that ``make token`` and a
    running issuer sign with the same key."""

    def __init__(
        self, directory: Path, url: str, key: ec.EllipticCurvePrivateKey, clients: dict[str, ServiceClient]
    ):
        refuse_production()
        self.directory = directory
        self.url = url.rstrip("/")
        self._key = key
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = "dev-" + _b64url(hashlib.sha256(public).digest())[:16]
        self.clients = clients

    @classmethod
    def load_or_create(
        cls, directory: Path = DEFAULT_DIRECTORY, url: str | None = None, client_secret: str | None = None
    ) -> DevelopmentIssuer:
        """The issuer kept in ``directory``, made there first if missing (a new key and new client
        secrets, or ``client_secret`` for every client: the tests' in-process services share one
        environment). ``url`` records where it is served, which is also its ``iss``."""
        refuse_production()
        directory.mkdir(parents=True, exist_ok=True)
        key_file, meta_file = directory / "signing-key.pem", directory / "issuer.json"
        if key_file.exists():
            loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            key = loaded
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_private(key_file, pem)
        meta: dict[str, Any] = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        clients_meta: dict[str, Any] = meta.get("clients", {})
        for client_id, (role, audience) in SERVICE_CLIENTS.items():
            if client_id not in clients_meta:
                clients_meta[client_id] = {
                    "secret": client_secret or "dev-" + secrets.token_urlsafe(24),
                    "role": role.value,
                    "audience": list(audience),
                }
        wanted = meta | {"clients": clients_meta, "url": (url or meta.get("url") or DEFAULT_URL).rstrip("/")}
        if wanted != meta or not meta_file.exists():
            write_private(meta_file, json.dumps(wanted, indent=2).encode())
        meta = wanted
        clients = {
            client_id: ServiceClient(client_id, c["secret"], Role(c["role"]), tuple(c["audience"]))
            for client_id, c in clients_meta.items()
        }
        return cls(directory, meta["url"], key, clients)

    def sign(
        self,
        *,
        role: Role | str,
        programmes: Iterable[str] = (ALL_PROGRAMMES,),
        subject: str | None = None,
        audience: Iterable[str] = ALL_AUDIENCES,
        ttl: timedelta = timedelta(hours=1),
        extra: dict[str, Any] | None = None,
    ) -> str:
        role = Role(role)
        now = utcnow()
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": subject or f"dev-{role.value}",
            "aud": list(audience),
            "iat": now,
            "exp": now + ttl,
            "role": role.value,
            "programmes": sorted(set(programmes)),
        }
        claims |= extra or {}
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "kid": self.kid,
                    "use": "sig",
                    "alg": "ES256",
                    "x": _b64url(numbers.x.to_bytes(32, "big")),
                    "y": _b64url(numbers.y.to_bytes(32, "big")),
                }
            ]
        }

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks.json",
            "token_endpoint": f"{self.url}/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["ES256"],
        }

    def client_token(self, client_id: str, secret: str) -> str | None:
        """A service identity's token (client credentials), or None for a wrong id or secret."""
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None
        return self.sign(role=client.role, subject=client_id, audience=client.audience, ttl=SERVICE_TOKEN_TTL)

    def app(self) -> FastAPI:
        app = FastAPI(title="SIB development token issuer", docs_url=None, redoc_url=None)

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return self.discovery()

        @app.get("/jwks.json")
        async def jwks() -> dict[str, Any]:
            return self.jwks()

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            # A form body (RFC 6749 4.4), parsed here: the issuer needs no multipart package.
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode("latin-1")).items()}
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            if form.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            basic = request.headers.get("authorization", "")
            if basic.lower().startswith("basic "):
                try:
                    client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
                except ValueError:
                    return JSONResponse({"error": "invalid_client"}, status_code=401)
            issued = self.client_token(client_id or "", client_secret or "")
            if issued is None:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            return JSONResponse(
                {
                    "access_token": issued,
                    "token_type": "Bearer",
                    "expires_in": int(SERVICE_TOKEN_TTL.total_seconds()),
                }
            )

        return app


_loaded: dict[Path, DevelopmentIssuer] = {}


def issuer_directory() -> Path:
    return Path(os.environ.get("DEV_ISSUER_DIR") or DEFAULT_DIRECTORY)


def dev_token(
    role: Role | str,
    programmes: Iterable[str] = (ALL_PROGRAMMES,),
    subject: str | None = None,
    ttl: timedelta = timedelta(hours=1),
    audience: Iterable[str] = ALL_AUDIENCES,
) -> str:
    """A token from the development issuer in ``DEV_ISSUER_DIR`` (default ``var/issuer``)."""
    directory = issuer_directory()
    issuer = _loaded.get(directory)
    if issuer is None:
        issuer = _loaded[directory] = DevelopmentIssuer.load_or_create(directory)
    return issuer.sign(role=role, programmes=programmes, subject=subject, ttl=ttl, audience=audience)


class IssuerServer:
    """The issuer's app under uvicorn in a thread of this process (tests, benchmarks)."""

    def __init__(self, issuer: DevelopmentIssuer, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(issuer.app(), host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dev-issuer", daemon=True)

    def start(self) -> IssuerServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the development issuer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a development token")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument(
        "--programme",
        action="append",
        default=[],
        help="programme id the token is scoped to (repeatable; default: every programme, which only "
        "admin tokens honour)",
    )
    token.add_argument("--subject", default=None)
    token.add_argument("--minutes", type=float, default=60.0)
    serve = commands.add_parser("serve", help="serve the JWKS, discovery and the token endpoint")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        refuse_production()
        if args.command == "token":
            programmes = [p for p in args.programme if p] or [ALL_PROGRAMMES]
            print(dev_token(args.role, programmes, args.subject, timedelta(minutes=args.minutes)))
            return
        import uvicorn

        issuer = DevelopmentIssuer.load_or_create(issuer_directory(), f"http://{args.host}:{args.port}")
        uvicorn.run(issuer.app(), host=args.host, port=args.port, log_level="warning")
    except ProductionRefused as exc:
        raise SystemExit(str(exc)) from exc


if __name__ == "__main__":
    main()
