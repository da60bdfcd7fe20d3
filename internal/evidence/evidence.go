// Package evidence is the evidence vault of an investigation (issue #12):
// files collected for an incident (logs, screenshots, disk images, emails,
// police reports), each encrypted with a streaming AEAD key of its own
// bound to the item, its SHA-256 taken at intake, and its chain of custody
// kept as an append-only record in the audit trail. See docs/EVIDENCE.md.
//
// The content lives in the database, in chunks of ciphertext
// (evidence_chunks), not in files beside it: a backup (package backup)
// then holds the evidence with the records that describe it, and every
// node of a PostgreSQL cluster reads the same items.
package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// Keys seals free text and makes and opens the items' stream keys
// (package keys' Keyring).
type Keys interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
	NewStreamKey(c keys.Column, rowID string) (string, tink.StreamingAEAD, error)
	OpenStreamKey(sealed string, c keys.Column, rowID string) (tink.StreamingAEAD, error)
}

// DefaultMaxBytes is the largest file accepted unless configured
// otherwise (--evidence-max-bytes): 20 GiB, room for a laptop's disk image.
const DefaultMaxBytes int64 = 20 << 30

// Limits on the metadata.
const (
	MaxDescription = 4000
	MaxShortText   = 500
	MaxReason      = 2000
)

// chunkSize is how much ciphertext one evidence_chunks row holds.
const chunkSize = 4 << 20

// abandonAfter is how long an upload may go without a chunk arriving
// before Sweep removes what it stored.
const abandonAfter = time.Hour

// Status is where an item is in its life.
type Status string

// The statuses: uploading rows are no record yet and shown nowhere.
const (
	StatusUploading Status = "uploading"
	StatusStored    Status = "stored"
	StatusDestroyed Status = "destroyed"
)

// Integrity is what the last check of an item's content found.
type Integrity string

// The integrity results; empty until the first check.
const (
	IntegrityOK     Integrity = "ok"
	IntegrityFailed Integrity = "failed"
)

// Action is what a chain of custody entry records.
type Action string

// The custody actions. Collected and accessed are Ward's own (at upload
// and at every download); the others are recorded by people.
const (
	Collected   Action = "collected"
	Transferred Action = "transferred"
	Accessed    Action = "accessed"
	Copied      Action = "copied"
	Returned    Action = "returned"
	Released    Action = "released"
	Destroyed   Action = "destroyed"
	// HoldPlaced and HoldReleased record a legal hold on the item placed
	// and released (PlaceHold, ReleaseHold).
	HoldPlaced   Action = "legal_hold_placed"
	HoldReleased Action = "legal_hold_released"
)

// RecordedActions are the actions people record by hand.
var RecordedActions = []Action{Transferred, Copied, Returned, Released, Destroyed}

// Item is an evidence item. The free text is empty when it was not opened
// (a listing for a role that may not read it).
type Item struct {
	ID             string
	IncidentID     string
	IncidentNumber string
	Status         Status
	Description    string
	Source         string
	CollectedBy    string
	CollectedAt    *time.Time
	RelatedAsset   string
	FileName       string
	ContentType    string
	Size           int64
	SHA256         string
	Custodian      string
	UploadedBy     string
	CreatedAt      time.Time
	Integrity      Integrity
	VerifiedAt     *time.Time
	CheckedAt      *time.Time
	// HeldAt is when the legal hold in force on the item was placed, by
	// HeldBy, for HoldReason; nil while it is not held.
	HeldAt     *time.Time
	HeldBy     string
	HoldReason string
	// Privilege is the item's privileged mark, nil when it has none.
	// Withheld says its free text and content were withheld from a
	// reader who may not see privileged content: the free text is empty.
	Privilege *incident.Privilege
	Withheld  bool
}

// withhold empties the sealed free text of a privileged item for a reader
// who may not see it: nothing of it is opened.
func (it *Item) withhold() {
	it.Description, it.Source, it.CollectedBy, it.RelatedAsset, it.FileName, it.Custodian, it.HoldReason = "", "", "", "", "", "", ""
	it.Withheld = true
}

// privilegeOf reads item it's privileged mark into it.Privilege.
func privilegeOf(ctx context.Context, q db.Querier, it *Item) error {
	marks, err := incident.LoadPrivileges(ctx, q, it.IncidentID, incident.PrivilegedEvidence)
	if err != nil {
		return err
	}
	it.Privilege = marks[it.ID]
	return nil
}

// mayNotSee reports whether it is privileged and the caller may not see
// privileged content.
func mayNotSee(ctx context.Context, it Item) bool {
	return it.Privilege != nil && !incident.MayReadPrivileged(ctx)
}

// privilegedChangeError refuses a custody event or legal hold on
// privileged item it to a caller who may not see it: recording one opens
// the item's holder.
func privilegedChangeError(it Item) error {
	return apperr.New(apperr.Forbidden, "this evidence item is marked %s: only counsel and the Privacy Officer may record its "+
		"custody or legal hold (a legal hold on the whole incident covers it)", it.Privilege.Phrase())
}

// privilegedError refuses the content of privileged item it.
func privilegedError(it Item) error {
	return apperr.New(apperr.Forbidden, "this evidence item is marked %s: only counsel and the Privacy Officer may see its content",
		it.Privilege.Phrase())
}

