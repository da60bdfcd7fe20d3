package audit

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// Reader serves the audit trail to auditors and officers (authz.AuditRead):
// pages of it and exports. Every read is itself recorded in the trail
// ("audit.read", "audit.export"), committed before the entries are read.
type Reader struct {
	db    *db.DB
	clock clock.Clock
}

// NewReader returns a Reader on d.
func NewReader(d *db.DB, c clock.Clock) *Reader { return &Reader{db: d, clock: c} }

// Query is what a caller asks of the trail; empty fields do not filter.
type Query struct {
	Actor      string     `json:"actor,omitempty"`       // as the trail names it: "user:alice", "token:ci", "system:ward"
	Action     string     `json:"action,omitempty"`      // exact, or a prefix ending in "." ("user.")
	ObjectType string     `json:"object_type,omitempty"` // "incident", "user", …
	ObjectID   string     `json:"object_id,omitempty"`
	Incident   string     `json:"incident,omitempty"` // an incident number: the entries about that incident
	From       *time.Time `json:"from,omitempty"`     // at or after
	To         *time.Time `json:"to,omitempty"`       // before
	Cursor     string     `json:"cursor,omitempty"`
	Limit      int        `json:"limit,omitempty"` // page size, 1 to MaxList; DefaultList when 0
}

// Page is one page of the trail, newest first, and the cursor of the next
// (older) page, "" at the end.
type Page struct {
	Entries []Entry
	Next    string
}

