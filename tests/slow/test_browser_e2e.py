"""End to end through the Dagster UI: `dagster dev` on a throw-away instance, headless Chromium.

The test writes two seed files (two domain partitions) into a temp project, starts `dagster dev` there
(webserver + daemon: dagster.yaml caps concurrent runs, so runs are queued and the daemon's
QueuedRunCoordinator launches them), checks that the UI shows `seed_tasks` with its two partitions,
launches one partition (`hukuk`) of the `seeds` group (`expanded_tasks` → `seed_tasks`; the teacher is
the in-process simulator) from the group's "Materialize all…" dialog, follows the run over the
webserver's GraphQL API until it succeeds, and checks the result in the UI and in DuckDB. A second test
backfills both domains from the UI (one run per stage group) and checks what a user checks: each
domain's page shows its own pass rate and row count, the score chart renders, and the pass_rate check
names the domains it covered.

Only public interfaces: the `dagster` CLI, HTTP (`/server_info`, `/graphql`) and the UI.
Needs Chromium (`apt-get install -y chromium`) and the `playwright` Python package (no browser download).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 180
UI_TIMEOUT_MS = 30_000
NUX_TIMEOUT_MS = 20_000

LOCATION = "anka_assets.definitions"  # `-m anka_assets.definitions` names the code location after the module
SEEDS = {
    "hukuk": """\
        domain: hukuk
        tasks:
          - instruction: "Türk Borçlar Kanunu'na göre temerrüdün şartlarını açıklayınız."
            sensitivity: public
            tags: [borclar_hukuku, aciklama]
          - instruction: "Kira sözleşmesinde kiracının başlıca borçlarını sıralayınız."
            sensitivity: public
            tags: [borclar_hukuku, kira]
          - instruction: "Haksız fiil sorumluluğunun unsurlarını bir örnek üzerinden açıklayınız."
            sensitivity: internal
            tags: [borclar_hukuku, ornek]
        """,
    "tarih": """\
        domain: tarih
        tasks:
          - instruction: "Malazgirt Meydan Muharebesi'nin Anadolu tarihi açısından önemini açıklayınız."
            sensitivity: public
            tags: [selcuklu, aciklama]
          - instruction: "Tanzimat Fermanı'nın getirdiği başlıca yenilikleri sıralayınız."
            sensitivity: public
            tags: [osmanli, reform]
          - instruction: "Harf İnkılâbı'nın okuma yazma oranına etkilerini tartışınız."
            sensitivity: public
            tags: [cumhuriyet]
        """,
}


def _chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _dagster_cli() -> str:
    beside_python = Path(sys.executable).parent / "dagster"
    return str(beside_python) if beside_python.exists() else (shutil.which("dagster") or "dagster")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    root: Path
    duckdb_path: Path
    log_path: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        import httpx

        # trust_env=False: never send loopback traffic through an HTTP(S)_PROXY from the environment.
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=30,
            trust_env=False,
        )
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def log_tail(self, chars: int = 15_000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"<no server log: {exc}>"


WORKSPACE_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results { runId status jobName assetSelection { path } tags { key value } }
    }
  }
}
"""

RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
      }
    }
  }
}
"""


def _wait_for_server(server: Server, proc: subprocess.Popen) -> None:
    """Wait until the webserver answers and the code location has loaded."""
    import httpx

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dagster dev exited early with {proc.returncode}\n{server.log_tail()}")
        try:
            httpx.get(f"{server.url}/server_info", timeout=5, trust_env=False).raise_for_status()
            entries = server.graphql(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
                assert not errors, f"code location failed to load: {errors}"
                return
            last_problem = f"locations not loaded yet: {entries}"
        except (httpx.HTTPError, KeyError, TypeError) as exc:
            last_problem = repr(exc)
        time.sleep(1)
    raise AssertionError(
        f"dagster dev did not come up within {SERVER_START_TIMEOUT_S} s ({last_problem})\n{server.log_tail()}"
    )


def _stop(proc: subprocess.Popen) -> None:
    """Stop `dagster dev` and everything it started (its own process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        # Whatever is left in the group (a run worker, the daemon) goes too.
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@pytest.fixture
def dagster_server(tmp_path: Path):
    root = tmp_path / "project"
    seeds_dir = root / "seeds"
    dagster_home = root / "dagster_home"
    seeds_dir.mkdir(parents=True)
    dagster_home.mkdir()
    for domain, text in SEEDS.items():
        (seeds_dir / f"{domain}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")

    port = _free_port()
    server = Server(
        url=f"http://127.0.0.1:{port}",
        root=root,
        duckdb_path=root / "warehouse.duckdb",
        log_path=tmp_path / "dagster_dev.log",
    )
    # Nothing from the caller's ANKA_* settings leaks in (a real teacher endpoint, another warehouse).
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANKA_")}
    env.update(
        DAGSTER_HOME=str(dagster_home),
        ANKA_DATA_DIR=str(root / "data"),
        ANKA_SEEDS_DIR=str(seeds_dir),
        ANKA_DUCKDB_PATH=str(server.duckdb_path),
        ANKA_REVIEWS_DIR=str(root / "data" / "reviews"),
        ANKA_REVIEW_QUEUE_DIR=str(root / "data" / "review_queue"),
        ANKA_TEACHER_BACKEND="simulator",
        ANKA_JUDGE_BACKEND="simulator",
        PYTHONUNBUFFERED="1",
    )
    with server.log_path.open("wb") as log:
        # dagster.yaml's storage paths are relative: cwd = the temp project keeps all state in it.
        # start_new_session: own process group, so SIGINT reaches it and killpg takes its children too.
        proc = subprocess.Popen(
            [_dagster_cli(), "dev", "-m", "anka_assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_server(server, proc)
        yield server
    finally:
        _stop(proc)
        # Shown by pytest only when the test fails.
        print(f"----- dagster dev log ({server.log_path}) -----\n{server.log_tail()}")


@pytest.fixture
def browser_page(tmp_path: Path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    chromium = _chromium_path()
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _find_runs(server: Server, partition: str) -> list[dict]:
    data = server.graphql(
        RUNS_QUERY, {"filter": {"tags": [{"key": "dagster/partition", "value": partition}]}}
    )
    return data["runsOrError"]["results"]


def _wait_for_run(server: Server, partition: str) -> dict:
    """The one run launched for `partition`, polled until it finishes; SUCCESS expected."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    run = None
    while time.monotonic() < deadline:
        runs = _find_runs(server, partition)
        assert len(runs) <= 1, f"expected one run for {partition}, found {runs}"
        run = runs[0] if runs else None
        if run and run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert run is not None, f"no run for partition {partition} appeared within {RUN_TIMEOUT_S} s"
    if run["status"] != "SUCCESS":
        events = server.graphql(RUN_EVENTS_QUERY, {"runId": run["runId"]})["logsForRun"].get("events", [])
        messages = "\n".join(f"{e.get('level')} {e.get('stepKey')}: {e.get('message')}" for e in events)
        state = "ended" if run["status"] in ("FAILURE", "CANCELED") else f"still, after {RUN_TIMEOUT_S} s,"
        raise AssertionError(f"run {run['runId']} {state} {run['status']} (wanted SUCCESS)\n{messages}")
    return run


def _read_seed_tasks(duckdb_path: Path) -> list[tuple[str, str, str]]:
    """(domain, origin, instruction) of every row of `anka.seed_tasks`."""
    import duckdb

    # The run's process has closed the file by the time the run is SUCCESS; retry briefly in case a
    # lock outlives it for a moment.
    for attempt in range(10):
        try:
            with duckdb.connect(str(duckdb_path), read_only=True) as con:
                return con.execute("select domain, origin, instruction from anka.seed_tasks").fetchall()
        except duckdb.IOException:
            if attempt == 9:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def _dismiss_community_dialog(page) -> None:
    """Skip the "Join the Dagster community" dialog of a fresh instance.

    The UI served from 127.0.0.1/localhost opens it about a second after *every* full page load until
    it is dismissed (then it remembers: localStorage and the instance), so it can pop up over a menu
    that is open at that moment and close it. Wait for it once, up front, and skip it; a locator
    handler stays registered as a safety net for later actions.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError, expect

    skip = page.get_by_role("button", name="Skip", exact=True)
    try:
        skip.wait_for(state="visible", timeout=NUX_TIMEOUT_MS)
    except PlaywrightTimeoutError:
        pass  # not shown: already dismissed on this instance, or a UI without it
    else:
        skip.click()
        expect(skip).to_be_hidden()
    page.add_locator_handler(skip, lambda button: button.click())


def _pick_partition(page, dialog, partition: str) -> None:
    """Select one partition in the launch dialog's partition picker (a popover menu of checkboxes)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError, expect

    picker = dialog.get_by_text("Select a partition or create one")
    filter_box = page.get_by_placeholder("Filter partitions")
    item = page.get_by_role("menuitem").filter(has=page.get_by_text(partition, exact=True))
    for attempt in range(3):
        if not filter_box.is_visible():  # (re)open the picker unless it is open already
            picker.click()
        try:
            item.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    item.click()
    # Close the picker by clicking the dialog's title (Escape would close the whole dialog).
    dialog.get_by_text("Launch runs to materialize").first.click()
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()


def test_materialize_one_partition_from_the_ui(browser_page, dagster_server: Server, tmp_path: Path):
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)  # the default 5 s is short for a cold UI on 2 cores
    server, page = dagster_server, browser_page
    shots = tmp_path / "screenshots"
    shots.mkdir()
    group_url = f"{server.url}/locations/{LOCATION}/asset-groups/seeds"
    try:
        # 1. The `seeds` group's lineage graph shows seed_tasks (and its upstream) with 2 partitions each.
        page.goto(group_url)
        _dismiss_community_dialog(page)
        seed_node = page.get_by_text("seed_tasks", exact=True).first
        expect(seed_node).to_be_visible()
        partition_counts = page.get_by_text("2 partitions", exact=True)
        expect(partition_counts.first).to_be_visible()
        page.screenshot(path=shots / "01_seeds_group.png")

        # 2. The asset's partitions tab lists both domains, neither materialized.
        page.goto(f"{server.url}/assets/seed_tasks?view=partitions")
        expect(page.get_by_text("Missing (2)")).to_be_visible()
        expect(page.get_by_text("Materialized (0)")).to_be_visible()
        for domain in SEEDS:
            expect(page.get_by_text(domain, exact=True).first).to_be_visible()
        page.screenshot(path=shots / "02_partitions_before.png")

        # 3. Group page → "Materialize all…" → partition dialog → pick `hukuk` → "Launch 1 run".
        #    (The group holds seed_tasks and what it reads, so one run builds the partition end to end.)
        page.goto(group_url)
        expect(page.get_by_text("seed_tasks", exact=True).first).to_be_visible()
        # "Materialize all…" (the group has more than one asset; "Materialize…" for a single one).
        page.get_by_role("button", name=re.compile(r"Materialize( all)?…")).click()
        dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
        expect(dialog).to_be_visible()
        _pick_partition(page, dialog, "hukuk")
        launch = dialog.get_by_role("button", name="Launch 1 run")
        expect(launch).to_be_enabled()
        page.screenshot(path=shots / "03_launch_dialog.png")
        launch.click()
        expect(dialog).to_be_hidden()

        # 4. Follow the run over GraphQL (queued → daemon → run worker) until it succeeds.
        run = _wait_for_run(server, "hukuk")
        assert run["jobName"] == "__ASSET_JOB"
        assert ["seed_tasks"] in [key["path"] for key in run["assetSelection"]], run

        # 5. The UI shows the successful run and the materialized partition.
        page.goto(f"{server.url}/runs/{run['runId']}")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        expect(page.get_by_text("partition: hukuk").first).to_be_visible()
        page.screenshot(path=shots / "04_run.png")

        page.goto(f"{server.url}/assets/seed_tasks?view=partitions")
        expect(page.get_by_text("Materialized (1)")).to_be_visible()
        expect(page.get_by_text("Missing (1)")).to_be_visible()
        page.screenshot(path=shots / "05_partitions_after.png")

        page.goto(f"{server.url}/assets/seed_tasks")
        expect(page.get_by_text("Latest materialization")).to_be_visible()
        expect(page.get_by_text("hukuk", exact=True).first).to_be_visible()
        expect(page.get_by_text("Never materialized")).to_have_count(0)
        page.screenshot(path=shots / "06_asset_overview.png")
    except Exception:
        page.screenshot(path=shots / "failure.png", full_page=True)
        print(f"screenshots in {shots}")
        raise

    # 6. The warehouse holds the hukuk partition only, with its three curated tasks intact.
    rows = _read_seed_tasks(server.duckdb_path)
    assert {domain for domain, _, _ in rows} == {"hukuk"}
    curated = sorted(instruction for _, origin, instruction in rows if origin == "curated")
    assert len(curated) == 3, curated
    assert "Türk Borçlar Kanunu'na göre temerrüdün şartlarını açıklayınız." in curated


def _pick_partitions(page, dialog, partitions: list[str]) -> None:
    """Select several partitions in the launch dialog's partition picker."""
    from playwright.sync_api import expect

    picker = dialog.get_by_text("Select a partition or create one")
    filter_box = page.get_by_placeholder("Filter partitions")
    for partition in partitions:
        if not filter_box.is_visible():
            (picker if picker.is_visible() else dialog.get_by_text(re.compile(r"\d+ partitions?")).first).click()
        item = page.get_by_role("menuitem").filter(has=page.get_by_text(partition, exact=True))
        item.wait_for(state="visible", timeout=10_000)
        item.click()
    dialog.get_by_text("Launch runs to materialize").first.click()
    expect(dialog.get_by_text(f"{len(partitions)} partitions", exact=True)).to_be_visible()


def _wait_for_all_runs(server: Server, count: int) -> list[dict]:
    """Poll until at least `count` runs exist and every run has finished; all must succeed."""
    deadline = time.monotonic() + RUN_TIMEOUT_S * 2
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = server.graphql(RUNS_QUERY, {"filter": {}})["runsOrError"]["results"]
        if len(runs) >= count and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            break
        time.sleep(2)
    assert len(runs) >= count and all(r["status"] == "SUCCESS" for r in runs), runs
    return runs


def _launch_group_backfill(page, server: Server, group: str, partitions: list[str]) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/locations/{LOCATION}/asset-groups/{group}")
    page.get_by_role("button", name=re.compile(r"Materialize( all)?…")).click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    expect(dialog).to_be_visible()
    _pick_partitions(page, dialog, partitions)
    launch = dialog.get_by_role("button", name=re.compile(r"Launch (backfill|1 run)"))
    expect(launch).to_be_enabled()
    launch.click()
    expect(dialog).to_be_hidden()


def test_backfill_of_two_domains_shows_each_domains_own_figures(browser_page, dagster_server: Server, tmp_path: Path):
    """A UI backfill over both domains is one run per stage group; afterwards each domain's page shows its
    own pass rate, the score chart renders, and a check result names the domains it covered."""
    import duckdb
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    server, page = dagster_server, browser_page
    shots = tmp_path / "screenshots"
    shots.mkdir()
    both = sorted(SEEDS)
    try:
        page.goto(f"{server.url}/locations/{LOCATION}/asset-groups/seeds")
        _dismiss_community_dialog(page)
        _launch_group_backfill(page, server, "seeds", both)
        assert len(_wait_for_all_runs(server, 1)) == 1  # one run for both domains: one backfill policy
        _launch_group_backfill(page, server, "distillation", both)
        assert len(_wait_for_all_runs(server, 2)) == 2

        with duckdb.connect(str(server.duckdb_path), read_only=True) as con:
            rates = dict(con.execute("select domain, round(avg(passed::int), 4) from anka.judged_cot group by 1").fetchall())
            rows = dict(con.execute("select domain, count(*) from anka.judged_cot group by 1").fetchall())
        assert set(rates) == set(both)

        for domain in both:
            page.goto(f"{server.url}/assets/judged_cot?view=partitions&partition={domain}")
            panel = page.get_by_text("pass_rate", exact=True).first
            expect(panel).to_be_visible()
            expect(page.get_by_text(f"{rates[domain]:g}", exact=True).first).to_be_visible()
            expect(page.get_by_text(str(rows[domain]), exact=True).first).to_be_visible()
            page.screenshot(path=shots / f"10_judged_cot_{domain}.png", full_page=True)

        # The score distribution is a chart: its markdown opens in a dialog that renders the PNG.
        row = page.locator("tr").filter(has=page.get_by_text("score_distribution", exact=True)).first
        row.scroll_into_view_if_needed()
        row.get_by_text("[Show Markdown]").click()
        chart = page.get_by_role("dialog").locator("img[src^='data:image/png']").first
        expect(chart).to_be_visible()
        assert chart.evaluate("img => img.naturalWidth") > 100  # decoded, not a broken image
        page.screenshot(path=shots / "11_score_chart.png")
        page.keyboard.press("Escape")

        # A check result says which domains it covered.
        page.goto(f"{server.url}/assets/judged_cot?view=checks")
        expect(page.get_by_text("pass_rate", exact=True).first).to_be_visible()
        page.get_by_text("pass_rate", exact=True).first.click()
        expect(page.get_by_text(re.compile(r"domains: hukuk, tarih")).first).to_be_visible()
        page.screenshot(path=shots / "12_check.png", full_page=True)
    except Exception:
        page.screenshot(path=shots / "failure.png", full_page=True)
        print(f"screenshots in {shots}")
        raise
