"""The Functions app: create it and register the blueprints. Nothing else belongs here."""

import azure.functions as func

from blueprints.http_api import bp as http_api
from blueprints.ingest import bp as ingest
from blueprints.timers import bp as timers

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)  # Easy Auth or our JWT check guards the API
app.register_functions(ingest)
app.register_functions(http_api)
app.register_functions(timers)
