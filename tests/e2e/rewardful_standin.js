/*
 * A local stand-in for Rewardful's https://r.wdfl.co/rw.js, used only by the end-to-end tests.
 *
 * Rewardful's real script cannot be fetched from the test machine, so the tests serve this
 * file at its URL instead. It does what Rewardful documents (see /work/shared/REFERENCE.md):
 *   - reads the affiliate token from ?via= (and the parameters named in the script tag's
 *     data-rewardful-params);
 *   - keeps the visitor's referral in a first-party cookie for 60 days, so a later visit
 *     without ?via= stays attributed;
 *   - sets window.Rewardful = {referral, affiliate, coupon}: referral is a UUID or '' when the
 *     visitor was not referred; coupon is {id, name, percent_off} only for an affiliate whose
 *     campaign is double-sided, else null;
 *   - runs the rewardful('ready', fn) calls the snippet's queue stub collected
 *     (window.rewardful.q), then replaces window.rewardful with a function that runs later
 *     'ready' calls at once;
 *   - on submit of a form[data-rewardful], puts hidden `referral` (and `coupon`) inputs in it.
 *
 * The harness replaces __CAMPAIGNS__ with the test affiliates: {token: {id, name, coupon}}.
 * An unknown token does not make a referral, as with Rewardful.
 */
(function (window, document, campaigns) {
  "use strict";

  var COOKIE = "rewardful.referral";
  var COOKIE_DAYS = 60;

  function uuid4() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
            hex.slice(20)].join("-");
  }

  function scriptTag() {
    return document.currentScript || document.querySelector("script[data-rewardful]");
  }

  // ?via= plus any link parameters the site configured (data-rewardful-params="via, ref").
  function linkParams() {
    var names = ["via"];
    var tag = scriptTag();
    var extra = tag && tag.getAttribute("data-rewardful-params");
    if (extra) {
      extra.split(",").forEach(function (name) {
        if (name.trim()) names.push(name.trim());
      });
    }
    return names;
  }

  function tokenFromUrl() {
    var query = new URLSearchParams(window.location.search);
    var names = linkParams();
    for (var i = 0; i < names.length; i++) {
      var token = query.get(names[i]);
      if (token) return token;
    }
    return null;
  }

  function readCookie() {
    var prefix = COOKIE + "=";
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].indexOf(prefix) === 0) {
        try {
          return JSON.parse(decodeURIComponent(parts[i].slice(prefix.length)));
        } catch (e) {
          return null; // a mangled cookie counts as no referral
        }
      }
    }
    return null;
  }

  function writeCookie(referral) {
    var value = encodeURIComponent(JSON.stringify(referral));
    var maxAge = COOKIE_DAYS * 24 * 60 * 60;
    document.cookie = COOKIE + "=" + value + "; max-age=" + maxAge + "; path=/; SameSite=Lax";
  }

  // A known affiliate's link starts a new referral; otherwise the cookie's one, if any.
  function currentReferral() {
    var token = tokenFromUrl();
    var campaign = token && campaigns[token];
    if (campaign) {
      var referral = {
        id: uuid4(),
        affiliate: { id: campaign.id, name: campaign.name, token: token },
        coupon: campaign.coupon || null
      };
      writeCookie(referral);
      return referral;
    }
    return readCookie();
  }

  function setHidden(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  var referral = currentReferral();
  window.Rewardful = {
    referral: referral ? referral.id : "",
    affiliate: referral ? referral.affiliate : false,
    coupon: referral ? referral.coupon : null
  };

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!window.Rewardful.referral || !form.matches("form[data-rewardful]")) return;
    setHidden(form, "referral", window.Rewardful.referral);
    if (window.Rewardful.coupon) setHidden(form, "coupon", window.Rewardful.coupon.id);
  }, true);

  // The snippet's stub names the global in window._rwq and queues calls in its .q array.
  var name = window._rwq || "rewardful";
  var queued = (window[name] && window[name].q) || [];
  window[name] = function (command, callback) {
    if (command === "ready" && typeof callback === "function") callback();
  };
  queued.forEach(function (args) {
    window[name].apply(window, args);
  });
})(window, document, __CAMPAIGNS__);
