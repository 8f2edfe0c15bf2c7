"""The page at `/` in headless Chromium: the searched profile is rendered server-side."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from connector.emulator import EmulatorServer
from tests.integration.emulator.tutorial import Provisioned, event_message, profile_message

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
EMAIL = "jdoe@testprofile.com"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is required for the emulator page test: install it with "
        "`apt-get update && apt-get install -y chromium` (as root)"
    )


def _chromium_args(binary: str, profile_dir: Path) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
    ]


def _stream(p: Provisioned) -> None:
    batch_url = p.inlet_url.replace("/collection/", "/collection/batch/")
    messages = [
        profile_message(p, EMAIL),
        event_message(p, EMAIL, "purchase-1"),
        event_message(p, EMAIL, "purchase-2", points=500),
        profile_message(p, "other@example.com", first="Max"),
    ]
    broken = event_message(p, EMAIL, "bad")
    broken["body"]["xdmEntity"]["_id"] = 15367038
    messages.append(broken)
    assert requests.post(batch_url, json={"messages": messages}, timeout=5).status_code == 207


def test_page_shows_searched_profile(emulator: EmulatorServer, provisioned: Provisioned, tmp_path: Path) -> None:
    """Chromium renders the page; the dumped DOM holds the streamed profile, its events and the failure."""
    binary = _chromium()
    _stream(provisioned)
    url = f"{emulator.url}/?{urlencode({'ns': 'Email', 'id': EMAIL})}"
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "emulator-page.png"
    screenshot.unlink(missing_ok=True)
    base = _chromium_args(binary, tmp_path / "chromium")
    shot = subprocess.run(
        [*base, f"--screenshot={screenshot}", "--window-size=1280,1000", url],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert screenshot.exists(), shot.stderr.decode(errors="replace")[-2000:]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, timeout=120, check=False)
    html = dom.stdout.decode()
    assert 'id="profile-found"' in html, dom.stderr.decode(errors="replace")[-2000:]
    assert EMAIL in html
    assert "purchase-1" in html
    assert "purchase-2" in html
    assert "Loyalty profiles" in html
    assert "expected type: String, found: Integer" in html
