package ui

import (
	"net/http"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

// fallbackPattern is the pattern of the handler that takes every request
// no route matched.
const fallbackPattern = "/"

// allMethods are the methods Ward's routes use, for the Allow header.
var allMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// fallback answers every request that no route took, in place of the
// mux's bare "404 page not found" and "Method Not Allowed":
//
//   - a browser that opens the address of a form (by Back, a bookmark or
//     a reload of an error shown there) is sent, with See Other, to the
//     nearest page above it: /incidents/INC-1/notices/generate leads to
//     /incidents/INC-1/notices;
//   - another method on an address that has routes is 405 with Allow;
//   - anything else is 404.
//
// Browsers (Accept: text/html) get Ward's styled page; API clients and
// tools get a plain answer.
func (u *UI) fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range allMethods {
			if routed(mux, m, r.URL.Path) {
				allow = append(allow, m)
			}
		}
		page := strings.Contains(r.Header.Get("Accept"), "text/html")
		if len(allow) > 0 && page && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			for p := r.URL.Path; p != "/"; {
				p = p[:strings.LastIndex(p, "/")+1]
				if p != "/" {
					p = strings.TrimSuffix(p, "/")
				}
				if routed(mux, http.MethodGet, p) {
					http.Redirect(w, r, p, http.StatusSeeOther)
					return
				}
			}
		}
		status := http.StatusNotFound
		msg := "There is no page at this address. It may have been mistyped, or what it showed no longer exists."
		if len(allow) > 0 {
			if slices.Contains(allow, http.MethodGet) {
				allow = append(allow, http.MethodHead)
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			status = http.StatusMethodNotAllowed
			msg = "This address takes a form sent from a page; it cannot be opened by itself."
		}
		if !page {
			http.Error(w, http.StatusText(status), status)
			return
		}
		u.render(w, u.withViewer(r), status, "error", http.StatusText(status), "", map[string]any{"Status": status, "Message": msg})
	})
}

// routed reports whether a route other than the fallback takes method on
// path.
func routed(mux *http.ServeMux, method, path string) bool {
	req, err := http.NewRequest(method, path, nil)
	if err != nil {
		return false
	}
	_, pattern := mux.Handler(req)
	return pattern != "" && pattern != fallbackPattern
}

// withViewer adds the signed-in person, if any, to r, so that an error page
// shows them their menu; a missing or ended session leaves r as it is.
func (u *UI) withViewer(r *http.Request) *http.Request {
	c, err := r.Cookie(u.sessionCookie())
	if err != nil || c.Value == "" {
		return r
	}
	actor, sess, err := u.Users.Authenticate(r.Context(), c.Value)
	if err != nil || sess.Stage != user.StageFull {
		return r
	}
	return r.WithContext(authz.WithActor(r.Context(), actor))
}
