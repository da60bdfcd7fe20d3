package app

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/outbound"
)

// signingKeyBesideData is the warning for an audit signing key kept in the
// data folder: whoever can rewrite the data could then sign for it.
const signingKeyBesideData = "the audit checkpoint signing key is in the data folder beside the audit trail it anchors, so " +
	"someone who can rewrite the database may also sign checkpoints for it; keep it apart: move it and give " +
	"--audit-signing-key-file (WARD_AUDIT_SIGNING_KEY_FILE), or keep --master-key-file outside the data folder and the key " +
	"is made beside it (see docs/AUDIT.md)"

// newCheckpointer loads (or makes) the audit signing key and builds the
// checkpointer with the publishers the settings name.
func newCheckpointer(env Env, cfg *config.Config, d *db.DB, guard *outbound.Guard, node string, logger *slog.Logger) (*audit.Checkpointer, error) {
	path, besideData := cfg.AuditSigningKeyPath()
	key, created, err := audit.LoadSigningKey(path)
	if err != nil && cfg.AuditSigningKeyFile == "" && !besideData {
		// The master key's folder may be read-only (a secrets mount): an
		// upgraded Ward keeps running, and says where its key went.
		logger.Warn("audit_signing_key_not_beside_master_key", "error", err)
		path, besideData = dataDirSigningKey(cfg), true
		key, created, err = audit.LoadSigningKey(path)
	}
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("audit_signing_key_created", "file", path, "key_id", key.ID())
	}
	if besideData {
		logger.Warn("audit_signing_key_beside_data", "warning", signingKeyBesideData, "file", path)
	}
	var pubs []audit.Publisher
	if cfg.AuditCheckpointFile != "" {
		pubs = append(pubs, audit.FilePublisher{Path: cfg.AuditCheckpointFile})
	}
	if cfg.AuditCheckpointWebhook != "" {
		pubs = append(pubs, audit.WebhookPublisher{URL: cfg.AuditCheckpointWebhook, Client: guard.Client(10*time.Second, nil)})
	}
	if len(pubs) == 0 {
		logger.Warn("audit_checkpoints_unpublished", "warning", "audit checkpoints are kept only in the database and the API; "+
			"give --audit-checkpoint-file or --audit-checkpoint-webhook so that a copy lives where a rewrite of the database "+
			"cannot reach it (see docs/AUDIT.md)")
	}
	return audit.NewCheckpointer(d, env.Clock, key, audit.CheckpointOptions{
		Entries: cfg.AuditCheckpointEntries, Interval: cfg.AuditCheckpointInterval, Node: node, Publishers: pubs, Log: logger,
	}), nil
}

// nodeName names this Ward process in the checkpoints it signs and the
// audit segments it starts: the host
// name and a random suffix, so two processes on one host differ.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ward"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// dataDirSigningKey is the signing key's place in the data folder, where
// it goes when no better place is given or writable.
func dataDirSigningKey(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "audit-signing.key")
}
