"""`python build.py --serve` over real HTTP: rebuild and reload events, errors, files, checkout.

Each test starts the preview in-process on an ephemeral port (``start_preview(port=0)``) on
a fresh copy of the builder's fixture site, edits files as an author would, and reads the
live-reload event stream with a timeout.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from build_support import ROOT, run_build, snapshot, write_site
from stripe_stub import StripeStub
from test_front_matter import with_repo_templates

from launchkit.errors import SiteError
from launchkit.preview import EVENTS_PATH, SCRIPT_PATH, Preview, only_pages, start_preview

REFERRAL = "0d3f9c2e-5b7a-4e1f-9a6b-2c8d4e6f8a1b"
TIMEOUT = 10  # seconds: generous for a 2-core machine; no timing is asserted here
BROKEN_BUY = "---\ntitle: Buy\n---\nPick a plan.\n\n{{< buy nosuch >}}\n"


class EventStream:
    """The preview's Server-Sent-Events stream, read over a real connection."""

    def __init__(self, preview: Preview) -> None:
        parts = urlsplit(preview.url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
        self._connection.request("GET", EVENTS_PATH)
        self.response = self._connection.getresponse()

    def next(self, seconds: float = 3 * TIMEOUT) -> tuple[str, str]:
        """The next event's name and data (comments and ``retry:`` skipped), within
        ``seconds`` (the stream's keep-alive comments alone do not make it wait longer)."""
        name, data = "message", []
        deadline = time.monotonic() + seconds
        while True:
            assert time.monotonic() < deadline, f"no event in {seconds} s"
            line = self.response.readline().decode().rstrip("\n")
            if line == "" and data:
                return name, "\n".join(data)
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))

    def wait_for(self, wanted: str, seconds: float = 3 * TIMEOUT) -> str:
        """The data of the next ``wanted`` event (an editor's save may trigger two builds)."""
        deadline = time.monotonic() + seconds
        while True:
            name, data = self.next(deadline - time.monotonic())
            if name == wanted:
                return data

    def close(self) -> None:
        self._connection.close()


@pytest.fixture
def events(preview: Preview) -> Iterator[EventStream]:
    with closing(EventStream(preview)) as stream:
        yield stream


def page(preview: Preview, path: str) -> BeautifulSoup:
    response = requests.get(preview.url.rstrip("/") + path, timeout=TIMEOUT)
    assert response.status_code == 200, path
    return BeautifulSoup(response.text, "html.parser")


def main_text(preview: Preview, path: str) -> str:
    return page(preview, path).main.get_text(" ", strip=True)


# --- rebuild, reload, errors ---------------------------------------------------------------


def test_a_page_edit_rebuilds_reloads_the_tabs_and_serves_the_new_page(
    site: Path, preview: Preview, events: EventStream
) -> None:
    assert events.response.getheader("Content-Type").startswith("text/event-stream")
    name, first_build = events.next()
    assert name == "hello"
    assert main_text(preview, "/") == "Welcome."

    (site / "content/index.md").write_text("---\ntitle: Home\nmenu: Home\n---\nWelcome back.\n")

    new_build = events.wait_for("reload")
    assert new_build != first_build
    assert main_text(preview, "/") == "Welcome back."
    script = page(preview, "/").find("script", src=SCRIPT_PATH)
    assert script["data-build"] == new_build  # the reloaded tab knows it is up to date


