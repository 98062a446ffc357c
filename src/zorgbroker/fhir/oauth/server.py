"""The MedMij authorisation server: Authlib's authorization code grant, with MedMij's rules.

- The client is a PGO server on the OAuth Client List; its `client_id` is its hostname.
- `redirect_uri` is required, https, on exactly that hostname.
- The scope is `<zorgaanbiedernaam>~<gegevensdienstid>` (several separated by spaces, one
  provider): this server's provider, data services it offers in the ZAL and named in the GNL.
- A code is redeemed once and then retired; offered again, it is refused and the tokens it gave
  are revoked. Tokens live `token_lifetime` (15 minutes by default).
- At the token endpoint the client authenticates with its secret (HTTP Basic or form).

The service is framework-free: the web glue hands it the request's parameters and headers, and
turns its `OAuthResponse` into an HTTP response.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant

from zorgbroker.fhir.oauth.dataservices import data_service_ids
from zorgbroker.fhir.oauth.lists import MedMijLists
from zorgbroker.fhir.oauth.store import CodeReplayed, IssuedCode, OAuthStore

TOKEN_LIFETIME = dt.timedelta(minutes=15)
#: RFC 6749 §4.1.2 recommends at most ten minutes; the PGO redeems it at once.
CODE_LIFETIME = dt.timedelta(minutes=5)
AUTH_METHODS = ("client_secret_basic", "client_secret_post")

Items = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class OAuthResponse:
    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)


@dataclass(frozen=True)
class ConsentRequest:
    """What the patient is asked to agree to."""

    client_name: str
    provider_name: str
    data_services: list[str]
    #: The authorization request's parameters, posted back with the patient's answer.
    params: list[tuple[str, str]]


class AuthorizationRefused(Exception):
    """A request that is not shown to the patient. `message` is Dutch; `location` is the
    client's redirect (with error=...) when the client and redirect_uri could be trusted."""

    def __init__(self, message: str, location: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


_MESSAGES = {
    "invalid_client": "Deze PGO staat niet op de OAuth-clientlijst van MedMij.",
    "invalid_request": (
        "Het verzoek van de PGO is onvolledig of ongeldig: het terugkeeradres (redirect_uri) "
        "ontbreekt, is geen https-adres of hoort niet bij de PGO."
    ),
    "invalid_scope": "De gevraagde gegevensdienst wordt door deze zorgaanbieder niet aangeboden.",
    "unauthorized_client": "De PGO vraagt een soort toegang die hier niet bestaat.",
    "unsupported_response_type": "De PGO vraagt een soort toegang die hier niet bestaat.",
}


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: Items) -> None:
        self._items = list(items)

    @property
    def data(self) -> dict[str, str]:
        first: dict[str, str] = {}
        for key, value in self._items:
            first.setdefault(key, value)
        return first

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._items:
            values[key].append(value)
        return values


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, items: Items, headers: Mapping[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = _Payload(items)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data  # type: ignore[no-any-return]

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data  # type: ignore[no-any-return]


class PgoClient(ClientMixin):  # type: ignore[misc]
    """A PGO server of the OAuth Client List."""

    def __init__(self, hostname: str, name: str, store: OAuthStore) -> None:
        self.hostname = hostname
        self.name = name
        self._store = store

    def get_client_id(self) -> str:
        return self.hostname

    def get_default_redirect_uri(self) -> None:
        return None  # MedMij: the request always names it

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        parts = urlsplit(redirect_uri)
        return (
            parts.scheme == "https"
            and parts.hostname == self.hostname
            and not parts.username
            and not parts.password
            and not parts.fragment
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return self._store.client_secret_matches(self.hostname, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    @property
    def _service(self) -> _Server:
        server: _Server = self.server
        return server

    def save_authorization_code(self, code: str, request: Any) -> None:
        self._service.store.save_code(
            code,
            client_id=request.client.hostname,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            patient_id=request.user,
            lifetime=self._service.code_lifetime,
        )

    def query_authorization_code(self, code: str, client: PgoClient) -> IssuedCode | None:
        try:
            return self._service.store.redeem_code(code, client.hostname)
        except CodeReplayed:
            raise InvalidGrantError(
                "authorization code already used; its tokens are revoked"
            ) from None

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing to do: `redeem_code` retired the code when it was looked up."""

    def authenticate_user(self, authorization_code: IssuedCode) -> IssuedCode:
        return authorization_code


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self,
        lists: MedMijLists,
        store: OAuthStore,
        provider: str,
        token_lifetime: dt.timedelta,
        code_lifetime: dt.timedelta,
    ) -> None:
        super().__init__()
        self.lists = lists
        self.store = store
        self.provider = provider
        self.token_lifetime = token_lifetime
        self.code_lifetime = code_lifetime
        self.register_grant(_CodeGrant)
        self.register_token_generator("default", self._token)

    def query_client(self, client_id: str) -> PgoClient | None:
        name = self.lists.clients.get(client_id)
        return PgoClient(client_id, name, self.store) if name else None

    def validate_requested_scope(self, scope: str | None) -> None:
        parts = (scope or "").split()
        offered = self.lists.providers.get(f"{self.provider}@medmij")
        if not parts or offered is None:
            raise InvalidScopeError()
        for part in parts:
            name, tilde, service_id = part.partition("~")
            if (
                not tilde
                or name != self.provider
                or service_id not in offered.data_services
                or service_id not in self.lists.data_service_names
            ):
                raise InvalidScopeError()

    def _token(self, **kwargs: Any) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "access_token": generate_token(43),
            "expires_in": int(self.token_lifetime.total_seconds()),
            "scope": kwargs["scope"],
        }

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        code: IssuedCode = request.user
        self.store.save_token(
            token["access_token"],
            client_id=code.client_id,
            patient_id=code.patient_id,
            scope=code.scope,
            lifetime=self.token_lifetime,
            code_pk=code.pk,
        )

    def create_oauth2_request(self, request: Any) -> Any:
        return request  # the service builds `_Request`s itself

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""


class AuthorizationService:
    """The authorization endpoint's two steps and the token endpoint, over MedMij's lists."""

    def __init__(
        self,
        lists: MedMijLists,
        store: OAuthStore,
        *,
        provider: str,
        issuer: str,
        token_lifetime: dt.timedelta = TOKEN_LIFETIME,
        code_lifetime: dt.timedelta = CODE_LIFETIME,
    ) -> None:
        """`provider` is this practice's name in the ZAL without @medmij; `issuer` the
        authorisation server's public https address."""
        self.lists = lists
        self.store = store
        self.issuer = issuer.rstrip("/")
        self._server = _Server(lists, store, provider, token_lifetime, code_lifetime)

    def purge_expired(self) -> int:
        return self.store.purge_expired(self._server.token_lifetime)

    def scope_is_offered(self, scope: str) -> bool:
        """Whether `scope` names this provider and data services it offers (ZAL and GNL)."""
        try:
            self._server.validate_requested_scope(scope)
        except InvalidScopeError:
            return False
        return True

    def offered_scopes(self) -> list[str]:
        provider = self.lists.providers.get(f"{self._server.provider}@medmij")
        services = sorted(provider.data_services, key=int) if provider else []
        return [f"{self._server.provider}~{i}" for i in services]

    def client_name(self, client_id: str) -> str:
        return self.lists.clients.get(client_id, client_id)

    def data_service_names(self, scope: str | None) -> list[str]:
        names = self.lists.data_service_names
        return [names.get(i, i) for i in data_service_ids(scope or "")]

    def _request(self, method: str, items: Items, headers: Mapping[str, str]) -> _Request:
        return _Request(method, f"{self.issuer}/", items, headers)

    def _grant(self, items: Items) -> Any:
        request = self._request("GET", items, {})
        try:
            return self._server.get_consent_grant(request)
        except OAuth2Error as error:
            location = None
            if error.redirect_uri:
                response = self._server.handle_error_response(request, error)
                location = response.location
            raise AuthorizationRefused(
                _MESSAGES.get(error.error, "Het verzoek van de PGO is ongeldig."), location
            ) from error

    def consent_request(self, items: Items) -> ConsentRequest:
        """Check an authorization request before the patient sees it."""
        grant = self._grant(items)
        request = grant.request
        provider = self.lists.providers[f"{self._server.provider}@medmij"].name
        keys = ("response_type", "client_id", "redirect_uri", "scope", "state")
        return ConsentRequest(
            client_name=request.client.name,
            provider_name=provider,
            data_services=self.data_service_names(request.scope),
            params=[(k, v) for k, v in items if k in keys],
        )

    def decide(self, items: Items, patient_id: str | None) -> str:
        """The patient's answer: a code for `patient_id`, or access_denied when None. Returns the
        address to send the browser to."""
        grant = self._grant(items)
        response: OAuthResponse = self._server.create_authorization_response(
            grant.request, grant_user=patient_id, grant=grant
        )
        location = response.location
        assert location is not None  # the request was validated: both answers redirect
        return location

    def token(self, form: Items, headers: Mapping[str, str]) -> OAuthResponse:
        """The token endpoint's answer (JSON body, status, headers)."""
        response: OAuthResponse = self._server.create_token_response(
            self._request("POST", form, headers)
        )
        return response
