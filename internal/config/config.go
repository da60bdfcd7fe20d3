// Package config holds Ward's settings: one struct, its defaults, its
// command-line flags and their WARD_* environment twins. A flag given on the
// command line wins over its environment variable, which wins over the default.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // the IANA zones, whatever the host has installed
	"unicode"

	"github.com/spf13/pflag"

	"github.com/wardhq/ward/internal/outbound"
	"github.com/wardhq/ward/internal/sso"
)

// Config is every setting Ward reads.
type Config struct {
	DataDir string // folder for the SQLite database, the self-signed certificate and other local state
	DBURL   string // postgres:// URL, or empty for SQLite in DataDir
	// PostgreSQL pool and statements (docs/POSTGRESQL.md); SQLite ignores
	// them. DBMaxConns 0: pgx's default, the larger of 4 and the CPUs.
	DBMaxConns         int
	DBMinConns         int
	DBStatementTimeout time.Duration // 0: none
	Listen             string        // address the HTTPS server listens on
	TLSCert            string        // operator certificate (PEM); empty: self-signed for localhost
	TLSKey             string
	InsecureHTTP       bool // serve plain HTTP, for use behind a TLS-terminating load balancer only
	LogLevel           string
	// MasterKeyFile holds the master key (base64); empty: WARD_MASTER_KEY,
	// else master.key in DataDir.
	MasterKeyFile string
	// MasterKeyURI names a master key held in a KMS (aws-kms://, gcp-kms://,
	// hcvault://); it excludes WARD_MASTER_KEY and MasterKeyFile.
	MasterKeyURI string
	// KMSEndpoint replaces the KMS's service URL (a private endpoint, a
	// test server); for Vault, the address.
	KMSEndpoint string
	// OutboundAllow are the CIDR prefixes (or addresses) that webhooks,
	// chat, SNS confirmations and the KMS may reach although they are
	// loopback, private, link-local or otherwise refused (package outbound).
	OutboundAllow []string
	// IdleTimeout signs a person out after this long without activity
	// (45 CFR 164.312(a)(2)(iii), automatic logoff).
	IdleTimeout time.Duration
	// SNSConfirmHosts are the host suffixes an Amazon SNS subscription
	// confirmation URL may have; Ward visits no other (docs/ALERTING.md).
	SNSConfirmHosts []string
	// PublicURL is where people reach Ward, for the links in messages;
	// empty: https:// and the listen address.
	PublicURL string
	// PagingPoll is how often the escalator looks for due pages and
	// messages when nothing wakes it.
	PagingPoll time.Duration
	// AuditWatch is how often each node's audit watcher looks for new
	// entries of the audit trail (docs/AUDIT.md: continuous verification).
	AuditWatch time.Duration
	// BreachReminderDays are the days before a breach notice deadline at
	// which the Privacy and Security Officers are reminded (docs/REPORTS.md).
	BreachReminderDays []int
	// BreachAutoOpen opens a breach case as soon as an incident is marked
	// phi_suspected (docs/BREACH.md).
	BreachAutoOpen bool
	// LettersPerPDF is how many notice letters one PDF file holds, for a
	// print-and-mail vendor (docs/NOTICES.md).
	LettersPerPDF int
	// EvidenceMaxBytes is the largest evidence file accepted
	// (docs/EVIDENCE.md).
	EvidenceMaxBytes int64
	// TimeZone is the IANA name of the zone breach deadlines are counted
	// in until the organisation sets its own (docs/BREACH.md).
	TimeZone string

	// Email (SMTP with mandatory TLS); SMTPServer empty: no email.
	SMTPServer   string // host:port
	SMTPTLS      string // starttls or tls
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	SMTPCAFile   string // PEM roots to trust for the SMTP server, beside the system's

	// SMS and voice through Twilio; TwilioAccountSID empty: none.
	TwilioAccountSID string
	TwilioAuthToken  string
	TwilioFrom       string
	TwilioURL        string

	// Email intake: an SMTP listener for alerts sent to <key>@EmailDomain;
	// EmailListen empty: off.
	EmailListen string
	EmailDomain string

	// Forwarding of the audit trail to a SIEM (package audit/siem): a
	// syslog collector over TLS (host:port) and a webhook; empty: off.
	SIEMSyslog        string
	SIEMWebhook       string
	SIEMWebhookSecret string
	SIEMCAFile        string // extra CAs to trust for both

	// Slack bot token, for contact methods naming a channel or user id.
	SlackBotToken string
	SlackURL      string
	// SlackSigningSecret is the Slack app's signing secret: with it, page
	// messages carry buttons pressed in Slack (POST
	// /intake/slack/interactions), not links.
	SlackSigningSecret string

	// Single sign-on with OpenID Connect; OIDCIssuer empty: none.
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCRedirectURL  string // empty: the public URL's /login/oidc/callback
	OIDCGroupsClaim  string
	OIDCRoleMap      string // group=role,group=role
	OIDCName         string // the sign-in button's label
	OIDCCAFile       string // PEM roots to trust for the provider, beside the system's
	// ACMEDomains are the public host names to get a certificate for from
	// an ACME CA (TLS-ALPN-01 on the listener); empty: no ACME.
	ACMEDomains   []string
	ACMEEmail     string // contact address given to the CA
	ACMEDirectory string // the CA's ACME directory URL

	// Anchored audit checkpoints (docs/AUDIT.md). AuditSigningKeyFile is
	// the Ed25519 key that signs them; empty: AuditSigningKeyPath decides.
	AuditSigningKeyFile string
	// AuditCheckpointEntries and AuditCheckpointInterval: a checkpoint is
	// signed once the trail has grown by this many entries, or has grown at
	// all and this long has passed since the last one.
	AuditCheckpointEntries  int64
	AuditCheckpointInterval time.Duration
	// AuditCheckpointFile is a JSON Lines file outside the data folder
	// each checkpoint is appended to; empty: none.
	AuditCheckpointFile string
	// AuditCheckpointWebhook is a URL each checkpoint is POSTed to; empty: none.
	AuditCheckpointWebhook string
}