def test_the_preview_prepares_the_next_rebuild_while_nobody_edits(
    site: Path, preview: Preview, events: EventStream
) -> None:
    """After its first build, and after each build that changed what documents need (a
    template edit that reads other names: the plan is kept, its index is not), the preview
    makes before anything is saved what a one-page rebuild would otherwise make first: the
    Markdown renderer and the plan's index of which documents need what (Preview.prepare).
    The first save is then as quick as the next ones."""
    events.wait_for("hello")
    assert preview.prepared.wait(TIMEOUT)
    context = preview.context
    assert context.markdown is not None
    first_plan = context.plan
    assert first_plan is not None and first_plan.dependents is not None
    first_index = first_plan.dependents

    base = site / "templates/base.html"
    edited = base.read_text(encoding="utf-8") + "<!-- {{ products | length }} -->\n"
    base.write_text(edited, encoding="utf-8")
    events.wait_for("reload")
    assert preview.prepared.wait(TIMEOUT)
    assert context.plan is first_plan  # kept: a template edit
    assert context.plan.dependents is not None and context.plan.dependents is not first_index

    (site / "content/index.md").write_text("---\ntitle: Home\nmenu: Home\n---\nPrepared.\n")
    events.wait_for("reload")
    assert main_text(preview, "/") == "Prepared."


def test_only_a_build_that_may_change_other_files_than_pages_moves_their_generation(
    site: Path, preview: Preview, events: EventStream
) -> None:
    """What tells a tab that it may swap in its page's new body (launchkit/site/livereload.js):
    the head's digest and the generation of the other files, which a page edit keeps and a
    stylesheet edit moves."""
    events.wait_for("hello")
    first = page(preview, "/blog/second/").find("script", src=SCRIPT_PATH)

    (site / "content/blog/second.md").write_text(
        "---\ntitle: Second <post>\ndate: 2026-03-04\n---\nLess.\n"
    )
    events.wait_for("reload")
    edited = page(preview, "/blog/second/").find("script", src=SCRIPT_PATH)
    assert edited["data-build"] != first["data-build"]
    assert (edited["data-head"], edited["data-assets"]) == (
        first["data-head"],
        first["data-assets"],
    )

    (site / "content/blog/second.md").write_text(
        "---\ntitle: Third\ndate: 2026-03-04\n---\nLess.\n"
    )
    events.wait_for("reload")
    retitled = page(preview, "/blog/second/").find("script", src=SCRIPT_PATH)
    # The title only describes the page: the tab copies it over, and swaps the body in.
    assert (retitled["data-head"], retitled["data-assets"]) == (
        first["data-head"],
        first["data-assets"],
    )

    (site / "static/css/site.css").write_text("body { margin: 1px }\n")
    events.wait_for("reload")
    restyled = page(preview, "/blog/second/").find("script", src=SCRIPT_PATH)
    assert restyled["data-assets"] != first["data-assets"]


def test_only_page_sources_and_files_no_build_reads_keep_the_other_files(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "blog").mkdir(parents=True)
    page, image = content / "blog/a.md", content / "blog/a.png"
    page.write_text("---\ntitle: A\n---\nA.\n")
    image.write_bytes(b"\x89PNG")
    known = {str(page), str(image)}  # what the last build read
    # vim's save: a swap file (hidden), a backup and a test file that came and went
    unread = {str(content / "blog/.a.md.swp"), str(content / "blog/a.md~"), str(content / "4913")}
    assert only_pages({str(page), *unread}, content, known)

    assert not only_pages({str(page), str(image)}, content, known)  # an image changed
    image.unlink()
    assert not only_pages({str(image)}, content, known)  # a file the last build published
    (content / "new.png").write_bytes(b"\x89PNG")
    assert not only_pages({str(content / "new.png")}, content, known)
    assert not only_pages({str(tmp_path / "static/css/site.css")}, content, known)
    assert not only_pages(None, content, known)  # which files changed is not known


def test_the_preview_shows_a_future_post_marked_that_a_build_leaves_out(tmp_path: Path) -> None:
    """A post dated next year: the preview shows it under a "Scheduled" banner, noindex;
    `python build.py` publishes nothing of it."""
    later = "---\ntitle: Next year\ndate: 2999-01-01\n---\nComing soon.\n"
    root = write_site(tmp_path, with_repo_templates({"content/blog/next-year.md": later}))
    running = start_preview(root / "site.toml", port=0, environ={})
    try:
        shown = page(running, "/blog/next-year/")
        assert "Scheduled for January 1, 2999" in shown.find(class_="draft-banner").text
        assert shown.head.find("meta", attrs={"name": "robots"})["content"] == "noindex"
    finally:
        running.stop()
    assert run_build(root).returncode == 0
    assert not (root / "public/blog/next-year").exists()


