"""The Dagster UI in a real browser: `dagster dev` (as `make ui` runs it) on a fresh DAGSTER_HOME
with the local profile and one materialized batch, opened in headless Chromium through Playwright.
Everything expected is derived from ``pii_assets.definitions.defs``: every asset in the catalog and
in its group's lineage graph, every asset check on its asset's Checks tab, every sensor on the
Automation page, and the batch on a batch asset's Partitions tab. Screenshots: test-output/ui/."""

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.definitions import defs
from pii_assets.assets.release import release_manifest, trained_model
from pii_assets.partitions import batches, releases
from pii_assets.resources import BackboneResource, LabelStudioResource, LLMResource, StorageResource
from pii_assets.signing import generate_key
from pii_assets.storage import LocalStorage
from pii_assets_tests.deploy.conftest import (
    REPO, VENV_BIN, free_port, server_env, start_process, stop_process, wait_for,
)

CHROMIUM = Path(os.environ.get("PII_ASSETS_CHROMIUM", "/usr/bin/chromium"))  # Debian's; never `playwright install`
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO / "test-output" / "ui"
BATCH = "ui-b1"
RELEASE = "ui-r1"
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.timeout(240)

GRAPH = defs.resolve_asset_graph()
ASSETS = sorted(GRAPH.get_all_asset_keys(), key=lambda k: k.to_user_string())
CHECKS = sorted(GRAPH.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
SENSORS = sorted(s.name for s in defs.sensors)
BATCH_ASSETS = [k for k in GRAPH.toposorted_asset_keys if GRAPH.get(k).partitions_def == batches]
LOCATION = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"][0]["python_module"]["location_name"]


def asset_path(key: dg.AssetKey) -> str:
    return "/".join(key.path)


def _graphql(url, query):
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["data"]


def _location_loaded(url):
    try:
        data = _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                             "locationOrLoadError { __typename } } } } }")
    except Exception:  # not listening yet
        return False
    entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
    entry = entries.get(LOCATION)
    if entry and entry["loadStatus"] == "LOADED":
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        return True
    return False


@pytest.fixture(scope="module")
def ui(tmp_path_factory, tiny_backbone):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's `chromium` (`make system-deps`)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    root = tmp_path_factory.mktemp("ui")
    home, data = root / "dagster_home", root / "data"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # the local profile, as `make install` does
    # one small batch and a release of a tiny model on the instance first (as `pii-assets batch
    # materialize` and `release build` would): the partitions exist and their assets are materialized.
    # Not while the server starts: two processes creating the SQLite storage of a fresh DAGSTER_HOME at
    # once can leave it with two alembic heads.
    storage = LocalStorage(data)
    declare_batch(storage, BatchSpec(BATCH, size=240, seed=5, languages=("en", "de")))  # enough for sft_valid
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions(batches.name, [BATCH])
            resources = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(),
                         "labelstudio": LabelStudioResource(),
                         "backbone": BackboneResource(backbone=tiny_backbone, max_length=96, stride=16)}
            quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            result = defs.resolve_job_def("batch_job").execute_in_process(
                partition_key=BATCH, instance=instance, resources=resources, run_config=quiet)
            assert result.success
            instance.add_dynamic_partitions(releases.name, [RELEASE])
            result = dg.materialize(
                [release_manifest, trained_model], partition_key=RELEASE, instance=instance, resources=resources,
                run_config={**quiet, "ops": {"trained_model": {"config": {"epochs": 1, "macro_f1_floor": 0.0}}}})
            assert result.success
    print(f"batch {BATCH} materialized in {time.monotonic() - started:.1f} s")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "dagster-dev.log"
    started = time.monotonic()
    # from the instance directory, as `make ui` runs it (no warning about the repository's dagster.yaml)
    # the code location gets the tiny backbone and a signing key, so `release build --launch` runs there
    key_file = root / "keys" / "signing.pem"
    generate_key(key_file)
    env = server_env(DAGSTER_HOME=str(home), PII_ASSETS_DATA_DIR=str(data), PII_ASSETS_BACKBONE=tiny_backbone,
                     PII_ASSETS_SIGNING_KEY_FILE=str(key_file))
    server = start_process([VENV_BIN / "dagster", "dev", "-w", REPO / "workspace.yaml", "-h", "127.0.0.1", "-p", port],
                           env, log, cwd=home)
    try:
        wait_for(lambda: _location_loaded(url), 120, f"dagster dev serving location {LOCATION!r}", server, log)
        print(f"dagster dev serving {LOCATION!r} after {time.monotonic() - started:.1f} s")
        assert "Found a dagster instance configuration" not in log.read_text(errors="replace")
        yield url, env
    finally:
        stop_process(server)


