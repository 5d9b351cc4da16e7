// Live reload of `python build.py --serve`: added to HTML responses by the preview server
// only (never written to the built files). The server's event stream says which build is
// current ("hello" on connect, "reload" after each good rebuild) and sends build errors.
(() => {
  "use strict";
  const pageBuild = document.currentScript.dataset.build;
  const events = new EventSource("/__livereload");
  let overlay = null;

  // The page shows the build it was served from; any other build means it is out of date,
  // including one finished between this page's load and the stream's connection.
  function reloadIfStale(event) {
    if (event.data !== pageBuild) {
      location.reload();
    }
  }

  // A build error, shown over the last good page. textContent only: the message quotes the
  // author's own files, which may hold markup.
  function showError(error) {
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
    overlay.querySelector("pre").textContent = error.text;
  }

  events.addEventListener("hello", reloadIfStale);
  events.addEventListener("reload", reloadIfStale);
  events.addEventListener("error", (event) => {
    // EventSource also fires a plain "error" Event when the connection drops (it reconnects
    // by itself); only the server's own "error" messages carry data.
    if (event instanceof MessageEvent) {
      showError(JSON.parse(event.data));
    }
  });
})();
