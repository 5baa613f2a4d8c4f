"""Delivery over the ZGW APIs to the municipality simulator: a zaak of the configured zaaktype
with the applicant as initiator, the PDF and the JSON linked once each, the first status;
every call checked against the vendored specifications; a wrong JWT refused; a repeated or
half-done delivery completes without a second zaak or document."""

import base64
import json
import logging
import threading
import time

import jwt
import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp import outside, zgw
from webapp.simulators import gemeente as gemeente_sim, zgw as zgw_sim
from webapp.simulators.population import SANNE

PDF = b"%PDF-1.7 a dossier"
DOSSIER = {"gemeente": "GM0193", "aanvraag": "a1",
           "personen": [{"rol": "applicant", "naam": "Sanne Bakker", "bsn": SANNE.bsn,
                         "bronnen": {}}],
           "dossier_pdf": base64.b64encode(PDF).decode()}
DELIVERY = "0123456789abcdef0123456789abcdef"


def _objects(app, kind):
    with Session(app.extensions["gemeente_inbox"]) as inbox:
        return [json.loads(o.body) for o in inbox.scalars(
            select(zgw_sim.ZgwObject).filter_by(kind=kind).order_by(zgw_sim.ZgwObject.created_at))]


def _connection(app, code="GM0193"):
    return outside.delivery_backend(code)[1]


def _everything(app):
    return {kind: _objects(app, kind) for kind in
            ("zaak", "rol", "document", "zaakinformatieobject", "status")}


def test_a_delivery_makes_one_complete_zaak(app):
    reference = outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    assert reference == f"OCKTO-{DELIVERY}"
    found = _everything(app)
    [zaak] = found["zaak"]
    connection = _connection(app)
    assert zaak["zaaktype"] == connection.zaaktype
    assert zaak["bronorganisatie"] == zaak["verantwoordelijkeOrganisatie"] == connection.rsin
    assert zaak["kenmerken"] == [{"kenmerk": DELIVERY, "bron": "Ockto"}]
    [rol] = found["rol"]
    assert (rol["betrokkeneType"], rol["omschrijvingGeneriek"]) == ("natuurlijk_persoon",
                                                                    "initiator")
    assert rol["betrokkeneIdentificatie"]["inpBsn"] == SANNE.bsn and rol["zaak"] == zaak["url"]
    pdf, data = found["document"]
    assert (pdf["formaat"], pdf["taal"], data["formaat"]) == ("application/pdf", "nld",
                                                              "application/json")
    linked = {z["informatieobject"] for z in found["zaakinformatieobject"]}
    assert linked == {pdf["url"], data["url"]}
    [status] = found["status"]
    assert status["zaak"] == zaak["url"]

    headers = {"Authorization": f"Bearer {zgw.token(connection)}"}
    assert requests.get(pdf["inhoud"], headers=headers, timeout=10).content == PDF
    structured = json.loads(requests.get(data["inhoud"], headers=headers, timeout=10).content)
    assert "dossier_pdf" not in structured and structured["personen"][0]["bsn"] == SANNE.bsn


def test_a_first_delivery_makes_its_zaaks_objects_without_looking_them_up(app, monkeypatch):
    """Of a zaak this run made, our documents and their links are made without a look-up
    each (12 requests, not 16); its rol and status are looked up (the municipality's own
    workflow may add them); a repeated delivery looks each one up."""
    real, calls = zgw._Client.call, []

    def counted(self, method, url, **kwargs):
        calls.append((method, url.rsplit("/", 1)[-1]))
        return real(self, method, url, **kwargs)
    monkeypatch.setattr(zgw._Client, "call", counted)
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    assert [c for c in calls if c[0] == "GET"] == [("GET", path) for path in (
        "zaken", "roltypen", "rollen", "statustypen", "statussen")]
    assert len(calls) == 12
    calls.clear()
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    assert calls == [("GET", path) for path in (
        "zaken", "roltypen", "rollen", "enkelvoudiginformatieobjecten", "zaakinformatieobjecten",
        "enkelvoudiginformatieobjecten", "zaakinformatieobjecten", "statustypen", "statussen")]


