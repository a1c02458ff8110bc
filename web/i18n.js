// Every user-facing string of the map page, per language (Japanese first).
export const STRINGS = {
  ja: {
    title: "町図 — 尾花沢市 統合型GIS",
    layers: "レイヤ",
    switchTo: "English",
    mapLabel: "地図",
  },
  en: {
    title: "machizu — Obanazawa integrated GIS",
    layers: "Layers",
    switchTo: "日本語",
    mapLabel: "Map",
  },
};
