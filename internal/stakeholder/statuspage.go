package stakeholder

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// Status pages: what people outside Ward read without a sign-in.
//
// An external subscriber's status page is reached by the personal link
// each status update email carries (external_links, purpose "status"): a
// random 256-bit token kept only as its SHA-256, which works for
// StatusLinkTTL and stops working when the subscriber unsubscribes. It
// shows the PHI-checked updates of the subscriber's audience (a
// customer's also the public ones), the incident's phase in plain words
// and when the audience's next update is due, once the reader has entered
// the one-time code emailed to the subscriber (statuscode.go). Every view,
// and every attempt with a link that expired or was revoked, is audited.
//
// An incident's public status page is off until an officer turns it on;
// it shows the PHI-checked updates written for the public at an
// unguessable address, and turning it off makes the address unknown.

// linkStatus is the purpose of a subscriber's status page link.
const linkStatus = "status"

// StatusLinkTTL is how long a status page link works. Every update email
// carries a fresh one.
const StatusLinkTTL = 30 * 24 * time.Hour

// maxPageUpdates is how many updates a status page shows, newest first.
const maxPageUpdates = 200

// StatusPage is what a status page shows.
type StatusPage struct {
	// Incident is the incident's number.
	Incident     string
	Organisation string
	// AudienceLabel is whom the page is for ("Customer North Clinic",
	// "Public").
	AudienceLabel string
	// Phase is the incident's phase in plain words.
	Phase           string
	NextUpdateDueAt *time.Time
	Updates         []PageUpdate
}

// PageUpdate is one status update on a status page.
type PageUpdate struct {
	PostedAt      time.Time
	AudienceLabel string
	Body          string
}

// statusPage reads incident incidentID's page for audience, showing the
// PHI-checked updates of audiences.
func (s *Service) statusPage(ctx context.Context, q db.Querier, incidentID, audience string, audiences []string, now time.Time) (StatusPage, error) {
	f, err := scanFacts(q.QueryRowContext(ctx, `SELECT `+factColumns+` FROM incidents i WHERE i.id = $1`, incidentID))
	if err != nil {
		return StatusPage{}, fmt.Errorf("read incident: %w", err)
	}
	p := StatusPage{Incident: f.Number, Phase: PhaseText(f.Status), Updates: []PageUpdate{}}
	if s.mail.Organisation != nil {
		if p.Organisation, err = s.mail.Organisation(ctx); err != nil {
			return StatusPage{}, err
		}
	}
	labels, err := audienceLabels(ctx, q, audiences)
	if err != nil {
		return StatusPage{}, err
	}
	p.AudienceLabel = labels[audience]
	pol, err := getPolicy(ctx, q, f.Severity)
	if err != nil {
		return StatusPage{}, err
	}
	st, err := compute(ctx, q, f, pol, now)
	if err != nil {
		return StatusPage{}, err
	}
	p.NextUpdateDueAt = nextDue(st, audience)
	in, args := make([]string, len(audiences)), []any{incidentID}
	for i, a := range audiences {
		args = append(args, a)
		in[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, body, posted_at, audience FROM status_updates WHERE incident_id = $1 AND phi_checked
		AND audience IN (`+strings.Join(in, ", ")+`) ORDER BY posted_at DESC, id DESC LIMIT `+fmt.Sprint(maxPageUpdates), args...)
	if err != nil {
		return StatusPage{}, fmt.Errorf("read status updates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, sealed, a string
		var u PageUpdate
		if err := rows.Scan(&id, &sealed, &u.PostedAt, &a); err != nil {
			return StatusPage{}, err
		}
		body, err := s.keys.Open(sealed, keys.StatusUpdateBody.Table, keys.StatusUpdateBody.Name, id)
		if err != nil {
			return StatusPage{}, err
		}
		u.Body, u.PostedAt, u.AudienceLabel = string(body), u.PostedAt.UTC(), labels[a]
		p.Updates = append(p.Updates, u)
	}
	return p, rows.Err()
}

// revokeStatusLinksTx stops every status page link of subscription sub.
func revokeStatusLinksTx(ctx context.Context, tx *sql.Tx, sub string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE external_links SET used_at = $1 WHERE subscription_id = $2 AND purpose = $3 AND used_at IS NULL`,
		now, sub, linkStatus); err != nil {
		return fmt.Errorf("revoke status page links: %w", err)
	}
	return nil
}

// PublicPage is whether an incident's public status page is on, and where.
type PublicPage struct {
	Enabled   bool
	URL       string
	EnabledBy string
	EnabledAt *time.Time
}

// publicURL is the address of the public status page with token.
func (s *Service) publicURL(token string) string {
	return strings.TrimRight(s.mail.BaseURL, "/") + "/p/" + token
}

func (s *Service) publicPageTx(ctx context.Context, q db.Querier, incidentID string) (PublicPage, error) {
	var p PublicPage
	var sealed string
	var at time.Time
	err := q.QueryRowContext(ctx, `SELECT token, enabled_by, enabled_at FROM incident_public_pages WHERE incident_id = $1`, incidentID).Scan(
		&sealed, &p.EnabledBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return PublicPage{}, nil
	}
	if err != nil {
		return PublicPage{}, fmt.Errorf("read public status page: %w", err)
	}
	token, err := keys.PublicPageToken.OpenText(s.keys, sealed, incidentID)
	if err != nil {
		return PublicPage{}, err
	}
	at = at.UTC()
	p.Enabled, p.URL, p.EnabledAt = true, s.publicURL(token), &at
	return p, nil
}

// PublicPageOf says whether incident ref's public status page is on, and
// its address.
func (s *Service) PublicPageOf(ctx context.Context, ref string) (PublicPage, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return PublicPage{}, err
	}
	f, err := visible(ctx, s.db.R, ref, s.clock.Now())
	if err != nil {
		return PublicPage{}, err
	}
	return s.publicPageTx(ctx, s.db.R, f.ID)
}

