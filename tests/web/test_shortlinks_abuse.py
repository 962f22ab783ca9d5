"""Short links under attack: a quota per client, a bounded store whose links made keep working,
atomic inserts across processes, a private data directory, and a 503 for a store that cannot
be opened; against the store, the app, and the production server (python -m app.web.serve)."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.web.app import create_app
from app.web.routers.shortlinks import client_key
from app.web.settings import Settings, default_data_dir
from app.web.shortlinks import (
    DB_NAME,
    ShortLinkError,
    ShortLinkStore,
    StoreUnavailable,
    link_id,
)
from tests.liveserver import free_port, live_server

HX = {"HX-Request": "true"}


def _spec(n: int) -> str:
    return f"input {n % 200 + 8}x8x3\nconv {n // 200 + 1} 3x3\n"


# --- the data directory -------------------------------------------------------------------------

def test_the_data_directory_is_made_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        ShortLinkStore(tmp_path / "state" / "archcalc", 10).put({"spec": "input 8x8x3"})
    finally:
        os.umask(old)
    folder = tmp_path / "state" / "archcalc"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / DB_NAME).stat().st_mode) == 0o600


def test_a_planted_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (tmp_path / "data").symlink_to(victim)
    with pytest.raises(StoreUnavailable, match="is a symbolic link"):
        ShortLinkStore(tmp_path / "data", 10).put({"spec": "input 8x8x3"})
    assert list(victim.iterdir()) == []
    # the database file itself planted as a link, in a private folder
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.sqlite3"
    (private / DB_NAME).symlink_to(target)
    with pytest.raises(StoreUnavailable, match=r"file .* is a symbolic link"):
        ShortLinkStore(private, 10).put({"spec": "input 8x8x3"})
    assert not target.exists()


def test_a_directory_others_may_enter_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o755)
    with pytest.raises(StoreUnavailable, match="mode 0755"):
        ShortLinkStore(folder, 10).put({"spec": "input 8x8x3"})
    assert not (folder / DB_NAME).exists()


def test_a_directory_of_another_user_is_refused(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    owner = folder.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # as if the server ran as another user
    with pytest.raises(StoreUnavailable, match=f"owned by uid {owner}"):
        ShortLinkStore(folder, 10).get("a" * 13)


def test_the_default_is_the_users_state_directory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_data_dir() == tmp_path / "state" / "archcalc"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / ".local" / "state" / "archcalc"
    monkeypatch.setenv("HOME", str(tmp_path / "missing"))
    assert default_data_dir().name == f"archcalc-{os.geteuid()}"
    monkeypatch.setenv("ARCHCALC_DATA_DIR", str(tmp_path / "set"))
    assert Settings().data_dir == tmp_path / "set"


# --- atomic inserts ------------------------------------------------------------------------------

def _fill(args: tuple[str, int, int]) -> Counter[str]:
    """One process's share: put specs ``start`` .. ``start + 29`` and the one all share."""
    folder, bound, start = args
    store, seen = ShortLinkStore(Path(folder), bound), Counter[str]()
    for n in [*range(start, start + 30), -1]:
        for _ in range(5):  # a loaded machine may keep the lock past BUSY_SECONDS: ask again
            try:
                seen[store.put({"spec": _spec(n) if n >= 0 else "input 5x5x5"})] += 1
            except StoreUnavailable as exc:
                if exc.busy:
                    continue
                seen[f"unavailable: {exc}"] += 1
            except ShortLinkError as exc:
                seen[exc.limit] += 1
            break
    return seen


def test_processes_racing_at_the_bound_cannot_overshoot_it(tmp_path: Path) -> None:
    bound = 50
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_fill, [(str(tmp_path), bound, 30 * i) for i in range(4)])
    outcome: Counter[str] = sum(results, Counter())
    store = ShortLinkStore(tmp_path, bound)
    assert store.count() == bound
    refusals = outcome.pop("shortlinks_max", 0)
    assert all(len(key) == 13 for key in outcome), outcome  # ids, nothing else
    assert sum(outcome.values()) + refusals == 4 * 31
    # what was answered with an id is stored under it
    assert all(store.get(key) is not None for key in outcome)


