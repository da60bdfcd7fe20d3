package ui

import (
	"fmt"
	"strings"

	"github.com/wardhq/ward/internal/labels"
)

// label is the display name of a code (internal/labels is the one place
// that names them).
func label(s any) string {
	return labels.Of(fmt.Sprint(s))
}

// plural is n with the singular or plural noun: "1 day", "3 days".
func plural(n int, one, many string) string {
	return labels.Count(n, one, many)
}

// who is the name of an actor as the records keep it ("user:pat" → "pat").
func who(actor string) string {
	if _, name, ok := strings.Cut(actor, ":"); ok {
		return name
	}
	return actor
}
