"""Print a development token: ``python -m libs.common.devtoken --role jobcenter --programme hedensted-2022``.

Signed with the configured JWT secret (the development one unless JWT_SECRET is set).
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from libs.common.auth import ALL_PROGRAMMES, Role, issue_token
from libs.common.settings import CommonSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument(
        "--programme",
        action="append",
        default=[],
        help="programme id the token is scoped to (repeatable; default: every programme)",
    )
    parser.add_argument("--subject", default=None)
    parser.add_argument("--hours", type=float, default=12.0)
    args = parser.parse_args(argv)
    programmes = [p for p in args.programme if p] or [ALL_PROGRAMMES]
    token = issue_token(
        CommonSettings(),
        role=args.role,
        programmes=programmes,
        subject=args.subject,
        ttl=timedelta(hours=args.hours),
    )
    print(token)


if __name__ == "__main__":
    main()
