"""Web login and logout. Public routes: everything else needs the session they open or a token."""

from fastapi import APIRouter, Request, Response

from assay.api.credentials import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from assay.api.deps import AuthenticatorDep
from assay.api.openapi import error_responses
from assay.schemas.users import LoginRequest, UserResponse
from assay.services.users import describe

router = APIRouter()


@router.post(
    "/login",
    response_model=UserResponse,
    responses=error_responses(401, 429),
)
def login(body: LoginRequest, request: Request, response: Response, auth: AuthenticatorDep) -> UserResponse:
    """Check a password and open a web session: an HttpOnly, SameSite=Lax cookie. Failed
    attempts are limited per user name and client address (429 with ``Retry-After``).
    Scripts should use an API token instead."""
    client = request.client.host if request.client else "unknown"
    user, session_id = auth.login(body.username, body.password.get_secret_value(), client)
    secure = request.url.scheme == "https"
    set_session_cookie(response, session_id, auth.settings.session_ttl_seconds, secure)
    return describe(user)


@router.post("/logout", status_code=204)
def logout(request: Request, auth: AuthenticatorDep) -> Response:
    """End the web session of this browser (nothing to do without one)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        auth.logout(session_id)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response
