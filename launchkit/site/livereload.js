// Live reload of `python build.py --serve`: added to HTML responses by the preview server
// only (never written to the built files). The server's event stream says which build is
// current ("hello" on connect, "reload" after each good rebuild) and sends build errors.
//
// A tab out of date fetches its page again. When the new page has the same head (the
// server's digest of everything up to </head> but the title, named meta tags and
// structured data, which are copied over) and the site's other files are of the same
// generation (only pages changed), the new body replaces the old one in place: the
// stylesheets, fonts and head scripts stay loaded, the scroll position stays, and the
// body's scripts run again in document order, as after a reload. Anything else, or
// anything this script is not sure of, reloads the page.
(() => {
  "use strict";
  const own = document.currentScript;
  const page = { ...own.dataset }; // build, head, assets: what this tab shows
  const events = new EventSource("/__livereload");
  let overlay = null;
  let error = null; // the last build's error, shown until a build succeeds
  let latest = page.build;
  let updating = Promise.resolve();

  // The page shows the build it was served from; any other build means it is out of date,
  // including one finished between this page's load and the stream's connection. Updates
  // run one at a time, each for the newest build.
  function updateIfStale(event) {
    error = null; // a good build, or a new stream, which sends the current error after this
    latest = event.data;
    updating = updating.then(update).catch((failure) => {
      console.warn("launchkit live reload: reloading the page:", failure);
      location.reload();
    });
  }

  async function update() {
    // The page fetched may be of the build before (it was read as that build was being
    // replaced): then once more.
    for (let tries = 0; latest !== page.build; tries++) {
      if (tries === 3) {
        throw new Error(`the server keeps serving a build other than ${latest}`);
      }
      const address = location.href.split("#")[0];
      const response = await fetch(address, { cache: "no-store", credentials: "same-origin" });
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const tags = fresh.querySelectorAll(`script[src="${own.getAttribute("src")}"]`);
      const tag = tags[tags.length - 1];
      if (response.url !== address || !tag || !swappable(fresh, tag)) {
        location.reload();
        return new Promise(() => {}); // nothing more happens in this document
      }
      tag.replaceWith(own); // already run: the tab keeps this one script and its stream
      Object.assign(own.dataset, tag.dataset);
      Object.assign(page, tag.dataset);
      copyDescription(fresh.head);
      await swapBody(fresh.body);
    }
  }

  // Whether the new page can replace this one's body: same head, same other files, and
  // scripts that run again as after a reload.
  function swappable(fresh, tag) {
    if (tag.dataset.head !== page.head || tag.dataset.assets !== page.assets) {
      return false;
    }
    return [...fresh.body.querySelectorAll("script")].every(
      (script) =>
        script === tag ||
        // A module runs once per document: inserting it again does nothing.
        (script.type !== "module" &&
          // A script from elsewhere may write into the document as it loads, which only a
          // parser allows (document.write from an inserted script is ignored).
          (!script.src || new URL(script.src, location.href).origin === location.origin) &&
          !script.text.includes("document.write"))
    );
  }

  // The head's descriptive elements (the ones the server's digest leaves out) as the new
  // head has them. Structured data is a script only in name: it does not run.
  function copyDescription(head) {
    const descriptive = 'title, meta[name], meta[property], script[type="application/ld+json"]';
    document.head.querySelectorAll(descriptive).forEach((element) => element.remove());
    document.head.append(...head.querySelectorAll(descriptive));
  }

  async function swapBody(body) {
    const [x, y] = [window.scrollX, window.scrollY];
    const scripts = [...body.querySelectorAll("script")].filter((script) => script !== own);
    document.body.replaceWith(body);
    overlay = null; // it was in the old body: a build that failed since is shown again
    if (error !== null) {
      showError(error);
    }
    window.scrollTo(x, y);
    await runScripts(scripts);
  }

  // A parsed script does not run when inserted: each is replaced by a new one, in document
  // order, deferred ones last, each waiting for the previous one as the parser waits.
  // Listeners for DOMContentLoaded and window's load, which have fired long ago for this
  // document, are called once the scripts have run.
  async function runScripts(scripts) {
    const deferred = (script) => script.defer && script.src !== "";
    const ordered = [
      ...scripts.filter((script) => !deferred(script)),
      ...scripts.filter(deferred),
    ];
    const late = [];
    const listen = (target, types) => {
      target.addEventListener = function (type, listener, options) {
        if (types.includes(type) && listener) {
          late.push([target, type, listener]);
        } else {
          EventTarget.prototype.addEventListener.call(this, type, listener, options);
        }
      };
    };
    listen(document, ["DOMContentLoaded"]);
    listen(window, ["DOMContentLoaded", "load"]);
    try {
      for (const script of ordered) {
        await runScript(script);
      }
    } finally {
      delete document.addEventListener;
      delete window.addEventListener;
    }
    for (const [target, type, listener] of late) {
      const event = new Event(type);
      try {
        if (typeof listener === "function") {
          listener.call(target, event);
        } else {
          listener.handleEvent(event);
        }
      } catch (failure) {
        window.reportError(failure); // as an event's listener failing reports it, and goes on
      }
    }
  }

  function runScript(parsed) {
    const script = document.createElement("script");
    for (const { name, value } of parsed.attributes) {
      script.setAttribute(name, value);
    }
    script.text = parsed.text;
    const waits = script.src && !parsed.async;
    const loaded = waits
      ? new Promise((resolve) => {
          script.addEventListener("load", resolve);
          script.addEventListener("error", resolve); // as after a reload: the next one runs
        })
      : null;
    if (waits) {
      script.async = false;
    }
    parsed.replaceWith(script);
    return loaded;
  }

  // A build error, shown over the last good page. textContent only: the message quotes the
  // author's own files, which may hold markup.
  function showError(shown) {
    error = shown;
    if (overlay === null) {
      overlay = document.createElement("div");
      overlay.id = "launchkit-build-error";
      overlay.setAttribute("role", "alert");
      overlay.style.cssText =
        "position:fixed;inset:0 0 auto 0;z-index:2147483647;max-height:60vh;overflow:auto;" +
        "margin:0;padding:1rem 1.25rem;background:#2b0a0a;color:#ffe4e4;" +
        "font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;" +
        "border-bottom:3px solid #ff5c5c;box-shadow:0 4px 24px rgba(0,0,0,.4)";
      const heading = document.createElement("strong");
      heading.textContent = "Build failed: the last good build is shown below";
      const text = document.createElement("pre");
      text.style.cssText = "margin:.5rem 0 0;white-space:pre-wrap";
      overlay.append(heading, text);
      document.body.append(overlay);
    }
    overlay.querySelector("pre").textContent = shown.text;
  }

  events.addEventListener("hello", updateIfStale);
  events.addEventListener("reload", updateIfStale);
  events.addEventListener("error", (event) => {
    // EventSource also fires a plain "error" Event when the connection drops (it reconnects
    // by itself); only the server's own "error" messages carry data.
    if (event instanceof MessageEvent) {
      showError(JSON.parse(event.data));
    }
  });
})();
