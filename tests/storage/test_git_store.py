"""storage.git: a real bare repository, a second clone making conflicts, a hook that refuses.

Everything runs against ``git init --bare`` repositories in tmp_path (and one smart-HTTP server
on 127.0.0.1 for credentials). The remote's history is watched throughout: it only ever grows,
each head a descendant of the one before.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.base import Change, ChangeKind, StoreError, StoreUnavailable
from storage.git import GitStore
from tests.storage._git_http import GitHttpServer
from tests.storage._git_repos import Operator, Remote, git
from tests.storage._outage import loop_gauge, silent_listener

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs the git CLI"),
    pytest.mark.timeout(60),
]

CANARY = "canary-7f3e-not-for-commits"
TOKEN = "tok-5b1d-secret-never-logged"


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    repo = Remote(tmp_path / "remote.git")
    yield repo
    repo.head()  # one last check that history only grew


@pytest.fixture
async def store(remote: Remote, tmp_path: Path) -> AsyncIterator[GitStore]:
    s = GitStore(str(remote.path), local_path=tmp_path / "clone", timeout=10, poll_interval=0.1)
    await s.start()
    yield s
    await s.close()


async def next_changes(it: AsyncIterator[Change], count: int) -> set[Change]:
    """The next ``count`` changes, within a few seconds."""
    async with asyncio.timeout(10):
        return {await anext(it) for _ in range(count)}


async def test_empty_remote_gets_a_first_commit_on_the_branch(
    store: GitStore, remote: Remote
) -> None:
    assert remote.head() is not None
    assert remote.count() == 1
    assert "aiproxyapi <aiproxyapi@localhost>" in remote.log()
    assert store.kind == "git"
    assert await store.read_config() is None
    assert await store.list_auth() == {}


async def test_documents_round_trip_in_the_repository_layout(
    store: GitStore, remote: Remote
) -> None:
    await store.write_config(b"port: 8317\n")
    await store.write_auth("claude-a@b.com.json", b'{"type": "claude"}')
    await store.write_state("usage", b"\x00\xffbinary\r\n")
    assert remote.show("config/config.yaml") == b"port: 8317\n"
    assert remote.show("auths/claude-a@b.com.json") == b'{"type": "claude"}'
    assert remote.show("state/usage") == b"\x00\xffbinary\r\n"  # byte-exact, no eol rewrite
    assert await store.list_auth() == {"claude-a@b.com.json": b'{"type": "claude"}'}
    await store.delete_auth("claude-a@b.com.json")
    await store.delete_auth("claude-a@b.com.json")  # already gone: not an error
    assert await store.read_auth("claude-a@b.com.json") is None
    assert await store.read_state("usage") == b"\x00\xffbinary\r\n"
    assert await store.pending() == 0
    remote.head()


async def test_identical_bytes_make_no_commit(store: GitStore, remote: Remote) -> None:
    await store.write_state("usage", b"same")
    before = remote.count()
    await store.write_state("usage", b"same")
    assert remote.count() == before


@pytest.mark.invariant(4, 17)
async def test_commit_messages_name_the_document_never_its_content(
    store: GitStore, remote: Remote
) -> None:
    await store.write_auth("codex-x.json", f'{{"refresh_token": "{CANARY}"}}'.encode())
    await store.write_config(f"api-keys: [{CANARY}]\n".encode())
    await store.write_state("usage", CANARY.encode())
    await store.delete_auth("codex-x.json")
    log = remote.log()
    assert CANARY not in log
    for message in (
        "Update auth codex-x.json",
        "Update config",
        "Update state usage",
        "Delete auth codex-x.json",
    ):
        assert message in log


@pytest.mark.invariant(10)
async def test_bad_names_never_reach_git(store: GitStore, remote: Remote) -> None:
    before = remote.count()
    for name in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(StoreError):
            await store.write_auth(name, b"x")
    assert remote.count() == before


@pytest.mark.invariant(17)
async def test_non_fast_forward_is_rebased_and_pushed(
    store: GitStore, remote: Remote, tmp_path: Path
) -> None:
    await store.write_auth("a.json", b"A1")
    old = remote.head()
    op = Operator(remote, tmp_path / "op")
    op.commit({"auths/b.json": b"B-from-operator"})
    theirs = remote.head()
    await store.write_auth("a.json", b"A2")  # rejected first (fetch first), then rebased
    new = remote.head()
    assert old is not None
    assert theirs is not None
    assert new is not None
    git("--git-dir", str(remote.path), "merge-base", "--is-ancestor", theirs, new)
    assert remote.show("auths/a.json") == b"A2"
    assert remote.show("auths/b.json") == b"B-from-operator"
    assert await store.read_auth("b.json") == b"B-from-operator"
    assert "operator edit" in remote.log()


async def test_same_document_edited_on_both_sides_keeps_our_whole_version(
    store: GitStore, remote: Remote, tmp_path: Path
) -> None:
    await store.write_config(b"a: 1\nb: 2\nc: 3\n")
    op = Operator(remote, tmp_path / "op")
    op.commit({"config/config.yaml": b"a: 1\nb: 2\nc: 30\n", "auths/gone.json": b"x"})
    await store.write_config(b"a: 10\nb: 2\nc: 3\n")  # a line merge would give a: 10 and c: 30
    assert remote.show("config/config.yaml") == b"a: 10\nb: 2\nc: 3\n"
    op.commit({"auths/gone.json": b"changed by operator"})
    await store.write_auth("gone.json", b"ours")
    op.commit({"auths/gone.json": None})  # they delete what we changed: our next write wins
    await store.delete_auth("gone.json")
    assert await store.read_auth("gone.json") is None
    remote.head()


@pytest.mark.invariant(17)
async def test_refused_push_keeps_the_commit_and_pushes_it_later(
    store: GitStore, remote: Remote
) -> None:
    await store.write_auth("a.json", b"A1")
    before, count = remote.head(), remote.count()
    remote.refuse(True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StoreUnavailable) as caught:
        await store.write_auth("a.json", f"A2 {CANARY}".encode())
    assert loop.time() - started < 10 + 1
    assert "refused" in str(caught.value)
    assert CANARY not in str(caught.value)
    assert remote.head() == before
    assert remote.count() == count
    assert await store.read_auth("a.json") == f"A2 {CANARY}".encode()  # the local commit stays
    assert await store.pending() == 1
    with pytest.raises(StoreUnavailable):
        await store.flush()
    remote.refuse(False)
    await store.write_state("usage", b"u")  # the next write pushes both commits
    assert await store.pending() == 0
    assert remote.count() == count + 2
    assert remote.show("auths/a.json") == f"A2 {CANARY}".encode()
    remote.head()


async def test_a_poll_pushes_what_a_refused_write_left(store: GitStore, remote: Remote) -> None:
    remote.refuse(True)
    with pytest.raises(StoreUnavailable):
        await store.write_config(b"x: 1\n")
    remote.refuse(False)
    changes = store.changes()
    poll = asyncio.create_task(anext(changes))
    for _ in range(200):  # 10 s at most
        if not await store.pending():
            break
        await asyncio.sleep(0.05)
    poll.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await poll
    assert remote.show("config/config.yaml") == b"x: 1\n"


async def test_changes_report_another_clones_commits_and_deletions(
    store: GitStore, remote: Remote, tmp_path: Path
) -> None:
    await store.write_auth("old.json", b"old")
    changes = store.changes()
    op = Operator(remote, tmp_path / "op")
    op.commit({"auths/new.json": b"new", "config/config.yaml": b"debug: true\n", "README": b"hi"})
    assert await next_changes(changes, 2) == {
        Change(ChangeKind.AUTH, "new.json"),
        Change(ChangeKind.CONFIG),
    }
    assert await store.read_auth("new.json") == b"new"
    assert await store.read_config() == b"debug: true\n"
    op.commit({"auths/old.json": None, "state/usage": b"7"})
    assert await next_changes(changes, 2) == {
        Change(ChangeKind.AUTH, "old.json", deleted=True),
        Change(ChangeKind.STATE, "usage"),
    }
    assert await store.read_auth("old.json") is None


async def test_changes_pulled_in_by_a_write_are_reported(
    store: GitStore, remote: Remote, tmp_path: Path
) -> None:
    changes = store.changes()
    Operator(remote, tmp_path / "op").commit({"auths/theirs.json": b"t"})
    await store.write_auth("ours.json", b"o")  # its rebase brings theirs.json in
    assert await next_changes(changes, 1) == {Change(ChangeKind.AUTH, "theirs.json")}


async def test_restart_reuses_the_clone_and_commits_a_write_cut_short(
    remote: Remote, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    first = GitStore(str(remote.path), local_path=clone, timeout=10)
    await first.start()
    await first.write_auth("a.json", b"A1")
    await first.close()
    (clone / "auths" / "a.json").write_bytes(b"A2-written-before-a-crash")
    (clone / "auths" / ".a.json.tmp-0123456789ab").write_bytes(b"torn")
    second = GitStore(str(remote.path), local_path=clone, timeout=10)
    await second.start()
    assert remote.show("auths/a.json") == b"A2-written-before-a-crash"
    assert await second.list_auth() == {"a.json": b"A2-written-before-a-crash"}
    assert "Recover uncommitted changes" in remote.log()
    await second.close()


async def test_a_fresh_clone_sees_what_another_instance_wrote(
    store: GitStore, remote: Remote, tmp_path: Path
) -> None:
    await store.write_config(b"c: 1\n")
    other = GitStore(str(remote.path), local_path=tmp_path / "other", timeout=10)
    await other.start()
    assert await other.read_config() == b"c: 1\n"
    await other.close()


async def test_token_goes_only_to_the_server(tmp_path: Path) -> None:
    git("init", "-q", "--bare", str(tmp_path / "srv" / "repo.git"))
    server = GitHttpServer(tmp_path / "srv", username="gw", token=TOKEN).start()
    try:
        url = server.url("repo.git")
        store = GitStore(url, username="gw", token=TOKEN, local_path=tmp_path / "clone", timeout=10)
        await store.start()
        await store.write_auth("a.json", b"A")
        await store.close()
        assert server.seen_auth
        assert set(server.seen_auth) == {server.expected}
        assert TOKEN not in (tmp_path / "clone" / ".git" / "config").read_text()
        embedded = url.replace("http://", f"http://gw:{TOKEN}@")
        again = GitStore(embedded, local_path=tmp_path / "clone2", timeout=10)
        assert TOKEN not in repr(again)
        await again.start()  # credentials in the URL are moved out of it, then used
        assert await again.read_auth("a.json") == b"A"
        assert TOKEN not in (tmp_path / "clone2" / ".git" / "config").read_text()
        wrong = GitStore(
            embedded.replace(TOKEN, "wrong-" + TOKEN), local_path=tmp_path / "c3", timeout=10
        )
        with pytest.raises(StoreUnavailable) as caught:
            await wrong.start()  # no prompt, no hang: a plain failure without the token
        assert TOKEN not in str(caught.value)
    finally:
        server.stop()


async def test_a_silent_remote_times_out_without_blocking_the_loop(tmp_path: Path) -> None:
    with silent_listener() as port:
        store = GitStore(
            f"http://127.0.0.1:{port}/repo.git", token=TOKEN, local_path=tmp_path / "c", timeout=1.0
        )
        loop = asyncio.get_running_loop()
        async with loop_gauge() as gauge:
            started = loop.time()
            with pytest.raises(StoreUnavailable) as caught:
                await store.start()
            elapsed = loop.time() - started
        assert elapsed < 3.0
        assert gauge.ticks > 20
        assert gauge.worst < 0.25
        assert TOKEN not in str(caught.value)


async def test_an_unreachable_remote_raises_store_unavailable(tmp_path: Path) -> None:
    store = GitStore(str(tmp_path / "missing.git"), local_path=tmp_path / "c", timeout=5)
    with pytest.raises(StoreUnavailable):
        await store.start()


def test_bad_branch_names_are_refused(tmp_path: Path) -> None:
    for branch in ("-x", "a..b", "x.lock", "a b"):
        with pytest.raises(StoreError):
            GitStore("/nowhere", branch=branch, local_path=tmp_path)


@pytest.mark.invariant(17)
def test_no_force_anywhere_in_the_push_path() -> None:
    import storage._gitsync as sync

    source = Path(sync.__file__).read_text() + Path(sync.__file__).with_name("git.py").read_text()
    assert '"--force' not in source
    assert "+HEAD" not in source  # the one "+" refspec is the fetch into our tracking ref
    assert source.count('"push"') == 1


async def test_two_instances_writing_at_once_all_land(
    store: GitStore, remote: Remote, tmp_path: Path
) -> None:
    other = GitStore(str(remote.path), local_path=tmp_path / "other", timeout=20)
    await other.start()
    writes = [store.write_auth(f"a-{n}.json", b"a") for n in range(8)]
    writes += [other.write_auth(f"b-{n}.json", b"b") for n in range(8)]
    writes += [store.write_config(b"from store\n"), other.write_config(b"from other\n")]
    await asyncio.gather(*writes)  # pushes race, get rejected, rebase, and land
    await other.flush()
    await store.flush()
    assert remote.files("auths") == {f"a-{n}.json" for n in range(8)} | {
        f"b-{n}.json" for n in range(8)
    }
    assert remote.show("config/config.yaml") in (b"from store\n", b"from other\n")
    assert await store.pending() == await other.pending() == 0
    remote.head()
    await other.close()
