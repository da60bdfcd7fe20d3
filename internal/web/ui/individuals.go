package ui

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
)

// ---- affected individuals of a breach case, and the parties registry ----

// individualsPageSize is how many individuals the case's list shows a page.
const individualsPageSize = 50

// uploadKey is the context key of a multipart upload whose CSRF field the
// guard has read: the handler reads the rest as a stream.
type uploadKey struct{}

// postedCSRF is the CSRF token of a POST. A multipart form (a file upload)
// must send the csrf field first: it is read off the stream, and the
// files after it are left to the handler unread, never held in memory or
// a temporary file (a list of individuals is PHI).
func postedCSRF(r *http.Request) (string, *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return r.PostFormValue("csrf"), r
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return "", r
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "csrf" {
		return "", r
	}
	v, err := io.ReadAll(io.LimitReader(part, 256))
	if err != nil {
		return "", r
	}
	return string(v), r.WithContext(context.WithValue(r.Context(), uploadKey{}, mr))
}

// individualsPage is the case's affected individuals.
type individualsPage struct {
	Case    breach.Case
	Counts  breach.Counts
	Imports []breach.ImportStatus
	List    []breach.Individual
	After   string
	Next    string
	// Result is the import an upload led to (?import=, its id), with its
	// rejected rows: the page an upload redirects to.
	Result *breach.ImportStatus
	Error  string
}

func (u *UI) individualsData(r *http.Request, ref string) (individualsPage, error) {
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		return individualsPage{}, err
	}
	p := individualsPage{Case: c, After: r.URL.Query().Get("after")}
	if p.Counts, err = u.Breach.IndividualCounts(r.Context(), ref); err != nil {
		return individualsPage{}, err
	}
	if p.Imports, err = u.Breach.Imports(r.Context(), ref, 5); err != nil {
		return individualsPage{}, err
	}
	if p.List, p.Next, err = u.Breach.Individuals(r.Context(), ref, p.After, individualsPageSize); err != nil {
		return individualsPage{}, err
	}
	if id := r.URL.Query().Get("import"); id != "" {
		for i := range p.Imports {
			if p.Imports[i].ID == id {
				p.Result = &p.Imports[i]
			}
		}
	}
	return p, nil
}

func (u *UI) individualsShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.individualsData(r, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "breach_individuals", "Affected individuals "+p.Case.IncidentNumber, "breach", p)
}

// uploadTime is how long an upload of a list may take to send and be
// answered (a million rows import in about a minute).
const uploadTime = 30 * time.Minute

// liftDeadlines lets the request run for d (a network deadline: the wall
// clock) instead of the server's read and write timeouts. Both matter: on
// HTTP/1.1 the connection's read deadline passing cancels the request.
func liftDeadlines(w http.ResponseWriter, d time.Duration) {
	rc := http.NewResponseController(w)
	until := time.Now().Add(d)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
}

// individualsUpload imports the uploaded CSV file, streamed from the
// request, and redirects to the list's page showing the import's report
// (Post/Redirect/Get: a reload does not import again); a file refused as
// a whole is shown at once with its error.
func (u *UI) individualsUpload(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	liftDeadlines(w, uploadTime) // a long list takes longer than the server's timeouts
	mr, _ := r.Context().Value(uploadKey{}).(*multipart.Reader)
	var res breach.ImportResult
	var err error = apperr.Field("file", "choose a CSV file to upload")
	if mr != nil {
		var part *multipart.Part
		for part, err = mr.NextPart(); err == nil && part.FormName() != "file"; part, err = mr.NextPart() {
		}
		switch {
		case errors.Is(err, io.EOF):
			err = apperr.Field("file", "choose a CSV file to upload")
		case err == nil:
			res, err = u.Breach.ImportIndividualsWith(r.Context(), ref, part, breach.ImportOptions{})
		}
	}
	if err == nil {
		c, err := u.Breach.Get(r.Context(), ref)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		redirect(w, r, "/incidents/"+c.IncidentNumber+"/breach/individuals?"+url.Values{"import": {res.ID}}.Encode()+"#upload")
		return
	}
	if _, ok := apperr.As(err); !ok {
		u.fail(w, r, err)
		return
	}
	p, perr := u.individualsData(r, ref)
	if perr != nil {
		u.fail(w, r, perr)
		return
	}
	p.Error = err.Error()
	u.render(w, r, http.StatusUnprocessableEntity, "breach_individuals", "Affected individuals "+p.Case.IncidentNumber, "breach", p)
}

// partiesPage is the registry of customers and business associates.
type partiesPage struct {
	Organisation breach.Organisation
	ZoneInput    string   // the time zone field's value
	Zones        []string // U.S. zones to suggest for it
	Parties      []breach.Party
	Party        *breach.Party // the one being edited
	Roles        []choice
	Kinds        []choice
	Channels     []choice
	Units        []choice
	Form         map[string]string
	Errors       map[string]string
}

var orgRoleChoices = []choice{
	{string(rules.CoveredEntity), "Covered entity"},
	{string(rules.BusinessAssociate), "Business associate of our customers"},
	{string(rules.Both), "Both"},
}

