"""Chalice entry point: registers the blueprints. Routes and rules live in ``chalicelib``."""

from chalice import Chalice

from chalicelib.api import internal, messages

app = Chalice(app_name="crochet-messaging")
app.register_blueprint(messages.blueprint, url_prefix="/api")
app.register_blueprint(internal.blueprint, url_prefix="/api")