@pytest.mark.parametrize("temporary", ["content/.index.md.swp", "outside/index.md.tmp"])
def test_an_editors_save_by_rename_is_noticed(
    site: Path, preview: Preview, events: EventStream, temporary: str
) -> None:
    """Editors that write a temporary file and rename it over the page (vim, many IDEs, and
    every save from another folder) give a move, or a create with no delete: both rebuild."""
    events.wait_for("hello")
    written = site / temporary
    written.parent.mkdir(exist_ok=True)
    written.write_text("---\ntitle: Home\nmenu: Home\n---\nSaved by rename.\n")
    os.replace(written, site / "content/index.md")

    events.wait_for("reload")
    assert main_text(preview, "/") == "Saved by rename."


def test_events_the_system_dropped_make_the_next_build_look_at_every_file(
    site: Path, preview: Preview, events: EventStream
) -> None:
    """A page changed with no event for it (written through a hard link outside the watched
    folders, as a change whose event a full inotify queue dropped): when watchdog warns that
    events were lost, the next build looks at every file and finds it. The warning is
    watchdog's own line on its own logger; a real overflow would need the system-wide
    queue limit lowered."""
    events.wait_for("hello")
    elsewhere = site.parent / f"{site.name}-elsewhere.md"
    os.link(site / "content/index.md", elsewhere)
    with open(elsewhere, "r+", encoding="utf-8") as page_file:  # in place: the same file
        page_file.write("---\ntitle: Home\nmenu: Home\n---\nFound without an event.\n")
        page_file.truncate()
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost"
    )
    events.wait_for("reload")
    assert main_text(preview, "/") == "Found without an event."


def test_a_broken_page_is_an_error_event_naming_path_line_while_the_old_page_stays(
    site: Path, preview: Preview, events: EventStream
) -> None:
    events.wait_for("hello")
    assert page(preview, "/buy/").find("form") is not None

    (site / "content/buy.md").write_text(BROKEN_BUY)

    error = json.loads(events.wait_for("error"))
    assert error["location"].endswith("content/buy.md:6")
    assert error["text"].startswith(f"{error['location']}: unknown product 'nosuch'")
    assert page(preview, "/buy/").find("form") is not None  # the last good build

    # A tab opened while the build is broken is told at once.
    with closing(EventStream(preview)) as late:
        late.wait_for("hello")
        assert json.loads(late.wait_for("error")) == error

    (site / "content/buy.md").write_text("---\ntitle: Buy\n---\nSold out.\n")
    events.wait_for("reload")
    assert main_text(preview, "/buy/") == "Sold out."
    # The error is gone for new tabs too: after hello, the next event is the next build's.
    with closing(EventStream(preview)) as after_fix:
        assert after_fix.next()[0] == "hello"
        (site / "content/buy.md").write_text("---\ntitle: Buy\n---\nBack soon.\n")
        assert after_fix.next()[0] == "reload"


def test_a_config_edit_is_reloaded_and_a_bad_config_is_an_error(
    site: Path, preview: Preview, events: EventStream
) -> None:
    events.wait_for("hello")
    config = site / "site.toml"
    good = config.read_text()

    config.write_text(good.replace('title = "Shop"', 'title = "Shop Two"'))
    events.wait_for("reload")
    assert page(preview, "/").title.get_text() == "Home | Shop Two"

    config.write_text(good.replace('base_url = "https://shop.example"', "base_url = 42"))
    error = json.loads(events.wait_for("error"))
    assert error["location"].endswith("site.toml:3")
    assert page(preview, "/").title.get_text() == "Home | Shop Two"


# --- what is served ------------------------------------------------------------------------


