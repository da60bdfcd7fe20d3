package api

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/notice"
)

// NoticeCheck is what the checks found about a notice template.
type NoticeCheck struct {
	Elements       []rules.Element       `json:"elements" doc:"The 164.404(c)(1) elements the body's tagged sections hold."`
	ContactMethods []rules.ContactMethod `json:"contact_methods" doc:"The 164.404(c)(1)(E) contact methods its contact_procedures section merges."`
	Missing        []rules.ElementSpec   `json:"missing" doc:"Required elements it lacks (notices to individuals and media)."`
	Approvable     bool                  `json:"approvable"`
	Problem        string                `json:"problem,omitempty" doc:"Why it cannot be approved."`
	Readability    notice.Readability    `json:"readability"`
}

// MaxReturnsCSV is the largest returns list one request may send: a line
// per returned notice, so 64 MiB holds millions.
const MaxReturnsCSV = 64 << 20

// noticeRunInput asks for letters or emails. Their work takes minutes at
// the scale of a large breach (about 1,000 letters or 3,000 emails a
// second through the API), longer than the server's usual read and write
// timeouts, so Resolve lifts both for this request.
type noticeRunInput struct {
	ID   string `path:"id" maxLength:"100"`
	Body *generateBody
}

// Resolve lifts the server's deadlines for the request. It runs once the
// body is read; the read deadline still matters after that, because on
// HTTP/1.1 the connection's background read cancels the request's
// context when it passes.
func (in *noticeRunInput) Resolve(ctx huma.Context) []error {
	_, w := humago.Unwrap(ctx)
	rc := http.NewResponseController(w)
	until := time.Now().Add(IndividualsUploadTime)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
	return nil
}

func checkOut(c notice.Check) NoticeCheck {
	out := NoticeCheck{Elements: c.Declared.Elements, ContactMethods: c.Declared.ContactMethods, Missing: c.Missing,
		Approvable: c.Problem == "", Problem: c.Problem, Readability: c.Readability}
	if out.Elements == nil {
		out.Elements = []rules.Element{}
	}
	if out.ContactMethods == nil {
		out.ContactMethods = []rules.ContactMethod{}
	}
	if out.Missing == nil {
		out.Missing = []rules.ElementSpec{}
	}
	return out
}

// NoticeTemplate is one version of a notice template.
type NoticeTemplate struct {
	ID         string      `json:"id" doc:"The template's id, shared by its versions."`
	VersionID  string      `json:"version_id"`
	Version    int         `json:"version"`
	Kind       notice.Kind `json:"kind" enum:"individual_letter,individual_email,substitute_web,media_release,customer_notice,state_ag"`
	Name       string      `json:"name"`
	Subject    string      `json:"subject"`
	Body       string      `json:"body" doc:"Markdown with merge fields (docs/NOTICES.md)."`
	Status     string      `json:"status" enum:"draft,approved,superseded"`
	CreatedBy  string      `json:"created_by"`
	CreatedAt  time.Time   `json:"created_at"`
	ApprovedBy string      `json:"approved_by,omitempty"`
	ApprovedAt *time.Time  `json:"approved_at,omitempty"`
	Check      NoticeCheck `json:"check"`
	Redacted   bool        `json:"phi_redacted,omitempty" doc:"subject and body were withheld: the caller's role may not read PHI."`
}

func templateOut(t notice.Template) NoticeTemplate {
	return NoticeTemplate{ID: t.TemplateID, VersionID: t.ID, Version: t.Version, Kind: t.Kind, Name: t.Name, Subject: t.Subject, Body: t.Body,
		Status: t.Status, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ApprovedBy: t.ApprovedBy, ApprovedAt: t.ApprovedAt,
		Check: checkOut(t.Check), Redacted: t.Redacted}
}

func templatesOut(ts []notice.Template) []NoticeTemplate {
	out := make([]NoticeTemplate, len(ts))
	for i, t := range ts {
		out[i] = templateOut(t)
	}
	return out
}

