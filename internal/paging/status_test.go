package paging

import (
	"strings"
	"testing"
)

// TestStatusLine: a status line names who acted by username or by what
// acted, never by a name typed as free text (an API token's, an
// integration's), and fits a message's 64-byte status.
func TestStatusLine(t *testing.T) {
	for _, c := range []struct{ by, want string }{
		{"user:alice", "acknowledged by alice"},
		{"cli:root", "acknowledged by root"},
		{"token:Jane Doe's laptop", "acknowledged by an API token"},
		{"integration:payments/nagios", "acknowledged by the monitoring tool"},
		{"alerts", "acknowledged by the monitoring tool"},
		{"ward", "acknowledged by Ward"},
		{"system:ward", "acknowledged by Ward"},
	} {
		if got := statusLine(eventAcknowledged, "by "+actedBy(c.by)); got != c.want {
			t.Errorf("%s: %q, want %q", c.by, got, c.want)
		}
	}
	long := statusLine(eventResolved, "by "+actedBy("user:"+strings.Repeat("é", 40)))
	if len(long) > 64 || !strings.HasPrefix(long, "resolved by é") || !strings.HasSuffix(long, "é") {
		t.Fatalf("a long line: %q (%d bytes)", long, len(long))
	}
}
