package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/config"
)

// healthcheckCmd asks the server on this machine whether it is ready, for
// a container's HEALTHCHECK, which has no curl in a distroless image. It
// takes the serve flags (and their WARD_* twins) so that it finds the
// server where the container's configuration put it.
func healthcheckCmd(env Env, cfg *config.Config) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask the local ward serve whether it is ready (GET /readyz); exit 0 if it is, 1 if not (a container health check)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, serverName := readyURL(*cfg)
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			client := &http.Client{Transport: &http.Transport{
				// The server's own certificate, reached on this machine (often
				// self-signed for localhost): nothing secret is sent, and
				// only the answer's status is read.
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: serverName, MinVersion: tls.VersionTLS12},
			}}
			defer client.CloseIdleConnections()
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("not ready: %s: %w", url, err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("not ready: %s answered %s", url, resp.Status)
			}
			fmt.Fprintln(env.Stdout, "ready")
			return nil
		},
	}
	config.BindServe(c.Flags(), cfg)
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return c
}

// readyURL is the readiness URL of a server listening on cfg.Listen, by
// loopback when it listens on every address, and the TLS server name to
// ask for: the first ACME host name, whose certificate is the only one such
// a server has.
func readyURL(cfg config.Config) (url, serverName string) {
	scheme := "https://"
	if cfg.InsecureHTTP {
		scheme = "http://"
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return scheme + cfg.Listen + "/readyz", ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if len(cfg.ACMEDomains) > 0 {
		serverName = cfg.ACMEDomains[0]
	}
	return scheme + net.JoinHostPort(host, port) + "/readyz", serverName
}