// SetPublicPage turns incident ref's public status page on (at a new
// random address, if it was off) or off (its address stops working).
// Officers and administrators may (stakeholder:write); audited and on the
// timeline. A drill's page cannot be turned on (a conflict).
func (s *Service) SetPublicPage(ctx context.Context, ref string, on bool) (PublicPage, error) {
	actor, err := authz.Check(ctx, authz.StakeholderWrite)
	if err != nil {
		return PublicPage{}, err
	}
	now := s.clock.Now()
	var p PublicPage
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		f, err := visible(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		if on && f.Drill {
			return apperr.New(apperr.Conflict, "%s is a drill: a drill never shows on a public status page", f.Number)
		}
		cur, err := s.publicPageTx(ctx, tx, f.ID)
		if err != nil {
			return err
		}
		if cur.Enabled == on {
			p = cur
			return nil
		}
		var action, note string
		if on {
			token := newLinkToken()
			sealed, err := keys.PublicPageToken.SealText(s.keys, token, f.ID)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_public_pages (incident_id, token_hash, token, enabled_by, enabled_at)
				VALUES ($1, $2, $3, $4, $5)`, f.ID, hashLinkToken(token), sealed, actor.String(), now); err != nil {
				return fmt.Errorf("turn the public status page on: %w", err)
			}
			t := now.UTC()
			p = PublicPage{Enabled: true, URL: s.publicURL(token), EnabledBy: actor.String(), EnabledAt: &t}
			action, note = "public_status_page.enable", "The public status page was turned on by "+actor.Name+": it shows the updates written for the public."
		} else {
			if _, err := tx.ExecContext(ctx, `DELETE FROM incident_public_pages WHERE incident_id = $1`, f.ID); err != nil {
				return fmt.Errorf("turn the public status page off: %w", err)
			}
			p = PublicPage{}
			action, note = "public_status_page.disable", "The public status page was turned off by "+actor.Name+"; its address no longer works."
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "incident", ObjectID: f.ID}); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, f.ID, incident.EventStatusUpdate, note)
	})
	if err != nil {
		return PublicPage{}, err
	}
	return p, nil
}

// errPublicPage is what an unknown public page address answers.
var errPublicPage = apperr.New(apperr.NotFound, "there is no status page at this address")

// PublicStatusPage reads the public status page at token: the
// PHI-checked updates written for the public. An address never given, of
// a page turned off, or of a drill's page (turned on before drills were
// kept off them) is not found.
func (s *Service) PublicStatusPage(ctx context.Context, token string) (StatusPage, error) {
	var incidentID string
	err := s.db.R.QueryRowContext(ctx, `SELECT p.incident_id FROM incident_public_pages p JOIN incidents i ON i.id = p.incident_id
		WHERE p.token_hash = $1 AND NOT i.drill`, hashLinkToken(token)).Scan(&incidentID)
	if errors.Is(err, sql.ErrNoRows) {
		return StatusPage{}, errPublicPage
	}
	if err != nil {
		return StatusPage{}, fmt.Errorf("read public status page: %w", err)
	}
	return s.statusPage(ctx, s.db.R, incidentID, AudiencePublic, []string{AudiencePublic}, s.clock.Now())
}

// The organisation's public status page: off until an officer turns it
// on; while on, OrgStatusPagePath lists the incidents whose own public
// status page is on, each as its public page shows it (the PHI-checked
// updates written for the public, the phase, the next public update).
// Nothing else of any incident, and never a drill.

// OrgStatusPagePath is the address of the organisation's public status
// page, after Ward's public address.
const OrgStatusPagePath = "/status"

// orgPageID is the id of org_status_page's one row.
const orgPageID = "org"

// maxOrgPageIncidents is how many incidents the organisation's page
// lists, the most recently made public first.
const maxOrgPageIncidents = 50

// OrgPage is whether the organisation's public status page is on, and
// where.
type OrgPage struct {
	Enabled   bool
	URL       string
	EnabledBy string
	EnabledAt *time.Time
}

func (s *Service) orgPageTx(ctx context.Context, q db.Querier) (OrgPage, error) {
	p := OrgPage{URL: strings.TrimRight(s.mail.BaseURL, "/") + OrgStatusPagePath}
	var at time.Time
	err := q.QueryRowContext(ctx, `SELECT enabled_by, enabled_at FROM org_status_page WHERE id = $1`, orgPageID).Scan(&p.EnabledBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return OrgPage{}, fmt.Errorf("read the organisation's status page: %w", err)
	}
	at = at.UTC()
	p.Enabled, p.EnabledAt = true, &at
	return p, nil
}

// OrgPageOf says whether the organisation's public status page is on, and
// its address. Every role that reads incidents may ask.
func (s *Service) OrgPageOf(ctx context.Context) (OrgPage, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return OrgPage{}, err
	}
	return s.orgPageTx(ctx, s.db.R)
}

// SetOrgPage turns the organisation's public status page on or off.
// Officers and administrators may (stakeholder:write); audited
// (org_status_page.enable, .disable) when it changes.
func (s *Service) SetOrgPage(ctx context.Context, on bool) (OrgPage, error) {
	actor, err := authz.Check(ctx, authz.StakeholderWrite)
	if err != nil {
		return OrgPage{}, err
	}
	now := s.clock.Now()
	var p OrgPage
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		cur, err := s.orgPageTx(ctx, tx)
		if err != nil {
			return err
		}
		if cur.Enabled == on {
			p = cur
			return nil
		}
		action := "org_status_page.enable"
		if on {
			_, err = tx.ExecContext(ctx, `INSERT INTO org_status_page (id, enabled_by, enabled_at) VALUES ($1, $2, $3)`, orgPageID, actor.String(), now)
		} else {
			action = "org_status_page.disable"
			_, err = tx.ExecContext(ctx, `DELETE FROM org_status_page WHERE id = $1`, orgPageID)
		}
		if err != nil {
			return fmt.Errorf("turn the organisation's status page on or off: %w", err)
		}
		if p, err = s.orgPageTx(ctx, tx); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "org", ObjectID: orgPageID})
		return err
	})
	return p, err
}

// OrgStatus is what the organisation's public status page shows.
type OrgStatus struct {
	Organisation string
	// Incidents are the incidents whose public status page is on, the
	// most recently made public first, each as its public page shows it.
	Incidents []StatusPage
}

// OrgStatusPage reads the organisation's public status page; while it is
// off, it is not found.
func (s *Service) OrgStatusPage(ctx context.Context) (OrgStatus, error) {
	p, err := s.orgPageTx(ctx, s.db.R)
	if err != nil {
		return OrgStatus{}, err
	}
	if !p.Enabled {
		return OrgStatus{}, errPublicPage
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT p.incident_id FROM incident_public_pages p JOIN incidents i ON i.id = p.incident_id
		WHERE NOT i.drill ORDER BY p.enabled_at DESC, p.incident_id LIMIT `+fmt.Sprint(maxOrgPageIncidents))
	if err != nil {
		return OrgStatus{}, fmt.Errorf("read public status pages: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return OrgStatus{}, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return OrgStatus{}, err
	}
	out := OrgStatus{Incidents: []StatusPage{}}
	if s.mail.Organisation != nil {
		if out.Organisation, err = s.mail.Organisation(ctx); err != nil {
			return OrgStatus{}, err
		}
	}
	now := s.clock.Now()
	for _, id := range ids {
		sp, err := s.statusPage(ctx, s.db.R, id, AudiencePublic, []string{AudiencePublic}, now)
		if err != nil {
			return OrgStatus{}, err
		}
		out.Incidents = append(out.Incidents, sp)
	}
	return out, nil
}