// LetsEncryptDirectory is Let's Encrypt's production ACME directory.
const LetsEncryptDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// Default returns the defaults.
func Default() Config {
	return Config{DataDir: "./ward-data", DBStatementTimeout: time.Minute, Listen: "127.0.0.1:8443", LogLevel: "info", IdleTimeout: 15 * time.Minute,
		SNSConfirmHosts: []string{".amazonaws.com", ".amazonaws.com.cn"}, PagingPoll: time.Second, AuditWatch: 250 * time.Millisecond, SMTPTLS: "starttls",
		BreachReminderDays: []int{30, 14, 7, 3, 1}, BreachAutoOpen: true, LettersPerPDF: 1000, EvidenceMaxBytes: 20 << 30, TimeZone: "UTC",
		TwilioURL: "https://api.twilio.com", SlackURL: "https://slack.com", OIDCGroupsClaim: "groups",
		ACMEDirectory: LetsEncryptDirectory, AuditCheckpointEntries: 1000, AuditCheckpointInterval: 5 * time.Minute}
}

// BindStorage adds the flags every command shares: where the data is.
func BindStorage(fs *pflag.FlagSet, c *Config) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data folder (env WARD_DATA)")
	fs.StringVar(&c.DBURL, "db", c.DBURL, "database: a postgres:// URL; empty for SQLite in the data folder (env WARD_DB)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns,
		"PostgreSQL: most connections this process opens; 0: the larger of 4 and the CPUs (env WARD_DB_MAX_CONNS)")
	fs.IntVar(&c.DBMinConns, "db-min-conns", c.DBMinConns, "PostgreSQL: connections kept open when idle (env WARD_DB_MIN_CONNS)")
	fs.DurationVar(&c.DBStatementTimeout, "db-statement-timeout", c.DBStatementTimeout,
		"PostgreSQL: longest a statement may run before the server cancels it; 0: no limit (env WARD_DB_STATEMENT_TIMEOUT)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", c.MasterKeyFile,
		"file holding the base64 master key; default WARD_MASTER_KEY, else master.key in the data folder (env WARD_MASTER_KEY_FILE)")
	fs.StringVar(&c.MasterKeyURI, "master-key-uri", c.MasterKeyURI,
		"master key held in a KMS: aws-kms://arn:…, gcp-kms://projects/…/cryptoKeys/…, hcvault://HOST:PORT/transit/keys/NAME (env WARD_MASTER_KEY_URI)")
	fs.StringVar(&c.KMSEndpoint, "kms-endpoint", c.KMSEndpoint,
		"URL replacing the KMS's service endpoint, for a private endpoint; for Vault, its address (env WARD_KMS_ENDPOINT)")
	fs.StringSliceVar(&c.OutboundAllow, "outbound-allow", c.OutboundAllow,
		"CIDR prefixes webhooks, chat, SNS confirmations and the KMS may reach although loopback, private or link-local (env WARD_OUTBOUND_ALLOW)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env WARD_LOG_LEVEL)")
	fs.StringVar(&c.AuditSigningKeyFile, "audit-signing-key-file", c.AuditSigningKeyFile,
		"Ed25519 key signing audit checkpoints, made on first start; keep it outside the data folder; default audit-signing.key "+
			"beside --master-key-file when that is outside the data folder, else in the data folder (env WARD_AUDIT_SIGNING_KEY_FILE)")
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
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL,
		"the URL people reach Ward at, for links in notifications; default https:// and the listen address (env WARD_PUBLIC_URL)")
	fs.DurationVar(&c.PagingPoll, "paging-poll", c.PagingPoll, "how often paging looks for due work (env WARD_PAGING_POLL)")
	fs.DurationVar(&c.AuditWatch, "audit-watch-interval", c.AuditWatch,
		"how often each node verifies the audit trail's new entries, 10ms-1m (env WARD_AUDIT_WATCH_INTERVAL)")
	fs.IntSliceVar(&c.BreachReminderDays, "breach-reminder-days", c.BreachReminderDays,
		"days before a breach notice deadline to remind the officers, each 1-365 (env WARD_BREACH_REMINDER_DAYS)")
	fs.BoolVar(&c.BreachAutoOpen, "breach-auto-open", c.BreachAutoOpen,
		"open a breach case as soon as an incident is marked phi_suspected (env WARD_BREACH_AUTO_OPEN)")
	fs.IntVar(&c.LettersPerPDF, "letters-per-pdf", c.LettersPerPDF,
		"how many notice letters one PDF file holds, 1-100000, for a print-and-mail vendor (env WARD_LETTERS_PER_PDF)")
	fs.Int64Var(&c.EvidenceMaxBytes, "evidence-max-bytes", c.EvidenceMaxBytes,
		"largest evidence file accepted, in bytes, 1 to 2^40 (env WARD_EVIDENCE_MAX_BYTES)")
	fs.StringVar(&c.TimeZone, "time-zone", c.TimeZone,
		"IANA time zone breach deadlines are counted in until the organisation sets its own, e.g. America/Los_Angeles (env WARD_TIME_ZONE)")
	fs.StringVar(&c.SMTPServer, "smtp-server", c.SMTPServer, "SMTP server host:port for email notifications (env WARD_SMTP_SERVER)")
	fs.StringVar(&c.SMTPTLS, "smtp-tls", c.SMTPTLS, "starttls or tls (implicit); TLS is always required (env WARD_SMTP_TLS)")
	fs.StringVar(&c.SMTPUsername, "smtp-username", c.SMTPUsername, "SMTP user name (env WARD_SMTP_USERNAME)")
	fs.StringVar(&c.SMTPPassword, "smtp-password", c.SMTPPassword, "SMTP password; prefer the environment (env WARD_SMTP_PASSWORD)")
	fs.StringVar(&c.SMTPFrom, "smtp-from", c.SMTPFrom, "sender address of notifications (env WARD_SMTP_FROM)")
	fs.StringVar(&c.SMTPCAFile, "smtp-ca-file", c.SMTPCAFile, "PEM file of extra CAs to trust for the SMTP server (env WARD_SMTP_CA_FILE)")
	fs.StringVar(&c.TwilioAccountSID, "twilio-account-sid", c.TwilioAccountSID, "Twilio account SID for SMS and voice (env WARD_TWILIO_ACCOUNT_SID)")
	fs.StringVar(&c.TwilioAuthToken, "twilio-auth-token", c.TwilioAuthToken, "Twilio auth token; prefer the environment (env WARD_TWILIO_AUTH_TOKEN)")
	fs.StringVar(&c.TwilioFrom, "twilio-from", c.TwilioFrom, "Twilio number messages come from, E.164 (env WARD_TWILIO_FROM)")
	fs.StringVar(&c.TwilioURL, "twilio-url", c.TwilioURL, "Twilio API base URL (env WARD_TWILIO_URL)")
	fs.StringVar(&c.SlackBotToken, "slack-bot-token", c.SlackBotToken, "Slack bot token (xoxb-…); prefer the environment (env WARD_SLACK_BOT_TOKEN)")
	fs.StringVar(&c.SlackURL, "slack-url", c.SlackURL, "Slack API base URL (env WARD_SLACK_URL)")
	fs.StringVar(&c.SlackSigningSecret, "slack-signing-secret", c.SlackSigningSecret,
		"Slack app signing secret, for the buttons of page messages; prefer the environment (env WARD_SLACK_SIGNING_SECRET)")
	fs.StringVar(&c.SIEMSyslog, "siem-syslog", c.SIEMSyslog,
		"host:port of a syslog collector to forward every audit entry to, RFC 5424 over TLS; empty: off (env WARD_SIEM_SYSLOG)")
	fs.StringVar(&c.SIEMWebhook, "siem-webhook", c.SIEMWebhook,
		"https URL to post every audit entry to in signed JSON batches; empty: off (env WARD_SIEM_WEBHOOK)")
	fs.StringVar(&c.SIEMWebhookSecret, "siem-webhook-secret", c.SIEMWebhookSecret,
		"HMAC key of the SIEM webhook's signature, at least 16 bytes; prefer the environment (env WARD_SIEM_WEBHOOK_SECRET)")
	fs.StringVar(&c.SIEMCAFile, "siem-ca-file", c.SIEMCAFile,
		"PEM file of extra CAs to trust for the SIEM syslog collector and webhook (env WARD_SIEM_CA_FILE)")
	fs.StringVar(&c.EmailListen, "email-intake-listen", c.EmailListen,
		"address of an SMTP listener that turns email to <key>@<email-intake-domain> into alerts; empty: off (env WARD_EMAIL_INTAKE_LISTEN)")
	fs.StringVar(&c.EmailDomain, "email-intake-domain", c.EmailDomain, "the domain of the intake addresses (env WARD_EMAIL_INTAKE_DOMAIN)")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", c.OIDCIssuer,
		"OpenID Connect issuer URL for single sign-on; empty: no SSO (env WARD_OIDC_ISSUER)")
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", c.OIDCClientID, "OpenID Connect client id (env WARD_OIDC_CLIENT_ID)")
	fs.StringVar(&c.OIDCClientSecret, "oidc-client-secret", c.OIDCClientSecret,
		"OpenID Connect client secret; prefer the environment (env WARD_OIDC_CLIENT_SECRET)")
	fs.StringVar(&c.OIDCRedirectURL, "oidc-redirect-url", c.OIDCRedirectURL,
		"callback URL registered with the provider; default the public URL's /login/oidc/callback (env WARD_OIDC_REDIRECT_URL)")
	fs.StringVar(&c.OIDCGroupsClaim, "oidc-groups-claim", c.OIDCGroupsClaim,
		"ID token claim listing the person's groups (env WARD_OIDC_GROUPS_CLAIM)")
	fs.StringVar(&c.OIDCRoleMap, "oidc-role-map", c.OIDCRoleMap,
		"group=role pairs, comma-separated; the highest-privilege mapped role wins (env WARD_OIDC_ROLE_MAP)")
	fs.StringVar(&c.OIDCName, "oidc-name", c.OIDCName, "the provider's name on the sign-in button (env WARD_OIDC_NAME)")
	fs.StringVar(&c.OIDCCAFile, "oidc-ca-file", c.OIDCCAFile,
		"PEM file of extra CAs to trust for the OpenID Connect provider (env WARD_OIDC_CA_FILE)")
	fs.StringSliceVar(&c.ACMEDomains, "acme-domain", c.ACMEDomains,
		"public host names to get a certificate for from Let's Encrypt (ACME TLS-ALPN-01 on port 443); enables ACME (env WARD_ACME_DOMAIN)")
	fs.StringVar(&c.ACMEEmail, "acme-email", c.ACMEEmail, "contact address for the ACME account (env WARD_ACME_EMAIL)")
	fs.Int64Var(&c.AuditCheckpointEntries, "audit-checkpoint-entries", c.AuditCheckpointEntries,
		"sign an audit checkpoint once the trail has grown by this many entries, 1-1000000 (env WARD_AUDIT_CHECKPOINT_ENTRIES)")
	fs.DurationVar(&c.AuditCheckpointInterval, "audit-checkpoint-interval", c.AuditCheckpointInterval,
		"sign an audit checkpoint at least this often while the trail grows, 1s-24h (env WARD_AUDIT_CHECKPOINT_INTERVAL)")
	fs.StringVar(&c.AuditCheckpointFile, "audit-checkpoint-file", c.AuditCheckpointFile,
		"JSON Lines file outside the data folder each audit checkpoint is appended to (env WARD_AUDIT_CHECKPOINT_FILE)")
	fs.StringVar(&c.AuditCheckpointWebhook, "audit-checkpoint-webhook", c.AuditCheckpointWebhook,
		"URL each audit checkpoint is POSTed to as JSON; subject to --outbound-allow (env WARD_AUDIT_CHECKPOINT_WEBHOOK)")
	fs.StringVar(&c.ACMEDirectory, "acme-directory", c.ACMEDirectory,
		"ACME directory URL; Let's Encrypt production by default, its staging one for trials (env WARD_ACME_DIRECTORY)")
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
	if c.DBMaxConns < 0 || c.DBMaxConns > 1000 {
		return fmt.Errorf("db-max-conns: must be from 0 (the default) to 1000, got %d", c.DBMaxConns)
	}
	if c.DBMinConns < 0 || (c.DBMaxConns > 0 && c.DBMinConns > c.DBMaxConns) {
		return fmt.Errorf("db-min-conns: must be from 0 to db-max-conns, got %d", c.DBMinConns)
	}
	if c.DBStatementTimeout < 0 || (c.DBStatementTimeout > 0 && c.DBStatementTimeout < time.Second) {
		return fmt.Errorf("db-statement-timeout: must be 0 (no limit) or at least 1s, got %s", c.DBStatementTimeout)
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if _, err := outbound.ParseAllow(c.OutboundAllow); err != nil {
		return fmt.Errorf("outbound-allow: %w", err)
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
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "https://") && !strings.HasPrefix(c.PublicURL, "http://") {
		return fmt.Errorf("public-url: %q is not an http(s) URL", c.PublicURL)
	}
	if c.EvidenceMaxBytes < 1 || c.EvidenceMaxBytes > 1<<40 {
		return fmt.Errorf("evidence-max-bytes: must be from 1 to %d, got %d", int64(1)<<40, c.EvidenceMaxBytes)
	}
	if c.LettersPerPDF < 1 || c.LettersPerPDF > 100000 {
		return fmt.Errorf("letters-per-pdf: must be from 1 to 100000, got %d", c.LettersPerPDF)
	}
	if c.PagingPoll < 10*time.Millisecond || c.PagingPoll > time.Minute {
		return errors.New("paging-poll: must be between 10ms and 1m")
	}
	if c.AuditWatch < 10*time.Millisecond || c.AuditWatch > time.Minute {
		return errors.New("audit-watch-interval: must be between 10ms and 1m")
	}
	if _, err := c.Zone(); err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, d := range c.BreachReminderDays {
		if d < 1 || d > 365 || seen[d] {
			return fmt.Errorf("breach-reminder-days: %d is not a day from 1 to 365 listed once", d)
		}
		seen[d] = true
	}
	if c.SMTPServer != "" {
		if _, _, err := net.SplitHostPort(c.SMTPServer); err != nil {
			return fmt.Errorf("smtp-server: %q is not host:port", c.SMTPServer)
		}
		if c.SMTPTLS != "starttls" && c.SMTPTLS != "tls" {
			return fmt.Errorf("smtp-tls: %q is not starttls or tls", c.SMTPTLS)
		}
		if c.SMTPFrom == "" {
			return errors.New("smtp-from: required with smtp-server")
		}
	}
	if c.EmailListen != "" {
		if _, _, err := net.SplitHostPort(c.EmailListen); err != nil {
			return fmt.Errorf("email-intake-listen: %q is not host:port", c.EmailListen)
		}
		if c.EmailDomain == "" || strings.ContainsAny(c.EmailDomain, "@ /") {
			return errors.New("email-intake-domain: a domain such as alerts.example.org is required with email-intake-listen")
		}
	}
	if c.TwilioAccountSID != "" && (c.TwilioAuthToken == "" || c.TwilioFrom == "") {
		return errors.New("twilio-auth-token and twilio-from: required with twilio-account-sid")
	}
	if c.SlackSigningSecret != "" && c.SlackBotToken == "" {
		return errors.New("slack-bot-token: required with slack-signing-secret")
	}
	if c.SIEMSyslog != "" {
		if host, _, err := net.SplitHostPort(c.SIEMSyslog); err != nil || host == "" {
			return fmt.Errorf("siem-syslog: %q is not host:port", c.SIEMSyslog)
		}
	}
	if c.SIEMWebhook != "" {
		if u, err := url.Parse(c.SIEMWebhook); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("siem-webhook: %q is not an https URL", c.SIEMWebhook)
		}
		if len(c.SIEMWebhookSecret) < 16 {
			return errors.New("siem-webhook-secret: at least 16 bytes required with siem-webhook")
		}
	}
	if c.InsecureHTTP && c.TLSCert != "" {
		return errors.New("insecure-http: cannot be combined with tls-cert")
	}
	if err := c.validateOIDC(); err != nil {
		return err
	}
	if err := c.validateCheckpoints(); err != nil {
		return err
	}
	return c.validateACME()
}

