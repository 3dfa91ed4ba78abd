"""HTTP access to the three services: one bearer token, problem+json errors, and exit codes.

Exit codes: 1 when a service answers with an error (its problem+json ``title: detail`` is printed),
2 when a service does not answer at all (the URL that failed is printed). The token is never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.text import Text

from libs.common.auth import Role
from libs.common.devtoken import ProductionRefused, dev_token

EXIT_PROBLEM = 1
EXIT_UNREACHABLE = 2
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` in red on stderr and exit with ``code``."""
    Console(stderr=True, highlight=False).print(Text(message, style="red"))
    raise typer.Exit(code)


def development_token() -> str:
    """A one-hour admin token from the development issuer (refused in production)."""
    try:
        return dev_token(Role.admin, subject="sib-cli", ttl=timedelta(hours=1))
    except ProductionRefused:
        fail(
            "No --token (SIB_TOKEN) given, and no development token can be made here "
            "(SIB_ENV=production has no development issuer). Pass a token from your identity provider.",
            EXIT_PROBLEM,
        )


def problem_message(response: httpx.Response) -> str:
    """``title: detail`` of a problem+json answer, else the status and the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "title" in body:
        title = str(body["title"])
        detail = body.get("detail")
        return f"{title}: {detail}" if detail else title
    text = response.text.strip()[:200]
    return f"HTTP {response.status_code} {response.reason_phrase}" + (f": {text}" if text else "")


@dataclass
class Services:
    """Where the services are, and the token to present to them (made on first use)."""

    urls: dict[str, str]
    token: str | None = None
    _clients: dict[str, httpx.Client] = field(default_factory=dict, repr=False)

    def _client(self, service: str) -> httpx.Client:
        if service not in self._clients:
            if self.token is None:
                self.token = development_token()
            self._clients[service] = httpx.Client(
                base_url=self.urls[service].rstrip("/"),
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=TIMEOUT,
            )
        return self._clients[service]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def request(
        self,
        service: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        accept: str = "application/json",
        method: str = "GET",
        json: Any = None,
    ) -> httpx.Response:
        url = self.urls[service]
        try:
            response = self._client(service).request(
                method, path, params=params, json=json, headers={"Accept": accept}
            )
        except httpx.TimeoutException:
            fail(f"{service} at {url} did not answer in time", EXIT_UNREACHABLE)
        except httpx.TransportError:
            fail(f"{service} at {url} did not answer", EXIT_UNREACHABLE)
        if response.is_error:
            fail(problem_message(response), EXIT_PROBLEM)
        return response

    def get(self, service: str, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return self.send(service, path, params=params)

    def send(
        self,
        service: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        method: str = "GET",
        json: Any = None,
    ) -> Any:
        """The JSON answer of a request (a write too: ``method`` and ``json``)."""
        response = self.request(service, path, params=params, method=method, json=json)
        try:
            return response.json()
        except ValueError:
            fail(f"{service} at {self.urls[service]} answered {path} with something other than JSON", 1)
