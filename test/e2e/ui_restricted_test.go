package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIRestricted: a responder who types a restricted incident's number
// is offered emergency access (and nothing else reveals it); breaking the
// glass opens it and puts a banner before the Security Officer until they
// acknowledge it.
func TestUIRestricted(t *testing.T) {
	t.Parallel()
	w := startWard(t, "")
	officer := signInAs(t, w, authz.RoleSecurityOfficer, "sofia")
	resp := signInAs(t, w, authz.RoleResponder, "rafael")

	code, where := officer.send("POST", "/incidents", url.Values{"title": {"records snooping"}, "severity": {"sev2"},
		"category": {"unauthorized_access_disclosure"}, "restricted": {"on"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(where, "/incidents/INC-") {
		t.Fatalf("officer records a restricted incident: %d %.300s", code, where)
	}
	number := strings.TrimPrefix(strings.SplitN(where, "?", 2)[0], "/incidents/")
	if _, page := officer.send("GET", "/incidents/"+number, nil); !strings.Contains(page, `class="tag restricted"`) {
		t.Fatalf("no restricted badge: %.500s", page)
	}

	// Lists and searches say nothing; the exact number offers break-glass.
	for _, path := range []string{"/", "/incidents", "/incidents?q=snooping", "/incidents?q=" + number} {
		// The search box echoes the query: look for the incident's link and title.
		if _, page := resp.send("GET", path, nil); strings.Contains(page, `href="/incidents/`+number) ||
			strings.Contains(page, "records snooping") {
			t.Fatalf("%s reveals the restricted incident", path)
		}
	}
	if code, page := resp.send("GET", "/incidents/"+strings.ToLower(number), nil); code != http.StatusNotFound ||
		strings.Contains(page, "restricted") {
		t.Fatalf("a near miss: %d %.300s", code, page)
	}
	code, page := resp.send("GET", "/incidents/"+number, nil)
	if code != http.StatusForbidden || !strings.Contains(page, "This incident is restricted") || strings.Contains(page, "snooping") {
		t.Fatalf("the typed number: %d %.500s", code, page)
	}
	if code, page = resp.send("POST", "/incidents/"+number+"/break-glass", url.Values{"reason": {"need it"}}); code != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "at least 20") {
		t.Fatalf("short reason: %d %.500s", code, page)
	}
	reason := "paged: ransomware on the EHR host, scoping now"
	if code, where = resp.send("POST", "/incidents/"+number+"/break-glass", url.Values{"reason": {reason}}); code != http.StatusSeeOther ||
		!strings.Contains(where, "msg=break_glass") {
		t.Fatalf("break the glass: %d %.300s", code, where)
	}
	if code, page = resp.send("GET", "/incidents/"+number, nil); code != http.StatusOK || !strings.Contains(page, "snooping") ||
		!strings.Contains(page, "Emergency access (break-glass)") {
		t.Fatalf("after breaking the glass: %d %.500s", code, page)
	}
	if _, page = resp.send("GET", "/incidents", nil); strings.Contains(page, "Emergency access to restricted") {
		t.Fatal("a responder sees the officer banner")
	}

	// The officer sees the banner on every page until acknowledging.
	for _, path := range []string{"/", "/alerts", "/profile"} {
		if _, page = officer.send("GET", path, nil); !strings.Contains(page, "Emergency access to restricted incidents") ||
			!strings.Contains(page, "<strong>rafael</strong> broke the glass") || !strings.Contains(page, "ransomware on the EHR host") {
			t.Fatalf("%s: no officer banner: %.800s", path, page)
		}
	}
	_, page = officer.send("GET", "/alerts", nil)
	m := regexOfficerAck.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no acknowledge form: %.800s", page)
	}
	if code, where = officer.send("POST", m[1], url.Values{"next": {"/alerts"}}); code != http.StatusSeeOther ||
		!strings.HasPrefix(where, "/alerts?msg=officer_ack") {
		t.Fatalf("acknowledge: %d %.300s", code, where)
	}
	if _, page = officer.send("GET", "/", nil); strings.Contains(page, "Emergency access to restricted incidents") {
		t.Fatal("the banner outlives its acknowledgement")
	}

	// The officer ends the grant from the incident page.
	_, page = officer.send("GET", "/incidents/"+number, nil)
	rv := regexGrantRevoke.FindStringSubmatch(page)
	if rv == nil || !strings.Contains(page, "Emergency access</h2>") {
		t.Fatalf("no emergency access section: %.800s", page)
	}
	if code, where = officer.send("POST", rv[1], nil); code != http.StatusSeeOther || !strings.Contains(where, "msg=grant_revoked") {
		t.Fatalf("end grant: %d %.300s", code, where)
	}
	if code, page = resp.send("GET", "/incidents/"+number, nil); code != http.StatusForbidden || !strings.Contains(page, "This incident is restricted") {
		t.Fatalf("after the grant ended: %d %.300s", code, page)
	}

	// Members: the officer adds and removes the responder.
	if code, page = officer.send("POST", "/incidents/"+number+"/members", url.Values{"member": {"nobody"}}); code != http.StatusUnprocessableEntity ||
		!strings.Contains(page, `no user`) {
		t.Fatalf("unknown member: %d %.500s", code, page)
	}
	if code, where = officer.send("POST", "/incidents/"+number+"/members", url.Values{"member": {"rafael"}}); code != http.StatusSeeOther {
		t.Fatalf("add member: %d %.300s", code, where)
	}
	_, page = officer.send("GET", "/incidents/"+number, nil)
	rm := regexMemberRemove.FindStringSubmatch(page)
	if rm == nil || !strings.Contains(page, "rafael") {
		t.Fatalf("members section: %.800s", page)
	}
	if code, _ = officer.send("POST", rm[1], nil); code != http.StatusSeeOther {
		t.Fatalf("remove member: %d", code)
	}
}

var (
	regexOfficerAck   = regexp.MustCompile(`action="(/officer-alerts/[^"]+/acknowledge)"`)
	regexMemberRemove = regexp.MustCompile(`action="(/incidents/[^"]+/members/[^"]+/remove)"`)
	regexGrantRevoke  = regexp.MustCompile(`action="(/incidents/[^"]+/grants/[^"]+/revoke)"`)
)
