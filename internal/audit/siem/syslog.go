package siem

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/outbound"
)

// SyslogConfig configures a Syslog destination.
type SyslogConfig struct {
	Addr string // the collector's host:port
	// TLS verifies the collector (RootCAs; ServerName defaults to the
	// host of Addr); nil: the system's roots. TLS 1.2 at least.
	TLS *tls.Config
	// Outbound guards the connection (--outbound-allow); nil refuses
	// loopback, private and metadata addresses.
	Outbound *outbound.Guard
	Hostname string        // the HOSTNAME field; "-" when empty
	Timeout  time.Duration // per connect and per batch written; default 10s
}

// Syslog sends entries as RFC 5424 messages over TLS (RFC 5425), each
// framed by its length in octets (RFC 6587 octet counting), on one
// connection kept open between batches.
type Syslog struct {
	cfg  SyslogConfig
	conn net.Conn
}

// SyslogPEN is the private enterprise number in the structured data's
// SD-ID (ward@32473): 32473 is the number RFC 5612 sets aside for
// documentation and examples, as Ward has none of its own.
const SyslogPEN = "32473"

// syslogPRI is facility 13 (log audit) and severity 6 (informational):
// 13 × 8 + 6 (RFC 5424 section 6.2.1).
const syslogPRI = "<110>"

// NewSyslog checks cfg and returns a Syslog destination; it connects on
// the first send.
func NewSyslog(cfg SyslogConfig) (*Syslog, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("siem syslog: %q is not host:port", cfg.Addr)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
		tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	cfg.TLS = tc
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	cfg.Hostname = printASCII(cfg.Hostname, 255)
	return &Syslog{cfg: cfg}, nil
}

// Name is "syslog".
func (s *Syslog) Name() string { return "syslog" }

// Send writes one framed message per entry. TCP syslog has no
// acknowledgement: a batch counts as delivered once written; a write
// that fails closes the connection and the batch is sent again on a new
// one.
func (s *Syslog) Send(ctx context.Context, entries []audit.Entry) error {
	var buf bytes.Buffer
	for _, e := range entries {
		msg, err := SyslogMessage(s.cfg.Hostname, e)
		if err != nil {
			return err
		}
		buf.WriteString(strconv.Itoa(len(msg)))
		buf.WriteByte(' ')
		buf.Write(msg)
	}
	if s.conn == nil {
		if err := s.connect(ctx); err != nil {
			return err
		}
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
	if _, err := s.conn.Write(buf.Bytes()); err != nil {
		_ = s.Close()
		return fmt.Errorf("siem syslog: write: %w", err)
	}
	return nil
}

func (s *Syslog) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	raw, err := s.cfg.Outbound.Dialer().DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("siem syslog: connect: %w", err)
	}
	conn := tls.Client(raw, s.cfg.TLS)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return fmt.Errorf("siem syslog: TLS: %w", err)
	}
	s.conn = conn
	return nil
}

// Close closes the connection, if any.
func (s *Syslog) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// SyslogMessage is e as an RFC 5424 message: the entry's fields as
// structured data (SD-ID ward@32473) and as a JSON object in MSG, the
// action as MSGID, the entry's time as TIMESTAMP.
func SyslogMessage(hostname string, e audit.Entry) ([]byte, error) {
	if hostname == "" {
		hostname = "-"
	}
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("siem syslog: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(syslogPRI + "1 ")
	b.WriteString(e.At.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	fmt.Fprintf(&b, " %s ward - %s [ward@%s", hostname, nonEmpty(printASCII(e.Action, 32)), SyslogPEN)
	for _, p := range [][2]string{{"seq", strconv.FormatInt(e.Seq, 10)}, {"actor", e.Actor}, {"action", e.Action},
		{"object_type", e.ObjectType}, {"object_id", e.ObjectID}, {"request_id", e.RequestID}, {"source_ip", e.SourceIP},
		{"digest", e.Digest}, {"prev_hash", e.PrevHash}, {"hash", e.Hash}} {
		fmt.Fprintf(&b, ` %s="%s"`, p[0], sdEscape(p[1]))
	}
	b.WriteString("] ")
	b.Write(body)
	return b.Bytes(), nil
}

// sdEscape escapes a PARAM-VALUE: '"', '\' and ']' take a backslash
// (RFC 5424 section 6.3.3).
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// printASCII keeps the printable US-ASCII characters of s other than
// space (the header fields' PRINTUSASCII), at most n.
func printASCII(s string, n int) string {
	out := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(out) < n; i++ {
		if s[i] >= 33 && s[i] <= 126 {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func nonEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
