package user_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

func TestPasswordPolicy(t *testing.T) {
	svc := user.NewService(nil, clock.NewFake(start), user.Options{})
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{
		{"too short", "elevenchars", false},
		{"twelve is enough", "quiet otter!", true},
		{"counts characters, not bytes", "ünïcödé wörd", true},
		{"too long", strings.Repeat("abcdefgh", 32) + "x", false},
		{"256 is allowed", strings.Repeat("abcdefgh", 32), true},
		{"common", "1qaz2wsx3edc", false},
		{"common, any case", "QazWsxEdcRfv", false},
		{"common with digits added", "sunshine2024!!", false},
		{"common with digits added, any case", "QWERTYUIOP123", false},
		{"contains the username", "I am alice.w, hi", false},
		{"contains the username, any case", "ALICE.W-is-here", false},
		{"repetitive", "aaaaaaaaaaaaaaa", false},
		{"repetitive pairs", "abababababab", false},
		{"no composition rules", "correct horse battery staple", true},
		{"digits only, long and rare", "8305 1964 2272", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := svc.CheckPassword(tc.password, "alice.w")
			if tc.ok && err != nil {
				t.Errorf("%q rejected: %v", tc.password, err)
			}
			if !tc.ok && fieldOf(err) != "password" {
				t.Errorf("%q: got %v, want an error on password", tc.password, err)
			}
		})
	}
}

func TestPasswordHashFormat(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.create("hash.check", authz.RoleResponder)
		phc := storedHash(t, d, u.ID)
		// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<16-byte salt>$<32-byte key>, unpadded base64.
		want := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
		if !want.MatchString(phc) {
			t.Fatalf("stored hash %q is not a PHC string with the configured parameters", phc)
		}
		if strings.Contains(phc, goodPassword) {
			t.Fatal("password stored in plaintext")
		}
		// Salted: the same password hashes differently for another user.
		if phc2 := storedHash(t, d, e.create("hash.check2", authz.RoleResponder).ID); phc2 == phc {
			t.Fatal("two users' hashes are identical")
		}
		e.login("hash.check", goodPassword)

		// New parameters: the next sign-in remakes the hash with them.
		stronger := user.Argon2Params{Time: 2, MemoryKiB: 128, Threads: 1, KeyLen: 32}
		e2 := newEnv(t, d, func(o *user.Options) { o.Argon2 = stronger })
		e2.login("hash.check", goodPassword)
		rehashed := storedHash(t, d, u.ID)
		if !strings.HasPrefix(rehashed, "$argon2id$v=19$m=128,t=2,p=1$") {
			t.Fatalf("after sign-in with new parameters the hash is %q", rehashed)
		}
		e2.login("hash.check", goodPassword)
		e.login("hash.check", goodPassword) // old parameters still verify what is stored
	})
}

func storedHash(t *testing.T, d *db.DB, id string) string {
	t.Helper()
	var phc string
	if err := d.R.QueryRowContext(context.Background(), "SELECT password_hash FROM users WHERE id = $1", id).Scan(&phc); err != nil {
		t.Fatal(err)
	}
	return phc
}

// TestHashConcurrencyBounded floods sign-in and counts the hashes running
// at once through the key-derivation hook.
func TestHashConcurrencyBounded(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		const limit = 2
		e := newEnv(t, d, func(o *user.Options) { o.MaxConcurrentHashes = limit })
		e.create("flooded", authz.RoleResponder)
		var running, peak, calls atomic.Int32
		user.SetHashKey(e.svc, func(pw, salt []byte, p user.Argon2Params) []byte {
			calls.Add(1)
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
			running.Add(-1)
			return user.Argon2Key(pw, salt, p)
		})

		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Unknown usernames: each attempt costs exactly one hash.
				_, err := e.svc.Login(context.Background(), "nobody"+string(rune('a'+i)), "wrong password here", "198.51.100.7", "")
				if err != user.ErrSignIn {
					t.Errorf("login: %v", err)
				}
			}()
		}
		wg.Wait()
		if peak.Load() != limit {
			t.Errorf("peak concurrent hashes %d, want %d", peak.Load(), limit)
		}
		if calls.Load() != 12 {
			t.Errorf("%d hashes for 12 unknown-user attempts, want 12", calls.Load())
		}

		// A caller waiting for a slot gives up when its context ends.
		release := make(chan struct{})
		user.SetHashKey(e.svc, func(pw, salt []byte, p user.Argon2Params) []byte {
			<-release
			return user.Argon2Key(pw, salt, p)
		})
		for range limit {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = e.svc.Login(context.Background(), "flooded", "wrong password here", "198.51.100.8", "")
			}()
		}
		time.Sleep(50 * time.Millisecond) // let both take their slot
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := e.svc.Login(ctx, "flooded", goodPassword, "198.51.100.9", ""); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting for a hash slot: got %v, want deadline exceeded", err)
		}
		close(release)
		wg.Wait()
	})
}

// BenchmarkHashDefault measures the default argon2id parameters; the
// figures in the Options documentation come from it.
func BenchmarkHashDefault(b *testing.B) {
	svc := user.NewService(nil, clock.Real{}, user.Options{})
	for b.Loop() {
		if _, err := svc.HashPassword(context.Background(), goodPassword); err != nil {
			b.Fatal(err)
		}
	}
}
