"""Security headers on every response (unrouted ones and errors included): a same-origin CSP, no framing, no
sniffing, a referrer policy, and no caching of anything but static files."""

from __future__ import annotations

from litestar.types import Message, Scope


def content_security_policy() -> str:
    """Pages load scripts, styles and images only from the app itself: no inline script or style runs."""
    return ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


async def security_headers(message: Message, scope: Scope) -> None:
    """before_send hook, so every response gets them, unrouted ones and errors included; nothing but static
    files may be cached (patient pages and PDFs must not stay in a shared computer's cache)."""
    if message["type"] != "http.response.start":
        return
    cacheable = scope["path"].startswith("/static/")
    headers = [(k, v) for k, v in message.get("headers", [])
               if cacheable or k.lower() not in (b"cache-control", b"pragma", b"expires")]
    present = {k.lower() for k, _ in headers}
    # A route's own stricter choice (the survey page's no-referrer keeps its token out of Referer) stands.
    headers += [(name, value) for name, value in (
        (b"content-security-policy", content_security_policy().encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ) if name not in present]
    if not cacheable:
        headers += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
    if scope["app"].state.settings.public_url.startswith("https://"):
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    message["headers"] = headers  # type: ignore[typeddict-unknown-key]
