package evidence

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
	"github.com/wardhq/ward/internal/report"
)

// exportReason is the reason of the custody entry an export records for
// each item it copies.
const exportReason = "copied into an examiner's evidence export"

// Export is an incident's evidence export on its way out: the custody
// entries and the audit entry are recorded (PrepareExport); WriteArchive then
// writes the archive.
type Export struct {
	s        *Service
	ctx      context.Context
	incident string
	actor    string
	at       time.Time
	items    []exportItem
	signer   report.Signer
	// leftOut are the privileged items not in the export.
	leftOut []Item
}

type exportItem struct {
	item      Item
	sealedKey string
}

// exportedItem is an item's metadata as the export's item.json holds it.
type exportedItem struct {
	ID             string             `json:"id"`
	IncidentNumber string             `json:"incident_number"`
	Status         Status             `json:"status"`
	Description    string             `json:"description"`
	Source         string             `json:"source,omitempty"`
	CollectedBy    string             `json:"collected_by,omitempty"`
	CollectedAt    *time.Time         `json:"collected_at,omitempty"`
	RelatedAsset   string             `json:"related_asset,omitempty"`
	FileName       string             `json:"file_name,omitempty"`
	ContentType    string             `json:"content_type"`
	Size           int64              `json:"size"`
	SHA256         string             `json:"sha256"`
	Custodian      string             `json:"custodian"`
	UploadedBy     string             `json:"uploaded_by"`
	CreatedAt      time.Time          `json:"created_at"`
	Integrity      Integrity          `json:"integrity,omitempty"`
	VerifiedAt     *time.Time         `json:"integrity_verified_at,omitempty"`
	HeldSince      *time.Time         `json:"legal_hold_since,omitempty"`
	HeldBy         string             `json:"legal_hold_by,omitempty"`
	HoldReason     string             `json:"legal_hold_reason,omitempty"`
	Content        string             `json:"content,omitempty"` // the file holding the content; absent once destroyed
	Privileged     *exportedPrivilege `json:"privileged,omitempty"`
}

// exportedPrivilege is an item's privileged mark as an export states it.
type exportedPrivilege struct {
	Label    string    `json:"label"`
	ID       string    `json:"id,omitempty"`
	HeldBy   string    `json:"held_by"`
	MarkedBy string    `json:"marked_by"`
	MarkedAt time.Time `json:"marked_at"`
}

func privilegeOut(id string, p *incident.Privilege) *exportedPrivilege {
	return &exportedPrivilege{Label: incident.PrivilegedLabel, ID: id, HeldBy: p.HeldBy, MarkedBy: p.MarkedBy, MarkedAt: p.MarkedAt}
}

// leftOutName is the file of an export that names the privileged items
// it leaves out.
const leftOutName = "evidence/privileged-left-out.json"