// CustodyEntry is one event of an item's chain of custody.
type CustodyEntry struct {
	ID        string
	Seq       int64
	Action    Action
	Actor     string
	At        time.Time
	Custodian string
	Reason    string
}

// Options configure a Service.
type Options struct {
	// MaxBytes caps one file; 0 is DefaultMaxBytes.
	MaxBytes int64
	Log      *slog.Logger
	// Alert, when set, tells the Security Officers inside the transaction
	// that records an integrity failure of an item of incident incidentID
	// (paging.Pager's NotifyEvidenceAlteredTx).
	Alert func(ctx context.Context, tx *sql.Tx, incidentID string) error
}

// Service keeps the evidence vault.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	incidents *incident.Service
	keys      Keys
	log       *slog.Logger
	maxBytes  int64
	failures  prometheus.Counter
	verified  prometheus.Counter
	alert     func(ctx context.Context, tx *sql.Tx, incidentID string) error
}

// New returns a Service.
func New(d *db.DB, c clock.Clock, incidents *incident.Service, k Keys, opts Options) *Service {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: d, clock: c, incidents: incidents, keys: k, log: opts.Log, maxBytes: opts.MaxBytes, alert: opts.Alert,
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_evidence_integrity_failures_total",
			Help: "Evidence items whose content failed its integrity check (at download or verification)."}),
		verified: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_evidence_verified_total",
			Help: "Evidence items whose content was re-hashed and found whole."}),
	}
}

// Collectors returns the service's metrics, to register with Prometheus.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.failures, s.verified}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// associatedData binds an item's ciphertext to the item.
func associatedData(itemID string) []byte { return []byte("ward evidence v1\x00" + itemID) }

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkText validates free text: UTF-8, no control characters but line
// breaks and tabs, at most max characters; required says whether it may
// be empty.
func checkText(field, v string, required bool, max int) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		return "", apperr.Field(field, "is required")
	case !utf8.ValidString(v):
		return "", apperr.Field(field, "must be UTF-8 text")
	case utf8.RuneCountInString(v) > max:
		return "", apperr.Field(field, "must be at most %d characters", max)
	}
	for _, r := range v {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return "", apperr.Field(field, "must not hold control characters")
		}
	}
	return v, nil
}

// itemColumns are the columns readItems scans.
const itemColumns = `id, incident_id, status, description, source, collected_by, collected_at, related_asset, file_name,
	content_type, size, sha256, custodian, uploaded_by, created_at, integrity, verified_at, checked_at, held_at, held_by, hold_reason`

func scanItem(r interface{ Scan(...any) error }) (Item, error) {
	var it Item
	var collected, verified, checked, held sql.NullTime
	var status, integrity string
	err := r.Scan(&it.ID, &it.IncidentID, &status, &it.Description, &it.Source, &it.CollectedBy, &collected, &it.RelatedAsset,
		&it.FileName, &it.ContentType, &it.Size, &it.SHA256, &it.Custodian, &it.UploadedBy, &it.CreatedAt, &integrity,
		&verified, &checked, &held, &it.HeldBy, &it.HoldReason)
	it.Status, it.Integrity, it.CreatedAt = Status(status), Integrity(integrity), it.CreatedAt.UTC()
	it.CollectedAt, it.VerifiedAt, it.CheckedAt, it.HeldAt = timePtr(collected), timePtr(verified), timePtr(checked), timePtr(held)
	return it, err
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// reveal opens an item's sealed fields in place.
func (s *Service) reveal(it *Item) error {
	for _, f := range []struct {
		v *string
		c keys.Column
	}{{&it.Description, keys.EvidenceDescription}, {&it.Source, keys.EvidenceSource}, {&it.CollectedBy, keys.EvidenceCollectedBy},
		{&it.RelatedAsset, keys.EvidenceRelatedAsset}, {&it.FileName, keys.EvidenceFileName}, {&it.Custodian, keys.EvidenceCustodian},
		{&it.HoldReason, keys.EvidenceHoldReason}} {
		v, err := f.c.OpenText(s.keys, *f.v, it.ID)
		if err != nil {
			return err
		}
		*f.v = v
	}
	return nil
}

// readItem reads item id of incident incID, whatever its status.
func readItem(ctx context.Context, q db.Querier, incID, id string) (Item, error) {
	it, err := scanItem(q.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM evidence_items WHERE id = $1 AND incident_id = $2`, id, incID))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, apperr.New(apperr.NotFound, "no such evidence item on this incident")
	}
	if err != nil {
		return Item{}, fmt.Errorf("read evidence item: %w", err)
	}
	return it, nil
}

// readCustody reads item id's chain of custody, in order, sealed.
func readCustody(ctx context.Context, q db.Querier, id string) ([]CustodyEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, seq, action, actor, at, custodian, reason FROM evidence_custody
		WHERE item_id = $1 ORDER BY seq`, id)
	return db.Collect(rows, err, "evidence custody", func(r *sql.Rows) (CustodyEntry, error) {
		var e CustodyEntry
		var action string
		err := r.Scan(&e.ID, &e.Seq, &action, &e.Actor, &e.At, &e.Custodian, &e.Reason)
		e.Action, e.At = Action(action), e.At.UTC()
		return e, err
	})
}