type noticeTemplateBody struct {
	Kind    notice.Kind `json:"kind,omitempty" enum:"individual_letter,individual_email,substitute_web,media_release,customer_notice,state_ag"`
	Name    string      `json:"name" maxLength:"200"`
	Subject string      `json:"subject,omitempty" maxLength:"300"`
	Body    string      `json:"body" maxLength:"100000"`
}

func (b noticeTemplateBody) input() notice.TemplateInput {
	return notice.TemplateInput{Kind: b.Kind, Name: b.Name, Subject: b.Subject, Body: b.Body}
}

// NoticePreview is a template merged with sample data.
type NoticePreview struct {
	Subject string      `json:"subject"`
	HTML    string      `json:"html"`
	Text    string      `json:"text"`
	Check   NoticeCheck `json:"check"`
}

type templatePath struct {
	ID string `path:"template_id" maxLength:"100"`
}

// NoticeFile is a generated file, without its content.
type NoticeFile struct {
	ID          string    `json:"id"`
	RunID       string    `json:"run_id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int       `json:"size"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"created_at"`
	// NameRedacted: the name was withheld.
	NameRedacted bool `json:"name_redacted,omitempty" doc:"The file's name (which names its addressee) was withheld: the caller's role may not read PHI."`
}

// NoticeRun is one generation of notices.
type NoticeRun struct {
	ID          string       `json:"id"`
	Kind        notice.Kind  `json:"kind"`
	TemplateRef string       `json:"template_version_id"`
	Notices     int          `json:"notices"`
	Sent        int          `json:"sent,omitempty"`
	Failed      int          `json:"failed,omitempty" doc:"Emails the server refused (5xx): re-send after fixing the address."`
	Deferred    int          `json:"deferred,omitempty" doc:"Emails not delivered for now (server unreachable, 4xx): still pending, sent by the next request."`
	Files       []NoticeFile `json:"files"`
	GeneratedBy string       `json:"generated_by"`
	GeneratedAt time.Time    `json:"generated_at"`
}

func runOut(r notice.Run) NoticeRun {
	out := NoticeRun{ID: r.ID, Kind: r.Kind, TemplateRef: r.TemplateRef, Notices: r.Notices, Sent: r.Sent, Failed: r.Failed, Deferred: r.Deferred,
		Files: []NoticeFile{}, GeneratedBy: r.GeneratedBy, GeneratedAt: r.GeneratedAt}
	for _, f := range r.Files {
		out.Files = append(out.Files, NoticeFile(f))
	}
	return out
}

// NoticeRecord is one notice as tracked (no PHI: individuals by id).
type NoticeRecord struct {
	ID           string      `json:"id" doc:"Also the row_key of the mailing list."`
	RunID        string      `json:"run_id,omitempty"`
	Kind         notice.Kind `json:"kind"`
	Channel      string      `json:"channel" enum:"mail,email,document"`
	IndividualID string      `json:"individual_id,omitempty"`
	Recipient    string      `json:"recipient" doc:"individual, media:<ST>, covered_entity:<id>, state_regulator:<rule id> or substitute:web."`
	Status       string      `json:"status" enum:"pending,generated,sent,failed,returned"`
	Batch        int         `json:"batch,omitempty"`
	Page         int         `json:"page,omitempty"`
	Pages        int         `json:"pages,omitempty"`
	Attempts     int         `json:"attempts"`
	Error        string      `json:"error,omitempty"`
	SentAt       *time.Time  `json:"sent_at,omitempty"`
	SentBy       string      `json:"sent_by,omitempty"`
	Receipt      string      `json:"receipt,omitempty" doc:"The provider's answer: for email the Message-ID and the SMTP server's reply."`
	ReturnedAt   *time.Time  `json:"returned_at,omitempty"`
	ReturnReason string      `json:"return_reason,omitempty"`
	ResentOf     string      `json:"resent_of,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
	// Individual is the pages' name of the individual; the API never
	// fills it (individuals by id).
	Individual string `json:"-"`
	Redacted   bool   `json:"phi_redacted,omitempty" doc:"recipient, error, receipt and return_reason were withheld: the caller's role may not read PHI."`
}

// NoticeSettings are a case's notice settings as the API shows them.
type NoticeSettings struct {
	notice.Settings
	Redacted bool `json:"phi_redacted,omitempty" doc:"The settings were withheld (they say what happened and what PHI was involved): the caller's role may not read PHI."`
}

