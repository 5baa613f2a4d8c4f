"""Step 1: the form keeps what was typed and says in Dutch what is wrong."""

from webapp.simulators.population import JAN

from .helpers import application_form, outbox_messages


def test_errors_are_dutch_and_keep_everything_typed(app, desktop):
    form = application_form(JAN, bsn="123456789", email="geen-adres", naam="Jan <b>de</b> Vries",
                            partner="ja", partner_naam="")
    response = desktop.post("/aanvraag", data=form)
    assert response.status_code == 422
    page = response.text
    assert "Dit is geen geldig BSN. Controleer de cijfers." in page
    assert "Vul een geldig e-mailadres in" in page
    assert "Vul de naam van uw partner in." in page
    assert 'value="123456789"' in page and 'value="geen-adres"' in page
    assert 'value="Jan &lt;b&gt;de&lt;/b&gt; Vries"' in page  # kept, and escaped
    assert 'value="ja" checked' in page
    assert not outbox_messages(app)


def test_an_htmx_submit_gets_only_the_form_back(desktop):
    response = desktop.post("/aanvraag", data={"gemeente": "Nergenshuizen"},
                            headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response.text.lstrip().startswith("<form")
    assert "Deze gemeente kennen wij niet" in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_municipality_search_finds_by_prefix_and_escapes_the_query(desktop):
    found = desktop.get("/gemeenten?gemeente=zwo").text
    assert 'data-value="Zwolle"' in found
    nothing = desktop.get("/gemeenten?gemeente=<script>").text
    assert "Geen gemeente gevonden" in nothing and "<script>" not in nothing


def test_an_oversize_field_is_refused_with_a_message(desktop):
    response = desktop.post("/aanvraag", data=application_form(JAN, naam="x" * 5000))
    assert response.status_code == 422
    assert "Een naam is maximaal 100 tekens." in response.text
