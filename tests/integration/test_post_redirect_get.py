"""Post/redirect/get for every form (issue 11): a plain form POST that succeeds answers with
a redirect, never a page, so Back or reload never asks to send it again; one with errors
answers 422, `no-store`, with what was typed and the form's own address (site.js puts that
in the history in place of the POST). htmx's own POSTs still get their fragment.

The walks below post every form of the app and the simulators the way a browser without
htmx does; the last check fails for a POST route that was left out.
"""

import re

from webapp.simulators.population import PASSWORD, SANNE

from .helpers import application_form, digid_form, local
from .test_funnel import operator_password
from .test_no_store import _deliver_with_a_partner, _municipality_and_outbox, _recording, \
    _stop_in_every_way

# Called by machines or by QA's scripts, with JSON: no form, no page.
NOT_FORMS = re.compile(r"^/((digid-sim|bronnen-sim|gemeente)/api/|gemeente/zgw/|(bronnen-sim|gemeente)/storing$|acceptatie/)")
FORM_URL = re.compile(r'<meta name="form-url" content="([^"]+)">')


def _operators(app, client):
    client.post("/beheer/inloggen", data={"password": operator_password(app)})
    client.post("/beheer/opnieuw/00000000-0000-4000-8000-000000000000")
    client.post("/beheer/uitloggen")


def _pair_by_code(walk, desktop, phone):
    walk.start(walk.apply(SANNE))
    walk.to_qr()
    page = desktop.get(walk.journey_url).text
    code = re.search(r'data-testid="pairing-code"[^>]*>([^<]+)<', page).group(1)
    assert phone.post("/app/code", data={"code": code}).status_code == 303
    phone.post("/app/stoppen")


def _errors(app, walk, desktop, phone):
    """Every form's errors: each must keep what was typed."""
    wrong = desktop.post("/aanvraag", data=application_form(SANNE, bsn="123"))
    assert SANNE.name in wrong.text
    assert 'value="ABCD-EFGH"' in phone.post("/app/code", data={"code": "ABCD-EFGH"}).text
    walk.to_review(SANNE)
    assert "Zet een vinkje" in phone.post("/app/versturen", data={}).text
    phone.post("/app/stoppen")

    form = digid_form(app, phone)
    wrong = phone.post("/digid-sim/inloggen", data={**form, "username": SANNE.username,
                                                     "password": "fout"})
    assert SANNE.username in wrong.text
    sms = phone.post("/digid-sim/inloggen", data={**form, "username": SANNE.username,
                                                   "password": PASSWORD})
    token = re.search(r"t=([^&]+)", sms.headers["Location"]).group(1)
    assert 'value="000000"' in phone.post("/digid-sim/sms", data={"t": token, "code": "000000"}).text
    desktop.post("/gemeente/GM0193/inloggen", data={"password": "fout"})
    desktop.post("/beheer/inloggen", data={"password": "fout"})


def test_every_plain_form_post_redirects_and_every_error_keeps_its_form(app, walk, desktop, phone):
    seen = _recording(app, (desktop, phone))
    _deliver_with_a_partner(walk, desktop, phone)
    _stop_in_every_way(walk, desktop, phone)
    walk.apply(SANNE)  # a mail in the outbox: the purges took the others'
    _municipality_and_outbox(app, desktop)
    _operators(app, desktop)
    _pair_by_code(walk, desktop, phone)
    desktop.post("/taal", data={"taal": "en", "terug": "/privacy"})  # the language switch
    desktop.post("/taal", data={"taal": "nl", "terug": "/privacy"})
    errors = []
    original = phone.open, desktop.open

    def keep_422(client_open):
        def open_and_keep(*args, **kwargs):
            response = client_open(*args, **kwargs)
            if response.status_code == 422:
                errors.append(response)
            return response
        return open_and_keep
    phone.open, desktop.open = keep_422(original[0]), keep_422(original[1])
    _errors(app, walk, desktop, phone)

    forms = {rule.rule for rule in app.url_map.iter_rules()
             if "POST" in rule.methods and not NOT_FORMS.match(rule.rule)}
    posted = {rule for rule, answers in seen.items() if any(m == "POST" for m, _, _ in answers)}
    missing = sorted(forms - posted)
    assert not missing, f"no POST reached {missing}: add it above"

    pages = {rule: answers for rule, answers in seen.items() if rule in forms
             and any(method == "POST" and status == 200 for method, status, _ in answers)}
    assert not pages, f"a plain form POST answered with a page: {pages}"
    redirected = {rule for rule, answers in seen.items() if rule in forms
                  and any(method == "POST" and status == 303 for method, status, _ in answers)}
    assert redirected == forms, sorted(forms - redirected)

    assert {response.request.path for response in errors} == {
        "/aanvraag", "/app/code", "/app/versturen", "/digid-sim/inloggen", "/digid-sim/sms",
        "/gemeente/GM0193/inloggen", "/beheer/inloggen"}
    for response in errors:
        assert response.headers["Cache-Control"] == "no-store", response.request.path
        form_url = FORM_URL.search(response.text)
        assert form_url, f"{response.request.path}: 422 without its form's address"
        assert desktop.get(local(form_url.group(1).replace("&amp;", "&"))).status_code == 200


def test_htmx_still_gets_the_fragment_of_a_successful_post(walk, desktop):
    walk.start(walk.apply(SANNE))
    answer = desktop.post(f"{walk.journey_url}/checklist", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert 'id="step-download"' in answer.text and "<html" not in answer.text
