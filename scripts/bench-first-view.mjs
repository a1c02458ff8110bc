// The public map's first view with a cold browser cache (issue #7), measured: from navigation
// start to MapLibre's first idle, in a fresh browser context each time, the server having drawn
// the view for earlier residents and the browser having run before. Prints the median and every
// sample, and writes them to test-artifacts/public-first-view.json.
//   MACHIZU_BIN=target/debug/machizu node scripts/bench-first-view.mjs [loads, default 9]
// (scripts/bench-first-view installs what it needs and sets the binary.)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifacts, coldFirstView, launch, startServer } from "../web/e2e/support.mjs";

const loads = Number(process.argv[2] ?? 9);
if (!(loads >= 1)) throw new Error("usage: node scripts/bench-first-view.mjs [loads]");
const server = await startServer();
const browser = await launch();
try {
  await coldFirstView(browser, server.base); // the server's tile cache and the browser warm
  const samples = [];
  for (let i = 0; i < loads; i++) samples.push(Math.round(await coldFirstView(browser, server.base)));
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  writeFileSync(join(artifacts, "public-first-view.json"), JSON.stringify({ median_ms: median, samples_ms: samples }) + "\n");
  console.log(`public map first view, cold browser cache: median ${median} ms, ${sorted[0]}–${sorted.at(-1)} ms over ${loads} loads (${samples.join(", ")})`);
} finally {
  await browser.close();
  server.stop();
}
