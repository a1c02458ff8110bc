// The styles and strings of the clients: each style passes the MapLibre style-spec validator;
// colours part for colour-blind readers and in grey-scale; both languages have every string.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateStyleMin } from "@maplibre/maplibre-gl-style-spec";
import { root } from "./support.mjs";
import ja from "../i18n/ja.js";
import en from "../i18n/en.js";

const styles = ["public", "staff"].map((name) => [name, JSON.parse(readFileSync(join(root, "styles", `${name}.json`), "utf8"))]);

/** Relative luminance (WCAG) of #rrggbb. */
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

test("each style passes the MapLibre style-spec validator", () => {
  for (const [name, style] of styles) {
    const errors = validateStyleMin(style);
    assert.deepEqual(errors.map((e) => e.message), [], name);
  }
});

test("the plowed classes part in grey-scale, in order", () => {
  for (const [name, style] of styles) {
    const layer = style.layers.find((l) => l.metadata?.["machizu:legend-title"] === "plowed");
    const colours = layer.metadata["machizu:legend"].map(([c]) => c);
    assert.equal(colours.length, 5, name);
    const l = colours.map(luminance);
    for (let i = 1; i < l.length; i++) {
      assert.ok(l[i] > l[i - 1], `${name}: each older class is lighter (${colours})`);
      // Contrast ratio between neighbours of at least 1.5: apart without colour.
      assert.ok((l[i] + 0.05) / (l[i - 1] + 0.05) >= 1.5, `${name}: ${colours[i - 1]} and ${colours[i]} part in grey`);
    }
  }
});

test("the public style carries no staff-only layer", () => {
  const [, style] = styles[0];
  const text = JSON.stringify(style);
  for (const staffOnly of ["snowplows_fleet", "snowplow_trails", "/staff/"]) assert.ok(!text.includes(staffOnly), staffOnly);
});

test("Japanese and English have the same strings", () => {
  const keys = (o) => Object.keys(o).filter((k) => k !== "values").sort();
  assert.deepEqual(keys(ja), keys(en));
  assert.deepEqual(Object.keys(ja.plowedClass), Object.keys(en.plowedClass));
  // Every legend value has its English name.
  for (const [, style] of styles) {
    for (const layer of style.layers) {
      if (layer.metadata?.["machizu:legend-title"] === "plowed") continue;
      for (const [, value] of layer.metadata?.["machizu:legend"] ?? []) assert.ok(en.values[value], `English for ${value}`);
    }
  }
});
