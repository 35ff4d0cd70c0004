"""Entry point: gevent-patch first, then build the app; `python app.py` serves one process."""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from notifier import create_app  # noqa: E402
from notifier.config import ConfigError  # noqa: E402

try:
    app = create_app()
except ConfigError as exc:
    # `python app.py`, `flask --app app …` and gunicorn all import this module: one message
    # naming each bad variable and what it may be, and exit status 2 (a usage error).
    for line in str(exc).splitlines():
        print(f"notifier: configuration error: {line}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    """Serve one gevent process with the background workers until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="Serve Notifier in one gevent process.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    args = parser.parse_args(argv)
    from notifier.server import serve

    return serve(app, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