// validateCheckpoints checks the audit-checkpoint-* settings.
func (c Config) validateCheckpoints() error {
	if c.AuditCheckpointEntries < 1 || c.AuditCheckpointEntries > 1_000_000 {
		return fmt.Errorf("audit-checkpoint-entries: must be from 1 to 1000000, got %d", c.AuditCheckpointEntries)
	}
	if c.AuditCheckpointInterval < time.Second || c.AuditCheckpointInterval > 24*time.Hour {
		return errors.New("audit-checkpoint-interval: must be between 1s and 24h")
	}
	if c.AuditCheckpointFile != "" && c.InDataDir(c.AuditCheckpointFile) {
		return fmt.Errorf("audit-checkpoint-file: %s is in the data folder; put it outside, where a copy or a restore of the data "+
			"does not reach it", c.AuditCheckpointFile)
	}
	if c.AuditCheckpointWebhook != "" {
		u, err := url.Parse(c.AuditCheckpointWebhook)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("audit-checkpoint-webhook: not an http(s) URL")
		}
	}
	return nil
}

// AuditSigningKeyPath is where the audit checkpoint signing key lives:
// AuditSigningKeyFile, else audit-signing.key beside MasterKeyFile when that
// is outside the data folder, else audit-signing.key in the data folder
// (besideData), where a copy of the folder carries it.
func (c Config) AuditSigningKeyPath() (path string, besideData bool) {
	const name = "audit-signing.key"
	switch {
	case c.AuditSigningKeyFile != "":
		return c.AuditSigningKeyFile, c.InDataDir(c.AuditSigningKeyFile)
	case c.MasterKeyFile != "" && !c.InDataDir(c.MasterKeyFile):
		return filepath.Join(filepath.Dir(c.MasterKeyFile), name), false
	default:
		return filepath.Join(c.DataDir, name), true
	}
}