@pytest.fixture(scope="module")
def page(ui):
    from playwright.sync_api import sync_playwright

    url = ui[0]
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.set_default_timeout(TIMEOUT_MS)
            browse = Browse(page, url)
            browse.skip_onboarding()
            yield browse
        finally:
            browser.close()


class Browse:
    def __init__(self, page, url):
        self.page, self.url = page, url

    def skip_onboarding(self):
        """A fresh instance opened on 127.0.0.1 shows "Join the Dagster community" a second after
        its first page has loaded, until it is skipped (remembered in the browser and the instance)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.open("/overview")
        skip = self.page.get_by_role("button", name="Skip", exact=True)
        try:
            skip.wait_for(state="visible", timeout=15_000)
        except PlaywrightTimeout:  # a Dagster without that dialog: nothing in the way
            return False
        skip.click()
        skip.wait_for(state="hidden")
        return True

    def open(self, path):
        self.page.goto(self.url + path, wait_until="domcontentloaded")
        return self.page

    def visible(self, locator, what):
        try:
            locator.first.wait_for(state="visible")
        except Exception as exc:
            self.shot("failure-" + "".join(c if c.isalnum() else "-" for c in what)[:60])
            raise AssertionError(f"{what}: not shown within {TIMEOUT_MS / 1000:.0f} s on {self.page.url}") from exc

    def shot(self, name):
        time.sleep(0.5)  # let the last layout pass and fonts settle
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def test_catalog_lists_every_asset(page):
    p = page.open("/assets")
    for key in ASSETS:
        page.visible(p.locator(f'a[href="/assets/{asset_path(key)}"]'), f"asset {key.to_user_string()} in the catalog")
    page.shot("catalog")


def test_lineage_graph_of_every_group_shows_its_assets(page):
    groups = sorted({GRAPH.get(k).group_name for k in ASSETS})
    assert "batch" in groups
    for group in groups:
        p = page.open(f"/locations/{LOCATION}/asset-groups/{group}/lineage")
        for key in (k for k in ASSETS if GRAPH.get(k).group_name == group):
            page.visible(p.get_by_text(key.path[-1], exact=True), f"asset {key.to_user_string()} in the {group} graph")
        page.shot(f"lineage-{group}")


def test_every_asset_check_is_listed_on_its_asset(page):
    assert CHECKS, "the definitions have asset checks"
    for asset in sorted({c.asset_key for c in CHECKS}, key=lambda k: k.to_user_string()):
        names = [c.name for c in CHECKS if c.asset_key == asset]
        p = page.open(f"/assets/{asset_path(asset)}?view=checks")
        page.visible(p.get_by_text(f"Checks ({len(names)})", exact=True), f"{len(names)} checks on {asset}")
        for name in names:
            page.visible(p.get_by_text(name, exact=True), f"check {name} of {asset.to_user_string()}")
        page.shot(f"checks-{asset_path(asset).replace('/', '-')}")


def test_every_sensor_is_listed(page):
    assert SENSORS
    p = page.open("/automation")
    for name in SENSORS:
        page.visible(p.locator(f'a[href$="/sensors/{name}"]').get_by_text(name, exact=True),
                     f"sensor {name} on the automation page")
    page.shot("automation")


def test_batch_partition_shows_on_the_partitions_tab(page):
    assert BATCH_ASSETS
    key = BATCH_ASSETS[0]
    p = page.open(f"/assets/{asset_path(key)}?view=partitions")
    page.visible(p.get_by_text("Materialized (1)", exact=True), f"one materialized partition of {key}")
    page.visible(p.get_by_text(BATCH, exact=True), f"partition {BATCH} of {key.to_user_string()}")
    p.get_by_text(BATCH, exact=True).first.click()  # its latest materialization: the batch run
    page.visible(p.get_by_role("link", name="batch_job", exact=True), f"the batch_job run of {BATCH}")
    page.visible(p.get_by_text("dagster/row_count", exact=True), f"the row count of {BATCH}")
    page.shot(f"partitions-{asset_path(key).replace('/', '-')}")


def test_trained_model_page_shows_its_charts_and_release_checks_per_partition(page):
    """The training curve and the per-label F1 chart are on the asset page without a click, and the
    release's check is listed under its partition (not "Partition -")."""
    p = page.open("/assets/trained_model")
    page.visible(p.get_by_text("training_curve", exact=True), "the training_curve metadata entry")
    curve = p.locator('img[alt="training curve"]')
    page.visible(curve, "the training curve image, in place")
    assert curve.first.evaluate("img => img.complete && img.naturalWidth") > 0, "the curve image did not render"
    page.visible(p.get_by_text("test_f1_per_label", exact=True), "the test_f1_per_label metadata entry")
    page.visible(p.get_by_role("cell", name="FIRSTNAME", exact=True), "the per-label F1 chart, in place")
    page.shot("trained-model")
    p = page.open("/assets/trained_model?view=checks")
    page.visible(p.get_by_text("macro_f1_floor", exact=True), "the macro_f1_floor check")
    p.get_by_text("macro_f1_floor", exact=True).first.click()
    page.visible(p.get_by_text(RELEASE, exact=True), f"the check's evaluation of partition {RELEASE}")
    page.shot("trained-model-checks")


