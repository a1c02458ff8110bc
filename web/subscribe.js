// "Receive notices" on the public map: a resident chooses places (where they are now, or the map
// centre — home, their parents' house, the school route — each with a radius), categories and a
// language, and the browser subscribes for Web Push (RFC 8030) with machizu's VAPID key. Only the
// subscription and those choices go to machizu (POST /push/subscriptions); one button removes
// everything (DELETE /push/subscriptions, and the browser's subscription). The choices are also
// kept in this browser (localStorage) to show them again; machizu has no account to read them from.
import { strings } from "/web/common.js";

const CATEGORIES = ["snow", "road", "river", "lifeline", "disaster", "other"];
const RADII = [100, 300, 1000, 3000];
const KEY = "machizu.push";
const SOURCE = "push-places";

function circle([lon, lat], metres) {
  const ring = [];
  const dLat = metres / 111_320;
  const dLon = dLat / Math.cos((lat * Math.PI) / 180);
  for (let i = 0; i <= 64; i++) {
    const a = (i / 64) * 2 * Math.PI;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: "Polygon", coordinates: [ring] };
}

const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4)), (c) => c.charCodeAt(0));

/** The panel in `box` for the public map `map`; `lang()` is the page's language now. */
export function subscribePanel({ map, box, lang }) {
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  const saved = JSON.parse(localStorage.getItem(KEY) ?? "null");
  const state = saved ?? { places: [], categories: [...CATEGORIES], lang: lang(), subscribed: false };
  let message = "";

  const t = () => strings(lang());
  const el = (tag, props = {}, ...children) => {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...children);
    return e;
  };

  function keep() {
    localStorage.setItem(KEY, JSON.stringify(state));
  }

  function drawPlaces() {
    const data = {
      type: "FeatureCollection",
      features: state.places.map((p) => ({ type: "Feature", geometry: circle([p.lon, p.lat], p.radius_m), properties: {} })),
    };
    if (map.getSource(SOURCE)) return map.getSource(SOURCE).setData(data);
    map.addSource(SOURCE, { type: "geojson", data });
    map.addLayer({ id: "push-places-line", type: "line", source: SOURCE, paint: { "line-color": "#005a9c", "line-width": 2 } });
  }

  function say(text) {
    message = text;
    box.querySelector(".push-status").textContent = text;
  }

  function addPlace(lon, lat, label) {
    state.places.push({ lon: Number(lon.toFixed(6)), lat: Number(lat.toFixed(6)), radius_m: 300, label });
    render();
    box.querySelector(".push-places li:last-child select")?.focus();
  }

  function render() {
    const s = t();
    box.replaceChildren();
    const heading = el("h2", { id: "push-heading", textContent: s.pushTitle });
    box.setAttribute("aria-labelledby", heading.id);
    box.append(heading);
    if (!supported) {
      box.append(el("p", { textContent: s.pushUnsupported }), el("a", { href: "/notices.atom", textContent: s.pushFeed }));
      return;
    }
    box.append(el("p", { className: "push-intro", textContent: s.pushIntro }));

    // Places, each with its radius and a remove button.
    const places = el("fieldset", {}, el("legend", { textContent: s.pushPlaces }));
    const list = el("ul", { className: "push-places" });
    state.places.forEach((p, i) => {
      const name = p.label || s.pushPlaceN(i + 1);
      const radius = el("select");
      radius.setAttribute("aria-label", s.pushRadiusOf(name));
      for (const r of RADII) radius.add(new Option(r >= 1000 ? `${r / 1000} km` : `${r} m`, String(r)));
      radius.value = String(p.radius_m);
      radius.addEventListener("change", () => {
        p.radius_m = Number(radius.value);
        drawPlaces();
      });
      const remove = el("button", { type: "button", textContent: s.pushRemovePlace });
      remove.setAttribute("aria-label", `${s.pushRemovePlace}: ${name}`);
      remove.addEventListener("click", () => {
        state.places.splice(i, 1);
        render();
      });
      list.append(el("li", {}, el("span", { textContent: name }), radius, remove));
    });
    if (!state.places.length) list.append(el("li", { textContent: s.pushNoPlaces }));
    const label = el("input", { type: "text", maxLength: 40, placeholder: s.pushLabelExample });
    const here = el("button", { type: "button", textContent: s.pushAddHere });
    here.addEventListener("click", () => {
      say(s.pushLocating);
      navigator.geolocation.getCurrentPosition(
        (pos) => {
          addPlace(pos.coords.longitude, pos.coords.latitude, label.value.trim() || s.pushHere);
          say("");
        },
        () => say(s.pushNoLocation),
        { enableHighAccuracy: false, timeout: 15_000, maximumAge: 60_000 },
      );
    });
    const centre = el("button", { type: "button", textContent: s.pushAddCentre });
    centre.addEventListener("click", () => {
      const c = map.getCenter();
      addPlace(c.lng, c.lat, label.value.trim() || undefined);
    });
    places.append(list, el("label", {}, el("span", { textContent: s.pushLabel }), label),
      el("div", { className: "buttons" }, here, centre));
    box.append(places);

    // Categories and language.
    const categories = el("fieldset", {}, el("legend", { textContent: s.pushCategories }));
    for (const c of CATEGORIES) {
      const input = el("input", { type: "checkbox", checked: state.categories.includes(c), value: c });
      input.addEventListener("change", () => {
        state.categories = CATEGORIES.filter((x) => x === c ? input.checked : state.categories.includes(x));
      });
      categories.append(el("label", { className: "check" }, input, el("span", { textContent: s.category[c] })));
    }
    const language = el("fieldset", {}, el("legend", { textContent: s.pushLanguage }));
    for (const [value, text] of [["ja", "日本語"], ["en", "English"]]) {
      const input = el("input", { type: "radio", name: "push-lang", value, checked: state.lang === value });
      input.addEventListener("change", () => { state.lang = value; });
      language.append(el("label", { className: "check", lang: value }, input, el("span", { textContent: text })));
    }
    box.append(categories, language);

    const buttons = el("div", { className: "buttons" });
    const go = el("button", { type: "button", className: "primary", textContent: state.subscribed ? s.pushSave : s.pushOn });
    go.addEventListener("click", subscribe);
    buttons.append(go);
    if (state.subscribed) {
      const off = el("button", { type: "button", className: "danger", textContent: s.pushOff });
      off.addEventListener("click", unsubscribe);
      buttons.append(off);
    }
    box.append(buttons, el("p", { className: "push-status", role: "status", textContent: message }),
      el("p", { className: "push-privacy", textContent: s.pushPrivacy }));
    drawPlaces();
  }

  async function subscribe() {
    const s = t();
    if (!state.places.length) return say(s.pushNeedPlace);
    if (!state.categories.length) return say(s.pushNeedCategory);
    if ((await Notification.requestPermission()) !== "granted") return say(s.pushDenied);
    try {
      const registration = await navigator.serviceWorker.register("/sw.js");
      await navigator.serviceWorker.ready;
      let subscription = await registration.pushManager.getSubscription();
      if (!subscription) {
        const { key } = await (await fetch("/push/vapid-public-key")).json();
        subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64url(key) });
      }
      const places = state.places.map(({ lon, lat, radius_m, label }) => ({ lon, lat, radius_m, ...(label ? { label } : {}) }));
      const r = await fetch("/push/subscriptions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ subscription: subscription.toJSON(), places, categories: state.categories, lang: state.lang }),
      });
      if (!r.ok) return say(`${s.pushFailed} ${(await r.json().catch(() => ({}))).message ?? r.status}`);
      const first = !state.subscribed;
      state.subscribed = true;
      keep();
      message = first ? s.pushIsOn : s.pushSaved;
      render();
    } catch (e) {
      say(`${s.pushFailed} ${e.message ?? e}`);
    }
  }

  async function unsubscribe() {
    const s = t();
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = await registration?.pushManager.getSubscription();
    if (subscription) {
      const r = await fetch("/push/subscriptions", {
        method: "DELETE",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ endpoint: subscription.endpoint }),
      });
      if (!r.ok && r.status !== 404) return say(`${s.pushFailed} ${r.status}`);
      await subscription.unsubscribe();
    }
    localStorage.removeItem(KEY);
    Object.assign(state, { places: [], categories: [...CATEGORIES], lang: lang(), subscribed: false });
    message = s.pushIsOff;
    render();
  }

  render();
  return { render };
}
