package ui

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/input"
)

// MaxFormBytes caps a form the UI posts (a notice template is the largest).
const MaxFormBytes = 1 << 20

// MaxUploadBytes caps a file upload but the list of affected individuals,
// which is streamed whatever its size.
const MaxUploadBytes = 64<<20 + 1<<20

// maxBody is the largest body route rt takes, -1 for no limit.
func (rt Route) maxBody() int64 {
	if rt.MaxBody != 0 {
		return rt.MaxBody
	}
	return MaxFormBytes
}

// formPolicy applies Ward's input policy (package input) to a request
// before the route's handler sees it: a path or query value that breaks
// it is 422 naming it; for a posted form, a body over the route's limit is
// 413, and a value with a control character or invalid UTF-8, or a title
// or name (fields "title", "name") on more than one line, with a
// bidirectional control or without a visible character, is refused with
// 422 naming the field. File parts are the handlers' (CSV lists have
// their own policy). It reports whether the request may go on.
func (u *UI) formPolicy(w http.ResponseWriter, r *http.Request, rt Route) bool {
	if where, reason := input.URL(r.URL); reason != "" {
		u.fail(w, r, apperr.Field(where, "%s", reason))
		return false
	}
	if r.Method == http.MethodGet {
		return true
	}
	limit := rt.maxBody()
	if limit > 0 {
		if r.ContentLength > limit {
			u.tooLarge(w, r, limit)
			return false
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		return true
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if u.readFailed(w, r, err, limit) {
			return false
		}
		if p := input.Payload("", body); p != nil {
			u.fail(w, r, apperr.Field(p.Location, "%s", p.Message))
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		return true
	}
	if u.readFailed(w, r, r.ParseForm(), limit) {
		return false
	}
	names := make([]string, 0, len(r.PostForm))
	for name := range r.PostForm {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if reason := input.Text(name); reason != "" {
			u.fail(w, r, apperr.New(apperr.Invalid, "a field name %s", reason))
			return false
		}
		for _, v := range r.PostForm[name] {
			if reason := input.Field(name, v); reason != "" {
				u.fail(w, r, apperr.Field(name, "%s", reason))
				return false
			}
		}
	}
	return true
}

// readFailed answers a body that could not be read, 413 when it was over
// the limit, and reports whether it did.
func (u *UI) readFailed(w http.ResponseWriter, r *http.Request, err error, limit int64) bool {
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return false
	case errors.As(err, &tooLarge):
		u.tooLarge(w, r, limit)
	default:
		u.fail(w, r, apperr.New(apperr.Invalid, "The form could not be read."))
	}
	return true
}

func (u *UI) tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	status := http.StatusRequestEntityTooLarge
	u.render(w, r, status, "error", http.StatusText(status), "", map[string]any{"Status": status,
		"Message": fmt.Sprintf("What you sent is larger than this form takes (%d bytes).", limit)})
}