def test_a_skipped_sensor_tick_shows_its_reason(page):
    """Without Label Studio configured, labelstudio_sensor's ticks are skipped with the reason. The
    Dagster 1.13 tick table labels every tick "0 runs requested"; that link opens the tick, which
    shows the skip reason (the daemon of `dagster dev` evaluates the sensor in its first minute)."""
    deadline = time.monotonic() + 120
    while True:
        p = page.open(f"/locations/{LOCATION}/sensors/labelstudio_sensor")
        tick = p.get_by_role("button", name="0 runs requested")
        try:
            tick.first.wait_for(state="visible", timeout=15_000)
            break
        except Exception:
            if time.monotonic() > deadline:
                page.shot("failure-sensor-tick")
                raise AssertionError("no tick of labelstudio_sensor within 2 minutes") from None
    tick.first.click()
    page.visible(p.get_by_text("no Label Studio configured (set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)",
                               exact=False), "the skip reason of the tick")
    page.shot("sensor-labelstudio-tick")


def test_release_build_launch_queues_the_run_for_the_daemon_and_waits_for_it(ui, page):
    """`pii-assets release build --launch URL`: the run goes through the webserver to the instance's
    queue, the daemon launches it, the CLI waits and prints the result, and the UI lists the run."""
    import subprocess

    url, env = ui
    proc = subprocess.run([VENV_BIN / "pii-assets", "release", "build", "ui-r2", "--launch", url, "--epochs", "1",
                           "--macro-f1-floor", "0", "--sft-min-per-category", "1"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    submitted = proc.stdout.split("submitted run ", 1)[1].split()[0]
    assert f"{url}/runs/{submitted}" in proc.stdout and f"release ui-r2: run {submitted} succeeded" in proc.stdout
    assert f"run {submitted} success" in proc.stderr  # the statuses it waited through, the last one
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
        with dg.DagsterInstance.get() as instance:
            run = instance.get_run_by_id(submitted)
    assert run.job_name == "release_job" and run.tags["dagster/partition"] == "ui-r2"
    assert run.tags["pii_assets/submitted_by"] == "cli" and run.status == dg.DagsterRunStatus.SUCCESS
    p = page.open("/runs")
    page.visible(p.get_by_text(submitted[:8], exact=True), f"run {submitted[:8]} in the run list")
    page.shot("runs-launched")