// usZones are the IANA zones of the States and territories whose laws
// Ward knows, suggested for the organisation's time zone; any IANA zone
// is accepted.
var usZones = []string{"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/St_Thomas", "Pacific/Guam", "Pacific/Saipan",
	"Pacific/Pago_Pago", "UTC"}

var partyKindChoices = []choice{
	{breach.PartyCustomer, "Customer (a covered entity; we are its business associate)"},
	{breach.PartyBusinessAssociate, "Business associate (our vendor)"},
}

var channelChoices = []choice{{"", "—"}, {"email", "Email"}, {"mail", "Mail"}, {"phone", "Phone"}, {"portal", "Portal"}}

func (u *UI) partiesData(r *http.Request) (partiesPage, error) {
	p := partiesPage{Roles: orgRoleChoices, Kinds: partyKindChoices, Channels: channelChoices, Units: unitChoices, Zones: usZones,
		Form: map[string]string{"kind": breach.PartyCustomer, "unit": string(rules.Days)}}
	var err error
	if p.Organisation, err = u.Breach.Organisation(r.Context()); err != nil {
		return partiesPage{}, err
	}
	p.ZoneInput = p.Organisation.TimeZone
	if p.Parties, err = u.Breach.Parties(r.Context(), "", false); err != nil {
		return partiesPage{}, err
	}
	return p, nil
}

func (u *UI) partiesShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.partiesData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if id := r.URL.Query().Get("edit"); id != "" {
		party, err := u.Breach.Party(r.Context(), id)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		p.Party, p.Form = &party, partyForm(party)
	}
	u.render(w, r, http.StatusOK, "breach_parties", "Parties and contracts", "breach", p)
}

func partyForm(p breach.Party) map[string]string {
	f := map[string]string{"kind": p.Kind, "name": p.Name, "agreement": p.Agreement, "contact_name": p.Contact.Name,
		"contact_email": p.Contact.Email, "contact_address": p.Contact.Address, "channel": p.Channel, "contents": p.Contents,
		"checklist": strings.Join(p.Checklist, "\n"), "unit": string(rules.Days)}
	if p.Notice != nil {
		f["amount"], f["unit"] = strconv.Itoa(p.Notice.Amount), string(p.Notice.Unit)
		if p.Notice.Business {
			f["business"] = "on"
		}
	}
	return f
}

// organisationSave sets the organisation's role and time zone; a bad
// value is shown on the form, naming it.
func (u *UI) organisationSave(w http.ResponseWriter, r *http.Request) {
	in := breach.OrganisationInput{Role: rules.Role(r.PostFormValue("role")), TimeZone: strings.TrimSpace(r.PostFormValue("time_zone"))}
	_, err := u.Breach.SetOrganisation(r.Context(), in)
	if err == nil {
		redirect(w, r, "/breach/parties")
		return
	}
	errs, ok := fieldErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p, perr := u.partiesData(r)
	if perr != nil {
		u.fail(w, r, perr)
		return
	}
	p.Organisation.Role, p.ZoneInput, p.Errors = in.Role, in.TimeZone, errs
	u.render(w, r, http.StatusUnprocessableEntity, "breach_parties", "Parties and contracts", "breach", p)
}

// partySave adds a party, or replaces the one named by party_id.
func (u *UI) partySave(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{}
	for _, k := range []string{"kind", "name", "agreement", "amount", "unit", "business", "contact_name", "contact_email",
		"contact_address", "channel", "contents", "checklist"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	in := breach.PartyInput{Kind: form["kind"], Name: form["name"], Agreement: form["agreement"], Channel: form["channel"],
		Contents: form["contents"], Contact: breach.PartyContact{Name: form["contact_name"], Email: form["contact_email"],
			Address: form["contact_address"]}}
	for _, l := range strings.Split(form["checklist"], "\n") {
		if l = strings.TrimSpace(l); l != "" {
			in.Checklist = append(in.Checklist, l)
		}
	}
	var err error
	if form["amount"] != "" {
		n, aerr := strconv.Atoi(form["amount"])
		if aerr != nil {
			err = apperr.Field("notice.amount", "must be a whole number, got %q", form["amount"])
		}
		in.Notice = &rules.Term{Amount: n, Unit: rules.Unit(form["unit"]), Business: form["business"] == "on"}
	}
	id := r.PathValue("party_id")
	if err == nil {
		if id == "" {
			_, err = u.Breach.CreateParty(r.Context(), in)
		} else {
			_, err = u.Breach.UpdateParty(r.Context(), id, in)
		}
	}
	if err == nil {
		redirect(w, r, "/breach/parties")
		return
	}
	errs, ok := controlErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p, perr := u.partiesData(r)
	if perr != nil {
		u.fail(w, r, perr)
		return
	}
	if id != "" {
		party, perr := u.Breach.Party(r.Context(), id)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		p.Party = &party
	}
	for from, to := range map[string]string{"notice_amount": "amount", "notice_unit": "unit", "notice_business": "business"} {
		if v, ok := errs[from]; ok {
			errs[to] = v
			delete(errs, from)
		}
	}
	p.Form, p.Errors = form, errs
	u.render(w, r, http.StatusUnprocessableEntity, "breach_parties", "Parties and contracts", "breach", p)
}

func (u *UI) partyArchive(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Breach.ArchiveParty(r.Context(), r.PathValue("party_id")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/breach/parties")
}