def test_live_reload_is_added_to_served_html_only(site: Path, preview: Preview) -> None:
    soup = page(preview, "/")
    scripts = soup.find_all("script", src=SCRIPT_PATH)
    assert len(scripts) == 1
    assert scripts[0].find_parent("body") is soup.body
    assert soup.body.find_all(recursive=False)[-1] is scripts[0]  # after the page's own scripts

    script = requests.get(preview.url + SCRIPT_PATH.lstrip("/"), timeout=TIMEOUT)
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "EventSource" in script.text

    built = snapshot(preview.site_dir)
    assert "index.html" in built and "buy/index.html" in built
    assert not [name for name, data in built.items() if b"__livereload" in data]
    result = run_build(site)
    assert result.returncode == 0, result.stderr
    published = snapshot(site / "public")
    assert not [name for name, data in published.items() if b"__livereload" in data]


def test_files_are_served_as_a_static_host_serves_them(preview: Preview) -> None:
    base = preview.url.rstrip("/")
    (stylesheet,) = (preview.site_dir / "css").glob("site.*.css")  # a fingerprinted name
    css = requests.get(f"{base}/css/{stylesheet.name}", timeout=TIMEOUT)
    assert css.status_code == 200
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.text == "body { margin: 0 }\n"
    # Kept by the browser and revalidated at each use: a reload refetches no stylesheet.
    assert css.headers["Cache-Control"] == "no-cache"
    validator = {"If-None-Match": css.headers["ETag"]}
    again = requests.get(f"{base}/css/{stylesheet.name}", headers=validator, timeout=TIMEOUT)
    assert (again.status_code, again.content) == (304, b"")
    (preview.site_dir / "css" / stylesheet.name).write_text("body { margin: 2px }\n")
    changed = requests.get(f"{base}/css/{stylesheet.name}", headers=validator, timeout=TIMEOUT)
    assert (changed.status_code, changed.text) == (200, "body { margin: 2px }\n")

    assert main_text(preview, "/team/") == "a b 1 2"
    slashless = requests.get(base + "/team?x=1", allow_redirects=False, timeout=TIMEOUT)
    assert slashless.status_code == 301
    assert slashless.headers["Location"] == "/team/?x=1"

    missing = requests.get(base + "/no/such/page/", timeout=TIMEOUT)
    assert missing.status_code == 404
    soup = BeautifulSoup(missing.text, "html.parser")
    assert soup.title.get_text() == "Not found | Shop"
    assert soup.find("script", src=SCRIPT_PATH) is not None

    assert requests.post(base + "/buy/", timeout=TIMEOUT).status_code == 405
    assert requests.head(base + "/", timeout=TIMEOUT).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    # The preview folder is .cache/preview/ beside site.toml: two levels up is the project.
    "path",
    [
        "/../../site.toml",
        "/%2e%2e/%2e%2e/site.toml",
        "/..%2f..%2fsite.toml",
        "/css/../../../site.toml",
    ],
)
def test_no_file_outside_the_preview_folder_is_served(preview: Preview, path: str) -> None:
    parts = urlsplit(preview.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    with closing(connection):
        connection.request("GET", path)  # sent as written: no client-side normalisation
        response = connection.getresponse()
        body = response.read().decode()
    assert response.status == 404
    assert "[products.pro]" not in body


# --- the mounted checkout ------------------------------------------------------------------


def buy_form(preview: Preview) -> tuple[str, dict[str, str]]:
    """The action and fields of the Team buy form, as the served page has them."""
    form = page(preview, "/buy/").find("form")
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    return form["action"], fields


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_dry_run_checkout_shows_the_stripe_parameters_with_the_referral(
    preview: Preview, host: str
) -> None:
    action, fields = buy_form(preview)
    assert action == "/create-checkout-session"  # this server, not the production endpoint
    origin = f"http://{host}:{urlsplit(preview.url).port}"

    response = requests.post(
        origin + action,
        data={**fields, "referral": REFERRAL},
        headers={"Origin": origin},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    params = json.loads(soup.find(id="params").get_text())
    assert params["client_reference_id"] == REFERRAL
    assert params["line_items"] == [{"price": "price_TeamSeat", "quantity": 2}]


def test_the_checkout_refuses_forms_from_other_origins(preview: Preview) -> None:
    action, fields = buy_form(preview)
    response = requests.post(
        preview.url.rstrip("/") + action,
        data=fields,
        headers={"Origin": "http://127.0.0.1:1"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 403


def test_with_a_test_key_the_checkout_creates_a_stripe_test_session(site: Path) -> None:
    with StripeStub() as stub:
        environ = {"STRIPE_SECRET_KEY": "sk_test_preview0001", "STRIPE_API_BASE": stub.url}
        running = start_preview(site / "site.toml", port=0, environ=environ)
        try:
            action, fields = buy_form(running)
            response = requests.post(
                running.url.rstrip("/") + action,
                data={**fields, "referral": REFERRAL},
                headers={"Origin": running.origins[0]},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
        finally:
            running.stop()
        assert response.status_code == 303
        assert response.headers["Location"].startswith(f"{stub.url}/pay/cs_test_")
        assert stub.sessions[-1]["client_reference_id"] == REFERRAL


@pytest.mark.parametrize("key", ["sk_live_abc123", "rk_live_abc123"])
def test_a_live_key_is_refused(site: Path, key: str) -> None:
    with pytest.raises(SiteError, match="live key"):
        start_preview(site / "site.toml", port=0, environ={"STRIPE_SECRET_KEY": key})

    result = run_build(
        site, "--serve", "--port", "0", env={**_clean_env(), "STRIPE_SECRET_KEY": key}
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "live key" in line and "test key" in line
    assert key not in result.stderr


# --- the command line ----------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("STRIPE_")}


# How long the command may take to stop after Ctrl-C: the observer, the rebuilder, the
# server's threads and the interpreter's exit, on a 2-core machine that other jobs may load
# to 12 and more. A stop that hangs still fails; no timing is asserted (the stop's seconds
# are printed).
STOP_TIMEOUT = 60


def test_the_command_serves_until_ctrl_c(site: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "--serve", "--port", "0"],
        cwd=site,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        url = lines[1].split()[2]
        assert lines[1].startswith("Previewing at http://127.0.0.1:"), lines
        assert "dry run" in lines[1]
        assert requests.get(url, timeout=TIMEOUT).status_code == 200
        server.send_signal(signal.SIGINT)
        asked = time.monotonic()
        try:
            out, err = server.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
            pytest.fail(f"still running {STOP_TIMEOUT} s after Ctrl-C:\n{out}\n{err}")
        print(f"stopped {time.monotonic() - asked:.2f} s after Ctrl-C")
    finally:
        server.kill()
        server.wait()
    assert server.returncode == 0, err
    assert out.strip().endswith("Stopped.")
    assert "Traceback" not in err
    assert not (site / "public").exists()  # a preview never touches the published folder


def test_out_does_not_go_with_serve(site: Path) -> None:
    result = run_build(site, "--serve", "--out", "elsewhere")
    assert result.returncode == 2
    assert "--out does not go with --serve" in result.stderr


def test_every_error_of_a_build_is_shown_in_the_preview(
    site: Path, preview: Preview, events: EventStream
) -> None:
    events.wait_for("hello")
    (site / "content/a.md").write_text("---\ntitle: A\ndrafts: true\n---\n")
    (site / "content/b.md").write_text("---\ntitle: B\ntemplte: page\n---\n")
    error = json.loads(events.wait_for("error"))
    while "2 errors" not in error["text"]:  # a build may have started between the two saves
        error = json.loads(events.wait_for("error"))
    assert error["location"].endswith("content/a.md:3")  # where to start
    lines = error["text"].splitlines()
    assert lines[0].endswith("content/a.md:3: `drafts`: did you mean `draft`?")
    assert lines[2].endswith("content/b.md:3: `templte`: did you mean `template`?")
    assert lines[-1] == "2 errors: nothing published"
