package user_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/user"
)

// start is on a TOTP step boundary.
var start = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// cheap keeps the suite fast; real parameters are exercised by the benchmark.
var cheap = user.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}

// goodPassword meets every rule for the usernames the tests use.
const goodPassword = "plum tractor velvet 9"

// cli is an operator at the command line: role admin.
var cli = authz.WithActor(context.Background(),
	authz.Actor{Kind: authz.KindCLI, ID: "root", Name: "root", Role: authz.RoleAdmin})

// env is one test's service on one database.
type env struct {
	t   *testing.T
	d   *db.DB
	clk *clock.Fake
	svc *user.Service
}

// newEnv returns a service with cheap hashing and a test sealer; the audit
// chain must verify when the test ends.
func newEnv(t *testing.T, d *db.DB, tune ...func(*user.Options)) *env {
	t.Helper()
	opts := user.Options{Argon2: cheap, Secrets: newTestSealer()}
	for _, f := range tune {
		f(&opts)
	}
	clk := clock.NewFake(start)
	e := &env{t: t, d: d, clk: clk, svc: user.NewService(d, clk, opts)}
	t.Cleanup(func() {
		res, err := audit.Verify(context.Background(), d.R)
		if err != nil {
			t.Errorf("audit verify: %v", err)
		} else if !res.OK {
			t.Errorf("audit chain broken at %d: %s", res.BadSeq, res.Reason)
		}
	})
	return e
}

func (e *env) create(username string, role authz.Role) user.User {
	e.t.Helper()
	u, err := e.svc.Create(cli, user.NewUser{Username: username, DisplayName: "Test " + username, Password: goodPassword, Role: role})
	if err != nil {
		e.t.Fatalf("create %s: %v", username, err)
	}
	return u
}

func (e *env) login(username, password string) user.LoginResult {
	e.t.Helper()
	res, err := e.svc.Login(context.Background(), username, password, "192.0.2.1", "test-agent")
	if err != nil {
		e.t.Fatalf("login %s: %v", username, err)
	}
	return res
}

// loginFails expects the one sign-in error.
func (e *env) loginFails(username, password, ip string) {
	e.t.Helper()
	_, err := e.svc.Login(context.Background(), username, password, ip, "test-agent")
	if err != user.ErrSignIn {
		e.t.Fatalf("login %s: got %v, want ErrSignIn", username, err)
	}
}

// as returns a context acting as the user of a session.
func as(u user.User) context.Context {
	return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: u.ID, Name: u.Username, Role: u.Role})
}

// inSession returns a context as the web UI builds it after Authenticate.
func (e *env) inSession(token string) context.Context {
	e.t.Helper()
	a, s, err := e.svc.Authenticate(context.Background(), token)
	if err != nil {
		e.t.Fatalf("authenticate: %v", err)
	}
	return user.WithSession(authz.WithActor(context.Background(), a), s)
}

func (e *env) stage(token string) user.Stage {
	e.t.Helper()
	_, s, err := e.svc.Authenticate(context.Background(), token)
	if err != nil {
		e.t.Fatalf("authenticate: %v", err)
	}
	return s.Stage
}

// ended expects the session to be refused, and ended for reason.
func (e *env) ended(token, reason string) {
	e.t.Helper()
	if _, _, err := e.svc.Authenticate(context.Background(), token); err != user.ErrSession {
		e.t.Fatalf("authenticate: got %v, want ErrSession", err)
	}
	got, err := e.svc.EndedReason(context.Background(), token)
	if err != nil || got != reason {
		e.t.Fatalf("ended reason: %q, %v; want %q", got, err, reason)
	}
}

func (e *env) seq() int64 {
	e.t.Helper()
	var n int64
	if err := e.d.R.QueryRowContext(context.Background(), "SELECT seq FROM audit_head").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// entries returns the audit entries after seq, oldest first.
func (e *env) entries(since int64) []audit.Entry {
	e.t.Helper()
	all, err := audit.List(context.Background(), e.d.R, audit.Filter{Limit: audit.MaxList})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []audit.Entry
	for _, en := range slices.Backward(all) {
		if en.Seq > since {
			out = append(out, en)
		}
	}
	return out
}

// expectActions checks the actions appended since seq, in order.
func (e *env) expectActions(since int64, want ...string) []audit.Entry {
	e.t.Helper()
	got := e.entries(since)
	var actions []string
	for _, en := range got {
		actions = append(actions, en.Action)
	}
	if !slices.Equal(actions, want) {
		e.t.Fatalf("audit actions:\n got %q\nwant %q", actions, want)
	}
	return got
}

// expectFailure checks that a failed attempt's entry names the username
// tried and binds the reason (the trail keeps the change as a digest).
func expectFailure(t *testing.T, en audit.Entry, username, reason string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": username, "reason": reason})
	sum := sha256.Sum256(b)
	if en.Digest != hex.EncodeToString(sum[:]) {
		t.Errorf("%s entry %d: digest does not match username %q, reason %q", en.Action, en.Seq, username, reason)
	}
	if en.Actor != "user:"+username {
		t.Errorf("%s entry %d: actor %q, want user:%s", en.Action, en.Seq, en.Actor, username)
	}
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func codeOf(err error) apperr.Code { return apperr.CodeOf(err) }

// fieldOf returns the field an Invalid error names.
func fieldOf(err error) string {
	if e, ok := apperr.As(err); ok && e.Code == apperr.Invalid && len(e.Fields) == 1 {
		return e.Fields[0].Field
	}
	return ""
}
