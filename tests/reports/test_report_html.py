"""The HTML report in a real headless Chromium: it loads without console errors, every plot
draws marks, nothing overlaps or overflows the window, and the screenshot is not blank."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlcost_sdk.reports import page
from mlcost_sdk.reports.records import read

from .fleet import write_fleet
from .session import write_session

PLOTS = ("plot-cost-over-time", "plot-training-over-time", "plot-idle-over-time",
         "plot-cost-by-team", "plot-cost-by-model", "plot-utilization", "plot-mfu",
         "plot-idle-share")
TABLES = ("top-runs", "top-experiments", "rollup")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT_ENV = "MLCOST_REPORT_SCREENSHOT"  # set to a path to keep a screenshot of the page


def _page(tmp_path: Path) -> Path:
    """A month of the fleet plus a ten-minute session with training windows."""
    path = tmp_path / "spans.jsonl"
    write_fleet(path)
    write_session(path)
    out = tmp_path / "report.html"
    out.write_text(page.render_records(read([str(path)]), sources=["mlcost-spans.jsonl"]))
    return out


def test_page_is_self_contained(tmp_path: Path) -> None:
    html = _page(tmp_path).read_text()
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    for plot in PLOTS:
        assert f'id="{plot}"' in html
    for table in TABLES:
        assert f'id="{table}"' in html


@pytest.mark.slow
def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver must be installed in CI")
        pytest.skip("chromium / chromium-driver not installed (apt-get install chromium "
                    "chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1300,1400",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(_page(tmp_path).as_uri())
        for plot in PLOTS:
            drawn = driver.execute_script("""
                const fig = document.getElementById(arguments[0]);
                const svg = fig && fig.querySelector('svg');
                if (!svg) return null;
                const box = svg.getBoundingClientRect();
                const marks = [...svg.querySelectorAll('.mark')].filter(m => {
                    const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
                return {w: box.width, h: box.height, marks: marks.length};""", plot)
            assert drawn is not None, plot
            assert drawn["w"] > 0 and drawn["h"] > 0 and drawn["marks"] > 0, (plot, drawn)
        layout = driver.execute_script("""
            const boxes = [...document.querySelectorAll('figure, table, .kpis')]
                .map(e => e.getBoundingClientRect());
            const overlaps = boxes.some((a, i) => boxes.slice(i + 1).some(b =>
                a.left < b.right - 1 && b.left < a.right - 1 &&
                a.top < b.bottom - 1 && b.top < a.bottom - 1));
            return {overlaps, scroll: document.documentElement.scrollWidth,
                    width: window.innerWidth, tables: [...arguments[0]].map(id => {
                        const t = document.getElementById(id);
                        return t ? t.getBoundingClientRect().height : 0; })};""", TABLES)
        assert not layout["overlaps"] and layout["scroll"] <= layout["width"], layout
        assert all(h > 0 for h in layout["tables"]), layout
        png = driver.get_screenshot_as_png()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # not a blank page
        log = driver.get_log("browser")  # type: ignore[no-untyped-call]
        errors = [e for e in log if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        if os.environ.get(SCREENSHOT_ENV):
            driver.save_screenshot(os.environ[SCREENSHOT_ENV])
    finally:
        driver.quit()