def test_a_document_already_there_for_a_new_zaak_is_used_not_made_twice(app):
    """A zaak made anew while its PDF document exists (its zaak was deleted by the
    municipality's staff after a half-done delivery): the refused POST finds the document."""
    connection = _connection(app)
    url = f"{connection.documenten_api}/enkelvoudiginformatieobjecten"
    query = {"identificatie": f"OCKTO-{DELIVERY}-P", "bronorganisatie": connection.rsin}
    there = zgw._Client(connection, 10).call("POST", url, json={
        **query, "creatiedatum": "2026-11-30", "titel": "Dossier", "auteur": "Ockto",
        "taal": "nld", "formaat": "application/pdf", "bestandsnaam": "d.pdf",
        "inhoud": base64.b64encode(PDF).decode(), "bestandsomvang": len(PDF),
        "informatieobjecttype": connection.informatieobjecttype,
        "vertrouwelijkheidaanduiding": "vertrouwelijk", "indicatieGebruiksrecht": False})
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    found = _everything(app)
    assert [len(found[k]) for k in found] == [1, 1, 2, 2, 1]
    assert there["url"] in {z["informatieobject"] for z in found["zaakinformatieobject"]}


def _call(app, connection, method="GET", path="/zaken", **kwargs):
    headers = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326", **kwargs.pop("headers", {})}
    return requests.request(method, f"{connection.zaken_api}{path}", headers=headers, timeout=10,
                            **kwargs)


def _bearer(connection, secret=None, **claims):
    now = int(time.time())
    base = {"iss": connection.client_id, "iat": now, "client_id": connection.client_id,
            "user_id": connection.client_id, "user_representation": "Ockto"}
    return {"Authorization": "Bearer " + jwt.encode({**base, **claims}, secret or connection.secret,
                                                    algorithm="HS256")}


@pytest.mark.parametrize("wrong", ["no token", "wrong secret", "unknown client", "expired iat",
                                   "unsigned"])
def test_a_wrong_jwt_is_refused_with_403(app, wrong):
    connection = _connection(app)
    headers = {
        "no token": {},
        "wrong secret": _bearer(connection, secret="guessed-" + "x" * 40),
        "unknown client": _bearer(connection, client_id="someone-else"),
        "expired iat": _bearer(connection, iat=int(time.time()) - zgw_sim.JWT_EXPIRY_S - 60),
        "unsigned": {"Authorization": "Bearer " + jwt.encode(
            {"client_id": connection.client_id, "iat": int(time.time())}, None, algorithm="none")},
    }[wrong]
    refused = _call(app, connection, params={"identificatie": "x"}, headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert _call(app, connection, params={"identificatie": "x"},
                 headers=_bearer(connection)).status_code == 200


def test_a_request_off_the_specification_is_refused(app):
    connection = _connection(app)
    no_crs = requests.get(f"{connection.zaken_api}/zaken", headers=_bearer(connection), timeout=10)
    assert no_crs.status_code == 400  # the Zaken API wants Accept-Crs
    missing = _call(app, connection, "POST", json={"bronorganisatie": connection.rsin},
                    headers=_bearer(connection))
    assert missing.status_code == 400 and missing.json()["code"] == "invalid"
    wrong_type = _call(app, connection, "POST", "/rollen", headers=_bearer(connection), json={
        "zaak": "not a url", "betrokkeneType": "natuurlijk_persoon", "roltype": "x",
        "roltoelichting": "", "betrokkeneIdentificatie": {"inpBsn": SANNE.bsn}})
    assert wrong_type.status_code == 400
    assert _everything(app)["zaak"] == [] and _everything(app)["rol"] == []


def test_a_delivery_repeated_after_a_lost_answer_makes_nothing_twice(app):
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    first = _everything(app)
    assert outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY) == f"OCKTO-{DELIVERY}"
    assert _everything(app) == first
    assert [len(first[k]) for k in first] == [1, 1, 2, 2, 1]


@pytest.mark.parametrize("crash_before", ["/rollen", "/enkelvoudiginformatieobjecten",
                                          "/zaakinformatieobjecten", "/statussen"])
def test_a_delivery_that_crashed_halfway_is_completed_once(app, monkeypatch, crash_before):
    """The worker dies after the zaak (or more) was made: the retry finds it and adds only
    what is missing, each document once."""
    real = zgw._Client.call
    calls = []

    def crash(self, method, url, **kwargs):
        if method == "POST" and url.endswith(crash_before):
            raise RuntimeError("the worker died")
        calls.append((method, url))
        return real(self, method, url, **kwargs)
    monkeypatch.setattr(zgw._Client, "call", crash)
    with pytest.raises(RuntimeError):
        outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    assert len(_everything(app)["zaak"]) == 1
    monkeypatch.setattr(zgw._Client, "call", real)
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    found = _everything(app)
    assert [len(found[k]) for k in found] == [1, 1, 2, 2, 1]
    [zaak] = found["zaak"]
    assert {o["zaak"] for k in ("rol", "zaakinformatieobject", "status") for o in found[k]} == {
        zaak["url"]}


