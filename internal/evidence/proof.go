package evidence

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/report"
)

// proofItem is an evidence item as a proof bundle lists it: what proves
// its integrity and custody, without its free text, which may hold PHI
// (report.Producer's files hold none).
type proofItem struct {
	ID          string         `json:"id"`
	Status      Status         `json:"status"`
	ContentType string         `json:"content_type"`
	Size        int64          `json:"size"`
	SHA256      string         `json:"sha256"`
	UploadedBy  string         `json:"uploaded_by"`
	CreatedAt   time.Time      `json:"created_at"`
	CollectedAt *time.Time     `json:"collected_at,omitempty"`
	Integrity   Integrity      `json:"integrity,omitempty"`
	VerifiedAt  *time.Time     `json:"integrity_verified_at,omitempty"`
	Custody     []proofCustody `json:"custody"`
	// Privileged is the item's privileged mark (who holds it), when it
	// has one; the bundle holds no item's content either way.
	Privileged *exportedPrivilege `json:"privileged,omitempty"`
}

type proofCustody struct {
	Seq    int64     `json:"seq"`
	Action Action    `json:"action"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
}

// ProofFiles is the report.Producer of a breach case's evidence: the
// file evidence/items.json listing its incident's items with their
// SHA-256, size, integrity and chain of custody (who did what, when),
// none of their free text; no file when the incident has no evidence.
func (s *Service) ProofFiles(ctx context.Context, c breach.Case) ([]report.File, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+itemColumns+` FROM evidence_items WHERE incident_id = $1 AND status <> $2
		ORDER BY created_at, id`, c.IncidentID, string(StatusUploading))
	if err != nil {
		return nil, fmt.Errorf("read evidence items: %w", err)
	}
	var items []proofItem
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read evidence items: %w", err)
		}
		items = append(items, proofItem{ID: it.ID, Status: it.Status, ContentType: it.ContentType, Size: it.Size, SHA256: it.SHA256,
			UploadedBy: it.UploadedBy, CreatedAt: it.CreatedAt, CollectedAt: it.CollectedAt, Integrity: it.Integrity,
			VerifiedAt: it.VerifiedAt})
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read evidence items: %w", err)
	}
	if len(items) == 0 {
		return nil, nil
	}
	marks, err := incident.LoadPrivileges(ctx, s.db.R, c.IncidentID, incident.PrivilegedEvidence)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if p := marks[items[i].ID]; p != nil {
			items[i].Privileged = privilegeOut("", p)
		}
		entries, err := readCustody(ctx, s.db.R, items[i].ID)
		if err != nil {
			return nil, err
		}
		items[i].Custody = make([]proofCustody, len(entries))
		for j, e := range entries {
			items[i].Custody[j] = proofCustody{Seq: e.Seq, Action: e.Action, Actor: e.Actor, At: e.At}
		}
	}
	b, err := json.MarshalIndent(map[string]any{"incident": c.IncidentNumber, "items": items}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evidence/items.json: %w", err)
	}
	return []report.File{{Name: "evidence/items.json", Body: append(b, '\n')}}, nil
}