// NoticeSubstitute is the substitute notice a case owes and its periods.
type NoticeSubstitute struct {
	InsufficientContact int              `json:"insufficient_contact" doc:"From the import: living, no postal address, no email consented to."`
	Returned            int              `json:"returned" doc:"Individuals whose notice came back undeliverable and was not sent again since."`
	Substitute          rules.Substitute `json:"substitute" doc:"Owed for insufficient_contact + returned (164.404(d)(2))."`
	PostingStartedAt    *time.Time       `json:"posting_started_at,omitempty"`
	PostingEndsAt       *time.Time       `json:"posting_ends_at,omitempty" doc:"90 days after the start (164.404(d)(2)(ii)(A))."`
	TollFreeStartedAt   *time.Time       `json:"toll_free_started_at,omitempty"`
	TollFreeEndsAt      *time.Time       `json:"toll_free_ends_at,omitempty" doc:"90 days after the start (164.404(d)(2)(ii)(B))."`
	TollFreeNumber      string           `json:"toll_free_number,omitempty"`
	PostingURL          string           `json:"posting_url,omitempty"`
}

func substituteOut(s notice.SubstituteStatus) NoticeSubstitute {
	return NoticeSubstitute{InsufficientContact: s.InsufficientContact, Returned: s.Returned, Substitute: s.Substitute,
		PostingStartedAt: s.PostingStartedAt, PostingEndsAt: s.PostingEndsAt, TollFreeStartedAt: s.TollFreeStartedAt,
		TollFreeEndsAt: s.TollFreeEndsAt, TollFreeNumber: s.TollFreeNumber, PostingURL: s.PostingURL}
}

// NoticeTally counts notices of one kind, channel and status.
type NoticeTally struct {
	Kind    notice.Kind `json:"kind"`
	Channel string      `json:"channel"`
	Status  string      `json:"status"`
	Count   int         `json:"count"`
}

// NoticeSummary is the state of a case's notices.
type NoticeSummary struct {
	Tallies    []NoticeTally    `json:"tallies"`
	Runs       []NoticeRun      `json:"runs"`
	Substitute NoticeSubstitute `json:"substitute"`
}

type noticeSettingsBody struct {
	notice.Settings
}

type generateBody struct {
	TemplateID   string        `json:"template_id,omitempty" maxLength:"100" doc:"An approved template; default: the latest approved of the kind."`
	HoldOverride *HoldOverride `json:"hold_override,omitempty" doc:"Required during a law-enforcement hold (45 CFR 164.412); audited and on the timeline."`
}

type documentsBody struct {
	Kind         notice.Kind   `json:"kind" enum:"media_release,customer_notice,state_ag,substitute_web"`
	TemplateID   string        `json:"template_id,omitempty" maxLength:"100"`
	HoldOverride *HoldOverride `json:"hold_override,omitempty" doc:"Required during a law-enforcement hold (45 CFR 164.412); audited and on the timeline."`
}

type sentBody struct {
	RunID    string     `json:"run_id,omitempty" maxLength:"100" doc:"Every generated notice of this run (a letter batch the vendor mailed)."`
	NoticeID string     `json:"notice_id,omitempty" maxLength:"100"`
	SentAt   *time.Time `json:"sent_at,omitempty" doc:"Default: now."`
	Receipt  string     `json:"receipt,omitempty" maxLength:"500" doc:"The vendor's or recipient's confirmation."`
	// HoldOverride is required while, or for notices sent while, a
	// law-enforcement hold is in force.
	HoldOverride *HoldOverride `json:"hold_override,omitempty" doc:"Required when a law-enforcement hold is in force now or at sent_at (45 CFR 164.412)."`
}

type substituteBody struct {
	PostingStartedAt  *time.Time `json:"posting_started_at,omitempty"`
	TollFreeStartedAt *time.Time `json:"toll_free_started_at,omitempty"`
	TollFreeNumber    string     `json:"toll_free_number,omitempty" maxLength:"40"`
	PostingURL        string     `json:"posting_url,omitempty" maxLength:"500"`
	// HoldOverride is required while, or for a notice started while, a
	// law-enforcement hold is in force.
	HoldOverride *HoldOverride `json:"hold_override,omitempty" doc:"Required when a law-enforcement hold is in force now or when the notice started (45 CFR 164.412)."`
}

