"""Debian's Chromium driven by Playwright: the one browser the tests use (Playwright's own
browser download needs a host these machines cannot reach; scripts/install_chromium.sh)."""

from __future__ import annotations

from collections.abc import Sequence

from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing that reaches out to Google's hosts, which this network refuses.
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def launch(playwright: Playwright, extra_args: Sequence[str] = ()) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
