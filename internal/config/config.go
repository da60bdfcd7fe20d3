// Package config holds Ward's settings: one struct, its defaults, its
// command-line flags and their WARD_* environment twins. A flag given on the
// command line wins over its environment variable, which wins over the default.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is every setting Ward reads.
type Config struct {
	DataDir      string // folder for the SQLite database, the self-signed certificate and other local state
	DBURL        string // postgres:// URL, or empty for SQLite in DataDir
	Listen       string // address the HTTPS server listens on
	TLSCert      string // operator certificate (PEM); empty: self-signed for localhost
	TLSKey       string
	InsecureHTTP bool // serve plain HTTP, for use behind a TLS-terminating load balancer only
	LogLevel     string
	// MasterKeyFile holds the master key (base64); empty: WARD_MASTER_KEY,
	// else master.key in DataDir.
	MasterKeyFile string
	// IdleTimeout signs a person out after this long without activity
	// (45 CFR 164.312(a)(2)(iii), automatic logoff).
	IdleTimeout time.Duration
	// SNSConfirmHosts are the host suffixes an Amazon SNS subscription
	// confirmation URL may have; Ward visits no other (docs/ALERTING.md).
	SNSConfirmHosts []string
}

// Default returns the defaults.
func Default() Config {
	return Config{DataDir: "./ward-data", Listen: "127.0.0.1:8443", LogLevel: "info", IdleTimeout: 15 * time.Minute,
		SNSConfirmHosts: []string{".amazonaws.com", ".amazonaws.com.cn"}}
}

// BindStorage adds the flags every command shares: where the data is.
func BindStorage(fs *pflag.FlagSet, c *Config) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data folder (env WARD_DATA)")
	fs.StringVar(&c.DBURL, "db", c.DBURL, "database: a postgres:// URL; empty for SQLite in the data folder (env WARD_DB)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", c.MasterKeyFile,
		"file holding the base64 master key; default WARD_MASTER_KEY, else master.key in the data folder (env WARD_MASTER_KEY_FILE)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env WARD_LOG_LEVEL)")
}

// BindServe adds the server's flags.
func BindServe(fs *pflag.FlagSet, c *Config) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve HTTPS on (env WARD_LISTEN)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file, PEM (env WARD_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file, PEM (env WARD_TLS_KEY)")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", c.InsecureHTTP,
		"serve plain HTTP; only behind a load balancer that terminates TLS (env WARD_INSECURE_HTTP)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "sign people out after this long without activity (env WARD_IDLE_TIMEOUT)")
	fs.StringSliceVar(&c.SNSConfirmHosts, "sns-confirm-hosts", c.SNSConfirmHosts,
		"host suffixes an SNS subscription confirmation URL may have (env WARD_SNS_CONFIRM_HOSTS)")
}

// ApplyEnv sets every flag in fs that was not given on the command line
// from its WARD_* twin (--tls-cert ← WARD_TLS_CERT), if that is set.
func ApplyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := "WARD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(name); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// DatabaseURL is the database to open: DBURL, or the SQLite file in DataDir.
func (c Config) DatabaseURL() string {
	if c.DBURL != "" {
		return c.DBURL
	}
	return filepath.Join(c.DataDir, "ward.db")
}

// Level parses LogLevel.
func (c Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("log-level: %q is not debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// Validate checks the settings a command uses, naming the bad one.
func (c Config) Validate(serve bool) error {
	if c.DataDir == "" {
		return errors.New("data: must not be empty")
	}
	if c.DBURL != "" && strings.Contains(c.DBURL, "://") && !strings.HasPrefix(c.DBURL, "postgres://") &&
		!strings.HasPrefix(c.DBURL, "postgresql://") && !strings.HasPrefix(c.DBURL, "sqlite://") {
		return fmt.Errorf("db: %q is neither a postgres:// URL nor a SQLite path", redactURL(c.DBURL))
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if !serve {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port", c.Listen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls-cert and tls-key: give both or neither")
	}
	if c.IdleTimeout < time.Minute || c.IdleTimeout > 12*time.Hour {
		return errors.New("idle-timeout: must be between 1m and 12h")
	}
	for _, h := range c.SNSConfirmHosts {
		if strings.Trim(h, ".") == "" || strings.ContainsAny(h, "/:@ ") {
			return fmt.Errorf("sns-confirm-hosts: %q is not a host name or suffix", h)
		}
	}
	if c.InsecureHTTP && c.TLSCert != "" {
		return errors.New("insecure-http: cannot be combined with tls-cert")
	}
	return nil
}

// EnsureDataDir makes the data folder, readable by its owner only.
func (c Config) EnsureDataDir() error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	return os.Chmod(c.DataDir, 0o700)
}

// redactURL hides a password in a URL for error messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://…@" + rest[at+1:]
	}
	return u
}