var (
	actorPattern  = regexp.MustCompile(`^(user|token|cli|system|integration):[^\x00-\x1f\x7f]{1,200}$`)
	actionPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?$`)
	typePattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// ParseTime reads a filter's time: RFC 3339, or a date meaning midnight
// UTC; "" is no time. A bad value is an error naming field.
func ParseTime(field, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, apperr.Field(field, "must be a time in RFC 3339 (2026-03-01T09:00:00Z) or a date (2026-03-01)")
}

// maxField is the longest object id or incident number a query takes.
const maxField = 200

// EncodeCursor makes the opaque cursor of the page that follows seq.
func EncodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("before:" + strconv.FormatInt(seq, 10)))
}

// decodeCursor is the sequence number a cursor pages back from.
func decodeCursor(c string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, apperr.Field("cursor", "is not a cursor this API returned")
	}
	n, ok := strings.CutPrefix(string(raw), "before:")
	seq, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || seq < 1 {
		return 0, apperr.Field("cursor", "is not a cursor this API returned")
	}
	return seq, nil
}

// filter checks q, naming the first bad field, and turns it into a
// Filter, looking the incident number up.
func (r *Reader) filter(ctx context.Context, q Query) (Filter, error) {
	f := Filter{Actor: q.Actor, Action: q.Action, ObjectType: q.ObjectType, ObjectID: q.ObjectID, From: q.From, To: q.To,
		Limit: q.Limit}
	switch {
	case q.Actor != "" && !actorPattern.MatchString(q.Actor):
		return f, apperr.Field("actor", "must be as the trail names actors: user:<username>, token:<name>, cli:<name>, system:ward or integration:<name>")
	case q.Action != "" && (len(q.Action) > 100 || !actionPattern.MatchString(q.Action)):
		return f, apperr.Field("action", "must be an action such as incident.create, or a prefix such as incident.")
	case q.ObjectType != "" && !typePattern.MatchString(q.ObjectType):
		return f, apperr.Field("object_type", "must be an object type such as incident or user")
	case !plain(q.ObjectID):
		return f, apperr.Field("object_id", "must be at most %d characters without control characters", maxField)
	case q.ObjectID != "" && q.ObjectType == "":
		return f, apperr.Field("object_id", "needs object_type")
	case !plain(q.Incident):
		return f, apperr.Field("incident", "must be an incident number such as INC-2026-0001")
	case q.Incident != "" && q.ObjectType != "":
		return f, apperr.Field("incident", "selects the incident's entries: give it without object_type and object_id")
	case q.From != nil && q.To != nil && !q.To.After(*q.From):
		return f, apperr.Field("to", "must be after from")
	case q.Limit < 0 || q.Limit > MaxList:
		return f, apperr.Field("limit", "must be from 1 to %d", MaxList)
	}
	if q.Cursor != "" {
		seq, err := decodeCursor(q.Cursor)
		if err != nil {
			return f, err
		}
		f.BeforeSeq = seq
	}
	if q.Incident != "" {
		f.ObjectType = "incident"
		err := r.db.R.QueryRowContext(ctx, "SELECT id FROM incidents WHERE number = $1", strings.ToUpper(q.Incident)).Scan(&f.ObjectID)
		if errors.Is(err, sql.ErrNoRows) {
			return f, apperr.Field("incident", "no incident is numbered %s", q.Incident)
		}
		if err != nil {
			return f, fmt.Errorf("audit: find incident: %w", err)
		}
	}
	return f, nil
}

func plain(s string) bool {
	if len(s) > maxField || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// record appends the read of the trail as action, in its own committed
// transaction, before any entry is read.
func (r *Reader) record(ctx context.Context, action string, what any) error {
	return r.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := Append(ctx, r.db.In(tx), r.clock.Now(), Event{Action: action, ObjectType: "audit_trail", Change: what})
		return err
	})
}

// Page returns one page of the entries matching q, newest first, recorded
// as "audit.read". Paging with Next is stable while entries are appended:
// a page holds only entries older than the last one of the page before.
func (r *Reader) Page(ctx context.Context, q Query) (Page, error) {
	if _, err := authz.Check(ctx, authz.AuditRead); err != nil {
		return Page{}, err
	}
	f, err := r.filter(ctx, q)
	if err != nil {
		return Page{}, err
	}
	if f.Limit == 0 {
		f.Limit = DefaultList
	}
	if err := r.record(ctx, "audit.read", q); err != nil {
		return Page{}, err
	}
	entries, err := List(ctx, r.db.R, f)
	if err != nil {
		return Page{}, err
	}
	p := Page{Entries: entries}
	if n := len(entries); n == f.Limit && entries[n-1].Seq > 1 {
		p.Next = EncodeCursor(entries[n-1].Seq)
	}
	return p, nil
}

// Export is an export of the trail, checked and recorded, ready to write.
type Export struct {
	db     *db.DB
	filter Filter
	Format string
}

// Export checks q (its cursor and limit aside) and format, records the
// export as "audit.export" and returns it, ready to write; nothing has been
// read yet, so an error here leaves the caller free to answer with it.
func (r *Reader) Export(ctx context.Context, q Query, format string) (*Export, error) {
	if _, err := authz.Check(ctx, authz.AuditRead); err != nil {
		return nil, err
	}
	return r.ExportLocal(ctx, q, format)
}

// ExportLocal is Export for an operator at the command line, who holds the
// database itself and so needs no permission; the export is recorded all
// the same, as the actor in ctx.
func (r *Reader) ExportLocal(ctx context.Context, q Query, format string) (*Export, error) {
	if format != FormatJSONL && format != FormatCSV {
		return nil, apperr.Field("format", "must be %s or %s", FormatJSONL, FormatCSV)
	}
	q.Cursor, q.Limit = "", 0
	f, err := r.filter(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := r.record(ctx, "audit.export", struct {
		Query
		Format string `json:"format"`
	}{q, format}); err != nil {
		return nil, err
	}
	return &Export{db: r.db, filter: f, Format: format}, nil
}

// WriteTo writes every entry of the export to w, oldest first, and calls
// progress, when not nil, after each chunk (to extend a write deadline).
func (x *Export) WriteTo(ctx context.Context, w io.Writer, progress func()) error {
	out, err := NewExportWriter(x.Format, w)
	if err != nil {
		return err
	}
	n := 0
	err = Each(ctx, x.db.R, x.filter, func(e Entry) error {
		if err := out.Write(e); err != nil {
			return err
		}
		if n++; n%eachChunk == 0 {
			if err := out.Flush(); err != nil {
				return err
			}
			if progress != nil {
				progress()
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return out.Flush()
}
