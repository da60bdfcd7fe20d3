package db_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestPoolOptions: the pool size and statement timeout reach PostgreSQL,
// and a statement that runs too long is cancelled by the server.
func TestPoolOptions(t *testing.T) {
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	ctx := context.Background()
	d, err := db.OpenWith(ctx, url, db.Options{MaxConns: 3, MinConns: 1, StatementTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Pool.Config().MaxConns; got != 3 {
		t.Errorf("max conns %d, want 3", got)
	}
	var timeout string
	if err := d.R.QueryRowContext(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "1s" {
		t.Errorf("statement_timeout %q %v, want 1s", timeout, err)
	}
	_, err = d.R.ExecContext(ctx, "SELECT pg_sleep(5)")
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("a 5 s statement under a 1 s timeout: %v, want query_canceled (57014)", err)
	}
	// Migrations run without the timeout, and leave it as it was.
	if _, err := d.Migrate(ctx, time.Now); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := d.R.QueryRowContext(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "1s" {
			t.Fatalf("statement_timeout after migrating %q %v, want 1s", timeout, err)
		}
	}
}

// TestJITOff: Ward's connections run with JIT compilation off (a count
// planned without statistics took 240 ms to compile for 0.4 ms of work,
// issue #14), unless the URL sets jit itself.
func TestJITOff(t *testing.T) {
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	ctx := context.Background()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, c := range []struct{ url, want string }{{url, "off"}, {url + sep + "jit=on", "on"}} {
		d, err := db.OpenWith(ctx, c.url, db.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			var jit string
			if err := d.R.QueryRowContext(ctx, "SHOW jit").Scan(&jit); err != nil || jit != c.want {
				t.Errorf("%s: jit %q %v, want %s", c.url, jit, err, c.want)
			}
		}
		d.Close()
	}
}

// pgBin holds the PostgreSQL 15 server programs (Debian's layout; CI has
// them).
const pgBin = "/usr/lib/postgresql/15/bin"

// TestVerifyFullTLS starts a throwaway PostgreSQL that accepts only TLS
// connections, with a server certificate from a CA made for the test, and
// connects as docs/POSTGRESQL.md says: sslmode=verify-full with the CA
// file. A client that trusts another CA, or names a host the certificate
// does not, is refused.
func TestVerifyFullTLS(t *testing.T) {
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Skipf("needs the PostgreSQL server programs in %s", pgBin)
	}
	dir := t.TempDir()
	// The server's user must reach the folder.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, caKey := newCA(t, "Ward test CA")
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	other, _ := newCA(t, "Another CA")
	writePEM(t, filepath.Join(dir, "other-ca.pem"), "CERTIFICATE", other.Raw)
	port := startTLSPostgres(t, dir, ca, caKey)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := fmt.Sprintf("postgres://postgres@%%s:%d/postgres?sslmode=verify-full&sslrootcert=%%s", port)
	d, err := db.Open(ctx, fmt.Sprintf(base, "127.0.0.1", filepath.Join(dir, "ca.pem")))
	if err != nil {
		t.Fatalf("verify-full with the CA file: %v", err)
	}
	defer d.Close()
	var ssl bool
	if err := d.R.QueryRowContext(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Fatalf("connection over TLS: %v %v", ssl, err)
	}
	if _, err := d.Migrate(ctx, time.Now); err != nil {
		t.Fatalf("migrate over TLS: %v", err)
	}
	if d, err := db.Open(ctx, fmt.Sprintf(base, "127.0.0.1", filepath.Join(dir, "other-ca.pem"))); err == nil {
		d.Close()
		t.Fatal("a server whose certificate another CA signed was trusted")
	}
	if d, err := db.Open(ctx, fmt.Sprintf(base, "localhost", filepath.Join(dir, "ca.pem"))); err == nil {
		d.Close()
		t.Fatal("a certificate for 127.0.0.1 was accepted for localhost")
	}
	if d, err := db.Open(ctx, strings.Replace(fmt.Sprintf(base, "127.0.0.1", ""), "sslmode=verify-full", "sslmode=disable", 1)); err == nil {
		d.Close()
		t.Fatal("the server took a connection without TLS")
	}
}

// startTLSPostgres runs initdb and pg_ctl in dir (as the postgres user
// when the test runs as root, which initdb refuses), with ssl on and only
// TLS connections from 127.0.0.1 allowed, and returns its port. The
// server stops when t ends.
func startTLSPostgres(t *testing.T, dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) int {
	t.Helper()
	data := filepath.Join(dir, "pgdata")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(pgBin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	cert, key := serverCert(t, ca, caKey)
	writePEM(t, filepath.Join(data, "server.crt"), "CERTIFICATE", cert)
	writePEM(t, filepath.Join(data, "server.key"), "PRIVATE KEY", key)
	hba := "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, f := range []string{"server.crt", "server.key", "pg_hba.conf"} {
			if err := os.Chown(filepath.Join(data, f), int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	run("pg_ctl", "-D", data, "-w", "-t", "30", "-l", filepath.Join(dir, "server.log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off", port, dir), "start")
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "stop") })
	return port
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// serverCert is a certificate for 127.0.0.1 only, signed by ca, and its
// key (PKCS #8 DER).
func serverCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw, der
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLocksAreTheSchemasOwn: a Ward's advisory locks (db.LockKey) are its
// schema's: while one schema's migration lock is held, a Ward in another
// schema of the same database migrates without waiting, and the key the
// holder took is the one its own schema's Ward would wait on.
func TestLocksAreTheSchemasOwn(t *testing.T) {
	t.Parallel()
	urlA, urlB := dbtest.PostgresURL(t), dbtest.PostgresURL(t)
	if urlA == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	ctx := context.Background()
	a, err := db.Open(ctx, urlA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	conn, err := a.W.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The migration lock's key (db.migrationLockKey), as a node of A
	// migrating would hold it.
	const migrationLock = 7_310_457_001
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+db.LockKey+")", migrationLock); err != nil {
		t.Fatal(err)
	}
	b, err := db.Open(ctx, urlB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := b.Migrate(bctx, time.Now); err != nil {
		t.Fatalf("another schema's migration waited on this one's lock: %v", err)
	}
	// A's own migration waits for the holder, and runs once it lets go.
	actx, cancelA := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelA()
	if _, err := a.Migrate(actx, time.Now); err == nil {
		t.Fatal("a migration ran while its own schema's lock was held")
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock("+db.LockKey+")", migrationLock); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Migrate(ctx, time.Now); err != nil {
		t.Fatal(err)
	}
}
