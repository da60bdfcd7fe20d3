package ui

import "net/http"

// attachment sends body as a file to save, named name. What Ward lets
// people download (letters, lists of individuals, reports, proof bundles)
// may hold PHI, so no cache keeps it.
func attachment(w http.ResponseWriter, contentType, name string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}
