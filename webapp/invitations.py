"""Step 2: the invitation e-mail with the personal link."""

from flask import current_app, render_template

from messaging import mail
from webapp.db import session
from webapp.domain import gemeenten
from webapp.journeys import invitation_url, utcnow
from webapp.models import Application


def send_invitation(application_id):
    """Mail the invitation unless it went out already or the application is gone."""
    application = session.get(Application, application_id)
    if application is None or application.invitation_sent_at or application.status != "invited":
        return
    context = {"name": application.name, "link": invitation_url(application.id),
               "gemeente": gemeenten.by_code(application.gemeente_code),
               "days": current_app.config["INVITATION_TTL_DAYS"]}
    mail.send("Lever uw gegevens aan met de Ockto app", application.email,
              render_template("mail/invitation.txt", **context),
              render_template("mail/invitation.html", **context))
    application.invitation_sent_at = utcnow()
    session.commit()

