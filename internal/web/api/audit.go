package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// AuditEntry is one entry of the audit trail with its chain proof: hash
// is SHA-256 over prev_hash and every other field (docs/AUDIT.md), so a
// verifier can recompute it and check that each entry links to the one
// before.
type AuditEntry struct {
	Seq        int64     `json:"seq" doc:"The entry's place in the chain: 1, 2, 3, … without gaps."`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor" doc:"Who acted: user:<username>, token:<name>, cli:<operating-system user>, system:ward or integration:<name>."`
	Action     string    `json:"action" doc:"What was done, e.g. incident.create."`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	RequestID  string    `json:"request_id"`
	SourceIP   string    `json:"source_ip"`
	Digest     string    `json:"digest" doc:"SHA-256 of the change as JSON; the change itself is not in the trail."`
	PrevHash   string    `json:"prev_hash" doc:"The hash of the entry before (64 zeros for the first)."`
	Hash       string    `json:"hash"`
}

// AuditFilters are the filters the audit operations share (exported, so
// that huma reads the embedded fields). They are strings, checked by the
// service, so that a bad value is a 400 naming it.
type AuditFilters struct {
	Actor      string `query:"actor" doc:"Exact actor, e.g. user:alice or token:siem."`
	Action     string `query:"action" doc:"Exact action, e.g. incident.create, or a prefix ending in a dot, e.g. user."`
	ObjectType string `query:"object_type" doc:"Object type, e.g. incident, user, service."`
	ObjectID   string `query:"object_id" doc:"Object id; needs object_type."`
	Incident   string `query:"incident" doc:"An incident number: the entries about that incident (its breach case included). Not with object_type."`
	From       string `query:"from" doc:"Entries at or after this time: RFC 3339, or a date (midnight UTC)."`
	To         string `query:"to" doc:"Entries before this time: RFC 3339, or a date (midnight UTC)."`
}

func (f AuditFilters) query() (audit.Query, error) {
	q := audit.Query{Actor: f.Actor, Action: f.Action, ObjectType: f.ObjectType, ObjectID: f.ObjectID, Incident: f.Incident}
	var err error
	if q.From, err = audit.ParseTime("from", f.From); err != nil {
		return q, err
	}
	q.To, err = audit.ParseTime("to", f.To)
	return q, err
}

type listAuditInput struct {
	AuditFilters
	Cursor string `query:"cursor" doc:"The next_cursor of the page before; opaque."`
	Limit  string `query:"limit" doc:"Entries per page, from 1 to 500 (the maximum); 100 when absent."`
}

type auditPage struct {
	Items      []AuditEntry `json:"items" doc:"Newest first."`
	NextCursor string       `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last page. Entries appended meanwhile do not shift the pages."`
}

type exportAuditInput struct {
	AuditFilters
	Format string `query:"format" doc:"jsonl (one entry per line) or csv (a header row, then one row per entry; cells that a spreadsheet would run as a formula start with an apostrophe)." required:"true"`
}

func auditOut(e audit.Entry) AuditEntry {
	return AuditEntry{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID,
		RequestID: e.RequestID, SourceIP: e.SourceIP, Digest: e.Digest, PrevHash: e.PrevHash, Hash: e.Hash}
}

// badQuery answers a bad filter with 400 naming it (query.<field>); other
// errors as fail does.
func (h handler) badQuery(ctx context.Context, err error) error {
	if e, ok := apperr.As(err); ok && e.Code == apperr.Invalid {
		var details []error
		for _, f := range e.Fields {
			details = append(details, &huma.ErrorDetail{Location: "query." + f.Field, Message: f.Message})
		}
		return huma.NewError(http.StatusBadRequest, e.Message, details...)
	}
	return h.fail(ctx, "query", err)
}

// auditExportTypes are the export's media types by format.
var auditExportTypes = map[string]string{audit.FormatJSONL: "application/jsonl", audit.FormatCSV: "text/csv; charset=utf-8"}

func (h handler) registerAudit(api huma.API) {
	const tag = "audit"
	list := tagged(op("list-audit", http.MethodGet, "/audit",
		"A page of the audit trail, newest first, with filters; the read is itself audited (audit.read)", http.StatusOK,
		authz.AuditRead), tag)
	list.Description = "For the auditor and the Security and Privacy Officers. A bad filter is answered with 400 naming it."
	list.Errors = append(list.Errors, http.StatusBadRequest)
	huma.Register(api, list, func(ctx context.Context, in *listAuditInput) (*struct{ Body auditPage }, error) {
		q, err := in.query()
		if err != nil {
			return nil, h.badQuery(ctx, err)
		}
		q.Cursor = in.Cursor
		if in.Limit != "" {
			n, err := strconv.Atoi(in.Limit)
			if err != nil || n < 1 {
				return nil, h.badQuery(ctx, apperr.Field("limit", "must be a whole number from 1 to %d", audit.MaxList))
			}
			q.Limit = n
		}
		p, err := h.Audit.Page(ctx, q)
		if err != nil {
			return nil, h.badQuery(ctx, err)
		}
		out := &struct{ Body auditPage }{}
		out.Body.Items = make([]AuditEntry, len(p.Entries))
		for i, e := range p.Entries {
			out.Body.Items[i] = auditOut(e)
		}
		out.Body.NextCursor = p.Next
		return out, nil
	})

	export := tagged(op("export-audit", http.MethodGet, "/audit/export",
		"Every audit entry matching the filters, oldest first, as JSON Lines or CSV with the chain proof; the export is itself audited (audit.export)",
		http.StatusOK, authz.AuditRead), tag)
	export.Description = "For the auditor and the Security and Privacy Officers. Streamed; each entry carries seq, digest, " +
		"prev_hash and hash, so an offline verifier can recompute every hash and check the links (docs/AUDIT.md). " +
		"A bad filter is answered with 400 naming it."
	export.Errors = append(export.Errors, http.StatusBadRequest)
	export.Responses = map[string]*huma.Response{"200": {Description: "The entries", Content: map[string]*huma.MediaType{
		"application/jsonl": {Schema: &huma.Schema{Type: "string"}}, "text/csv": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, export, func(ctx context.Context, in *exportAuditInput) (*huma.StreamResponse, error) {
		q, err := in.query()
		if err != nil {
			return nil, h.badQuery(ctx, err)
		}
		x, err := h.Audit.Export(ctx, q, in.Format)
		if err != nil {
			return nil, h.badQuery(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", auditExportTypes[x.Format])
			hctx.SetHeader("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-trail.%s"`, x.Format))
			_, w := humago.Unwrap(hctx)
			rc := http.NewResponseController(w)
			extend := func() { _ = rc.SetWriteDeadline(time.Now().Add(time.Minute)) }
			extend()
			if err := x.WriteTo(ctx, hctx.BodyWriter(), extend); err != nil {
				// The status is sent; the cut-off body is what the caller sees.
				h.Log.ErrorContext(ctx, "audit_export_failed", "request_id", authz.RequestFrom(ctx).ID, "error", err)
			}
		}}, nil
	})
}
