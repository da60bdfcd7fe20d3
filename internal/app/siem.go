package app

import (
	"crypto/tls"
	"log/slog"
	"os"

	"github.com/wardhq/ward/internal/audit/siem"
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/outbound"
)

// siemStreamer is the forwarding of the audit trail that --siem-syslog and
// --siem-webhook configure; nil when neither is set.
func siemStreamer(cfg *config.Config, d *db.DB, guard *outbound.Guard, logger *slog.Logger) (*siem.Streamer, error) {
	if cfg.SIEMSyslog == "" && cfg.SIEMWebhook == "" {
		return nil, nil
	}
	var tlsConfig *tls.Config
	if cfg.SIEMCAFile != "" {
		roots, err := caRoots("siem-ca-file", cfg.SIEMCAFile)
		if err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	var dests []siem.Destination
	if cfg.SIEMSyslog != "" {
		host, _ := os.Hostname()
		s, err := siem.NewSyslog(siem.SyslogConfig{Addr: cfg.SIEMSyslog, TLS: tlsConfig, Outbound: guard, Hostname: host})
		if err != nil {
			return nil, err
		}
		dests = append(dests, s)
	}
	if cfg.SIEMWebhook != "" {
		w, err := siem.NewWebhook(siem.WebhookConfig{URL: cfg.SIEMWebhook, Secret: []byte(cfg.SIEMWebhookSecret), TLS: tlsConfig,
			Outbound: guard})
		if err != nil {
			return nil, err
		}
		dests = append(dests, w)
	}
	return siem.New(d, dests, siem.Options{Log: logger}), nil
}