def _together(monkeypatch, method, path):
    """Both of two runs make the call `method` `path`, then wait for each other: what both
    looked up, neither had made yet."""
    real, both, waited = zgw._Client.call, threading.Barrier(2, timeout=20), set()

    def call(self, called, url, **kwargs):
        answer = real(self, called, url, **kwargs)
        if called == method and url.endswith(path) and threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both.wait()
        return answer
    monkeypatch.setattr(zgw._Client, "call", call)
    return real


def _at_once(app, *work):
    outcomes = []

    def run(job):
        with app.app_context():
            try:
                outcomes.append(job())
            except (outside.OutsideSystemError, zgw.ZgwError) as exc:
                outcomes.append(exc)
    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_runs_of_one_delivery_at_once_make_one_zaak_with_each_document_once(app, monkeypatch):
    """The same job twice at once: both find no zaak and both POST it; the Zaken API keeps one
    and the run refused stops, leaving the rest to the other; its retry changes nothing."""
    real = _together(monkeypatch, "GET", "/zaken")
    deliver = lambda: outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)  # noqa: E731
    outcomes = _at_once(app, deliver, deliver)
    [stopped] = [o for o in outcomes if isinstance(o, Exception)]
    assert str(stopped) == (f"OCKTO-{DELIVERY}: another run of this delivery made the zaak at "
                            "the same moment; this one stops, to be tried again")
    assert f"OCKTO-{DELIVERY}" in outcomes
    found = _everything(app)
    assert [len(found[k]) for k in found] == [1, 1, 2, 2, 1]
    monkeypatch.setattr(zgw._Client, "call", real)
    assert deliver() == f"OCKTO-{DELIVERY}" and _everything(app) == found


def test_a_document_a_twin_made_at_the_same_moment_is_used_not_made_twice(app, monkeypatch):
    """The Documenten API keeps identificatie unique too: the refused POST looks again."""
    _together(monkeypatch, "GET", "/enkelvoudiginformatieobjecten")
    connection = _connection(app)
    url, query = f"{connection.documenten_api}/enkelvoudiginformatieobjecten", {
        "identificatie": f"OCKTO-{DELIVERY}-P", "bronorganisatie": connection.rsin}
    body = {**query, "creatiedatum": "2026-11-30", "titel": "Dossier", "auteur": "Ockto",
            "taal": "nld", "formaat": "application/pdf", "bestandsnaam": "d.pdf",
            "inhoud": base64.b64encode(PDF).decode(), "bestandsomvang": len(PDF),
            "informatieobjecttype": connection.informatieobjecttype,
            "vertrouwelijkheidaanduiding": "vertrouwelijk", "indicatieGebruiksrecht": False}
    make = lambda: zgw._Client(connection, 10).find_or_create_unique(url, query, body)  # noqa: E731
    first, second = _at_once(app, make, make)
    assert first["url"] == second["url"] and len(_everything(app)["document"]) == 1


def test_a_refused_request_or_answer_leaves_no_bsn_in_the_error_or_the_logs(app, monkeypatch,
                                                                         caplog):
    """What is off the specification may hold a BSN, and jsonschema's messages quote the value:
    the case system's answer is never copied into the error (which the worker logs), and the
    simulator names where a request or its own answer breaks the specification, not what."""
    caplog.set_level(logging.DEBUG)
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    connection, [zaak] = _connection(app), _everything(app)["zaak"]
    client, rollen = zgw._Client(connection, 10), f"{connection.zaken_api}/rollen"
    [roltype] = client.find(f"{connection.catalogi_api}/roltypen", zaaktype=connection.zaaktype)
    rol = {"zaak": zaak["url"], "betrokkeneType": "natuurlijk_persoon", "roltype": roltype["url"],
           "betrokkeneIdentificatie": {"inpBsn": SANNE.bsn}}
    with pytest.raises(zgw.ZgwError) as refused:  # too long: jsonschema quotes all of it
        client.call("POST", rollen, json={**rol, "roltoelichting": f"BSN {SANNE.bsn}. " * 80})
    assert str(refused.value) == ("POST /gemeente/zgw/GM0193/zaken/api/v1/rollen: HTTP 400 "
                                  "body.roltoelichting: maxLength")
    view = zgw_sim._view

    def off_the_spec(inbox, code, obj):  # the rol itself where a list belongs
        body = view(inbox, code, obj)
        return {**body, "statussen": dict(body)} if obj.kind == "rol" else body
    monkeypatch.setattr(zgw_sim, "_view", off_the_spec)
    with pytest.raises(zgw.ZgwError, match="rollen: HTTP 500$"):
        client.call("POST", rollen, json={**rol, "roltoelichting": "Aanvrager"})
    assert "ZGW simulator answer breaks the specification: body.statussen: type" in caplog.text
    assert SANNE.bsn not in caplog.text


