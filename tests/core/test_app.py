"""Health, errors that are never bare 500s, body limits."""

from __future__ import annotations


def test_unknown_page_is_a_translated_404_page(client):
    client.get("/lang/zh-CN")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "页面不存在" in response.text and "<html" in response.text


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_malformed_json_is_a_4xx_with_a_reason(client, session):
    from tests.factories import make_clinic, make_staff, make_token

    token = make_token(session, make_staff(session, make_clinic(session)))
    session.commit()
    response = client.post("/api/v1/patients", content=b"{not json", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["message"]


def test_oversized_body_is_refused(client, settings):
    response = client.post("/api/v1/patients", content=b"x" * (settings.max_body_bytes + 10),
                           headers={"Content-Type": "application/json"})
    assert response.status_code in (401, 413)
