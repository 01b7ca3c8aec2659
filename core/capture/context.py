"""What a window title tells about its content: the browser domain, when the title carries it
(for example with an "URL in title" extension, or while a page loads and the title is its URL)."""

from __future__ import annotations

import re

# Process names (lower-case, as /proc/<pid>/comm or WM_CLASS give them) of web browsers.
BROWSER_APPS = frozenset(
    {
        "firefox", "firefox-esr", "firefox-bin", "firefox.real", "librewolf", "waterfox",
        "tor browser", "torbrowser", "chrome", "google-chrome", "chromium", "chromium-browser",
        "brave", "brave-browser", "msedge", "microsoft-edge", "vivaldi", "vivaldi-bin", "opera",
        "epiphany", "falkon", "qutebrowser", "midori", "safari", "navigator",
    }
)  # fmt: skip

# Browser names browsers append to the page title (longest first so "… Private Browsing" wins).
_BROWSER_SUFFIXES = sorted(
    (
        "Mozilla Firefox Private Browsing", "Mozilla Firefox", "Firefox Private Browsing",
        "Firefox", "Tor Browser", "LibreWolf", "Waterfox", "Google Chrome", "Chromium",
        "Brave", "Microsoft Edge", "Microsoft\u200b Edge", "Vivaldi", "Opera", "Falkon",
        "qutebrowser", "Web", "Safari",
    ),
    key=len,
    reverse=True,
)  # fmt: skip
_SEPARATORS = re.compile(r"\s+[-\u2013\u2014|\u00b7]\s+")
_HOST = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?"
    r"((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?::\d+)?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
# File extensions that look like top-level domains in titles such as "notes.txt" but are not.
_NOT_TLDS = frozenset(
    {
        "js", "ts", "txt", "pdf", "png", "jpg", "jpeg", "gif", "svg", "webp", "json", "xml",
        "csv", "html", "htm", "exe", "zip", "tar", "gz", "doc", "docx", "xls", "xlsx", "ppt",
        "pptx", "odt", "ods", "yaml", "yml", "toml", "ini", "cfg", "log", "mp3", "mp4", "mkv",
        "avi", "mov", "wav",
    }
)  # fmt: skip


def is_browser(app: str | None) -> bool:
    return (app or "").strip().lower() in BROWSER_APPS


def normalise_domain(host: str) -> str | None:
    """'https://WWW.Example.com:443/x' -> 'example.com'; None if it is not a host name."""
    m = _HOST.match(host.strip())
    if not m:
        return None
    domain = m.group(1).lower().rstrip(".")
    if domain.rsplit(".", 1)[-1] in _NOT_TLDS:
        return None
    return domain


def strip_browser_suffix(title: str) -> str:
    t = title.strip()
    for suffix in _BROWSER_SUFFIXES:
        m = re.search(r"\s*[-\u2013\u2014|]\s*" + re.escape(suffix) + r"\s*$", t)
        if m:
            return t[: m.start()].strip()
    return t


def domain_from_title(app: str | None, title: str | None) -> str | None:
    """The domain a browser window shows, if its title carries it; None otherwise (and for
    every non-browser app). Only a title segment that is entirely a host name or URL counts,
    so a page called "Why I like example.com" does not yield a domain."""
    if not title or not is_browser(app):
        return None
    page = strip_browser_suffix(title)
    if not page:
        return None
    segments = [s for s in _SEPARATORS.split(page) if s]
    # Extensions put the host last ("Title - example.com"); a loading page is only its URL.
    for segment in reversed(segments):
        domain = normalise_domain(segment)
        if domain:
            return domain
    return None
