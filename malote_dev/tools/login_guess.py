"""A password-guessing run against a live server: ``python -m malote_dev.tools.login_guess``.

    python -m malote_dev.tools.login_guess --url http://127.0.0.1:8000 \\
        --user viewer1 --password '…' --admin admin --admin-password '…' --guesses 32

What an attacker who knows a username would try, each attempt from a fresh cookie jar (log-in page
fetched for its CSRF token, then the form posted):

* ``backoffice``: ``--guesses`` wrong passwords for ``--user`` at ``/backoffice/login/``, then the
  right one;
* ``variants``: the same username spelled differently — fullwidth first letter (NFKC folds it back)
  and upper case — each with wrong guesses, then the fullwidth spelling with the right password
  (after the account was locked above);
* ``spellings``: ``--spellings`` further spellings of ``--user`` (two or more letters fullwidth),
  ``--per-spelling`` wrong guesses each — a throttle keyed on the raw username gives each a budget;
* ``admin``: ``--guesses`` wrong passwords for ``--admin`` at ``/admin/login/``, then the right one.

Prints JSON: per scenario, how many wrong guesses the server actually checked (not refused as
locked out) and whether the right password was accepted at the end. A protected server checks at
most its failure limit per username and address, and accepts nothing while locked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass

import httpx

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# The lockout message, in the back office's Portuguese and its English translation.
LOCKED_MARKERS = ("Muitas tentativas", "Too many")


@dataclass
class Outcome:
    status: int
    logged_in: bool
    locked: bool


@dataclass
class Scenario:
    name: str
    username: str
    wrong_guesses: int
    checked: int
    refused_as_locked: int
    right_password_accepted: bool | None


def attempt(base_url: str, path: str, username: str, password: str) -> Outcome:
    """One log-in from a fresh cookie jar: GET the form for its CSRF token, POST the credentials."""
    with httpx.Client(base_url=base_url, timeout=20, follow_redirects=False) as http:
        page = http.get(path)
        match = CSRF_INPUT.search(page.text)
        if match is None:
            raise RuntimeError(f"no CSRF token on {path} ({page.status_code})")
        answer = http.post(
            path,
            data={"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)},
            headers={"Referer": f"{base_url}{path}"},
        )
    locked = answer.status_code == 429 or any(marker in answer.text for marker in LOCKED_MARKERS)
    return Outcome(answer.status_code, answer.status_code == 302, locked)


def guess(
    base_url: str, path: str, username: str, wrong: int, right_password: str | None, name: str
) -> Scenario:
    outcomes = [attempt(base_url, path, username, f"wrong-guess-{n}") for n in range(wrong)]
    if any(o.logged_in for o in outcomes):
        raise RuntimeError(f"{name}: a wrong password logged in")
    accepted = None
    if right_password is not None:
        accepted = attempt(base_url, path, username, right_password).logged_in
    refused = sum(o.locked for o in outcomes)
    return Scenario(name, username, wrong, wrong - refused, refused, accepted)


def fullwidth(username: str) -> str:
    """The username with its first ASCII letter replaced by the fullwidth form (``v`` → ``ｖ``)."""
    first = username[0]
    if not ("!" <= first <= "~"):
        raise ValueError("the username must start with a printable ASCII character")
    return chr(ord(first) - 0x21 + 0xFF01) + username[1:]


def spellings(username: str, count: int) -> list[str]:
    """``count`` spellings of ``username`` that NFKC folds back to it: the letters at the positions of
    each bit set in 3, 5, 6, 7, 9… (two or more) replaced by their fullwidth forms."""
    found: list[str] = []
    mask = 3
    while len(found) < count and mask < 2 ** len(username):
        if bin(mask).count("1") >= 2:
            found.append("".join(fullwidth(c) if mask >> i & 1 else c for i, c in enumerate(username)))
        mask += 1
    return found


def run(args: argparse.Namespace) -> list[Scenario]:
    url = args.url.rstrip("/")
    backoffice = "/backoffice/login/"
    scenarios = [guess(url, backoffice, args.user, args.guesses, args.password, "backoffice")]
    wide = fullwidth(args.user)
    scenarios.append(guess(url, backoffice, wide, 0, args.password, "fullwidth_after_lockout"))
    scenarios.append(guess(url, backoffice, wide, args.guesses, None, "fullwidth_fresh_budget"))
    scenarios.append(guess(url, backoffice, args.user.upper(), args.guesses, None, "uppercase_budget"))
    per_spelling = [
        guess(url, backoffice, spelling, args.per_spelling, None, "spelling")
        for spelling in spellings(args.user, args.spellings)
    ]
    scenarios.append(
        Scenario(
            f"spellings_x{len(per_spelling)}",
            ", ".join(s.username for s in per_spelling),
            sum(s.wrong_guesses for s in per_spelling),
            sum(s.checked for s in per_spelling),
            sum(s.refused_as_locked for s in per_spelling),
            None,
        )
    )
    if args.admin:
        scenarios.append(guess(url, "/admin/login/", args.admin, args.guesses, args.admin_password, "admin"))
    return scenarios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", required=True, help="a back-office username (ASCII)")
    parser.add_argument("--password", required=True, help="its real password")
    parser.add_argument("--admin", default="", help="a staff username for /admin/login/")
    parser.add_argument("--admin-password", default="")
    parser.add_argument("--guesses", type=int, default=32)
    parser.add_argument("--spellings", type=int, default=8)
    parser.add_argument("--per-spelling", type=int, default=5)
    scenarios = run(parser.parse_args(argv))
    json.dump([asdict(s) for s in scenarios], sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