def test_two_municipalities_keep_their_own_zaken_and_credentials(app):
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    amsterdam = outside.delivery_backend("GM0363")[1]
    zwolle = _connection(app)
    assert amsterdam.secret != zwolle.secret and amsterdam.rsin != zwolle.rsin
    # Zwolle's token opens nothing at Amsterdam, and Amsterdam sees none of Zwolle's zaken
    assert _call(app, amsterdam, headers=_bearer(zwolle)).status_code == 403
    assert _call(app, amsterdam, headers=_bearer(amsterdam)).json()["count"] == 0


def test_the_webhook_backend_still_delivers_a_signed_dossier(app, monkeypatch):
    monkeypatch.setitem(app.config, "GEMEENTE_BACKENDS", {"GM0193": {"backend": "webhook"}})
    reference = outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    with Session(app.extensions["gemeente_inbox"]) as inbox:
        [dossier] = inbox.scalars(select(gemeente_sim.Dossier)).all()
    assert dossier.id == reference and json.loads(dossier.body) == DOSSIER
    assert _everything(app)["zaak"] == []


def test_a_webhook_url_is_the_municipalitys_endpoint_as_given(app, monkeypatch):
    """A municipality that takes a plain HTTPS endpoint names it whole: nothing is added."""
    endpoint = app.config["PUBLIC_URL"] + "/gemeente/api/GM0193/dossiers"
    monkeypatch.setitem(app.config, "GEMEENTE_BACKENDS",
                        {"GM0363": {"backend": "webhook", "url": endpoint}})
    with pytest.raises(outside.OutsideSystemError):  # Zwolle's endpoint refuses Amsterdam's
        outside.deliver_to_gemeente("GM0363", DOSSIER, DELIVERY)  # signature: it was reached
    monkeypatch.setitem(app.config, "GEMEENTE_BACKENDS",
                        {"GM0193": {"backend": "webhook", "url": endpoint}})
    reference = outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    with Session(app.extensions["gemeente_inbox"]) as inbox:
        assert [d.id for d in inbox.scalars(select(gemeente_sim.Dossier))] == [reference]


def test_staff_see_the_zaak_with_status_initiator_and_documents_and_open_the_pdf(app):
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    staff = app.test_client()
    password = gemeente_sim.development_password(app.config["SECRET_KEY"], "GM0193")
    staff.post("/gemeente/GM0193/inloggen", data={"password": password})
    inbox = staff.get("/gemeente/GM0193/inbox").text
    assert f"OCKTO-{DELIVERY} (Ontvangen)" in inbox
    [zaak] = _everything(app)["zaak"]
    page = staff.get(f"/gemeente/GM0193/inbox/{zaak['uuid']}").text
    assert "Ontvangen" in page and f"{SANNE.bsn} (natuurlijk persoon" in page
    assert "Dossier Ockto (PDF) (application/pdf); Gegevens Ockto (JSON)" in page
    assert f"BSN {SANNE.bsn}" in page and "Dossier als PDF" in page
    pdf = staff.get(f"/gemeente/GM0193/inbox/{zaak['uuid']}/pdf")
    assert pdf.status_code == 200 and pdf.data == PDF


def test_the_apis_answers_are_never_kept_by_a_cache(app):
    outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    connection = _connection(app)
    answer = _call(app, connection, params={"identificatie": f"OCKTO-{DELIVERY}"},
                   headers=_bearer(connection))
    assert answer.json()["count"] == 1 and "no-store" in answer.headers["Cache-Control"]


def test_an_answer_off_the_specification_is_never_sent(app, monkeypatch):
    """The simulator checks its own answers too: one missing a required field becomes a 500,
    and the delivery fails (to be retried) rather than pass on something off the standard."""
    catalogue = zgw_sim._catalogue

    def without_omschrijving(code):
        zaaktype, roltypen, statustypen, informatieobjecttype = catalogue(code)
        roltypen = [{k: v for k, v in r.items() if k != "omschrijving"} for r in roltypen]
        return zaaktype, roltypen, statustypen, informatieobjecttype
    monkeypatch.setattr(zgw_sim, "_catalogue", without_omschrijving)
    with pytest.raises(outside.OutsideSystemError, match="roltypen: HTTP 500"):
        outside.deliver_to_gemeente("GM0193", DOSSIER, DELIVERY)
    assert _everything(app)["rol"] == []
