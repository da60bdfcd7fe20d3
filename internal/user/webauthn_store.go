package user

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/wardhq/ward/internal/db"
)

// Credential ids and public keys are stored base64url, unpadded.
var b64 = base64.RawURLEncoding

// keyRow is a stored security key with what verification needs.
type keyRow struct {
	WebAuthnKey
	credentialID    []byte
	publicKey       []byte
	attestationType string
	signCount       uint32
	backupEligible  bool
}

// credential is the row as the WebAuthn library's credential record.
func (k keyRow) credential() webauthn.Credential {
	c := webauthn.Credential{ID: k.credentialID, PublicKey: k.publicKey, AttestationType: k.attestationType,
		Flags:         webauthn.CredentialFlags{BackupEligible: k.backupEligible},
		Authenticator: webauthn.Authenticator{SignCount: k.signCount}}
	for _, t := range k.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

func listKeys(ctx context.Context, q db.Querier, userID string) ([]keyRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, aaguid, transports, created_at, last_used_at, credential_id, public_key,
		attestation_type, sign_count, backup_eligible FROM user_webauthn WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("webauthn: list keys: %w", err)
	}
	defer rows.Close()
	var out []keyRow
	for rows.Next() {
		var k keyRow
		var ts, credID, pub string
		var last sql.NullTime
		var count int64
		if err := rows.Scan(&k.ID, &k.Name, &k.AAGUID, &ts, &k.CreatedAt, &last, &credID, &pub, &k.attestationType,
			&count, &k.backupEligible); err != nil {
			return nil, fmt.Errorf("webauthn: list keys: %w", err)
		}
		k.CreatedAt, k.LastUsedAt = k.CreatedAt.UTC(), timePtr(last)
		if ts != "" {
			k.Transports = strings.Split(ts, ",")
		}
		k.signCount = uint32(count)
		if k.credentialID, err = b64.DecodeString(credID); err != nil {
			return nil, fmt.Errorf("webauthn: key %s: credential id: %w", k.ID, err)
		}
		if k.publicKey, err = b64.DecodeString(pub); err != nil {
			return nil, fmt.Errorf("webauthn: key %s: public key: %w", k.ID, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webauthn: list keys: %w", err)
	}
	return out, nil
}

// keyExists reports whether any user registered this credential id.
func keyExists(ctx context.Context, q db.Querier, credentialID []byte) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM user_webauthn WHERE credential_id = $1", b64.EncodeToString(credentialID)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("webauthn: look up key: %w", err)
	}
	return n > 0, nil
}

func insertKey(ctx context.Context, tx *sql.Tx, userID string, k keyRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO user_webauthn (id, user_id, credential_id, public_key, attestation_type, aaguid,
		sign_count, backup_eligible, transports, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		k.ID, userID, b64.EncodeToString(k.credentialID), b64.EncodeToString(k.publicKey), k.attestationType, k.AAGUID,
		int64(k.signCount), k.backupEligible, strings.Join(k.Transports, ","), k.Name, k.CreatedAt)
	if err != nil {
		return fmt.Errorf("webauthn: insert key: %w", err)
	}
	return nil
}

func deleteKey(ctx context.Context, tx *sql.Tx, userID, id string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM user_webauthn WHERE id = $1 AND user_id = $2", id, userID); err != nil {
		return fmt.Errorf("webauthn: delete key: %w", err)
	}
	return nil
}

// useKey records a sign-in with the key: its new signature counter and
// the time, only if the counter is still what the check saw (of two
// answers with the same counter, one wins).
func useKey(ctx context.Context, tx *sql.Tx, id string, seen, count uint32, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, "UPDATE user_webauthn SET sign_count = $1, last_used_at = $2 WHERE id = $3 AND sign_count = $4",
		int64(count), now, id, int64(seen))
	if err != nil {
		return false, fmt.Errorf("webauthn: use key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// putCeremony replaces the session's ceremony, and forgets every expired
// one of any session.
func putCeremony(ctx context.Context, tx *sql.Tx, sessionID, kind, data string, expires, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM webauthn_ceremonies WHERE session_id = $1 OR expires_at < $2", sessionID, now); err != nil {
		return fmt.Errorf("webauthn: replace ceremony: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO webauthn_ceremonies (session_id, kind, data, expires_at) VALUES ($1, $2, $3, $4)",
		sessionID, kind, data, expires); err != nil {
		return fmt.Errorf("webauthn: insert ceremony: %w", err)
	}
	return nil
}

// popCeremony deletes the session's ceremony and returns its data when it
// is of this kind and has not expired.
func popCeremony(ctx context.Context, tx *sql.Tx, sessionID, kind string, now time.Time) (string, bool, error) {
	var gotKind, data string
	var expires time.Time
	err := tx.QueryRowContext(ctx, "SELECT kind, data, expires_at FROM webauthn_ceremonies WHERE session_id = $1", sessionID).
		Scan(&gotKind, &data, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("webauthn: get ceremony: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM webauthn_ceremonies WHERE session_id = $1", sessionID); err != nil {
		return "", false, fmt.Errorf("webauthn: delete ceremony: %w", err)
	}
	return data, gotKind == kind && now.Before(expires), nil
}
