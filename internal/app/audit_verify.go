package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/config"
)

// maxCheckpointsBody caps a checkpoints file or one page fetched from a URL.
const maxCheckpointsBody = 256 << 20

// maxListedPredates caps how many predated checkpoints verify names.
const maxListedPredates = 10

func auditVerifyCmd(env Env, cfg *config.Config) *cobra.Command {
	var source, token, caFile string
	var publicKeys []string
	cmd := &cobra.Command{
		Use: "verify",
		Short: "Check the audit trail's hash chain, and with --checkpoints prove it against signed checkpoints; " +
			"exit 1 and name the first divergence if it was altered or rolled back",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var pinned []audit.PinnedCheckpoint
			var trusted audit.TrustedKeys
			if source != "" {
				var err error
				if trusted, err = trustedKeys(env, cfg, publicKeys); err != nil {
					return err
				}
				if pinned, err = loadCheckpoints(ctx, source, token, caFile); err != nil {
					return &exitError{ExitUsage, fmt.Errorf("checkpoints: %w", err)}
				}
				if len(pinned) == 0 {
					return &exitError{ExitUsage, fmt.Errorf("checkpoints: %s holds no checkpoint", source)}
				}
			}
			d, err := openMigrated(ctx, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			if source == "" {
				res, err := audit.Verify(ctx, d.R)
				if err != nil {
					return err
				}
				if !res.OK {
					fmt.Fprintf(env.Stdout, "audit trail BROKEN at sequence %d: %s (%d entries read)\n", res.BadSeq, res.Reason, res.Entries)
					printSegments(env.Stdout, res)
					return &exitError{ExitFailure, fmt.Errorf("audit trail broken at sequence %d", res.BadSeq)}
				}
				fmt.Fprintf(env.Stdout, "audit trail intact: %d entries, head %s\n", res.Entries, res.Head)
				printSegments(env.Stdout, res)
				return nil
			}
			rep, err := audit.VerifyCheckpoints(ctx, d.R, pinned, trusted)
			if err != nil {
				return err
			}
			printCheckpointReport(env.Stdout, rep)
			if !rep.OK {
				return &exitError{ExitFailure, errors.New("the audit trail does not match its checkpoints")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "checkpoints", "", "a checkpoints file (JSON Lines, as --audit-checkpoint-file writes it) or an http(s) URL "+
		"serving one, such as Ward's /api/v1/audit/checkpoints, to prove the trail against")
	f.StringSliceVar(&publicKeys, "public-key", nil, "PEM file of a public key to trust checkpoints from (repeatable); "+
		"default: the public half of --audit-signing-key-file")
	f.StringVar(&token, "checkpoints-token", "", "API token sent with a --checkpoints URL (env WARD_CHECKPOINTS_TOKEN)")
	f.StringVar(&caFile, "checkpoints-ca-file", "", "PEM file of extra CAs to trust for a --checkpoints https URL, such as a "+
		"Ward's self-signed certificate")
	return cmd
}

// trustedKeys reads the --public-key files, or else the public half of
// the local signing key, saying so.
func trustedKeys(env Env, cfg *config.Config, files []string) (audit.TrustedKeys, error) {
	trusted := audit.TrustedKeys{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, &exitError{ExitUsage, fmt.Errorf("public-key: %w", err)}
		}
		if err := trusted.ParsePublicKeys(file, data); err != nil {
			return nil, &exitError{ExitUsage, fmt.Errorf("public-key: %w", err)}
		}
	}
	if len(files) > 0 {
		return trusted, nil
	}
	path, _ := cfg.AuditSigningKeyPath()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && cfg.AuditSigningKeyFile == "" {
		path = dataDirSigningKey(cfg) // where serve falls back to
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, &exitError{ExitUsage, fmt.Errorf("public-key: give the public key of the Ward that signed the checkpoints "+
			"(GET /api/v1/audit/checkpoint-key); there is no signing key at %s to take it from", path)}
	}
	key, _, err := audit.LoadSigningKey(path)
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	trusted[key.ID()] = key.Public()
	fmt.Fprintf(env.Stderr, "trusting key %s, the public half of the signing key %s; an auditor should pin the published "+
		"public key with --public-key instead\n", key.ID(), path)
	return trusted, nil
}

// loadCheckpoints reads checkpoints from a file, or from an http(s) URL,
// following the API's pages.
func loadCheckpoints(ctx context.Context, source, token, caFile string) ([]audit.PinnedCheckpoint, error) {
	if !strings.HasPrefix(source, "https://") && !strings.HasPrefix(source, "http://") {
		f, err := os.Open(source)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		data, err := readCapped(f, source)
		if err != nil {
			return nil, err
		}
		cps, _, err := audit.ReadCheckpoints(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		return cps, nil
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		roots, err := caRoots("checkpoints-ca-file", caFile)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{Timeout: time.Minute, Transport: transport}
	var all []audit.PinnedCheckpoint
	next := int64(0)
	for page := 1; ; page++ {
		u, err := url.Parse(source)
		if err != nil {
			return nil, fmt.Errorf("%q is not a URL", source)
		}
		if next > 0 {
			q := u.Query()
			q.Set("after_seq", strconv.FormatInt(next, 10))
			u.RawQuery = q.Encode()
		}
		data, err := fetch(ctx, client, u.String(), token)
		if err != nil {
			return nil, err
		}
		cps, n, err := audit.ReadCheckpoints(data)
		if err != nil {
			return nil, fmt.Errorf("page %d of %s: %w", page, u.Redacted(), err)
		}
		for _, c := range cps {
			c.Line = len(all) + 1
			all = append(all, c)
		}
		if n <= next {
			return all, nil
		}
		next = n
	}
}

func fetch(ctx context.Context, client *http.Client, u, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", req.URL.Redacted(), resp.Status)
	}
	return readCapped(resp.Body, req.URL.Redacted())
}

func readCapped(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCheckpointsBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCheckpointsBody {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxCheckpointsBody)
	}
	return data, nil
}

// printSegments lists the chain's segments and the break each recorded,
// when it has more than one.
func printSegments(w io.Writer, res audit.Result) {
	if len(res.Segments) < 2 {
		return
	}
	fmt.Fprintf(w, "the trail has %d segments; %d recorded breaks:\n", len(res.Segments), len(res.Segments)-1)
	for i, sg := range res.Segments {
		state := "intact"
		if !sg.Intact {
			state = fmt.Sprintf("broken at entry %d: %s", sg.BadSeq, sg.Reason)
		}
		fmt.Fprintf(w, "  segment %d: entries %d to %d (%d read), %s\n", sg.Number, sg.FirstSeq, sg.LastSeq, sg.Entries, state)
		if i+1 < len(res.Segments) {
			if rec := res.Segments[i+1].Record; rec != nil {
				fmt.Fprintf(w, "    recorded break: %s\n", rec.Describe())
			}
		}
	}
}

// printCheckpointReport writes the outcome of verify --checkpoints.
func printCheckpointReport(w io.Writer, rep audit.CheckpointReport) {
	defer printSegments(w, rep.Chain)
	if rep.OK {
		fmt.Fprintf(w, "audit trail intact: %d entries, head %s\n", rep.Chain.Entries, rep.Chain.Head)
		fmt.Fprintf(w, "proved against %d checkpoints; the newest covers %s and came from node %s, key %s\n",
			rep.Proved, rep.Newest.Describe(), rep.Newest.Node, rep.Newest.KeyID)
		if rep.Unanchored > 0 {
			fmt.Fprintf(w, "the %d entries after entry %d are not covered by a checkpoint yet\n", rep.Unanchored, rep.Newest.Seq)
		}
		return
	}
	if rep.DivergedAt > 0 {
		fmt.Fprintf(w, "audit trail ALTERED: first divergence at entry %d: %s\n", rep.DivergedAt, rep.Divergence)
	} else {
		fmt.Fprintln(w, "audit trail NOT PROVED: the checkpoints cannot be trusted")
	}
	fmt.Fprintf(w, "%d entries read; %d problems:\n", rep.Chain.Entries, len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "  - "+p)
	}
	if n := len(rep.Predates); n > 0 {
		names := make([]string, 0, min(n, maxListedPredates))
		for _, c := range rep.Predates[:min(n, maxListedPredates)] {
			names = append(names, c.Describe())
		}
		more := ""
		if n > maxListedPredates {
			more = fmt.Sprintf(" and %d more", n-maxListedPredates)
		}
		fmt.Fprintf(w, "this copy of the trail predates %d checkpoints: %s%s\n", n, strings.Join(names, ", "), more)
	}
}
