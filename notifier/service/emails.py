"""Email address syntax: accept every syntactically valid address, refuse malformed ones.

Nothing here checks deliverability, so special-use domains (``corp.local`` on intranets,
``acme.test`` in test set-ups, ``localhost``) and dotless intranet hosts are accepted:
refusing them only locked such users out. email-validator reads its list of special-use
names at each call, so emptying it here makes every caller in the process (the account
service and the login form's validator alike) agree on what an address is.
"""

from __future__ import annotations

import email_validator
from email_validator import EmailNotValidError

email_validator.SPECIAL_USE_DOMAIN_NAMES = []
email_validator.CHECK_DELIVERABILITY = False
email_validator.GLOBALLY_DELIVERABLE = False
email_validator.TEST_ENVIRONMENT = True

__all__ = ["EmailNotValidError", "normalized_address"]


def normalized_address(raw: str) -> str:
    """Return the normalized form of ``raw``; raise EmailNotValidError when malformed."""
    info = email_validator.validate_email(
        raw,
        check_deliverability=False,
        globally_deliverable=False,
        test_environment=True,
    )
    return info.normalized