def test_a_writer_between_the_check_and_the_insert_cannot_overshoot_the_bound(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race made certain: the first writer stops after checking the bound (when it stamps
    the row's time) until the second writer is done, or a second has passed."""
    store = ShortLinkStore(tmp_path, 1)
    checked, second_done = threading.Event(), threading.Event()
    real_time = time.time

    def stamp() -> float:
        if threading.current_thread().name == "first" and not checked.is_set():
            checked.set()
            second_done.wait(1.0)
        return real_time()

    monkeypatch.setattr(time, "time", stamp)
    first = threading.Thread(target=store.put, args=({"spec": "input 8x8x3"},), name="first")
    first.start()
    assert checked.wait(10)
    try:
        with pytest.raises(ShortLinkError):  # it waited for the first writer, then saw the bound
            store.put({"spec": "input 9x9x3"})
    finally:
        second_done.set()
        first.join(10)
    assert store.count() == 1 and store.get(link_id({"spec": "input 8x8x3"})) is not None


def test_threads_of_one_process_racing_at_the_bound_cannot_overshoot_it(tmp_path: Path) -> None:
    """As the analysis threads of one server process do."""
    store = ShortLinkStore(tmp_path, 40)

    def put(n: int) -> str:
        try:
            return store.put({"spec": _spec(n)})
        except ShortLinkError as exc:
            return exc.limit

    with ThreadPoolExecutor(12) as pool:
        outcome = Counter(len(key) == 13 or key for key in pool.map(put, range(120)))
    assert outcome == {True: 40, "shortlinks_max": 80} and store.count() == 40


def test_identical_states_racing_get_one_row_and_one_id(tmp_path: Path) -> None:
    store = ShortLinkStore(tmp_path, 10)
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: store.put({"spec": "input 9x9x9"}), range(64)))
    assert len(keys) == 1 and store.count() == 1


# --- the quota and the 503, in the app -----------------------------------------------------------

def _client(tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path / "data", **settings)))


def test_new_links_past_the_quota_are_a_429_with_retry_after(tmp_path: Path) -> None:
    client = _client(tmp_path, shortlinks_per_hour=1.0, shortlinks_burst=3)
    made = [client.post("/s", data={"spec": _spec(n)}, follow_redirects=False)
            for n in range(3)]
    assert [r.status_code for r in made] == [303] * 3
    refused = client.post("/s", data={"spec": _spec(3)}, headers=HX)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert "too many new short links from your address" in refused.text
    assert "shortlinks_per_hour" in refused.text
    plain = client.post("/s", data={"spec": _spec(4)}, follow_redirects=False)
    assert plain.status_code == 429 and plain.template.name == "error.html"
    # a link already made is given again (nothing new is stored), and it still opens
    again = client.post("/s", data={"spec": _spec(0)}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == made[0].headers["location"]
    assert client.get(made[0].headers["location"]).status_code == 200


@pytest.mark.parametrize("host, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:1:2:3", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    (None, "unknown"),
])
def test_a_client_is_an_address_and_ipv6_a_whole_64(host: str | None, key: str) -> None:
    assert client_key(host) == key