// NoticeReturns is what a returns upload did.
type NoticeReturns struct {
	Rows       int                    `json:"rows"`
	Recorded   int                    `json:"recorded"`
	Problems   []notice.ReturnProblem `json:"problems"`
	Substitute NoticeSubstitute       `json:"substitute"`
}

func (h handler) registerNotices(api huma.API) {
	const tag = "notices"
	huma.Register(api, tagged(op("list-notice-templates", http.MethodGet, "/notice-templates", "The latest version of every notice template",
		http.StatusOK, authz.IncidentRead), tag), func(ctx context.Context, _ *struct{}) (*struct{ Body []NoticeTemplate }, error) {
		ts, err := h.Notices.Templates(ctx)
		if err != nil {
			return nil, h.fail(ctx, "query", err)
		}
		return &struct{ Body []NoticeTemplate }{templatesOut(ts)}, nil
	})
	huma.Register(api, tagged(op("create-notice-template", http.MethodPost, "/notice-templates",
		"Create a notice template (a draft); unknown merge fields are refused", http.StatusCreated, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct{ Body noticeTemplateBody }) (*struct{ Body NoticeTemplate }, error) {
			t, err := h.Notices.CreateTemplate(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body NoticeTemplate }{templateOut(t)}, nil
		})
	huma.Register(api, changesNothing(tagged(op("preview-notice-template", http.MethodPost, "/notice-templates/preview",
		"Merge a template with sample data and check it, without saving", http.StatusOK, authz.IncidentRead), tag)),
		func(ctx context.Context, in *struct{ Body noticeTemplateBody }) (*struct{ Body NoticePreview }, error) {
			p, err := h.Notices.PreviewTemplate(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body NoticePreview }{NoticePreview{Subject: p.Subject, HTML: p.HTML, Text: p.Text, Check: checkOut(p.Check)}}, nil
		})
	huma.Register(api, tagged(op("get-notice-template", http.MethodGet, "/notice-templates/{template_id}",
		"Every version of a notice template, oldest first", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *templatePath) (*struct{ Body []NoticeTemplate }, error) {
			vs, err := h.Notices.Versions(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body []NoticeTemplate }{templatesOut(vs)}, nil
		})
	huma.Register(api, tagged(op("update-notice-template", http.MethodPut, "/notice-templates/{template_id}",
		"Edit a notice template: a draft in place; an approved one becomes a new draft version", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"template_id" maxLength:"100"`
			Body noticeTemplateBody
		}) (*struct{ Body NoticeTemplate }, error) {
			t, err := h.Notices.UpdateTemplate(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body NoticeTemplate }{templateOut(t)}, nil
		})
	huma.Register(api, tagged(op("approve-notice-template", http.MethodPost, "/notice-templates/{template_id}/approve",
		"Approve the latest draft (the Privacy Officer); a notice lacking a 164.404(c)(1) element is refused", http.StatusOK,
		authz.BreachSign), tag), func(ctx context.Context, in *templatePath) (*struct{ Body NoticeTemplate }, error) {
		t, err := h.Notices.ApproveTemplate(ctx, in.ID)
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &struct{ Body NoticeTemplate }{templateOut(t)}, nil
	})

	base := "/incidents/{id}/breach-case"
	huma.Register(api, tagged(op("get-notice-settings", http.MethodGet, base+"/notice-settings",
		"What the case's notices say and who gives them (the merge values)", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body NoticeSettings }, error) {
			st, err := h.Notices.GetSettings(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body NoticeSettings }{NoticeSettings{Settings: st, Redacted: st.Redacted}}, nil
		})
	huma.Register(api, tagged(op("set-notice-settings", http.MethodPut, base+"/notice-settings",
		"Replace the case's notice settings", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body noticeSettingsBody
		}) (*struct{ Body notice.Settings }, error) {
			st, err := h.Notices.SaveSettings(ctx, in.ID, in.Body.Settings)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body notice.Settings }{st}, nil
		})
	huma.Register(api, tagged(op("notice-summary", http.MethodGet, base+"/notices/summary",
		"The case's notices counted, their generations and files, and the substitute notice owed", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body NoticeSummary }, error) {
			s, err := h.Notices.Summarize(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := NoticeSummary{Tallies: []NoticeTally{}, Runs: []NoticeRun{}, Substitute: substituteOut(s.Substitute)}
			for _, t := range s.Tallies {
				out.Tallies = append(out.Tallies, NoticeTally(t))
			}
			for _, r := range s.Runs {
				out.Runs = append(out.Runs, runOut(r))
			}
			return &struct{ Body NoticeSummary }{out}, nil
		})
	huma.Register(api, tagged(op("list-notices", http.MethodGet, base+"/notices", "A page of the case's notices (no PHI)",
		http.StatusOK, authz.IncidentRead), tag), func(ctx context.Context, in *struct {
		ID     string `path:"id" maxLength:"100"`
		Status string `query:"status" enum:"pending,generated,sent,failed,returned,"`
		After  string `query:"after" maxLength:"100"`
		Limit  int    `query:"limit" minimum:"0" maximum:"500"`
	}) (*struct {
		Body struct {
			Notices []NoticeRecord `json:"notices"`
			Next    string         `json:"next,omitempty"`
		}
	}, error) {
		list, next, err := h.Notices.Notices(ctx, in.ID, in.Status, in.After, in.Limit)
		if err != nil {
			return nil, h.fail(ctx, "query", err)
		}
		out := &struct {
			Body struct {
				Notices []NoticeRecord `json:"notices"`
				Next    string         `json:"next,omitempty"`
			}
		}{}
		out.Body.Notices = make([]NoticeRecord, len(list))
		for i, n := range list {
			out.Body.Notices[i] = NoticeRecord(n)
		}
		out.Body.Next = next
		return out, nil
	})
	huma.Register(api, tagged(op("generate-letters", http.MethodPost, base+"/notices/letters",
		"Generate the letters owed by mail: PDF batches for a print-and-mail vendor and the mailing list", http.StatusCreated,
		authz.BreachWrite), tag), func(ctx context.Context, in *noticeRunInput) (*struct{ Body NoticeRun }, error) {
		var tid string
		var hold *HoldOverride
		if in.Body != nil {
			tid, hold = in.Body.TemplateID, in.Body.HoldOverride
		}
		r, err := h.Notices.GenerateLetters(ctx, in.ID, tid, hold.override())
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &struct{ Body NoticeRun }{runOut(r)}, nil
	})
	huma.Register(api, tagged(op("send-notice-emails", http.MethodPost, base+"/notices/emails",
		"Email the individuals who agreed to electronic notice (164.404(d)(1)(i)), and re-sends queued", http.StatusCreated,
		authz.BreachWrite), tag), func(ctx context.Context, in *noticeRunInput) (*struct{ Body NoticeRun }, error) {
		var tid string
		var hold *HoldOverride
		if in.Body != nil {
			tid, hold = in.Body.TemplateID, in.Body.HoldOverride
		}
		r, err := h.Notices.SendEmails(ctx, in.ID, tid, hold.override())
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &struct{ Body NoticeRun }{runOut(r)}, nil
	})
	huma.Register(api, tagged(op("generate-notice-documents", http.MethodPost, base+"/notices/documents",
		"Generate the media releases (per State over 500), customer notices with their lists, State AG notices or the web notice",
		http.StatusCreated, authz.BreachWrite), tag), func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"100"`
		Body documentsBody
	}) (*struct{ Body NoticeRun }, error) {
		r, err := h.Notices.GenerateDocuments(ctx, in.ID, in.Body.Kind, in.Body.TemplateID, in.Body.HoldOverride.override())
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &struct{ Body NoticeRun }{runOut(r)}, nil
	})
	huma.Register(api, tagged(op("mark-notices-sent", http.MethodPost, base+"/notices/sent",
		"Record that generated notices were sent (a run's letters mailed, a document delivered)", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body sentBody
		}) (*struct {
			Body struct {
				Marked int `json:"marked"`
			}
		}, error) {
			var at time.Time
			if in.Body.SentAt != nil {
				at = *in.Body.SentAt
			}
			n, err := h.Notices.MarkSent(ctx, in.ID, in.Body.RunID, in.Body.NoticeID, at, in.Body.Receipt, in.Body.HoldOverride.override())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			out := &struct {
				Body struct {
					Marked int `json:"marked"`
				}
			}{}
			out.Body.Marked = n
			return out, nil
		})
	ret := tagged(op("record-notice-returns", http.MethodPost, base+"/notices/returns",
		"Record returned mail and bounces from a CSV (individual_id or row_key, reason, returned_at)", http.StatusOK, authz.BreachWrite), tag)
	ret.MaxBodyBytes = MaxReturnsCSV
	huma.Register(api, ret, func(ctx context.Context, in *struct {
		ID      string `path:"id" maxLength:"100"`
		RawBody []byte `contentType:"text/csv"`
	}) (*struct{ Body NoticeReturns }, error) {
		r, err := h.Notices.RecordReturns(ctx, in.ID, bytes.NewReader(in.RawBody))
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		probs := r.Problems
		if probs == nil {
			probs = []notice.ReturnProblem{}
		}
		return &struct{ Body NoticeReturns }{NoticeReturns{Rows: r.Rows, Recorded: r.Recorded, Problems: probs,
			Substitute: substituteOut(r.Substitute)}}, nil
	})
	huma.Register(api, tagged(op("resend-notice", http.MethodPost, base+"/notices/{notice_id}/resend",
		"Queue a returned or failed notice to be sent again", http.StatusCreated, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID       string `path:"id" maxLength:"100"`
			NoticeID string `path:"notice_id" maxLength:"100"`
		}) (*struct{ Body NoticeRecord }, error) {
			n, err := h.Notices.Resend(ctx, in.ID, in.NoticeID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body NoticeRecord }{NoticeRecord(n)}, nil
		})
	huma.Register(api, tagged(op("get-substitute-notice", http.MethodGet, base+"/notices/substitute",
		"The substitute notice owed (164.404(d)(2)) and its 90-day periods", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body NoticeSubstitute }, error) {
			s, err := h.Notices.Substitute(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body NoticeSubstitute }{substituteOut(s)}, nil
		})
	huma.Register(api, tagged(op("start-substitute-notice", http.MethodPost, base+"/notices/substitute",
		"Record when the web posting and the toll-free number started; each runs 90 days", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body substituteBody
		}) (*struct{ Body NoticeSubstitute }, error) {
			s, err := h.Notices.StartSubstitute(ctx, in.ID, notice.SubstituteInput{PostingStartedAt: in.Body.PostingStartedAt,
				TollFreeStartedAt: in.Body.TollFreeStartedAt, TollFreeNumber: in.Body.TollFreeNumber, PostingURL: in.Body.PostingURL,
				Hold: in.Body.HoldOverride.override()})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body NoticeSubstitute }{substituteOut(s)}, nil
		})
	huma.Register(api, tagged(op("download-notice-file", http.MethodGet, base+"/notice-files/{file_id}",
		"Download a generated file (letters, mailing list, notice); it holds PHI, and the read is audited", http.StatusOK,
		authz.IncidentReadPHI), tag), func(ctx context.Context, in *struct {
		ID     string `path:"id" maxLength:"100"`
		FileID string `path:"file_id" maxLength:"100"`
	}) (*struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		CacheControl       string `header:"Cache-Control"`
		Body               []byte
	}, error) {
		f, content, err := h.Notices.ReadFile(ctx, in.ID, in.FileID)
		if err != nil {
			return nil, h.fail(ctx, "path", err)
		}
		return &struct {
			ContentType        string `header:"Content-Type"`
			ContentDisposition string `header:"Content-Disposition"`
			CacheControl       string `header:"Cache-Control"`
			Body               []byte
		}{f.ContentType, `attachment; filename="` + f.Name + `"`, "no-store", content}, nil
	})
}
