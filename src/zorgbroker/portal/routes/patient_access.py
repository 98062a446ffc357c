"""The patient's pages: MedMij consent for a PGO (the authorisation endpoint) and "Wie heeft mijn
gegevens opgevraagd" from the FHIR access log.

The authorisation endpoint is served here, not by the FHIR app, because signing in is the
portal's: the patient signs in with password and second factor (standing in for DigiD), sees the
PGO, the practice and the data services asked for, and agrees or refuses. The token endpoint and
the FHIR API are the FHIR app's (JSON, no browser).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from zorgbroker.fhir.oauth.patients import PatientAccess
from zorgbroker.fhir.oauth.server import AuthorizationRefused
from zorgbroker.portal.pages import TEMPLATES, redirect, render, signed_in_user
from zorgbroker.portal.routes.sign_in import RETURN_COOKIE
from zorgbroker.portal.security import CONTENT_SECURITY_POLICY, current_session, services_of

router = APIRouter()


def _is_patient(request: Request, user_id: int) -> bool:
    """For the menu: does this account stand for a patient (a PK lookup per page)."""
    access: PatientAccess | None = getattr(request.app.state, "patient_access", None)
    return access is not None and access.patient_of(user_id) is not None


TEMPLATES.env.globals["is_patient"] = _is_patient

AUTHORIZE = "/medmij/autoriseren"
NOT_A_PATIENT = (
    "Uw account is niet gekoppeld aan een patiëntdossier van deze praktijk. Neem contact op "
    "met de praktijk."
)
#: The second factor stands in for DigiD: no consent on a password alone.
NO_SECOND_FACTOR = (
    "Voor toegang tot uw medische gegevens is aanmelden in twee stappen nodig. Stel eerst een "
    "tweede stap in op de startpagina."
)


def _access(request: Request) -> PatientAccess:
    access: PatientAccess | None = getattr(request.app.state, "patient_access", None)
    if access is None:
        raise HTTPException(404)
    return access


def _refused(request: Request, refused: AuthorizationRefused) -> Response:
    if refused.location:
        # The client and its redirect_uri are trusted: it hears why (RFC 6749 §4.1.2.1).
        return _to_client(refused.location)
    return render(request, "fout.html", status_code=400, title="Verzoek van de PGO geweigerd",
                  message=refused.message)  # fmt: skip


def _to_client(location: str) -> Response:
    return RedirectResponse(location, status_code=303)


def _form_may_reach(response: Response, redirect_uri: str) -> Response:
    """Browsers apply the form's page's `form-action` to the redirects after its submission:
    the consent page allows the PGO's own origin (its redirect_uri was checked) besides ours."""
    origin = f"https://{urlsplit(redirect_uri).netloc}"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin}"
    )
    return response


def _patient(request: Request, access: PatientAccess) -> str | Response:
    """The signed-in user's patient id, or the page saying why they cannot consent."""
    user = signed_in_user(request)
    patient = access.patient_of(user.id)
    if patient is None:
        return render(request, "fout.html", status_code=403, title="Geen patiëntdossier",
                      message=NOT_A_PATIENT)  # fmt: skip
    if not services_of(request).two_factor.factors(user.id):
        return render(request, "fout.html", status_code=403, title="Tweede stap nodig",
                      message=NO_SECOND_FACTOR)  # fmt: skip
    return patient


@router.get(AUTHORIZE)
def authorize(request: Request) -> Response:
    access = _access(request)
    items = list(request.query_params.multi_items())
    try:
        consent = access.consent_request(items)
    except AuthorizationRefused as refused:
        return _refused(request, refused)
    session = current_session(request)
    if session is None or not session.signed_in:
        response = redirect("/aanmelden")
        back = f"{AUTHORIZE}?{request.url.query}"[:3000]
        response.set_cookie(RETURN_COOKIE, back, max_age=900, path="/", secure=True,
                            httponly=True, samesite="lax")  # fmt: skip
        return response
    patient = _patient(request, access)
    if isinstance(patient, Response):
        return patient
    page = render(request, "patient/toestemming.html", consent=consent)
    return _form_may_reach(page, dict(consent.params)["redirect_uri"])


@router.post(AUTHORIZE)
def decide(
    request: Request,
    response_type: Annotated[str, Form()],
    client_id: Annotated[str, Form()],
    redirect_uri: Annotated[str, Form()],
    scope: Annotated[str, Form()],
    besluit: Annotated[str, Form()],
    state: Annotated[str | None, Form()] = None,
) -> Response:
    access = _access(request)
    patient = _patient(request, access)
    if isinstance(patient, Response):
        return patient
    items = [("response_type", response_type), ("client_id", client_id),
             ("redirect_uri", redirect_uri), ("scope", scope)]  # fmt: skip
    if state is not None:
        items.append(("state", state))
    try:
        location = access.decide(items, patient if besluit == "toestaan" else None)
    except AuthorizationRefused as refused:
        return _refused(request, refused)
    return _to_client(location)


@router.get("/mijn-gegevens/opvragingen")
def fetched(request: Request) -> Response:
    access = _access(request)
    patient = _patient(request, access)
    if isinstance(patient, Response):
        return patient
    return render(request, "patient/opvragingen.html", fetches=access.fetches(patient))
