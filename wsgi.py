import gc

from webapp import create_app, logs

app = create_app()
logs.configure(app.config["LOG_FORMAT"])

# A web process holds thousands of open event streams, each a few hundred long-lived objects.
# What is loaded now lives as long as the process: keep it out of every collection. And
# collect the young generation less often (the default is every 700 allocations), so fewer
# short-lived objects are promoted and the full collections that pause every stream are rare.
gc.freeze()
gc.set_threshold(10_000, 10, 10)
