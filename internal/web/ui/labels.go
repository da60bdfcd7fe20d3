package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/authz"
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

// intervalText is a heartbeat's interval in words: "5 minutes", "2 hours",
// "1 day".
func intervalText(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day", "days")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour", "hours")
	default:
		return plural(int(d/time.Minute), "minute", "minutes")
	}
}

// who names an actor as the records keep it ("kind:name") for a page: a
// person by username, an API token or a monitoring tool's integration by
// its name, Ward itself as "Ward". Text that is not an actor is kept.
func who(actor string) string {
	kind, name, ok := strings.Cut(actor, ":")
	if !ok {
		return actor
	}
	switch authz.Kind(kind) {
	case authz.KindUser:
		return name
	case authz.KindToken:
		return "API token “" + name + "”"
	case authz.KindCLI:
		return name + " at the command line"
	case authz.KindIntegration:
		// An integration acts as "service/integration".
		if svc, ig, ok := strings.Cut(name, "/"); ok {
			return "Monitoring tool “" + ig + "” (" + svc + ")"
		}
		return "Monitoring tool “" + name + "”"
	case authz.KindSystem:
		return "Ward"
	}
	return actor
}