def _unopenable(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (tmp_path / "data").symlink_to(victim)
    return victim


def test_a_store_that_cannot_be_opened_is_a_503_that_names_no_path(tmp_path: Path) -> None:
    _unopenable(tmp_path)
    client = _client(tmp_path)
    for headers in (HX, {}):
        response = client.post("/s", data={"spec": "input 8x8x3"}, headers=headers)
        assert response.status_code == 503 and response.headers["Retry-After"] == "60"
        assert "cannot open its short-link store" in response.text
        assert str(tmp_path) not in response.text
    page = client.get("/s/aaaaaaaaaaaaa")
    assert page.status_code == 503 and "cannot open its short-link store" in page.text
    assert str(tmp_path) not in page.text


def test_a_file_that_is_no_database_is_a_503(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    (folder / DB_NAME).write_bytes(b"not a database, " * 100)
    response = _client(tmp_path).post("/s", data={"spec": "input 8x8x3"}, headers=HX)
    assert response.status_code == 503


# --- the production server -----------------------------------------------------------------------

@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start ``python -m app.web.serve`` with extra ``ARCHCALC_*`` settings; yields a starter."""
    started: list[Any] = []

    def start(**settings: str) -> str:
        port = free_port()
        env = os.environ | {f"ARCHCALC_{k.upper()}": v for k, v in settings.items()}
        server = live_server(["app.web.serve", "--host", "127.0.0.1", "--port", str(port)],
                             tmp_path / f"serve-{port}.log", port, env, ready="/healthz")
        started.append(server)
        return server.__enter__()

    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)


def _post(base: str, spec: str) -> httpx2.Response:
    body = urllib.parse.urlencode({"spec": spec})
    return httpx2.post(base + "/s", content=body, timeout=30,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})


def _post_as_a_client_would(base: str, spec: str) -> httpx2.Response:
    """A machine under load may answer "busy" (503 with Retry-After): a client asks again."""
    for _ in range(5):
        response = _post(base, spec)
        if response.status_code != 503:
            return response
        assert response.headers["Retry-After"] == "1" and "busy" in response.text
        time.sleep(1)
    return response


def test_one_address_cannot_flood_the_store(tmp_path: Path, serve: Any) -> None:
    # one token an hour: however slowly a loaded machine answers, none comes back mid-test
    base = serve(data_dir=str(tmp_path / "data"), shortlinks_per_hour="1")
    answers = [_post(base, _spec(n)) for n in range(60)]
    codes = Counter(r.status_code for r in answers)
    burst = Settings().shortlinks_burst
    assert codes == {303: burst, 429: 60 - burst}, codes
    made = [r.headers["location"] for r in answers if r.status_code == 303]
    assert all(loc.startswith("/s/") and len(loc) == 3 + 13 for loc in made)
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1 and "short links" in refused.text
    assert ShortLinkStore(tmp_path / "data", 10).count() == burst
    assert httpx2.get(base + made[0], timeout=30).status_code == 200


def test_concurrent_creation_across_server_processes_keeps_the_bound(tmp_path: Path,
                                                                     serve: Any) -> None:
    base = serve(data_dir=str(tmp_path / "data"), workers="2", shortlinks_max="25",
                 shortlinks_burst="1000")
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda n: _post_as_a_client_would(base, _spec(n)), range(80)))
    codes = Counter(r.status_code for r in answers)
    assert codes == {303: 25, 422: 55}, codes
    assert ShortLinkStore(tmp_path / "data", 25).count() == 25
    full = next(r for r in answers if r.status_code == 422)
    assert "short-link store is full" in full.text and "keep working" in full.text
    with ThreadPoolExecutor(12) as pool:
        again = list(pool.map(lambda _: _post_as_a_client_would(base, _spec(0)), range(24)))
    first = next(r for r in answers if r.status_code == 303 and r.request.content ==
                 urllib.parse.urlencode({"spec": _spec(0)}).encode())
    assert {r.headers.get("location") for r in again} == {first.headers["location"]}


def test_the_server_answers_503_for_a_planted_store_and_keeps_serving(tmp_path: Path,
                                                                      serve: Any) -> None:
    victim = _unopenable(tmp_path)
    base = serve(data_dir=str(tmp_path / "data"))
    response = _post(base, "input 8x8x3")
    assert response.status_code == 503 and "short-link store" in response.text
    assert httpx2.get(base + "/s/aaaaaaaaaaaaa", timeout=30).status_code == 503
    assert httpx2.get(base + "/healthz", timeout=30).status_code == 200
    assert list(victim.iterdir()) == []
