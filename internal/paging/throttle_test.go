package paging

import (
	"slices"
	"testing"
)

func TestThrottle(t *testing.T) {
	th := newThrottle()
	if th.seeded("sms") {
		t.Fatal("a new throttle knows a contact")
	}
	th.seed("sms", 3)
	th.seed("mail", -1)
	if !th.seeded("sms") || !th.seeded("mail") {
		t.Fatal("seeded contacts are not known")
	}
	var got []bool
	for range 4 {
		got = append(got, th.allow("sms", ContactSMS))
	}
	// Five SMS per window: three before the round leave room for two.
	if want := []bool{true, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("SMS after 3 in the window: %v, want %v", got, want)
	}
	for i := range RateLimits[ContactEmail] {
		if !th.allow("mail", ContactEmail) {
			t.Fatalf("email %d of %d refused", i+1, RateLimits[ContactEmail])
		}
	}
	if th.allow("mail", ContactEmail) {
		t.Fatal("an email over the limit was allowed")
	}
	for range 100 {
		if !th.allow("hook", ContactWebhook) {
			t.Fatal("webhooks have no limit")
		}
	}
	// Contacts count apart, even of the same kind.
	th.seed("sms2", 0)
	if !th.allow("sms2", ContactSMS) {
		t.Fatal("one contact's count limited another")
	}
}
