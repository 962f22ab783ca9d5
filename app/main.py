"""The ASGI entry point: ``uvicorn app.main:app``."""

import sys

from app.web.app import create_app

# The event loop shares the interpreter lock with the analysis threads, and waits up to a whole
# switch interval each time it asks for it back, and a short request is made of a few dozen
# such waits while large answers are being made. At 1 ms instead of the default 5 ms the loop
# gets the lock back five times sooner, for a little more switching.
sys.setswitchinterval(0.001)

app = create_app()
