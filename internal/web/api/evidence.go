package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
)

// EvidenceUploadTime is how long one evidence upload or download may take
// to send: a disk image of many gigabytes takes minutes.
const EvidenceUploadTime = 6 * time.Hour

// EvidenceItem is an evidence item as the API shows it.
type EvidenceItem struct {
	ID             string     `json:"id"`
	IncidentNumber string     `json:"incident_number"`
	Status         string     `json:"status" enum:"stored,destroyed" doc:"destroyed: its content was destroyed (a custody event); its record, hash and chain of custody stay."`
	Description    string     `json:"description"`
	Source         string     `json:"source,omitempty"`
	CollectedBy    string     `json:"collected_by,omitempty"`
	CollectedAt    *time.Time `json:"collected_at,omitempty"`
	RelatedAsset   string     `json:"related_asset,omitempty"`
	FileName       string     `json:"file_name,omitempty"`
	ContentType    string     `json:"content_type"`
	Size           int64      `json:"size" doc:"The file's size in bytes."`
	SHA256         string     `json:"sha256" doc:"The SHA-256 of the file as received, hex, computed at intake."`
	Custodian      string     `json:"custodian" doc:"Who holds the item now (after its last custody event)."`
	UploadedBy     string     `json:"uploaded_by"`
	CreatedAt      time.Time  `json:"created_at"`
	Integrity      string     `json:"integrity,omitempty" enum:"ok,failed" doc:"What the last integrity check found; absent before the first."`
	VerifiedAt     *time.Time `json:"integrity_verified_at,omitempty" doc:"When the content was last decrypted, re-hashed and found whole."`
	CheckedAt      *time.Time `json:"integrity_checked_at,omitempty" doc:"When the content was last checked, whatever was found."`
	LegalHold      *ItemHold  `json:"legal_hold,omitempty" doc:"The legal hold in force on the item; absent while it is not held."`
	Privileged     *Privilege `json:"privileged,omitempty" doc:"The item's privileged mark (attorney work product); absent when it has none."`
	Withheld       bool       `json:"withheld,omitempty" doc:"The item is privileged and the caller may not see its content: its free text is empty and its content cannot be downloaded."`
}

// Privilege is a record's privileged mark: "Privileged & confidential —
// attorney work product", held by a Ward user. Only roles with
// privileged:read (counsel and the Privacy Officer) see the record's
// content; everyone else sees this.
type Privilege struct {
	Label    string    `json:"label" doc:"Privileged & confidential — attorney work product, held by …"`
	HeldBy   string    `json:"held_by" doc:"The username of the Ward user who holds the privilege."`
	MarkedBy string    `json:"marked_by" doc:"Who marked it, as the audit trail names them."`
	MarkedAt time.Time `json:"marked_at"`
}

func privilegeOut(p *incident.Privilege) *Privilege {
	if p == nil {
		return nil
	}
	return &Privilege{Label: p.Line(), HeldBy: p.HeldBy, MarkedBy: p.MarkedBy, MarkedAt: p.MarkedAt}
}

// ItemHold is the legal hold in force on an evidence item: while it holds,
// the item cannot be destroyed and the retention purge keeps it and its
// incident.
type ItemHold struct {
	Since    time.Time `json:"since"`
	PlacedBy string    `json:"placed_by" doc:"Who placed it, as the audit trail names them."`
	Reason   string    `json:"reason" doc:"Why: the matter, who asked. Sealed at rest."`
}

func evidenceOut(it evidence.Item) EvidenceItem {
	return EvidenceItem{ID: it.ID, IncidentNumber: it.IncidentNumber, Status: string(it.Status), Description: it.Description,
		Source: it.Source, CollectedBy: it.CollectedBy, CollectedAt: it.CollectedAt, RelatedAsset: it.RelatedAsset,
		FileName: it.FileName, ContentType: it.ContentType, Size: it.Size, SHA256: it.SHA256, Custodian: it.Custodian,
		UploadedBy: it.UploadedBy, CreatedAt: it.CreatedAt, Integrity: string(it.Integrity), VerifiedAt: it.VerifiedAt,
		CheckedAt: it.CheckedAt, LegalHold: itemHoldOut(it), Privileged: privilegeOut(it.Privilege), Withheld: it.Withheld}
}

