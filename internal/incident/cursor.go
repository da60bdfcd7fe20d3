package incident

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// EncodeCursor turns a list position into an opaque token for a URL; ""
// for nil (no next page).
func EncodeCursor(c *Cursor) string {
	if c == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

// DecodeCursor reads a token made by EncodeCursor.
func DecodeCursor(s string) (*Cursor, error) {
	bad := apperr.Field("cursor", "is not one this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || id == "" {
		return nil, bad
	}
	return &Cursor{CreatedAt: t.UTC(), ID: id}, nil
}
