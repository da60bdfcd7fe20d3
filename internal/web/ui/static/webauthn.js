// Security keys (WebAuthn) for Ward's forms marked data-webauthn="register"
// or "login". Loaded as a file (the Content-Security-Policy forbids inline
// script). The server sends options and takes answers as JSON with binary
// values in base64url; the browser API wants ArrayBuffers.
(function () {
  "use strict";

  function toBuffer(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // post sends fields and the form's CSRF token as a form, and returns the
  // JSON answer, or throws its error.
  function post(url, form, fields) {
    var body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    Object.keys(fields).forEach(function (k) { body.set(k, fields[k]); });
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) { throw new Error(j.error || "Ward answered " + r.status + ": reload the page and try again."); }
          return j;
        });
      });
  }

  function descriptors(list) {
    (list || []).forEach(function (c) { c.id = toBuffer(c.id); });
  }

  function register(form) {
    return post(form.getAttribute("data-begin"), form, {}).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = toBuffer(pk.challenge);
      pk.user.id = toBuffer(pk.user.id);
      descriptors(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post(form.action, form, {
        name: form.elements.name.value,
        credential: JSON.stringify({
          id: cred.id, rawId: toBase64url(cred.rawId), type: cred.type,
          clientExtensionResults: cred.getClientExtensionResults(),
          response: {
            clientDataJSON: toBase64url(r.clientDataJSON),
            attestationObject: toBase64url(r.attestationObject),
            transports: r.getTransports ? r.getTransports() : []
          }
        })
      });
    });
  }

  function login(form) {
    return post(form.getAttribute("data-begin"), form, {}).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = toBuffer(pk.challenge);
      descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post(form.action, form, {
        next: form.elements.next ? form.elements.next.value : "",
        credential: JSON.stringify({
          id: cred.id, rawId: toBase64url(cred.rawId), type: cred.type,
          clientExtensionResults: cred.getClientExtensionResults(),
          response: {
            clientDataJSON: toBase64url(r.clientDataJSON),
            authenticatorData: toBase64url(r.authenticatorData),
            signature: toBase64url(r.signature),
            userHandle: r.userHandle ? toBase64url(r.userHandle) : ""
          }
        })
      });
    });
  }

  function showError(form, msg) {
    var el = form.querySelector(".webauthn-error");
    el.textContent = msg;
    el.hidden = false;
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target, kind = form.getAttribute("data-webauthn");
    if (!kind) { return; }
    ev.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showError(form, "This browser does not support security keys.");
      return;
    }
    var button = form.querySelector("button");
    button.disabled = true;
    (kind === "register" ? register(form) : login(form)).then(function (j) {
      window.location.assign(j.redirect);
    }).catch(function (e) {
      button.disabled = false;
      // A cancelled or timed-out prompt is a NotAllowedError.
      showError(form, e && e.name === "NotAllowedError" ? "The security key was not used. Try again." : e.message);
    });
  });
})();