func itemHoldOut(it evidence.Item) *ItemHold {
	if it.HeldAt == nil {
		return nil
	}
	return &ItemHold{Since: *it.HeldAt, PlacedBy: it.HeldBy, Reason: it.HoldReason}
}

// CustodyEntry is one event of an item's chain of custody.
type CustodyEntry struct {
	Seq       int64     `json:"seq" doc:"1 for the first event of the item, then one more for each."`
	Action    string    `json:"action" enum:"collected,transferred,accessed,copied,returned,released,destroyed,legal_hold_placed,legal_hold_released"`
	Actor     string    `json:"actor" doc:"Who recorded it, as the audit trail names them."`
	At        time.Time `json:"at"`
	Custodian string    `json:"custodian,omitempty" doc:"Who held the item after the event."`
	Reason    string    `json:"reason,omitempty"`
}

func custodyOut(e evidence.CustodyEntry) CustodyEntry {
	return CustodyEntry{Seq: e.Seq, Action: string(e.Action), Actor: e.Actor, At: e.At, Custodian: e.Custodian, Reason: e.Reason}
}

// EvidenceDetail is an item with its chain of custody.
type EvidenceDetail struct {
	EvidenceItem
	Custody []CustodyEntry `json:"custody" doc:"Every custody event, oldest first; entries are never changed or removed."`
}

type evidencePath struct {
	ID     string `path:"id" maxLength:"100"`
	ItemID string `path:"item_id" maxLength:"100"`
}

// evidenceUpload takes the multipart body as a stream and lifts the
// server's deadlines for this request.
type evidenceUpload struct {
	ID          string `path:"id" maxLength:"100"`
	body        io.Reader
	contentType string
}

func (u *evidenceUpload) Resolve(ctx huma.Context) []error {
	u.body, u.contentType = ctx.BodyReader(), ctx.Header("Content-Type")
	liftDeadlines(ctx)
	return nil
}

func liftDeadlines(ctx huma.Context) {
	_, w := humago.Unwrap(ctx)
	rc := http.NewResponseController(w)
	until := time.Now().Add(EvidenceUploadTime)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
}

type custodyBody struct {
	Action    string `json:"action" enum:"transferred,copied,returned,released,destroyed" doc:"collected and accessed are Ward's own: at upload and at every download."`
	Custodian string `json:"custodian,omitempty" maxLength:"500" doc:"Who holds the item after the event: required for transferred and released; for returned, absent keeps the holder."`
	Reason    string `json:"reason" minLength:"1" maxLength:"2000" doc:"Why; sealed at rest."`
}

