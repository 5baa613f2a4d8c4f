"""Every error a person can meet gets a Dutch page with a way back, never a bare 500."""

from flask import request, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .db import session
from .domain.journey import IllegalTransition
from .pages import problem

MESSAGES = {
    400: ("Dit verzoek klopt niet", "Het formulier of de link is niet compleet. Probeer het opnieuw."),
    403: ("Geen toegang", "Deze pagina hoort bij een andere browser of telefoon."),
    404: ("Pagina niet gevonden", "Deze pagina bestaat niet (meer). Controleer de link."),
    405: ("Dit kan zo niet", "Deze pagina kunt u niet op deze manier openen."),
    413: ("Te veel tekens", "U heeft meer tekst verstuurd dan wij aankunnen. Maak het korter."),
    429: ("Even geduld", "U heeft het te vaak geprobeerd. Wacht een minuut en probeer het opnieuw."),
}


def init_app(app):
    @app.errorhandler(HTTPException)
    def _http_error(exc):
        title, message = MESSAGES.get(exc.code, ("Er ging iets mis", "Probeer het later opnieuw."))
        return problem(title, message, exc.code, url_for("application.form"), "Naar de startpagina")

    @app.errorhandler(IllegalTransition)
    def _illegal_transition(exc):
        return problem("Deze stap kan nu niet",
                       "Deze stap past niet bij waar u nu bent in de Ocktoreis. "
                       "Misschien is hij al gedaan, in een ander venster of op uw telefoon.",
                       409, *_way_back())

    @app.errorhandler(OperationalError)
    def _database_unreachable(exc):
        app.logger.error("database unreachable: %s", type(exc.orig).__name__)
        session.remove()  # drop the broken connection; the pool opens a new one next time
        return problem("Even niet bereikbaar",
                       "We kunnen uw gegevens nu even niet ophalen. Er is niets verloren gegaan. "
                       "Probeer het over een minuut opnieuw.", 503, request.url, "Opnieuw proberen")

    @app.errorhandler(Exception)
    def _unexpected(exc):
        app.logger.exception("unexpected error")
        return problem("Er ging iets mis bij ons",
                       "Uw gegevens zijn niet verloren. Probeer het over een paar minuten opnieuw.",
                       500, url_for("application.form"), "Naar de startpagina")


def _way_back():
    """Back to where the journey stands for this device."""
    journey_id = (request.view_args or {}).get("journey_id")
    if request.blueprint == "desktop" and journey_id:
        return url_for("desktop.journey", journey_id=journey_id), "Terug naar uw Ocktoreis"
    if request.blueprint == "phone":
        return url_for("phone.home"), "Terug naar de app"
    return url_for("application.form"), "Naar de startpagina"
