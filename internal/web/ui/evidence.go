package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/evidence"
)

// ---- the evidence vault: the incident page's section and each item's page ----

// evidenceTime is how long an evidence upload or download may take.
const evidenceTime = 6 * time.Hour

// evidenceOf lists the incident's evidence for the incident page, nil for
// a role that may not see it.
func (u *UI) evidenceOf(r *http.Request, ref string) ([]evidence.Item, error) {
	a, _ := authz.ActorFrom(r.Context())
	if u.Evidence == nil || !authz.Has(a.Role, authz.EvidenceRead) {
		return nil, nil
	}
	return u.Evidence.List(r.Context(), ref)
}

// evidenceUpload stores the uploaded file, streamed from the form, and
// goes back to the incident page's evidence section; a refused file is
// shown there with its error beside the field.
func (u *UI) evidenceUpload(w http.ResponseWriter, r *http.Request) {
	liftDeadlines(w, evidenceTime)
	mr, _ := r.Context().Value(uploadKey{}).(*multipart.Reader)
	var err error = apperr.Field("file", "choose a file to upload")
	var up evidence.Upload
	if mr != nil {
		var file io.Reader
		if up, file, err = evidence.ReadForm(mr); err == nil {
			_, err = u.Evidence.Add(r.Context(), r.PathValue("id"), up, file)
		}
	}
	var tl *evidence.TooLargeError
	if errors.As(err, &tl) {
		err = apperr.Field("file", "is larger than the largest file Ward accepts (%s)", sizeText(tl.Limit))
	}
	if err != nil {
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
			err = apperr.Field("evidence_"+e.Fields[0].Field, "%s", e.Fields[0].Message)
		}
		u.showWithErrors(w, r, err, map[string]string{"evidence_description": up.Description, "evidence_source": up.Source,
			"evidence_collected_by": up.CollectedBy, "evidence_related_asset": up.RelatedAsset})
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=evidence_added#evidence")
}

// evidencePage is an item's page.
type evidencePage struct {
	Item    evidence.Item
	Custody []evidence.CustodyEntry
	Actions []evidence.Action
	Errors  map[string]string
	Form    map[string]string
}

func (u *UI) evidenceShow(w http.ResponseWriter, r *http.Request) {
	u.evidenceRender(w, r, http.StatusOK, nil, nil)
}

func (u *UI) evidenceRender(w http.ResponseWriter, r *http.Request, status int, errs, form map[string]string) {
	it, custody, err := u.Evidence.Get(r.Context(), r.PathValue("id"), r.PathValue("item"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, status, "evidence", "Evidence of "+it.IncidentNumber, "incidents",
		evidencePage{Item: it, Custody: custody, Actions: evidence.RecordedActions, Errors: errs, Form: form})
}

// evidenceCustody records a custody event from the item's page.
func (u *UI) evidenceCustody(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "action", "custodian", "reason", "back")
	_, err := u.Evidence.RecordCustody(r.Context(), r.PathValue("id"), r.PathValue("item"), evidence.CustodyInput{
		Action: evidence.Action(form["action"]), Custodian: form["custodian"], Reason: form["reason"]})
	if err != nil && form["back"] == "incident" {
		u.transferRefused(w, r, err, form)
		return
	}
	if err == nil && form["back"] == "incident" {
		redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=custody_recorded#evidence")
		return
	}
	if err != nil {
		errs, ok := fieldErrors(err)
		if e, isApp := apperr.As(err); !ok && isApp && e.Code == apperr.Conflict {
			errs, ok = map[string]string{"_": e.Message}, true
		}
		if !ok {
			u.fail(w, r, err)
			return
		}
		u.evidenceRender(w, r, http.StatusUnprocessableEntity, errs, form)
		return
	}
	redirect(w, r, r.URL.Path[:len(r.URL.Path)-len("/custody")]+"?msg=custody_recorded#custody")
}

