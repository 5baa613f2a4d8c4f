"""Every page, fragment and stream that can show personal data (or a secret such as the sms
code) answers `Cache-Control: no-store`, whatever its status: no browser or proxy keeps a copy.

The journeys below reach every route of the personal areas; the last test checks that none
was left out, so a new route is covered the day it is added.
"""

import re

from webapp.simulators.population import FATIMA, JAN, SANNE

from .helpers import local, staff_password

# The areas that show a person's data: by URL, so renaming a module or blueprint keeps them.
PERSONAL = re.compile(r"^/(uitnodiging|reis|app|dev|gemeente|digid-sim)/")
# Where the installable app's shell lives: the same /app/ prefix, nothing personal.
APP_SHELL = ("/app/sw.js", "/app/offline", "/app/offline/<any(en):language>", "/app/start",
             "/app/installeren")
MACHINE_APIS = re.compile(r"^/((digid-sim|bronnen-sim|gemeente)/api/|digid-sim/saml/metadata$|gemeente/zgw/)")



def _is_personal(rule):
    path = rule.rule
    return bool(PERSONAL.match(path)) and path not in APP_SHELL and not MACHINE_APIS.match(path)


def _recording(app, clients):
    """Every response the clients get, noted under the URL rule it matched:
    {rule: [(method, status, Cache-Control)]}."""
    adapter = app.url_map.bind("localhost")
    seen = {}

    def record(client):
        original = client.open

        def open_and_record(*args, **kwargs):
            response = original(*args, **kwargs)
            environ = response.request.environ
            rule, _ = adapter.match(environ["PATH_INFO"], environ["REQUEST_METHOD"], return_rule=True)
            seen.setdefault(rule.rule, []).append(
                (environ["REQUEST_METHOD"], response.status_code,
                 response.headers.get("Cache-Control", "")))
            return response
        client.open = open_and_record

    for client in clients:
        record(client)
    return seen


def _open_stream(client, path):
    client.get(path, buffered=False).close()


def _deliver_with_a_partner(walk, desktop, phone):
    invitation = walk.apply(JAN, FATIMA)
    desktop.get(invitation)
    desktop.get(f"{invitation}/intrekken")
    walk.start(invitation)
    _open_stream(desktop, f"{walk.journey_url}/events")
    desktop.get(f"{walk.journey_url}/stap")
    phone.get("/app/")  # not paired yet: a refusal
    phone.get("/app/scan")
    phone.post("/app/code", data={"code": "WRONG-CODE"})
    phone.get(walk.to_qr())
    phone.get("/app/scherm")
    _open_stream(phone, "/app/events")
    walk.login(JAN)
    walk.fetch_all()
    walk.login(FATIMA)
    walk.fetch_all()
    phone.post("/app/versturen", data={"toestemming": "ja"})
    walk.run_jobs()
    phone.get("/app/digid/terug?fout=geannuleerd")
    phone.post("/app/afsluiten")
    phone.get("/app/gesloten")


def _stop_in_every_way(walk, desktop, phone):
    walk.start(walk.apply(SANNE))
    desktop.post(f"{walk.journey_url}/stoppen")

    walk.start(walk.apply(SANNE))
    desktop.post(f"{walk.journey_url}/checklist")
    desktop.post(f"{walk.journey_url}/op-deze-telefoon")  # this browser becomes the app
    desktop.post("/app/stoppen")

    walk.to_review(SANNE)
    phone.post("/app/niet-versturen")

    walk.to_review(SANNE)
    phone.post("/app/bronnen/duo")  # too late: a refusal on the review screen
    desktop.post(f"{walk.apply(SANNE)}/intrekken")

    walk.start(walk.apply(SANNE))
    desktop.post(f"{walk.journey_url}/geen-digid")
    invitation = walk.apply(SANNE)
    walk.start(invitation)
    desktop.post(f"{walk.journey_url}/checklist")
    desktop.post(f"{walk.journey_url}/app-klaar")
    phone.post(f"/app/verder/{invitation.rsplit('/', 1)[1]}")  # the phone goes on with it
    phone.post("/app/geen-digid")
    phone.get("/app/verder/terug?fout=geannuleerd")


def _municipality_and_outbox(app, client):
    mails = re.findall(r'href="/dev/outbox/([0-9]+(?:-[0-9a-f]{8}|-t[0-9a-f]{16})+)"', client.get("/dev/outbox").text)
    client.get(f"/dev/outbox/{mails[0]}")
    client.get(f"/dev/outbox/{mails[0]}/html")
    client.get("/gemeente/GM0193/inloggen")
    client.post("/gemeente/GM0193/inloggen", data={"password": staff_password(app, "GM0193")})
    inbox = client.get("/gemeente/GM0193/inbox").text
    dossier = client.get(local(re.search(r'href="([^"]*/inbox/[^"]+)"', inbox).group(1))).text
    client.get(local(re.search(r'href="([^"]+/pdf)" data-testid="dossier-pdf"', dossier).group(1)))
    client.post("/gemeente/GM0193/uitloggen")
    client.post("/gemeente/storing", json={"gemeente": "GM0193", "down": True})  # QA only: 404


def test_every_personal_page_fragment_and_stream_answers_no_store(app, walk, desktop, phone):
    seen = _recording(app, (desktop, phone))
    _deliver_with_a_partner(walk, desktop, phone)
    _stop_in_every_way(walk, desktop, phone)
    walk.apply(SANNE)  # a mail in the outbox: the purges took the others'
    _municipality_and_outbox(app, desktop)

    personal = {rule.rule for rule in app.url_map.iter_rules() if _is_personal(rule)}
    missing = sorted(personal - set(seen))
    assert not missing, f"no request reached {missing}: add it above"
    kept = {rule: answers for rule, answers in seen.items() if rule in personal
            and any("no-store" not in cache_control for _, _, cache_control in answers)}
    assert not kept, f"answered without no-store: {kept}"