// InDataDir reports whether path is inside the data folder.
func (c Config) InDataDir(path string) bool {
	dir, err1 := filepath.Abs(c.DataDir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Zone loads TimeZone: an IANA zone name such as America/Los_Angeles or
// UTC; "Local" is refused, as it would depend on the host.
func (c Config) Zone() (*time.Location, error) {
	if c.TimeZone == "" || c.TimeZone == "Local" {
		return nil, fmt.Errorf("time-zone: %q is not an IANA time zone such as America/Los_Angeles or UTC", c.TimeZone)
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time-zone: %q is not an IANA time zone such as America/Los_Angeles or UTC", c.TimeZone)
	}
	return loc, nil
}

// validateOIDC checks the single sign-on settings when an issuer is set.
func (c Config) validateOIDC() error {
	if c.OIDCIssuer == "" {
		for _, f := range [][2]string{{"oidc-client-id", c.OIDCClientID}, {"oidc-client-secret", c.OIDCClientSecret},
			{"oidc-redirect-url", c.OIDCRedirectURL}, {"oidc-role-map", c.OIDCRoleMap}, {"oidc-name", c.OIDCName},
			{"oidc-ca-file", c.OIDCCAFile}} {
			if f[1] != "" {
				return fmt.Errorf("%s: needs oidc-issuer", f[0])
			}
		}
		return nil
	}
	if u, err := url.Parse(c.OIDCIssuer); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("oidc-issuer: %q is not an https URL without query or fragment", c.OIDCIssuer)
	}
	if c.OIDCClientID == "" {
		return errors.New("oidc-client-id: required with oidc-issuer")
	}
	if c.OIDCClientSecret == "" {
		return errors.New("oidc-client-secret: required with oidc-issuer (set WARD_OIDC_CLIENT_SECRET)")
	}
	if c.OIDCRedirectURL != "" {
		u, err := url.Parse(c.OIDCRedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "/login/oidc/callback" {
			return fmt.Errorf("oidc-redirect-url: %q is not an http(s) URL ending in /login/oidc/callback", c.OIDCRedirectURL)
		}
	}
	if strings.TrimSpace(c.OIDCGroupsClaim) == "" {
		return errors.New("oidc-groups-claim: must not be empty")
	}
	if c.OIDCRoleMap == "" {
		return errors.New("oidc-role-map: required with oidc-issuer: no one could sign in without a role")
	}
	if _, err := sso.ParseRoleMap(c.OIDCRoleMap); err != nil {
		return fmt.Errorf("oidc-role-map: %w", err)
	}
	if len(c.OIDCName) > 64 || strings.ContainsFunc(c.OIDCName, unicode.IsControl) {
		return fmt.Errorf("oidc-name: %q must be at most 64 characters without control characters", c.OIDCName)
	}
	return nil
}

// validateACME checks the acme-* settings.
func (c Config) validateACME() error {
	if len(c.ACMEDomains) == 0 {
		if c.ACMEEmail != "" {
			return errors.New("acme-email: only with acme-domain")
		}
		return nil
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		return errors.New("acme-domain: cannot be combined with tls-cert and tls-key")
	}
	if c.InsecureHTTP {
		return errors.New("acme-domain: cannot be combined with insecure-http")
	}
	for _, h := range c.ACMEDomains {
		if !publicHostName(h) {
			return fmt.Errorf("acme-domain: %q is not a public host name (no port, IP address or wildcard)", h)
		}
	}
	if c.ACMEEmail != "" && (!strings.Contains(c.ACMEEmail, "@") || strings.ContainsAny(c.ACMEEmail, " <>")) {
		return fmt.Errorf("acme-email: %q is not an email address", c.ACMEEmail)
	}
	if !strings.HasPrefix(c.ACMEDirectory, "https://") {
		return fmt.Errorf("acme-directory: %q is not an https:// URL", c.ACMEDirectory)
	}
	return nil
}

// publicHostName says whether h is a DNS name of two labels or more, of
// letters, digits and hyphens.
func publicHostName(h string) bool {
	if len(h) > 253 || net.ParseIP(h) != nil {
		return false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// BaseURL is PublicURL, or https:// and addr, the address the server
// listens on (localhost for an unspecified address).
func (c Config) BaseURL(addr string) string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	scheme := "https://"
	if c.InsecureHTTP {
		scheme = "http://"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port)
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

// Outbound is the guard of the connections Ward makes to webhooks, chat,
// SNS confirmations and the KMS, with OutboundAllow allow-listed.
func (c Config) Outbound() (*outbound.Guard, error) {
	allow, err := outbound.ParseAllow(c.OutboundAllow)
	if err != nil {
		return nil, fmt.Errorf("outbound-allow: %w", err)
	}
	return outbound.New(allow, nil), nil
}
