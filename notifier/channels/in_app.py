"""Name the in-app channel, which has no transport.

In-app delivery is the notification row plus the bus publish that ``service.notify()`` does
after commit; streams and pages read from there. Nothing is sent from here, so there is no
Channel class and no Delivery row for it.
"""

name = "in_app"