func (h handler) registerEvidence(api huma.API) {
	const tag = "evidence"
	base := "/incidents/{id}/evidence"
	add := tagged(op("add-evidence", http.MethodPost, base,
		"Add an evidence file, streamed and encrypted as it arrives; its SHA-256 is computed at intake (audited, custody: collected)",
		http.StatusCreated, authz.EvidenceWrite), tag)
	add.MaxBodyBytes = -1 // streamed; the file's own limit is --evidence-max-bytes
	add.Description = "A multipart/form-data form: the fields `description` (required), `source`, `collected_by`, " +
		"`collected_at` (RFC 3339), `related_asset` and `sha256` (the file's SHA-256 in hex, optional: a file that does not " +
		"match it is refused with 422 and nothing is kept), then the part `file`, last. The file's name and media type are " +
		"taken from its part. An empty file is 422; a file over the server's limit (`--evidence-max-bytes`, 20 GiB by default) " +
		"is 413; an interrupted upload keeps nothing."
	add.Errors = append(add.Errors, http.StatusRequestEntityTooLarge)
	// The body is a stream of bytes to huma, which must not read it; the
	// form's fields are described in the document once registered.
	add.RequestBody = &huma.RequestBody{Required: true, Description: "The upload form.",
		Content: map[string]*huma.MediaType{"multipart/form-data": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}
	huma.Register(api, add, func(ctx context.Context, in *evidenceUpload) (*struct{ Body EvidenceItem }, error) {
		_, params, err := mime.ParseMediaType(in.contentType)
		if err != nil || params["boundary"] == "" {
			return nil, huma.Error400BadRequest("the body must be a multipart/form-data form with a boundary")
		}
		up, file, err := evidence.ReadForm(multipart.NewReader(in.body, params["boundary"]))
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		it, err := h.Evidence.Add(ctx, in.ID, up, file)
		var tl *evidence.TooLargeError
		if errors.As(err, &tl) {
			return nil, huma.Error413RequestEntityTooLarge(tl.Error())
		}
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &struct{ Body EvidenceItem }{evidenceOut(it)}, nil
	})
	api.OpenAPI().Paths[Prefix+base].Post.RequestBody.Content["multipart/form-data"].Schema = &huma.Schema{Type: huma.TypeObject,
		Properties: map[string]*huma.Schema{
			"description":   {Type: huma.TypeString, MaxLength: intPtr(evidence.MaxDescription)},
			"source":        {Type: huma.TypeString, MaxLength: intPtr(evidence.MaxShortText)},
			"collected_by":  {Type: huma.TypeString, MaxLength: intPtr(evidence.MaxShortText)},
			"collected_at":  {Type: huma.TypeString, Format: "date-time"},
			"related_asset": {Type: huma.TypeString, MaxLength: intPtr(evidence.MaxShortText)},
			"sha256":        {Type: huma.TypeString, Pattern: "^[0-9a-fA-F]{64}$"},
			"file":          {Type: huma.TypeString, Format: "binary"},
		}, Required: []string{"description", "file"}}

	huma.Register(api, tagged(op("list-evidence", http.MethodGet, base,
		"The incident's evidence items, oldest first, with hashes and integrity (a read of PHI, audited)", http.StatusOK,
		authz.EvidenceRead), tag), func(ctx context.Context, in *idPath) (*struct{ Body []EvidenceItem }, error) {
		list, err := h.Evidence.List(ctx, in.ID)
		if err != nil {
			return nil, h.fail(ctx, "path", err)
		}
		out := &struct{ Body []EvidenceItem }{Body: make([]EvidenceItem, len(list))}
		for i, it := range list {
			out.Body[i] = evidenceOut(it)
		}
		return out, nil
	})

	huma.Register(api, tagged(op("get-evidence", http.MethodGet, base+"/{item_id}",
		"One evidence item with its chain of custody (a read of PHI, audited)", http.StatusOK, authz.EvidenceRead), tag),
		func(ctx context.Context, in *evidencePath) (*struct{ Body EvidenceDetail }, error) {
			it, custody, err := h.Evidence.Get(ctx, in.ID, in.ItemID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body EvidenceDetail }{EvidenceDetail{EvidenceItem: evidenceOut(it), Custody: make([]CustodyEntry, len(custody))}}
			for i, e := range custody {
				out.Body.Custody[i] = custodyOut(e)
			}
			return out, nil
		})

	dl := tagged(op("download-evidence", http.MethodGet, base+"/{item_id}/content",
		"Download the file, decrypted and checked as it streams; recorded as a custody event (accessed) and audited",
		http.StatusOK, authz.EvidenceRead), tag)
	dl.Description = "The response carries `Content-Length` and the recorded SHA-256 in `X-Ward-SHA256`. Content that " +
		"fails its integrity check before the first byte is sent is answered 409; after, the connection is cut, so the " +
		"body is shorter than Content-Length. Either way the failure is recorded (the item shows integrity failed)."
	dl.Responses = map[string]*huma.Response{"200": {Description: "The file", Content: map[string]*huma.MediaType{
		"application/octet-stream": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}}
	huma.Register(api, dl, func(ctx context.Context, in *evidencePath) (*huma.StreamResponse, error) {
		it, r, err := h.Evidence.Download(ctx, in.ID, in.ItemID)
		if err != nil {
			return nil, h.fail(ctx, "path", err)
		}
		// The first segment is decrypted before any header goes out, so
		// altered content is usually answered with a status.
		first := make([]byte, 64<<10)
		n, err := io.ReadFull(r, first)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, h.fail(ctx, "path", evidenceReadError(err))
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			liftDeadlines(hctx)
			hctx.SetHeader("Content-Type", "application/octet-stream")
			hctx.SetHeader("Content-Disposition", `attachment; filename="`+downloadName(it)+`"`)
			hctx.SetHeader("Content-Length", strconv.FormatInt(it.Size, 10))
			hctx.SetHeader("Cache-Control", "no-store")
			hctx.SetHeader("X-Content-Type-Options", "nosniff")
			hctx.SetHeader("X-Ward-SHA256", it.SHA256)
			w := hctx.BodyWriter()
			if _, err := w.Write(first[:n]); err != nil {
				return
			}
			if _, err := io.CopyBuffer(w, r, make([]byte, 1<<20)); err != nil {
				h.Log.ErrorContext(ctx, "evidence_download_cut", "request_id", authz.RequestFrom(ctx).ID, "item_id", it.ID)
				panic(http.ErrAbortHandler) // the client must not take a cut body for a whole one
			}
		}}, nil
	})

	ex := tagged(op("export-evidence", http.MethodGet, base+"/export",
		"Download the incident's evidence export for an examiner: a signed zip archive that `ward proof verify` checks offline "+
			"(each item's copy is a custody event, copied; audited)", http.StatusOK, authz.EvidenceRead), tag)
	ex.Description = "The archive holds, for each item, `evidence/<id>/content` (decrypted; absent once destroyed), " +
		"`evidence/<id>/item.json` (its metadata and SHA-256) and `evidence/<id>/custody.json` (its whole chain of custody), " +
		"then `manifest.json` (each file's SHA-256 and size, format ward-evidence-export/1) and `manifest.sig` (Ed25519, " +
		"the key of the proof bundles). An item that fails its integrity check cuts the connection, so the archive is " +
		"incomplete and fails verification. 404 for an incident with no evidence. Items marked privileged are left out, and " +
		"`evidence/privileged-left-out.json` names each with who holds it, unless `include_privileged=true`, which only " +
		"counsel and the Privacy Officer may ask for (403 otherwise); the `Ward-Privileged-Left-Out` header counts them."
	ex.Responses = map[string]*huma.Response{"200": {Description: "The archive", Content: map[string]*huma.MediaType{
		"application/zip": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}}
	huma.Register(api, ex, func(ctx context.Context, in *struct {
		ID                string `path:"id" maxLength:"100"`
		IncludePrivileged bool   `query:"include_privileged" doc:"Put the items marked privileged in the export too (counsel and the Privacy Officer only)."`
	}) (*huma.StreamResponse, error) {
		x, err := h.Evidence.PrepareExport(ctx, in.ID, in.IncludePrivileged)
		if err != nil {
			return nil, h.fail(ctx, "include_privileged", err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			liftDeadlines(hctx)
			hctx.SetHeader("Ward-Privileged-Left-Out", strconv.Itoa(x.LeftOut()))
			hctx.SetHeader("Content-Type", "application/zip")
			hctx.SetHeader("Content-Disposition", `attachment; filename="evidence-`+x.Incident()+`.zip"`)
			hctx.SetHeader("Cache-Control", "no-store")
			hctx.SetHeader("X-Content-Type-Options", "nosniff")
			if _, err := x.WriteArchive(hctx.BodyWriter()); err != nil {
				h.Log.ErrorContext(ctx, "evidence_export_cut", "request_id", authz.RequestFrom(ctx).ID)
				panic(http.ErrAbortHandler) // an incomplete archive must not pass for a whole one
			}
		}}, nil
	})

	huma.Register(api, tagged(op("record-evidence-custody", http.MethodPost, base+"/{item_id}/custody",
		"Record a custody event: a transfer (naming the new custodian), a copy, a return, a release or the destruction (audited; entries are never changed or removed)",
		http.StatusCreated, authz.EvidenceWrite), tag), func(ctx context.Context, in *struct {
		ID     string `path:"id" maxLength:"100"`
		ItemID string `path:"item_id" maxLength:"100"`
		Body   custodyBody
	}) (*struct{ Body CustodyEntry }, error) {
		e, err := h.Evidence.RecordCustody(ctx, in.ID, in.ItemID, evidence.CustodyInput{Action: evidence.Action(in.Body.Action),
			Custodian: in.Body.Custodian, Reason: in.Body.Reason})
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &struct{ Body CustodyEntry }{custodyOut(e)}, nil
	})

	for _, x := range []struct {
		name, path, summary string
		status              int
		fn                  func(context.Context, string, string, string) (evidence.Item, error)
	}{
		{"place-evidence-legal-hold", "/legal-hold", "Put one evidence item on legal hold: it cannot be destroyed, and the " +
			"retention purge keeps it and its incident, until the hold is released (a custody event, audited)", http.StatusCreated,
			h.Evidence.PlaceHold},
		{"release-evidence-legal-hold", "/legal-hold/release", "Release an evidence item's legal hold (a custody event, audited)",
			http.StatusOK, h.Evidence.ReleaseHold},
	} {
		o := tagged(op(x.name, http.MethodPost, base+"/{item_id}"+x.path, x.summary, x.status, authz.LegalHold), tag)
		o.Description = "409 if the item is already held (placing), not held (releasing), or was destroyed. " +
			"The hold and its release are entries of the item's chain of custody, with their reasons."
		huma.Register(api, o, func(ctx context.Context, in *struct {
			ID     string `path:"id" maxLength:"100"`
			ItemID string `path:"item_id" maxLength:"100"`
			Body   struct {
				Reason string `json:"reason" minLength:"1" maxLength:"2000" doc:"Why: the matter, who asked. Free text, sealed at rest."`
			}
		}) (*struct{ Body EvidenceItem }, error) {
			it, err := x.fn(ctx, in.ID, in.ItemID, in.Body.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body EvidenceItem }{evidenceOut(it)}, nil
		})
	}

	huma.Register(api, tagged(op("verify-evidence", http.MethodPost, base+"/{item_id}/verify",
		"Decrypt and re-hash the stored content now and record the result (integrity verified at; a failure is loud: audited, counted, logged)",
		http.StatusOK, authz.EvidenceWrite), tag), func(ctx context.Context, in *evidencePath) (*struct{ Body EvidenceItem }, error) {
		it, err := h.Evidence.Verify(ctx, in.ID, in.ItemID)
		if err != nil {
			return nil, h.fail(ctx, "path", evidenceReadError(err))
		}
		return &struct{ Body EvidenceItem }{evidenceOut(it)}, nil
	})
}

// evidenceReadError makes an integrity failure a 409 with its message.
func evidenceReadError(err error) error {
	var ie *evidence.IntegrityError
	if errors.As(err, &ie) {
		return apperr.New(apperr.Conflict, "%s", ie.Error())
	}
	return err
}

// downloadName is the name a downloaded file is saved under: the name it
// was uploaded with, else one made of the incident number.
func downloadName(it evidence.Item) string {
	if it.FileName != "" {
		return it.FileName
	}
	return fmt.Sprintf("evidence-%s-%s", it.IncidentNumber, it.CreatedAt.Format("20060102T150405Z"))
}

func intPtr(n int) *int { return &n }
