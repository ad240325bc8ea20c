// Renders Mermaid charts with Mermaid itself, and pages, in one headless Chromium.
//
//   node render.mjs jobs.json results.json
//
// jobs.json: {"charts": [{"id", "definition", "svg", "png"?}],
//             "pages": [{"html", "png", "parts"?: {"<css selector>": "<png path>"}}]}
// results.json: [{"id", "ok", "error"?}] for the charts. Exits 0 even when a chart
// fails (the test reads and reports each result); 2 when the browser cannot start.
//
// renderMermaid is what `mmdc` runs for each chart (@mermaid-js/mermaid-cli's
// API): mermaid.render() throws on a syntax error. One browser for every chart
// keeps the test to seconds, where one `mmdc` per document takes ~4 s each.
import fs from "node:fs/promises";
import { pathToFileURL } from "node:url";

import { renderMermaid } from "@mermaid-js/mermaid-cli";
import puppeteer from "puppeteer";

const [jobsPath, resultsPath] = process.argv.slice(2);
const jobs = JSON.parse(await fs.readFile(jobsPath, "utf8"));
const config = JSON.parse(
  await fs.readFile(new URL("./puppeteer-config.json", import.meta.url), "utf8"),
);

let browser;
try {
  browser = await puppeteer.launch({ ...config, userDataDir: jobs.profile });
} catch (e) {
  console.error(`cannot start ${config.executablePath}: ${e.message}`);
  process.exit(2);
}

const viewport = { width: 800, height: 600, deviceScaleFactor: 1 };
const results = [];
try {
  for (const chart of jobs.charts) {
    try {
      const svg = await renderMermaid(browser, chart.definition, "svg", { viewport });
      await fs.writeFile(chart.svg, svg.data);
      if (chart.png) {
        const png = await renderMermaid(browser, chart.definition, "png", { viewport });
        await fs.writeFile(chart.png, png.data);
      }
      results.push({ id: chart.id, ok: true });
    } catch (e) {
      results.push({ id: chart.id, ok: false, error: String(e?.message ?? e).split("\n").slice(0, 4).join("\n") });
    }
  }
  for (const page of jobs.pages) {
    const tab = await browser.newPage();
    await tab.setViewport({ width: page.width ?? 1000, height: 600, deviceScaleFactor: 2 });
    await tab.goto(pathToFileURL(page.html).href, { waitUntil: "load" });
    await tab.screenshot({ path: page.png, fullPage: true });
    for (const [selector, png] of Object.entries(page.parts ?? {})) {
      const element = await tab.$(selector);
      if (element) await element.screenshot({ path: png });
    }
    await tab.close();
  }
  // Pages laid out at a reader's width: where the first screen's parts end.
  for (const page of jobs.measure ?? []) {
    const tab = await browser.newPage();
    await tab.setViewport({ width: page.width, height: page.width, deviceScaleFactor: 1 });
    await tab.goto(pathToFileURL(page.html).href, { waitUntil: "load" });
    page.result = await tab.evaluate(() => {
      const bottom = (el) => el.getBoundingClientRect().bottom + window.scrollY;
      const first = document.querySelector("details");
      const before = (el) => !first || (first.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING);
      const parts = [...document.querySelectorAll("h2, li, tr, p")]
        .filter(before)
        .map((el) => ({ tag: el.tagName, text: el.textContent.trim().slice(0, 100), bottom: bottom(el) }));
      const body = document.body.getBoundingClientRect().bottom + window.scrollY;
      return { height: Math.ceil(body + parseFloat(getComputedStyle(document.body).marginBottom)), parts };
    });
    await tab.close();
  }
} finally {
  await browser.close();
}
await fs.writeFile(resultsPath, JSON.stringify(results, null, 1));
if (jobs.measure) await fs.writeFile(jobs.measured, JSON.stringify(jobs.measure, null, 1));