type exportedCustody struct {
	Seq       int64     `json:"seq"`
	Action    Action    `json:"action"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
	Custodian string    `json:"custodian,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// PrepareExport starts the evidence export of incident ref for an
// examiner: every item's content (decrypted), metadata, SHA-256 and full
// chain of custody, with a manifest signed by the key that signs proof
// bundles, so that `ward proof verify` checks it offline. It is a read of
// PHI: in one transaction each stored item gets a custody entry (copied,
// the holder unchanged) and the incident an audit entry (evidence.export),
// before anything is written. 404 for an incident with no evidence.
//
// Items marked privileged are left out, and the export says so
// (evidence/privileged-left-out.json names each with its holder, and
// LeftOut counts them), unless includePrivileged, which only a caller who
// may see privileged content may ask for (403 otherwise); their reads
// are then audited (privileged.read).
func (s *Service) PrepareExport(ctx context.Context, ref string, includePrivileged bool) (*Export, error) {
	actor, err := authz.Check(ctx, authz.EvidenceRead)
	if err != nil {
		return nil, err
	}
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return nil, err
	}
	if includePrivileged {
		if _, err := authz.Check(ctx, authz.PrivilegedRead); err != nil {
			return nil, err
		}
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return nil, err
	}
	signer, err := report.NewSigner(ctx, s.db, s.clock, s.keys)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	x := &Export{s: s, ctx: ctx, incident: inc.Number, actor: actor.String(), at: now, signer: signer}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		x.items = nil
		// Lock the incident's items first, so that none is destroyed
		// between this read and its custody entry.
		if _, err := tx.ExecContext(ctx, `UPDATE evidence_items SET updated_at = updated_at WHERE incident_id = $1`, inc.ID); err != nil {
			return fmt.Errorf("lock evidence items: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+itemColumns+`, data_key FROM evidence_items WHERE incident_id = $1 AND status <> $2
			ORDER BY created_at, id`, inc.ID, string(StatusUploading))
		all, err := collectExportItems(rows, err)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			return apperr.New(apperr.NotFound, "incident %s has no evidence to export", inc.Number)
		}
		marks, err := incident.LoadPrivileges(ctx, tx, inc.ID, incident.PrivilegedEvidence)
		if err != nil {
			return err
		}
		x.leftOut = nil
		var items []exportItem
		var privileged []string
		for _, xi := range all {
			xi.item.Privilege = marks[xi.item.ID]
			switch {
			case xi.item.Privilege == nil:
				items = append(items, xi)
			case includePrivileged:
				items = append(items, xi)
				privileged = append(privileged, xi.item.ID)
			default:
				xi.item.withhold()
				x.leftOut = append(x.leftOut, xi.item)
			}
		}
		var ids []string
		for _, xi := range items {
			it := xi.item
			if it.Status == StatusStored {
				custodian, err := keys.EvidenceCustodian.OpenText(s.keys, it.Custodian, it.ID)
				if err != nil {
					return err
				}
				if _, err := s.appendCustody(ctx, tx, actor, it, Copied, custodian, exportReason, now); err != nil {
					return err
				}
			}
			ids = append(ids, it.ID)
		}
		x.items = items
		if _, err = audit.Append(ctx, tx, now, audit.Event{Action: "evidence.export", ObjectType: "incident", ObjectID: inc.ID,
			Change: map[string]any{"items": ids, "privileged_left_out": len(x.leftOut)}}); err != nil {
			return err
		}
		return incident.AuditPrivilegedRead(ctx, tx, now, inc.ID, incident.PrivilegedEvidence, privileged)
	})
	if err != nil {
		return nil, err
	}
	for i := range x.items {
		x.items[i].item.IncidentNumber = inc.Number
		if err := s.reveal(&x.items[i].item); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// collectExportItems reads the rows of an export's items: their columns
// and their sealed stream key.
func collectExportItems(rows *sql.Rows, err error) ([]exportItem, error) {
	if err != nil {
		return nil, fmt.Errorf("read evidence items: %w", err)
	}
	defer rows.Close()
	var out []exportItem
	for rows.Next() {
		var xi exportItem
		var sealedKey string
		it, err := scanItem(scanPlus{rows, &sealedKey})
		if err != nil {
			return nil, fmt.Errorf("read evidence items: %w", err)
		}
		xi.item, xi.sealedKey = it, sealedKey
		out = append(out, xi)
	}
	return out, rows.Err()
}

// scanPlus scans the item's columns and then one more.
type scanPlus struct {
	r    *sql.Rows
	last *string
}

func (p scanPlus) Scan(dest ...any) error { return p.r.Scan(append(dest, p.last)...) }

// Incident is the number of the exported incident.
func (x *Export) Incident() string { return x.incident }

// Items is how many items the export holds.
func (x *Export) Items() int { return len(x.items) }

// LeftOut is how many privileged items the export leaves out.
func (x *Export) LeftOut() int { return len(x.leftOut) }

// hashingWriter counts and hashes what passes to w.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// WriteArchive writes the export to w as a zip archive: for each item
// evidence/<id>/item.json, evidence/<id>/custody.json and, unless it was
// destroyed, evidence/<id>/content (decrypted, checked as it streams),
// then manifest.json listing each file's SHA-256 and size and
// manifest.sig. An item whose content fails its integrity check stops
// the export with an IntegrityError (recorded, as at a download): the
// archive is then incomplete and must be discarded.
func (x *Export) WriteArchive(w io.Writer) (report.Manifest, error) {
	m := report.Manifest{Format: report.ExportFormat, IncidentNumber: x.incident, GeneratedAt: x.at, GeneratedBy: x.actor}
	x.signer.Stamp(&m)
	zw := zip.NewWriter(w)
	add := func(name string, method uint16, fill func(io.Writer) error) error {
		if !report.ValidName(name) {
			return fmt.Errorf("evidence export: invalid file name %q", name)
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: x.at})
		if err != nil {
			return err
		}
		hw := &hashingWriter{w: fw, h: sha256.New()}
		if err := fill(hw); err != nil {
			return err
		}
		m.Files = append(m.Files, report.ManifestFile{Name: name, SHA256: hex.EncodeToString(hw.h.Sum(nil)), Size: hw.n})
		return nil
	}
	addJSON := func(name string, v any) error {
		return add(name, zip.Deflate, func(w io.Writer) error {
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			_, err = w.Write(append(b, '\n'))
			return err
		})
	}
	for _, xi := range x.items {
		it := xi.item
		dir := "evidence/" + it.ID + "/"
		out := exportedItem{ID: it.ID, IncidentNumber: it.IncidentNumber, Status: it.Status, Description: it.Description,
			Source: it.Source, CollectedBy: it.CollectedBy, CollectedAt: it.CollectedAt, RelatedAsset: it.RelatedAsset,
			FileName: it.FileName, ContentType: it.ContentType, Size: it.Size, SHA256: it.SHA256, Custodian: it.Custodian,
			UploadedBy: it.UploadedBy, CreatedAt: it.CreatedAt, Integrity: it.Integrity, VerifiedAt: it.VerifiedAt,
			HeldSince: it.HeldAt, HeldBy: it.HeldBy, HoldReason: it.HoldReason}
		if it.Privilege != nil {
			out.Privileged = privilegeOut("", it.Privilege)
		}
		if it.Status == StatusStored {
			out.Content = dir + "content"
			r, err := x.s.reader(x.ctx, it, xi.sealedKey)
			if err != nil {
				return report.Manifest{}, err
			}
			r.failed = func(e *IntegrityError) { x.s.integrityFailed(x.ctx, it, "export", e) }
			if err := add(out.Content, zip.Store, func(w io.Writer) error {
				_, err := io.CopyBuffer(w, r, make([]byte, 1<<20))
				return err
			}); err != nil {
				return report.Manifest{}, fmt.Errorf("evidence item %s: %w", it.ID, err)
			}
		}
		entries, err := readCustody(x.ctx, x.s.db.R, it.ID)
		if err != nil {
			return report.Manifest{}, err
		}
		custody := make([]exportedCustody, len(entries))
		for i, e := range entries {
			c := exportedCustody{Seq: e.Seq, Action: e.Action, Actor: e.Actor, At: e.At}
			if c.Custodian, err = keys.EvidenceCustodyCustodian.OpenText(x.s.keys, e.Custodian, e.ID); err != nil {
				return report.Manifest{}, err
			}
			if c.Reason, err = keys.EvidenceCustodyReason.OpenText(x.s.keys, e.Reason, e.ID); err != nil {
				return report.Manifest{}, err
			}
			custody[i] = c
		}
		if err := addJSON(dir+"item.json", out); err != nil {
			return report.Manifest{}, err
		}
		if err := addJSON(dir+"custody.json", custody); err != nil {
			return report.Manifest{}, err
		}
	}
	if len(x.leftOut) > 0 {
		left := make([]*exportedPrivilege, len(x.leftOut))
		for i, it := range x.leftOut {
			left[i] = privilegeOut(it.ID, it.Privilege)
		}
		if err := addJSON(leftOutName, map[string]any{"left_out": len(left), "items": left,
			"note": labels.Count(len(left), "evidence item", "evidence items") + " marked privileged & confidential (attorney " +
				"work product) left out of this export; counsel or the Privacy Officer may ask for them."}); err != nil {
			return report.Manifest{}, err
		}
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return report.Manifest{}, err
	}
	for _, f := range []struct {
		name string
		body []byte
	}{{report.ManifestName, manifest}, {report.SignatureName, x.signer.Sign(manifest)}} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: x.at})
		if err != nil {
			return report.Manifest{}, err
		}
		if _, err := fw.Write(f.body); err != nil {
			return report.Manifest{}, err
		}
	}
	if err := zw.Close(); err != nil {
		return report.Manifest{}, fmt.Errorf("evidence export: %w", err)
	}
	return m, nil
}
