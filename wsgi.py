import gc
import sys

from webapp import create_app, logs
from webapp.config import StartRefused

try:
    app = create_app()
except StartRefused as refused:  # one line per problem, not a traceback
    sys.exit(str(refused))
logs.configure(app.config["LOG_FORMAT"])

# A web process holds thousands of open event streams, each a few hundred long-lived objects.
# What is loaded now lives as long as the process: keep it out of every collection. And
# collect the young generation less often (the default is every 700 allocations), so fewer
# short-lived objects are promoted and the full collections that pause every stream are rare.
gc.freeze()
gc.set_threshold(10_000, 10, 10)
