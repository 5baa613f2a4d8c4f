"""Every error a person can meet gets a Dutch page with a way back, never a bare 500."""

from flask import request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .db import end_session
from .domain.journey import IllegalTransition
from .pages import problem

MESSAGES = {
    400: (_l("Dit verzoek klopt niet"), _l("Het formulier of de link is niet compleet. Probeer het opnieuw.")),
    403: (_l("Geen toegang"), _l("Deze pagina hoort bij een andere browser of telefoon.")),
    404: (_l("Pagina niet gevonden"), _l("Deze pagina bestaat niet (meer). Controleer de link.")),
    405: (_l("Dit kan zo niet"), _l("Deze pagina kunt u niet op deze manier openen.")),
    413: (_l("Te veel tekens"), _l("U heeft meer tekst verstuurd dan wij aankunnen. Maak het korter.")),
    429: (_l("Even geduld"), _l("U heeft het te vaak geprobeerd. Wacht een minuut en probeer het opnieuw.")),
}


def init_app(app):
    @app.errorhandler(HTTPException)
    def _http_error(exc):
        title, message = MESSAGES.get(exc.code, (_("Er ging iets mis"), _("Probeer het later opnieuw.")))
        return problem(title, message, exc.code, url_for("application.form"), _("Naar de startpagina"))

    @app.errorhandler(IllegalTransition)
    def _illegal_transition(exc):
        return problem(_("Deze stap kan nu niet"),
                       _("Deze stap past niet bij waar u nu bent in de Ocktoreis. "
                       "Misschien is die stap al gedaan, in een ander venster of op uw telefoon."),
                       409, *_way_back())

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)  # every connection of the pool busy (or connecting) too long
    def _database_unreachable(exc):
        app.logger.error("database unreachable: %s", type(getattr(exc, "orig", None) or exc).__name__)
        end_session()  # drop the broken connection; the pool opens a new one next time
        return problem(_("Even niet bereikbaar"),
                       _("Wij kunnen uw gegevens nu even niet ophalen. Er is niets verloren gegaan. "
                       "Probeer het over een minuut opnieuw."), 503, request.url, _("Opnieuw proberen"))

    @app.errorhandler(Exception)
    def _unexpected(exc):
        app.logger.exception("unexpected error")
        return problem(_("Er ging iets mis bij ons"),
                       _("Uw gegevens zijn niet verloren. Probeer het over een paar minuten opnieuw."),
                       500, url_for("application.form"), _("Naar de startpagina"))


def _way_back():
    """Back to where the journey stands for this device."""
    journey_id = (request.view_args or {}).get("journey_id")
    if request.blueprint == "desktop" and journey_id:
        return url_for("desktop.journey", journey_id=journey_id), _("Terug naar uw Ocktoreis")
    if request.blueprint == "phone":
        return url_for("phone.home"), _("Terug naar de app")
    return url_for("application.form"), _("Naar de startpagina")
