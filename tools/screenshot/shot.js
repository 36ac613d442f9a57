// shot.js URL OUT.png TEXT...: opens URL in Debian's chromium (headless, through
// puppeteer-core), waits until the page shows every TEXT, and writes a PNG of it to OUT.png:
// the whole page, or the first SHOT_HEIGHT pixels (1440 wide) when that is set.
// The Temporal Web UI keeps polling the server, so "network idle" never comes: the page counts
// as rendered once the texts a person would look for are on it.
'use strict';

const puppeteer = require('puppeteer-core');

const [url, out, ...texts] = process.argv.slice(2);
if (!url || !out || texts.length === 0) {
  console.error('usage: node shot.js URL OUT.png TEXT...');
  process.exit(2);
}
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = Number(process.env.SHOT_TIMEOUT_MS || 90000);
const height = Number(process.env.SHOT_HEIGHT || 0);

// pageText is the text of the page and of every frame in it (the Web UI renders markdown, such
// as a run's current details, in frames) and the SVG labels of its timeline.
async function pageText(page) {
  const parts = await Promise.all(page.frames().map((f) =>
    f.evaluate(() => (document.body ? document.body.innerText + '\n' + document.body.textContent : '')).catch(() => '')));
  return parts.join('\n');
}

// waitForTexts polls until the page shows every text, or fails saying what it shows.
async function waitForTexts(page, texts) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const seen = await pageText(page);
    const missing = texts.filter((t) => !seen.includes(t));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`the page never showed ${JSON.stringify(missing)} within ${timeout} ms; it shows:\n${seen.slice(0, 3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // --no-sandbox: CI runs this as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--hide-scrollbars'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: height || 1400, deviceScaleFactor: 1 });
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout });
    await waitForTexts(page, texts);
    // Fonts and the last layout pass after the data arrived.
    await page.evaluate(() => document.fonts.ready);
    await new Promise((r) => setTimeout(r, 1000));
    await page.screenshot({ path: out, fullPage: !height });
    console.log(`screenshot: ${out} (${url})`);
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(`screenshot: ${err.message}`);
  process.exit(1);
});