// transferRefused shows the incident page again with the refusal beside
// the field of the evidence panel's hand-over form that it concerns.
func (u *UI) transferRefused(w http.ResponseWriter, r *http.Request, err error, form map[string]string) {
	fe, ok := fieldErrors(err)
	if e, isApp := apperr.As(err); !ok && isApp && (e.Code == apperr.Conflict || e.Code == apperr.Forbidden) {
		fe, ok = map[string]string{"transfer": e.Message}, true
	}
	if !ok {
		u.fail(w, r, err)
		return
	}
	errs := map[string]string{}
	for k, v := range fe {
		switch k {
		case "custodian", "reason":
			errs["transfer_"+k] = v
		default:
			errs["transfer"] = v
		}
	}
	p, gerr := u.showData(r, r.PathValue("id"))
	if gerr != nil {
		u.fail(w, r, gerr)
		return
	}
	p.Errors = errs
	p.Form = map[string]string{"transfer_item": r.PathValue("item"), "transfer_custodian": form["custodian"],
		"transfer_reason": form["reason"]}
	u.render(w, r, http.StatusUnprocessableEntity, "incident", p.Incident.Number+" "+p.Incident.Title, "incidents", p)
}

func (u *UI) evidenceHoldPlace(w http.ResponseWriter, r *http.Request) {
	u.evidenceHold(w, r, "/legal-hold", "evidence_hold_placed", u.Evidence.PlaceHold)
}

func (u *UI) evidenceHoldRelease(w http.ResponseWriter, r *http.Request) {
	u.evidenceHold(w, r, "/legal-hold/release", "evidence_hold_released", u.Evidence.ReleaseHold)
}

// evidenceHold places or releases the item's legal hold from its page; a
// refusal is shown there, beside the reason or at the top.
func (u *UI) evidenceHold(w http.ResponseWriter, r *http.Request, suffix, msg string,
	fn func(context.Context, string, string, string) (evidence.Item, error)) {
	form := formValues(r, "hold_reason")
	if _, err := fn(r.Context(), r.PathValue("id"), r.PathValue("item"), form["hold_reason"]); err != nil {
		errs := map[string]string{}
		e, isApp := apperr.As(err)
		switch {
		case isApp && len(e.Fields) > 0:
			errs["hold_reason"] = e.Fields[0].Message
		case isApp && e.Code == apperr.Conflict:
			errs["_"] = e.Message
		default:
			u.fail(w, r, err)
			return
		}
		u.evidenceRender(w, r, http.StatusUnprocessableEntity, errs, form)
		return
	}
	redirect(w, r, r.URL.Path[:len(r.URL.Path)-len(suffix)]+"?msg="+msg+"#legal-hold")
}

// evidenceVerify re-hashes the item now.
func (u *UI) evidenceVerify(w http.ResponseWriter, r *http.Request) {
	_, err := u.Evidence.Verify(r.Context(), r.PathValue("id"), r.PathValue("item"))
	var ie *evidence.IntegrityError
	if errors.As(err, &ie) {
		u.evidenceRender(w, r, http.StatusConflict, map[string]string{"_": ie.Error()}, nil)
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, r.URL.Path[:len(r.URL.Path)-len("/verify")]+"?msg=evidence_verified")
}

// evidenceDownload streams the item's content, checked as it goes; a
// failure before the first byte is a page, after it the connection is cut.
func (u *UI) evidenceDownload(w http.ResponseWriter, r *http.Request) {
	it, rd, err := u.Evidence.Download(r.Context(), r.PathValue("id"), r.PathValue("item"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	first := make([]byte, 64<<10)
	n, err := io.ReadFull(rd, first)
	var ie *evidence.IntegrityError
	if errors.As(err, &ie) {
		u.evidenceRender(w, r, http.StatusConflict, map[string]string{"_": ie.Error()}, nil)
		return
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		u.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(evidenceTime))
	name := it.FileName
	if name == "" {
		name = "evidence-" + it.IncidentNumber
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.FormatInt(it.Size, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := w.Write(first[:n]); err != nil {
		return
	}
	if _, err := io.CopyBuffer(w, rd, make([]byte, 1<<20)); err != nil {
		panic(http.ErrAbortHandler) // a cut body must not pass for a whole file
	}
}

// sizeText says a size in bytes for people: "3.2 MB".
func sizeText(n int64) string {
	const unit = 1000
	if n < unit {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
