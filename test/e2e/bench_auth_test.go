package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/authz"
)

// benchNumberRe matches the numbers seedIncidents gives.
var benchNumberRe = regexp.MustCompile(`INC-BENCH-[0-9]{7}`)

// floodAttackers is how many clients try wrong passwords at once.
const floodAttackers = 200

// floodFor is how long BenchmarkSignInFlood's attackers keep trying.
const floodFor = 15 * time.Second

// BenchmarkSignInFlood has 200 clients, each from its own loopback address
// (127.0.0.2 to 127.0.0.201, so the per-address limit of 50 failures does
// not cut them off), post wrong sign-ins to the UI's /login back to back
// for 15 seconds, while another client reads the first incident through
// the API with a token, one request after the other. It reports that
// client's p50 and p95, the sign-in attempts answered per second, and the
// test process's peak resident memory (VmHWM: Ward and the load generator
// together). Each attacker uses a username of its own that does not exist:
// that costs the full argon2id hash a wrong password costs, and no account
// lockout makes later attempts cheaper. Run with -benchtime 1x.
func BenchmarkSignInFlood(b *testing.B) {
	w := startWard(b, "")
	w.must(http.StatusCreated, http.MethodPost, "/api/v1/incidents",
		`{"title":"Suspicious login burst","severity":"sev2","category":"hacking_it_incident"}`, nil)
	before := peakRSS(b)
	var lat []time.Duration
	var attempts, unexpected atomic.Int64
	for b.Loop() {
		ctx, stop := context.WithTimeout(context.Background(), floodFor)
		var wg sync.WaitGroup
		for i := range floodAttackers {
			wg.Go(func() { attack(ctx, w.url, i, &attempts, &unexpected) })
		}
		lat = lat[:0]
		for ctx.Err() == nil {
			start := time.Now()
			w.must(http.StatusOK, http.MethodGet, "/api/v1/incidents?limit=1", nil, nil)
			lat = append(lat, time.Since(start))
		}
		stop()
		wg.Wait()
	}
	if n := unexpected.Load(); n > 0 {
		b.Fatalf("%d sign-in attempts were not refused with 401", n)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(len(lat)), "reads")
	b.ReportMetric(float64(attempts.Load())/(floodFor.Seconds()*float64(b.N)), "sign-ins/s")
	b.ReportMetric(float64(before)/1024, "VmHWM-before-MiB")
	b.ReportMetric(float64(peakRSS(b))/1024, "VmHWM-MiB")
}

// attack posts wrong sign-ins from 127.0.0.(2+i) until ctx ends, counting
// the answers and those that are not 401.
func attack(ctx context.Context, base string, i int, attempts, unexpected *atomic.Int64) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // self-signed
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	form := url.Values{"username": {fmt.Sprintf("nobody-%03d", i)}, "password": {"not the password at all"}}.Encode()
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form))
		if err != nil {
			unexpected.Add(1)
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				unexpected.Add(1)
			}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		attempts.Add(1)
		if resp.StatusCode != http.StatusUnauthorized {
			unexpected.Add(1)
		}
	}
}

// peakRSS is the process's peak resident set size in KiB, from
// /proc/self/status.
func peakRSS(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kib
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkUIIncidentPages measures, for a signed-in administrator (two-
// factor enrolled), the latency of the UI's incident list over 50
// incidents whose descriptions are all sealed, and of one incident's page,
// which opens its description and records the PHI read before answering.
// The list shows no PHI, so it does not open the descriptions.
func BenchmarkUIIncidentPages(b *testing.B) {
	data := b.TempDir()
	seedIncidents(b, data, 50)
	sealDescriptions(b, data)
	w := startWardAt(b, data, "")
	c := benchSignIn(b, w, authz.RoleAdmin, "bench-admin")
	var first struct {
		Items []struct{ ID string } `json:"items"`
	}
	w.must(http.StatusOK, http.MethodGet, "/api/v1/incidents?limit=1", nil, &first)
	_, page := benchGet(b, c, w.url+"/incidents")
	if n := len(slices.Compact(slices.Sorted(slices.Values(benchNumberRe.FindAllString(page, -1))))); n != 50 {
		b.Fatalf("the list shows %d incidents, want 50", n)
	}
	runs := []struct{ name, path, want, never string }{
		{"list", "/incidents", "INC-BENCH-0000000", "sent to the wrong clinic"},
		{"incident", "/incidents/" + first.Items[0].ID, "sent to the wrong clinic", ""},
	}
	for _, r := range runs {
		b.Run(r.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				code, page := benchGet(b, c, w.url+r.path)
				lat = append(lat, time.Since(start))
				if code != http.StatusOK || !strings.Contains(page, r.want) || r.never != "" && strings.Contains(page, r.never) {
					b.Fatalf("GET %s: %d, want %q and not %q: %.500s", r.path, code, r.want, r.never, page)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// benchSignIn creates a user of role named name, signs them in through the
// UI's forms, enrolling two-factor authentication when the role needs it,
// and returns a client holding the full session's cookie.
func benchSignIn(b *testing.B, w *ward, role authz.Role, name string) *http.Client {
	b.Helper()
	if code, _, errs := runWardIn(b, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", name,
		"--role", string(role), "--password-stdin"); code != 0 {
		b.Fatalf("create %s: %s", role, errs)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // self-signed
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	b.Cleanup(c.CloseIdleConnections)
	if code, page := benchPost(b, c, w.url+"/login", url.Values{"username": {name}, "password": {uiPassword}}); code != http.StatusSeeOther {
		b.Fatalf("sign-in: %d %.300s", code, page)
	}
	if authz.PrivilegedRole(role) {
		_, page := benchGet(b, c, w.url+"/mfa/enroll")
		secret, csrf := secretRe.FindStringSubmatch(page), csrfRe.FindStringSubmatch(page)
		if secret == nil || csrf == nil {
			b.Fatalf("no TOTP secret or CSRF token on the enrolment page: %.500s", page)
		}
		otp, err := totp.GenerateCode(secret[1], time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if code, page := benchPost(b, c, w.url+"/mfa/enroll", url.Values{"code": {otp}, "csrf": {csrf[1]}}); code != http.StatusSeeOther {
			b.Fatalf("enrolment: %d %.500s", code, page)
		}
	}
	return c
}

func benchGet(b *testing.B, c *http.Client, u string) (int, string) {
	b.Helper()
	resp, err := c.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}

func benchPost(b *testing.B, c *http.Client, u string, form url.Values) (int, string) {
	b.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}
